#!/bin/bash
# Crash consistency: `vnvme serve` killed with SIGKILL while a guest writes loses no acknowledged
# block and leaves no block whose data and PI disagree.
#
# Usage: qemu-scripts/test-crash.sh [--kernel old|lts|new] [--rounds N] [--seed N]
#
# Two PI namespaces on images that persist across the series: 512+8 Type 1 (CRC-16 guard) and
# 4096+16 Type 1 (CRC-64 guard), both with separate metadata, so the kernel's integrity profile
# generates PI on writes and verifies it on reads (and asks the controller to check it too).
# One VM per kill (guest-tests/crash-round.sh, crash_io.py): VM 0 fills both regions of each
# namespace and starts round 1's writers; VM k checks what round k left and starts round k+1's;
# the last VM only checks. The writers: crash_io.py write (versioned blocks; it logs each completed
# write and each completed flush to the 9p share) and fio randwrite with crc32c verify headers
# (fsync every 8 writes on namespace 1, O_SYNC/FUA on namespace 2). A random 0.3-4 s after every
# writer has completed a batch, the server gets SIGKILL and the VM is stopped; the next VM starts a
# new server on the same images. Every third round runs the server with --no-write-cache.
# A round passes when, read back with the kernel's PI verification on:
#   - every block acknowledged before a completed flush (without a write cache: every completed
#     write) holds its version or a later one ("lost" otherwise);
#   - every versioned block is one whole version of its LBA ("torn" otherwise), every fio unit one
#     whole fio block (fio --verify_only);
#   - no read fails ("PI errors": the kernel logs nothing, the server counted no PI check failure).
# Before the last VM the host tears one versioned block per namespace itself, as a kill between
# the data and the metadata write would (one data byte changed in the image, PI kept): the last
# check must find exactly those, so a series that passes has shown that its check sees a tear.
# Rounds: 5, or 50 with VNVME_LONG=1 (exported by test-all --long); --rounds overrides.
# Prints per round the kill time and the figures, PASS/FAIL crash/STEP, a summary line and
# "N passed, N failed". Work directory (images, logs) kept on failure.
set -euo pipefail
# Parse the whole script before running it (a block), so editing the file during a run is safe.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
LAB_PROG=test-crash
# shellcheck source=common.sh
. "$here/common.sh"
kernel=lts rounds="" seed=""
while (($#)); do
    case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    *) lab_die "unknown argument '$1'" ;;
    esac
done
[[ -n $rounds ]] || { [[ ${VNVME_LONG:-0} == 1 ]] && rounds=50 || rounds=5; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || lab_die "--rounds must be a positive number, not '$rounds'"
seed=${seed:-$((RANDOM * 32768 + RANDOM))}
[[ $seed =~ ^[0-9]+$ ]] || lab_die "--seed must be a number, not '$seed'"
RANDOM=$seed

specs=(lbs=512,ms=8,mset=0,pi=1 lbs=4096,ms=16,mset=0,pi=1,pif=2)
own_blocks=2048 # crash-round.sh's versioned region, per namespace
mkdir -p "$LAB/runs"
work=$(mktemp -d "$LAB/runs/crash.XXXXXX")
gpid=""
stop_vm() { # SIGKILL the VM's server (if still up), then end guest-test (it stops QEMU)
    [[ -n $gpid ]] || return 0
    if [[ -n ${run:-} && -r $run/server.pid ]]; then kill -KILL "$(<"$run/server.pid")" 2>/dev/null || true; fi
    kill -TERM "$gpid" 2>/dev/null || true
    wait "$gpid" 2>/dev/null || true
    gpid=""
}
passed=0 failed=0
lab_guard # an unexpected failure names its command and step
trap 'st=$?; stop_vm; if ((failed == 0 && st == 0)); then rm -rf "$work"; fi; lab_on_exit $st' EXIT
ns_args=()
for i in "${!specs[@]}"; do
    truncate -s 64M "$work/ns$((i + 1)).img"
    ns_args+=(--ns "${specs[i]},image=$work/ns$((i + 1)).img")
done
cache_of() { (($1 % 3 == 0)) && echo 0 || echo 1; } # round -> 1: write cache, 0: --no-write-cache

pass() { echo "PASS crash/$1"; passed=$((passed + 1)); }
fail_step() { # STEP WHY [LOG]: one failure; with LOG, its tail
    echo "FAIL crash/$1 ($2)"
    failed=$((failed + 1))
    [[ -z ${3:-} || ! -r $3 ]] || tail -n 25 "$3" | sed 's/^/    /'
}
# wait_for FILE SECONDS: until FILE exists (true) or guest-test ended or time ran out (false).
wait_for() {
    local t
    for ((t = 0; t < $2 * 10; t++)); do
        [[ -e $1 ]] && return 0
        kill -0 "$gpid" 2>/dev/null || { [[ -e $1 ]]; return; }
        sleep 0.1
    done
    return 1
}
# harness_fail STEP WHY: a VM did not get where it had to; the series ends here.
harness_fail() {
    fail_step "$1" "$2; guest-test output: $work/vm$vm.out" "$work/vm$vm.out"
    [[ -z ${run:-} ]] || { echo "    guest log:"; tail -n 15 "$run/share/logs/crash-round.sh.log" 2>/dev/null | sed 's/^/    /'; }
    stop_vm
    echo "work: $work (kept)"
    echo "$passed passed, $failed failed"
    lab_reported
    exit 1
}

# merge_acks NS ROUND CACHE: fold round ROUND's writer log into acked-nsNS (LBA -> newest acknowledged
# version) and unflushed-nsNS (LBA -> newest completed, never flushed version); prints
# "WRITES ACKED_WRITES BLOCKS_ACKED_THIS_ROUND UNFLUSHED_WRITES".
merge_acks() {
    local n=$1 acked=$work/acked-ns$1
    touch "$acked"
    awk -v r="$2" -v wc="$3" -v acked="$acked" -v unfl="$work/unflushed-ns$1" '
        BEGIN { while ((getline l < acked) > 0) { split(l, a, " "); v[a[1]] = a[2] " " a[3] } }
        $1 == "C" && NF == 4 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ && $4 ~ /^[1-4]$/ { n++; cs[n] = $2; cl[n] = $3; cc[n] = $4; next }
        $1 == "F" && NF == 2 && $2 ~ /^[0-9]+$/ { lastf = $2 }
        END {
            printf "" > unfl
            for (k = 1; k <= n; k++) {
                if (wc && cs[k] > lastf + 0) {
                    unflushed++
                    for (j = 0; j < cc[k]; j++) u[cl[k] + j] = r " " cs[k]
                    continue
                }
                acks++
                for (j = 0; j < cc[k]; j++) { v[cl[k] + j] = r " " cs[k]; mine[cl[k] + j] = 1 }
            }
            printf "" > (acked ".new")
            for (l in v) print l, v[l] > (acked ".new")
            for (l in u) print l, u[l] > unfl
            nb = 0
            for (l in mine) nb++
            print n + 0, acks + 0, nb, unflushed + 0
        }' "$run/share/crash/acks-ns$n.log"
    mv "$acked.new" "$acked"
}

# judge NS [PLANTED_LBA]: compare the check of namespace NS with what was acknowledged; prints
# "LINES CHECKED LOST TORN PIERR UNFLUSHED_BLOCKS UNFLUSHED_HELD PLANTED_FOUND" and lists problems on
# stderr. A read failure at PLANTED_LBA is the planted tear found, not a PI error.
judge() {
    awk -v acked="$work/acked-ns$1" -v unfl="$work/unflushed-ns$1" -v planted="${2:--1}" '
        function older(a, b, x, y) { split(a, x, " "); split(b, y, " "); return x[1] + 0 < y[1] + 0 || (x[1] == y[1] && x[2] + 0 < y[2] + 0) }
        BEGIN {
            while ((getline l < acked) > 0) { split(l, a, " "); v[a[1]] = a[2] " " a[3] }
            while ((getline l < unfl) > 0) { split(l, a, " "); u[a[1]] = a[2] " " a[3] }
        }
        { lines++ }
        $2 == "ERR" && $1 == planted { found++; next }
        $1 == planted { print "    LBA " $1 ": the planted tear read back without an error: " $0 > "/dev/stderr" }
        $2 == "ERR" { pierr++; print "    LBA " $1 ": read failed, errno " $3 > "/dev/stderr"; next }
        $2 == "BAD" { torn++; print "    LBA " $1 ": not one whole version: " $3 > "/dev/stderr"; next }
        {
            have = $2 " " $3
            if ($1 in v) {
                if (older(have, v[$1])) { lost++; print "    LBA " $1 ": holds version " have ", acknowledged " v[$1] > "/dev/stderr" }
                else checked++
            }
            if ($1 in u) { ub++; if (!older(have, u[$1])) uh++ }
        }
        END { print lines + 0, checked + 0, lost + 0, torn + 0, pierr + 0, ub + 0, uh + 0, found + 0 }' "$run/share/crash/check-ns$1.txt"
}
kv() { sed -n "s/^$1=//p" "$run/share/crash/check.txt"; }
# ctl_count STATS_JSON OPCODE: successful commands of OPCODE, summed over the namespaces.
ctl_count() {
    { grep -o "\"count\":[0-9]*,\"opcode\":\"$2\",\"status\":\"0x000\"" <<<"$1" || true; } | awk -F'[:,]' '{ s += $2 } END { print s + 0 }'
}

tot_checked=0 tot_lost=0 tot_torn=0 tot_pierr=0 tot_fio=0 tot_fio_bad=0 kills=0 nowc_rounds=0
kill_min="" kill_max=""
declare -a round_acks=() planted=()
t_series=$(lab_now)
echo "crash: $rounds rounds, seed $seed, kernel $kernel, namespaces ${specs[*]} (work: $work)"
for ((vm = 0; vm <= rounds; vm++)); do
    wround=$((vm < rounds ? vm + 1 : 0))
    wc=$(cache_of "$((wround ? wround : 1))")
    dir=$work/vm$vm
    mkdir -p "$dir"
    cp "$repo/guest-tests/crash-round.sh" "$repo/guest-tests/crash_io.py" "$repo/guest-tests/pi_tool.py" "$repo/guest-tests/lib.sh" "$dir/"
    printf 'CRASH_FILL=%d CRASH_CHECK=%d CRASH_ROUND=%d CRASH_WRITE_CACHE=%d\n' $((vm == 0)) $((vm > 0)) "$wround" "$wc" >"$dir/crash-params.sh"
    serve_args=()
    ((wc)) || serve_args+=(--serve-arg --no-write-cache)
    rm -f "$work/run-file"
    run=""
    t_vm=$(lab_now)
    "$here/guest-test" --device vnvme --kernel "$kernel" --control --timeout 900 --run-file "$work/run-file" \
        "${ns_args[@]}" "${serve_args[@]}" "$dir/crash-round.sh" >"$work/vm$vm.out" 2>&1 </dev/null &
    gpid=$!
    step=$( ((vm == 0)) && echo fill || echo "round-$vm-check")
    lab_step "$step"
    wait_for "$work/run-file" 300 || harness_fail "$step" "guest-test did not create its run directory"
    run=$(<"$work/run-file")
    # VM 0's guest-test builds the binary (it is up once the guest runs); the other VMs skip cargo.
    export VNVME_SERVER=${VNVME_SERVER:-$repo/target/release/vnvme}

    if ((vm == 0)); then
        wait_for "$run/share/crash/filled" 300 || harness_fail fill "the guest did not fill the regions"
        pass fill
    else
        wait_for "$run/share/crash/checked" 300 || harness_fail "$step" "the guest did not finish the check"
        r=$vm
        bad=0
        echo "round $r/$rounds ($( (($(cache_of "$r"))) && echo "write cache" || echo "--no-write-cache"), killed ${kill_s}s into the writes; its server had completed $round_writes writes and $round_flushes flushes since the VM started)"
        for i in "${!specs[@]}"; do
            n=$((i + 1))
            read -r writes acks blocks unflushed <<<"${round_acks[n]}"
            read -r lines checked lost torn pierr ub uh found < <(judge "$n" "${planted[n]:-}" 2>"$work/judge.err")
            fio_units=$(kv "ns${n}_fio_units") fio_unread=$(kv "ns${n}_fio_unreadable") fio_vfail=$(kv "ns${n}_fio_verify_failures")
            line="    ns$n (${specs[i]}): $checked acknowledged blocks checked ($blocks acknowledged in this round by $acks of $writes logged writes), $lost lost"
            ((unflushed == 0)) || line+="; $unflushed writes completed but not flushed ($ub blocks, $uh hold the new data)"
            line+="; $torn torn, $pierr PI errors; fio: $fio_units units, $fio_unread unreadable, $fio_vfail verify failures"
            echo "$line"
            head -n 20 "$work/judge.err"
            [[ ! -s $run/share/crash/torn-ns$n.txt ]] || head -n 20 "$run/share/crash/torn-ns$n.txt" | sed 's/^/    /'
            if [[ -n ${planted[n]:-} ]]; then
                if ((found)); then
                    echo "    ns$n: the planted tear at LBA ${planted[n]} was found (its read failed)"
                else
                    echo "    ns$n: the planted tear at LBA ${planted[n]} was NOT found: the check cannot see a torn block"
                    bad=1
                fi
            fi
            ((lines == own_blocks)) || { echo "    ns$n: the check covered $lines blocks, not $own_blocks"; bad=1; }
            ((lost + torn + pierr + fio_unread + fio_vfail == 0)) || bad=1
            tot_checked=$((tot_checked + checked)) tot_lost=$((tot_lost + lost)) tot_torn=$((tot_torn + torn + fio_vfail))
            tot_pierr=$((tot_pierr + pierr + fio_unread)) tot_fio=$((tot_fio + fio_units)) tot_fio_bad=$((tot_fio_bad + fio_unread + fio_vfail))
        done
        kel=$(kv kernel_error_lines) spf=$(kv server_pi_failures)
        echo "    kernel I/O or PI error lines during the check: $kel; the server's PI check failures: $spf"
        if ((${#planted[@]})); then
            ((kel > 0 && spf > 0)) || { echo "    the planted tears left no kernel error line or no server PI failure"; bad=1; }
        else
            ((kel == 0 && spf == 0)) || bad=1
        fi
        if ((bad)); then
            fail_step "round-$r" "see the figures above; check VM: $run"
            cp -r "$run/share/crash" "$work/round-$r-check"
        else
            pass "round-$r"
        fi
    fi

    if ((wround)); then
        lab_step "round-$wround-write"
        wait_for "$run/share/crash/writing" 120 || harness_fail "round-$wround-write" "the writers did not start"
        ms=$((300 + RANDOM % 3701))
        sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
        kill_s=$((ms / 1000)).$(printf '%02d' $((ms % 1000 / 10)))
        stats=""
        [[ -S $run/ctl.sock ]] && stats=$(timeout 5 "$VNVME_SERVER" ctl --control "$run/ctl.sock" --json stats 2>/dev/null || true)
        kill -KILL "$(<"$run/server.pid")"
        kills=$((kills + 1))
        [[ -n $kill_min ]] && ((ms >= kill_min)) || kill_min=$ms
        [[ -n $kill_max ]] && ((ms <= kill_max)) || kill_max=$ms
        ((wc)) || nowc_rounds=$((nowc_rounds + 1))
        round_writes=$(ctl_count "$stats" write) round_flushes=$(ctl_count "$stats" flush)
        sleep 0.5 # QEMU and the guest see the device go; nothing they do now reaches the images
        stop_vm
        for i in "${!specs[@]}"; do round_acks[i + 1]=$(merge_acks $((i + 1)) "$wround" "$wc"); done
        cp -r "$run/share/crash" "$work/round-$wround-write"
        if ((wround == rounds)); then
            # The detector's own check: the last check must find one torn block per namespace,
            # made here as a crash between the two writes would make it (data changed, PI kept).
            for i in "${!specs[@]}"; do
                lbs=$(sed -n 's/.*lbs=\([0-9]*\).*/\1/p' <<<"${specs[i]}")
                planted[i + 1]=$(((1 << 20) / lbs + RANDOM % own_blocks))
                printf X | dd of="$work/ns$((i + 1)).img" bs=1 seek=$((planted[i + 1] * lbs + 4)) conv=notrunc status=none
            done
        fi
    else
        wait "$gpid" && st=0 || st=$?
        gpid=""
        if ((st == 0)); then pass final-vm; else fail_step final-vm "guest-test exit $st; output: $work/vm$vm.out" "$work/vm$vm.out"; fi
    fi
    echo "    (VM $vm: $(lab_elapsed "$t_vm" "$(lab_now)"))"
done
echo "crash: $rounds rounds ($nowc_rounds with --no-write-cache), $kills kills at $((kill_min / 1000)).$(printf '%03d' $((kill_min % 1000)))-$((kill_max / 1000)).$(printf '%03d' $((kill_max % 1000))) s into the writes; $tot_checked acknowledged blocks checked, $tot_lost lost, $tot_torn torn, $tot_pierr PI errors; $tot_fio fio units verified, $tot_fio_bad bad; $(lab_elapsed "$t_series" "$(lab_now)") (seed $seed)"
((failed == 0)) || echo "work: $work (kept)"
echo "$passed passed, $failed failed"
lab_reported
((failed == 0))
}
