#!/bin/bash
# `nvme reset` while fio writes at QD16 leaves fio's verify clean: nothing acknowledged is lost.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
bs=$((lbs > 4096 ? lbs : 4096))
step "fio randwrite+verify on $dev with two controller resets during the write phase"
fio --name=reset --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 \
    --rw=randwrite --bs="$bs" --size=64M --verify=crc32c --do_verify=1 --verify_fatal=1 \
    --randrepeat=0 --output-format=terse --terse-version=3 >fio.terse 2>fio.err &
pid=$!
sleep 2
kill -0 $pid 2>/dev/null || fail "fio finished before the first reset: make the run longer"
nvme reset /dev/nvme0 || fail "nvme reset failed"
sleep 1
nvme reset /dev/nvme0 || fail "second nvme reset failed"
resets=$(dmesg | grep -c 'nvme nvme0: .*\(reset\|queues\)' || true)
wait $pid || { cat fio.err fio.terse; fail "fio failed across the resets"; }
assert_eq "$(awk -F';' '{ print $5 }' fio.terse)" 0 "fio error code"
assert_eq "$(awk -F';' '{ print $6 }' fio.terse)" "$((64 * 1024))" "KiB verified after the resets"
[[ -e /dev/nvme0n1 ]] || fail "namespace gone after reset"
echo "fio verify clean across resets (kernel nvme lines: $resets)"
