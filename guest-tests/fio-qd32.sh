#!/bin/bash
# fio random write + verify at queue depth 32 with 2 jobs on disjoint halves of namespace 1 (O_DIRECT, libaio).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
bs=$((lbs > 4096 ? lbs : 4096))
step "fio QD32 x2 jobs randwrite+verify on $dev"
dmesg_mark
fio --name=qd32 --filename="$dev" --direct=1 --ioengine=libaio --iodepth=32 --numjobs=2 \
    --rw=randwrite --bs="$bs" --size=32M --offset_increment=64M --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --randrepeat=0 --group_reporting=1 --output-format=terse --terse-version=3 >fio.terse 2>fio.err ||
    { cat fio.err fio.terse; fail "fio QD32 write+verify failed"; }
[[ ! -s fio.err ]] || { cat fio.err; fail "fio printed errors"; }
assert_eq "$(awk -F';' 'NF > 50 { print $5 }' fio.terse)" 0 "fio error code"
assert_eq "$(awk -F';' 'NF > 50 { print $47 }' fio.terse)" "$((2 * 32 * 1024))" "KiB written by both jobs"
assert_eq "$(awk -F';' 'NF > 50 { print $6 }' fio.terse)" "$((2 * 32 * 1024))" "KiB verified by both jobs"
dmesg_assert_clean "fio QD32"
echo "fio QD32 ok"
