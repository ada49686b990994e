#!/bin/bash
# test_exporter_systemd.sh - the systemd notify protocol as systemd sees it: READY=1 once serving,
# WATCHDOG=1 at half the watchdog period while snapshots are built, STOPPING=1 on SIGTERM. A Python
# datagram socket stands in for systemd's $NOTIFY_SOCKET.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"

SOCK="$T/notify.sock"
"$PY" - "$SOCK" "$T/notify.txt" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 600  # a bound for a test gone wrong; STOPPING=1 ends it
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
wait_for 30 test -S "$SOCK" || fail "notify socket not created"

export FAKE_NVML_SCENARIO="$SCENARIOS/one_gpu.json"
NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=400000 start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup
wait_for 30 grep -q 'READY=1' "$T/notify.txt" || fail "no READY=1"
# The pets keep coming while the daemon runs (how often is the daemon's clock, not the test's to judge).
watchdogs_at_least() { [ "$(grep -c 'WATCHDOG=1' "$T/notify.txt")" -ge "$1" ]; }
wait_for 30 watchdogs_at_least 3 || fail "want WATCHDOG=1 repeatedly, got: $(cat "$T/notify.txt")"
stop_pid "$EXPORTER_PID" || fail "exit status after SIGTERM"
wait "$LISTENER" || true
grep -q 'STOPPING=1' "$T/notify.txt" || fail "no STOPPING=1"
# READY comes first.
head -n1 "$T/notify.txt" | grep -q 'READY=1' || fail "READY=1 must be the first message"
pass "systemd notify: READY, WATCHDOG, STOPPING"
