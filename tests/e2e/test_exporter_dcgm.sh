#!/bin/bash
# test_exporter_dcgm.sh - the optional DCGM backend against the fake libdcgm (tests/fake_dcgm): the embedded
# engine and a remote host engine serve the profiling fields a counters CSV selects, with DCGM's units; a host
# engine restart does not stop the daemon: NVML readings go on, jobtel_dcgm_connected drops to 0, and the
# reconnection is observed (jobtel_dcgm_reconnects_total) with the profiling series back; a profiling lock held
# by someone else blanks the PROF fields (absent, not zero); libdcgm.so.3 is found when .so.4 is not there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${FAKE_DCGM_LIB:?}"
cat >"$T/nvml.json" <<'JSON'
{
  "values": {"gpu_util": 64, "mem_util": 10, "temperature_c": 50, "power_mw": 400000, "memory_used_mib": 1000},
  "gpus": [
    {"name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-0b000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "memory_total_mib": 81920},
    {"name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-1b000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "memory_total_mib": 81920}
  ]
}
JSON
cat >"$T/dcgm.json" <<'JSON'
{"gpus": 2, "fields": {"1001": [0.75, [[0, 0.5]]], "1002": [0.625, [[0, null]]], "1005": [[[0, 0.1], [4, 0.9]], null], "1006": [0.125, 0.25], "1009": [1048576000, 3145728],
                       "1012": [524288, 0]}}
JSON
cat >"$T/prof.csv" <<'CSV'
# profiling fields, as a site that runs DCGM selects them
DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).
DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.
DCGM_FI_PROF_SM_ACTIVE, gauge, The ratio of cycles an SM has at least 1 warp assigned.
DCGM_FI_PROF_PIPE_FP64_ACTIVE, gauge, Ratio of cycles the fp64 pipes are active.
DCGM_FI_PROF_DRAM_ACTIVE, gauge, Ratio of cycles the device memory interface is active.
DCGM_FI_PROF_PCIE_TX_BYTES, gauge, PCIe TX bytes per second.
DCGM_FI_PROF_NVLINK_RX_BYTES, gauge, NVLink RX bytes per second.
CSV
export FAKE_NVML_SCENARIO="$T/nvml.json" FAKE_DCGM_SCENARIO="$T/dcgm.json" FAKE_DCGM_LOG="$T/dcgm.log"
export FAKE_DCGM_HOSTENGINE="$T/hostengine" FAKE_DCGM_PROF_LOCK="$T/prof.lock"
FAKE_DCGM_START_EPOCH=$(date +%s.%N)
export FAKE_DCGM_START_EPOCH
COMMON=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n -f "$T/prof.csv" --no-collector.gpu.jobstats-names)
G0='gpu="0",UUID="GPU-0b000000-0000-4000-8000-000000000000",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB"'
G1='gpu="1",UUID="GPU-1b000000-0000-4000-8000-000000000000",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="NVIDIA A100-SXM4-80GB"'
is_connected() { curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/c.txt" && grep -q "^jobtel_dcgm_connected $1\$" "$T/c.txt"; }

check_values() {
    local f=$1
    validate "$f"
    expect_value "$f" "DCGM_FI_PROF_GR_ENGINE_ACTIVE{$G0}" 0.75
    expect_value "$f" "DCGM_FI_PROF_GR_ENGINE_ACTIVE{$G1}" 0.5
    expect_value "$f" "DCGM_FI_PROF_SM_ACTIVE{$G0}" 0.625
    expect_absent "$f" "DCGM_FI_PROF_SM_ACTIVE{$G1}" # blank in DCGM: no series, not a zero
    expect_value "$f" "DCGM_FI_PROF_PIPE_FP64_ACTIVE{$G1}" 0.25
    expect_value "$f" "DCGM_FI_PROF_PCIE_TX_BYTES{$G0}" 1048576000
    expect_value "$f" "DCGM_FI_PROF_PCIE_TX_BYTES{$G1}" 3145728
    expect_value "$f" "DCGM_FI_PROF_NVLINK_RX_BYTES{$G0}" 524288
    expect_value "$f" "DCGM_FI_DEV_GPU_UTIL{$G0}" 64
    expect_value "$f" "jobtel_dcgm_connected" 1
}

# 1. Embedded engine (the default mode).
start_exporter_ephemeral embedded 127.0.0.1:0 "${COMMON[@]}" --collector.gpu.dcgm --collector.gpu.dcgm-library="$FAKE_DCGM_LIB"
wait_metrics "$PORT"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="1"' || fail "embedded: no profiling series"
scrape "$PORT" "$T/e.txt"
check_values "$T/e.txt"
grep -q '^embedded$' "$T/dcgm.log" || fail "the embedded engine was not started"
grep -q '^connect' "$T/dcgm.log" && fail "embedded mode connected to a host engine"
grep -q '^watch 6 1000000$' "$T/dcgm.log" || fail "the six profiling fields of the CSV are not watched at the interval"
# A timeline: DRAM activity steps from 0.1 to 0.9 four seconds after the scenario's start.
wait_for 20 scrape_has "$PORT" "^DCGM_FI_PROF_DRAM_ACTIVE\\{gpu=\"0\".*\\} 0.9\$" || fail "the DRAM timeline never reached 0.9"
stop_pid "$EXPORTER_PID"

# 2. Remote host engine (-r), then a restart of it.
: >"$T/dcgm.log"
echo "up 0" >"$T/hostengine"
start_exporter_ephemeral remote 127.0.0.1:0 "${COMMON[@]}" -r 127.0.0.1:5555 --collector.gpu.dcgm-library="$FAKE_DCGM_LIB"
wait_metrics "$PORT"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="1"' || fail "remote: no profiling series"
scrape "$PORT" "$T/r.txt"
check_values "$T/r.txt"
expect_value "$T/r.txt" "jobtel_dcgm_reconnects_total" 0
grep -q '^connect 127.0.0.1:5555 unix=0$' "$T/dcgm.log" || fail "not connected to the -r address"
echo down >"$T/hostengine"
wait_for 10 is_connected 0 || fail "a lost host engine must show jobtel_dcgm_connected 0"
scrape "$PORT" "$T/down.txt"
validate "$T/down.txt"
expect_value "$T/down.txt" "DCGM_FI_DEV_GPU_UTIL{$G0}" 64 # NVML readings go on
grep -q '^DCGM_FI_PROF_' "$T/down.txt" && fail "profiling series served while the host engine is down"
kill -0 "$EXPORTER_PID" || fail "the daemon exited when the host engine went away"
nconn=$(grep -c '^connect' "$T/dcgm.log")
echo "up 1" >"$T/hostengine" # the engine restarted: old connections are dead
wait_for 40 is_connected 1 || fail "no reconnection after the host engine came back"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="1"' || fail "profiling series did not come back"
scrape "$PORT" "$T/back.txt"
check_values "$T/back.txt"
expect_value "$T/back.txt" "jobtel_dcgm_reconnects_total" 1
[ "$(grep -c '^connect' "$T/dcgm.log")" -gt "$nconn" ] || fail "the fake saw no new connection"
grep -q 'lost the DCGM host engine 127.0.0.1:5555' "$T/remote.log" || fail "the loss was not logged"
grep -q 'reconnected' "$T/remote.log" || fail "the reconnection was not logged"

# 3. Someone else holds the profiling lock: PROF values blank, so absent; connected stays 1.
touch "$T/prof.lock"
no_prof() { curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/l.txt" && ! grep -q '^DCGM_FI_PROF_' "$T/l.txt"; }
wait_for 10 no_prof || fail "profiling series served while the lock is held elsewhere"
grep -q '^jobtel_dcgm_connected 1$' "$T/l.txt" || fail "the lock is not a lost connection"
rm "$T/prof.lock"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="0"' || fail "profiling series not back after the lock"

# 3b. A job profiling GPU 0 itself (the profiling pause directory): DCGM pauses profiling engine-wide, so no
# profiling sampling happens at all while the file exists, and it resumes after.
mkdir -p "$T/pause"
stop_pid "$EXPORTER_PID" || fail "unclean exit"
: >"$T/dcgm.log"
start_exporter_ephemeral paused 127.0.0.1:0 "${COMMON[@]}" -r 127.0.0.1:5555 --collector.gpu.dcgm-library="$FAKE_DCGM_LIB" \
    --collector.gpu.profiling-pause-dir="$T/pause"
wait_metrics "$PORT"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="0"' || fail "pause: no profiling series"
echo 5151 >"$T/pause/0"
wait_for 10 grep -q '^prof-pause$' "$T/dcgm.log" || fail "DCGM profiling not paused for the job"
wait_for 10 no_prof || fail "profiling series served while paused"
gets=$(grep -c '^get' "$T/dcgm.log")
wait_for 10 scrape_has "$PORT" '^jobtel_dcgm_connected 1$' || fail "paused is not disconnected"
# Two more GPU collections (as the daemon records them): none of them may read a profiling field.
coll_ts() { curl -sf "http://127.0.0.1:$PORT/metrics" | sed -n 's/^jobtel_last_collection_timestamp_seconds{collector="gpu"} //p' | head -n1; }
ts0=$(coll_ts)
later() { "$PY" -c "import sys; sys.exit(0 if float('$(coll_ts)') >= float('$ts0') + 2 else 1)"; }
wait_for 15 later || fail "the GPU collector stopped"
[ "$(grep -c '^get' "$T/dcgm.log")" = "$gets" ] || fail "profiling fields read while paused"
rm "$T/pause/0"
wait_for 10 grep -q '^prof-resume$' "$T/dcgm.log" || fail "DCGM profiling not resumed"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="1"' || fail "profiling series not back after the pause"
stop_pid "$EXPORTER_PID" || fail "unclean exit"

# 4. DCGM 3: only libdcgm.so.3 on the search path.
LD_LIBRARY_PATH="$(dirname "$FAKE_DCGM_LIB")/so3" start_exporter_ephemeral so3 127.0.0.1:0 "${COMMON[@]}" --collector.gpu.dcgm
wait_metrics "$PORT"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="0"' || fail "no profiling series from libdcgm.so.3"
grep -q 'libdcgm.so.3' "$T/so3.log" || fail "libdcgm.so.3 not the one loaded"
stop_pid "$EXPORTER_PID"

# 5. No libdcgm at all: NVML readings, a clear log line, jobtel_dcgm_connected 0; no exit.
LD_LIBRARY_PATH=/nonexistent start_exporter_ephemeral nolib 127.0.0.1:0 "${COMMON[@]}" --collector.gpu.dcgm
wait_metrics "$PORT"
scrape "$PORT" "$T/n.txt"
expect_value "$T/n.txt" "jobtel_dcgm_connected" 0
expect_value "$T/n.txt" "DCGM_FI_DEV_GPU_UTIL{$G0}" 64
grep -q 'DCGM not available (cannot load libdcgm.so.4 or libdcgm.so.3' "$T/nolib.log" || fail "no reason logged"
stop_pid "$EXPORTER_PID"
pass "DCGM backend"
