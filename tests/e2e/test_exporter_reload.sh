#!/bin/bash
# test_exporter_reload.sh - the counters file (-f) at start-up and on SIGHUP: a field listed twice is
# refused with file:line (at start-up: exit 2; on SIGHUP: the previous file is kept), and a reload keeps
# honouring --no-collector.gpu.dcgm-names (it used to start reading the DCGM-only fields again).
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Energy is read only for DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (and the per-job accounting, which these
# daemons run without), and reading it fails: nvidia_gpu_last_error shows whether the collector called it.
"$PY" - "$SCENARIOS/one_gpu.json" "$T/scenario.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["faults"] = [{"call": "nvmlDeviceGetTotalEnergyConsumption", "return": "UNKNOWN"}]
json.dump(s, open(sys.argv[2], "w"))
EOF
export FAKE_NVML_SCENARIO="$T/scenario.json"

printf 'DCGM_FI_DEV_GPU_UTIL, gauge, u\nDCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, e\nDCGM_FI_DRIVER_VERSION, label, d\n' \
    >"$T/good.csv"
printf 'DCGM_FI_DRIVER_VERSION, label, d\nDCGM_FI_DEV_GPU_UTIL, gauge, u\nDCGM_FI_DRIVER_VERSION, label, again\n' \
    >"$T/dup.csv"

# Start-up: a repeated field is a usage error naming the file and both lines.
rc=0
"$JOBTEL" exporter --web.listen-address=127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" \
    --no-collector.cgroup -f "$T/dup.csv" >"$T/dup.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "a counters file with a repeated field must exit 2, got $rc"
grep -q "dup.csv:3: DCGM_FI_DRIVER_VERSION repeats line 1" "$T/dup.out" || fail "no file:line message: $(cat "$T/dup.out")"
pass "a repeated counters field is refused at start-up with file:line"

# SIGHUP with a repeated field keeps the previous file: one DCGM_FI_DRIVER_VERSION label, not two.
P=$(free_port)
cp "$T/good.csv" "$T/c.csv"
start_exporter "$P" --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n -f "$T/c.csv" \
    --hpc-job-mapping-dir= --slurm.gpustat-dir=
cp "$T/dup.csv" "$T/c.csv"
kill -HUP "$EXPORTER_PID"
wait_for 10 grep -q "c.csv:3: DCGM_FI_DRIVER_VERSION repeats line 1" "$T/exporter-$P.log" \
    || fail "the reload did not report the repeated field"
grep -q "keeping the previous counters" "$T/exporter-$P.log" || fail "the reload did not keep the previous file"
scrape "$P" "$T/m1.txt"
validate "$T/m1.txt"
grep -q '^DCGM_FI_DEV_GPU_UTIL{.*DCGM_FI_DRIVER_VERSION="550.144.03"' "$T/m1.txt" || fail "the previous selection was not kept"
[ "$(grep '^DCGM_FI_DEV_GPU_UTIL{' "$T/m1.txt" | grep -o 'DCGM_FI_DRIVER_VERSION=' | wc -l)" = 1 ] || fail "duplicate label names"
stop_pid "$EXPORTER_PID"
pass "SIGHUP with a repeated field keeps the previous counters"

# --no-collector.gpu.dcgm-names survives a reload: the DCGM-only field is not read (no error from it).
P=$(free_port)
cp "$T/good.csv" "$T/c.csv"
start_exporter "$P" --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n -f "$T/c.csv" \
    --no-collector.gpu.dcgm-names --no-collector.gpu.accounting --hpc-job-mapping-dir= --slurm.gpustat-dir=
scrape "$P" "$T/m2.txt"
grep -q '^nvidia_gpu_duty_cycle{' "$T/m2.txt" || fail "no Princeton names"
grep -q '^DCGM_FI_' "$T/m2.txt" && fail "DCGM names rendered with --no-collector.gpu.dcgm-names"
grep -q '^nvidia_gpu_last_error' "$T/m2.txt" && fail "a DCGM-only field was read before the reload"
kill -HUP "$EXPORTER_PID"
wait_for 10 grep -q "reloaded .*c.csv" "$T/exporter-$P.log" || fail "no reload"
# Two collections after the reload (timestamps are per collection).
ts() { curl -s "http://127.0.0.1:$P/metrics" | grep '^jobtel_last_collection_timestamp_seconds{collector="gpu"}' | cut -d' ' -f2; }
t0=$(ts)
wait_for 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$P/metrics | grep '^jobtel_last_collection_timestamp_seconds{collector=\"gpu\"}' | cut -d' ' -f2)\" != '$t0' ]" \
    || fail "no collection after the reload"
t1=$(ts)
wait_for 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$P/metrics | grep '^jobtel_last_collection_timestamp_seconds{collector=\"gpu\"}' | cut -d' ' -f2)\" != '$t1' ]" \
    || fail "no second collection after the reload"
scrape "$P" "$T/m3.txt"
validate "$T/m3.txt"
grep -q '^DCGM_FI_' "$T/m3.txt" && fail "DCGM names rendered after SIGHUP"
grep -q '^nvidia_gpu_last_error' "$T/m3.txt" && fail "SIGHUP made the collector read DCGM-only fields again"
stop_pid "$EXPORTER_PID"
pass "SIGHUP keeps --no-collector.gpu.dcgm-names"
