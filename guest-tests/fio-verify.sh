#!/bin/bash
# fio random write + crc32c verify over 48 MiB of namespace 1 (O_DIRECT), with no kernel I/O errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
bs=$((lbs > 4096 ? lbs : 4096))
step "fio randwrite+verify on $dev, bs=$bs, integrity: $(cat "$(ns_sysfs 1)/integrity/format")"
dmesg_mark
fio --name=verify --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 \
    --rw=randwrite --bs="$bs" --size=48M --verify=crc32c --do_verify=1 --verify_fatal=1 \
    --randrepeat=0 --output-format=terse --terse-version=3 >fio.terse 2>fio.err ||
    { cat fio.err fio.terse; fail "fio write+verify on $dev failed"; }
[[ ! -s fio.err ]] || { cat fio.err; fail "fio printed errors"; }
# terse v3: field 5 = error, 6 = KiB read (the verify phase), 47 = KiB written.
awk -F';' '{ printf "fio: error %s, read %s KiB, written %s KiB\n", $5, $6, $47 }' fio.terse
assert_eq "$(awk -F';' '{ print $5 }' fio.terse)" 0 "fio error code"
assert_eq "$(awk -F';' '{ print $47 }' fio.terse)" "$((48 * 1024))" "KiB written by fio"
assert_eq "$(awk -F';' '{ print $6 }' fio.terse)" "$((48 * 1024))" "KiB read back by fio's verify phase"
dmesg_assert_clean "fio verify"
echo "fio verify ok"
