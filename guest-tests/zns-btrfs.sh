#!/bin/bash
# btrfs on a zoned namespace (mkfs.btrfs -O zoned): files written, caches dropped, read back (sha256),
# scrub clean, then a balance, whose relocation rewrites block groups into fresh zones and resets the old
# ones; the files read back again after a remount. On a PI namespace the kernel checks every block's PI.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ ${VNVME_NS1_ZONED:-0} == 1 ]] || fail "run with namespace 1 zoned (--ns ...,zoned=true)"
dev=$(ns_dev 1)
blkzone reset "$dev"
dmesg_mark
step "mkfs.btrfs -O zoned"
mkfs.btrfs -q -f -O zoned -d single -m single "$dev" >mkfs.log 2>&1 || { cat mkfs.log; fail "mkfs.btrfs -O zoned"; }
mkdir -p /mnt/z
mount "$dev" /mnt/z || fail "mount"
step "write, drop caches, read back"
for i in 1 2 3 4 5 6; do head -c $((3 << 20)) /dev/urandom >/mnt/z/f$i; done
sync
(cd /mnt/z && sha256sum f*) >sums
echo 3 >/proc/sys/vm/drop_caches
(cd /mnt/z && sha256sum -c --quiet "$OLDPWD/sums") || fail "read back"
step "remove half, scrub, balance"
rm /mnt/z/f1 /mnt/z/f3 /mnt/z/f5
sed -i '/f[135]$/d' sums
sync
btrfs scrub start -B /mnt/z >scrub.log 2>&1 || { cat scrub.log; fail "scrub"; }
grep -q "no errors found\|Error summary: *no errors" scrub.log || { cat scrub.log; fail "scrub found errors"; }
btrfs balance start --full-balance /mnt/z >balance.log 2>&1 || { cat balance.log; fail "balance"; }
umount /mnt/z
mount "$dev" /mnt/z || fail "remount"
echo 3 >/proc/sys/vm/drop_caches
(cd /mnt/z && sha256sum -c --quiet "$OLDPWD/sums") || fail "read back after balance"
umount /mnt/z
dmesg_assert_clean "btrfs zoned"
echo "btrfs zoned ok: $(grep -c . sums) files after balance, $(blkzone report "$dev" | grep -vc '(em)') zones in use"
