#!/bin/bash
# fio with zonemode=zbd on a zoned namespace: sequential writes filling zones, then verify, then random
# writes (fio keeps them at each zone's write pointer, resetting full zones), with crc32c verify. On a PI
# namespace the kernel's block integrity code generates and checks PI on every I/O. Nothing may fail and
# the kernel may log no error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ ${VNVME_NS1_ZONED:-0} == 1 ]] || fail "run with namespace 1 zoned (--ns ...,zoned=true)"
dev=$(ns_dev 1)
sys=$(ns_sysfs 1)
zone=$(($(cat "$sys/queue/chunk_sectors") * 512))
lbs=$(ns_get 1 lbs)
bs=$((lbs > 4096 ? lbs : 4096))
blkzone reset "$dev"
dmesg_mark
step "fio zonemode=zbd: sequential write + verify over 8 zones"
fio --name=zseq --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --zonemode=zbd --rw=write \
    --bs="$bs" --size=$((8 * zone)) --verify=crc32c --do_verify=1 --verify_fatal=1 \
    --output-format=terse --terse-version=3 >seq.terse 2>seq.err || { cat seq.err; fail "sequential zbd write+verify"; }
assert_eq "$(awk -F';' 'NF > 50 { print $5 }' seq.terse)" 0 "fio error code (sequential)"
step "fio zonemode=zbd: random writes at the write pointers, 4 open zones, verify"
fio --name=zrand --filename="$dev" --direct=1 --ioengine=libaio --iodepth=4 --zonemode=zbd --rw=randwrite \
    --bs="$bs" --size=$((16 * zone)) --io_size=$((4 * zone)) --max_open_zones=4 --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --output-format=terse --terse-version=3 >rand.terse 2>rand.err || { cat rand.err; fail "random zbd write+verify"; }
assert_eq "$(awk -F';' 'NF > 50 { print $5 }' rand.terse)" 0 "fio error code (random)"
dmesg_assert_clean "fio zbd"
echo "fio zbd ok: $(blkzone report "$dev" | grep -c 'zcond:[^(]*(fu)') full zones"
