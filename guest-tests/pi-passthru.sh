#!/bin/bash
# nvme-cli writes/reads with explicit PI on any PI format of namespace 1: good tuples round-trip, bad guard/app/ref tags get their E2E status and change nothing, escapes and PRACT behave as the spec says.
set -euo pipefail
here=$(dirname "$0")
. "$here/lib.sh"

# Specification references (NVM Express NVM Command Set Specification 1.0, section 5.2 "End-to-end
# Data Protection"; the same text is section 5.3 in 1.1+):
#   5.2.1    PI formats: 16b guard tuple = guard(2) app(2) ref(4); 64b guard = guard(8) app(2)
#            ref(6) with STS 0; PI first (DPS bit 3) or last in the metadata; when last, the guard
#            covers the data and the metadata bytes before the tuple.
#   5.2.1.x  PRACT: on write with metadata = tuple size the host sends no metadata and the
#            controller inserts PI; on read it checks and strips it (no metadata to the host).
#            With larger metadata the metadata moves and the controller fills / passes the tuple.
#   5.2.3    PRCHK bits 2/1/0 enable the guard, application tag (under LBATM) and reference tag
#            checks; failures end the command with End-to-end Guard / Application Tag / Reference
#            Tag Check Error (SCT 2h, SC 82h/83h/84h). Type 1: ILBRT must equal the SLBA's low bits
#            when the reference tag is checked, else Invalid Protection Information (SCT 1h/SC 81h).
#            Types 1/2: the expected reference tag is ILBRT + block index. Type 3: the controller
#            should not compare the reference tag, and may abort a command that asks it to with
#            Invalid Protection Information. Escapes disable every check of a block: app tag FFFFh
#            (types 1/2); app tag FFFFh and an all-ones reference tag (type 3).
#
# LBA 200 and up, never 0: QEMU's own device swallows a guard error on the first block of a
# command at SLBA 0 (/tmp/research/qemu-dif.md 1.1); the spec has no such exemption, and
# pi-differential.sh shows that case. Blocks: 200 (single-block write), 201-202 (two-block write),
# 203 (escape), 204-205 (PRACT write), 206 (masked app tag).
L=200
APP=0x1234
dev=$(ns_dev 1)
lbs=$(ns_get 1 lbs) ms=$(ns_get 1 ms) mset=$(ns_get 1 mset) pi=$(ns_get 1 pi) pil=$(ns_get 1 pil) pif=$(ns_get 1 pif)
((mset == 0)) || fail "this test needs separate metadata (mset=0); got '$VNVME_NS1'"
((pi >= 1 && pi <= 3)) || fail "this test needs PI type 1, 2 or 3; got '$VNVME_NS1'"
case $pif in
0) ts=8 ;;
2) ts=16 ;;
*) fail "pif=$pif: only the 16b (0) and 64b (2) guard formats are supported" ;;
esac
((ms >= ts)) || fail "ms=$ms is smaller than the $ts-byte PI tuple"

tool() { python3 "$here/pi_tool.py" "$@"; }
FMT=("$lbs" "$ms" "$pil" "$pif" "$pi")

# The reference tag the tuple of LBA $1 carries, and the ILBRT a command starting there uses.
# Type 1: the LBA itself. Type 2: an arbitrary base (above 32 bits for 64b guards, so CDW3 is
# exercised) plus the offset from L. Type 3: one constant for every block (never incremented).
case $pi in
1) ref_base=$L ;;
2) ((pif == 2)) && ref_base=$((0x120000000 + L)) || ref_base=$((0xA50000 + L)) ;;
3) ((pif == 2)) && ref_base=$((0x5A5A12345678)) || ref_base=$((0xA5A50123)) ;;
esac
ref_of() {
    if ((pi == 3)); then printf '0x%x\n' $ref_base; else printf '0x%x\n' $((ref_base + $1 - L)); fi
}
# PRCHK for the main sequence: every check; for type 3 without the reference tag check, which the
# controller may reject (QEMU does, with Invalid Protection Information); checked on its own below.
((pi == 3)) && CHK=6 || CHK=7

# io NAME OP LBA NBLK PRINFO [nvme-cli args...]: one read or write at LBA of NBLK blocks with data in
# NAME.data and metadata in NAME.meta (no metadata when NAME.nometa exists), the command's ILBRT
# from ref_of and app tag APP under mask 0xffff unless overridden later on the command line.
# Sets ST to 0 on success or to the NVMe status (SCT/SC; DNR and More masked) as 0xNNN.
io() {
    local name=$1 op=$2 lba=$3 n=$4 prinfo=$5 st
    shift 5
    local args=(--start-block="$lba" --block-count=$((n - 1)) --data-size=$((n * lbs)) --data="$name.data"
        --prinfo="$prinfo" --ref-tag="$(ref_of "$lba")" --app-tag=$APP --app-tag-mask=0xffff)
    if [[ ! -e $name.nometa ]]; then args+=(--metadata-size=$((n * ms)) --metadata="$name.meta"); fi
    if nvme "$op" "$dev" "${args[@]}" "$@" >"$name.out" 2>&1; then
        ST=0
    else
        st=$(sed -n 's/^NVMe status: .*(0x\([0-9a-fA-F]*\))$/\1/p' "$name.out" | tail -n1)
        [[ -n $st ]] || { cat "$name.out"; fail "nvme $op at LBA $lba failed without an NVMe status"; }
        ST=$(printf '0x%x' $((0x$st & 0x7ff)))
    fi
    LAST_OUT=$name.out
    echo "   nvme $op lba $lba n $n prinfo $(printf 0x%x "$prinfo") $*: status $ST"
}
expect() { # WHAT STATUS: the last io ended with STATUS
    [[ $ST == "$2" ]] || { cat "$LAST_OUT"; fail "$1: expected status $2, got $ST"; }
}

# make NAME LBA NBLK [pi_tool meta options]: random data for NBLK blocks and its metadata (tuples
# from pi_tool, non-PI metadata bytes a per-block pattern so the pil=0 guard covers them).
make() {
    local name=$1 lba=$2 n=$3
    shift 3
    head -c $((n * lbs)) /dev/urandom >"$name.data"
    tool meta "$name.data" "${FMT[@]}" $APP "$(ref_of "$lba")" --extra pattern "$@" >"$name.meta"
}

# Expected contents per LBA (what the namespace must hold), and a raw read to compare with.
mkdir -p want
remember() { # NAME LBA NBLK: NAME's blocks are now the contents of LBA..LBA+NBLK-1
    local i
    for ((i = 0; i < $3; i++)); do
        slice "$1.data" $((i * lbs)) "$lbs" "want/$(($2 + i)).data"
        slice "$1.meta" $((i * ms)) "$ms" "want/$(($2 + i)).meta"
    done
}
unchanged() { # WHAT LBA NBLK: a raw read (no PRACT, no checks) returns exactly the remembered blocks
    local i
    io raw read "$2" "$3" 0
    [[ $ST == 0 ]] || fail "$1: raw read of LBA $2 failed with $ST"
    for ((i = 0; i < $3; i++)); do
        cmp -s <(tail -c +$((i * lbs + 1)) raw.data | head -c "$lbs") "want/$(($2 + i)).data" ||
            fail "$1: data of LBA $(($2 + i)) differs from what it should hold"
        cmp -s <(tail -c +$((i * ms + 1)) raw.meta | head -c "$ms") "want/$(($2 + i)).meta" ||
            fail "$1: metadata of LBA $(($2 + i)) is $(od -An -tx1 <(tail -c +$((i * ms + 1)) raw.meta | head -c "$ms") | tr -s ' '), expected $(od -An -tx1 "want/$(($2 + i)).meta" | tr -s ' ')"
    done
}
cat_want() { # LBA NBLK KIND: the remembered data or meta of a range, to stdout
    local i
    for ((i = 0; i < $2; i++)); do cat "want/$(($1 + i)).$3"; done
}

step "namespace 1 ($dev): $lbs+$ms, type $pi, pil=$pil, pif=$pif ($ts-byte tuple); ref tag of LBA $L: $(ref_of $L); PRCHK $CHK"
tool selftest

step "one-block write at LBA $L with a correct tuple, read back with PRCHK $CHK"
make good1 $L 1
tool show good1.meta "$ms" "$pil" "$pif"
io good1 write $L 1 $CHK
expect "write of a correct tuple" 0
remember good1 $L 1
io back1 read $L 1 $CHK
expect "read of a correct tuple" 0
cmp -s back1.data good1.data || fail "data read back differs from data written"
cmp -s back1.meta good1.meta || fail "metadata read back ($(od -An -tx1 back1.meta | tr -s ' ')) differs from written"
tool check back1.data back1.meta "${FMT[@]}" $APP "$(ref_of $L)"

step "two-block write at LBA $((L + 1)), then a three-block read from $L (reference tags continue)"
make good2 $((L + 1)) 2
io good2 write $((L + 1)) 2 $CHK
expect "two-block write of correct tuples" 0
remember good2 $((L + 1)) 2
io back3 read $L 3 $CHK
expect "three-block read" 0
cmp -s back3.data <(cat_want $L 3 data) || fail "three-block read: data differs"
cmp -s back3.meta <(cat_want $L 3 meta) || fail "three-block read: metadata differs"
tool check back3.data back3.meta "${FMT[@]}" $APP "$(ref_of $L)"

step "wrong guard: End-to-end Guard Check Error (0x282), block unchanged"
make badg $L 1 --bad guard
io badg write $L 1 $CHK
expect "write with a wrong guard" 0x282
unchanged "after the wrong-guard write" $L 1
make badg2 $((L + 1)) 2 --bad guard@1
io badg2 write $((L + 1)) 2 $CHK
expect "two-block write with a wrong guard in block 1" 0x282
# Both devices check every tuple before storing anything, so neither block changes.
unchanged "after the two-block wrong-guard write" $((L + 1)) 2

step "wrong application tag with PRCHK app and mask 0xffff: 0x283, block unchanged"
make bada $L 1 --bad app
io bada write $L 1 $CHK
expect "write with a wrong app tag" 0x283
unchanged "after the wrong-app-tag write" $L 1

step "wrong application tag on read (ELBAT differs): 0x283"
io rbada read $L 1 $CHK --app-tag=$((APP ^ 0x0100))
expect "read expecting another app tag" 0x283

if ((pi != 3)); then
    step "wrong reference tag (type $pi): 0x284, block unchanged"
    make badr $L 1 --bad ref
    io badr write $L 1 $CHK
    expect "write with a wrong ref tag" 0x284
    unchanged "after the wrong-ref-tag write" $L 1
    make badr2 $((L + 1)) 2 --bad ref@1
    io badr2 write $((L + 1)) 2 $CHK
    expect "two-block write with a wrong ref tag in block 1" 0x284
    unchanged "after the two-block wrong-ref-tag write" $((L + 1)) 2
    if ((pi == 1)); then
        # Type 1: the initial reference tag must be the SLBA's low bits (5.2.3): Invalid PI.
        io rbadr read $L 1 $CHK --ref-tag=$((L + 1))
        expect "type 1 read whose EILBRT is not the SLBA" 0x181
    else
        io rbadr read $L 1 $CHK --ref-tag=$(($(ref_of $L) + 1))
        expect "type 2 read expecting another ref tag" 0x284
    fi
else
    # Type 3 (5.2.3): the controller should not compare the reference tag; a command that asks for
    # the check may be aborted with Invalid Protection Information (QEMU does), never with 84h.
    step "type 3: a wrong reference tag is not compared"
    make badr $L 1 --bad ref
    io badr write $L 1 6
    expect "type 3 write with another ref tag and PRCHK guard|app" 0
    remember badr $L 1
    unchanged "type 3 write with another ref tag" $L 1
    make badr7 $L 1 --bad ref
    io badr7 write $L 1 7
    case $ST in
    0) echo "   PRCHK ref on type 3: accepted, not compared"; remember badr7 $L 1 ;;
    0x181) echo "   PRCHK ref on type 3: aborted with Invalid Protection Information (allowed)" ;;
    *) fail "type 3 write with PRCHK ref and another ref tag: expected success or 0x181, got $ST" ;;
    esac
    unchanged "type 3 write with PRCHK ref" $L 1
    io rbadr read $L 1 $CHK --ref-tag=$(($(ref_of $L) ^ 0x10))
    expect "type 3 read expecting another ref tag (PRCHK guard|app)" 0
fi

step "escape: app tag FFFFh disables every check of the block"
if ((pi != 3)); then
    # Types 1/2: app tag FFFFh alone; the guard is wrong and still accepted.
    make esc $((L + 3)) 1 --bad guard
    tool meta esc.data "${FMT[@]}" 0xffff "$(ref_of $((L + 3)))" --extra pattern --bad guard >esc.meta
else
    # Type 3: app tag FFFFh alone does not escape ...
    make esc $((L + 3)) 1
    tool meta esc.data "${FMT[@]}" 0xffff "$(ref_of $((L + 3)))" --extra pattern --bad guard >esc.meta
    io esc write $((L + 3)) 1 $CHK
    expect "type 3 write with app tag FFFFh but a real ref tag and a wrong guard" 0x282
    # ... app tag FFFFh and an all-ones reference tag do.
    tool meta esc.data "${FMT[@]}" 0 0 --extra pattern --escape >esc.meta
    dd if=/dev/urandom of=esc.meta bs=1 count=$((pif == 0 ? 2 : 8)) seek=$((pil ? 0 : ms - ts)) conv=notrunc status=none
fi
io esc write $((L + 3)) 1 $CHK
expect "write of an escaped tuple with a wrong guard" 0
remember esc $((L + 3)) 1
io resc read $((L + 3)) 1 $CHK
expect "read of an escaped tuple" 0
cmp -s resc.data esc.data && cmp -s resc.meta esc.meta || fail "escaped block did not read back as written"

step "PRACT write of LBAs $((L + 4))-$((L + 5)): the controller inserts the tuples"
head -c $((2 * lbs)) /dev/urandom >pract.data
if ((ms == ts)); then
    # Metadata = tuple: the host transfers no metadata at all.
    : >pract.nometa
else
    # Larger metadata: it is transferred; the controller replaces only the tuple (with garbage here).
    head -c $((2 * ms)) /dev/urandom >pract.meta
fi
io pract write $((L + 4)) 2 8
expect "PRACT write" 0
io praw read $((L + 4)) 2 0
expect "raw read of the PRACT-written blocks" 0
cmp -s praw.data pract.data || fail "PRACT write: data read back differs"
# The stored metadata must be exactly: the host's bytes outside the tuple (none when ms = tuple
# size), and a tuple with guard = CRC, app tag = LBAT, ref tag = ILBRT (+ block index, types 1/2).
if ((ms == ts)); then
    tool meta praw.data "${FMT[@]}" $APP "$(ref_of $((L + 4)))" >pract.expect
else
    tool meta praw.data "${FMT[@]}" $APP "$(ref_of $((L + 4)))" --extra-from pract.meta >pract.expect
fi
cmp -s praw.meta pract.expect ||
    fail "PRACT write stored metadata $(od -An -tx1 praw.meta | tr -s ' '), expected $(od -An -tx1 pract.expect | tr -s ' ')"
tool check praw.data praw.meta "${FMT[@]}" $APP "$(ref_of $((L + 4)))"
cp praw.data pract.data && cp praw.meta pract.meta && remember pract $((L + 4)) 2

step "PRACT read of LBA $L (PRCHK $CHK)"
if ((ms == ts)); then
    # Metadata = tuple: checked and stripped; only data reaches the host.
    : >pr.nometa
    io pr read $L 1 $((8 | CHK))
    expect "PRACT read" 0
    cmp -s pr.data want/$L.data || fail "PRACT read: data differs"
    # With a metadata buffer given anyway, the controller must not fill it with the tuple.
    io prm read $L 1 $((8 | CHK))
    expect "PRACT read with a metadata buffer" 0
    cmp -s prm.data want/$L.data || fail "PRACT read (metadata buffer given): data differs"
    ! cmp -s prm.meta want/$L.meta || fail "PRACT read on $lbs+$ms transferred the PI tuple to the host"
    echo "   metadata buffer after the PRACT read: $(od -An -tx1 prm.meta | tr -s ' ') (the stored tuple is $(od -An -tx1 want/$L.meta | tr -s ' '))"
else
    # Larger metadata: checked, and the whole metadata (tuple included) passed to the host.
    io pr read $L 1 $((8 | CHK))
    expect "PRACT read" 0
    cmp -s pr.data want/$L.data && cmp -s pr.meta want/$L.meta || fail "PRACT read with $ms-byte metadata: data or metadata differs"
fi
: >prb.nometa
((ms == ts)) || rm -f prb.nometa
io prb read $L 1 $((8 | CHK)) --app-tag=$((APP ^ 0x0100))
expect "PRACT read expecting another app tag" 0x283

step "app tag mask: bits outside LBATM are not compared"
make mask $((L + 6)) 1 --bad app
io mask write $((L + 6)) 1 $CHK --app-tag-mask=0xfefe
expect "write whose app tag differs only in bits the mask excludes" 0
remember mask $((L + 6)) 1
io rmask read $((L + 6)) 1 $CHK --app-tag-mask=0xfefe
expect "read under the same mask" 0
io rmask2 read $((L + 6)) 1 $CHK
expect "read of the same block under mask 0xffff" 0x283

step "every block holds what it should"
unchanged "final state" $L 7
echo "PI passthrough ok: $lbs+$ms type $pi pil=$pil pif=$pif"
