#!/bin/bash
# test_exporter_faults.sh - what the exporter does when the hardware misbehaves: a GPU lost mid-run
# (others keep reporting, the lost one is flagged, no crash), an NVML call hung for 10 s (scrapes keep
# answering fast, /health turns 503 and says why, recovery after), XID events, and MIG instances.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
NVML=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n)

# --- a GPU falls off the bus at t=3 s ------------------------------------------------------------------
export FAKE_NVML_SCENARIO="$SCENARIOS/gpu_lost.json"
export FAKE_NVML_START_EPOCH=$(date +%s.%N)
start_exporter 19430 "${NVML[@]}"
scrape 19430 "$T/before.txt"
[ "$(count_series "$T/before.txt" DCGM_FI_DEV_GPU_UTIL)" = 2 ] || fail "both GPUs before the loss"
wait_for 10 scrape_has 19430 '^jobtel_gpu_up\{gpu="1",.*\} 0$' || fail "lost GPU not flagged"
sleep 1.5
scrape 19430 "$T/after.txt"
validate "$T/after.txt"
G0='gpu="0",UUID="GPU-1b6e0f3a-92c4-4d7e-8a15-3c9d2e7f6a01",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3"'
G1='gpu="1",UUID="GPU-8e4a7c2d-05b9-4f61-b3d8-6a2e9c1f4b72",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3"'
expect_value "$T/after.txt" "DCGM_FI_DEV_GPU_UTIL{$G0,DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 88
expect_value "$T/after.txt" "jobtel_gpu_up{$G0}" 1
expect_value "$T/after.txt" "jobtel_gpu_up{$G1}" 0
[ "$(count_series "$T/after.txt" DCGM_FI_DEV_GPU_UTIL)" = 1 ] || fail "the lost GPU must not keep stale values"
grep -q 'nvidia_gpu_duty_cycle{minor_number="1"' "$T/after.txt" && fail "no Princeton values for the lost GPU"
expect_value "$T/after.txt" 'nvidia_gpu_last_error{minor_number="1",name="NVIDIA H100 80GB HBM3",ordinal="1",uuid="GPU-8e4a7c2d-05b9-4f61-b3d8-6a2e9c1f4b72"}' 15
expect_value "$T/after.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
[ "$(grep -c 'is lost' "$T/exporter-19430.log")" = 1 ] || fail "one log line for the loss"
kill -0 "$EXPORTER_PID" || fail "exporter died"
stop_pid "$EXPORTER_PID" || fail "exporter did not stop cleanly"
pass "GPU lost mid-run"

# --- an NVML call hangs 10 s ----------------------------------------------------------------------------
cat >"$T/hang.json" <<'JSON'
{
  "schema": 1,
  "values": {"gpu_util": 30, "memory_used_mib": 100, "temperature_c": 45, "power_mw": 200000},
  "gpus": [{"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-cccccccc-0000-4000-8000-000000000000",
            "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 81559}],
  "faults": [{"call": "nvmlDeviceGetPowerUsage", "gpu": 0, "hang_ms": 10000, "from": 3, "once": true}]
}
JSON
export FAKE_NVML_SCENARIO="$T/hang.json"
export FAKE_NVML_START_EPOCH=$(date +%s.%N)
start_exporter 19431 "${NVML[@]}"
scrape 19431 "$T/h0.txt"
expect_value "$T/h0.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
# Scrape continuously through the hang: every answer must come fast.
saw503=0
max=0
for i in $(seq 1 70); do
    t=$(curl -s -o /dev/null -w '%{time_total}' http://127.0.0.1:19431/metrics)
    max=$("$PY" -c "print(max($max, $t))")
    code=$(curl -s -o "$T/health.txt" -w '%{http_code}' http://127.0.0.1:19431/health)
    if [ "$code" = 503 ] && [ "$saw503" = 0 ]; then
        saw503=1
        grep -q 'collector gpu: stale' "$T/health.txt" || fail "/health must say which collector is stale"
        scrape 19431 "$T/during.txt"
        expect_value "$T/during.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 0
        grep -q '^DCGM_FI_DEV_GPU_UTIL' "$T/during.txt" && fail "stale GPU values must not be served"
        validate "$T/during.txt"
    fi
    sleep 0.1
done
[ "$saw503" = 1 ] || fail "/health never turned 503 during the hang"
"$PY" -c "import sys; sys.exit(0 if $max < 0.05 else 1)" || fail "a scrape took ${max}s during the hang (want < 50 ms)"
echo "slowest scrape during the hang: ${max}s"
wait_for 10 test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19431/health)" = 200 || true
wait_for 10 scrape_has 19431 '^jobtel_scrape_collector_success\{collector="gpu"\} 1$' || fail "no recovery after the hang"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19431/health)" = 200 ] || fail "/health did not recover"
scrape 19431 "$T/h2.txt"
expect_value "$T/h2.txt" 'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-cccccccc-0000-4000-8000-000000000000",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",DCGM_FI_DRIVER_VERSION="550.144.03"}' 200
stop_pid "$EXPORTER_PID" || fail "exporter did not stop cleanly"
pass "hung NVML call"

# --- XID events -----------------------------------------------------------------------------------------
cat >"$T/xid.json" <<'JSON'
{
  "schema": 1,
  "values": {"gpu_util": 1},
  "gpus": [{"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-dddddddd-0000-4000-8000-000000000000",
            "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 81559},
           {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-eeeeeeee-0000-4000-8000-000000000000",
            "pci_bus_id": "00000000:2A:00.0", "minor_number": 1, "memory_total_mib": 81559}],
  "xid_events": [{"gpu": 0, "at": 1.0, "xid": 79}, {"gpu": 0, "at": 1.2, "xid": 43}, {"gpu": 0, "at": 1.4, "xid": 43}]
}
JSON
export FAKE_NVML_SCENARIO="$T/xid.json"
export FAKE_NVML_START_EPOCH=$(date +%s.%N)
start_exporter 19432 "${NVML[@]}"
X0='gpu="0",UUID="GPU-dddddddd-0000-4000-8000-000000000000",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3"'
wait_for 10 scrape_has 19432 "^jobtel_gpu_xid_errors_total\\{.*xid=\"43\"\\} 2$" || fail "XID counts"
scrape 19432 "$T/x.txt"
validate "$T/x.txt"
expect_value "$T/x.txt" "DCGM_FI_DEV_XID_ERRORS{$X0,DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 43
expect_value "$T/x.txt" "jobtel_gpu_xid_errors_total{$X0,xid=\"79\"}" 1
expect_value "$T/x.txt" "jobtel_gpu_xid_errors_total{$X0,xid=\"43\"}" 2
grep -q 'jobtel_gpu_xid_errors_total{gpu="1"' "$T/x.txt" && fail "no XIDs on GPU 1"
expect_value "$T/x.txt" 'DCGM_FI_DEV_XID_ERRORS{gpu="1",UUID="GPU-eeeeeeee-0000-4000-8000-000000000000",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",DCGM_FI_DRIVER_VERSION="550.144.03"}' 0
stop_pid "$EXPORTER_PID"
pass "XID events"

# --- MIG -----------------------------------------------------------------------------------------------
export FAKE_NVML_SCENARIO="$SCENARIOS/mig.json"
unset FAKE_NVML_START_EPOCH
start_exporter 19433 "${NVML[@]}"
scrape 19433 "$T/mig.txt"
validate "$T/mig.txt"
M='gpu="0",UUID="GPU-5d0c3b8e-1f2a-4e79-9c6d-7b8a0e3f2d14",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3"'
expect_value "$T/mig.txt" "DCGM_FI_DEV_FB_USED{$M,GPU_I_PROFILE=\"3g.40gb\",GPU_I_ID=\"2\",DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 20480
expect_value "$T/mig.txt" 'nvidia_gpu_memory_total_bytes{GPU_I_ID="2",minor_number="0",name="NVIDIA H100 80GB HBM3 MIG 3g.40gb",ordinal="0",uuid="MIG-9f1c2e4a-6b3d-5a8e-b0c7-2d4f6e8a1c3b"}' $((40320 * 1048576))
# NVML has no utilization on a MIG-enabled GPU: no series, not a zero (Princeton does the same).
grep -q 'nvidia_gpu_duty_cycle{minor_number="0"' "$T/mig.txt" && fail "no duty cycle on a MIG GPU"
grep -q "^DCGM_FI_DEV_GPU_UTIL{$M" "$T/mig.txt" && fail "no GPU_UTIL on a MIG GPU"
stop_pid "$EXPORTER_PID"
pass "MIG instances"
