# Harness shared by the differential guest tests (cmd-differential.sh, pi-differential.sh): the same
# nvme-cli commands on vnvme's copy of every namespace (VNVME_DEV<i>) and on QEMU's (VNVME_QDEV<i>),
# same format, separate fresh images (guest-test --device both). Sourced after lib.sh, not run.
# shellcheck shell=bash

[[ ${VNVME_DEVICE:-} == both ]] || fail "run with --device both (vnvme's copy as VNVME_DEV<i>, QEMU's as VNVME_QDEV<i>)"
tool() { pi_tool "$@"; }

# nvme_st OUT ARGS...: run nvme ARGS; print 0 on success, else the NVMe status nvme-cli reported
# (DNR and More included), e.g. 0x282 or 0x4181. A failure without an NVMe status fails the test.
nvme_st() {
    local out=$1 st
    shift
    if nvme "$@" >"$out" 2>&1; then
        echo 0
        return
    fi
    st=$(sed -n 's/^NVMe status: .*(0x\([0-9a-fA-F]*\))$/\1/p' "$out" | tail -n1)
    [[ -n $st ]] || { cat "$out" >&2; fail "nvme $* failed without an NVMe status"; }
    printf '0x%x\n' $((0x$st))
}

# diff_each_ns SETUP REPORT: for every namespace ns (1..VNVME_NS_COUNT): set vdev, qdev (its two
# block devices), lbs, ms, pil, pif, pi (its format; separate metadata required) and FMT (those five
# as pi_tool takes them); run SETUP (the test's own checks and per-namespace state); then, in a fresh
# work directory ns<ns> with v/ and q/ (each device's files), model/ (what the blocks must hold) and
# unw.data / unw.meta (a never-written block: zero data, and the escape tuple with PI or zero
# metadata without), clear rows and failures, run the test's `sequence`, then REPORT (its table).
# total_fail ends as the sum of failures over the namespaces.
diff_each_ns() {
    local setup=$1 report=$2 qv
    total_fail=0
    for ((ns = 1; ns <= VNVME_NS_COUNT; ns++)); do
        vdev=$(ns_dev "$ns")
        qv=VNVME_QDEV$ns
        qdev=${!qv:-}
        [[ -n $qdev && -b $qdev ]] || fail "no QEMU block device for nsid $ns (VNVME_QDEV$ns='$qdev')"
        lbs=$(ns_get "$ns" lbs) ms=$(ns_get "$ns" ms) pil=$(ns_get "$ns" pil) pif=$(ns_get "$ns" pif) pi=$(ns_get "$ns" pi)
        (($(ns_get "$ns" mset) == 0)) || fail "nsid $ns: this test needs separate metadata (mset=0)"
        FMT=("$lbs" "$ms" "$pil" "$pif" "$pi")
        "$setup"
        mkdir -p "ns$ns"
        cd "ns$ns"
        mkdir -p v q model
        head -c "$lbs" /dev/zero >unw.data
        if ((pi)); then
            tool meta unw.data "${FMT[@]}" 0 0 --escape >unw.meta
        else
            head -c "$ms" /dev/zero >unw.meta
        fi
        rows=() failures=0
        sequence
        "$report"
        total_fail=$((total_fail + failures))
        cd ..
    done
}
