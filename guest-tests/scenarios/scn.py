"""Helpers for the scenarios: read the control plane's JSON (from `vctl --json ...` or a trace).

  python3 scn.py fires NAME < fault-list.json        times the rule labelled NAME fired
  python3 scn.py events OP STATUS A B < trace.jsonl   events of opcode OP (read/write/...) overlapping
                                                      LBAs A-B, with STATUS (a number, "ok" = 0, "err"
                                                      = not 0, "any"): one line "slba nlb status" each
  python3 scn.py mutations NS < mutations.json       blocks the detector reported for namespace NS:
                                                      one line "lba first last status" each
  python3 scn.py stat PATH < stats.json              a number from the stats reply, PATH like
                                                      bytes.1.dma_to_device
"""
import json
import sys

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "fires":
    rules = json.load(sys.stdin)["rules"]
    print(sum(r["fires"] for r in rules if args[0] in r["rule"]))
elif cmd == "events":
    op, want, a, b = args[0], args[1], int(args[2]), int(args[3])
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            continue
        ev = json.loads(line)
        if ev.get("opcode") != op or ev.get("slba") is None:
            continue
        lo, hi = ev["slba"], ev["slba"] + max(ev["nlb"], 1) - 1  # Copy: SDLBA, nlb 0
        if hi < a or lo > b:
            continue
        st = ev["status"]
        if want == "ok" and st != 0 or want == "err" and st == 0 or want not in ("ok", "err", "any") and st != int(want, 0):
            continue
        print(lo, ev["nlb"], "0x%x" % st)
elif cmd == "mutations":
    ns = int(args[0])
    for ev in json.load(sys.stdin)["mutations"]:
        if ev.get("nsid") != ns:
            continue
        for lba, first, last in ev["mutation"]["blocks"]:
            print(lba, first, last, "0x%x" % ev["status"])
elif cmd == "stat":
    v = json.load(sys.stdin)
    for part in args[0].split("."):
        v = v[int(part)] if isinstance(v, list) else v[part]
    print(v)
else:
    sys.exit("scn.py: unknown command " + cmd)
