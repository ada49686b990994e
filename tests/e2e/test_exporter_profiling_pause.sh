#!/bin/bash
# test_exporter_profiling_pause.sh - a job that profiles its GPUs itself (Nsight, CUPTI) gets GPM sampling
# paused on them while it runs: the file the prolog writes in the pause directory stops every GPM sample call
# on that GPU (counted by the fake NVML, FAKE_NVML_GPM_LOG) and its profiling series go away, while the other
# GPUs keep being sampled; once the epilog removes it, sampling and the series come back. Naming a GPU by its
# index pauses its MIG instances too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
export FAKE_NVML_SCENARIO="$SCENARIOS/gpm.json"
export FAKE_NVML_GPM_LOG="$T/samples.log"
U0=GPU-6a1e0c3b-2f4d-4b8e-9a7c-5d3e1f0a2b4c
mkdir -p "$T/pause"
start_exporter_ephemeral pause 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup \
    --collector.gpu.profiling-pause-dir="$T/pause"
wait_metrics "$PORT"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="0"' || fail "no profiling series for GPU 0"

# samples GPU SLOT : how many sample calls the fake saw for (GPU, MIG slot; 0 = the whole GPU).
samples() { awk -v g="$1" -v s="$2" '$1 == g && $2 == s' "$T/samples.log" | wc -l; }
# more_samples GPU SLOT N : succeeds once the fake saw more than N sample calls for it.
more_samples() { [ "$(samples "$1" "$2")" -gt "$3" ]; }
# no_prof GPU : a fresh scrape (into a file: curl | grep -q fails under pipefail) has no profiling series for it.
no_prof() { curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/np.txt" && ! grep -q -E "^DCGM_FI_PROF_[A-Z_]+\\{gpu=\"$1\"" "$T/np.txt"; }

# 1. The prolog pauses GPU 0 (by UUID) for job 4242.
echo 4242 >"$T/pause/$U0"
wait_for 10 no_prof 0 || fail "GPU 0's profiling series stay while paused"
n0=$(samples 0 0)
n1=$(samples 1 0)
# GPU 1 goes on being sampled (three more collections) while GPU 0 sees no sample call at all.
wait_for 15 more_samples 1 0 $((n1 + 3)) || fail "GPU 1 stopped being sampled"
[ "$(samples 0 0)" = "$n0" ] || fail "GPU 0 was sampled while paused ($n0 -> $(samples 0 0) calls)"
scrape "$PORT" "$T/m.txt"
grep -q '^DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="1"' "$T/m.txt" || fail "GPU 1 lost its series"
# The other readings of GPU 0 are not paused.
grep -q '^DCGM_FI_DEV_GPU_UTIL{gpu="0"' "$T/m.txt" || fail "GPU 0's NVML readings paused too"

# 2. The epilog removes it: sampling and the series come back.
rm "$T/pause/$U0"
wait_for 10 more_samples 0 0 $((n0 + 2)) || fail "GPU 0 not sampled again after the pause"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="0"' || fail "GPU 0's series did not resume"

# 3. By index: GPU 1 and its MIG instances (the fake's slots 1 and 2) all stop.
echo 4343 >"$T/pause/1"
wait_for 10 no_prof 1 || fail "GPU 1's profiling series stay while paused"
m0=$(samples 1 0); m1=$(samples 1 1); m2=$(samples 1 2); k=$(samples 0 0)
wait_for 15 more_samples 0 0 $((k + 3)) || fail "GPU 0 stopped being sampled"
[ "$(samples 1 0)" = "$m0" ] && [ "$(samples 1 1)" = "$m1" ] && [ "$(samples 1 2)" = "$m2" ] \
    || fail "GPU 1 or its MIG instances sampled while paused"
rm "$T/pause/1"
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="1".*GPU_I_ID="9"' || fail "MIG series did not resume"

# 4. A MIG instance by "<index>.<gi>", as `jobtel prolog` names a job on one (the HPC mapping's names): that
# instance (GPU instance 9, slot 2) stops, its sibling (GPU instance 2, slot 1) and the parent go on.
echo 4444 >"$T/pause/1.9"
mig9() { curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/mig.txt" && grep -q -E '^DCGM_FI_PROF_[A-Z_]+\{gpu="1".*GPU_I_ID="9"' "$T/mig.txt"; }
no_mig9() { ! mig9; }
wait_for 10 no_mig9 || fail "MIG instance 1.9 keeps its profiling series while paused"
m1=$(samples 1 1); m2=$(samples 1 2)
wait_for 15 more_samples 1 1 $((m1 + 3)) || fail "the sibling MIG instance 1.2 stopped being sampled"
[ "$(samples 1 2)" = "$m2" ] || fail "MIG instance 1.9 sampled while paused"
grep -q -E '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="1".*GPU_I_ID="2"' "$T/mig.txt" || fail "MIG instance 1.2 lost its series"
rm "$T/pause/1.9"
wait_for 10 mig9 || fail "MIG instance 1.9's series did not resume"
stop_pid "$EXPORTER_PID"
pass "profiling pause"
