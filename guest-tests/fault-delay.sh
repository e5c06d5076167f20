#!/bin/bash
# A delay rule (300 ms on reads of LBA 7000) shows in the read's time in the guest; the trace on the host shows it in the latency.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Server side (group options): --fault 'ns=1,op=read,lba=7000,action=delay:300000' --trace-stderr
dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
t0=$(date +%s%N)
dd if="$dev" of=/dev/null bs="$lbs" skip=7000 count=1 iflag=direct status=none || fail "read of LBA 7000"
ms=$((($(date +%s%N) - t0) / 1000000))
t0=$(date +%s%N)
dd if="$dev" of=/dev/null bs="$lbs" skip=7001 count=1 iflag=direct status=none || fail "read of LBA 7001"
ms2=$((($(date +%s%N) - t0) / 1000000))
echo "read of LBA 7000 took $ms ms, of LBA 7001 $ms2 ms"
((ms >= 300)) || fail "the delayed read took only $ms ms"
((ms2 < 300)) || fail "an undelayed read took $ms2 ms"
