#!/bin/bash
# test_exporter_faults.sh - what the exporter does when the hardware misbehaves: a GPU lost mid-run
# (others keep reporting, the lost one is flagged, no crash), an NVML call hung for 20 s (scrapes are
# answered while the collector is blocked, /health turns 503 and says why, recovery after), XID events,
# and MIG instances. Faults start when the test rewrites the scenario, not at a time fixed in advance.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
NVML=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n)

# --- a GPU falls off the bus ---------------------------------------------------------------------------
# The shipped scenario loses GPU 1 at t=3 s; a loaded machine may not have scraped by then, so the test
# moves the loss to the moment it has seen both GPUs (the fake library reloads a rewritten scenario).
cp "$SCENARIOS/gpu_lost.json" "$T/lost.json"
export FAKE_NVML_SCENARIO="$T/lost.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
scenario_edit "$T/lost.json" 'del s["gpus"][1]["lost_at"]; s["xid_events"] = []'
start_exporter 0 "${NVML[@]}"
P=$EXPORTER_PORT
scrape $P "$T/before.txt"
[ "$(count_series "$T/before.txt" DCGM_FI_DEV_GPU_UTIL)" = 2 ] || fail "both GPUs before the loss"
expect_value "$T/before.txt" 'jobtel_gpu_up{gpu="1",UUID="GPU-8e4a7c2d-05b9-4f61-b3d8-6a2e9c1f4b72",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3"}' 1
scenario_edit "$T/lost.json" 's["gpus"][1]["lost_at"] = t + 0.5; s["xid_events"] = [{"gpu": 1, "at": t + 0.5, "xid": 79}]'
wait_for 30 scrape_has $P '^jobtel_gpu_up\{gpu="1",.*\} 0$' || fail "lost GPU not flagged"
# The loss is reported in the same snapshot as the flag, and the Princeton last-error gauge follows the XID.
wait_for 30 scrape_has $P '^nvidia_gpu_last_error\{minor_number="1",.*\} 15$' || fail "no last error for the lost GPU"
scrape $P "$T/after.txt"
validate "$T/after.txt"
G0='gpu="0",UUID="GPU-1b6e0f3a-92c4-4d7e-8a15-3c9d2e7f6a01",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3"'
G1='gpu="1",UUID="GPU-8e4a7c2d-05b9-4f61-b3d8-6a2e9c1f4b72",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3"'
expect_value "$T/after.txt" "DCGM_FI_DEV_GPU_UTIL{$G0,DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 88
expect_value "$T/after.txt" "jobtel_gpu_up{$G0}" 1
expect_value "$T/after.txt" "jobtel_gpu_up{$G1}" 0
[ "$(count_series "$T/after.txt" DCGM_FI_DEV_GPU_UTIL)" = 1 ] || fail "the lost GPU must not keep stale values"
[ "$(count_series "$T/before.txt" nvidia_gpu_duty_cycle minor_number=1)" = 1 ] || fail "Princeton values for GPU 1 before the loss"
expect_none "$T/after.txt" nvidia_gpu_duty_cycle minor_number=1
expect_value "$T/after.txt" 'nvidia_gpu_last_error{minor_number="1",name="NVIDIA H100 80GB HBM3",ordinal="1",uuid="GPU-8e4a7c2d-05b9-4f61-b3d8-6a2e9c1f4b72"}' 15
expect_value "$T/after.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
[ "$(grep -c 'is lost' "$EXPORTER_LOG")" = 1 ] || fail "one log line for the loss"
kill -0 "$EXPORTER_PID" || fail "exporter died"
stop_pid "$EXPORTER_PID" || fail "exporter did not stop cleanly"
pass "GPU lost mid-run"

# --- an NVML call hangs 20 s ----------------------------------------------------------------------------
# The hang starts when the test has seen a fresh scrape (the scenario is rewritten then). While it lasts,
# /health says 503 and names the stale collector. A scrape answered between two such 503s was answered
# while the collector was still blocked: scrapes never wait for a collection, whatever the machine's load.
cat >"$T/hang.json" <<'JSON'
{
  "schema": 1,
  "values": {"gpu_util": 30, "memory_used_mib": 100, "temperature_c": 45, "power_mw": 200000},
  "gpus": [{"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-cccccccc-0000-4000-8000-000000000000",
            "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 81559}]
}
JSON
export FAKE_NVML_SCENARIO="$T/hang.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
start_exporter 0 "${NVML[@]}"
P=$EXPORTER_PORT
scrape $P "$T/h0.txt"
expect_value "$T/h0.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
scenario_edit "$T/hang.json" 's["faults"] = [{"call": "nvmlDeviceGetPowerUsage", "gpu": 0, "hang_ms": 20000, "from": t, "once": True}]'
health() { curl -s -o "$T/health.txt" -w '%{http_code}' "http://127.0.0.1:$P/health"; }
health_is() { [ "$(health)" = "$1" ]; }
wait_for 30 health_is 503 || fail "/health never turned 503 during the hang"
grep -q 'collector gpu: stale' "$T/health.txt" || fail "/health must say which collector is stale: $(cat "$T/health.txt")"
# --max-time only ends a test whose scrape hangs: the assertion is the order of the answers.
curl -sf --max-time 60 "http://127.0.0.1:$P/metrics" -o "$T/during.txt" || fail "no scrape answer during the hang"
health_is 503 || fail "the hang ended before the scrape was answered: the test proves nothing (rerun)"
expect_value "$T/during.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 0
grep -q '^DCGM_FI_DEV_GPU_UTIL' "$T/during.txt" && fail "stale GPU values must not be served"
validate "$T/during.txt"
pass "a scrape is answered while the GPU collector is blocked in NVML"
wait_for 60 health_is 200 || fail "/health did not recover after the hang"
wait_for 30 scrape_has $P '^jobtel_scrape_collector_success\{collector="gpu"\} 1$' || fail "no recovery after the hang"
scrape $P "$T/h2.txt"
expect_value "$T/h2.txt" 'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-cccccccc-0000-4000-8000-000000000000",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",DCGM_FI_DRIVER_VERSION="550.144.03"}' 200
stop_pid "$EXPORTER_PID" || fail "exporter did not stop cleanly"
pass "hung NVML call"

# --- XID events -----------------------------------------------------------------------------------------
# The driver reports no event from before registration: the events are scheduled once the exporter serves
# (it registers before its first collection), half a second ahead on the scenario clock.
cat >"$T/xid.json" <<'JSON'
{
  "schema": 1,
  "values": {"gpu_util": 1},
  "gpus": [{"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-dddddddd-0000-4000-8000-000000000000",
            "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 81559},
           {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-eeeeeeee-0000-4000-8000-000000000000",
            "pci_bus_id": "00000000:2A:00.0", "minor_number": 1, "memory_total_mib": 81559}]
}
JSON
export FAKE_NVML_SCENARIO="$T/xid.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
start_exporter 0 "${NVML[@]}"
P=$EXPORTER_PORT
scenario_edit "$T/xid.json" 's["xid_events"] = [{"gpu": 0, "at": t + 0.5, "xid": 79}, {"gpu": 0, "at": t + 0.7, "xid": 43}, {"gpu": 0, "at": t + 0.9, "xid": 43}]'
X0='gpu="0",UUID="GPU-dddddddd-0000-4000-8000-000000000000",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3"'
wait_for 30 scrape_has $P "^jobtel_gpu_xid_errors_total\\{.*xid=\"43\"\\} 2$" || fail "XID counts"
scrape $P "$T/x.txt"
validate "$T/x.txt"
expect_value "$T/x.txt" "DCGM_FI_DEV_XID_ERRORS{$X0,DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 43
expect_value "$T/x.txt" "jobtel_gpu_xid_errors_total{$X0,xid=\"79\"}" 1
expect_value "$T/x.txt" "jobtel_gpu_xid_errors_total{$X0,xid=\"43\"}" 2
expect_none "$T/x.txt" jobtel_gpu_xid_errors_total gpu=1
expect_value "$T/x.txt" 'DCGM_FI_DEV_XID_ERRORS{gpu="1",UUID="GPU-eeeeeeee-0000-4000-8000-000000000000",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",DCGM_FI_DRIVER_VERSION="550.144.03"}' 0
stop_pid "$EXPORTER_PID"
pass "XID events"

# --- MIG -----------------------------------------------------------------------------------------------
export FAKE_NVML_SCENARIO="$SCENARIOS/mig.json"
unset FAKE_NVML_START_EPOCH
start_exporter 0 "${NVML[@]}"
scrape $EXPORTER_PORT "$T/mig.txt"
validate "$T/mig.txt"
M='gpu="0",UUID="GPU-5d0c3b8e-1f2a-4e79-9c6d-7b8a0e3f2d14",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3"'
expect_value "$T/mig.txt" "DCGM_FI_DEV_FB_USED{$M,GPU_I_PROFILE=\"3g.40gb\",GPU_I_ID=\"2\",DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 20480
expect_value "$T/mig.txt" 'nvidia_gpu_memory_total_bytes{GPU_I_ID="2",minor_number="0",name="NVIDIA H100 80GB HBM3 MIG 3g.40gb",ordinal="0",uuid="MIG-9f1c2e4a-6b3d-5a8e-b0c7-2d4f6e8a1c3b"}' $((40320 * 1048576))
# NVML has no utilization on a MIG-enabled GPU: no series, not a zero (Princeton does the same).
[ "$(count_series "$T/mig.txt" nvidia_gpu_duty_cycle minor_number=1)" = 1 ] || fail "duty cycle of the GPU without MIG"
expect_none "$T/mig.txt" nvidia_gpu_duty_cycle minor_number=0
[ "$(count_series "$T/mig.txt" DCGM_FI_DEV_GPU_UTIL gpu=1)" = 1 ] || fail "GPU_UTIL of the GPU without MIG"
expect_none "$T/mig.txt" DCGM_FI_DEV_GPU_UTIL gpu=0
stop_pid "$EXPORTER_PID"
pass "MIG instances"
