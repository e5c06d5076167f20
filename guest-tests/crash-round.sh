#!/bin/bash
# One VM of qemu-scripts/test-crash.sh: check what the killed server left, then write until killed.
#
# crash-params.sh (written by test-crash.sh beside this script) sets CRASH_FILL (1: first give both
# regions of every namespace valid contents), CRASH_CHECK (1: check them), CRASH_ROUND (>0: then
# start the writers of that round and wait to be killed) and CRASH_WRITE_CACHE (the cache mode the
# server reports: 1 volatile write cache, 0 none). Everything the host judges goes to /host/crash/:
#   filled, checked, writing          markers, created when that phase is done (writing: every writer
#                                     has completed at least one batch)
#   check-ns<i>.txt                   crash_io.py check: one line per LBA of the versioned region
#   fio-unreadable-ns<i>.txt          byte offsets of the fio region's 4 KiB units that fail to read
#   fio-verify-ns<i>.txt              fio's verify_only report of the fio region
#   check.txt                         KEY=VALUE figures of the check (fio units, verify failures,
#                                     kernel error lines, the server's PI failure counters)
#   acks-ns<i>.log                    the versioned writer's log (crash_io.py write)
# Per namespace i: the versioned region is 2048 blocks from byte 1 MiB, the fio region 16 MiB from
# byte 16 MiB (4 KiB units: fio randwrite with crc32c verify headers; fsync every 8 writes on
# namespace 1, O_SYNC (FUA) on the others).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/crash-params.sh"
out=$here/../crash
mkdir -p "$out"
own_blocks=2048
fio_off=$((16 << 20)) fio_len=$((16 << 20))
io() { python3 "$here/crash_io.py" "$@"; }
own_base() { echo $(((1 << 20) / $(ns_get "$1" lbs))); }
fio_sync() { if (($1 == 1)); then echo --fsync=8; else echo --sync=1; fi; }
# fio_job NAME DEV OFFSET SIZE ARGS...: a fio job with crc32c verify headers every 4 KiB.
fio_job() {
    local name=$1 dev=$2 off=$3 size=$4
    shift 4
    fio --name="$name" --filename="$dev" --direct=1 --offset="$off" --size="$size" \
        --verify=crc32c --verify_interval=4096 "$@"
}

if ((CRASH_FILL)); then
    for ((i = 1; i <= VNVME_NS_COUNT; i++)); do
        dev=$(ns_dev "$i")
        step "fill ns $i ($dev, $(cat "$(ns_sysfs "$i")/integrity/format"))"
        io fill "$dev" "$(ns_get "$i" lbs)" "$(own_base "$i")" "$own_blocks" "$i"
        fio_job fill "$dev" "$fio_off" "$fio_len" --rw=write --bs=128k --ioengine=libaio --iodepth=4 --do_verify=0 \
            --end_fsync=1 >fio-fill.out 2>&1 || { cat fio-fill.out; fail "fio fill of ns $i failed"; }
    done
    : >"$out/filled"
fi

if ((CRASH_CHECK)); then
    dmesg_mark
    figures=()
    for ((i = 1; i <= VNVME_NS_COUNT; i++)); do
        dev=$(ns_dev "$i")
        step "check ns $i: versioned blocks"
        lbs=$(ns_get "$i" lbs)
        io check "$dev" "$lbs" "$(own_base "$i")" "$own_blocks" "$i" >"$out/check-ns$i.txt"
        mapfile -t bad < <(awk '$2 == "ERR" || $2 == "BAD" { print $1 }' "$out/check-ns$i.txt")
        if ((${#bad[@]})); then
            # The evidence, before the repair: each broken block read raw (no PI check) and its PI
            # checked here, so a torn block shows which half is new.
            ms=$(ns_get "$i" ms) pil=$(ns_get "$i" pil) pif=$(ns_get "$i" pif)
            for lba in "${bad[@]}"; do
                if nvme read "$dev" --start-block="$lba" --block-count=0 --data-size="$lbs" --data=raw.bin \
                    --metadata-size="$ms" --metadata=raw.md --prinfo=0 >raw.out 2>&1; then
                    echo "LBA $lba read raw: data: $(io describe raw.bin "$lbs" "$i" "$lba"); PI: $(pi_tool show raw.md "$ms" "$pil" "$pif" | head -n1); check against the data: $(pi_tool check raw.bin raw.md "$lbs" "$ms" "$pil" "$pif" 1 0 "$lba" 2>&1 | head -n1 || true)"
                else
                    echo "LBA $lba: the raw read failed too: $(tail -n1 raw.out)"
                fi
            done >"$out/torn-ns$i.txt"
            cat "$out/torn-ns$i.txt"
            io repair "$dev" "$lbs" "$i" "$CRASH_ROUND" "${bad[@]}"
        fi
        step "check ns $i: fio region readable"
        io unreadable "$dev" "$fio_off" "$fio_len" 4096 >"$out/fio-unreadable-ns$i.txt"
        step "check ns $i: fio verify_only"
        # Every unit must hold one whole fio block for its offset: the writer's state died with the
        # VM, so neither the seed nor the write order is known (both checks off).
        fio_job vcheck "$dev" "$fio_off" "$fio_len" --rw=write --bs=256k --ioengine=libaio --iodepth=4 --verify_only=1 --verify_fatal=0 \
            --verify_header_seed=0 --verify_write_sequence=0 --continue_on_error=all \
            >"$out/fio-verify-ns$i.txt" 2>&1 || true
        vfail=$(grep -c -E 'verify failed|bad magic|bad header' "$out/fio-verify-ns$i.txt" || true)
        [[ -s $out/fio-unreadable-ns$i.txt ]] || grep -q "READ: .*io=$((fio_len >> 20)).0MiB" "$out/fio-verify-ns$i.txt" ||
            { cat "$out/fio-verify-ns$i.txt"; fail "fio verify_only did not read the whole fio region of ns $i"; }
        # Rewrite whatever failed, so the next round starts from valid blocks again: each unreadable
        # 4 KiB unit, and each whole read in which fio found a bad unit (it stops at the first).
        while read -r off len; do
            fio_job repair "$dev" "$off" "$len" --rw=write --bs=4k \
                --ioengine=psync --do_verify=0 --fsync=1 >/dev/null 2>&1 || fail "could not rewrite the fio units at bytes $off+$len of ns $i"
        done < <(awk '{ print $1, 4096 }' "$out/fio-unreadable-ns$i.txt"
            sed -n 's/.*(requested block: offset=\([0-9]*\), length=\([0-9]*\).*/\1 \2/p' "$out/fio-verify-ns$i.txt")
        figures+=("ns${i}_fio_units=$((fio_len / 4096))" "ns${i}_fio_unreadable=$(wc -l <"$out/fio-unreadable-ns$i.txt")" "ns${i}_fio_verify_failures=$vfail")
    done
    errs=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E -i 'I/O error|protection error|guard tag|ref tag|app tag|I/O Cmd' || true)
    [[ -z $errs ]] || { echo "kernel errors during the check:"; echo "$errs" | head -n 20; }
    figures+=("kernel_error_lines=$(grep -c . <<<"$errs" || true)")
    vctl --json stats >"$out/stats.json" || fail "vctl stats failed"
    figures+=("server_pi_failures=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(sum(sum(v.get("pi_failed_commands", {}).values()) for v in s["namespaces"].values()))' "$out/stats.json")")
    printf '%s\n' "${figures[@]}" | tee "$out/check.txt"
    : >"$out/checked"
fi

if ((CRASH_ROUND)); then
    want=$( ((CRASH_WRITE_CACHE)) && echo "write back" || echo "write through")
    cache=$( ((CRASH_WRITE_CACHE)) && echo wc || echo nowc)
    pids=()
    for ((i = 1; i <= VNVME_NS_COUNT; i++)); do
        dev=$(ns_dev "$i")
        assert_eq "$(cat "$(ns_sysfs "$i")/queue/write_cache")" "$want" "ns $i write cache mode"
        step "round $CRASH_ROUND: writers on ns $i ($want)"
        : >"$out/acks-ns$i.log"
        io write "$dev" "$(ns_get "$i" lbs)" "$(own_base "$i")" "$own_blocks" "$i" "$CRASH_ROUND" "$out/acks-ns$i.log" "$cache" &
        pids+=($!)
        # shellcheck disable=SC2046
        fio_job "round$CRASH_ROUND" "$dev" "$fio_off" "$fio_len" --rw=randwrite --bsrange=4k-32k --blockalign=4k --ioengine=libaio \
            --iodepth=8 --do_verify=0 --norandommap --randrepeat=0 --time_based --runtime=3600 \
            $(fio_sync "$i") >"fio-ns$i.out" 2>&1 &
        pids+=($!)
    done
    for ((t = 0; t < 600; t++)); do
        ready=1
        for ((i = 1; i <= VNVME_NS_COUNT; i++)); do grep -q '^F ' "$out/acks-ns$i.log" || ready=0; done
        ((ready)) && break
        sleep 0.1
    done
    ((ready)) || fail "the versioned writers completed no batch within 60 s"
    : >"$out/writing"
    echo "writing; waiting for the host to kill the server"
    # Only the kill ends this: a writer that stops by itself is a failure.
    wait -n "${pids[@]}" || true
    for ((i = 1; i <= VNVME_NS_COUNT; i++)); do tail -n 5 "fio-ns$i.out" 2>/dev/null || true; done
    fail "a writer stopped before the kill"
fi
