#!/bin/bash
# scenario: PI errors reach btrfs: RAID1 repairs a guard-corrupted block from the mirror (on read and by scrub); without a mirror the reader gets EIO, not wrong data
# vm: --ns lbs=512,ms=8,mset=1,pi=1,size=320M --ns lbs=512,ms=8,mset=1,pi=1,size=320M --ns lbs=512,ms=8,mset=1,pi=1,size=320M
# vm: --ns lbs=512,ms=8,mset=0,pi=1,size=320M --ns lbs=512,ms=8,mset=0,pi=1,size=320M --ns lbs=512,ms=8,mset=0,pi=1,size=320M
#
# Done twice. "drive": namespaces 1-3 are PI with extended LBA and 8 bytes of metadata (just the PI
# tuple): Linux registers no integrity profile and sets PRACT, so the drive generates PI on writes and
# checks it on reads, when the driver asks (PRCHK). "host": namespaces 4-6 are PI with separate
# metadata: the block layer generates PI on writes and verifies it on reads (T10-DIF-TYPE1-CRC).
# Each time btrfs RAID1 (data and metadata) over the first two, single on the third. Sticky guard
# corruption ("bit rot") goes under one file's blocks on one namespace only, placed with filefrag
# (file offset -> btrfs logical address) and btrfs-map-logical (-> device and sector).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

for i in 1 2 3 4 5 6; do
    ns_require "$i" "Type 1 PI with ms=8, extended LBA in 1-3, separate metadata in 4-6" ms=8 pi=1 mset=$((i <= 3))
done
case $VNVME_KERNEL in
old | lts) drive_checks=true ;; # PRACT reads carry PRCHK guard|ref
new) drive_checks=false ;;      # PRACT reads carry no PRCHK: the drive is not asked to check
*) fail "unknown kernel '$VNVME_KERNEL'" ;;
esac
nsid_of() { # block device -> nsid
    cat "/sys/block/${1#/dev/}/nsid"
}
vctl stats --reset >/dev/null

# corrupt NAME DEV SECTOR: a sticky guard corruption of the 4 KiB block at SECTOR of DEV, fired by
# the first read of it (so it cannot be healed before anything reads it).
corrupt() {
    local name=$1 dev=$2 s=$3
    vctl fault add "ns=$(nsid_of "$dev"),op=read,lba=$s-$((s + 7)),when=once,action=guard,name=$name" >/dev/null
}
fires() { vctl --json fault list | scn fires "name=$1"; }

f_sum() { grep " $1\$" sums | cut -d' ' -f1; }

# suite MODE D1 D2 D3: RAID1 over D1+D2 (read repair, scrub repair), single on D3.
suite() {
    local mode=$1 d1=$2 d2=$3 d3=$4 m=/mnt/$1 checker s3 s6 sg tries got dm corrected uncorrectable
    if [[ $mode == drive ]]; then
        assert_eq "$(cat "/sys/block/${d1#/dev/}/integrity/format")" none "integrity profile of $d1 (PRACT: the drive does the PI work)"
        $drive_checks && checker=drive || checker=nobody
    else
        assert_eq "$(cat "/sys/block/${d1#/dev/}/integrity/format")" T10-DIF-TYPE1-CRC "integrity profile of $d1"
        checker=host
    fi
    dmesg_mark
    step "[$mode] mkfs.btrfs -d raid1 -m raid1 $d1 $d2; 8 files of 512 KiB"
    mkfs.btrfs -q -f -d raid1 -m raid1 "$d1" "$d2" 2>/dev/null
    mkdir -p "$m"
    mount -t btrfs -o device="$d2" "$d1" "$m"
    for i in $(seq 1 8); do head -c 512K /dev/urandom >"$m/f$i"; done
    sync
    (cd "$m" && sha256sum f*) >sums
    # The corrupted 4 KiB block: 256 KiB into f3 (read repair) and f6 (scrub), one copy each.
    s3=$(btrfs_sector "$m/f3" 262144 "$d2")
    s6=$(btrfs_sector "$m/f6" 262144 "$d1")
    [[ -n $s3 && -n $s6 ]] || fail "could not map the files to sectors: $(cat btrfs-map.out)"
    echo "f3 @256K -> $d2 sector $s3; f6 @256K -> $d1 sector $s6"

    step "[$mode] A: bit rot under f3 on $d2 only; read f3 until a read lands on the corrupted copy"
    corrupt "rot-$mode-f3" "$d2" "$s3"
    vctl_bg "trace-$mode-f3" trace --json --ns "$(nsid_of "$d2")" --lba "$s3-$((s3 + 7))"
    tries=0
    while (($(fires "rot-$mode-f3") == 0)); do
        ((++tries <= 40)) || fail "40 reads of f3 never read the copy on $d2 (btrfs chose the other mirror every time)"
        echo 1 >/proc/sys/vm/drop_caches
        # A fresh process each time: btrfs picks the RAID1 copy by the reader's pid.
        got=$(sha256sum "$m/f3" | cut -d' ' -f1) || fail "reading f3 failed (the mirror should have served it)"
        assert_eq "$got" "$(f_sum f3)" "f3 contents (read $tries)"
    done
    echo "a read of f3 reached the corrupted copy on try $tries; every read returned the right data"
    sleep 1
    vctl_stop "trace-$mode-f3" >f3.trace
    scn events read any "$s3" $((s3 + 7)) <f3.trace >reads
    scn events write ok "$s3" $((s3 + 7)) <f3.trace >heal-writes
    dm=$(dmesg | tail -n +$((DMESG_MARK + 1)))
    [[ -s reads ]] || fail "the device traced no read of sectors $s3-$((s3 + 7))"
    echo "device: reads $(tr '\n' ';' <reads) writes $(tr '\n' ';' <heal-writes)"
    if [[ $checker == nobody ]]; then
        grep -q ' 0x0$' reads || fail "expected the drive to return the corrupted block unchecked: $(cat reads)"
        python3 -c 'import json,sys
for l in sys.stdin:
    e = json.loads(l) if l.startswith("{") else None
    if e and e["opcode"] == "read" and e.get("fault") and e["prinfo"] & 7:
        sys.exit("read with PRCHK %d" % (e["prinfo"] & 7))' <f3.trace || fail "expected the driver to send PRACT reads without PRCHK"
        ! grep -q -E "protection error|read error corrected" <<<"$dm" || fail "unexpected error or repair in the kernel log: $(grep -E 'protection error|read error corrected' <<<"$dm")"
        echo "OUTCOME: [$mode] RAID1 read: the driver sends PRACT reads without PRCHK, so the drive is not asked to check: the corrupted guard went unnoticed (data intact), no repair"
    else
        grep -m 2 -E "protection error, dev ${d2#/dev/}|${d2#/dev/}.*sc 0x82|guard tag error.*${d2#/dev/}|${d2#/dev/}.*guard tag error" <<<"$dm" ||
            fail "no protection error for ${d2#/dev/} in the kernel log"
        grep -m 2 -E "read error corrected.*${d2#/dev/}|fixed up error.*${d2#/dev/}" <<<"$dm" || fail "btrfs logged no repair of ${d2#/dev/}"
        [[ -s heal-writes ]] || fail "no write of sectors $s3-$((s3 + 7)) after the failed read: btrfs did not rewrite the bad copy"
        echo 1 >/proc/sys/vm/drop_caches
        dd if="$d2" of=/dev/null bs=512 skip="$s3" count=8 iflag=direct status=none || fail "the repaired copy on $d2 still fails to read"
        if grep -q ' 0x282$' reads; then by="the drive failed the read with a guard check error (0x282)"; else by="the drive returned it and the block layer's verify failed it"; fi
        echo "OUTCOME: [$mode] RAID1 read: $by, the kernel logged a protection error, btrfs served f3 from the mirror and rewrote the bad copy (the device traced the healing write), which then reads clean"
        echo "FIGURE: [$mode] the failing read covered $(awk '{print $2}' reads | head -n1) sectors; btrfs logged $(grep -c "read error corrected" <<<"$dm") repaired 4 KiB blocks; $(wc -l <heal-writes) write(s) to the corrupted sectors"
    fi

    step "[$mode] B: bit rot under f6 on $d1 only, never read; btrfs scrub"
    corrupt "rot-$mode-f6" "$d1" "$s6"
    vctl_bg "trace-$mode-f6" trace --json --ns "$(nsid_of "$d1")" --lba "$s6-$((s6 + 7))"
    btrfs scrub start -B "$m" >scrub1.out 2>&1 || true
    cat scrub1.out
    assert_eq "$(fires "rot-$mode-f6")" 1 "times the f6 corruption fired (by scrub's read)"
    sleep 1
    vctl_stop "trace-$mode-f6" >f6.trace
    scn events write ok "$s6" $((s6 + 7)) <f6.trace >heal6-writes
    corrected=$(sed -n 's/^ *Corrected: *\([0-9]*\).*/\1/p' scrub1.out)
    uncorrectable=$(sed -n 's/^ *Uncorrectable: *\([0-9]*\).*/\1/p' scrub1.out)
    if [[ $checker == nobody ]]; then
        grep -q 'no errors found' scrub1.out || fail "scrub found errors though the drive was not asked to check"
        echo "OUTCOME: [$mode] RAID1 scrub: no errors found (the drive was not asked to check; the data is intact)"
    else
        [[ ${corrected:-0} -ge 1 ]] || fail "scrub reports no corrected errors"
        assert_eq "${uncorrectable:-0}" 0 "scrub's uncorrectable errors"
        [[ -s heal6-writes ]] || fail "scrub did not rewrite the corrupted copy on $d1"
        btrfs scrub start -B "$m" >scrub2.out 2>&1 || { cat scrub2.out; fail "second scrub found errors"; }
        grep -q 'no errors found' scrub2.out || { cat scrub2.out; fail "second scrub: expected no errors"; }
        echo "OUTCOME: [$mode] RAID1 scrub: scrub's read of the corrupted copy failed, scrub reported corrected and no uncorrectable errors and rewrote the bad copy; a second scrub finds no errors"
        echo "FIGURE: [$mode] scrub corrected $corrected sectors; $(wc -l <heal6-writes) write(s) to the corrupted sectors"
    fi
    echo 3 >/proc/sys/vm/drop_caches
    (cd "$m" && sha256sum --quiet -c "$OLDPWD/sums") || fail "file contents after the repairs"
    umount "$m"

    step "[$mode] C: single profile on $d3: bit rot under a file"
    mkfs.btrfs -q -f -d single -m dup "$d3" 2>/dev/null
    mount -t btrfs "$d3" "$m"
    head -c 512K /dev/urandom >g.src
    cp g.src "$m/g"
    sync
    sg=$(btrfs_sector "$m/g" 262144 "$d3")
    corrupt "rot-$mode-g" "$d3" "$sg"
    echo 3 >/proc/sys/vm/drop_caches
    rm -f g.read
    if cat "$m/g" >g.read 2>g.err; then
        [[ $checker == nobody ]] || fail "reading a file over a corrupted block without a mirror succeeded"
        cmp g.read g.src || fail "the unchecked read returned different data"
        assert_eq "$(fires "rot-$mode-g")" 1 "times the corruption under g fired"
        echo "OUTCOME: [$mode] single profile: the read succeeded with the right data (the corrupted guard was not checked)"
    else
        [[ $checker != nobody ]] || fail "the read failed though the drive was not asked to check: $(cat g.err)"
        grep -q 'Input/output error' g.err || fail "expected EIO, got: $(cat g.err)"
        got=$(stat -c %s g.read)
        ((got <= 262144)) || fail "read returned $got bytes, past the corrupted block at 256 KiB"
        cmp -n "$got" g.read g.src || fail "the bytes delivered before the error differ from the file's"
        echo "OUTCOME: [$mode] single profile: the read over the corrupted block failed with EIO; no wrong data was returned"
        echo "FIGURE: [$mode] single profile: $got bytes delivered before the EIO"
    fi
    umount "$m"
}

suite drive "$(ns_dev 1)" "$(ns_dev 2)" "$(ns_dev 3)"
suite host "$(ns_dev 4)" "$(ns_dev 5)" "$(ns_dev 6)"
