#!/bin/bash
# scenario: Log-structured garbage collection on real zones: four zones filled by Zone Append (PI remapped), their live extents moved by nvme copy into an empty zone at its write pointer (source PI checked, new PI generated), the sources reset; the host bytes it saved, next to read+write
# vm: --ns lbs=512,ms=8,mset=0,pi=1,size=64M,zoned=true,zoned.zone_size=512K,zoned.max_open=8,zoned.max_active=12
# timeout: 600
#
# The zoned form of copy-gc (docs/zoned.md). Namespace 1 is zoned, 1024 blocks per zone, Type 1 PI with
# separate metadata (the block layer generates and verifies PI). What a log-structured writer does:
#   - source zones 0-3 are filled by Zone Append (nvme zns zone-append) in a seeded mix of 8 to 64
#     blocks; the device inserts PI (PRACT) and remaps the reference tags to the LBAs it assigns
#     (PIREMAP, ILBRT = the zone start), so each block's tag is its own LBA (ZNS 3.4.1.1);
#   - a seeded plan marks the live extents; the GC is done twice:
#     by the host: O_DIRECT read of each extent, O_DIRECT write at the write pointer of zones 8-10;
#     by the device: nvme copy into zones 16-18 at their write pointers, at most 64 ranges and never
#     across a destination zone (a write may not cross one), PRINFOR = PRACT + guard + reference tag
#     checks (each range's expected tag is its source LBA), PRINFOW = PRACT (new PI from the
#     destination LBA);
#   - before that, three copies the device must refuse: one off the write pointer (Zone Invalid
#     Write), one whose expected reference tag is not the source LBA (Invalid Protection Information,
#     Type 1's rule) and one whose expected application tag does not match the stored one
#     (Application Tag Check Error); none may move the write pointer;
#   - the source zones are reset (blkzone reset): Empty, write pointer at the zone start.
# Both destinations are read back through the block layer (PI verified) and checked with nvme verify;
# the device's counters give the bytes that crossed the DMA boundary each way.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gc_lib.sh"

[[ ${VNVME_NS1_ZONED:-0} == 1 ]] || fail "namespace 1 must be zoned (--ns ...,zoned=true)"
ns_require 1 "Type 1 PI with separate metadata and 512-byte blocks" pi=1 mset=0 lbs=512
dev=$(ns_dev 1) sys=$(ns_sysfs 1)
lbs=512
assert_eq "$(cat "$sys/queue/zoned")" host-managed "queue/zoned"
assert_eq "$(cat "$sys/integrity/format")" T10-DIF-TYPE1-CRC "integrity profile"
zb=$(($(cat "$sys/queue/chunk_sectors") * 512 / lbs))
assert_eq "$zb" 1024 "blocks per zone"
zones=4 dest_a=$((8 * zb)) dest_b=$((16 * zb))
dmesg_mark

cond_of() { zone_cond "$dev" "$1"; } # lib.sh: condition and write pointer (sectors from the zone start)
wp_of() { zone_wp "$dev" "$1"; }
# status_of FILE: the status nvme-cli printed, type and code only (0x1bc: SCT 1h, SC BCh; DNR and More dropped).
status_of() {
    local st
    st=$(sed -n 's/^NVMe status: .*(0x\([0-9a-fA-F]*\))$/\1/p' "$1" | tail -n1)
    [[ -n $st ]] || fail "no NVMe status in: $(cat "$1")"
    printf '0x%x\n' $((0x$st & 0x7ff))
}

step "fill zones 0-$((zones - 1)) with Zone Append (PRACT, PIREMAP from the zone start)"
head -c $((zones * zb * lbs)) /dev/urandom >zones.bin
gc appends 11 "$zones" "$zb" >appends
while read -r zslba off n; do
    dd if=zones.bin of=chunk bs="$lbs" skip=$((zslba + off)) count="$n" status=none
    out=$(nvme zns zone-append "$dev" -s "$zslba" -z $((n * lbs)) -d chunk --prinfo=8 --piremap --ref-tag="$zslba" 2>&1) ||
        fail "zone-append of $n blocks to zone $((zslba / zb)): $out"
    lba=$(printf '%d' "0x$(sed -n 's/.*appended data to LBA \([0-9a-f]*\).*/\1/p' <<<"$out")")
    assert_eq "$lba" $((zslba + off)) "LBA the device assigned to an append of $n blocks at offset $off of zone $((zslba / zb))"
done <appends
for ((z = 0; z < zones; z++)); do assert_eq "$(cond_of $z)" fu "zone $z after $zb blocks appended"; done
echo "appended: $(wc -l <appends) Zone Append commands, $((zones * zb)) blocks"

gc_plan zones.bin "$zones" "$zb" "$lbs"

step "GC by the host: read + write of every live extent at the write pointer of zone 8 on (LBA $dest_a)"
gc_by_host "$dev" "$lbs" "$dest_a"
assert_eq "$(wp_of $(((dest_a + live - 1) / zb)))" $(((dest_a + live - 1) % zb * lbs / 512 + lbs / 512)) "write pointer after the read+write GC (sectors)"

gc copies plan "$dest_b" "$zb" 64 >copies
read -r d0 s0 n0 <<<"$(head -n1 copies)"
first_src=${s0%%,*} first_n=$((${n0%%,*}))
step "copies the device must refuse leave the write pointer of zone 16 where it is"
nvme copy "$dev" --sdlba=$((dest_b + 8)) --slbs="$first_src" --blocks="$first_n" --format=0 \
    --prinfor=13 --expected-ref-tags="$first_src" --prinfow=8 --ref-tag=$((dest_b + 8)) >bad.out 2>&1 &&
    fail "a copy 8 blocks past the write pointer succeeded"
assert_eq "$(status_of bad.out)" 0x1bc "status of a copy off the write pointer (Zone Invalid Write)"
nvme copy "$dev" --sdlba="$dest_b" --slbs="$first_src" --blocks="$first_n" --format=0 \
    --prinfor=13 --expected-ref-tags=$((first_src + 1)) --prinfow=8 --ref-tag="$dest_b" >bad.out 2>&1 &&
    fail "a copy with a wrong expected reference tag succeeded"
# Type 1: a range's expected initial reference tag must be its SLBA's low 32 bits (src/pi/context.rs has the rule and its section).
assert_eq "$(status_of bad.out)" 0x181 "status of a copy whose expected reference tag is not its source LBA (Invalid Protection Information)"
nvme copy "$dev" --sdlba="$dest_b" --slbs="$first_src" --blocks="$first_n" --format=0 \
    --prinfor=10 --expected-app-tags=0x1234 --expected-app-tag-masks=0xffff --prinfow=8 --ref-tag="$dest_b" >bad.out 2>&1 &&
    fail "a copy with a wrong expected application tag succeeded"
assert_eq "$(status_of bad.out)" 0x283 "status of a copy whose source application tag does not match (Application Tag Check Error)"
assert_eq "$(wp_of 16)" 0 "zone 16's write pointer after the refused copies (sectors)"

step "GC by the device: $(wc -l <copies) nvme copy commands at the write pointer of zone 16 on (LBA $dest_b)"
vctl stats --reset >/dev/null
vctl_bg copies trace --json --ns 1 --op copy
while read -r d slbs nlbs; do
    # Each copy names the write pointer as its SDLBA (a zone report here would add its bytes to the
    # DMA counters); one that is not at it fails with Zone Invalid Write, as checked above.
    nvme copy "$dev" --sdlba="$d" --slbs="$slbs" --blocks="$nlbs" --format=0 \
        --prinfor=13 --expected-ref-tags="$slbs" --prinfow=8 --ref-tag="$d" >copy.out 2>&1 ||
        { cat copy.out; fail "nvme copy to LBA $d ($(tr , '\n' <<<"$slbs" | wc -l) ranges)"; }
done <copies
sleep 0.5
vctl_stop copies >copies.trace
read -r cp_host cp_dev cp_cr cp_cw <<<"$(gc_bytes)"
ncopies=$(wc -l <copies)
assert_eq "$(scn events copy ok "$dest_b" $((dest_b + live - 1)) <copies.trace | wc -l)" "$ncopies" "Copy commands the device completed successfully"
for ((z = 16; z < 16 + live / zb; z++)); do assert_eq "$(cond_of $z)" fu "destination zone $z"; done
assert_eq "$(wp_of $(((dest_b + live - 1) / zb)))" $(((dest_b + live - 1) % zb * lbs / 512 + lbs / 512)) "write pointer after the copy GC (sectors)"

step "reset the source zones (blkzone reset)"
blkzone reset -o 0 -c "$zones" "$dev" || fail "blkzone reset of zones 0-$((zones - 1))"
for ((z = 0; z < zones; z++)); do
    assert_eq "$(cond_of $z)" em "source zone $z after the reset"
    assert_eq "$(wp_of $z)" 0 "source zone $z's write pointer after the reset (sectors)"
done

step "check: both destinations hold the live data with valid PI"
gc_check_destinations "$dev" "$lbs" "$dest_a" "$dest_b"
dmesg_assert_clean "zoned garbage collection"

gc_verdict "$lbs" "$zones zones filled by $(wc -l <appends) Zone Appends at the LBAs the device assigned; $extents live extents ($live blocks) moved by $ncopies nvme copy commands at the destination's write pointer with the source PI checked (guard, ref) and new PI generated; copies refused for being off the write pointer (Zone Invalid Write), for an expected reference tag that is not the source LBA (Invalid Protection Information) and for a mismatched application tag (Application Tag Check Error) left the write pointer where it was; the reset sources are Empty; data and PI of the destination check out and none of the live data crossed the DMA boundary"
