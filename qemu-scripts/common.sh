# Shared helpers for the guest lab scripts (setup, guest-test, test-all); sourced, not run.
# shellcheck shell=bash
#
# Lab layout (see docs/guest-lab.md):
#   $LAB/qemu-root/   trixie tree holding QEMU from trixie-backports (run with the ld.so trick)
#   $LAB/guest-root/  trixie tree holding the guest userland and the three kernels
#   $LAB/boot/        <kernel>.vmlinuz / <kernel>.initrd copied out of guest-root (kernel = old|lts|new)
#   $LAB/root.img     ext4 image of guest-root (booted with snapshot=on, never modified)
#   $LAB/versions     resolved versions, key=value lines
#   $LAB/stamps/      one file per setup stage holding the key it was built with
#   $LAB/kvm/         cached KVM probe results
#   $LAB/runs/        one directory per guest-test run

LAB=${VNVME_LAB:-/var/cache/vnvme-lab}
QROOT=$LAB/qemu-root
GROOT=$LAB/guest-root
KERNELS=(old lts new)

# Print a message to stderr and exit non-zero.
lab_die() {
    echo "${LAB_PROG:-lab}: error: $*" >&2
    LAB_REPORTED=1
    exit 1
}

# No script stops silently. A script calls lab_guard once: from then on a command that fails
# under `set -e` prints what failed and where, and any non-zero exit that printed no error of its
# own (lab_die, or a result line followed by lab_reported) names the step it was in (lab_step).
LAB_STEP="start-up"
lab_step() { LAB_STEP=$*; }
lab_reported() { LAB_REPORTED=1; }
lab_guard() {
    trap 'lab_on_err "$BASH_COMMAND" "$LINENO"' ERR
    trap 'lab_on_exit $?' EXIT
}
lab_on_err() {
    # A script that has printed its own verdict (lab_reported) and then exits non-zero is not an error
    # to report again (bash runs the ERR trap for such an `exit` inside a { } block).
    [[ -n ${LAB_REPORTED:-} ]] && return
    echo "${LAB_PROG:-lab}: error: step '$LAB_STEP': \"$1\" failed (line $2)" >&2
    LAB_REPORTED=1
}
# The EXIT trap's body; scripts with an EXIT trap of their own call it from there with $?.
lab_on_exit() {
    local st=$1
    if ((st != 0)) && [[ -z ${LAB_REPORTED:-} ]]; then
        echo "${LAB_PROG:-lab}: error: stopped with exit status $st in step '$LAB_STEP'" >&2
    fi
    return "$st"
}

# Seconds since the epoch with two decimals (bash 5 EPOCHREALTIME, no fork).
lab_now() {
    local t=${EPOCHREALTIME/,/.}
    printf '%s\n' "${t%????}"
}

# Difference of two lab_now values, formatted as "12.3s".
lab_elapsed() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'
}

# The trixie tree's QEMU run on the host without chroot: the tree's own dynamic loader with the
# tree's library path, firmware from the tree (-L) and modules through QEMU_MODULE_DIR. Every path
# in the arguments is a host path. QEMU_CMD is an array so that it can follow `timeout`.
QEMU_CMD=(env "QEMU_MODULE_DIR=$QROOT/usr/lib/x86_64-linux-gnu/qemu"
    "$QROOT/lib64/ld-linux-x86-64.so.2" --library-path "$QROOT/usr/lib/x86_64-linux-gnu"
    "$QROOT/usr/bin/qemu-system-x86_64" -L "$QROOT/usr/share/qemu" -L "$QROOT/usr/share/seabios")
lab_qemu() {
    "${QEMU_CMD[@]}" "$@"
}

# The lab's versions as one line: "qemu 11.1.3 | old 6.1.0-... | ...".
lab_versions_line() {
    [[ -r $LAB/versions ]] || { echo "versions: unknown ($LAB/versions missing)"; return; }
    local line="" k v
    while IFS='=' read -r k v; do
        [[ -z $k || $k == \#* ]] && continue
        line+="${line:+, }$k $v"
    done <"$LAB/versions"
    echo "versions: $line"
}

# Value of key $2 in the versions file (empty if absent).
lab_version() {
    sed -n "s/^$1=//p" "$LAB/versions" 2>/dev/null | head -n1
}
