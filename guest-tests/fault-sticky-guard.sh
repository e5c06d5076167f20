#!/bin/bash
# A sticky guard corruption rule on LBAs 2048-2055 (fired by the first read of them): the guest's read of exactly those blocks fails with a protection error, other blocks read fine, a rewrite heals them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Server side (group options): --fault 'ns=1,op=read,lba=2048-2055,when=once,action=guard' on a
# 512+8 Type 1 namespace with separate metadata (the block layer checks PI on reads).
dev=$(ns_dev 1)
head -c $((32 * 512)) /dev/urandom >data.bin
dd if=data.bin of="$dev" bs=512 seek=2040 oflag=direct status=none || fail "write LBAs 2040-2071"
drop_caches
dmesg_mark
step "read 2040-2071 in one command: the rule fires and corrupts the stored guards of 2048-2055"
if dd if="$dev" of=r.bin bs=16k count=1 skip=$((2040 * 512)) iflag=direct,skip_bytes status=none 2>dd.err; then
    fail "the first read over the corrupted range succeeded"
fi
cat dd.err
step "block by block: exactly 2048-2055 fail"
bad=()
for lba in $(seq 2040 2071); do
    if ! dd if="$dev" of=/dev/null bs=512 skip="$lba" count=1 iflag=direct status=none 2>/dev/null; then
        bad+=("$lba")
    fi
done
assert_eq "${bad[*]}" "$(seq -s ' ' 2048 2055)" "LBAs whose reads fail"
dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E -m3 "guard tag error|protection error|I/O Error" || fail "no protection error in the kernel log"
step "rewrite 2048-2055: healed"
dd if=data.bin of="$dev" bs=512 seek=2048 skip=8 count=8 oflag=direct status=none || fail "rewrite"
dd if="$dev" of=all.bin bs=512 skip=2040 count=32 iflag=direct status=none || fail "read after rewrite"
cmp data.bin all.bin || fail "data after rewrite"
echo "sticky corruption hit exactly LBAs 2048-2055 and a rewrite healed them"
