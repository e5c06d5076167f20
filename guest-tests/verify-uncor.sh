#!/bin/bash
# nvme verify passes on good blocks; nvme write-uncor makes reads fail with Unrecovered Read Error until the range is rewritten.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
step "write 64 blocks of data, verify them"
head -c $((64 * lbs)) /dev/urandom >data.bin
dd if=data.bin of="$dev" bs="$lbs" seek=1000 oflag=direct status=none || fail "write"
nvme verify "$dev" --start-block=1000 --block-count=63 >v.out 2>&1 || { cat v.out; fail "verify of good blocks failed"; }
if (($(ns_get 1 pi) != 0)); then
    step "nvme verify with a guard check fails on a block whose stored guard is corrupt"
    ms=$(ns_get 1 ms)
    ((ms == 8)) || fail "the corrupt-guard step expects 8-byte metadata (got ms=$ms)"
    head -c "$lbs" /dev/urandom >bad.bin
    printf '\xde\xad\x00\x00\x00\x00\x0f\xa0' >badmeta.bin   # guard DEAD, app 0, ref 4000
    nvme write "$dev" --start-block=4000 --block-count=0 --data-size="$lbs" --data=bad.bin \
        --metadata-size=8 --metadata=badmeta.bin --prinfo=0 >w.out 2>&1 || { cat w.out; fail "write of the corrupt block"; }
    nvme verify "$dev" --start-block=3999 --block-count=2 --prinfo=0 >v0.out 2>&1 || { cat v0.out; fail "verify without checks"; }
    if nvme verify "$dev" --start-block=3999 --block-count=2 --prinfo=4 >vg.out 2>&1; then
        fail "verify with the guard check passed over a corrupt guard"
    fi
    cat vg.out
    grep -q "0x282\|Guard Check" vg.out || fail "expected End-to-end Guard Check Error, got: $(cat vg.out)"
fi
step "mark blocks 1010-1012 uncorrectable"
nvme write-uncor "$dev" --start-block=1010 --block-count=2 >u.out 2>&1 || { cat u.out; fail "write-uncor"; }
if nvme read "$dev" --start-block=1010 --block-count=0 --data-size="$lbs" --data=r.bin >r.out 2>&1; then
    fail "read of an uncorrectable block succeeded"
fi
cat r.out
grep -qi "unrecovered read" r.out || fail "expected Unrecovered Read Error, got: $(cat r.out)"
if nvme verify "$dev" --start-block=1000 --block-count=63 >v2.out 2>&1; then
    fail "verify over an uncorrectable block succeeded"
fi
grep -qi "unrecovered read" v2.out || fail "verify: expected Unrecovered Read Error, got: $(cat v2.out)"
dmesg_mark
if dd if="$dev" of=/dev/null bs="$lbs" skip=1011 count=1 iflag=direct status=none 2>dd.err; then
    fail "block-layer read of an uncorrectable block succeeded"
fi
echo "dd: $(cat dd.err)"
dmesg | tail -n +$((DMESG_MARK + 1)) | grep -i "critical medium error\|I/O error" | head -3 || true
step "blocks outside the range still read"
dd if="$dev" of=ok.bin bs="$lbs" skip=1000 count=10 iflag=direct status=none || fail "read before the marked range"
cmp -n $((10 * lbs)) data.bin ok.bin || fail "data before the marked range changed"
step "rewrite heals"
dd if=data.bin of="$dev" bs="$lbs" seek=1000 count=64 oflag=direct status=none || fail "rewrite"
dd if="$dev" of=back.bin bs="$lbs" skip=1000 count=64 iflag=direct status=none || fail "read after rewrite"
cmp data.bin back.bin || fail "data after rewrite"
nvme verify "$dev" --start-block=1000 --block-count=63 >v3.out 2>&1 || { cat v3.out; fail "verify after rewrite"; }
echo "verify and write-uncor ok"
