#!/bin/bash
# A sticky guard rule with when=always on LBAs 300-307 survives the kernel's retries: every read of those blocks fails, each time, before and after a rewrite.
# (Last in its group: its failed reads and the kernel's retries fill the rate-limited kernel log that the other fault tests read.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Server side (group options): --fault 'ns=1,op=read,lba=300-307,action=guard' (when=always, the
# default) on a 512+8 Type 1 namespace with separate metadata. Before the fix each firing flipped the
# stored guard back and forth, so the kernel's retry of a failed read (no DNR) read clean.
dev=$(ns_dev 1)
head -c $((16 * 512)) /dev/urandom >data.bin
dd if=data.bin of="$dev" bs=512 seek=296 oflag=direct status=none || fail "write LBAs 296-311"
for round in 1 2 3; do
    drop_caches
    step "read $round of LBA 300 fails (the kernel retries it; the corruption must hold)"
    if dd if="$dev" of=/dev/null bs=512 skip=300 count=1 iflag=direct status=none 2>dd.err; then
        fail "read $round of LBA 300 succeeded: the corruption healed itself"
    fi
done
step "LBAs 296-299 and 308-311 read fine"
dd if="$dev" of=lo.bin bs=512 skip=296 count=4 iflag=direct status=none || fail "read 296-299"
dd if="$dev" of=hi.bin bs=512 skip=308 count=4 iflag=direct status=none || fail "read 308-311"
cmp -n 2048 data.bin lo.bin || fail "data of 296-299"
cmp -i 6144:0 -n 2048 data.bin hi.bin || fail "data of 308-311"
step "a rewrite of 300-307 is corrupted again by the next read (when=always)"
dd if=data.bin of="$dev" bs=512 seek=300 skip=4 count=8 oflag=direct status=none || fail "rewrite"
if dd if="$dev" of=/dev/null bs=512 skip=303 count=1 iflag=direct status=none 2>/dev/null; then
    fail "read of LBA 303 after the rewrite succeeded although the rule fires on every read"
fi
echo "when=always kept LBAs 300-307 corrupted across retries and a rewrite; neighbours intact"
