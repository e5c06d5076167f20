#!/bin/bash
# Extended-LBA PI namespace with metadata = tuple: Linux sends PRACT on every I/O; fio write+verify passes and the stored tuples are the controller-generated ones (guard = CRC, app tag 0, ref tag = LBA).
set -euo pipefail
here=$(dirname "$0")
. "$here/lib.sh"

# Linux (drivers/nvme/host/core.c, nvme_setup_rw) registers no integrity profile for an extended-LBA
# namespace and sets PRACT on every read and write, with PRCHK guard (+ ref for types 1/2), the
# LBAT/LBATM 0 and, for types 1/2, ILBRT = the LBA. NVM-CS 1.2 5.3.2.1/5.3.2.2: with PRACT and a
# metadata size equal to the tuple size, the host buffer holds only data; the controller inserts
# the tuple on write and checks and strips it on read.
dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs) ms=$(ns_get 1 ms) mset=$(ns_get 1 mset) pi=$(ns_get 1 pi) pil=$(ns_get 1 pil) pif=$(ns_get 1 pif)
case $pif in 0) ts=8 ;; 2) ts=16 ;; *) fail "pif=$pif: only 16b (0) and 64b (2) guards" ;; esac
((mset == 1 && pi >= 1 && pi <= 3 && ms == ts)) ||
    fail "this test needs an extended-LBA PI namespace whose metadata is the $ts-byte tuple (mset=1, pi>0, ms=$ts); got '$VNVME_NS1'"
tool() { python3 "$here/pi_tool.py" "$@"; }
tool selftest

assert_eq "$(cat "$(ns_sysfs 1)/integrity/format")" none "integrity profile of an extended-LBA namespace"

size_mib=8
step "fio randwrite + crc32c verify (do_verify=1) over the first $size_mib MiB of $dev"
dmesg_mark
fio --name=pract --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bs=4096 \
    --size=${size_mib}M --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 \
    --output-format=terse --terse-version=3 >fio.terse 2>fio.err || { cat fio.err fio.terse; fail "fio write+verify failed"; }
fio_terse_check "$size_mib"
dmesg_assert_clean "fio on the extended-LBA namespace"

# fio's random map writes every block of the region once, so every LBA below size_mib MiB holds
# controller-generated PI. Look at a few: the first blocks, and 4 from the middle.
ref=$(( (size_mib * 1024 * 1024 / lbs) / 2 + 3 ))
for lba in 0 $ref; do
    n=4
    step "raw read (no PRACT, no checks) of LBAs $lba..$((lba + n - 1)): data+$ms bytes per block"
    nvme read "$dev" --start-block=$lba --block-count=$((n - 1)) --data-size=$((n * (lbs + ms))) --data=raw$lba.bin \
        --prinfo=0 >raw$lba.out 2>&1 || { cat raw$lba.out; fail "raw read of LBA $lba failed"; }
    assert_eq "$(stat -c %s raw$lba.bin)" "$((n * (lbs + ms)))" "size of the raw extended-LBA read"
    # Type 3: Linux passes ILBRT 0, which the controller inserts unchanged in every block.
    r=$lba
    ((pi == 3)) && r=0
    tool check-ext raw$lba.bin "$lbs" "$ms" "$pil" "$pif" "$pi" 0 $r ||
        fail "the tuples the controller generated for Linux's PRACT writes are wrong"
    # Type 3 tuples carry ref tag 0 in every block (not incremented); check it explicitly since
    # pi_tool's check never compares a type 3 reference tag.
    if ((pi == 3)); then
        python3 - raw$lba.bin "$lbs" "$ms" "$pif" <<'PY' || fail "type 3 tuples do not carry the inserted ref tag 0"
import sys
buf, lbs, ms, pif = open(sys.argv[1], "rb").read(), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rb = 4 if pif == 0 else 6
for i in range(len(buf) // (lbs + ms)):
    t = buf[i * (lbs + ms) + lbs:(i + 1) * (lbs + ms)]
    if int.from_bytes(t[-rb:], "big") != 0:
        sys.exit("block %d: ref tag %s" % (i, t[-rb:].hex()))
PY
    fi
    # The data part matches what the block layer reads through PRACT (O_DIRECT).
    dd if="$dev" of=direct$lba.bin bs="$lbs" skip=$lba count=$n iflag=direct status=none || fail "O_DIRECT read of LBA $lba failed"
    python3 -c '
import sys
buf, lbs, ms = open(sys.argv[1], "rb").read(), int(sys.argv[2]), int(sys.argv[3])
sys.stdout.buffer.write(b"".join(buf[i:i + lbs] for i in range(0, len(buf), lbs + ms)))' raw$lba.bin "$lbs" "$ms" >data$lba.bin
    cmp -s data$lba.bin direct$lba.bin || fail "data part of the raw read of LBA $lba differs from the O_DIRECT read"

    step "nvme read of LBAs $lba.. with PRACT and all checks: only data comes back"
    ((pi == 3)) && chk=6 || chk=7
    nvme read "$dev" --start-block=$lba --block-count=$((n - 1)) --data-size=$((n * lbs)) --data=pract$lba.bin \
        --prinfo=$((8 | chk)) --ref-tag=$r --app-tag=0 --app-tag-mask=0xffff >pract$lba.out 2>&1 ||
        { cat pract$lba.out; fail "PRACT read of LBA $lba failed"; }
    cmp -s pract$lba.bin direct$lba.bin || fail "PRACT read of LBA $lba returned other bytes than the data"

    step "nvme read of LBAs $lba.. without PRACT but with all checks: data and tuples, checks pass"
    nvme read "$dev" --start-block=$lba --block-count=$((n - 1)) --data-size=$((n * (lbs + ms))) --data=chk$lba.bin \
        --prinfo=$chk --ref-tag=$r --app-tag=0 --app-tag-mask=0xffff >chk$lba.out 2>&1 ||
        { cat chk$lba.out; fail "checked read of LBA $lba failed"; }
    cmp -s chk$lba.bin raw$lba.bin || fail "checked read of LBA $lba differs from the raw read"
done
dmesg_assert_clean "PRACT checks"
echo "PRACT on extended LBAs ok: $lbs+$ms type $pi pif=$pif"
