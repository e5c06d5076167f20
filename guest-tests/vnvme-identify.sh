#!/bin/bash
# nvme id-ctrl / id-ns / nvm-id-ns show exactly the values vnvme reports (identity, version, limits, formats).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ $VNVME_DEVICE == vnvme ]] || fail "this test checks vnvme's Identify data; run it with --device vnvme"
ctrl=/dev/nvme0
nvme id-ctrl "$ctrl" >id-ctrl.txt
# field KEY FILE: the value of "KEY : value" (values may contain ':').
field() { sed -n "s/^$1[[:space:]]*:[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*\$/\1/p" "$2" | head -n1; }
step "controller identity"
assert_eq "$(field vid id-ctrl.txt)" 0x4e58 "VID"
assert_eq "$(field mn id-ctrl.txt)" "vnvme PI controller" "model"
assert_eq "$(field sn id-ctrl.txt)" "VNVME0001" "serial"
assert_eq "$(field ver id-ctrl.txt)" 0x20100 "NVMe version (2.1)"
assert_eq "$(field mdts id-ctrl.txt)" 7 "MDTS"
assert_eq "$(field ctratt id-ctrl.txt)" 0x8000 "CTRATT (extended LBA formats)"
assert_eq "$(field oacs id-ctrl.txt)" 0x102 "OACS (Format NVM, Doorbell Buffer Config)"
assert_eq "$(field oncs id-ctrl.txt)" 0x1df "ONCS (Compare, Write Uncorrectable, DSM, Write Zeroes, Save/Select, Timestamp, Verify, Copy)"
assert_eq "$(field vwc id-ctrl.txt)" 0x7 "VWC"
assert_eq "$(field sgls id-ctrl.txt)" 0xd0001 "SGLS (byte-granular SGLs, Bit Bucket, SGL longer than the transfer, MPTR SGL)"
assert_eq "$(field nn id-ctrl.txt)" "$VNVME_NS_COUNT" "number of namespaces"
assert_eq "$(field subnqn id-ctrl.txt)" "nqn.2026-11.io.vnvme:ctrl:VNVME0001" "SUBNQN"
assert_eq "$(cat /sys/class/nvme/nvme0/model | sed 's/ *$//')" "vnvme PI controller" "sysfs model"

step "namespaces"
for ((i = 1; i <= VNVME_NS_COUNT; i++)); do
    dev=$(ns_dev "$i")
    nvme id-ns "$dev" >id-ns$i.txt
    lbs=$(ns_get "$i" lbs) ms=$(ns_get "$i" ms) mset=$(ns_get "$i" mset) pi=$(ns_get "$i" pi) pil=$(ns_get "$i" pil)
    bytes_var=VNVME_NS${i}_BYTES
    nlb=$((${!bytes_var} / (lbs + ms)))
    assert_eq "$(field nsze id-ns$i.txt)" "$(printf '%#x' "$nlb")" "ns $i NSZE = image size / (lbs+ms)"
    assert_eq "$(field nlbaf id-ns$i.txt)" 7 "ns $i NLBAF (QEMU's eight formats)"
    assert_eq "$(field mc id-ns$i.txt)" 0x3 "ns $i MC"
    assert_eq "$(field dps id-ns$i.txt)" "$(printf '%#x' $((pi | pil << 3)))" "ns $i DPS"
    flbas=$(field flbas id-ns$i.txt)
    ((((flbas >> 4) & 1) == mset)) || fail "ns $i FLBAS $flbas: extended bit is not mset=$mset"
    in_use=$(grep 'in use' id-ns$i.txt || true)
    lbads=$((lbs == 4096 ? 12 : 9))
    [[ $in_use =~ ms:$ms[[:space:]]+lbads:$lbads[[:space:]] ]] || fail "ns $i format in use '$in_use' is not ms:$ms lbads:$lbads"
    [[ "$(cat "$(ns_sysfs "$i")/queue/logical_block_size")" == "$lbs" ]] || fail "ns $i logical block size"
done
step "log pages"
nvme smart-log "$ctrl" >smart.txt || fail "SMART log"
grep -q "temperature" smart.txt || fail "SMART log has no temperature"
nvme error-log "$ctrl" -e 4 >/dev/null || fail "error log"
nvme fw-log "$ctrl" >/dev/null || fail "firmware slot log"
nvme effects-log "$ctrl" -c 0 >effects.txt || fail "commands supported and effects log"
grep -q "Format NVM" effects.txt || fail "effects log lacks Format NVM"
grep -q "Write Zeroes" effects.txt || fail "effects log lacks Write Zeroes"
echo "identify ok"
