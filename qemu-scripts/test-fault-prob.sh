#!/bin/bash
# A probability fault rule with a fixed seed fires on the same commands in two VM boots.
#
# Usage: qemu-scripts/test-fault-prob.sh [--kernel old|lts|new]
# Two boots, each with `--fault ns=1,op=read,lba=1000-1063,when=prob:0.3:1234,action=status:2:0x81:dnr` and the guest
# reading LBAs 1000-1063 one by one; the lists of failed LBAs must be equal (and neither empty nor full).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
kernel=lts
while (($#)); do
    case $1 in
    --kernel) kernel=$2; shift 2 ;;
    *) echo "test-fault-prob.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
rule='ns=1,op=read,lba=1000-1063,when=prob:0.3:1234,action=status:2:0x81:dnr'
lists=()
passed=0 failed=0
for run in 1 2; do
    out=$(mktemp)
    if "$here/guest-test" --device vnvme --kernel "$kernel" --ns lbs=512 --serve-arg "--fault=$rule" \
        "$repo/guest-tests/fault-prob-run.sh" >"$out" 2>&1; then
        run_dir=$(sed -n 's/^run[^:]*: \([^ ]*\).*/\1/p' "$out" | tail -n1)
        lists+=("$(sed -n 's/^FAILED-LBAS //p' "$run_dir/share/logs/fault-prob-run.sh.log")")
        echo "PASS fault-prob/boot-$run (failed LBAs: ${lists[-1]})"
        passed=$((passed + 1))
    else
        echo "FAIL fault-prob/boot-$run"
        tail -n 20 "$out" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
    rm -f "$out"
done
if ((${#lists[@]} == 2)) && [[ -n ${lists[0]} && ${lists[0]} == "${lists[1]}" ]]; then
    echo "PASS fault-prob/same-commands-fired"
    passed=$((passed + 1))
else
    echo "FAIL fault-prob/same-commands-fired (boot 1: ${lists[0]:-none}; boot 2: ${lists[1]:-none})"
    failed=$((failed + 1))
fi
echo "kernel: $kernel"
echo "$passed passed, $failed failed"
((failed == 0))
