#!/bin/bash
# scenario: A zone goes offline in the middle of a btrfs balance on a zoned namespace: what btrfs does with the relocation's failed read, which files it loses, and that nothing reads back wrong
# vm: --ns lbs=4096,zoned=true,zoned.zone_size=16M,size=1G
# timeout: 600
#
# Real ZNS drives take worn zones offline (ZNS 2.1.1.3: Offline, the data in it is gone). Here btrfs
# -O zoned (single data and metadata) holds ten 2 MiB files, each written and synced in turn so the
# layout is the same on every run: with 16 MiB zones, eight files fill the first data zone and the
# last two lie in the next. A fault rule added just before `btrfs balance --full-balance`
# (docs/faults.md: op=read, the zone holding the last file's last block, when=once,
# action=zone-offline) takes that zone offline when the balance's relocation first reads it. The scenario then asserts:
#   - the zone is Offline in blkzone report;
#   - the balance does not report success;
#   - while mounted, every file whose blocks lie outside the zone reads back its exact bytes, and a
#     file with blocks in the zone fails with EIO (never wrong data);
#   - after an unmount, whether btrfs mounts again, and if it does, the same reads as above; if it
#     does not, whether a read-only rescue mount (-o ro,rescue=all) does, and the same reads there.
# What btrfs did (balance's error, whether the file system went read-only, whether it mounts) is in
# the OUTCOME line, so ten runs on one kernel must agree on it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ ${VNVME_NS1_ZONED:-0} == 1 ]] || fail "namespace 1 must be zoned (--ns ...,zoned=true)"
dev=$(ns_dev 1) sys=$(ns_sysfs 1)
zsect=$(cat "$sys/queue/chunk_sectors")
lbs=$(ns_get 1 lbs)
cond_of() { zone_cond "$dev" "$1"; }
blkzone reset "$dev"
dmesg_mark

step "mkfs.btrfs -O zoned, ten 2 MiB files, each synced"
mkfs.btrfs -q -f -O zoned -d single -m single "$dev" >mkfs.log 2>&1 || { cat mkfs.log; fail "mkfs.btrfs -O zoned"; }
mkdir -p /mnt/z
mount "$dev" /mnt/z || fail "mount"
files=(f1 f2 f3 f4 f5 f6 f7 f8 f9 f10)
for f in "${files[@]}"; do
    head -c $((2 << 20)) /dev/urandom >"$f.want"
    cp "$f.want" /mnt/z/"$f"
    sync
done

# The zones each file's blocks lie in: its extents (filefrag) through btrfs' chunk map.
btrfs inspect-internal dump-tree -t chunk "$dev" >chunks.txt 2>&1 || { cat chunks.txt; fail "dump the chunk tree"; }
declare -A fzones
while read -r f zs; do fzones[$f]=$zs; done < <(python3 "$(dirname "$0")/btrfs_zones.py" chunks.txt "$zsect" "${files[@]/#//mnt/z/}" || fail "map the files to zones")
((${#fzones[@]} == ${#files[@]})) || fail "mapped ${#fzones[@]} of ${#files[@]} files to zones"
target=${fzones[f10]##*,}
lost=() kept=()
for f in "${files[@]}"; do
    if [[ ,${fzones[$f]}, == *",$target,"* ]]; then lost+=("$f"); else kept+=("$f"); fi
done
echo "zones: $(for f in "${files[@]}"; do printf '%s:%s ' "$f" "${fzones[$f]}"; done); offline target: zone $target"
[[ $(cond_of "$target") != of ]] || fail "zone $target is offline before the fault"

# check_files: every kept file reads back exactly; every lost one fails (EIO), never with other bytes.
check_files() {
    local f
    echo 3 >/proc/sys/vm/drop_caches
    for f in "${kept[@]}"; do
        cmp -s "$f.want" /mnt/z/"$f" || fail "$1: $f (outside zone $target) does not read back what was written"
    done
    for f in "${lost[@]}"; do
        if cat /mnt/z/"$f" >"$f.got" 2>"$f.err"; then
            cmp -s "$f.want" "$f.got" && fail "$1: $f (in offline zone $target) read back whole: the zone's data should be gone"
            fail "$1: $f (in offline zone $target) read back different bytes without an error"
        fi
        grep -q "Input/output error" "$f.err" || fail "$1: reading $f failed, but not with EIO: $(cat "$f.err")"
    done
}

step "zone $target goes offline at the balance's first read of it"
lba0=$((target * zsect * 512 / lbs)) lba1=$(((target + 1) * zsect * 512 / lbs - 1))
vctl fault add "ns=1,op=read,lba=$lba0-$lba1,when=once,action=zone-offline,name=offline" >/dev/null || fail "add the fault rule"
brc=0
btrfs balance start --full-balance /mnt/z >balance.log 2>&1 || brc=$?
cat balance.log
((brc != 0)) || fail "btrfs balance reported success though zone $target went offline under it"
balance_err=$(grep -o 'Input/output error\|Read-only file system\|No space left on device' balance.log | head -n1)
[[ -n $balance_err ]] || balance_err="exit status $brc"
fires=$(vctl --json fault list | scn fires name=offline)
assert_eq "$fires" 1 "times the offline rule fired"
assert_eq "$(cond_of "$target")" of "zone $target after the fault"

ro=no
grep -qw ro <(awk '$2 == "/mnt/z" { print $4 }' /proc/mounts | tr , '\n') && ro=yes
step "while mounted (read-only: $ro): ${kept[*]} intact, ${lost[*]} lost with EIO"
check_files "mounted"

step "unmount and mount again"
umount /mnt/z || fail "umount"
remount=yes
dmesg_mark
mount "$dev" /mnt/z 2>mount.err || remount=no
if [[ $remount == yes ]]; then
    check_files "after the remount"
    umount /mnt/z
else
    # Why btrfs refused, from its own log, with the zone numbers it names (the same on every run).
    why=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -o 'BTRFS error[^:]*: .*' |
        sed 's/^[^:]*: //' | grep -vi 'errs: wr' | sort -u | paste -sd';' || true)
    echo "mount refused: $(head -n1 mount.err); btrfs: ${why:-nothing logged}"
    remount="no (${why:-no btrfs error logged})"
    # What a user would try next to get the intact files back: a read-only rescue mount.
    rescue=yes
    mount -o ro,rescue=all "$dev" /mnt/z 2>rescue.err || rescue=no
    if [[ $rescue == yes ]]; then
        check_files "after a rescue mount"
        umount /mnt/z
        rescue="yes, with ${kept[*]} intact and ${lost[*]} failing with EIO"
    fi
    remount+="; mount -o ro,rescue=all: $rescue"
fi
echo "OUTCOME: zone $target (holding the end of f10) went offline at the balance's first read of it; the balance failed ($balance_err); btrfs read-only after it: $ro; files outside the zone (${kept[*]}) read back intact and files in it (${lost[*]}) failed with EIO, none with wrong data; mounts again: $remount"
