#!/bin/bash
# A one-shot status rule (write fault on LBA 5000, DNR) fails exactly one write; the next write of the same block succeeds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Server side (group options): --fault 'ns=1,op=write,lba=5000,when=once,action=status:2:0x80:dnr'
dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
head -c "$lbs" /dev/urandom >b.bin
dmesg_mark
if dd if=b.bin of="$dev" bs="$lbs" seek=5000 oflag=direct status=none 2>e1.txt; then
    fail "the first write of LBA 5000 succeeded"
fi
echo "first write: $(cat e1.txt)"
dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E -m2 "sct 0x2 / sc 0x80|I/O error" || fail "no write fault in the kernel log"
dd if=b.bin of="$dev" bs="$lbs" seek=5000 oflag=direct status=none || fail "the second write of LBA 5000 failed"
dd if=b.bin of="$dev" bs="$lbs" seek=5001 oflag=direct status=none || fail "a write of LBA 5001 failed"
dd if="$dev" of=r.bin bs="$lbs" skip=5000 count=1 iflag=direct status=none || fail "read back"
cmp b.bin r.bin || fail "data"
echo "exactly one write failed"
