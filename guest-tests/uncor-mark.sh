#!/bin/bash
# Mark LBAs 300-303 of namespace 1 uncorrectable (used by qemu-scripts/test-image-moves.sh to check the mark survives a restart).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
nvme write-uncor "$dev" --start-block=300 --block-count=3 >u.out 2>&1 || { cat u.out; fail "write-uncor"; }
nvme read "$dev" --start-block=301 --block-count=0 --data-size="$(ns_get 1 lbs)" --data=r.bin >r.out 2>&1 && fail "read of a marked block succeeded"
grep -qi "unrecovered read" r.out || fail "expected Unrecovered Read Error, got: $(cat r.out)"
echo "LBAs 300-303 marked uncorrectable"
