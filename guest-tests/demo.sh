#!/bin/bash
# A short tour of the vnvme controller for qemu-scripts/run without a terminal: identity, PI profile, a PI-checked write and read.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
nvme list
nvme id-ctrl /dev/nvme0 | grep -E '^(vid|mn|fr|ver|oncs|sgls) '
echo "integrity profile: $(cat "$(ns_sysfs 1)/integrity/format")"
head -c 1M /dev/urandom >d.bin
dd if=d.bin of="$dev" bs=64k oflag=direct status=none || fail "write"
echo 3 >/proc/sys/vm/drop_caches
dd if="$dev" of=r.bin bs=64k count=16 iflag=direct status=none || fail "read (PI verified by the block layer)"
cmp d.bin r.bin || fail "data differs"
echo "1 MiB written and read back with end-to-end PI checks"
