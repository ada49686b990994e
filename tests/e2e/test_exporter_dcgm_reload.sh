#!/bin/bash
# test_exporter_dcgm_reload.sh - a changed counters CSV takes effect on SIGHUP with the DCGM backend too: the
# daemon unwatches and destroys its DCGM field group and watches the new selection in a new one, so a field the
# new file adds is served and one it drops is gone; the daemon does not exit and stays connected. MIG instances
# are watched again with the new group.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${FAKE_DCGM_LIB:?}" "${SCENARIOS:?}"
export FAKE_NVML_SCENARIO="$SCENARIOS/gpm.json" # GPU 1 has MIG instances (GPU instances 2 and 9)
cat >"$T/dcgm.json" <<'JSON'
{"gpus": 3, "fields": {"1001": [0.5, 0.75, 0.25], "1002": [0.375, 0.375, 0.375], "1005": [0.125, 0.625, 0.875]},
 "instances": [{"gpu": 1, "gpu_instance": 9, "entity": 17, "fields": {"1001": 0.3125, "1005": 0.0625}}]}
JSON
printf '%s\n' 'DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.' \
    'DCGM_FI_PROF_SM_ACTIVE, gauge, The ratio of cycles an SM has at least 1 warp assigned.' >"$T/c.csv"
export FAKE_DCGM_SCENARIO="$T/dcgm.json" FAKE_DCGM_LOG="$T/fake-dcgm.events"
start_exporter_ephemeral reload 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n \
    -f "$T/c.csv" --no-collector.gpu.jobstats-names --collector.gpu.dcgm --collector.gpu.dcgm-library="$FAKE_DCGM_LIB"
wait_metrics "$PORT"
wait_for 15 scrape_has "$PORT" '^DCGM_FI_PROF_SM_ACTIVE\{gpu="2"' || fail "no SM_ACTIVE before the reload"
wait_for 15 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="1".*GPU_I_ID="9"' || fail "no MIG series before"
grep -q '^watch 2 ' "$T/fake-dcgm.events" || fail "the two fields of the first CSV are not watched"

# The new CSV drops SM_ACTIVE and adds DRAM_ACTIVE.
printf '%s\n' 'DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.' \
    'DCGM_FI_PROF_DRAM_ACTIVE, gauge, Ratio of cycles the device memory interface is active.' >"$T/c.csv"
kill -HUP "$EXPORTER_PID"
swapped() { curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/s.txt" && grep -q '^DCGM_FI_PROF_DRAM_ACTIVE{gpu="2"' "$T/s.txt" &&
    ! grep -q '^DCGM_FI_PROF_SM_ACTIVE' "$T/s.txt"; }
wait_for 20 swapped || fail "after SIGHUP: DRAM_ACTIVE not served or SM_ACTIVE still there"
validate "$T/s.txt"
kill -0 "$EXPORTER_PID" || fail "the daemon exited on SIGHUP"
grep -q '^jobtel_dcgm_connected 1$' "$T/s.txt" || fail "not connected after the reload"
grep -q '^jobtel_dcgm_reconnects_total 0$' "$T/s.txt" || fail "the reload reconnected instead of rewatching"
# DCGM's value, not a leftover: GPU 2's DRAM activity is 0.875.
grep -q '^DCGM_FI_PROF_DRAM_ACTIVE{gpu="2",[^}]*} 0.875$' "$T/s.txt" || fail "DRAM_ACTIVE of GPU 2: $(grep '^DCGM_FI_PROF_DRAM_ACTIVE{gpu="2"' "$T/s.txt")"
# The engine saw the old group unwatched and destroyed, then a new one with the new fields, under a new name.
sed -n '/^unwatch$/,$p' "$T/fake-dcgm.events" >"$T/after.txt"
[ -s "$T/after.txt" ] || fail "the old watch was not removed"
grep -q '^fg-destroy$' "$T/after.txt" || fail "the old field group was not destroyed"
grep -q '^watch 2 ' "$T/after.txt" || fail "the new fields were not watched"
[ "$(grep '^fg-create' "$T/fake-dcgm.events" | sort -u | wc -l)" = 2 ] || fail "field group names: $(grep '^fg-create' "$T/fake-dcgm.events")"
# The MIG instances are watched again with the new group: their DRAM activity comes too.
wait_for 15 scrape_has "$PORT" '^DCGM_FI_PROF_DRAM_ACTIVE\{gpu="1".*GPU_I_ID="9".*\} 0.0625$' || fail "MIG instance not rewatched"
grep -q 'the counters changed; watching 2 profiling fields' "$T/reload.log" || fail "the rewatch was not logged"
stop_pid "$EXPORTER_PID"
pass "DCGM watches rebuilt on SIGHUP"
