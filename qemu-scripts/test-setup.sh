#!/bin/bash
# setup's own exit status and messages on the cold, warm and one-stage-rebuilt paths, and on a failure.
#
# Usage: qemu-scripts/test-setup.sh [--kernel K] [--no-cold]
#
# Regression test for setup exiting 1 after rebuilding a stage without --brief (a bare `exit` returned
# the status of `((brief)) && ...`), which made both README commands fail on a fresh machine.
#   warm           setup on the lab ($VNVME_LAB) itself: exit 0, "all stages cached", with and without --brief
#   one-stage      a scratch lab hard-linked from the real one with the init stage's stamp removed:
#                  exit 0 and exactly that stage rebuilt, with and without --brief (--no-refresh, so no
#                  apt run writes into the shared trees)
#   failure        a scratch lab whose boot/ is a file: non-zero exit, and stderr names the step
#   cold           setup into a directory that does not exist yet, as on a fresh machine: exit 0, every
#                  stage built, and a guest boots from it (about 2-3 minutes, downloads the Debian packages)
# --kernel is accepted (test-all passes it to host suites) and picks the kernel the cold lab boots.
# --no-cold leaves the cold path out (for a quick run by hand; it then counts as a failure in the total,
# so a run without the cold path never reads as all passed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
LAB_PROG=test-setup
# shellcheck source=common.sh
. "$here/common.sh"
kernel=lts
cold=1
while (($#)); do
    case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    --no-cold) cold=0; shift ;;
    *) lab_die "unknown argument '$1'" ;;
    esac
done
real_lab=$LAB
[[ -f $real_lab/stamps/image ]] || lab_die "no provisioned lab at $real_lab (run qemu-scripts/setup first)"
work=$(mktemp -d /var/tmp/vnvme-test-setup.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
pass() { echo "PASS setup/$1"; passed=$((passed + 1)); }
fail() { echo "FAIL setup/$1"; failed=$((failed + 1)); [[ -f $work/out ]] && sed 's/^/    /' "$work/out" | tail -n 25; }

# run_setup LAB ARGS...: setup with that lab; output in $work/out, status in $st.
run_setup() {
    local lab=$1
    shift
    st=0
    VNVME_LAB=$lab "$here/setup" "$@" >"$work/out" 2>&1 || st=$?
}

# scratch_lab NAME: a copy of the real lab sharing its files by hard link (a stage that rebuilds
# writes a new file and renames it over the old name, so the real lab's files are not touched).
scratch_lab() {
    local d=$work/$1
    mkdir -p "$d"
    local e
    for e in qemu-root guest-root boot debs stamps root.img resolved versions; do
        [[ -e $real_lab/$e ]] && cp -al "$real_lab/$e" "$d/$e"
    done
    # Stamps are rewritten in place by nothing, but copy them anyway: the test edits them.
    rm -rf "$d/stamps"
    cp -a "$real_lab/stamps" "$d/stamps"
    printf '%s\n' "$d"
}

# warm
for brief in "" --brief; do
    run_setup "$real_lab" $brief
    if ((st == 0)) && { [[ -n $brief ]] || grep -q 'all stages cached' "$work/out"; }; then
        pass "warm${brief:+-brief}"
    else
        fail "warm${brief:+-brief} (exit $st)"
    fi
done

# one stage rebuilt
for brief in "" --brief; do
    lab=$(scratch_lab "one-stage${brief}")
    rm -f "$lab/stamps/init"
    run_setup "$lab" --no-refresh $brief
    if ((st == 0)) && grep -q '(1 stage(s) rebuilt)' "$work/out" && grep -q 'init .*built' "$work/out"; then
        pass "one-stage-rebuilt${brief:+-brief}"
    else
        fail "one-stage-rebuilt${brief:+-brief} (exit $st)"
    fi
    rm -rf "$lab"
done

# failure: the step that failed is named
lab=$(scratch_lab failure)
rm -rf "$lab/boot"
echo "not a directory" >"$lab/boot"
run_setup "$lab" --no-refresh
if ((st != 0)) && grep -q "setup: error: step 'lab directory" "$work/out"; then
    pass "failure-names-step"
else
    fail "failure-names-step (exit $st; expected non-zero and the step named)"
fi
rm -rf "$lab"

# cold: a lab directory that does not exist yet
if ((cold)); then
    lab=$work/cold/lab
    t0=$(lab_now)
    run_setup "$lab"
    n_stages=$(grep -c ' built ' "$work/out" || true)
    if ((st == 0)) && grep -q "done in .* ($n_stages stage(s) rebuilt)" "$work/out" && ((n_stages >= 10)); then
        pass "cold ($n_stages stages in $(lab_elapsed "$t0" "$(lab_now)"))"
        # The lab it made boots a guest: an ordinary run on QEMU's own nvme device (pi-profile.sh).
        if VNVME_LAB=$lab VNVME_SKIP_SETUP=1 "$here/guest-test" --device qemu --kernel "$kernel" --ns lbs=512 \
            "$repo/guest-tests/pi-profile.sh" >"$work/out" 2>&1; then
            pass "cold-lab-boots ($kernel, $(grep -m1 '^accel' "$work/out" || echo 'accel unknown'))"
        else
            fail "cold-lab-boots"
        fi
    else
        fail "cold (exit $st)"
    fi
else
    echo "FAIL setup/cold (left out with --no-cold)"
    failed=$((failed + 1))
fi
rm -rf "$work"
echo "$passed passed, $failed failed"
((failed == 0))
