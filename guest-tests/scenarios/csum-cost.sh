#!/bin/bash
# scenario: Checksum cost on this CPU: btrfs's four data checksums and the three PI guards per 4 KiB, in the cycles of the btrfs checksum documentation's table, printed next to it
# where: host
#
# Runs on the host, no VM: `vnvme bench csum` (best of 5, warm cache). Passes when every algorithm
# was measured (a positive figure each) and the table is complete; the figures themselves vary with
# the CPU and its load and are printed as FIGURE lines, never judged.
set -euo pipefail
bin=${VNVME_BIN:-vnvme}
"$bin" bench csum >csum.out
cat csum.out
rows=("CRC32C" "XXH64" "SHA-256" "BLAKE2b-256" "CRC-16/T10-DIF (PI 16b guard)" "CRC-32C (PI 32b guard)" "CRC-64/NVME (PI 64b guard)")
for r in "${rows[@]}"; do
    line=$(grep -F -- "$r " csum.out | head -n1)
    [[ -n $line ]] || { echo "ASSERTION FAILED: no row for $r"; exit 1; }
    read -r ns cyc _ <<<"${line:${#r}}"
    [[ $ns =~ ^[0-9.]+$ && $cyc =~ ^[0-9]+$ ]] && ((cyc > 0)) || { echo "ASSERTION FAILED: row '$line' has no figures"; exit 1; }
    echo "FIGURE: $(printf '%-30s %6s cycles/4KiB' "$r" "$cyc")$(awk '{ if ($(NF-1) != "-") printf "  (btrfs table %s, x%s)", $(NF-1), $NF }' <<<"$line")"
done
echo "OUTCOME: measured btrfs's four checksums (CRC32C, XXH64, SHA-256, BLAKE2b-256) and the PI guards (CRC-16/T10-DIF, CRC-32C, CRC-64/NVME) per 4 KiB on this CPU, next to the btrfs documentation's figures"
