#!/bin/bash
# QEMU's monitor unplugs (device_del) and re-plugs (device_add) the vfio-user device while fio writes: the guest sees the controller go and come back, fio on it errors out, a fresh fio verify passes on the re-added device; twice.
# Needs guest-test --control --hotplug (the device sits behind a PCIe root port; vhotplug in lib.sh asks the
# host's relay to send the QMP command). The server (no --once) takes the new connection; guest-test checks
# afterwards that it is still running and stops cleanly.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ ${VNVME_HOTPLUG:-0} == 1 ]] || fail "run with guest-test --control --hotplug"
dmesg_mark
find_ns1 start
echo "namespace 1: $DEV on $CTRL, PCI $PCIFN ($(readlink -f "/sys/bus/pci/devices/$PCIFN"))"
for round in 1 2; do
    step "round $round: fio writing on $DEV, then device_del"
    fio --name=hot$round --filename="$DEV" --allow_file_create=0 --direct=1 --ioengine=libaio --iodepth=16 --rw=randwrite --bs=4096 \
        --size=64M --time_based --runtime=300 --verify=crc32c --output=fio.hot$round.out >/dev/null 2>&1 &
    fio_pid=$!
    sleep 2
    kill -0 "$fio_pid" 2>/dev/null || { cat fio.hot$round.out; fail "step 'round $round: fio before the unplug': fio stopped early"; }
    t0=$SECONDS
    vhotplug del >hotplug.out || { cat hotplug.out; fail "step 'round $round: device_del': the monitor's device_del failed (or no DEVICE_DELETED within 60 s)"; }
    for ((t = 0; t < 300; t++)); do
        [[ ! -e /sys/bus/pci/devices/$PCIFN && ! -e /sys/class/nvme/$CTRL && ! -b $DEV ]] && break
        sleep 0.1
    done
    [[ ! -e /sys/bus/pci/devices/$PCIFN ]] || fail "step 'round $round: device gone': PCI function $PCIFN still present 30 s after DEVICE_DELETED"
    [[ ! -b $DEV ]] || fail "step 'round $round: device gone': $DEV still present"
    echo "unplugged in $((SECONDS - t0)) s: $PCIFN, $CTRL and $DEV are gone"
    st=0
    timeout 120 tail --pid="$fio_pid" -f /dev/null || fail "step 'round $round: fio after the unplug': fio still running 120 s after the unplug (hung?)"
    wait "$fio_pid" || st=$?
    ((st != 0)) || fail "step 'round $round: fio after the unplug': fio succeeded on a device that went away"
    echo "fio on the unplugged device ended with status $st (expected): $(grep -m1 -E 'err=|error' fio.hot$round.out || true)"

    step "round $round: device_add"
    vhotplug add >hotplug.out || { cat hotplug.out; fail "step 'round $round: device_add': the monitor's device_add failed"; }
    find_ns1 "round $round: device back"
    echo "re-plugged: $DEV on $CTRL, PCI $PCIFN"
    export VNVME_DEV1=$DEV
    fio_verify_bg replug$round 16
    fio_verify_wait 16 "on the re-plugged device (round $round)"
    echo "fio write+verify of 16 MiB clean on the re-plugged device"
done
bad=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E -i -c 'protection error|guard tag error|ref tag error|app tag error|sct 0x2 / sc 0x8' || true)
((bad == 0)) || fail "step 'kernel log': $bad integrity error lines"
echo "HOTPLUG rounds=2"
