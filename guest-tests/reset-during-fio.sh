#!/bin/bash
# `nvme reset` while fio writes at QD16 leaves fio's verify clean: nothing acknowledged is lost.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
step "fio randwrite+verify on $dev with two controller resets during the write phase"
fio_verify_bg reset 64
sleep 2
kill -0 "$FIO_PID" 2>/dev/null || fail "fio finished before the first reset: make the run longer"
nvme reset /dev/nvme0 || fail "nvme reset failed"
sleep 1
nvme reset /dev/nvme0 || fail "second nvme reset failed"
resets=$(dmesg | grep -c 'nvme nvme0: .*\(reset\|queues\)' || true)
fio_verify_wait 64 "across the resets"
[[ -e /dev/nvme0n1 ]] || fail "namespace gone after reset"
echo "fio verify clean across resets (kernel nvme lines: $resets)"
