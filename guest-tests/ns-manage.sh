#!/bin/bash
# Namespace Management on vnvme --ns-dir: nvme create-ns / attach-ns / detach-ns / delete-ns with Linux seeing each change live, I/O on a plain and a 512+8 PI Type 1 namespace, list-ns --all, list-ctrl, NGUID/EUI-64/UUID.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ ${VNVME_NS_DIR:-0} == 1 ]] || fail "run with qemu-scripts/guest-test --ns-dir (vnvme serve --ns-dir)"
dev1=$(ns_dev 1)
ctrl=${dev1%n*} # /dev/nvme0n1 -> /dev/nvme0
[[ -c $ctrl ]] || fail "no controller character device $ctrl for $dev1"
cname=${ctrl#/dev/}

# wait_node NSID present|absent: the kernel adds or removes the block device on its own (rescan
# after the command's effects and the Namespace Attribute Changed event); no manual rescan here.
wait_node() {
    local b=/dev/${cname}n$1
    for _ in $(seq 100); do
        if [[ $2 == present && -b $b ]] || [[ $2 == absent && ! -e $b ]]; then return 0; fi
        sleep 0.1
    done
    fail "$b is not $2 10 s after the change"
}
ids_of() { # LIST-COMMAND...: the NSIDs or controller IDs nvme-cli prints as "[ i]:0xN"
    "$@" | sed -n 's/^\[ *[0-9]*\]: *0x\([0-9a-f]*\).*/\1/p' | while read -r h; do echo $((16#$h)); done | xargs
}
id_field() { # DEVICE-ARGS... FIELD: a field of nvme id-ctrl / id-ns output
    local field=${*: -1}
    "${@:1:$#-1}" | sed -n "s/^$field *: *//p" | head -1
}
create() { # NSZE FLBAS DPS: the new NSID
    local out
    out=$(nvme create-ns "$ctrl" --nsze="$1" --ncap="$1" --flbas="$2" --dps="$3" --nmic=0 2>&1) || fail "create-ns: $out"
    [[ $out =~ nsid:?\ *([0-9]+) ]] || fail "create-ns printed no nsid: $out"
    echo "${BASH_REMATCH[1]}"
}
hex_only() { tr -d -- '-: ' | tr 'A-F' 'a-f' | sed 's/^0x//'; }

dmesg_mark
step "identify: OACS bit 3, capacity, controller list"
oacs=$(id_field nvme id-ctrl "$ctrl" oacs)
(((oacs & 0x8) != 0)) || fail "OACS $oacs: Namespace Management not advertised"
unvmcap0=$(id_field nvme id-ctrl "$ctrl" unvmcap | tr -d ,)
tnvmcap=$(id_field nvme id-ctrl "$ctrl" tnvmcap | tr -d ,)
((unvmcap0 > 0 && tnvmcap >= unvmcap0)) || fail "tnvmcap $tnvmcap / unvmcap $unvmcap0"
cntlid=$((16#$(id_field nvme id-ctrl "$ctrl" cntlid | sed 's/^0x//')))
assert_eq "$(ids_of nvme list-ctrl "$ctrl")" "$cntlid" "list-ctrl (CNS 13h): the one controller"
assert_eq "$(ids_of nvme list-ns "$ctrl" --all)" 1 "list-ns --all before any create"

step "create a plain 512-byte namespace (8 MiB): allocated, not attached"
a=$(create 16384 0 0)
assert_eq "$a" 2 "lowest free NSID"
assert_eq "$(ids_of nvme list-ns "$ctrl" --all)" "1 $a" "list-ns --all (CNS 10h)"
assert_eq "$(ids_of nvme list-ns "$ctrl")" 1 "list-ns (active, CNS 02h)"
assert_eq "$(ids_of nvme list-ctrl "$ctrl" --namespace-id="$a")" "" "list-ctrl -n (CNS 12h): attached nowhere"
[[ ! -e /dev/${cname}n$a ]] || fail "a namespace attached nowhere has a block device"
unvmcap1=$(id_field nvme id-ctrl "$ctrl" unvmcap | tr -d ,)
assert_eq "$unvmcap1" $((unvmcap0 - 16384 * 512)) "UNVMCAP after create"

step "attach it: the block device appears"
nvme attach-ns "$ctrl" --namespace-id="$a" --controllers="$cntlid" >/dev/null || fail "attach-ns $a"
wait_node "$a" present
assert_eq "$(ids_of nvme list-ctrl "$ctrl" --namespace-id="$a")" "$cntlid" "list-ctrl -n after attach"
devA=/dev/${cname}n$a
{ yes "ns-manage-plain" || true; } | head -c 4M >pat
dd if=pat of="$devA" bs=1M oflag=direct status=none || fail "write $devA"
drop_caches
dd if="$devA" of=back bs=1M count=4 iflag=direct status=none || fail "read $devA"
cmp -s pat back || fail "$devA did not read back what was written"

step "identifiers: id-ns, ns-descs and sysfs agree; a UUID is given"
nguid=$(id_field nvme id-ns "$ctrl" --namespace-id="$a" nguid | hex_only)
eui=$(id_field nvme id-ns "$ctrl" --namespace-id="$a" eui64 | hex_only)
sys=/sys/block/${cname}n$a
[[ -r $sys/uuid ]] || fail "$sys/uuid missing (no UUID descriptor)"
uuid=$(<"$sys/uuid")
[[ $uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "uuid $uuid is not a version 4 UUID"
assert_eq "$(hex_only <"$sys/nguid")" "$nguid" "sysfs nguid = id-ns nguid"
assert_eq "$(hex_only <"$sys/eui")" "$eui" "sysfs eui = id-ns eui64"
(((16#${eui:0:2} & 3) == 2)) || fail "EUI-64 $eui is not locally administered unicast"
nvme ns-descs "$ctrl" --namespace-id="$a" >descs.txt || fail "ns-descs"
grep -qi "uuid *: *$uuid" descs.txt || { cat descs.txt; fail "ns-descs lacks the UUID $uuid"; }
if dmesg | tail -n +$((DMESG_MARK + 1)) | grep -q "No UUID available"; then fail "kernel still falls back to the NGUID"; fi

step "create and attach 512+8 PI Type 1 (separate metadata): the kernel's PI round-trips"
b=$(create 16384 1 1)
assert_eq "$b" 3 "next NSID"
nvme attach-ns "$ctrl" --namespace-id="$b" --controllers="$cntlid" >/dev/null || fail "attach-ns $b"
wait_node "$b" present
devB=/dev/${cname}n$b
assert_eq "$(cat "/sys/block/${cname}n$b/integrity/format")" T10-DIF-TYPE1-CRC "integrity profile of the PI namespace"
assert_eq "$(id_field nvme id-ns "$ctrl" --namespace-id="$b" dps)" 0x1 "DPS"
{ yes "ns-manage-pi" || true; } | head -c 4M >patb
dd if=patb of="$devB" bs=64k oflag=direct status=none || fail "write $devB"
drop_caches
dd if="$devB" of=backb bs=64k count=64 iflag=direct status=none || fail "read $devB (PI verified by the kernel)"
cmp -s patb backb || fail "$devB did not read back what was written"
[[ $(nvme id-ns "$ctrl" --namespace-id="$b" | sed -n 's/^nguid *: *//p') != "$(nvme id-ns "$ctrl" --namespace-id="$a" | sed -n 's/^nguid *: *//p')" ]] ||
    fail "two namespaces share an NGUID"

step "detach the plain namespace: its block device goes, it stays allocated"
nvme detach-ns "$ctrl" --namespace-id="$a" --controllers="$cntlid" >/dev/null || fail "detach-ns $a"
wait_node "$a" absent
assert_eq "$(ids_of nvme list-ns "$ctrl")" "1 $b" "active after detach"
assert_eq "$(ids_of nvme list-ns "$ctrl" --all)" "1 $a $b" "allocated after detach"
assert_eq "$(ids_of nvme list-ctrl "$ctrl" --namespace-id="$a")" "" "list-ctrl -n after detach"
if nvme attach-ns "$ctrl" --namespace-id="$b" --controllers="$cntlid" >attach2.out 2>&1; then fail "attaching an attached namespace succeeded"; fi
grep -qi "attached" attach2.out || { cat attach2.out; fail "second attach: expected Namespace Already Attached"; }

step "delete both (one detached, one attached): devices go, capacity comes back"
nvme delete-ns "$ctrl" --namespace-id="$a" >/dev/null || fail "delete-ns $a"
nvme delete-ns "$ctrl" --namespace-id="$b" >/dev/null || fail "delete-ns $b"
wait_node "$b" absent
assert_eq "$(ids_of nvme list-ns "$ctrl" --all)" 1 "allocated after delete"
assert_eq "$(id_field nvme id-ctrl "$ctrl" unvmcap | tr -d ,)" "$unvmcap0" "UNVMCAP after delete"

step "an NSID reused by a new create gets new identifiers"
c=$(create 2048 0 0)
assert_eq "$c" 2 "NSID 2 again"
nvme attach-ns "$ctrl" --namespace-id="$c" --controllers="$cntlid" >/dev/null || fail "attach-ns $c"
wait_node "$c" present
[[ $(id_field nvme id-ns "$ctrl" --namespace-id="$c" nguid | hex_only) != "$nguid" ]] || fail "a re-created namespace kept the old NGUID"
nvme delete-ns "$ctrl" --namespace-id="$c" >/dev/null || fail "delete-ns $c"
wait_node "$c" absent
dd if="$dev1" of=/dev/null bs=1M count=1 iflag=direct status=none || fail "namespace 1 still works"
dmesg_assert_clean "namespace management"
echo "namespaces created, attached, used, detached and deleted; Linux followed every change"
