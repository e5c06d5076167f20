#!/bin/bash
# Several namespaces at once: each gets its own pattern, each reads back only its own, identifiers differ.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

((VNVME_NS_COUNT >= 2)) || fail "run with at least two --ns"
declare -A ids
for ((i = 1; i <= VNVME_NS_COUNT; i++)); do
    dev=$(ns_dev "$i")
    { yes "namespace-$i-pattern" || true; } | head -c 8M >pat$i
    dd if=pat$i of="$dev" bs=1M oflag=direct status=none || fail "write ns $i"
    id=$(nvme id-ns "$dev" | awk '/^nguid/ { print $3 }')
    [[ -z ${ids[$id]:-} ]] || fail "ns $i has the same NGUID as ns ${ids[$id]}"
    ids[$id]=$i
done
drop_caches
for ((i = 1; i <= VNVME_NS_COUNT; i++)); do
    dev=$(ns_dev "$i")
    dd if="$dev" of=back$i bs=1M count=8 iflag=direct status=none || fail "read ns $i"
    cmp -s pat$i back$i || fail "ns $i did not read back its own pattern"
done
echo "$VNVME_NS_COUNT namespaces hold their own data"
