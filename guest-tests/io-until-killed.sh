#!/bin/bash
# Keep fio writing (QD16, random 4 KiB, O_DIRECT) past the first 64 MiB of namespace 1 until QEMU is SIGKILLed (guest-test --kill-at VNVME-KILL-ME; qemu-scripts/test-vm-lifecycle.sh).
# Prints the marker once fio has I/O in flight. Never ends by itself: if it does, it failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
fio --name=until-killed --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 --rw=randwrite \
    --bs=4096 --offset=64M --size=64M --time_based --runtime=600 --output=fio.out &
pid=$!
sleep 1
kill -0 "$pid" 2>/dev/null || { cat fio.out; fail "fio stopped at once"; }
echo "VNVME-KILL-ME (fio pid $pid writing)"
wait "$pid" || true
fail "still running 600 s later: QEMU was not killed"
