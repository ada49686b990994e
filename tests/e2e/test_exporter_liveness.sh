#!/bin/bash
# test_exporter_liveness.sh - liveness (the daemon's own threads) is not readiness (collectors fresh).
# A wedged NVML call makes the node unready (/health and /-/ready 503, naming the collector) but the
# daemon stays alive (/-/healthy 200) and keeps petting the systemd watchdog: restarting it would not
# unwedge the driver, and a Kubernetes liveness probe or systemd would otherwise restart it in a loop.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
NVML=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup)

# A datagram socket stands in for systemd's $NOTIFY_SOCKET (as in test_exporter_systemd.sh).
listen_notify() { # SOCK OUT
    "$PY" - "$1" "$2" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 60
with open(sys.argv[2], "w", buffering=1) as out:
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        out.write(msg.replace("\n", " ") + "\n")
        if "STOPPING=1" in msg:
            break
PY
    LISTENER=$!
    PIDS+=("$LISTENER")
    wait_for 5 test -S "$1" || fail "notify socket not created"
}
pets() { grep -c 'WATCHDOG=1' "$1" || true; }
pets_at_least() { [ "$(pets "$1")" -ge "$2" ]; } # FILE N, for wait_for
code() { curl -s -o "${2:-/dev/null}" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT$1"; }

# --- a GPU collector wedged from its very first collection ------------------------------------------
# The first nvmlDeviceGetPowerUsage hangs 8 s, so no snapshot exists yet: the daemon must already be
# alive and petting the watchdog (it used to pet only once snapshots were built).
cat >"$T/wedged.json" <<'JSON'
{
  "schema": 1,
  "values": {"gpu_util": 30, "memory_used_mib": 100, "temperature_c": 45, "power_mw": 200000},
  "gpus": [{"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-cccccccc-0000-4000-8000-000000000001",
            "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 81559}],
  "faults": [{"call": "nvmlDeviceGetPowerUsage", "gpu": 0, "hang_ms": 8000, "from": 0, "once": true}]
}
JSON
listen_notify "$T/n1.sock" "$T/n1.txt"
FAKE_NVML_SCENARIO="$T/wedged.json" NOTIFY_SOCKET="$T/n1.sock" WATCHDOG_USEC=400000 \
    start_exporter_ephemeral wedged 127.0.0.1:0 "${NVML[@]}" --collect.stale-after=10s
wait_for 5 grep -q 'READY=1' "$T/n1.txt" || fail "no READY=1"
wait_for 5 pets_at_least "$T/n1.txt" 3 || fail "no WATCHDOG=1 while the GPU collector is wedged: $(cat "$T/n1.txt")"
# Those pets came while no collection had finished yet (a snapshot, once built, never goes away).
[ "$(code /-/ready "$T/ready.txt")" = 503 ] || fail "/-/ready must be 503 while the GPU collector is wedged"
grep -q 'no collection has finished yet' "$T/ready.txt" || fail "the watchdog pets must come before the first snapshot: $(cat "$T/ready.txt")"
[ "$(code /-/healthy "$T/healthy.txt")" = 200 ] || fail "/-/healthy must be 200 while a collector is wedged: $(cat "$T/healthy.txt")"
[ "$(code /health)" = 503 ] || fail "/health keeps answering readiness (503)"
# Once the call returns, the node is ready again.
ready_ok() { [ "$(code /-/ready)" = 200 ]; }
wait_for 20 ready_ok || fail "/-/ready did not recover after the wedged call returned"
stop_pid "$EXPORTER_PID" || fail "exporter did not stop cleanly"
wait "$LISTENER" || true
pass "wedged from the start: alive and petting the watchdog, not ready"

# --- the fake NVML's hang scenario: every power reading of GPU 1 takes 4 s from t=2 s -------------------
# The collector goes stale time and again: readiness flips to 503 naming it; liveness never does.
listen_notify "$T/n2.sock" "$T/n2.txt"
export FAKE_NVML_START_EPOCH=$(date +%s.%N)
FAKE_NVML_SCENARIO="$SCENARIOS/hang.json" NOTIFY_SOCKET="$T/n2.sock" WATCHDOG_USEC=400000 \
    start_exporter_ephemeral hang 127.0.0.1:0 "${NVML[@]}"
wait_metrics "$PORT"
seen_ready=0 seen_health=0 pets_at_stale=
for i in $(seq 1 300); do
    h=$(code /-/healthy "$T/healthy.txt")
    [ "$h" = 200 ] || fail "/-/healthy answered $h during the hang: $(cat "$T/healthy.txt")"
    if [ "$(code /-/ready "$T/ready.txt")" = 503 ] && grep -q 'collector gpu: stale' "$T/ready.txt"; then
        seen_ready=1
        pets_at_stale=${pets_at_stale:-$(pets "$T/n2.txt")}
    fi
    if [ "$(code /health "$T/health.txt")" = 503 ] && grep -q 'collector gpu: stale' "$T/health.txt"; then
        seen_health=1
    fi
    # Done once both said "stale" and the watchdog was petted 5 more times since.
    if [ "$seen_ready" = 1 ] && [ "$seen_health" = 1 ] && [ "$(pets "$T/n2.txt")" -ge $((pets_at_stale + 5)) ]; then
        break
    fi
    sleep 0.05
done
[ "$seen_ready" = 1 ] || fail "/-/ready never said the GPU collector is stale"
[ "$seen_health" = 1 ] || fail "/health never said the GPU collector is stale"
[ "$(pets "$T/n2.txt")" -ge $((pets_at_stale + 5)) ] || fail "the watchdog stopped being petted once the collector was stale"
kill -0 "$EXPORTER_PID" || fail "exporter died"
stop_pid "$EXPORTER_PID" || fail "exporter did not stop cleanly"
wait "$LISTENER" || true
pass "hung driver calls: /-/ready and /health 503 naming the collector, /-/healthy 200, watchdog petted"
