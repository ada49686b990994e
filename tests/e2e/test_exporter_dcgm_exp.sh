#!/bin/bash
# test_exporter_dcgm_exp.sh - dcgm-exporter's synthesised DCGM_EXP_XID_ERRORS_COUNT, from NVML's XID events (no
# DCGM needed): per GPU and XID, the events of the last window (-x / DCGM_EXPORTER_XID_COUNT_WINDOW_SIZE ms),
# with its window_size_in_ms and xid labels; an XID older than the window stops being counted; a GPU without
# events has no series (not a zero). The fake NVML delivers the XIDs the scenario schedules.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}"
cat >"$T/s.json" <<'JSON'
{
  "values": {"gpu_util": 10, "mem_util": 1, "memory_used_mib": 100},
  "gpus": [
    {"name": "G", "uuid": "GPU-0c000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "memory_total_mib": 1000},
    {"name": "G", "uuid": "GPU-1c000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "memory_total_mib": 1000}
  ],
  "xid_events": [{"gpu": 1, "at": 3, "xid": 31}, {"gpu": 1, "at": 3.5, "xid": 31}, {"gpu": 1, "at": 4, "xid": 48}]
}
JSON
cat >"$T/c.csv" <<'CSV'
DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).
DCGM_EXP_XID_ERRORS_COUNT, gauge, Count of XID Errors within user-specified time window (see xid-count-window-size param).
CSV
export FAKE_NVML_SCENARIO="$T/s.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
L='gpu="1",UUID="GPU-1c000000-0000-4000-8000-000000000000",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="G"'
start_exporter_ephemeral exp 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n \
    -f "$T/c.csv" -x 8000
wait_metrics "$PORT"
wait_for 20 scrape_has "$PORT" 'xid="48"' || fail "no DCGM_EXP_XID_ERRORS_COUNT for XID 48"
scrape "$PORT" "$T/m.txt"
validate "$T/m.txt"
expect_value "$T/m.txt" "DCGM_EXP_XID_ERRORS_COUNT{$L,window_size_in_ms=\"8000\",xid=\"31\"}" 2
expect_value "$T/m.txt" "DCGM_EXP_XID_ERRORS_COUNT{$L,window_size_in_ms=\"8000\",xid=\"48\"}" 1
grep -q '^DCGM_EXP_XID_ERRORS_COUNT{gpu="0"' "$T/m.txt" && fail "a GPU without XIDs has a series"
grep -q 'skipped.*DCGM_EXP_XID_ERRORS_COUNT' "$T/exp.log" && fail "DCGM_EXP_XID_ERRORS_COUNT listed as skipped"
# Past the window (events at scenario t = 3-4 s, window 8 s): no longer counted.
gone() { curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/g.txt" && ! grep -q '^DCGM_EXP_XID_ERRORS_COUNT' "$T/g.txt"; }
wait_for 30 gone || fail "XIDs older than the window still counted"
grep -q '^jobtel_gpu_xid_errors_total{.*xid="31"} 2$' "$T/g.txt" || fail "the total count must stay"
stop_pid "$EXPORTER_PID"
pass "DCGM_EXP_XID_ERRORS_COUNT"
