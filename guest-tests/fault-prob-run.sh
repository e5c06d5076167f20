#!/bin/bash
# Read LBAs 1000-1063 one by one and print which failed (used by qemu-scripts/test-fault-prob.sh with a seeded probability rule).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
failed=()
for lba in $(seq 1000 1063); do
    dd if="$dev" of=/dev/null bs="$lbs" skip="$lba" count=1 iflag=direct status=none 2>/dev/null || failed+=("$lba")
done
echo "FAILED-LBAS ${failed[*]}"
((${#failed[@]} > 0 && ${#failed[@]} < 64)) || fail "a probability of 0.3 should fail some but not all of 64 reads (failed ${#failed[@]})"
