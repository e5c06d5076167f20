#!/bin/bash
# Soak: fio write+verify with prob: fault rules (read statuses, sticky guard corruption), controller resets and the mutation detector on; every injected error surfaces as its status and nothing else does.
# 60 s of fio cycles (VNVME_LONG=1: 1800 s). Needs --control and `vnvme serve --detect-mutation`.
# Fault rules (reads of namespace 1, fixed seeds): Data Transfer Error 0x004 with DNR, Unrecovered Read
# Error 0x281 with DNR, and sticky guard corruption (reads fail with 0x282, which the driver retries).
# Each cycle: fio writes an 8 MiB region at random (QD16, crc32c) and verifies it, going on past read
# errors (continue_on_error=all; ignore_error=5:61:84,... makes EIO, ENODATA and EILSEQ, the errnos of 0x004,
# 0x281 and 0x282, non-fatal; fio's lists are READ,WRITE,VERIFY with ':' between errnos, and it files EILSEQ
# under verify errors). A real mismatch then does not stop fio either, but fio prints it and it adds an
# error that no completion accounts for: both are caught below.; every third cycle an `nvme reset`
# lands while fio runs. The driver's tracepoint nvme:nvme_complete_rq records every completion with a
# non-zero status the guest received. Asserted at the end:
#   - the guest received exactly the error completions the server posted, status by status (trace vs
#     `vnvme ctl stats`), and only statuses of the rules: nothing else surfaced, on either side;
#   - 0x004 and 0x281 completions equal their rules' firings, less commands a reset aborted (0x008, Command
#     Aborted due to SQ Deletion: the device's answer to the reset's Delete SQ, retried by the driver; the
#     guest receives at most the ones the server posted, and only when resets ran); failed guard checks
#     equal 0x282 completions;
#   - fio's error count equals the I/Os that failed for good (DNR, or retries used up), and fio found no
#     data mismatch; no buffer mutation was detected; the kernel logged no error of another status.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ns_require 1 "512+8, PI type 1, separate metadata" lbs=512 ms=8 mset=0 pi=1
soak_s=$(long_or 60 1800)
region_mib=8
nregions=$(ns1_regions $region_mib)
dev=$(ns_dev 1)
ctrl=$(basename "$(readlink -f "/sys/block/${dev#/dev/}/device")")
max_retries=$(cat /sys/module/nvme_core/parameters/max_retries)

step "tracepoint nvme:nvme_complete_rq, completions with a non-zero status"
T=/sys/kernel/tracing
[[ -d $T/events ]] || mount -t tracefs nodev "$T" || fail "cannot mount tracefs"
[[ -d $T/events/nvme/nvme_complete_rq ]] || fail "no nvme:nvme_complete_rq tracepoint in this kernel"
echo 0 >"$T/tracing_on"
echo 8192 >"$T/buffer_size_kb"
: >"$T/trace"
echo 'status != 0' >"$T/events/nvme/nvme_complete_rq/filter"
echo 1 >"$T/events/nvme/nvme_complete_rq/enable"
echo 1 >"$T/tracing_on"

step "fault rules"
vctl stats --reset >/dev/null || fail "vctl stats --reset"
vctl detect on >/dev/null || fail "vctl detect on"
rules=(
    "ns=1,op=read,when=prob:0.0015:101,action=status:0:0x04:dnr,name=soak-xfer"
    "ns=1,op=read,when=prob:0.0015:102,action=status:2:0x81:dnr,name=soak-unrecovered"
    "ns=1,op=read,when=prob:0.0015:103,action=guard,name=soak-guard"
)
for r in "${rules[@]}"; do vctl_fault_add "$r" >/dev/null || fail "vctl fault add $r"; done
dmesg_mark

cycles=0 resets=0 fio_errors=0
t0=$SECONDS
while ((SECONDS - t0 < soak_s)); do
    region=$((cycles % nregions))
    timeout 300 fio --name="s$cycles" --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 \
        --rw=randwrite --bs=4096 --offset=$((region * region_mib))M --size=${region_mib}M --randseed=$((7000 + cycles)) \
        --verify=crc32c --do_verify=1 --verify_fatal=1 --continue_on_error=all --ignore_error=5:61:84,5:61:84,5:61:84 \
        --output-format=json >"fio.$cycles.json" 2>"fio.$cycles.err" &
    fio_pid=$!
    if ((cycles % 3 == 2)); then
        sleep "0.$((RANDOM % 9 + 1))"
        timeout 60 nvme reset "/dev/$ctrl" || fail "step 'nvme reset /dev/$ctrl (cycle $cycles)' failed or hung (status $?)"
        resets=$((resets + 1))
    fi
    st=0
    wait "$fio_pid" || st=$?
    errs=$(python3 -c '
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{"):])["jobs"][0]
print(j.get("total_err", 0), j["error"], j["read"]["io_kbytes"], j["write"]["io_kbytes"])' "fio.$cycles.json" 2>/dev/null) ||
        { cat "fio.$cycles.err"; fail "step 'fio cycle $cycles': no JSON result (status $st)"; }
    read -r total_err err rkb wkb <<<"$errs"
    # fio exits non-zero after continued errors too; what matters is that every failure was a read that
    # failed (counted in total_err) and that nothing it read back mismatched.
    if grep -q -E 'verify: bad|verify failed' "fio.$cycles.err" || ((st != 0 && total_err == 0)); then
        cat "fio.$cycles.err"
        fail "step 'fio cycle $cycles': fio failed (status $st, error $err, errors $total_err): a verify mismatch or an error that was not injected"
    fi
    ((wkb == region_mib * 1024)) || fail "step 'fio cycle $cycles': wrote $wkb KiB, expected $((region_mib * 1024)) (a write failed?)"
    fio_errors=$((fio_errors + total_err))
    cycles=$((cycles + 1))
done
soak_elapsed=$((SECONDS - t0))
echo 0 >"$T/tracing_on"
vctl fault clear >/dev/null || fail "vctl fault clear"

step "compare the server's and the guest's counts"
cp "$T/trace" trace.txt
echo 0 >"$T/events/nvme/nvme_complete_rq/enable"
if grep -q 'LOST' trace.txt; then fail "the trace buffer lost events: make it larger"; fi
vctl --json stats >stats.json || fail "vctl stats"
dmesg | tail -n +$((DMESG_MARK + 1)) >dmesg.txt
python3 - stats.json trace.txt dmesg.txt "$fio_errors" "$max_retries" "$resets" <<'PY' || fail "the errors the guest saw differ from the ones injected (see above)"
import collections, json, re, sys
stats, trace, dmesg = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), open(sys.argv[3]).read()
fio_errors, max_retries, resets = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
injected = {"0x004": "soak-xfer", "0x281": "soak-unrecovered", "0x282": "soak-guard"}
bad = []
# Server: completions by status (all opcodes), PI checks failed, rule firings.
server = collections.Counter()
for ns in stats["namespaces"].values():
    for c in ns["commands"]:
        server[c["status"]] += c["count"]
    pf = ns["pi_failed_commands"]
server_err = {s: n for s, n in server.items() if s != "0x000"}
# Command Aborted due to SQ Deletion: the device's answer to a reset's Delete SQ; the driver retries.
server_sq_deleted = server_err.pop("0x008", 0)
fired = stats.get("faults_fired", {})
print("server: completions %s" % dict(sorted(server.items())))
print("server: faults fired %s, PI checks failed %s, buffer mutations %d" % (fired, pf, stats["mutations_detected"]))
# Guest: every completion with a non-zero status the driver received (nvme:nvme_complete_rq).
guest = collections.Counter()
final = 0
host_made = 0
sq_deleted = 0
for m in re.finditer(r"retries=(\d+).*?status=0x([0-9a-f]+)", trace):
    retries, raw = int(m.group(1)), int(m.group(2), 16)
    st = raw & 0x7FF
    if st >> 8 == 3:  # path-related statuses (host aborted at a reset) are made by the host, not the device
        host_made += 1
        continue
    if st == 0x008:  # Command Aborted due to SQ Deletion: the device's answer to a reset's Delete SQ (retried)
        sq_deleted += 1
        continue
    guest["0x%03x" % st] += 1
    if raw & 0x4000 or retries >= max_retries:
        final += 1
print("guest:  error completions %s (at resets: %d host-made, %d aborted by SQ deletion); failed for good: %d; fio errors: %d"
      % (dict(sorted(guest.items())), host_made, sq_deleted, final, fio_errors))
if (sq_deleted or server_sq_deleted) and not resets:
    bad.append("%d/%d completions aborted by SQ deletion without a reset" % (server_sq_deleted, sq_deleted))
if sq_deleted > server_sq_deleted:
    bad.append("the guest received %d SQ-deletion aborts, the server posted %d" % (sq_deleted, server_sq_deleted))
aborted = max(sq_deleted, server_sq_deleted)
for s in sorted(set(server_err) | set(guest)):
    if s not in injected:
        bad.append("status %s was not injected (server %d, guest %d)" % (s, server_err.get(s, 0), guest.get(s, 0)))
    elif server_err.get(s, 0) != guest.get(s, 0):
        bad.append("status %s: the server posted %d, the guest received %d" % (s, server_err.get(s, 0), guest.get(s, 0)))
# A rule fires when its command is fetched; a reset's SQ deletion can abort that command before it completes
# (the driver retries it, and the retry draws again), so a firing may have no completion of its own.
for s in ("0x004", "0x281"):
    n, f = server_err.get(s, 0), fired.get(injected[s], 0)
    if not n <= f <= n + aborted:
        bad.append("status %s: %d completions, rule %s fired %d times (%d commands aborted by SQ deletion)" % (s, n, injected[s], f, aborted))
if pf["guard"] != server_err.get("0x282", 0) or pf["app_tag"] or pf["ref_tag"] or pf["storage_tag"]:
    bad.append("PI checks failed %s, but 0x282 completions %d" % (pf, server_err.get("0x282", 0)))
if any(server_err.get(s, 0) == 0 for s in injected):
    bad.append("a rule never surfaced (statuses %s): make the soak longer or the probabilities higher" % server_err)
if final != fio_errors:
    bad.append("fio counted %d errors, the driver failed %d I/Os for good" % (fio_errors, final))
if stats["mutations_detected"]:
    bad.append("%d buffer mutations detected (fio does not touch buffers in flight)" % stats["mutations_detected"])
logged = collections.Counter(re.findall(r"sct 0x(\w+) / sc 0x(\w+)", dmesg))
print("kernel log: I/O Error lines by (sct, sc) %s (rate-limited: %d lines suppressed)"
      % (dict(logged), sum(int(n) for n in re.findall(r"(\d+) callbacks suppressed", dmesg))))
for (sct, sc), n in logged.items():
    if "0x%03x" % (int(sct, 16) << 8 | int(sc, 16)) not in injected:
        bad.append("the kernel logged %d errors with sct 0x%s / sc 0x%s, never injected" % (n, sct, sc))
for b in bad:
    print("MISMATCH: " + b)
print("SOAK-COUNTS " + " ".join("%s=%d/%d" % (s, server_err.get(s, 0), guest.get(s, 0)) for s in sorted(injected))
      + " failed_for_good=%d fio_errors=%d" % (final, fio_errors))
sys.exit(1 if bad else 0)
PY
echo "SOAK seconds=$soak_elapsed cycles=$cycles resets=$resets fio_errors=$fio_errors"
