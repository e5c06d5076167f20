#!/bin/bash
# nvme-cli write/read of one LBA with explicit type 1 PI round-trips; a wrong guard or ref tag is rejected.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# LBA 200, not 0: QEMU 11.1.3 was seen to accept a wrong guard at LBA 0 but reject it at LBA 200
# (see docs/guest-lab.md, "QEMU guard checking"). The NVMe spec requires the rejection at any LBA.
lba=200
app=0x1234
dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs) ms=$(ns_get 1 ms) mset=$(ns_get 1 mset) pi=$(ns_get 1 pi) pil=$(ns_get 1 pil) pif=$(ns_get 1 pif)
((pi == 1 && pif == 0 && mset == 0 && ms >= 8)) ||
    fail "this test needs a type 1, 16-bit guard namespace with separate metadata (pi=1,pif=0,mset=0,ms>=8); got '$VNVME_NS1'"

pi_py selftest

# nvme_io write|read DATA META [extra nvme-cli args]: one block at $lba, PRINFO: PRCHK guard|app|ref.
nvme_io() {
    local op=$1 data=$2 meta=$3
    shift 3
    nvme "$op" "$dev" --start-block=$lba --block-count=0 --data-size="$lbs" --data="$data" \
        --metadata-size="$ms" --metadata="$meta" --prinfo=0x7 --app-tag=$app --app-tag-mask=0xffff "$@"
}

step "write LBA $lba with a correct PI tuple ($lbs+$ms, pil=$pil)"
head -c "$lbs" /dev/urandom >data.bin
pi_py meta data.bin "$lbs" "$ms" "$pil" $app $lba >meta.bin
echo "guard $(pi_py crc16 data.bin), app tag $app, ref tag $lba; metadata: $(od -An -tx1 meta.bin | tr -s ' ')"
nvme_io write data.bin meta.bin --ref-tag=$lba >write.out 2>&1 || { cat write.out; fail "PI write with a correct tuple failed"; }

step "read it back with PRCHK guard|app|ref"
nvme_io read rdata.bin rmeta.bin --ref-tag=$lba >read.out 2>&1 || { cat read.out; fail "PI read of LBA $lba failed"; }
cmp data.bin rdata.bin || fail "data read back differs from data written"
cmp meta.bin rmeta.bin || fail "metadata read back ($(od -An -tx1 rmeta.bin)) differs from written ($(od -An -tx1 meta.bin))"

# expect_status WHAT OUTFILE STATUS NAME: nvme-cli failed and reported NVMe status STATUS.
expect_status() {
    cat "$2"
    grep -q -i -- "$4" "$2" && grep -q -i -- "($3)" "$2" ||
        fail "$1: expected NVMe status $3 ($4), nvme-cli said: $(tr '\n' ' ' <"$2")"
}

step "write LBA $lba with a wrong guard: expect End-to-end Guard Check Error (0x282)"
head -c "$lbs" /dev/urandom >bad.bin
pi_py meta bad.bin "$lbs" "$ms" "$pil" $app $lba 0xffff >badmeta.bin
if nvme_io write bad.bin badmeta.bin --ref-tag=$lba >bad.out 2>&1; then
    cat bad.out
    fail "device accepted a write whose guard does not match its data"
fi
expect_status "wrong guard" bad.out 0x282 "Guard Check"

step "write LBA $lba with a wrong ref tag in the tuple: expect End-to-end Reference Tag Check Error (0x284)"
pi_py meta bad.bin "$lbs" "$ms" "$pil" $app $((lba + 1)) >badref.bin
if nvme_io write bad.bin badref.bin --ref-tag=$lba >badref.out 2>&1; then
    cat badref.out
    fail "device accepted a write whose ref tag does not match the expected initial ref tag"
fi
expect_status "wrong ref tag" badref.out 0x284 "Reference Tag Check"

step "the rejected writes left LBA $lba unchanged"
nvme_io read rdata2.bin rmeta2.bin --ref-tag=$lba >read2.out 2>&1 || { cat read2.out; fail "re-read of LBA $lba failed"; }
cmp data.bin rdata2.bin || fail "a rejected write changed the data of LBA $lba"
cmp meta.bin rmeta2.bin || fail "a rejected write changed the metadata of LBA $lba"
echo "PI passthrough ok"
