#!/bin/bash
# vnvme vs QEMU's nvme (--device both): one fixed sequence of nvme-cli PI commands per namespace, every result checked against the spec; every difference must be a documented QEMU deviation.
set -euo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
. "$here/differential.sh"

# How it works. For each namespace i (vnvme's copy VNVME_DEV<i>, QEMU's copy VNVME_QDEV<i>, same
# format, separate fresh images) the same commands run on both devices. A model of what the
# namespace must hold by the spec (data and metadata per LBA, starting from "never written") gives,
# for every command, the NVMe status(es) the spec allows and the bytes a read must return. Each row
# of the printed table shows the spec's status, vnvme's, QEMU's, and whether the bytes read match.
# The test fails when vnvme departs from the spec, or when QEMU departs from it (or from vnvme) in a
# way that is not in the list of known QEMU deviations below.
#
# Spec references: NVM Express NVM Command Set Specification 1.2 (NVM-CS), section 5.3 End-to-end
# Data Protection: 5.3.1 formats (PI last: the guard covers the metadata bytes before the tuple),
# 5.3.2.1/5.3.2.2 PRACT on write/read (PRCHK ignored on a PRACT write; ms = tuple size: no metadata
# moves), 5.3.3 PRCHK (Type 1: ILBRT must equal the SLBA, else Invalid Protection Information 81h;
# Type 3: the reference tag should not be compared, a controller may instead abort with 81h;
# escapes: app tag FFFFh for Types 1/2, app tag FFFFh + all-ones ref tag for Type 3). NVM-CS 1.0
# section 3.2.3.2.1 (deallocated or unwritten blocks: data and non-PI metadata as DLFEAT says, 0h for
# both devices; PI: guard FFh (DLFEAT bit 4 clear), app tag, ref tag all FFh) and 3.2.8 Write Zeroes
# (non-PI metadata 0h; PRACT=0: PI all zeroes; PRACT=1: generated; DEAC=1: PI as for a deallocated
# block, where NVMe 1.4 section 6.17 said "based on PRINFO": both accepted). Where the spec allows
# two outcomes (Type 3 PRCHK ref, DEAC, DSM), both are accepted.

# ---------------------------------------------------------------------------------------------
# Known QEMU deviations (QEMU 11.1 hw/nvme; /tmp/research/qemu-dif.md). qemu_deviation STEP prints
# the deviation's id when a difference at STEP is explained by one for this namespace's format;
# nothing otherwise. Each id is one QEMU behaviour; the steps are where it (or its consequence)
# shows. vnvme must still match the spec at every one of these steps.
qemu_deviation() {
    case $1 in
    # slba0-guard: NVM-CS 5.3.2.1/5.3.3: with PRCHK guard set, a guard that does not match the CRC
    # ends the command with End-to-end Guard Check Error (82h); no LBA is exempt. QEMU's
    # nvme_dif_check() drops a guard error on the first block of a command whose SLBA is 0 when the
    # block's data is not all zero (qemu-dif.md 1.1): the write succeeds and stores the bad tuple
    # (w0-badguard), a raw read returns it (r0-raw-after), and a checked read of it succeeds too
    # (r0-chk-after). A bad guard in the second block is still caught (w0-badguard-b1 agrees).
    w0-badguard | r0-raw-after | r0-chk-after) echo slba0-guard ;;
    # t3-refcheck-abort: NVM-CS 5.3.3: for Type 3 with PRCHK ref set the controller "should not
    # compare" the reference tag, and if it aborts the command for that bit it uses Invalid
    # Protection Information. vnvme does not compare; QEMU's nvme_check_prinfo() aborts (0x4181,
    # DNR). Both are allowed; listed because the devices differ (r210-p3 asks for app|ref).
    *-t3ref | r210-p3) ((pi == 3)) && echo t3-refcheck-abort ;;
    # unwritten-allocated: NVM-CS 1.0 3.2.3.2.1: a never-written block reads with an escape tuple
    # (guard FFh.., app tag FFFFh, ref tag all ones), so no check fails. QEMU stamps that tuple only
    # when block status reports the block's data range as a hole (nvme_dif_mangle_mdata, qemu-dif.md
    # 3.1); a never-written 512-byte block sharing a host filesystem block with written ones reads
    # with all-zero PI: the checked read fails (app tag 0000h: 83h) and the raw read differs.
    r204-unwritten-raw | r204-unwritten-chk) ((lbs < 4096)) && echo unwritten-allocated ;;
    # wz-nopract-stale-pi: NVM-CS 1.0 3.2.8: Write Zeroes with PRACT=0 leaves PI all zeroes and the
    # non-PI metadata 0h. QEMU's PI path (nvme_dif_rw, qemu-dif.md 3.4) writes zero data but never
    # writes the metadata: the old tuple stays. Raw reads return it; a checked read fails on the old
    # guard (82h). (With a 64b guard the spec's all-zero PI fails the guard check too, so the
    # statuses agree there and only the raw bytes differ.)
    r230-wz-raw | r230-wz-chk) echo wz-nopract-stale-pi ;;
    # wz-pract-guard64: NVM-CS 5.3.1 / 1.0 3.2.8: Write Zeroes with PRACT=1 generates PI whose guard
    # is the CRC of the (zero) data and of the metadata bytes before the tuple. For the 64b guard
    # QEMU writes the constant CRC-64 of 4096 zero bytes (qemu-dif.md 3.4), wrong when PI is last
    # behind other metadata bytes (pil=0, ms > 16); a checked read then fails with 82h. Also with
    # DEAC=1 (r236), where the PRINFO-based PI is one of the two allowed outcomes (see t_wz).
    r232-wzp-raw | r232-wzp-chk | r236-wzdp-raw | r236-wzdp-chk) ((pif == 2 && pil == 0 && ms > ts)) && echo wz-pract-guard64 ;;
    # wz-deac-stale-pi: Write Zeroes with DEAC=1 returns zero data and zero non-PI metadata, and as
    # PI either that of a deallocated block (escape tuple; NVM-CS 1.0 3.2.8) or the one PRINFO asks
    # for (NVMe 1.4 6.17: with PRACT=0 all zeroes). QEMU treats DEAC as permission to unmap the data
    # and, with PRACT=0, again never writes the metadata (as in wz-nopract-stale-pi): the old tuple
    # stays and fails the guard check against the zero data.
    r234-wzd-raw | r234-wzd-chk) echo wz-deac-stale-pi ;;
    # dsm-noop: NVM-CS 1.0 3.2.3.1: "A controller may choose to take no action on any or all logical
    # blocks for which attributes ... are processed": a Deallocate range may be deallocated (then it
    # reads as zero data, zero non-PI metadata and the escape tuple, 3.2.3.2.1) or left as it is.
    # vnvme deallocates; QEMU's drive is attached with the default discard=ignore, so its DSM
    # changes nothing and the blocks keep their last written data and PI. Both are within the spec;
    # listed because the bytes differ (r240-after reads 241 too).
    r240-dsm-raw | r240-dsm-chk | r240-dsm-pract | r240-after) echo dsm-noop ;;
    esac
    return 0
}

# ---------------------------------------------------------------------------------------------
# Per-namespace state (set by diff_each_ns and ns_setup at the bottom).
ns=0 vdev="" qdev="" lbs=0 ms=0 pil=0 pif=0 pi=0 ts=0 CHK=7 APP=0x1234
FMT=()

# The reference tag of LBA $1 (as in pi-passthru.sh): Type 1 the LBA, Type 2 an arbitrary base plus
# the LBA, Type 3 one constant.
ref_of() {
    case $pi in
    1) printf '0x%x\n' "$1" ;;
    2) ((pif == 2)) && printf '0x%x\n' $((0x120000000 + $1)) || printf '0x%x\n' $((0xA50000 + $1)) ;;
    3) ((pif == 2)) && printf '0x%x\n' $((0x5A5A12345678)) || printf '0x%x\n' $((0xA5A50123)) ;;
    esac
}

# The model: model/<lba>.{data,meta} for blocks whose content the spec defines from the commands so
# far; a missing file means "deallocated or unwritten" (unw.data, unw.meta). Where the spec allows
# two outcomes, model/<lba>.alt.{data,meta} holds the other one (see t_wz and t_dsm).
model_get() { # LBA N OUT: OUT.{data,meta} (and OUT.alt.{data,meta}) hold what LBA..LBA+N-1 must read as
    local i l f
    : >"$3.data"
    : >"$3.meta"
    : >"$3.alt.data"
    : >"$3.alt.meta"
    for ((i = 0; i < $2; i++)); do
        l=$(($1 + i))
        f=unw
        [[ -e model/$l.data ]] && f=model/$l
        cat "$f.data" >>"$3.data"
        cat "$f.meta" >>"$3.meta"
        [[ -e model/$l.alt.data ]] && f=model/$l.alt
        cat "$f.data" >>"$3.alt.data"
        cat "$f.meta" >>"$3.alt.meta"
    done
}
model_set() { # LBA N SRC [ALT]: the blocks now hold SRC.{data,meta} (or, also allowed, ALT.{data,meta})
    local i l
    for ((i = 0; i < $2; i++)); do
        l=$(($1 + i))
        rm -f "model/$l.alt.data" "model/$l.alt.meta"
        slice "$3.data" $((i * lbs)) "$lbs" "model/$l.data"
        slice "$3.meta" $((i * ms)) "$ms" "model/$l.meta"
        if [[ -n ${4:-} ]]; then
            slice "$4.data" $((i * lbs)) "$lbs" "model/$l.alt.data"
            slice "$4.meta" $((i * ms)) "$ms" "model/$l.alt.meta"
        fi
    done
}
model_dealloc() { # LBA N: the blocks are deallocated (read as unw.*)
    local i
    for ((i = 0; i < $2; i++)); do rm -f model/$(($1 + i)).{data,meta,alt.data,alt.meta}; done
}

# mkbuf NAME LBA N SEED [pi_tool meta options]: deterministic data for N blocks and correct tuples
# (non-PI metadata bytes: a pattern, so the pil=0 guard covers something).
mkbuf() {
    local name=$1 lba=$2 n=$3 seed=$4
    shift 4
    tool data "$((seed * 1000 + ns))" $((n * lbs)) >"$name.data"
    tool meta "$name.data" "${FMT[@]}" $APP "$(ref_of "$lba")" --extra pattern "$@" >"$name.meta"
}

rows=()
failures=0
deviations=()
# record STEP CMD EXPECT VST QST KIND: compare both devices with the spec and with each other.
# KIND: "write" (no bytes) or "read" (bytes in v/STEP.out and q/STEP.out, expected STEP.exp or STEP.exp.alt).
record() {
    local step=$1 cmd=$2 expect=$3 vst=$4 qst=$5 kind=$6 vok=1 qok=1 same=1 bytes=- vh="" qh="" eh="" verdict dev
    local vm=$(printf '0x%x' $((vst & 0x7ff))) qm=$(printf '0x%x' $((qst & 0x7ff)))
    [[ " $expect " == *" ${vm/#0x0/0} "* ]] || vok=0
    [[ " $expect " == *" ${qm/#0x0/0} "* ]] || qok=0
    [[ $vst == "$qst" ]] || same=0
    if [[ $kind == read ]]; then
        eh=$(sha256sum <"$step.exp" | cut -c1-8)
        local ah
        ah=$(sha256sum <"$step.exp.alt" | cut -c1-8)
        vh=$( ((vst == 0)) && cat "v/$step.out" | sha256sum | cut -c1-8 || echo -)
        qh=$( ((qst == 0)) && cat "q/$step.out" | sha256sum | cut -c1-8 || echo -)
        ((vst != 0)) || [[ $vh == "$eh" || $vh == "$ah" ]] || vok=0
        ((qst != 0)) || [[ $qh == "$eh" || $qh == "$ah" ]] || qok=0
        [[ $ah == "$eh" ]] || eh+="|$ah"
        [[ $vh == "$qh" ]] || same=0
        if ((vst == 0 && qst == 0)); then
            [[ $vh == "$qh" ]] && bytes=same || bytes=DIFF
        fi
    fi
    dev=$(qemu_deviation "$step")
    if ((!vok)); then
        verdict="FAIL: vnvme departs from the spec"
        failures=$((failures + 1))
    elif ((!qok || !same)); then
        if [[ -n $dev ]]; then
            verdict="known QEMU difference: $dev"
            [[ " ${deviations[*]} " == *" $dev "* ]] || deviations+=("$dev")
        else
            verdict="FAIL: undocumented difference (QEMU $( ((qok)) && echo 'within' || echo 'outside') the spec)"
            failures=$((failures + 1))
        fi
    else
        verdict=ok
        [[ -z $dev ]] || verdict="ok (known deviation $dev did not show)"
    fi
    rows+=("$(printf '%-19s %-34s %-11s %-7s %-7s %-5s %s' "$step" "$cmd" "${expect// /|}" "$vst" "$qst" "$bytes" "$verdict")")
    if [[ $verdict == FAIL* ]]; then
        echo "   $step: $cmd: spec $expect, vnvme $vst${vh:+ bytes $vh}, qemu $qst${qh:+ bytes $qh}, expected bytes ${eh:-n/a}: $verdict"
        if [[ $kind == read ]]; then
            echo "     expected metadata: $(tail -c $((ms > 64 ? 64 : ms)) "$step.exp.meta" | od -An -tx1 | tr -s ' \n' ' ')"
            ((vst != 0)) || echo "     vnvme metadata:    $(tail -c $((ms > 64 ? 64 : ms)) "v/$step.meta" 2>/dev/null | od -An -tx1 | tr -s ' \n' ' ')"
            ((qst != 0)) || echo "     qemu metadata:     $(tail -c $((ms > 64 ? 64 : ms)) "q/$step.meta" 2>/dev/null | od -An -tx1 | tr -s ' \n' ' ')"
        fi
    fi
}

# Parse key=value options app=, mask=, ref= into CMD_APP, CMD_MASK, CMD_REF (defaults for LBA $1).
cmd_opts() {
    local lba=$1 o
    shift
    CMD_APP=$APP CMD_MASK=0xffff CMD_REF=$(ref_of "$lba") CMD_DEAC=0
    for o in "$@"; do
        case $o in
        app=*) CMD_APP=${o#app=} ;;
        mask=*) CMD_MASK=${o#mask=} ;;
        ref=*) CMD_REF=${o#ref=} ;;
        deac) CMD_DEAC=1 ;;
        *) fail "cmd_opts: unknown option $o" ;;
        esac
    done
}

# The statuses the spec allows for a command with PRINFO $1 at LBA $2 whose tuples are in $3.data /
# $3.meta (what the host sends on a write, what is stored on a read), with CMD_APP/MASK/REF.
spec_status() {
    local prinfo=$1 lba=$2 src=$3 st
    if ((pi == 1 && (prinfo & 1) && CMD_REF != lba)); then
        echo 0x181
        return
    fi
    st=$(tool check "$src.data" "$src.meta" "${FMT[@]}" "$CMD_APP" "$CMD_REF" --prchk $((prinfo & 7)) --app-mask "$CMD_MASK" --status)
    # Type 3 with PRCHK ref: not compared, or aborted with Invalid Protection Information.
    ((pi == 3 && (prinfo & 1))) && st+=" 0x181"
    echo "$st"
}

# t_write STEP LBA N PRINFO SRC [app= mask= ref=]: write SRC.data / SRC.meta (no metadata when
# PRACT is set and the metadata is only the tuple) on both devices.
t_write() {
    local step=$1 lba=$2 n=$3 prinfo=$4 src=$5 expect vst qst
    shift 5
    cmd_opts "$lba" "$@"
    local args=(--start-block="$lba" --block-count=$((n - 1)) --data-size=$((n * lbs)) --data="$src.data"
        --prinfo="$prinfo" --ref-tag="$CMD_REF" --app-tag="$CMD_APP" --app-tag-mask="$CMD_MASK")
    if ((prinfo & 8)); then
        # 5.3.2.1: the controller inserts PI, PRCHK ignored; with ms > tuple size it keeps the other
        # metadata bytes the host sent.
        expect=0
        if ((ms == ts)); then
            tool meta "$src.data" "${FMT[@]}" "$CMD_APP" "$CMD_REF" >"$step.new.meta"
        else
            tool meta "$src.data" "${FMT[@]}" "$CMD_APP" "$CMD_REF" --extra-from "$src.meta" >"$step.new.meta"
            args+=(--metadata-size=$((n * ms)) --metadata="$src.meta")
        fi
        cp "$src.data" "$step.new.data"
    else
        expect=$(spec_status "$prinfo" "$lba" "$src")
        args+=(--metadata-size=$((n * ms)) --metadata="$src.meta")
        cp "$src.data" "$step.new.data"
        cp "$src.meta" "$step.new.meta"
    fi
    vst=$(nvme_st "v/$step.log" write "$vdev" "${args[@]}")
    qst=$(nvme_st "q/$step.log" write "$qdev" "${args[@]}")
    [[ $expect != 0 ]] || model_set "$lba" "$n" "$step.new"
    # Type 3 with PRCHK ref (both outcomes allowed): the steps write what the blocks already hold.
    record "$step" "write $lba+$n p=$(printf 0x%x "$prinfo")$(opts_str "$@")" "$expect" "$vst" "$qst" write
}

# t_read STEP LBA N PRINFO [app= mask= ref=]: read on both devices, compare with the model.
t_read() {
    local step=$1 lba=$2 n=$3 prinfo=$4 expect vst qst d
    shift 4
    cmd_opts "$lba" "$@"
    model_get "$lba" "$n" "$step.exp"
    expect=$(spec_status "$prinfo" "$lba" "$step.exp")
    local alt
    alt=$(spec_status "$prinfo" "$lba" "$step.exp.alt")
    for st in $alt; do [[ " $expect " == *" $st "* ]] || expect+=" $st"; done
    local args=(--start-block="$lba" --block-count=$((n - 1)) --data-size=$((n * lbs))
        --prinfo="$prinfo" --ref-tag="$CMD_REF" --app-tag="$CMD_APP" --app-tag-mask="$CMD_MASK")
    # 5.3.2.2: PRACT with metadata = tuple: checked and stripped, only data reaches the host.
    local with_meta=1
    ((prinfo & 8 && ms == ts)) && with_meta=0
    for d in v q; do
        local dev=$vdev
        [[ $d == q ]] && dev=$qdev
        local a=("${args[@]}" --data="$d/$step.data")
        ((with_meta)) && a+=(--metadata-size=$((n * ms)) --metadata="$d/$step.meta")
        local st
        st=$(nvme_st "$d/$step.log" read "$dev" "${a[@]}")
        if ((with_meta)); then cat "$d/$step.data" "$d/$step.meta" >"$d/$step.out" 2>/dev/null || true; else cp "$d/$step.data" "$d/$step.out" 2>/dev/null || true; fi
        [[ $d == v ]] && vst=$st || qst=$st
    done
    if ((with_meta)); then
        cat "$step.exp.data" "$step.exp.meta" >"$step.exp"
        cat "$step.exp.alt.data" "$step.exp.alt.meta" >"$step.exp.alt"
    else
        cp "$step.exp.data" "$step.exp"
        cp "$step.exp.alt.data" "$step.exp.alt"
    fi
    record "$step" "read $lba+$n p=$(printf 0x%x "$prinfo")$(opts_str "$@")" "$expect" "$vst" "$qst" read
}

# t_wz STEP LBA N PRINFO [deac]: Write Zeroes (PRCHK must be 0, NVM-CS 1.0 Figure 73).
t_wz() {
    local step=$1 lba=$2 n=$3 prinfo=$4 vst qst
    shift 4
    cmd_opts "$lba" "$@"
    local args=(--start-block="$lba" --block-count=$((n - 1)) --prinfo="$prinfo"
        --ref-tag="$CMD_REF" --app-tag="$CMD_APP" --app-tag-mask="$CMD_MASK")
    ((CMD_DEAC)) && args+=(--deac)
    vst=$(nvme_st "v/$step.log" write-zeroes "$vdev" "${args[@]}")
    qst=$(nvme_st "q/$step.log" write-zeroes "$qdev" "${args[@]}")
    # NVM-CS 1.0 3.2.8: zero data and non-PI metadata; PI for PRACT=0 all zeroes, for PRACT=1
    # generated (guard over the zero data and the zero metadata before the tuple). With DEAC=1 the
    # revisions disagree: NVM-CS 1.0 says the PI of a deallocated block (escape tuple), NVMe 1.4
    # section 6.17 says "based on CDW12.PRINFO" as for DEAC=0; both are allowed here.
    head -c $((n * lbs)) /dev/zero >"$step.new.data"
    if ((prinfo & 8)); then
        tool meta "$step.new.data" "${FMT[@]}" "$CMD_APP" "$CMD_REF" >"$step.new.meta"
    else
        head -c $((n * ms)) /dev/zero >"$step.new.meta"
    fi
    if ((CMD_DEAC)); then
        model_dealloc "$lba" "$n"
        model_get "$lba" "$n" "$step.dealloc"
        model_set "$lba" "$n" "$step.dealloc" "$step.new"
    else
        model_set "$lba" "$n" "$step.new"
    fi
    record "$step" "write-zeroes $lba+$n p=$(printf 0x%x "$prinfo")$( ((CMD_DEAC)) && echo ' deac')" 0 "$vst" "$qst" write
}

# t_dsm STEP LBA N: Dataset Management, attribute Deallocate, one range. The blocks are either
# deallocated or left as they were (NVM-CS 1.0 3.2.3.1: the controller may take no action).
t_dsm() {
    local step=$1 lba=$2 n=$3 vst qst
    vst=$(nvme_st "v/$step.log" dsm "$vdev" --ad --slbs="$lba" --blocks="$n")
    qst=$(nvme_st "q/$step.log" dsm "$qdev" --ad --slbs="$lba" --blocks="$n")
    model_get "$lba" "$n" "$step.old"
    model_dealloc "$lba" "$n"
    model_get "$lba" "$n" "$step.dealloc"
    model_set "$lba" "$n" "$step.dealloc" "$step.old"
    record "$step" "dsm deallocate $lba+$n" 0 "$vst" "$qst" write
}

opts_str() {
    local o s=""
    for o in "$@"; do s+=" $o"; done
    printf '%s' "$s"
}

# ---------------------------------------------------------------------------------------------
# The sequence. Step names carry the LBA; the same names appear in qemu_deviation.
sequence() {
    local R0 R200
    R200=$(ref_of 200)

    # LBA 0: QEMU's first-block guard exemption.
    mkbuf g0 0 2 1
    t_write w0-good 0 2 $CHK g0
    t_read r0-good 0 2 $CHK
    mkbuf b0 0 1 2 --bad guard
    t_write w0-badguard 0 1 $CHK b0
    t_read r0-raw-after 0 1 0
    t_read r0-chk-after 0 1 $CHK
    mkbuf b0b 0 2 3 --bad guard@1
    t_write w0-badguard-b1 0 2 $CHK b0b
    mkbuf g0b 0 2 4
    t_write w0-resync 0 2 $CHK g0b
    t_read r0-resync 0 2 $CHK
    if ((pi != 3)); then
        mkbuf r0 0 1 5 --bad ref
        t_write w0-badref 0 1 $CHK r0
    fi

    # LBAs 200-203: good writes, then one wrong field at a time.
    mkbuf g200 200 4 6
    t_write w200-good 200 4 $CHK g200
    t_read r200-good 200 4 $CHK
    mkbuf bg200 200 1 7 --bad guard
    t_write w200-badguard 200 1 $CHK bg200
    mkbuf ba200 200 1 8 --bad app
    t_write w200-badapp 200 1 $CHK ba200
    mkbuf br200 200 2 9 --bad ref@1
    t_write w200-badref 200 2 $CHK br200
    t_read r200-raw 200 4 0
    if ((pi == 3)); then
        # What block 200 already holds, with PRCHK ref: accepted (not compared) or 81h.
        model_get 200 1 same200
        t_write w200-t3ref 200 1 7 same200
        t_read r200-t3ref 200 1 7
    fi
    t_read r200-wrongapp 200 1 $CHK app=$((APP ^ 0x100))
    t_read r200-maskapp 200 1 $CHK app=$((APP ^ 0x100)) mask=0xfeff
    case $pi in
    1) t_read r200-wrongref 200 1 $CHK ref=201 ;;
    2) t_read r200-wrongref 200 1 $CHK ref=$((R200 + 1)) ;;
    3) t_read r200-wrongref 200 1 $CHK ref=$((R200 ^ 1)) ;;
    esac
    t_read r200-p4 200 2 4 app=0 ref=$((R200 + 5))
    t_read r200-p2 200 2 2 ref=$((R200 + 5))

    # LBAs 210-212: bad tuples stored with PRCHK 0, then reads with different PRCHK bits.
    mkbuf nb210 210 1 10 --bad guard
    t_write w210-nochk-badguard 210 1 0 nb210
    t_read r210-p4 210 1 4
    t_read r210-p3 210 1 3
    t_read r210-p0 210 1 0
    if ((pi != 3)); then
        mkbuf nb211 211 1 11 --bad ref
        t_write w211-nochk-badref 211 1 0 nb211
        t_read r211-p1 211 1 1
        t_read r211-p6 211 1 6
    fi
    mkbuf nb212 212 1 12 --bad app
    t_write w212-nochk-badapp 212 1 0 nb212
    t_read r212-p2 212 1 2
    t_read r212-p2-mask0 212 1 2 mask=0

    # LBA 215: escape tuples disable every check, on write and on read.
    tool data 13 "$lbs" >esc.data
    if ((pi != 3)); then
        tool meta esc.data "${FMT[@]}" 0xffff "$(ref_of 215)" --extra pattern --bad guard >esc.meta
    else
        tool meta esc.data "${FMT[@]}" 0 0 --extra pattern --escape >esc.meta
        dd if=/dev/urandom of=esc.meta bs=1 count=$((pif == 0 ? 2 : 8)) seek=$((pil ? 0 : ms - ts)) conv=notrunc status=none
    fi
    t_write w215-escape 215 1 $CHK esc
    t_read r215-escape 215 1 $CHK

    # LBAs 220-223: PRACT writes (PRCHK ignored), raw and PRACT reads.
    mkbuf p220 220 2 14 --bad guard
    t_write w220-pract 220 2 8 p220
    t_read r220-raw 220 2 0
    t_read r220-pract 220 2 $((8 | CHK))
    mkbuf p222 222 2 15 --bad app
    t_write w222-pract-chk 222 2 $((8 | CHK)) p222
    t_read r222-raw 222 2 0
    t_read r222-pract-wrongapp 222 1 $((8 | CHK)) app=$((APP ^ 1))

    # Never-written blocks: one far from anything written, one next to written blocks (for 512-byte
    # blocks it shares a host filesystem block with LBAs 200-203).
    t_read r300-unwritten 300 2 $CHK
    t_read r300-unwritten-pract 300 1 $((8 | CHK))
    t_read r204-unwritten-raw 204 1 0
    t_read r204-unwritten-chk 204 1 $CHK

    # Write Zeroes over written blocks: PRACT 0/1, DEAC 0/1.
    mkbuf z230 230 2 16
    t_write w230-pre 230 2 $CHK z230
    t_wz wz230 230 2 0
    t_read r230-wz-raw 230 2 0
    t_read r230-wz-chk 230 2 $CHK
    mkbuf z232 232 2 17
    t_write w232-pre 232 2 $CHK z232
    t_wz wz232-pract 232 2 8
    t_read r232-wzp-raw 232 2 0
    t_read r232-wzp-chk 232 2 $CHK
    mkbuf z234 234 2 18
    t_write w234-pre 234 2 $CHK z234
    t_wz wz234-deac 234 2 0 deac
    t_read r234-wzd-raw 234 2 0
    t_read r234-wzd-chk 234 2 $CHK
    mkbuf z236 236 2 19
    t_write w236-pre 236 2 $CHK z236
    t_wz wz236-deac-pract 236 2 8 deac
    t_read r236-wzdp-raw 236 2 0
    t_read r236-wzdp-chk 236 2 $CHK

    # Dataset Management deallocate, reads, then a fresh write.
    mkbuf d240 240 2 20
    t_write w240-pre 240 2 $CHK d240
    t_dsm dsm240 240 2
    t_read r240-dsm-raw 240 2 0
    t_read r240-dsm-chk 240 2 $CHK
    t_read r240-dsm-pract 240 1 $((8 | CHK))
    mkbuf d240b 240 1 21
    t_write w240-after 240 1 $CHK d240b
    t_read r240-after 240 2 $CHK
}

# ns_setup / ns_report: the per-namespace hooks of diff_each_ns (differential.sh).
ns_setup() {
    ((pi >= 1 && pi <= 3)) || fail "nsid $ns: this test needs PI type 1, 2 or 3"
    case $pif in 0) ts=8 ;; 2) ts=16 ;; *) fail "nsid $ns: pif=$pif not supported by both devices" ;; esac
    ((ms >= ts)) || fail "nsid $ns: ms=$ms smaller than the tuple"
    ((pi == 3)) && CHK=6 || CHK=7
    step "nsid $ns: vnvme $vdev, QEMU $qdev: $lbs+$ms type $pi pil=$pil pif=$pif (PRCHK $CHK for the main sequence)"
    deviations=()
}
ns_report() {
    printf '%-19s %-34s %-11s %-7s %-7s %-5s %s\n' step command spec vnvme qemu bytes verdict
    printf '%s\n' "${rows[@]}"
    echo "nsid $ns ($lbs+$ms type $pi pil=$pil pif=$pif): ${#rows[@]} commands, $failures failure(s); known QEMU differences seen: ${deviations[*]:-none}"
}
diff_each_ns ns_setup ns_report
((total_fail == 0)) || fail "$total_fail command(s) where vnvme departs from the spec or the devices differ in an undocumented way (rows marked FAIL above)"
echo "pi-differential ok"
