#!/bin/bash
# A zoned namespace as Linux sees it (ZNS): a host-managed block device whose zones blkzone reports,
# blkzone open/close/finish/reset moving them as the report then says, nvme-cli's zns report and
# append agreeing with the device, and writes off the write pointer refused. Run with namespace 1
# zoned (e.g. --ns lbs=4096,zoned=true,zoned.zone_size=4M,zoned.max_open=4,zoned.max_active=6).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ ${VNVME_NS1_ZONED:-0} == 1 ]] || fail "run with namespace 1 zoned (--ns ...,zoned=true)"
dev=$(ns_dev 1)
sys=$(ns_sysfs 1)
lbs=$(ns_get 1 lbs)

step "the block layer sees a host-managed zoned device"
assert_eq "$(cat "$sys/queue/zoned")" host-managed "queue/zoned"
zsz_sect=$(cat "$sys/queue/chunk_sectors")
nr=$(cat "$sys/queue/nr_zones")
((nr >= 4)) || fail "only $nr zones"
zone_bytes=$((zsz_sect * 512))
echo "$nr zones of $zone_bytes bytes"
cond_of() { zone_cond "$dev" "$1"; }
wp_of() { zone_wp "$dev" "$1"; }
assert_eq "$(blkzone report "$dev" | wc -l)" "$nr" "zones in blkzone report"
assert_eq "$(cond_of 0)" em "zone 0 empty at the start"

step "writes at the write pointer; one behind it is refused"
dd if=/dev/urandom of=data bs=64K count=1 status=none
dd if=data of="$dev" bs=64K count=1 oflag=direct status=none || fail "write at the zone start"
assert_eq "$(cond_of 0)" oi "zone 0 implicitly opened"
assert_eq "$(($(wp_of 0)))" $((65536 / 512)) "write pointer after 64 KiB (sectors)"
if dd if=data of="$dev" bs=64K count=1 oflag=direct status=none 2>/dev/null; then
    fail "a second write at LBA 0 (behind the write pointer) succeeded"
fi
dmesg_mark # the refused write logged its I/O error; nothing may follow
dd if="$dev" of=back bs=64K count=1 iflag=direct status=none
cmp -s data back || fail "zone 0 did not read back what was written"

step "blkzone open, close, finish, reset"
z1=$((zsz_sect))
blkzone open -o "$z1" -c 1 "$dev"
assert_eq "$(cond_of 1)" oe "open"
blkzone close -o "$z1" -c 1 "$dev"
assert_eq "$(cond_of 1)" cl "close (ZNS: an opened zone closes to Closed, written or not)"
blkzone finish -o "$z1" -c 1 "$dev"
assert_eq "$(cond_of 1)" fu "finish"
blkzone reset -o "$z1" -c 1 "$dev"
assert_eq "$(cond_of 1)" em "reset"
blkzone reset -o 0 -c 1 "$dev"
assert_eq "$(cond_of 0)" em "reset of zone 0"
dd if="$dev" of=back bs=64K count=1 iflag=direct status=none
cmp -s back <(head -c 65536 /dev/zero) || fail "a reset zone does not read back zeroes"

step "nvme zns: append and report agree"
z2_lba=$((2 * zone_bytes / lbs))
head -c $((2 * lbs)) /dev/urandom >app
appended() { # the LBA "Success appended data to LBA <hex>" names
    printf '%d' "0x$(sed -n 's/.*appended data to LBA \([0-9a-f]*\).*/\1/p' <<<"$1")"
}
# On a PI namespace nvme-cli sends no metadata: the device inserts PI (PRACT), and with Type 1 the
# append must ask for the reference tags to be remapped to the assigned LBA (PIREMAP, ZNS 3.4.1.1),
# starting from the zone start's tag.
pi_args=()
(($(ns_get 1 pi) == 0)) || pi_args=(--prinfo=8 --piremap --ref-tag="$z2_lba")
out=$(nvme zns zone-append "$dev" -s "$z2_lba" -z $((2 * lbs)) -d app "${pi_args[@]}" 2>&1) || fail "zone-append: $out"
assert_eq "$(appended "$out")" "$z2_lba" "first append's LBA"
head -c "$lbs" app >app1
out=$(nvme zns zone-append "$dev" -s "$z2_lba" -z "$lbs" -d app1 "${pi_args[@]}" 2>&1) || fail "zone-append: $out"
assert_eq "$(appended "$out")" $((z2_lba + 2)) "second append's LBA"
wp=$(nvme zns report-zones "$dev" -s "$z2_lba" -d 1 | sed -n 's/.*WP: *\(0x[0-9a-f]*\|[0-9]*\).*/\1/p' | head -1)
assert_eq "$((wp))" $((z2_lba + 3)) "nvme zns report-zones write pointer"
# Read back through the block layer, which checks the PI of a PI namespace (reference tags included).
dd if="$dev" of=appback bs="$lbs" skip="$z2_lba" count=3 iflag=direct status=none || fail "reading the appended blocks"
cmp -s appback <(cat app app1) || fail "the appended blocks did not read back"
nvme zns reset-zone "$dev" -s "$z2_lba" >/dev/null
assert_eq "$(cond_of 2)" em "nvme zns reset-zone"
dmesg_assert_clean "zones"
echo "zoned namespace ok: $nr zones"
