#!/bin/bash
# VMs come and go: one `vnvme serve` (no --once) outlives many QEMUs on the same socket and image; the data
# stays intact and the server leaks no fds, threads or mappings.
#
# Usage: qemu-scripts/test-vm-lifecycle.sh [--kernel old|lts|new] [--rounds N] [--long]
#
# The test starts the server itself (PI namespace 512+8, Type 1, separate metadata, on a fresh image) and
# boots N VMs (default 3; --long or VNVME_LONG=1: 20) one after the other with `guest-test --attach`, then
# one more that only checks:
#   round r: the guest checks pattern r-1 (the first 16 MiB, PI verified by the block layer), writes
#            pattern r (O_DIRECT, fsync) and then, on odd rounds, keeps fio writing further on until QEMU
#            is SIGKILLed (guest-test --kill-at), or, on even rounds, powers off cleanly.
# After each VM the server must still run and must have seen the client go; then its open fds
# (/proc/PID/fd), threads (/proc/PID/task) and mappings (/proc/PID/maps lines) are counted: from round 2
# on none may exceed its round-2 value. One PASS/FAIL per round and for the leak check, each naming the
# failing step; ends with "N passed, N failed".
set -euo pipefail
{
LAB_PROG=test-vm-lifecycle
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=common.sh
. "$here/common.sh"
lab_guard
kernel=lts
rounds=3
[[ ${VNVME_LONG:-0} == 1 ]] && rounds=20
while (($#)); do
    case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --long) rounds=20; shift ;;
    *) lab_die "unknown argument '$1'" ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] && ((rounds >= 3)) || lab_die "--rounds must be 3 or more (the leak check compares rounds from 2 on)"

lab_step "build"
cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
(cd "$repo" && "$cargo" build --release --quiet) || lab_die "cargo build --release failed"
server_bin=${VNVME_SERVER:-$repo/target/release/vnvme}

lab_step "server start"
work=$(mktemp -d "$LAB/runs/vm-lifecycle.XXXXXX")
SPID=""
finish() {
    local st=$?
    if [[ -n $SPID ]] && kill -0 "$SPID" 2>/dev/null; then
        kill -TERM "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
    rm -f "$work"/*.img "$work"/*.img.ids
    lab_on_exit "$st"
}
trap finish EXIT
props=lbs=512,ms=8,mset=0,pi=1
img=$work/life.img
truncate -s 256M "$img"
sock=$work/vnvme.sock
"$server_bin" serve --socket "$sock" --ns "path=$img,$props" >"$work/server.log" 2>&1 </dev/null &
SPID=$!
for ((t = 0; t < 100; t++)); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { tail "$work/server.log"; lab_die "the server made no socket $sock in 10 s"; }
echo "server: pid $SPID, $sock (log: $work/server.log)"

cp "$repo/guest-tests/lib.sh" "$repo/guest-tests/io-until-killed.sh" "$work/"
for ((r = 1; r <= rounds; r++)); do
    cp "$repo/guest-tests/pattern-write.sh" "$work/pattern-write.r$r.sh"
    cp "$repo/guest-tests/pattern-check.sh" "$work/pattern-check.r$r.sh"
done

passed=0 failed=0
counts=()
disconnects() { grep -c 'client disconnected' "$work/server.log" || true; }
for ((r = 1; r <= rounds + 1; r++)); do
    scripts=()
    ((r > 1)) && scripts+=("$work/pattern-check.r$((r - 1)).sh")
    mode=check
    if ((r <= rounds)); then
        scripts+=("$work/pattern-write.r$r.sh")
        if ((r % 2)); then mode=kill; scripts+=("$work/io-until-killed.sh"); else mode=poweroff; fi
    fi
    kill_args=()
    [[ $mode == kill ]] && kill_args=(--kill-at VNVME-KILL-ME)
    lab_step "round $r ($mode)"
    before=$(disconnects)
    st=0
    t0=$(lab_now)
    "$here/guest-test" --device vnvme --kernel "$kernel" --attach "$sock" --ns "$props,image=$img" --timeout 600 \
        "${kill_args[@]}" "${scripts[@]}" >"$work/round-$r.out" 2>&1 || st=$?
    t=$(lab_elapsed "$t0" "$(lab_now)")
    why=""
    ((st == 0)) || why="guest-test exited with status $st"
    if [[ -z $why && $mode == kill ]] && ! grep -q '^vm-kill:' "$work/round-$r.out"; then why="QEMU was not killed"; fi
    # The server notices the client going (socket closed) and stays up.
    for ((t2 = 0; t2 < 100; t2++)); do (($(disconnects) > before)) && break; sleep 0.1; done
    if [[ -z $why ]] && ! kill -0 "$SPID" 2>/dev/null; then why="the server exited"; fi
    if [[ -z $why ]] && (($(disconnects) <= before)); then why="the server did not see the client go within 10 s"; fi
    if [[ -z $why ]]; then
        sleep 0.5 # let the connection's threads finish
        fds=$(find "/proc/$SPID/fd" -mindepth 1 -maxdepth 1 | wc -l)
        threads=$(find "/proc/$SPID/task" -mindepth 1 -maxdepth 1 | wc -l)
        maps=$(wc -l <"/proc/$SPID/maps")
        counts[r]="$fds $threads $maps"
        echo "PASS vm-lifecycle/round-$r ($mode, $t; server: fds $fds, threads $threads, maps $maps)"
        passed=$((passed + 1))
    else
        echo "FAIL vm-lifecycle/round-$r ($mode): step 'round $r ($mode)': $why (output: $work/round-$r.out)"
        grep -E '^(PASS|FAIL|vm|run)' "$work/round-$r.out" | sed 's/^/    /' || true
        tail -n 5 "$work/server.log" | sed 's/^/    server: /'
        failed=$((failed + 1))
        kill -0 "$SPID" 2>/dev/null || break
    fi
done

lab_step "leak check"
read -r fd2 th2 mp2 <<<"${counts[2]:-x x x}"
grew=""
for ((r = 3; r <= rounds + 1; r++)); do
    [[ -n ${counts[r]:-} && $fd2 != x ]] || { grew+=" round $r not measured;"; continue; }
    read -r fd th mp <<<"${counts[r]}"
    ((fd <= fd2)) || grew+=" round $r fds $fd > $fd2;"
    ((th <= th2)) || grew+=" round $r threads $th > $th2;"
    ((mp <= mp2)) || grew+=" round $r maps $mp > $mp2;"
done
series=""
for ((r = 1; r <= rounds + 1; r++)); do series+=" ${counts[r]:-?}/"; done
if [[ -z $grew ]]; then
    echo "PASS vm-lifecycle/no-leak ($((rounds + 1)) VMs; fds threads maps after each:${series%/})"
    passed=$((passed + 1))
else
    echo "FAIL vm-lifecycle/no-leak:$grew (fds threads maps after each:${series%/})"
    failed=$((failed + 1))
fi
echo "kernel: $kernel, rounds: $rounds (+1 check), server log: $work/server.log"
echo "$passed passed, $failed failed"
lab_reported
exit $((failed == 0 ? 0 : 1))
}
