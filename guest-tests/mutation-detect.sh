#!/bin/bash
# The device's buffer-mutation detector catches an O_DIRECT write whose buffer changes in flight (window widened by a fault rule) and stays silent for 10 writes that leave their buffer alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Server side (group options): --detect-mutation and a widen rule on LBAs 10000-30000 of
# namespace 1; --expect-server / --reject-server check its reports by LBA.
dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs)
((lbs == 512)) || fail "this test expects 512-byte blocks (reports are checked by LBA)"
[[ $(ns_get 1 pi) == 0 ]] || fail "use a namespace without PI (with PI the kernel's guard would make the device reject the write)"
py=$(dirname "$0")/dio_race.py
step "10 O_DIRECT writes at LBA 10000 that leave their buffer alone"
for i in $(seq 10); do
    python3 "$py" "$dev" $((10000 * 512)) 2 none >clean.out
    grep -q '^write ok 8192 ' clean.out || fail "clean write $i: $(cat clean.out)"
done
step "one O_DIRECT write at LBA 20000 whose buffer changes once it is in flight, inside a 200 ms window"
python3 "$py" "$dev" $((20000 * 512)) 2 "${dev#/dev/}" >race.out
cat race.out
grep -q '^write ok 8192 .*after the write was in flight' race.out || fail "mutated write: $(cat race.out)"
dd if="$dev" of=back.bin bs=512 skip=20008 count=1 iflag=direct status=none || fail "read back"
got=$(od -An -tx1 -j100 -N20 back.bin | tr -d ' \n')
assert_eq "$got" "$(printf 'a5%.0s' $(seq 20))" "bytes 100-119 of LBA 20008 as the device stored them (the changed ones)"
echo "the device stored the bytes as changed in flight; its report is checked on the host"
