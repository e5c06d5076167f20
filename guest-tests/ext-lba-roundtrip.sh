#!/bin/bash
# Extended-LBA PI namespace: no guest integrity profile, data round-trips, controller-inserted PI is correct.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs) ms=$(ns_get 1 ms) mset=$(ns_get 1 mset) pi=$(ns_get 1 pi)
((mset == 1 && pi > 0)) || fail "this test needs an extended-LBA PI namespace (mset=1, pi>0); got '$VNVME_NS1'"

assert_eq "$(cat "$(ns_sysfs 1)/integrity/format")" none "integrity profile of an extended-LBA namespace"
assert_eq "$(cat "$(ns_sysfs 1)/queue/logical_block_size")" "$lbs" "logical block size"

step "dd 16 MiB of random data at 4 MiB with oflag=direct"
dmesg_mark
head -c 16M /dev/urandom >pattern.bin
dd if=pattern.bin of="$dev" bs=1M seek=4 oflag=direct conv=fsync status=none || fail "O_DIRECT write to $dev failed"
drop_caches
step "read back (O_DIRECT and buffered) and compare sha256"
dd if="$dev" of=direct.bin bs=1M skip=4 count=16 iflag=direct status=none || fail "O_DIRECT read of $dev failed"
assert_eq "$(sha direct.bin)" "$(sha pattern.bin)" "sha256 of the O_DIRECT read-back"
drop_caches
dd if="$dev" of=buffered.bin bs=1M skip=4 count=16 status=none || fail "buffered read of $dev failed"
assert_eq "$(sha buffered.bin)" "$(sha pattern.bin)" "sha256 of the buffered read-back"
dmesg_assert_clean "extended-LBA round trip"

if ((pi == 1 && $(ns_get 1 pif) == 0 && $(ns_get 1 pil) == 0 && ms == 8)); then
    # The driver wrote with PRACT=1: the controller generated the PI. Read 4 blocks raw (no PRACT, no
    # checks) in the extended format and check guard = CRC16(data), app tag 0, ref tag = LBA.
    lba=$((4 * 1024 * 1024 / lbs + 3))
    step "raw read of LBAs $lba..$((lba + 3)): controller-generated type 1 PI"
    nvme read "$dev" --start-block=$lba --block-count=3 --data-size=$((4 * (lbs + ms))) --data=raw.bin \
        --prinfo=0 >raw.out 2>&1 || { cat raw.out; fail "raw read of LBA $lba failed"; }
    assert_eq "$(stat -c %s raw.bin)" "$((4 * (lbs + ms)))" "size of the raw extended-LBA read"
    pi_py check-ext raw.bin "$lbs" "$ms" 0 $lba || fail "controller-generated PI is wrong"
    cmp <(head -c "$lbs" raw.bin) <(tail -c +$((3 * lbs + 1)) pattern.bin | head -c "$lbs") ||
        fail "data part of the raw read does not match the pattern"
fi
echo "extended-LBA round trip ok"
