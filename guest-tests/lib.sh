# Shared helpers for the vnvme guest tests; each test sources this file from its own directory.
# shellcheck shell=bash
#
# The harness (qemu-scripts/guest-test) exports VNVME_DEVICE, VNVME_KERNEL, VNVME_NS_COUNT,
# VNVME_NS<i> (the --ns spec as given), VNVME_NS<i>_LBS, _MS, ... (its parsed format; see ns_get),
# VNVME_NS<i>_BYTES (image file size) and VNVME_DEV<i> (the block device of nsid i). Assertions print "ASSERTION FAILED: ..." and exit 1; nothing here
# skips a test.

fail() {
    echo "ASSERTION FAILED: $*" >&2
    exit 1
}

step() {
    echo "== $*"
}

assert_eq() { # ACTUAL EXPECTED WHAT
    [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"
}

# ns_get NSID KEY: a namespace's format property (lbs, pbs, ms, mset, pi, pil, pif, sts), defaults filled
# in: guest-test has `vnvme ns-spec` parse the --ns spec on the host and exports VNVME_NS<i>_<KEY>.
ns_get() {
    local var=VNVME_NS${1}_${2^^}
    [[ -v VNVME_NS$1 ]] || fail "namespace $1 is not configured (VNVME_NS$1 unset; run with --ns)"
    [[ -v $var ]] || fail "ns_get: no property '$2' for namespace $1 ($var unset)"
    echo "${!var}"
}

# ns_require NSID WHAT KEY=VALUE...: fail with "namespace NSID must be WHAT" unless every KEY of its
# format (as ns_get reads it) has that VALUE. A test given the wrong format fails and says so.
ns_require() {
    local n=$1 what=$2 kv spec=VNVME_NS$1
    shift 2
    for kv; do
        [[ $(ns_get "$n" "${kv%%=*}") == "${kv#*=}" ]] || fail "namespace $n must be $what (needs $kv; given: '${!spec}')"
    done
}

ns_dev() {
    local var=VNVME_DEV$1
    [[ -n ${!var:-} && -b ${!var} ]] || fail "no block device for nsid $1 (VNVME_DEV$1='${!var:-}')"
    echo "${!var}"
}

ns_sysfs() {
    local dev
    dev=$(ns_dev "$1")
    echo "/sys/block/${dev#/dev/}"
}

# zone_cond DEV ZONE: the condition of zone number ZONE of the zoned block device DEV, as blkzone
# report abbreviates it (em, oi, oe, cl, fu, ro, of); zone_wp DEV ZONE: its write pointer's offset
# from the zone start, in 512-byte sectors (blkzone prints it relative), as a decimal number.
_zone_line() {
    local zsect
    zsect=$(cat "/sys/block/${1#/dev/}/queue/chunk_sectors")
    blkzone report -o $(($2 * zsect)) -c 1 "$1"
}
zone_cond() { _zone_line "$1" "$2" | sed -n 's/.*cond:[^(]*(\([a-z-]*\)).*/\1/p'; }
zone_wp() { printf '%d\n' "$(_zone_line "$1" "$2" | sed -n 's/.*wptr \(0x[0-9a-f]*\).*/\1/p')"; }

# kernel_before MAJOR MINOR: true if the running kernel is older than MAJOR.MINOR.
kernel_before() {
    local maj min
    IFS=.- read -r maj min _ <<<"$(uname -r)"
    ((maj < $1 || (maj == $1 && min < $2)))
}

# The integrity profile Linux registers for namespace NSID, from its spec: PI with a separate
# metadata buffer gets a T10/EXT-DIF profile; an extended-LBA namespace gets none (the driver has
# the controller insert and strip PI with PRACT); no metadata, no profile. Kernels before 6.12
# (seen on 6.1) use PI only when it starts the metadata or fills it: PI last in a larger metadata
# area (pil=0, ms > tuple size) gets "nop" (a metadata buffer, no PI generated or checked); 6.12
# and 7.3 register the PI profile for it.
expected_integrity_format() {
    local ms mset pi pif pil type
    ms=$(ns_get "$1" ms) mset=$(ns_get "$1" mset) pi=$(ns_get "$1" pi) pif=$(ns_get "$1" pif) pil=$(ns_get "$1" pil)
    if ((pi == 0 && ms == 0)); then
        echo none
    elif ((pi == 0)); then
        local spec=VNVME_NS$1
        fail "no expected integrity profile defined for metadata without PI (ns $1: ${!spec})"
    elif ((mset == 1)); then
        echo none
    elif ((pil == 0 && ms > (pif == 2 ? 16 : 8))) && kernel_before 6 12; then
        echo nop
    else
        ((pi == 3)) && type=3 || type=1
        case $pif in
        0) echo "T10-DIF-TYPE$type-CRC" ;;
        2) echo "EXT-DIF-TYPE$type-CRC64" ;;
        *) fail "no expected integrity profile for pif=$pif" ;;
        esac
    fi
}

drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
}

# dmesg_mark, then dmesg_assert_clean WHAT: fail if the kernel logged I/O, PI or checksum errors since.
dmesg_mark() {
    DMESG_MARK=$(dmesg | wc -l)
}
dmesg_assert_clean() {
    local bad
    bad=$(dmesg | tail -n +$((${DMESG_MARK:-0} + 1)) |
        grep -E -i 'I/O error|protection error|guard tag error|ref tag error|app tag error|csum failed|checksum error|corrupt|metadata I/O' || true)
    [[ -z $bad ]] || fail "$1: kernel logged errors:
$bad"
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}

# pi_tool ARGS...: guest-tests/pi_tool.py, the one PI implementation (python3 builtins only; the harness
# copies it beside lib.sh). Its docstring lists the commands (meta, ext, check, check-ext, guard, ...).
VNVME_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # absolute: tests cd into work directories
pi_tool() {
    [[ -f $VNVME_LIB_DIR/pi_tool.py ]] || fail "pi_tool: $VNVME_LIB_DIR/pi_tool.py not found (it travels beside lib.sh)"
    python3 "$VNVME_LIB_DIR/pi_tool.py" "$@"
}

# scn ARGS...: the scenarios' helper guest-tests/scenarios/scn.py (it travels beside lib.sh).
scn() {
    python3 "$VNVME_LIB_DIR/scn.py" "$@"
}

# pi_py ARGS...: the 16-bit guard, type 1 shorthands of pi_tool for the older tests.
#   pi_py selftest                          pi_tool's self-test (CRC-16/T10-DIF("123456789") == 0xd0db, ...)
#   pi_py crc16 FILE                        print the CRC-16/T10-DIF of FILE as 0xXXXX
#   pi_py meta DATA LBS MS PIL APP REF [GUARD_XOR]
#                                           write to stdout the separate metadata for DATA: one MS-byte
#                                           record per LBS-byte block, holding a type 1 tuple (guard,
#                                           app tag, ref tag + block index, big endian) in its last 8
#                                           bytes (PIL=0; the guard then also covers the zero metadata
#                                           bytes before it) or first 8 bytes (PIL=1); a non-zero
#                                           GUARD_XOR spoils the guard
#   pi_py check-ext BUF LBS MS APP REF      check the tuples inside an extended-LBA buffer (data+PI per
#                                           block, PI in the last 8 bytes of the metadata), all three
#                                           fields, an escape tuple included
pi_py() {
    local cmd=${1:-}
    shift || true
    case $cmd in
    selftest) pi_tool selftest ;;
    crc16) pi_tool guard 0 "$1" ;;
    meta)
        local bad=()
        (($# < 7)) || (($7 == 0)) || bad=(--bad guard)
        pi_tool meta "$1" "$2" "$3" "$4" 0 1 "$5" "$6" "${bad[@]}"
        ;;
    check-ext) pi_tool check-ext "$1" "$2" "$3" 0 0 1 "$4" "$5" --no-escape ;;
    *) fail "pi_py: unknown command '$cmd'" ;;
    esac
}

# named_pattern: for pattern-write.TAG.sh / pattern-check.TAG.sh (test-image-moves.sh copies them under
# those names): the TAG from the running script's name into PATTERN_TAG, and the 16 MiB pattern it
# names into ./pat.
named_pattern() {
    local name=${0##*/}
    name=${name%.sh}
    PATTERN_TAG=${name#*.}
    [[ $name == *.* && -n $PATTERN_TAG ]] || fail "run as $name.TAG.sh (the pattern tag is in the file name)"
    { yes "vnvme-image-$PATTERN_TAG" || true; } | head -c 16M >pat
}

# fio_terse_check MIB: a finished fio write+verify run (fio.terse, terse v3; fio.err) is clean: no
# error output, error code 0, MIB MiB written and read back by the verify phase; prints the summary.
fio_terse_check() {
    [[ ! -s fio.err ]] || { cat fio.err; fail "fio printed errors"; }
    # terse v3: field 5 = error, 6 = KiB read (the verify phase), 47 = KiB written.
    awk -F';' '{ printf "fio: error %s, read %s KiB, written %s KiB\n", $5, $6, $47 }' fio.terse
    assert_eq "$(awk -F';' '{ print $5 }' fio.terse)" 0 "fio error code"
    assert_eq "$(awk -F';' '{ print $47 }' fio.terse)" "$(($1 * 1024))" "KiB written by fio"
    assert_eq "$(awk -F';' '{ print $6 }' fio.terse)" "$(($1 * 1024))" "KiB read back by fio's verify phase"
}

# fio_verify_bg NAME MIB: start fio writing MIB MiB at random on namespace 1 at QD16 (blocks of the
# namespace's size, 4 KiB at least) and verifying them (crc32c), in the background; FIO_PID is its pid,
# fio.terse and fio.err its output. fio_verify_wait MIB WHAT: wait for it; it must end clean with all
# MIB MiB verified (WHAT says across what, in the messages).
fio_verify_bg() {
    local dev lbs
    dev=$(ns_dev 1) lbs=$(ns_get 1 lbs)
    fio --name="$1" --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 \
        --rw=randwrite --bs=$((lbs > 4096 ? lbs : 4096)) --size="$2M" --verify=crc32c --do_verify=1 --verify_fatal=1 \
        --randrepeat=0 --output-format=terse --terse-version=3 >fio.terse 2>fio.err &
    FIO_PID=$!
}
fio_verify_wait() {
    wait "$FIO_PID" || { cat fio.err fio.terse; dmesg | tail -n 30; fail "fio failed $2"; }
    assert_eq "$(awk -F';' '{ print $5 }' fio.terse)" 0 "fio error code"
    assert_eq "$(awk -F';' '{ print $6 }' fio.terse)" "$(($1 * 1024))" "KiB verified $2"
}

# long_or SHORT LONG: SHORT, or LONG when the run is the long series (test-all --long exports VNVME_LONG=1).
long_or() {
    if [[ ${VNVME_LONG:-0} == 1 ]]; then echo "$2"; else echo "$1"; fi
}

# ns1_regions MIB: how many MIB-MiB regions namespace 1 holds (data bytes, 64 at most; fails below 4).
ns1_regions() {
    local n
    n=$(((VNVME_NS1_BYTES / ($(ns_get 1 lbs) + $(ns_get 1 ms)) * $(ns_get 1 lbs)) / ($1 << 20)))
    ((n > 64)) && n=64
    ((n >= 4)) || fail "namespace 1 too small: $n regions of $1 MiB"
    echo "$n"
}

# find_ns1 STEP: wait (30 s at most) until nsid 1 has a block device on a live controller, after a rescan
# or a re-plug, and set DEV (/dev/nvme...), CTRL (nvmeX) and PCIFN (its PCI function); fails naming STEP,
# with what sysfs shows.
find_ns1() {
    local d t
    for ((t = 0; t < 300; t++)); do
        for d in /sys/block/nvme*n*; do
            [[ -r $d/nsid && $(<"$d/nsid") == 1 && -b /dev/${d##*/} ]] || continue
            DEV=/dev/${d##*/}
            CTRL=$(basename "$(readlink -f "$d/device")")
            PCIFN=$(basename "$(readlink -f "/sys/class/nvme/$CTRL/device")")
            [[ $(cat "/sys/class/nvme/$CTRL/state" 2>/dev/null) == live ]] && return 0
        done
        sleep 0.1
    done
    for d in /sys/block/nvme*n* /sys/class/nvme/*; do
        [[ -e $d ]] || continue
        echo "  $d: nsid $(cat "$d/nsid" 2>&1), device -> $(readlink "$d/device" 2>&1), state $(cat "$d/state" 2>&1)"
    done
    ls -l /dev/nvme* || true
    dmesg | tail -n 15
    fail "step '$1': namespace 1 did not come back (live) within 30 s"
}

# fs_roundtrip FSTYPE: mkfs on namespace 1, mount, write files, drop caches, read back and compare
# sha256; then unmount, check the filesystem, remount and compare again.
fs_roundtrip() {
    local fs=$1 dev mnt=/mnt/vnvme-$1 i
    dev=$(ns_dev 1)
    dmesg_mark
    head -c 24M /dev/urandom >big.bin
    for i in $(seq 1 50); do head -c $((i * 1371)) /dev/urandom >"small.$i"; done
    # Give every block valid PI first (Write Zeroes, which the driver sends with PRACT), and keep mkfs
    # from discarding: on QEMU's device a never-written block next to written ones can read back with
    # a zero ref tag and fail with sc 0x84 (docs/guest-lab.md, "never-written blocks"), which would
    # fail fsck for reasons unrelated to the filesystem. -f: blkdiscard's signature probe would read
    # such a block.
    step "blkdiscard -z $dev (valid PI everywhere)"
    blkdiscard -f -z "$dev" >blkdiscard.out 2>&1 || { cat blkdiscard.out; fail "blkdiscard -f -z $dev failed"; }
    step "mkfs.$fs $dev"
    case $fs in
    ext4) mkfs.ext4 -q -F -E nodiscard "$dev" ;;
    xfs) mkfs.xfs -q -f -K "$dev" ;;
    btrfs) mkfs.btrfs -q -f -K "$dev" ;;
    *) fail "fs_roundtrip: unknown filesystem $fs" ;;
    esac
    mkdir -p "$mnt"
    mount -t "$fs" "$dev" "$mnt" || fail "mount -t $fs $dev failed"
    step "write 24 MiB + 50 small files"
    cp big.bin small.* "$mnt/"
    dd if=big.bin of="$mnt/direct.bin" bs=1M oflag=direct status=none || fail "O_DIRECT write on $fs failed"
    sha256sum big.bin small.* >sums
    sed 's/big.bin$/direct.bin/;t;d' sums >sums.direct
    step "drop caches, read back"
    drop_caches
    (cd "$mnt" && sha256sum --quiet -c "$OLDPWD/sums" && sha256sum --quiet -c "$OLDPWD/sums.direct") ||
        fail "$fs: data read back after drop_caches differs from what was written"
    umount "$mnt"
    step "fsck"
    case $fs in
    ext4) e2fsck -f -n "$dev" >fsck.log 2>&1 || { cat fsck.log; fail "e2fsck reports problems"; } ;;
    xfs) xfs_repair -n "$dev" >fsck.log 2>&1 || { cat fsck.log; fail "xfs_repair -n reports problems"; } ;;
    btrfs) btrfs check --readonly "$dev" >fsck.log 2>&1 || { cat fsck.log; fail "btrfs check reports problems"; } ;;
    esac
    step "remount, read back again"
    drop_caches
    mount -t "$fs" "$dev" "$mnt" || fail "second mount -t $fs $dev failed"
    (cd "$mnt" && sha256sum --quiet -c "$OLDPWD/sums" && sha256sum --quiet -c "$OLDPWD/sums.direct") ||
        fail "$fs: data read back after remount differs from what was written"
    umount "$mnt"
    dmesg_assert_clean "$fs round trip"
    echo "$fs round trip ok on $dev ($(ns_get 1 lbs)+$(ns_get 1 ms), integrity: $(cat "$(ns_sysfs 1)/integrity/format"))"
}

# The device's control plane, from inside the guest (guest-test --control relays to the host):
#   vctl ARGS...            `vnvme ctl ARGS...` on the host against this VM's server; prints its
#                           output, returns its exit status
#   vctl_bg NAME ARGS...    start `vnvme ctl ARGS...` (a trace) in the background; returns once it
#                           is subscribed
#   vctl_stop NAME          stop it and print everything it printed
# The request/reply files follow qemu-scripts/ctl-relay.sh's protocol (ID.req in; ID.out, then ID.rc out).
_vctl_req() {
    local verb=$1 id f t
    shift
    [[ ${VNVME_CONTROL:-0} == 1 && -d /host/ctl ]] || fail "no control relay (run guest-test with --control)"
    id=$(date +%s%N)-$$-$RANDOM
    f=/host/ctl/$id
    printf '%s\n' "$verb" "$@" >"$f.tmp"
    mv -- "$f.tmp" "$f.req"
    for ((t = 0; t < 1500; t++)); do
        [[ -e $f.rc ]] && break
        sleep 0.05
    done
    [[ -e $f.rc ]] || fail "control relay did not answer within 75 s (vnvme ctl $*)"
    cat -- "$f.out"
    t=$(<"$f.rc")
    rm -f -- "$f.out" "$f.rc"
    return "$t"
}
vctl() { _vctl_req run "$@"; }
# vctl_fault_add RULE: add a fault rule; prints its id (for `vctl fault del ID`).
vctl_fault_add() {
    vctl --json fault add "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
vctl_bg() { local name=$1; shift; _vctl_req "bg:$name" "$@" >/dev/null || fail "could not start vnvme ctl $* in the background"; }
vctl_stop() { _vctl_req "stop:$1"; }
# vhotplug del|add: (guest-test --hotplug) QEMU's monitor unplugs the vfio-user device (answered once QEMU
# has let it go, i.e. the guest ejected it) or plugs it back in behind the same root port.
vhotplug() { _vctl_req "hotplug:$1"; }

# btrfs_sector FILE OFFSET DEVICE: the 512-byte sector of DEVICE that holds byte OFFSET of FILE on a
# mounted btrfs (for a RAID1 file, the copy on DEVICE): filefrag gives the btrfs logical address,
# btrfs-map-logical the device and physical offset. Prints nothing if DEVICE holds no copy.
btrfs_sector() {
    local file=$1 off=$2 dev=$3 logical
    # filefrag -v -b512 lines: "ext: logical_offset.. : physical_offset.. : length" in 512-byte units.
    logical=$(filefrag -v -b512 "$file" | awk -v o=$((off / 512)) -F'[ :.]+' '
        $2 ~ /^[0-9]+$/ && $3 <= o && o <= $4 { print ($5 + o - $3) * 512; exit }')
    [[ -n $logical ]] || fail "no extent of $file covers offset $off: $(filefrag -v -b512 "$file")"
    btrfs-map-logical -l "$logical" -b 4096 "$dev" >btrfs-map.out 2>/dev/null || { cat btrfs-map.out; fail "btrfs-map-logical -l $logical $dev"; }
    awk -v d="$dev" '$1 == "mirror" && $NF == d { print $6 / 512; exit }' btrfs-map.out
}

# slice FILE OFFSET LEN OUT: LEN bytes of FILE from byte OFFSET into OUT. Not `tail -c | head -c`: under
# pipefail, a head that exits while tail is still writing ends the script with SIGPIPE (exit 141), or not,
# depending on timing (pi-diff-4k failed so once under TCG).
slice() {
    dd if="$1" of="$4" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=65536 status=none
}
