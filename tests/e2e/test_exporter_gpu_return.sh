#!/bin/bash
# test_exporter_gpu_return.sh - a GPU that falls off the bus and comes back (a reset, a re-plug, a driver
# reload). Like the real driver, the fake NVML invalidates the handles issued before the return (they answer
# GPU_IS_LOST for ever), so the exporter must look for the GPU again (by UUID, then by index) to see it back.
# While lost its readings are absent, never zeros; back, its series return with the same labels and the
# values it reads now. A different board in the same slot is a new GPU: new UUID label, the old one gone.
# Each loss lasts until the test ends it (the scenario is rewritten), so a slow machine cannot miss it.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"

cp "$SCENARIOS/gpu_lost.json" "$T/s.json"
export FAKE_NVML_SCENARIO="$T/s.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
scenario_edit "$T/s.json" 'del s["gpus"][1]["lost_at"]; s["xid_events"] = []; s["gpus"][1]["values"] = {"gpu_util": 40}'
start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n
P=$EXPORTER_PORT
OLD=GPU-8e4a7c2d-05b9-4f61-b3d8-6a2e9c1f4b72
NEW=GPU-99999999-0000-4000-8000-000000000001
G1="gpu=\"1\",UUID=\"$OLD\",pci_bus_id=\"00000000:2A:00.0\",device=\"nvidia1\",modelName=\"NVIDIA H100 80GB HBM3\""
D='DCGM_FI_DRIVER_VERSION="550.144.03"'
scrape $P "$T/before.txt"
expect_value "$T/before.txt" "DCGM_FI_DEV_GPU_UTIL{$G1,$D}" 40

# --- lost: absent, not zero -----------------------------------------------------------------------------
scenario_edit "$T/s.json" 's["gpus"][1]["lost"] = [[t + 0.3, None]]; s["gpus"][1]["values"] = {"gpu_util": [[0, 40], [t + 0.3, 66]]}'
wait_for 30 scrape_has $P "^jobtel_gpu_up\\{gpu=\"1\",.*\\} 0$" || fail "GPU 1 never seen lost"
scrape $P "$T/lost.txt"
validate "$T/lost.txt"
expect_value "$T/lost.txt" "jobtel_gpu_up{$G1}" 0
for m in DCGM_FI_DEV_GPU_UTIL DCGM_FI_DEV_POWER_USAGE DCGM_FI_DEV_FB_USED DCGM_FI_DEV_GPU_TEMP; do
    expect_none "$T/lost.txt" $m gpu=1
    [ "$(count_series "$T/lost.txt" $m gpu=0)" = 1 ] || fail "GPU 0 lost $m while GPU 1 was lost"
done
expect_none "$T/lost.txt" nvidia_gpu_duty_cycle minor_number=1

# --- back: the same board, the same labels, today's values ------------------------------------------------
scenario_edit "$T/s.json" 's["gpus"][1]["lost"][0][1] = t + 0.3'
wait_for 90 scrape_has $P "^jobtel_gpu_up\\{gpu=\"1\",UUID=\"$OLD\",.*\\} 1$" || fail "GPU 1 never came back"
wait_for 30 scrape_has $P "^DCGM_FI_DEV_GPU_UTIL\\{gpu=\"1\",.*\\} 66$" || fail "no reading from GPU 1 after its return"
scrape $P "$T/back.txt"
validate "$T/back.txt"
expect_value "$T/back.txt" "jobtel_gpu_up{$G1}" 1
expect_value "$T/back.txt" "DCGM_FI_DEV_GPU_UTIL{$G1,$D}" 66
expect_value "$T/back.txt" "DCGM_FI_DEV_POWER_USAGE{$G1,$D}" 480
[ "$(count_series "$T/back.txt" DCGM_FI_DEV_GPU_UTIL)" = 2 ] || fail "two GPUs after the return"
[ "$(count_series "$T/back.txt" nvidia_gpu_duty_cycle minor_number=1)" = 1 ] || fail "Princeton series of GPU 1 after the return"
grep -q "GPU 1 ($OLD, 00000000:2A:00.0) is back" "$EXPORTER_LOG" || fail "the return was not logged"
pass "a lost GPU comes back with its labels"

# --- lost again, and another board answers in its slot ----------------------------------------------------
scenario_edit "$T/s.json" 's["gpus"][1]["lost"].append([t + 0.3, None])'
wait_for 30 scrape_has $P "^jobtel_gpu_up\\{gpu=\"1\",.*\\} 0$" || fail "GPU 1 never seen lost the second time"
scenario_edit "$T/s.json" "s['gpus'][1]['lost'][1][1] = t + 0.3; s['gpus'][1]['returns_as'] = '$NEW'"
wait_for 90 scrape_has $P "^jobtel_gpu_up\\{gpu=\"1\",UUID=\"$NEW\",.*\\} 1$" || fail "the new board in slot 1 never showed"
wait_for 30 scrape_has $P "^DCGM_FI_DEV_GPU_UTIL\\{gpu=\"1\",UUID=\"$NEW\",.*\\} 66$" || fail "no reading from the new board"
scrape $P "$T/new.txt"
validate "$T/new.txt"
expect_none "$T/new.txt" '*' UUID="$OLD"
expect_none "$T/new.txt" '*' uuid="$OLD"
# The old board's GPU_IS_LOST is not the new one's last error (the gauge is only written for an error).
expect_none "$T/new.txt" nvidia_gpu_last_error uuid="$NEW"
[ "$(count_series "$T/new.txt" nvidia_gpu_duty_cycle uuid="$NEW")" = 1 ] || fail "Princeton series of the new board"
grep -q "is back as another board, $NEW" "$EXPORTER_LOG" || fail "the new board was not logged"
stop_pid "$EXPORTER_PID" || fail "exporter did not stop cleanly"
pass "another board in a lost GPU's slot is a new GPU"
