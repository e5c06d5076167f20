#!/bin/bash
# Benchmark: fio 4k random read/write IOPS at QD1 and QD32 on vnvme and on QEMU's nvme, side by side in one guest.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ $VNVME_DEVICE == both ]] || fail "run with --device both (vnvme and QEMU's nvme in one guest)"
v=$(ns_dev 1)
q=${VNVME_QDEV1:?no QEMU namespace}
runtime=${BENCH_RUNTIME:-8}
size=256M
step "precondition: write the first $size of both devices"
for d in "$v" "$q"; do
    fio --name=pre --filename="$d" --direct=1 --ioengine=libaio --iodepth=16 --rw=write --bs=1M \
        --size=$size --output-format=terse --terse-version=3 >/dev/null || fail "precondition $d"
done
iops() { # DEV RW QD -> IOPS
    fio --name=b --filename="$1" --direct=1 --ioengine=libaio --iodepth="$3" --rw="$2" --bs=4k \
        --size=$size --time_based=1 --runtime="$runtime" --ramp_time=1 --randrepeat=0 --norandommap=1 \
        --output-format=terse --terse-version=3 >b.terse 2>b.err || { cat b.err; fail "fio $2 QD$3 on $1"; }
    # terse v3: field 8 = read IOPS, 49 = write IOPS.
    awk -F';' -v rw="$2" 'NF > 50 { print (rw == "randread" ? $8 : $49) }' b.terse
}
printf 'BENCH %-14s %12s %12s %8s\n' test vnvme_iops qemu_iops ratio
for qd in 1 32; do
    for rw in randread randwrite; do
        # Alternate the order so neither device always runs on a cold guest.
        if [[ $rw == randread ]]; then a=$(iops "$v" $rw $qd); b=$(iops "$q" $rw $qd); else b=$(iops "$q" $rw $qd); a=$(iops "$v" $rw $qd); fi
        ((a > 0 && b > 0)) || fail "fio reported no IOPS ($rw QD$qd: vnvme $a, qemu $b)"
        printf 'BENCH %-14s %12s %12s %8s\n' "4k-$rw-qd$qd" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
    done
done
