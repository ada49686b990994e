#!/bin/bash
# test_slurm_profiling_pause.sh - a job asks for a profiling pause through Slurm, with the word
# jobtel:profiling-pause in its comment (sbatch --comment), which slurmd hands to the Prolog and the Epilog
# as SLURM_JOB_COMMENT: under a real Slurm 22.05 the prolog (`jobtel prolog`) names the job's GPUs in the
# exporter's pause directory, the exporter (fake NVML with GPM) stops sampling them and drops their
# profiling series while the job runs, the other GPU keeps both, and the epilog takes the pause away so the
# series resume. An exporter with the DCGM backend (fake libdcgm) pauses DCGM profiling meanwhile and
# resumes it after. A job that does not ask (another comment) leaves everything as it was.
# Fails (never skips) when Slurm cannot start here.
source "$SRC/tests/e2e/lib.sh"
source "$SRC/tests/e2e/slurm/cluster.sh"
source "$SRC/tests/e2e/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${FAKE_DCGM_LIB:?}" "${SCENARIOS:?}"

NGPUS=2
JOB_UID=$(id -u nobody)
export FAKE_NVML_SCENARIO="$SCENARIOS/gpm.json" FAKE_NVML_GPM_LOG="$T/samples.log"
echo '{"gpus": 2, "fields": {"1001": [0.5, 0.25]}}' >"$T/dcgm.json"
export FAKE_DCGM_SCENARIO="$T/dcgm.json" FAKE_DCGM_LOG="$T/fake-dcgm.events"

# 0. The hooks alone, as slurmd runs them (no Slurm yet): which comments ask, and an epilog where no job ever
# asked does not create the directory.
hook() { # prolog|epilog JOB COMMENT
    env -i SLURM_JOB_ID="$2" SLURM_JOB_UID=65534 SLURM_JOB_GPUS=0 SLURM_JOB_COMMENT="$3" \
        "$JOBTEL" "$1" --strict --no-syslog --hpc-dir "$T/h0" --gpustat-dir "" --profiling-pause-dir "$T/p0"
}
hook epilog 10 "" || fail "epilog without a pause directory"
[ ! -e "$T/p0" ] || fail "an epilog created the pause directory"
n=11
for c in "JOBTEL:Profiling-Pause" "a,jobtel:profiling-pause;b" $'x\tjobtel:profiling-pause\n'; do
    hook prolog $n "$c" || fail "prolog, comment '$c'"
    grep -qx "$n" "$T/p0/0" || fail "comment '$c' did not pause"
    hook epilog $n "" || fail "epilog $n"
    [ ! -e "$T/p0/0" ] || fail "epilog $n left the pause"
    n=$((n + 1))
done
big=$(head -c 120000 /dev/zero | tr '\0' 'j')
for c in "xjobtel:profiling-pause" "jobtel:profiling-pause2" "jobtel:profiling" "$big" $'\xff\xfe jobtel:profiling-pauses'; do
    hook prolog $n "$c" || fail "prolog, comment '${c:0:40}'"
    [ ! -e "$T/p0/0" ] || fail "comment '${c:0:40}' paused"
    n=$((n + 1))
done
env -i SLURM_JOB_ID=99 SLURM_JOB_GPUS=0 SLURM_JOB_COMMENT=jobtel:profiling-pause "$JOBTEL" prolog --strict --no-syslog \
    --hpc-dir "$T/h0" --gpustat-dir "" --profiling-pause-dir "$T/h0" 2>"$T/same.err" && fail "pause dir = hpc dir accepted"
pass "the hooks: which comments ask, and the epilog creates no directory"

slurm_require
mkdir -p "$T/out" "$T/work" "$T/release"
chmod 1777 "$T/out" "$T/work"
hooks=(--strict --no-syslog --log.level=info --hpc-dir "$T/hpc" --gpustat-dir "" --profiling-pause-dir "$T/pause")
slurm_write_wrapper "$T/prolog.sh" "$(readlink -f "$JOBTEL")" prolog "${hooks[@]}"
slurm_write_wrapper "$T/epilog.sh" "$(readlink -f "$JOBTEL")" epilog "${hooks[@]}"
trap 'rc=$?; set +e; touch "$T/release/all"; slurm_down; (exit $rc); cleanup' EXIT
slurm_up "$NGPUS" "$T/prolog.sh" "$T/epilog.sh"

common=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n --hpc-job-mapping-dir="$T/hpc"
    --slurm.gpustat-dir= --collector.gpu.profiling-pause-dir="$T/pause")
start_exporter_ephemeral exp-dcgm 127.0.0.1:0 "${common[@]}" --collector.gpu.dcgm --collector.gpu.dcgm-library="$FAKE_DCGM_LIB"
DPORT=$PORT DPID=$EXPORTER_PID
start_exporter_ephemeral exp-gpm 127.0.0.1:0 "${common[@]}"
wait_metrics "$PORT"
wait_metrics "$DPORT"
for g in 0 1; do
    wait_for 15 scrape_has "$PORT" "^DCGM_FI_PROF_GR_ENGINE_ACTIVE\\{gpu=\"$g\"" || fail "GPM: no profiling series for GPU $g"
    wait_for 15 scrape_has "$DPORT" "^DCGM_FI_PROF_GR_ENGINE_ACTIVE\\{gpu=\"$g\"" || fail "DCGM: no profiling series for GPU $g"
done

# submit COMMENT : a 1-GPU job as nobody that runs until released; prints its id.
submit() {
    setpriv --reuid="$JOB_UID" --regid="$(id -g nobody)" --clear-groups -- \
        sbatch --parsable --gres=gpu:1 --comment="$1" -t 2 -D "$T/work" -o "$T/out/%j.out" --wrap \
        "touch $T/out/\$SLURM_JOB_ID.started
         for i in \$(seq 600); do { [ -e $T/release/\$SLURM_JOB_ID ] || [ -e $T/release/all ]; } && break; sleep 0.1; done"
}
wait_running() { wait_for 30 test -e "$T/out/$1.started" || fail "job $1 did not start: $(squeue -h -j "$1" -o '%T %r')"; }
end_job() {
    touch "$T/release/$1"
    wait_for 30 sh -c "[ -z \"\$(squeue -h -j $1 2>/dev/null)\" ]" || fail "job $1 did not end"
}
# samples GPU : sample calls the fake NVML saw for the whole GPU.
samples() { awk -v g="$1" '$1 == g && $2 == 0' "$T/samples.log" | wc -l; }
more_samples() { [ "$(samples "$1")" -gt "$2" ]; }
# prof PORT GPU : a fresh scrape has a profiling series for GPU.
prof() { curl -sf "http://127.0.0.1:$1/metrics" -o "$T/p.txt" && grep -q -E "^DCGM_FI_PROF_[A-Z_]+\\{gpu=\"$2\"" "$T/p.txt"; }
no_prof() { ! prof "$@"; }
log_has() { grep -qx "$1" "$T/fake-dcgm.events"; }
pause_files() { find "$T/pause" -mindepth 1 ! -name '.*' -printf '%f\n' 2>/dev/null | sort | paste -sd' '; }

# 1. A job that asks (beside another word in its comment): its GPU is paused while it runs.
A=$(submit "project=x, jobtel:profiling-pause")
wait_running "$A"
G=$(slurm_gres_idx "$A") || fail "no GRES index for job $A"
O=$((1 - G))
[ "$(pause_files)" = "$G" ] || fail "pause files '$(pause_files)' for job $A on GPU $G"
grep -qx "$A" "$T/pause/$G" || fail "pause/$G does not name job $A"
wait_for 15 no_prof "$PORT" "$G" || fail "GPM: GPU $G keeps its profiling series while job $A asked for a pause"
n=$(samples "$G")
m=$(samples "$O")
wait_for 20 more_samples "$O" $((m + 3)) || fail "GPU $O stopped being sampled"
[ "$(samples "$G")" = "$n" ] || fail "GPU $G sampled while paused ($n -> $(samples "$G"))"
prof "$PORT" "$O" || fail "GPM: GPU $O lost its profiling series"
grep -q "^DCGM_FI_DEV_GPU_UTIL{gpu=\"$G\"" "$T/p.txt" || fail "GPU $G's NVML readings went too"
wait_for 15 log_has prof-pause || fail "DCGM: profiling not paused for job $A"
wait_for 15 no_prof "$DPORT" "$G" || fail "DCGM: profiling series stay while job $A runs"
pass "job $A (--comment=...jobtel:profiling-pause) on GPU $G: GPM and DCGM profiling paused there, GPU $O sampled"

end_job "$A"
wait_for 15 sh -c "[ -z \"\$(find '$T/pause' -mindepth 1 ! -name '.*')\" ]" || fail "pause files left after job $A: $(pause_files)"
wait_for 15 prof "$PORT" "$G" || fail "GPM: GPU $G's profiling series did not resume"
wait_for 15 log_has prof-resume || fail "DCGM: profiling not resumed after job $A"
wait_for 15 prof "$DPORT" "$G" || fail "DCGM: GPU $G's profiling series did not resume"
pass "job $A ended: the epilog removed the pause, profiling series back on GPU $G"

# 2. A job that does not ask: no pause file, sampling on its GPU goes on.
B=$(submit "jobtel:profiling-pause-not")
wait_running "$B"
G=$(slurm_gres_idx "$B") || fail "no GRES index for job $B"
n=$(samples "$G")
wait_for 20 more_samples "$G" $((n + 3)) || fail "GPU $G of job $B not sampled"
[ -z "$(pause_files)" ] || fail "job $B did not ask, yet pause files: $(pause_files)"
prof "$PORT" "$G" || fail "GPM: GPU $G lost its series under job $B"
prof "$DPORT" "$G" || fail "DCGM: GPU $G lost its series under job $B"
[ "$(grep -c '^prof-pause$' "$T/fake-dcgm.events")" = 1 ] || fail "DCGM paused again for job $B"
end_job "$B"
pass "job $B (no request): nothing paused"

stop_pid "$EXPORTER_PID"
stop_pid "$DPID"
[ "$(slurm_node_state)" = idle ] || fail "node is $(slurm_node_state): $(sinfo -h -o %E)"
if grep -q 'level=error' "$T/prolog.log" "$T/epilog.log" 2>/dev/null; then
    fail "prolog/epilog logged errors: $(grep -h 'level=error' "$T/prolog.log" "$T/epilog.log")"
fi
pass "node idle, no prolog/epilog errors"
