#!/bin/bash
# scenario: Direct-I/O buffer changed in flight: btrfs checksum mismatch on 6.1 (none on 6.12/newest: buffered fallback), nodatasum stores the changed data, a raw PI namespace rejects it with a guard error; the device says which bytes changed
# vm: --ns lbs=512,size=512M --ns lbs=512,ms=8,mset=0,pi=1,size=64M --serve-arg --detect-mutation
#
# A program (dio_race.py) writes 16 KiB with O_DIRECT; once the block layer has the write in flight
# (sysfs inflight), another thread waits 50 ms and changes bytes 100-119 of the buffer's second 4 KiB
# block. The device widens the window
# between fetching a write and reading its data to 200 ms (fault rule action=widen, on only around the
# write), so the race is hit every time, and its buffer-mutation detector compares the two looks.
# Namespace 1: no PI (btrfs). Namespace 2: 512+8 Type 1 PI with separate metadata (raw device; the
# block layer generates the PI).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

d1=$(ns_dev 1) d2=$(ns_dev 2)
ns_require 1 "without metadata" ms=0
ns_require 2 "Type 1 PI with separate metadata" pi=1 mset=0
case $VNVME_KERNEL in
old) btrfs_dio=true ;;      # 6.1: btrfs does true direct I/O on checksummed files
lts | new) btrfs_dio=false ;; # 6.12 (backport of 6.14's fix) and newer: buffered fallback
*) fail "unknown kernel '$VNVME_KERNEL'" ;;
esac
echo "kernel $(uname -r) ($VNVME_KERNEL): expecting btrfs to $($btrfs_dio && echo 'do true direct I/O on a checksummed file (the bug)' || echo 'fall back to buffered I/O (the fix)')"
vctl detect on >/dev/null

widen() { # widen NSID: every write of NSID waits 200 ms between fetch and data transfer; prints the rule id
    vctl_fault_add "ns=$1,op=write,action=widen:200000,name=widen-ns$1"
}
# reported NSID FIRST_LBA LAST_LBA: the detector's reports (lba first last status) within the range.
reported() {
    vctl --json mutations | scn mutations "$1" | awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b { print $1, $2, $3, $4 }' | sort -u
}
# changed BASE_LBA: from before.bin/after.bin, the bytes the program changed, as "lba first last"
# (512-byte blocks from BASE_LBA): what the detector must report when the device saw the change.
changed() {
    python3 - "$1" <<'PY'
import sys
base = int(sys.argv[1])
a, b = open("before.bin", "rb").read(), open("after.bin", "rb").read()
for blk in range(len(a) // 512):
    d = [i for i in range(512) if a[blk * 512 + i] != b[blk * 512 + i]]
    if d:
        print(base + blk, d[0], d[-1])
PY
}
csum_errors() { dmesg | tail -n +$((DMESG_MARK + 1)) | grep -c -E 'csum failed|checksum error' || true; }

# race FILE: the racing write at offset 0 with the window widened on namespace 1; prints its result.
race_btrfs() {
    local id
    id=$(widen 1)
    python3 "$here/dio_race.py" "$1" 0 4 "${d1#/dev/}" >race.out
    vctl fault del "$id" >/dev/null
    cat race.out
    grep -q '^write ok 16384 ' race.out || fail "the O_DIRECT write on btrfs failed: $(cat race.out)"
    grep -q 'after the write was in flight' race.out || fail "the racing thread saw no write in flight: $(cat race.out)"
    sync
}

step "1. btrfs with data checksums: O_DIRECT write whose buffer changes in flight, then read it back"
mkfs.btrfs -q -f "$d1"
mkdir -p /mnt/b
# nodiscard: no background discards, so the only write in flight is the racing one.
mount -t btrfs -o nodiscard "$d1" /mnt/b
dmesg_mark
race_btrfs /mnt/b/sum.bin
base=$(btrfs_sector /mnt/b/sum.bin 0 "$d1")
rep=$(reported 1 "$base" $((base + 31)))
echo "file at sector $base of $d1; detector: ${rep:-nothing}"
echo 3 >/proc/sys/vm/drop_caches
rc=0
cat /mnt/b/sum.bin >read1.bin 2>read1.err || rc=$?
errs=$(csum_errors)
dmesg | tail -n +$((DMESG_MARK + 1)) | grep -m 3 -E 'csum failed' || true
if $btrfs_dio; then
    ((rc != 0)) || fail "reading the file back succeeded: expected the checksum mismatch (EIO) on $VNVME_KERNEL"
    grep -q 'Input/output error' read1.err || fail "expected EIO, got: $(cat read1.err)"
    ((errs > 0)) || fail "no 'csum failed' in the kernel log"
    assert_eq "$rep" "$(changed "$base" | sed 's/$/ 0x0/')" "detector reports (lba first last status) for the file's blocks"
    echo "OUTCOME: btrfs datasum: true direct I/O; the device saw bytes 100-119 of the second 4 KiB block change in flight (detector, exact); reading the file fails with EIO and the kernel logs csum failed (the bug reproduced)"
else
    ((rc == 0)) || fail "reading the file back failed on $VNVME_KERNEL: $(cat read1.err)"
    ((errs == 0)) || fail "the kernel logged $errs checksum errors on $VNVME_KERNEL"
    cmp read1.bin before.bin || fail "the file does not hold the buffer as it was when write() was called"
    assert_eq "$rep" "" "detector reports for the file's blocks (the page cache copy is stable)"
    echo "OUTCOME: btrfs datasum: buffered fallback; the file holds the buffer as it was at write(), no checksum error, and the detector saw no change in flight"
fi
echo "FIGURE: btrfs datasum: racing write $(cut -d' ' -f4 race.out) s, $errs csum error line(s) in the kernel log"
umount /mnt/b

step "2. btrfs -o nodatasum: the same race"
mount -t btrfs -o nodatasum,nodiscard "$d1" /mnt/b
dmesg_mark
race_btrfs /mnt/b/nods.bin
base=$(btrfs_sector /mnt/b/nods.bin 0 "$d1")
rep=$(reported 1 "$base" $((base + 31)))
echo "file at sector $base of $d1; detector: ${rep:-nothing}"
echo 3 >/proc/sys/vm/drop_caches
cat /mnt/b/nods.bin >read2.bin || fail "reading the nodatasum file failed"
assert_eq "$(csum_errors)" 0 "checksum errors with nodatasum"
cmp read2.bin after.bin || fail "the nodatasum file does not hold what the device read (the changed buffer)"
assert_eq "$rep" "$(changed "$base" | sed 's/$/ 0x0/')" "detector reports (lba first last status) for the nodatasum file"
umount /mnt/b
echo "OUTCOME: btrfs nodatasum: true direct I/O; no checksum error; the file holds the changed bytes, exactly those the detector reported"

step "3. raw PI namespace $d2: the block layer computed the guard before the change"
dmesg_mark
id=$(widen 2)
python3 "$here/dio_race.py" "$d2" $((100 * 512)) 4 "${d2#/dev/}" >race3.out
vctl fault del "$id" >/dev/null
cat race3.out
grep -q 'after the write was in flight' race3.out || fail "the racing thread saw no write in flight: $(cat race3.out)"
grep -E -q '^write failed (EIO|EILSEQ) ' race3.out || fail "the racing write to the PI namespace did not fail with EIO/EILSEQ: $(cat race3.out)"
errno=$(cut -d' ' -f3 race3.out)
dm=$(dmesg | tail -n +$((DMESG_MARK + 1)))
grep -m 3 -E 'sc 0x82|guard|protection error' <<<"$dm" ||
    fail "no guard check error in the kernel log"
rep=$(reported 2 100 131)
echo "detector: ${rep:-nothing}"
assert_eq "$rep" "$(changed 100 | sed 's/$/ 0x282/')" "detector reports (lba first last status) for the PI write"
echo "OUTCOME: raw PI namespace: the device rejected the write with a guard check error (0x282), the program got $errno, the detector names the changed bytes"
step "control: the same O_DIRECT write to the PI namespace with a buffer left alone succeeds"
python3 - "$d2" <<'PY' || fail "a clean O_DIRECT write to the PI namespace failed"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
b = mmap.mmap(-1, 16384)
b.write(b"\x11" * 16384)
assert os.pwrite(fd, b, 300 * 512) == 16384
PY
assert_eq "$(reported 2 300 331)" "" "detector reports for the clean write"
echo "FIGURE: mutations the detector reported in this VM: $(vctl --json mutations | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["mutations"]))')"
