#!/bin/bash
# Reset storm: nvme reset, sysfs reset_controller and PCI remove+rescan, in turn, under fio write+verify on a PI namespace; no hang, nothing acknowledged lost, no PI error.
# 60 s of storm (VNVME_LONG=1: 600 s). Each cycle writes an 8 MiB region of namespace 1 with fio (random
# 4 KiB writes at QD16, crc32c verify, a seed per cycle) and hits the controller once while fio runs:
#   reset     `nvme reset /dev/nvmeX` (the reset ioctl);
#   sysfs     `echo 1 > /sys/class/nvme/nvmeX/reset_controller`;
#   remove    `echo 1 > /sys/bus/pci/devices/F/remove`, then `echo 1 > /sys/bus/pci/rescan`.
# A reset must not disturb fio: its write+verify passes. A removal takes the namespace away, so that
# cycle's fio fails (expected) and its region is forgotten. After the storm, fio --verify_only re-reads every
# region whose last writer passed: nothing acknowledged may be lost across the later resets and removals.
# The server (--control) must have failed no PI check and completed no command with an error, and the
# kernel must have logged no integrity error. Every step that hangs (60-120 s) fails the test by name.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ns_require 1 "512+8, PI type 1, separate metadata" lbs=512 ms=8 mset=0 pi=1
storm_s=$(long_or 60 600)
region_mib=8
nregions=$(ns1_regions $region_mib)

fio_region() { # MODE(write|verify) REGION SEED
    local extra=(--do_verify=1)
    [[ $1 == verify ]] && extra=(--verify_only=1)
    timeout 120 fio --name="r$2" --filename="$DEV" --allow_file_create=0 --direct=1 --ioengine=libaio --iodepth=16 \
        --rw=randwrite --bs=4096 --offset=$(($2 * region_mib))M --size=${region_mib}M --randseed="$3" \
        --verify=crc32c --verify_fatal=1 "${extra[@]}" --output-format=terse --terse-version=3
}

find_ns1 start
echo "namespace 1: $DEV on $CTRL (PCI $PCIFN), integrity $(cat "/sys/block/${DEV#/dev/}/integrity/format"), $nregions regions of $region_mib MiB"
vctl stats --reset >/dev/null || fail "vctl stats --reset (no control relay?)"
dmesg_mark
declare -A seed_of=()
n_reset=0 n_sysfs=0 n_remove=0 under_io=0 cycles=0 lost_rounds=0
t_end=$((SECONDS + storm_s))
while ((SECONDS < t_end)); do
    kind=$((cycles % 3)) region=$((cycles % nregions)) seed=$((1000 + cycles))
    unset "seed_of[$region]"
    fio_region write "$region" "$seed" >"fio.$cycles.terse" 2>"fio.$cycles.err" &
    fio_pid=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -0 "$fio_pid" 2>/dev/null && under_io=$((under_io + 1))
    case $kind in
    0)
        STEP="nvme reset /dev/$CTRL (cycle $cycles)"
        timeout 60 nvme reset "/dev/$CTRL" || fail "step '$STEP' failed or hung (status $?)"
        n_reset=$((n_reset + 1))
        ;;
    1)
        STEP="echo 1 > /sys/class/nvme/$CTRL/reset_controller (cycle $cycles)"
        timeout 60 bash -c "echo 1 >/sys/class/nvme/$CTRL/reset_controller" || fail "step '$STEP' failed or hung (status $?)"
        n_sysfs=$((n_sysfs + 1))
        ;;
    2)
        STEP="PCI remove of $PCIFN (cycle $cycles)"
        timeout 60 bash -c "echo 1 >/sys/bus/pci/devices/$PCIFN/remove" || fail "step '$STEP' failed or hung (status $?)"
        STEP="fio on the removed namespace (cycle $cycles)"
        st=0
        wait "$fio_pid" || st=$?
        ((st != 124)) || fail "step '$STEP': fio hung (killed after 120 s)"
        ((st == 0)) || lost_rounds=$((lost_rounds + 1))
        # fio must not have made a regular file where the device node was (--allow_file_create=0).
        [[ ! -f $DEV ]] || fail "step '$STEP': $DEV is a regular file now"
        STEP="PCI rescan (cycle $cycles)"
        timeout 60 bash -c "echo 1 >/sys/bus/pci/rescan" || fail "step '$STEP' failed or hung (status $?)"
        find_ns1 "$STEP"
        n_remove=$((n_remove + 1))
        cycles=$((cycles + 1))
        continue
        ;;
    esac
    STEP="fio write+verify of region $region across the reset (cycle $cycles)"
    st=0
    wait "$fio_pid" || st=$?
    if ((st != 0)); then
        cat "fio.$cycles.err"
        dmesg | tail -n 30
        fail "step '$STEP': fio failed (status $st)"
    fi
    [[ $(awk -F';' '{ print $5 }' "fio.$cycles.terse") == 0 && $(awk -F';' '{ print $6 }' "fio.$cycles.terse") == $((region_mib * 1024)) ]] ||
        fail "step '$STEP': fio error or short verify: $(cat "fio.$cycles.terse")"
    seed_of[$region]=$seed
    find_ns1 "$STEP"
    cycles=$((cycles + 1))
done
STEP="final verify"
echo "storm: ${storm_s} s, $cycles cycles: nvme reset $n_reset, sysfs reset_controller $n_sysfs, PCI remove+rescan $n_remove ($under_io of them while fio was running; $lost_rounds fio runs ended by a removal, as expected)"
((n_reset > 0 && n_sysfs > 0 && n_remove > 0)) || fail "the storm did not run each kind of reset at least once"
verified=0
for region in "${!seed_of[@]}"; do
    STEP="fio --verify_only of region $region (seed ${seed_of[$region]})"
    fio_region verify "$region" "${seed_of[$region]}" >verify.terse 2>verify.err ||
        { cat verify.err verify.terse; fail "step '$STEP': data acknowledged before the later resets is not intact"; }
    [[ $(awk -F';' '{ print $5 }' verify.terse) == 0 && $(awk -F';' '{ print $6 }' verify.terse) == $((region_mib * 1024)) ]] ||
        fail "step '$STEP': fio error or short verify: $(cat verify.terse)"
    verified=$((verified + 1))
done
((verified > 0)) || fail "no region left to verify"
echo "final verify: $verified regions ($((verified * region_mib)) MiB) written before later resets read back intact"

STEP="server statistics"
vctl --json stats >stats.json || fail "step '$STEP': vctl stats failed"
python3 - stats.json <<'PY' || fail "step '$STEP': the server saw a PI check fail or an error status it was not asked to inject"
import json, sys
st = json.load(open(sys.argv[1]))
bad = 0
for nsid, ns in st.get("namespaces", {}).items():
    for c in ns["commands"]:
        print("server: ns %s %s %s (%s): %d" % (nsid, c["opcode"], c["status"], c["status_name"], c["count"]))
        if c["status"] != "0x000":
            bad += 1
    pf = ns["pi_failed_commands"]
    print("server: ns %s PI checks failed: %s" % (nsid, pf))
    if any(pf.values()):
        bad += 1
print("server: faults fired %s" % st.get("faults_fired"))
sys.exit(1 if bad or st.get("faults_fired") else 0)
PY
STEP="kernel log"
integrity=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E -i -c 'protection error|guard tag error|ref tag error|app tag error|sct 0x2 / sc 0x8' || true)
ioerr=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E -i -c 'I/O error' || true)
resets_logged=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E -c 'nvme nvme[0-9]+: .*(resetting|Removing after|[0-9]+/[0-9]+/[0-9]+ default/read/poll queues)' || true)
echo "kernel: $integrity integrity error lines, $ioerr I/O error lines (from the removals), $resets_logged controller (re)start lines"
((integrity == 0)) || { dmesg | grep -E -i 'protection error|guard tag error|ref tag error|app tag error|sct 0x2 / sc 0x8' | head; fail "step '$STEP': the kernel logged integrity errors"; }
echo "RESET-STORM seconds=$storm_s cycles=$cycles nvme_reset=$n_reset sysfs_reset=$n_sysfs pci_remove_rescan=$n_remove verified_regions=$verified"
