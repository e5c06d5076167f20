# The --control relay of qemu-scripts/guest-test (sourced by it): the guest's `vnvme ctl` requests
# (guest-tests/lib.sh: vctl, vctl_bg, vctl_stop) run on the host against the VM's server.
# shellcheck shell=bash
#
# ctl_relay DIR BIN CTL [QMP DEVICE-JSON]: serve the requests dropped in DIR with `BIN ctl --control CTL`,
# until SIGTERM; one line per request on stdout (guest-test appends them to the run's ctl.log). With
# QMP (QEMU's QMP socket) and DEVICE-JSON (the vfio-user device's -device JSON, with an id), the guest may
# also unplug and re-plug that device (guest-test --hotplug).
#
# The protocol, all of it files in the share's ctl/ directory, each made
# whole before it appears (written under a .tmp name, then renamed):
#   ID.req  the guest's request: a verb line, then one `vnvme ctl` argument per line;
#   ID.out  the answer's text (the command's stdout and stderr);
#   ID.rc   the answer's exit status, written last: its presence means ID.out is complete.
# Verbs: "run" (run `vnvme ctl --control CTL ARGS...`, 60 s at most), "bg:NAME" (start a `vnvme ctl
# ... trace` in the background with --ready-file appended, and answer once vnvme has created that
# file, i.e. once the trace is subscribed, or once the command has ended), "stop:NAME" (end it; its
# output is the answer), "hotplug:del" (QMP device_del of the device; answered once QEMU reports
# DEVICE_DELETED, i.e. the guest has let it go, or after 60 s with an error), "hotplug:add" (QMP
# device_add of DEVICE-JSON). Nothing waits on what a command prints.

# qmp_run SOCK EVENT JSON: send one QMP command (JSON) to QEMU's QMP socket SOCK; print the reply; with
# EVENT non-empty, wait (60 s at most) for that event as well. Exit status 0 only for a "return" reply
# (and the event seen).
qmp_run() {
    python3 - "$@" <<'PY'
import json, socket, sys, time
path, event, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(path)
f = s.makefile("rw")
def msg():
    line = f.readline()
    if not line:
        sys.exit("QMP connection closed")
    return json.loads(line)
msg()  # greeting
f.write('{"execute":"qmp_capabilities"}\n'); f.flush()
while "return" not in (m := msg()):
    pass
f.write(cmd + "\n"); f.flush()
while True:
    m = msg()
    if "return" in m or "error" in m:
        print(json.dumps(m))
        if "error" in m:
            sys.exit(1)
        break
deadline = time.time() + 60
while event and time.time() < deadline:
    m = msg()
    if m.get("event") == event and "vnvme0" in json.dumps(m.get("data", {})):
        print(json.dumps(m))
        sys.exit(0)
if event:
    sys.exit("no %s event within 60 s" % event)
PY
}

ctl_relay() {
    local dir=$1 server_bin=$2 CTL=$3 qmp=${4:-} dev_json=${5:-} f id verb rc name t line a
    local -a args
    local -A bg=()
    trap 'kill "${bg[@]}" 2>/dev/null; exit 0' TERM
    while :; do
        for f in "$dir"/*.req; do
            [[ -e $f ]] || continue
            id=${f%.req}
            mapfile -t args <"$f"
            rm -f -- "$f"
            verb=${args[0]:-} args=("${args[@]:1}")
            line="$(date -u +%T.%N | cut -c1-12) [$verb]"
            if ((${#args[@]})); then
                line+=" vnvme ctl --control $CTL"
                for a in "${args[@]}"; do
                    if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then line+=" $a"; else line+=" '$a'"; fi
                done
            fi
            echo "$line"
            rc=0
            case $verb in
            run) timeout 60 "$server_bin" ctl --control "$CTL" "${args[@]}" >"$id.out.tmp" 2>&1 || rc=$? ;;
            bg:?*)
                name=${verb#bg:}
                if [[ -n ${bg[$name]:-} ]]; then
                    echo "background command '$name' is already running" >"$id.out.tmp"
                    rc=2
                else
                    rm -f -- "$dir/bg-$name.ready"
                    "$server_bin" ctl --control "$CTL" "${args[@]}" --ready-file "$dir/bg-$name.ready" \
                        >"$dir/bg-$name.out" 2>"$dir/bg-$name.err" &
                    bg[$name]=$!
                    for ((t = 0; t < 100; t++)); do
                        [[ -e $dir/bg-$name.ready ]] && break
                        kill -0 "${bg[$name]}" 2>/dev/null || break
                        sleep 0.1
                    done
                    if [[ -e $dir/bg-$name.ready ]]; then
                        echo "started $name" >"$id.out.tmp"
                    else
                        if kill -0 "${bg[$name]}" 2>/dev/null; then
                            kill -TERM "${bg[$name]}" 2>/dev/null || true
                            echo "background command '$name' did not subscribe within 10 s" >>"$dir/bg-$name.err"
                        fi
                        wait "${bg[$name]}" || rc=$?
                        ((rc)) || rc=1
                        cat "$dir/bg-$name.err" >"$id.out.tmp"
                        unset "bg[$name]"
                    fi
                fi
                ;;
            stop:?*)
                name=${verb#stop:}
                if [[ -z ${bg[$name]:-} ]]; then
                    echo "no background command '$name'" >"$id.out.tmp"
                    rc=2
                else
                    sleep 0.3 # events of commands completed just before the stop are still on their way
                    kill -TERM "${bg[$name]}" 2>/dev/null || true
                    wait "${bg[$name]}" 2>/dev/null || true
                    unset "bg[$name]"
                    cat "$dir/bg-$name.out" >"$id.out.tmp"
                fi
                ;;
            hotplug:del | hotplug:add)
                if [[ -z $qmp ]]; then
                    echo "no hotplug here (run guest-test with --hotplug)" >"$id.out.tmp"
                    rc=2
                elif [[ $verb == hotplug:del ]]; then
                    qmp_run "$qmp" DEVICE_DELETED '{"execute":"device_del","arguments":{"id":"vnvme0"}}' >"$id.out.tmp" 2>&1 || rc=$?
                else
                    qmp_run "$qmp" "" "{\"execute\":\"device_add\",\"arguments\":$dev_json}" >"$id.out.tmp" 2>&1 || rc=$?
                fi
                echo "    -> rc $rc: $(head -c 300 "$id.out.tmp")"
                ;;
            *) echo "unknown relay verb '$verb'" >"$id.out.tmp"; rc=2 ;;
            esac
            mv -- "$id.out.tmp" "$id.out"
            echo "$rc" >"$id.rc.tmp"
            mv -- "$id.rc.tmp" "$id.rc"
        done
        sleep 0.05
    done
}
