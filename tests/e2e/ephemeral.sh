# ephemeral.sh - start the exporter on a port the kernel picks (sourced after lib.sh).
#
# The exporter accepts port 0 and logs the port it got ("listening on ... (port N)"); reading it back
# from the log is race-free, unlike probing for a free port and hoping nobody takes it first.

# start_exporter_ephemeral NAME ADDR ARGS... : starts `jobtel exporter -a ADDR` (ADDR like
# 127.0.0.1:0 or :0) with its output in $T/NAME.log; sets EXPORTER_PID and PORT once it listens.
start_exporter_ephemeral() {
    local name=$1 addr=$2
    shift 2
    start_bg "$name" "$JOBTEL" exporter -a "$addr" "$@"
    EXPORTER_PID=$LAST_PID
    PORT=
    local i
    for ((i = 0; i < 100; i++)); do
        # The log may not exist yet: start_bg's redirection happens in the background.
        PORT=$(sed -n 's/.*listening on .* (port \([0-9]*\)).*/\1/p' "$T/$name.log" 2>/dev/null | head -n1 || true)
        [ -n "$PORT" ] && return 0
        kill -0 "$EXPORTER_PID" 2>/dev/null || fail "exporter $name exited: $(tail -n 5 "$T/$name.log")"
        sleep 0.1
    done
    fail "exporter $name did not say which port it listens on"
}

# wait_metrics PORT : polls until /metrics answers 200 (every collector has reported once).
wait_metrics() {
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$1/metrics" || fail "exporter on :$1 never served metrics"
}
