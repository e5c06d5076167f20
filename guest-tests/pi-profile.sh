#!/bin/bash
# Every namespace shows the format, capacity and integrity profile its --ns spec asks for.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for ((n = 1; n <= VNVME_NS_COUNT; n++)); do
    dev=$(ns_dev "$n")
    sys=$(ns_sysfs "$n")
    lbs=$(ns_get "$n" lbs) ms=$(ns_get "$n" ms) mset=$(ns_get "$n" mset)
    pi=$(ns_get "$n" pi) pil=$(ns_get "$n" pil) pif=$(ns_get "$n" pif)
    bytes_var=VNVME_NS${n}_BYTES
    step "nsid $n ($dev): lbs=$lbs ms=$ms mset=$mset pi=$pi pil=$pil pif=$pif, image ${!bytes_var} bytes"

    assert_eq "$(cat "$sys/queue/logical_block_size")" "$lbs" "nsid $n logical block size"
    # Capacity follows QEMU's nvme-ns layout: the image holds data and metadata, nsze = bytes/(lbs+ms).
    nsze=$((${!bytes_var} / (lbs + ms)))
    assert_eq "$(cat "$sys/size")" "$((nsze * lbs / 512))" "nsid $n capacity in 512-byte sectors"

    idns=$(nvme id-ns "$dev")
    flbas=$(awk '$1 == "flbas" { print $3 }' <<<"$idns")
    dps=$(awk '$1 == "dps" { print $3 }' <<<"$idns")
    [[ -n $flbas && -n $dps ]] || fail "nvme id-ns $dev: no flbas/dps in output"
    inuse=$(grep -E '^lbaf +[0-9]+ *:.*in use' <<<"$idns") || fail "nvme id-ns $dev: no LBA format in use"
    echo "flbas $flbas dps $dps, $inuse"
    [[ $inuse =~ ms:([0-9]+)[[:space:]]+lbads:([0-9]+) ]] || fail "cannot parse '$inuse'"
    assert_eq "${BASH_REMATCH[1]}" "$ms" "nsid $n metadata size of the LBA format in use"
    assert_eq "$((1 << BASH_REMATCH[2]))" "$lbs" "nsid $n data size of the LBA format in use"
    if ((ms > 0)); then
        assert_eq "$(((flbas >> 4) & 1))" "$mset" "nsid $n FLBAS bit 4 (metadata at end of LBA, extended)"
    fi
    assert_eq "$((dps & 7))" "$pi" "nsid $n DPS PI type"
    if ((pi > 0)); then
        assert_eq "$(((dps >> 3) & 1))" "$pil" "nsid $n DPS bit 3 (PI first in metadata)"
        lbaf_idx=$(sed -E 's/^lbaf +([0-9]+).*/\1/' <<<"$inuse")
        elbaf=$(nvme nvm-id-ns "$dev" | grep -E "^elbaf +$lbaf_idx *:") || fail "nvme nvm-id-ns $dev: no elbaf $lbaf_idx"
        [[ $elbaf =~ [[:space:]]pif:([0-9]+) ]] || fail "cannot parse '$elbaf'"
        assert_eq "${BASH_REMATCH[1]}" "$pif" "nsid $n guard format (PIF) of the LBA format in use"
    fi

    want=$(expected_integrity_format "$n")
    got=$(cat "$sys/integrity/format")
    assert_eq "$got" "$want" "nsid $n integrity profile (/sys/block/${dev#/dev/}/integrity/format)"
    if [[ $want == none || $want == nop ]]; then
        assert_eq "$(cat "$sys/integrity/device_is_integrity_capable")" 0 "nsid $n device_is_integrity_capable"
    else
        assert_eq "$(cat "$sys/integrity/device_is_integrity_capable")" 1 "nsid $n device_is_integrity_capable"
        assert_eq "$(cat "$sys/integrity/read_verify")" 1 "nsid $n integrity read_verify"
        assert_eq "$(cat "$sys/integrity/write_generate")" 1 "nsid $n integrity write_generate"
    fi
    echo "nsid $n ok: $got"
done
