#!/bin/bash
# After a server restart, LBAs 300-303 of namespace 1 still read as Unrecovered Read Error; a rewrite heals them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
for lba in 300 303; do
    if nvme read "$dev" --start-block=$lba --block-count=0 --data-size="$lbs" --data=r.bin >r.out 2>&1; then
        fail "LBA $lba reads fine after the restart: the Write Uncorrectable mark was lost"
    fi
    grep -qi "unrecovered read" r.out || fail "LBA $lba: expected Unrecovered Read Error, got: $(cat r.out)"
done
nvme read "$dev" --start-block=304 --block-count=0 --data-size="$lbs" --data=r.bin >/dev/null 2>&1 || fail "LBA 304 is not marked"
head -c $((4 * lbs)) /dev/urandom >w.bin
dd if=w.bin of="$dev" bs="$lbs" seek=300 oflag=direct status=none || fail "rewrite"
dd if="$dev" of=b.bin bs="$lbs" skip=300 count=4 iflag=direct status=none || fail "read after rewrite"
cmp w.bin b.bin || fail "data after rewrite"
echo "marks survived the restart; rewrite healed them"
