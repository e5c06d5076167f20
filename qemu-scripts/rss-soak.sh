#!/bin/bash
# Memory of `vnvme serve` under a long load: does its resident set grow?
#
# Usage: qemu-scripts/rss-soak.sh [--minutes N] [--every SEC] [--dir DIR] [--serve-arg ARG]...
#
# Starts `vnvme serve` with 4 namespaces (1 GiB each: 512+8 Type 1, 4096, 4096+16 64b-guard
# Type 1, 512) and drives it through its vfio-user socket with `vnvme bench io --client`:
# 16 I/O queues of 1024 entries, 512 commands in flight on each (the most `bench io` keeps), 70/30 random 4 KiB reads and
# writes with PI checked on namespace 1, for --minutes (default 10). Every --every seconds
# (default 30) it prints the server's RSS and its own part, anonymous memory (RSS less code and
# the guest memory it maps from the client). It fails if its own part at the end is more than 5% (and more
# than 8 MiB) above what it was after the first minute, once every queue is full and every
# buffer has grown: that would be memory held per command or per second, a leak.
# Figures, not a timed test: no speed is asserted. Each failure names its step.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
minutes=10 every=30 dir='' serve=()
while (($#)); do
    case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --serve-arg) serve+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rss-soak: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ $minutes =~ ^[1-9][0-9]*$ ]] || { echo "rss-soak: --minutes needs a whole number of minutes, got '$minutes'" >&2; exit 2; }
[[ $every =~ ^[1-9][0-9]*$ ]] || { echo "rss-soak: --every needs a whole number of seconds, got '$every'" >&2; exit 2; }

step=''
fail() { echo "rss-soak: FAIL at step '$step': $*" >&2; exit 1; }
trap 'rc=$?; [[ $rc -eq 0 || -z $step ]] || echo "rss-soak: FAIL at step '"'"'$step'"'"' (exit $rc)" >&2' EXIT

step='build vnvme'
target=${CARGO_TARGET_DIR:-$repo/target}
(cd "$repo" && cargo build --release --quiet) || fail "cargo build --release failed"
vnvme=$target/release/vnvme

step='make the images'
if [[ -z $dir ]]; then
    dir=$(mktemp -d /var/tmp/vnvme-rss.XXXXXX)
    own_dir=1
else
    mkdir -p "$dir"
    own_dir=0
fi
for i in 1 2 3 4; do truncate -s 1G "$dir/ns$i.img" || fail "truncate $dir/ns$i.img"; done

step='start vnvme serve'
sock=$dir/vnvme.sock
rm -f "$sock"
"$vnvme" serve --socket "$sock" --max-queues 16 \
    --ns "path=$dir/ns1.img,lbs=512,ms=8,mset=0,pi=1" \
    --ns "path=$dir/ns2.img,lbs=4096" \
    --ns "path=$dir/ns3.img,lbs=4096,ms=16,mset=0,pi=1,pif=2" \
    --ns "path=$dir/ns4.img,lbs=512" \
    "${serve[@]}" >"$dir/serve.log" 2>&1 &
server=$!
cleanup() {
    kill "$server" "${bench:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    if ((own_dir)); then rm -rf "$dir"; fi
}
trap 'rc=$?; cleanup; [[ $rc -eq 0 || -z $step ]] || echo "rss-soak: FAIL at step '"'"'$step'"'"' (exit $rc)" >&2' EXIT
for _ in $(seq 100); do [[ -S $sock ]] && break; kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
[[ -S $sock ]] || fail "no socket after 10 s: $(tail -n 5 "$dir/serve.log")"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status"; }
# The server's own memory: its anonymous pages (heap, stacks, per-queue buffers). The rest of
# its RSS is code and the guest's memory, mapped from the client, which the client sized.
own_kib() { awk '/^Anonymous:/ {print $2}' "/proc/$server/smaps_rollup"; }
echo "rss-soak: vnvme serve (pid $server), 4 namespaces, RSS at start $(( $(rss_kib) / 1024 )) MiB, anonymous $(( $(own_kib) / 1024 )) MiB"

step='drive 16 queues of 1024 entries'
"$vnvme" bench io --client "$sock" --formats 512+8-t1 --sizes 4K --mix randrw70 --qd 512 --queues 16 \
    --seconds $((minutes * 60)) --no-fio >"$dir/bench.log" 2>&1 &
bench=$!
start=$(date +%s)
base='' last=0 peak=0
while kill -0 "$bench" 2>/dev/null; do
    sleep "$every"
    kill -0 "$server" 2>/dev/null || fail "vnvme serve exited: $(tail -n 5 "$dir/serve.log")"
    kill -0 "$bench" 2>/dev/null || break
    now=$(($(date +%s) - start))
    rss=$(rss_kib) last=$(own_kib)
    ((last > peak)) && peak=$last
    [[ -z $base && $now -ge 60 ]] && base=$last
    printf 'rss-soak: %4d s  RSS %d MiB, anonymous %d KiB%s\n' "$now" $((rss / 1024)) "$last" "${base:+ (after the first minute: $base KiB)}"
    # Where the resident memory is, by mapping (anonymous ones as [anon]), for the end.
    awk '/^[0-9a-f]+-[0-9a-f]+ / {name = (NF >= 6 ? $6 : "[anon]")} /^Rss:/ {rss[name] += $2}
         END {for (n in rss) if (rss[n] >= 1024) printf "%d MiB %s\n", rss[n] / 1024, n}' \
        "/proc/$server/smaps" 2>/dev/null | sort -rn | head -n 6 >"$dir/where" || true
done
wait "$bench" || fail "bench io --client failed: $(tail -n 5 "$dir/bench.log")"
grep -E '^format|qd512x16' "$dir/bench.log" | sed 's/^/rss-soak: bench: /'
sed 's/^/rss-soak: resident: /' "$dir/where"

step='compare'
[[ -n $base ]] || fail "the run ended before the first minute's RSS was taken (--minutes $minutes, --every $every)"
echo "rss-soak: anonymous memory after the first minute $base KiB, at the end $last KiB, peak $peak KiB"
grow=$((last - base))
if ((grow * 20 > base && grow > 8192)); then
    fail "anonymous memory grew by $grow KiB ($((grow * 100 / base))%) after the first minute"
fi
echo "rss-soak: PASS: anonymous memory grew by $grow KiB after the first minute (limit: 5% and 8 MiB)"
step=''
