#!/bin/bash
# test_exporter_dcgm_mig.sh - the DCGM backend serves the profiling fields per MIG instance: DCGM's GPU_I
# entities (numbered by DCGM, not NVML) are mapped through the engine's instance hierarchy to NVML's GPU and
# GPU instance, and their series carry dcgm-exporter's MIG labels (GPU_I_PROFILE, GPU_I_ID). A blank value is
# no series; an instance DCGM does not know has none; the whole GPUs keep theirs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${FAKE_DCGM_LIB:?}" "${SCENARIOS:?}"
# NVML: GPU 1 has two MIG instances, GPU instance 2 (3g.40gb) and 9 (1g.10gb).
export FAKE_NVML_SCENARIO="$SCENARIOS/gpm.json"
cat >"$T/dcgm.json" <<'JSON'
{"gpus": 3, "fields": {"1001": [0.5, 0.75, 0.25], "1004": [0.125, null, 0.0625]},
 "instances": [{"gpu": 1, "gpu_instance": 9, "entity": 17, "fields": {"1001": 0.375, "1004": 0.1875, "1009": 2097152}},
               {"gpu": 1, "gpu_instance": 2, "entity": 3, "fields": {"1001": 0.625, "1004": null}}]}
JSON
cat >"$T/prof.csv" <<'CSV'
DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.
DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.
DCGM_FI_PROF_PCIE_TX_BYTES, gauge, PCIe TX bytes per second.
CSV
export FAKE_DCGM_SCENARIO="$T/dcgm.json" FAKE_DCGM_LOG="$T/fake-dcgm.events"
start_exporter_ephemeral mig 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n \
    -f "$T/prof.csv" --no-collector.gpu.jobstats-names --collector.gpu.dcgm --collector.gpu.dcgm-library="$FAKE_DCGM_LIB"
wait_metrics "$PORT"
wait_for 15 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="1".*GPU_I_ID="9"' || fail "no MIG profiling series"
scrape "$PORT" "$T/m.txt"
validate "$T/m.txt"
G1='gpu="1",UUID="GPU-7b2f1d4c-3a5e-4c9f-8b6d-6e4f2a1b3c5d",pci_bus_id="'
want() { # FIELD GI VALUE
    local got
    got=$(awk -v f="$1" -v gi="GPU_I_ID=\"$2\"" 'index($0, f "{") == 1 && index($0, gi) { print $NF }' "$T/m.txt")
    [ "$got" = "$3" ] || fail "$1 of MIG instance 1/$2: '$got', want '$3'"
}
want DCGM_FI_PROF_GR_ENGINE_ACTIVE 9 0.375
want DCGM_FI_PROF_PIPE_TENSOR_ACTIVE 9 0.1875
want DCGM_FI_PROF_PCIE_TX_BYTES 9 2097152
want DCGM_FI_PROF_GR_ENGINE_ACTIVE 2 0.625
want DCGM_FI_PROF_PIPE_TENSOR_ACTIVE 2 "" # blank in DCGM: no series
want DCGM_FI_PROF_PCIE_TX_BYTES 2 ""     # not watched there: none
grep -q '^DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="1",[^}]*GPU_I_PROFILE="1g.10gb",GPU_I_ID="9"' "$T/m.txt" ||
    fail "MIG labels not as dcgm-exporter orders them: $(grep 'GPU_I_ID="9"' "$T/m.txt" | head -n1)"
# Whole GPUs keep their values, and a MIG parent has no GPU_I labels.
for g in 0:0.5 1:0.75 2:0.25; do
    got=$(grep -E "^DCGM_FI_PROF_GR_ENGINE_ACTIVE\\{gpu=\"${g%%:*}\"" "$T/m.txt" | grep -v GPU_I_ID | awk '{print $NF}')
    [ "$got" = "${g#*:}" ] || fail "GPU ${g%%:*}: GR_ENGINE_ACTIVE '$got', want ${g#*:}"
done
grep -q '^watch-instances ' "$T/fake-dcgm.events" || fail "the MIG instances were not watched"
grep -q '^hierarchy$' "$T/fake-dcgm.events" || fail "the instance hierarchy was not read"
# The hierarchy is read once, not per collection.
n=$(grep -c '^get-instances' "$T/fake-dcgm.events")
wait_for 15 sh -c "[ \$(grep -c '^get-instances' '$T/fake-dcgm.events') -gt $((n + 2)) ]" || fail "instances not read each collection"
[ "$(grep -c '^hierarchy$' "$T/fake-dcgm.events")" = 1 ] || fail "hierarchy read $(grep -c '^hierarchy$' "$T/fake-dcgm.events") times"
stop_pid "$EXPORTER_PID"
pass "DCGM profiling fields per MIG instance, with dcgm-exporter's MIG labels"
