# shellcheck shell=bash
# The garbage-collection steps copy-gc and copy-gc-zoned share (sourced after lib.sh): the live plan,
# the device's byte counters, the host's read+write GC, and the closing checks and figures.

gc() { python3 "$(dirname "${BASH_SOURCE[0]}")/gc.py" "$@"; }

# gc_plan DATA ZONES ZB LBS: the seeded plan of live extents (file "plan") of ZONES zones of ZB blocks,
# and the live data in plan order (file "expect.bin") from DATA; sets extents and live (blocks).
gc_plan() {
    gc plan 7 "$2" "$3" >plan
    extents=$(wc -l <plan)
    live=$(awk '{ s += $2 } END { print s }' plan)
    echo "plan: $extents live extents, $live of $(($2 * $3)) blocks live"
    gc expect "$1" "$4" plan >expect.bin
}

# gc_bytes: namespace 1's counters: DMA to the host, DMA to the device, Copy read, Copy written (bytes).
gc_bytes() {
    vctl --json stats | python3 -c 'import json,sys
b = json.load(sys.stdin)["bytes"][0]
print(b["dma_to_host_bytes"], b["dma_to_device_bytes"], b["copy_read_bytes"], b["copy_written_bytes"])'
}

# gc_by_host DEV LBS DEST: the GC done by the host (O_DIRECT read + write of each extent of "plan" to
# DEST on), counted from zero; sets rw_host and rw_dev.
gc_by_host() {
    vctl stats --reset >/dev/null
    gc readwrite "$1" "$2" plan "$3" >/dev/null || fail "read+write GC"
    read -r rw_host rw_dev _ _ <<<"$(gc_bytes)"
    echo "read+write: $rw_host B to the host, $rw_dev B to the device"
}

# gc_check_destinations DEV LBS DEST_A DEST_B: after dropping caches, the live data read back through
# the block layer (PI verified) from the host GC's destination DEST_A and the copy GC's DEST_B equals
# expect.bin, and nvme verify with guard and reference checks passes on DEST_B.
gc_check_destinations() {
    local dev=$1 lbs=$2 a=$3 b=$4 o n
    echo 3 >/proc/sys/vm/drop_caches
    dd if="$dev" of=a.bin bs="$lbs" skip="$a" count="$live" iflag=direct status=none || fail "read the read+write GC's destination (LBA $a on; PI verified by the block layer)"
    dd if="$dev" of=b.bin bs="$lbs" skip="$b" count="$live" iflag=direct status=none || fail "read the copy GC's destination (LBA $b on; PI verified by the block layer)"
    cmp expect.bin a.bin || fail "the read+write GC's destination (LBA $a on) differs from the live data"
    cmp expect.bin b.bin || fail "the copy GC's destination (LBA $b on) differs from the live data"
    for ((o = 0; o < live; o += 256)); do
        n=$((live - o < 256 ? live - o : 256))
        nvme verify "$dev" --start-block=$((b + o)) --block-count=$((n - 1)) --prinfo=5 --ref-tag=$((b + o)) >verify.out 2>&1 ||
            { cat verify.out; fail "nvme verify (guard+ref) of the copy GC's destination at $((b + o))"; }
    done
}

# gc_verdict LBS OUTCOME: with rw_host/rw_dev (gc_by_host) and cp_host/cp_dev/cp_cw (the copy GC's
# gc_bytes), assert that Copy moved the live data inside the device and none of it to the host, then
# print the OUTCOME line and the figures.
gc_verdict() {
    local moved=$((live * $1)) rw=$((rw_host + rw_dev)) cp=$((cp_host + cp_dev))
    ((cp_host == 0)) || fail "the copy GC moved $cp_host B to the host"
    ((cp_cw >= moved)) || fail "the device reports $cp_cw B written by Copy, less than the $moved B of live data"
    ((rw_host >= moved && rw_dev >= moved)) || fail "the read+write GC moved less than the live data across DMA ($rw_host/$rw_dev)"
    echo "OUTCOME: $2"
    echo "FIGURE: read+write GC: $rw B across DMA ($rw_host to the host, $rw_dev to the device)"
    echo "FIGURE: copy offload GC: $cp B across DMA (the range lists), $cp_cw B written inside the device; host traffic avoided: $((rw - cp)) B ($(awk -v a=$((rw - cp)) -v b=$rw 'BEGIN { printf "%.1f", 100 * a / b }') % of the read+write GC's)"
}
