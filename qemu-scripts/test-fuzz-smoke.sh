#!/bin/bash
# A short run of every fuzz target in fuzz/ (docs/fuzzing.md): builds them with cargo-fuzz on the
# nightly toolchain, replays the committed corpus and fuzzes each for a few seconds. A crash, a
# timeout or an out-of-memory is a FAIL with the input libFuzzer wrote (under the work dir, printed).
#
# Usage: qemu-scripts/test-fuzz-smoke.sh [--kernel K] [--seconds N]
#
# --kernel is accepted and ignored (test-all passes it to host suites). --seconds: fuzzing time per
# target after the corpus replay (default 5). Installs cargo-fuzz (cargo install --locked) when it is
# missing; the nightly toolchain must be installed already (rustup toolchain install nightly).
# The build is unoptimised and without AddressSanitizer: about 2 minutes cold on two cores, seconds
# warm (target dir: fuzz/target-smoke); the long campaigns use `cargo +nightly fuzz run` instead.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
seconds=5
while (($#)); do
    case $1 in
    --kernel) shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    *) echo "test-fuzz-smoke: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
export PATH=$HOME/.cargo/bin:$PATH
passed=0 failed=0
pass() { echo "PASS fuzz/$1"; passed=$((passed + 1)); }
fail() { echo "FAIL fuzz/$1"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; exit $((failed == 0 ? 0 : 1)); }

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "test-fuzz-smoke: no nightly Rust toolchain (cargo-fuzz needs one): rustup toolchain install nightly" >&2
    fail toolchain
    finish
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "test-fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked >/dev/null 2>&1 || { echo "test-fuzz-smoke: cargo install cargo-fuzz failed" >&2; fail cargo-fuzz; finish; }
fi
targets=$(cd "$repo/fuzz" && cargo +nightly fuzz list)
work=$(mktemp -d /var/tmp/vnvme-fuzz-smoke.XXXXXX)
t0=$SECONDS
if (cd "$repo/fuzz" && cargo +nightly fuzz build --dev -s none --target-dir target-smoke) >"$work/build.log" 2>&1; then
    pass "build ($((SECONDS - t0)) s)"
else
    tail -n 30 "$work/build.log" | sed 's/^/    /'
    fail build
    finish
fi
bin=$repo/fuzz/target-smoke/x86_64-unknown-linux-gnu/debug
for t in $targets; do
    # A scratch corpus seeded from the committed one: new inputs never land in the repository.
    mkdir -p "$work/$t"
    cp "$repo/fuzz/corpus/$t/"* "$work/$t/"
    t1=$SECONDS
    if "$bin/$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/$t-" "$work/$t" >"$work/$t.log" 2>&1; then
        execs=$(grep -o 'number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || true)
        pass "$t (${execs:-?} runs, $((SECONDS - t1)) s)"
        rm -rf "${work:?}/$t"
    else
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$work/$t.log" | head -n 8 | sed 's/^/    /'
        echo "    log: $work/$t.log"
        fail "$t"
    fi
done
((failed)) || rm -rf "$work"
finish
