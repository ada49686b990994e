#!/bin/bash
# test_exporter_dcgm_exp.sh - dcgm-exporter's synthesised DCGM_EXP_XID_ERRORS_COUNT, from NVML's XID events (no
# DCGM needed): per GPU and XID, the events of the last window (-x / DCGM_EXPORTER_XID_COUNT_WINDOW_SIZE ms),
# with its window_size_in_ms and xid labels; an XID older than the window stops being counted; a GPU without
# events has no series (not a zero). The fake NVML delivers the XIDs the scenario schedules.
# DCGM_EXP_CLOCK_EVENTS_COUNT from NVML's clock event reasons (no DCGM either): per GPU and reason
# (clock_event, dcgm-exporter's names), the collections of the last window during which it held; a GPU with
# none in the window has one 0 series without clock_event, as dcgm-exporter does. DCGM_EXP_GPU_HEALTH_STATUS
# from DCGM's health checks (fake libdcgm): 10 series per GPU (health_watch), the result 0/10/20 and the
# incident's DCGM_FR_* code; without the DCGM backend it is absent and the log says why.
# DCGM_EXP_P2P_STATUS from NVML's nvmlDeviceGetP2PStatus (NVLink): per GPU and peer, the status and its
# link_status name; where NVML does not answer, no series (the fake's FAKE_NVML_P2P matrix).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}"
cat >"$T/s.json" <<'JSON'
{
  "values": {"gpu_util": 10, "mem_util": 1, "memory_used_mib": 100},
  "gpus": [
    {"name": "G", "uuid": "GPU-0c000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "memory_total_mib": 1000,
     "values": {"clocks_event_reasons": 5}},
    {"name": "G", "uuid": "GPU-1c000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "memory_total_mib": 1000,
     "values": {"clocks_event_reasons": [[0, 0], [2, 64], [5, 0]]}}
  ],
  "xid_events": [{"gpu": 1, "at": 3, "xid": 31}, {"gpu": 1, "at": 3.5, "xid": 31}, {"gpu": 1, "at": 4, "xid": 48}]
}
JSON
cat >"$T/c.csv" <<'CSV'
DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).
DCGM_EXP_XID_ERRORS_COUNT, gauge, Count of XID Errors within user-specified time window (see xid-count-window-size param).
DCGM_EXP_CLOCK_EVENTS_COUNT, counter, reported clock events
DCGM_EXP_GPU_HEALTH_STATUS, counter, DCGM reported health status
DCGM_EXP_P2P_STATUS, counter, P2P NvLink status
CSV
export FAKE_NVML_SCENARIO="$T/s.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
L='gpu="1",UUID="GPU-1c000000-0000-4000-8000-000000000000",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="G"'
L0='gpu="0",UUID="GPU-0c000000-0000-4000-8000-000000000000",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="G"'
FAKE_NVML_P2P="6,0;5,6" start_exporter_ephemeral exp 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" \
    --no-collector.cgroup -n -f "$T/c.csv" -x 8000 --clock-events-count-window-size 4000
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
pass "DCGM_EXP_XID_ERRORS_COUNT"

# P2P: GPU 0 -> 1 over NVLink OK, GPU 1 -> 0 not supported; never a GPU towards itself.
expect_value "$T/m.txt" "DCGM_EXP_P2P_STATUS{$L0,link_status=\"OK\",peer_gpu=\"1\"}" 0
expect_value "$T/m.txt" "DCGM_EXP_P2P_STATUS{$L,link_status=\"NotSupported\",peer_gpu=\"0\"}" 5
[ "$(grep -c '^DCGM_EXP_P2P_STATUS' "$T/m.txt")" = 2 ] || fail "P2P series: $(grep '^DCGM_EXP_P2P_STATUS' "$T/m.txt")"
pass "DCGM_EXP_P2P_STATUS"

# Clock events. GPU 0 is idle and power-capped at every collection: the two counts are equal, and nothing else.
clock() { awk -v k="DCGM_EXP_CLOCK_EVENTS_COUNT{$1" 'index($0, k) == 1 { print $NF }' "$2"; }
scrape "$PORT" "$T/c.txt"
validate "$T/c.txt"
idle=$(clock "$L0,clock_event=\"gpu_idle\",window_size_in_ms=\"4000\"}" "$T/c.txt")
cap=$(clock "$L0,clock_event=\"power_cap\",window_size_in_ms=\"4000\"}" "$T/c.txt")
[ -n "$idle" ] && [ "$idle" -ge 1 ] && [ "$idle" = "$cap" ] || fail "GPU 0: gpu_idle '$idle', power_cap '$cap'"
[ "$(grep -c "^DCGM_EXP_CLOCK_EVENTS_COUNT{$L0" "$T/c.txt")" = 2 ] || fail "GPU 0: other clock events: $(grep "^DCGM_EXP_CLOCK_EVENTS_COUNT{$L0" "$T/c.txt")"
grep -q '^# TYPE DCGM_EXP_CLOCK_EVENTS_COUNT counter$' "$T/c.txt" || fail "the CSV's type (counter) not kept"
# GPU 1 was hw_thermal for scenario t = 2-5 s only: past the 4 s window that count goes, and the 0 series is back.
zero1() { curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/z.txt" &&
    grep -qx "DCGM_EXP_CLOCK_EVENTS_COUNT{$L,window_size_in_ms=\"4000\"} 0" "$T/z.txt" && ! grep -q 'hw_thermal' "$T/z.txt"; }
wait_for 30 zero1 || fail "GPU 1: no 0 series after its clock events left the window: $(grep "^DCGM_EXP_CLOCK_EVENTS_COUNT{$L" "$T/z.txt")"
grep -q 'clock_event="hw_thermal"' "$T"/m.txt "$T"/g.txt "$T"/c.txt ||
    fail "GPU 1's hw_thermal events (t = 2-5 s) were never counted"
pass "DCGM_EXP_CLOCK_EVENTS_COUNT"
# Health status needs DCGM: absent here, and said so.
grep -q '^DCGM_EXP_GPU_HEALTH_STATUS' "$T/z.txt" && fail "DCGM_EXP_GPU_HEALTH_STATUS made up without DCGM"
grep -q 'DCGM_EXP_GPU_HEALTH_STATUS comes from DCGM' "$T/exp.log" || fail "no log line on the absent health status"
stop_pid "$EXPORTER_PID"

# Health status from DCGM: GPU 1 has a failed MEM check (volatile DBE) and a PCIe warning; GPU 0 passes all.
: "${FAKE_DCGM_LIB:?}"
echo '{"gpus": 2, "fields": {}, "health": [{"gpu": 1, "system": 16, "health": 20, "code": 4},
      {"gpu": 1, "system": 1, "health": 10, "code": 3}, {"gpu": 1, "system": 1, "health": 0, "code": 0}]}' >"$T/dcgm.json"
FAKE_DCGM_SCENARIO="$T/dcgm.json" FAKE_DCGM_LOG="$T/fake-dcgm.events" start_exporter_ephemeral health 127.0.0.1:0 \
    --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n -f "$T/c.csv" \
    --collector.gpu.dcgm --collector.gpu.dcgm-library="$FAKE_DCGM_LIB"
wait_metrics "$PORT"
wait_for 15 scrape_has "$PORT" '^DCGM_EXP_GPU_HEALTH_STATUS\{gpu="1"' || fail "no DCGM_EXP_GPU_HEALTH_STATUS"
scrape "$PORT" "$T/h.txt"
validate "$T/h.txt"
H='DCGM_EXP_GPU_HEALTH_STATUS'
expect_value "$T/h.txt" "$H{$L,health_error_code=\"DCGM_FR_VOLATILE_DBE_DETECTED\",health_watch=\"MEM\"}" 20
expect_value "$T/h.txt" "$H{$L,health_error_code=\"DCGM_FR_PCI_REPLAY_RATE\",health_watch=\"PCIE\"}" 10
expect_value "$T/h.txt" "$H{$L,health_error_code=\"DCGM_FR_OK\",health_watch=\"THERMAL\"}" 0
expect_value "$T/h.txt" "$H{$L0,health_error_code=\"DCGM_FR_OK\",health_watch=\"MEM\"}" 0
for g in "$L0" "$L"; do
    [ "$(grep -c "^$H{$g," "$T/h.txt")" = 10 ] || fail "want 10 health watches per GPU: $(grep -c "^$H{$g," "$T/h.txt")"
done
grep -q '^health-set 0xffffffff$' "$T/fake-dcgm.events" || fail "health watches not set on all systems"
# This NVML answers no P2P question: no P2P series, and the log says why.
grep -q '^DCGM_EXP_P2P_STATUS' "$T/h.txt" && fail "P2P status made up where NVML gives none"
grep -q 'DCGM_EXP_P2P_STATUS absent' "$T/health.log" || fail "no log line on the absent P2P status"
stop_pid "$EXPORTER_PID"
pass "DCGM_EXP_GPU_HEALTH_STATUS from DCGM's health checks"
