#!/bin/bash
# scenario: ext4 and xfs change pages under writeback unless the device needs stable pages: the mutation detector sees data change in flight without PI, none with stable_writes=1 or on a PI namespace
# vm: --ns lbs=512,size=512M --ns lbs=512,ms=8,mset=0,pi=1,size=512M --serve-arg --detect-mutation
#
# The root cause of the VM variant of the direct-I/O checksum bug: a guest filesystem may change a page
# while the device is still reading it for writeback, when the block device does not ask for stable
# writes (queue/stable_writes = 0). The host then sees data that is neither the old nor the new
# version, and a checksumming host filesystem under a VM image (O_DIRECT) records a checksum of one
# version and data of another. With stable pages a rewrite waits for the writeback: Linux requires
# them for a PI namespace with an integrity profile, and for any device with queue/stable_writes = 1.
#
# rewrite.py rewrites 16 blocks of one file (pwrite() and mmap stores) while fsync() runs in a loop;
# the device widens each write's window between fetch and data transfer to 20 ms.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

d1=$(ns_dev 1) d2=$(ns_dev 2)
ns_require 1 "without metadata" ms=0
ns_require 2 "Type 1 PI with separate metadata" pi=1 mset=0
vctl detect on >/dev/null
secs=3

# run FS NSID: mkfs FS on the namespace, run the rewrite workload with widened writes; prints the
# number of buffer mutations the device detected.
run() {
    local fs=$1 ns=$2 dev id
    dev=$(ns_dev "$ns")
    case $fs in
    ext4) mkfs.ext4 -q -F -E nodiscard "$dev" >&2 || fail "mkfs.ext4 $dev" ;;
    xfs) mkfs.xfs -q -f -K "$dev" >&2 || fail "mkfs.xfs $dev" ;;
    esac
    mkdir -p /mnt/w
    mount -t "$fs" "$dev" /mnt/w || fail "mount -t $fs $dev"
    vctl stats --reset >/dev/null
    id=$(vctl_fault_add "ns=$ns,op=write,action=widen:20000,name=widen")
    python3 "$here/rewrite.py" /mnt/w/file "$secs" >rewrite.out || fail "rewrite workload on $fs"
    cat rewrite.out >&2
    vctl fault del "$id" >/dev/null
    umount /mnt/w
    vctl --json stats | scn stat mutations_detected
}

dmesg_mark
# Three setups per filesystem: no PI; no PI with stable writes turned on by hand (the sysfs knob,
# before mkfs/mount, which read it); PI. Linux 6.11 and later require stable pages for a device with
# an integrity profile without showing it in queue/stable_writes, so the PI case is judged by what
# the device saw, not by that file.
s1=$(ns_sysfs 1)/queue/stable_writes
for fs in ext4 xfs; do
    for setup in plain forced pi; do
        case $setup in
        plain) ns=1; echo 0 >"$s1" ;;
        forced) ns=1; echo 1 >"$s1" ;;
        pi) ns=2 ;;
        esac
        dev=$(ns_dev "$ns")
        stable=$(cat "$(ns_sysfs "$ns")/queue/stable_writes")
        step "$fs on $dev ($setup: queue/stable_writes=$stable, integrity: $(cat "$(ns_sysfs "$ns")/integrity/format"))"
        n=$(run "$fs" "$ns")
        echo "$fs, $setup: the device saw $n write(s) whose data changed in flight"
        case $setup in
        plain)
            assert_eq "$stable" 0 "stable_writes of the namespace without PI"
            ((n > 0)) || fail "$fs without stable pages: expected the device to see pages change under writeback, saw none in $secs s"
            echo "OUTCOME: $fs, no PI (stable_writes=0): the device saw data change during writeback"
            ;;
        forced)
            assert_eq "$stable" 1 "stable_writes after turning it on"
            assert_eq "$n" 0 "writes whose data changed in flight with stable_writes=1"
            echo "OUTCOME: $fs, no PI, stable_writes set to 1: the device saw no data change during writeback"
            ;;
        pi)
            assert_eq "$n" 0 "writes whose data changed in flight on the PI namespace"
            echo "OUTCOME: $fs, PI (the kernel requires stable pages): the device saw no data change during writeback, and no guard error"
            ;;
        esac
        echo "FIGURE: $fs $setup: $n mutated write(s) in $secs s ($(cat rewrite.out))"
    done
done
echo 0 >"$s1"
dmesg_assert_clean "rewrite workloads (a PI namespace must see no guard errors)"
vctl --json mutations | scn mutations 1 >muts
head -n 5 muts | sed 's/^/detector (ns 1) lba first last status: /'
