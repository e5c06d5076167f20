#!/bin/bash
# Zones a failing drive takes away (ZNS 2.1.1.3), injected by fault rules given at start (the group
# passes them): the first write into zone 5 finds it made Read Only, the first read of zone 6 finds it
# Offline. Both commands fail, the zone report shows the new states, reads of the read-only zone still
# work, and nvme-cli's changed-zone-list (log BFh) names both zones. Run with namespace 1 zoned,
# 4096-byte blocks and 4 MiB zones (1024 blocks).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ ${VNVME_NS1_ZONED:-0} == 1 ]] || fail "run with namespace 1 zoned (--ns ...,zoned=true)"
dev=$(ns_dev 1)
zone=$((4 << 20))
assert_eq "$(($(cat "$(ns_sysfs 1)/queue/chunk_sectors") * 512))" "$zone" "zone size"
cond_of() { zone_cond "$dev" "$1"; }

step "the first write into zone 5 meets a zone made read-only"
head -c 65536 /dev/urandom >data
if dd if=data of="$dev" bs=64K seek=$((5 * zone / 65536)) count=1 oflag=direct status=none 2>/dev/null; then
    fail "the write into the failed zone succeeded"
fi
assert_eq "$(cond_of 5)" ro "zone 5"
dd if="$dev" of=/dev/null bs=64K skip=$((5 * zone / 65536)) count=1 iflag=direct status=none || fail "reading a read-only zone"
if dd if=data of="$dev" bs=64K seek=$((5 * zone / 65536)) count=1 oflag=direct status=none 2>/dev/null; then
    fail "a second write into the read-only zone succeeded"
fi

step "the first read of zone 6 meets a zone gone offline"
if dd if="$dev" of=/dev/null bs=64K skip=$((6 * zone / 65536)) count=1 iflag=direct status=none 2>/dev/null; then
    fail "the read of the offline zone succeeded"
fi
assert_eq "$(cond_of 6)" of "zone 6 (blkzone: of, offline)"
if blkzone reset -o $((6 * zone / 512)) -c 1 "$dev" 2>/dev/null; then
    fail "an offline zone was reset"
fi

step "the Changed Zone List names both zones"
nvme zns changed-zone-list "$dev" >czl.txt 2>&1 || { cat czl.txt; fail "changed-zone-list"; }
cat czl.txt
assert_eq "$(sed -n 's/^nrzid: *//p' czl.txt)" 2 "zones on the list"
lbas=$(sed -n 's/^zid [0-9]*: *\([0-9a-fx]*\).*/\1/p' czl.txt | tr '\n' ' ')
for z in 5 6; do
    want=$((z * zone / 4096))
    found=0
    for v in $lbas; do ((v == want)) && found=1; done
    ((found)) || fail "zone $z (LBA $want) is not on the changed zone list: $(tr '\n' ' ' <czl.txt)"
done
echo "zone faults ok: zone 5 read-only, zone 6 offline, both on the changed zone list"
