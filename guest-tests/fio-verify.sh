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
fio_terse_check 48
dmesg_assert_clean "fio verify"
echo "fio verify ok"
