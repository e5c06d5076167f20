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
    exit 1
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
