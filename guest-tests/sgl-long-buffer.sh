#!/bin/bash
# nvme-cli with a user buffer larger than the transfer (the kernel maps all of it into the SGL): the command moves exactly its own blocks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
ms=$(ns_get 1 ms)
((ms == 0)) || fail "run on a namespace without metadata (ns1 has ms=$ms)"
buf=$((lbs * 8))
sgls=$(nvme id-ctrl /dev/nvme0 | awk '/^sgls/ { print $3 }')
(((sgls & (1 << 18)) != 0)) || fail "SGLS $sgls: bit 18 (SGL longer than the transfer) not advertised"

step "neighbours of LBA 300 get a known pattern, then one block is written from a $buf-byte buffer"
{ yes neighbour || true; } | head -c $((lbs * 3)) >around
dd if=around of="$dev" bs="$lbs" seek=299 oflag=direct status=none
{ yes one-block-from-a-long-buffer || true; } | head -c "$buf" >long
nvme write "$dev" --start-block=300 --block-count=0 --data-size="$buf" --data=long >write.out 2>&1 ||
    { cat write.out; fail "nvme write with a $buf-byte buffer for one $lbs-byte block"; }

step "read back: the block holds the buffer's first $lbs bytes, its neighbours are untouched"
nvme read "$dev" --start-block=300 --block-count=0 --data-size="$buf" --data=back >read.out 2>&1 ||
    { cat read.out; fail "nvme read with a $buf-byte buffer for one $lbs-byte block"; }
cmp -n "$lbs" long back || fail "LBA 300 does not hold the first $lbs bytes of the buffer"
dd if="$dev" of=around.back bs="$lbs" skip=299 count=3 iflag=direct status=none
cmp -n "$lbs" around around.back || fail "LBA 299 changed"
cmp -i "$((2 * lbs)):$((2 * lbs))" -n "$lbs" around around.back || fail "LBA 301 changed"
cmp -i 0:"$lbs" -n "$lbs" long around.back || fail "LBA 300 read through the block layer differs"
echo "SGLS $sgls; one $lbs-byte block moved from and to a $buf-byte buffer; neighbours intact"
