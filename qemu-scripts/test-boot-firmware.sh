#!/bin/bash
# The guest's firmware must leave the NVMe controller alone: only the guest kernel drives it.
#
# Usage: qemu-scripts/test-boot-firmware.sh [--kernel K]
#
# Regression test for boots that hung at random (no serial output, killed at the 600 s timeout) on
# namespaces with 64-byte separate metadata. SeaBIOS enabled the controller and read LBA 0 with MPTR 0,
# so the device wrote that block's 64 bytes of metadata over the real-mode interrupt table at guest
# address 0, timer vector included; a tick before the kernel left real mode then jumped into it.
# guest-test now boots with `-boot strict=on`, under which SeaBIOS skips devices without a bootindex.
#   kernel-only   a vnvme boot on a 4096+64 namespace with a script that does nothing: the server saw
#                 exactly one controller enable (the kernel's), so the firmware never queued a command
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_PROG=test-boot-firmware
# shellcheck source=common.sh
. "$here/common.sh"
kernel=lts
while (($#)); do
    case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    *) lab_die "unknown argument '$1'" ;;
    esac
done
work=$(mktemp -d /var/tmp/vnvme-test-firmware.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

printf '#!/bin/bash\n# Does nothing: the boot is the test.\ntrue\n' >"$work/boot-only.sh"
chmod +x "$work/boot-only.sh"
st=0
"$here/guest-test" --device vnvme --kernel "$kernel" --ns lbs=4096,ms=64,mset=0,pi=1,pif=2,pil=0 \
    --timeout 300 "$work/boot-only.sh" >"$work/out" 2>&1 || st=$?
run=$(sed -n 's/^run: //p' "$work/out" | tail -n1)
enables=$(grep -c 'controller enabled' "$run/server.log" 2>/dev/null || true)
if ((st == 0)) && [[ $enables == 1 ]]; then
    echo "PASS boot-firmware/kernel-only ($kernel, $(grep -m1 '^accel' "$work/out" || echo 'accel unknown'))"
    passed=$((passed + 1))
else
    echo "FAIL boot-firmware/kernel-only (guest-test exit $st; the server saw ${enables:-no} controller enable(s), want 1; run: ${run:-none})"
    grep -E 'controller (enabled|reset)' "$run/server.log" 2>/dev/null | sed 's/^/    /' || true
    tail -n 15 "$work/out" | sed 's/^/    /'
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
((failed == 0))
