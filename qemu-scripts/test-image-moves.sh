#!/bin/bash
# One image moves between QEMU's built-in nvme device and vnvme, and vnvme's writes persist across boots.
#
# Usage: qemu-scripts/test-image-moves.sh [--kernel old|lts|new] [--ns-props PROPS]
#
# Five VM boots on one image (default props lbs=512,ms=8,mset=0,pi=1: the block layer generates and
# verifies PI, so the metadata layout is checked too):
#   1 qemu : write pattern A           2 vnvme: check A, write B      3 qemu : check B, write C
#   4 vnvme: check C, write D          5 vnvme: check D (persistence across a vnvme restart),
#                                              mark LBAs 300-303 with Write Uncorrectable
#   6 vnvme: the marks survived the restart (kept beside the image); a rewrite heals them
# --quick runs steps 1-3 only (the layout check both ways).
# Prints PASS/FAIL per step and "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
kernel=lts
props=lbs=512,ms=8,mset=0,pi=1
quick=0
while (($#)); do
    case $1 in
    --kernel) kernel=$2; shift 2 ;;
    --ns-props) props=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "test-image-moves.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
lab=${VNVME_LAB:-/var/cache/vnvme-lab}
work=$(mktemp -d "$lab/runs/image-moves.XXXXXX")
trap 'rm -rf "$work"' EXIT
img=$work/moving.img
truncate -s 512M "$img"
for t in A B C D; do
    for k in write check; do
        cp "$repo/guest-tests/pattern-$k.sh" "$work/pattern-$k.$t.sh"
    done
done
cp "$repo/guest-tests/lib.sh" "$repo/guest-tests/uncor-mark.sh" "$repo/guest-tests/uncor-check.sh" "$work/"
passed=0 failed=0
step() { # NAME DEVICE SCRIPTS...
    local name=$1 dev=$2
    shift 2
    if "$here/guest-test" --device "$dev" --kernel "$kernel" --ns "$props,image=$img" "$@" >"$work/$name.out" 2>&1; then
        echo "PASS image-moves/$name"
        passed=$((passed + 1))
    else
        echo "FAIL image-moves/$name"
        sed 's/^/    /' "$work/$name.out" | tail -25
        failed=$((failed + 1))
    fi
}
step 1-qemu-writes qemu "$work/pattern-write.A.sh"
step 2-vnvme-reads-qemu vnvme "$work/pattern-check.A.sh" "$work/pattern-write.B.sh"
step 3-qemu-reads-vnvme qemu "$work/pattern-check.B.sh" "$work/pattern-write.C.sh"
if ((!quick)); then
    step 4-vnvme-reads-qemu-again vnvme "$work/pattern-check.C.sh" "$work/pattern-write.D.sh"
    step 5-vnvme-persists vnvme "$work/pattern-check.D.sh" "$work/uncor-mark.sh"
    step 6-uncorrectable-persists vnvme "$work/uncor-check.sh"
fi
echo "kernel: $kernel, ns: $props$( ((quick)) && echo ' (quick)')"
echo "$passed passed, $failed failed"
((failed == 0))
