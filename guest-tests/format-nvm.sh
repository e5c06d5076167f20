#!/bin/bash
# nvme format switches namespace 1 between LBA formats and PI types at run time; the guest sees each new format.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
sys=$(ns_sysfs 1)
# reformat LBAF PI: format, wait for the kernel to revalidate, print what it sees.
reformat() {
    nvme format "$dev" --lbaf="$1" --pi="$2" --pil="${3:-0}" --ses=1 --force >format.out 2>&1 ||
        { cat format.out; fail "nvme format --lbaf=$1 --pi=$2 --pil=${3:-0}"; }
    for _ in $(seq 50); do
        [[ -b $dev ]] && break
        sleep 0.1
    done
    [[ -b $dev ]] || fail "$dev did not come back after format"
    nvme id-ns "$dev" >idns.txt
    echo "lbaf $1 pi $2: $(grep 'in use' idns.txt), integrity $(cat "$sys/integrity/format"), lbs $(cat "$sys/queue/logical_block_size")"
}
verify_io() { # BS
    fio --name=fmt --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bs="$1" --size=8M \
        --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=terse --terse-version=3 >fio.terse 2>fio.err ||
        { cat fio.err; fail "fio verify after format"; }
}
dmesg_mark
step "format to 512+8, Type 1 (index 1)"
reformat 1 1
assert_eq "$(cat "$sys/integrity/format")" T10-DIF-TYPE1-CRC "integrity profile after format to 512+8 Type 1"
assert_eq "$(cat "$sys/queue/logical_block_size")" 512 "block size"
verify_io 4096
# PI first in the 16 bytes of metadata: kernels before 6.9 or so register no integrity
# profile ("nop") when a larger metadata keeps the PI in its last bytes.
step "format to 4096+16, Type 3, PI first (index 6)"
reformat 6 3 1
assert_eq "$(nvme id-ns "$dev" | sed -n 's/^dps *: *//p')" 0xb "DPS: Type 3, PI first"
assert_eq "$(cat "$sys/integrity/format")" T10-DIF-TYPE3-CRC "integrity profile after format to 4096+16 Type 3"
assert_eq "$(cat "$sys/queue/logical_block_size")" 4096 "block size"
verify_io 4096
step "format back to 512+0 (index 0), no PI"
reformat 0 0
assert_eq "$(cat "$sys/integrity/format")" none "no integrity profile without metadata"
assert_eq "$(cat "$sys/queue/logical_block_size")" 512 "block size"
verify_io 4096
dmesg_assert_clean "format and verify"
echo "format ok"
