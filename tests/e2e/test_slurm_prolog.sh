#!/bin/bash
# test_slurm_prolog.sh - `jobtel prolog`/`epilog` under a real Slurm: the mapping files name exactly a
# job's GPUs while it runs and are gone after it ends; concurrent jobs get disjoint GPUs.
#
# A one-node Slurm 22.05 (munged, slurmctld, slurmd started here, stopped by the cleanup trap) with
# 4 fake GPUs, and Prolog=/Epilog= wrappers running $JOBTEL with --strict, so any prolog failure drains
# the node and fails this test. If Slurm cannot start the test fails: it never skips.
# The exporter side (/metrics shows hpc_job / jobid labels) plugs into the hook_* functions below.
source "$SRC/tests/e2e/lib.sh"
source "$SRC/tests/e2e/slurm/cluster.sh"

NGPUS=4
JOB_USER=nobody
JOB_UID=$(id -u "$JOB_USER")
# The index <-> UUID table the prolog reads (a fake /proc/driver/nvidia) comes from the first NGPUS
# GPUs of this fake NVML scenario, so the exporter started with the same scenario sees the same UUIDs.
SCENARIO_FILE=${SCENARIO_FILE:-$SCENARIOS/dgx_h100.json}

# --- exporter hooks ------------------------------------------------------------------------------
# The exporter runs beside Slurm with the same fake GPUs and reads the directories the prolog writes.

hook_exporter_start() {
    FAKE_NVML_SCENARIO="$SCENARIO_FILE" start_exporter 0 \
        --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n \
        --hpc-job-mapping-dir="$T/hpc" --slurm.gpustat-dir="$T/gpustat"
}

# exporter_gpus_of JOB : "DCGM-gpus|Princeton-ordinals|jobId-ordinals" carrying JOB in a fresh scrape.
exporter_gpus_of() {
    local f="$T/exporter-scrape.txt"
    curl -sf "http://127.0.0.1:$EXPORTER_PORT/metrics" -o "$f" || return 1
    echo "$("$PY" "$SRC/tests/e2e/promtext.py" select "$f" DCGM_FI_DEV_GPU_UTIL "hpc_job=$1" gpu)|$("$PY" \
        "$SRC/tests/e2e/promtext.py" select "$f" nvidia_gpu_duty_cycle "jobid=$1" ordinal)|$("$PY" \
        "$SRC/tests/e2e/promtext.py" select "$f" nvidia_gpu_jobId "jobid=$1" ordinal)"
}

exporter_shows() { [ "$(exporter_gpus_of "$1")" = "$2" ]; }

# hook_exporter_job_running JOB UID GPU... : /metrics shows hpc_job="JOB" (dcgm names) and
# jobid="JOB",userid="UID" plus nvidia_gpu_jobId (Princeton names) on exactly these GPU indices.
hook_exporter_job_running() {
    local job=$1 uid=$2
    shift 2
    local gpus
    gpus=$(printf '%s\n' "$@" | sort -n | tr '\n' ' ' | sed 's/ $//')
    wait_for 30 exporter_shows "$job" "$gpus|$gpus|$gpus" ||
        fail "exporter: job $job on '$(exporter_gpus_of "$job")', want '$gpus' in all three"
    local f="$T/exporter-scrape.txt"
    validate "$f"
    [ "$("$PY" "$SRC/tests/e2e/promtext.py" select "$f" nvidia_gpu_duty_cycle "jobid=$job" userid)" = "$uid" ] ||
        fail "exporter: userid label for job $job"
    pass "exporter labels job $job on GPUs $gpus in both name sets"
}

# hook_exporter_job_gone JOB : no series carries JOB any more.
hook_exporter_job_gone() {
    wait_for 30 exporter_shows "$1" "||" || fail "exporter: job $1 still on '$(exporter_gpus_of "$1")'"
    expect_none "$T/exporter-scrape.txt" '*' "hpc_job=$1"
    expect_none "$T/exporter-scrape.txt" '*' "jobid=$1"
}

# --- helpers -------------------------------------------------------------------------------------

# make_fake_procfs : $T/proc/driver/nvidia/gpus/<bus>/information for the scenario's first GPUs.
make_fake_procfs() {
    [ -f "$SCENARIO_FILE" ] || fail "scenario $SCENARIO_FILE not found"
    "$PY" - "$SCENARIO_FILE" "$T/proc/driver/nvidia/gpus" "$NGPUS" <<'EOF'
import json, os, sys
scenario, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
gpus = json.load(open(scenario))["gpus"][:n]
if len(gpus) < n:
    sys.exit(f"{scenario} has fewer than {n} GPUs")
for i, g in enumerate(gpus):
    dom, rest = g["pci_bus_id"].split(":", 1)
    bus = f"{int(dom, 16):04x}:{rest.lower()}"
    os.makedirs(f"{root}/{bus}")
    with open(f"{root}/{bus}/information", "w") as f:
        f.write(f"Model: \t\t {g['name']}\nGPU UUID: \t {g['uuid']}\nBus Location: \t {bus}\n"
                f"Device Minor: \t {g.get('minor_number', i)}\n")
EOF
    UUIDS=()
    local i
    for ((i = 0; i < NGPUS; i++)); do
        UUIDS+=("$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["gpus"][int(sys.argv[2])]["uuid"])' \
            "$SCENARIO_FILE" "$i")")
    done
}

# submit GRES : an sbatch job as $JOB_USER that records its GPUs and runs until released; prints its id.
submit() {
    setpriv --reuid="$JOB_UID" --regid="$(id -g "$JOB_USER")" --clear-groups -- \
        sbatch --parsable "$@" -t 2 -D "$T/work" -o "$T/out/%j.out" --wrap \
        "echo \$SLURM_JOB_GPUS > $T/out/\$SLURM_JOB_ID.gpus
         for i in \$(seq 600); do { [ -e $T/release/\$SLURM_JOB_ID ] || [ -e $T/release/all ]; } && break; sleep 0.1; done"
}

# wait_running JOB : the job script started, so its prolog has finished.
wait_running() {
    wait_for 30 test -s "$T/out/$1.gpus" ||
        fail "job $1 did not start: $(squeue -h -j "$1" -o '%T %r' 2>&1); node $(slurm_node_state)"
}

# files_naming DIR JOB : mapping files with a line for JOB, sorted names.
files_naming() {
    local f
    for f in "$1"/*; do
        [ -f "$f" ] || continue
        awk -v j="$2" '$1 == j { found = 1 } END { exit !found }' "$f" && basename "$f"
    done | sort
    return 0
}

# check_job_files JOB : the mapping files name exactly the GPUs Slurm gave JOB, in both formats.
check_job_files() {
    local job=$1 idx want_hpc want_gst got g
    idx=$(slurm_gres_idx "$job") || fail "no GRES index for job $job"
    [ "$(echo "$idx" | wc -l)" = 2 ] || fail "job $job got GPUs '$idx', want 2"
    [ "$(tr -d '\n' <"$T/out/$job.gpus")" = "$(echo "$idx" | paste -sd,)" ] ||
        fail "job $job sees SLURM_JOB_GPUS=$(cat "$T/out/$job.gpus"), scontrol says $idx"
    want_hpc=$(echo "$idx" | sort)
    got=$(files_naming "$T/hpc" "$job")
    [ "$got" = "$want_hpc" ] || fail "hpc files for job $job: '$got', want '$want_hpc'"
    want_gst=$(for g in $idx; do echo "$g"; echo "${UUIDS[$g]}"; done | sort)
    got=$(files_naming "$T/gpustat" "$job")
    [ "$got" = "$want_gst" ] || fail "gpustat files for job $job: '$got', want '$want_gst'"
    for g in $idx; do
        grep -qx "$job" "$T/hpc/$g" || fail "hpc/$g lacks line '$job'"
        grep -qx "$job $JOB_UID" "$T/gpustat/$g" || fail "gpustat/$g lacks line '$job $JOB_UID'"
        grep -qx "$job $JOB_UID" "$T/gpustat/${UUIDS[$g]}" || fail "gpustat/${UUIDS[$g]} lacks '$job $JOB_UID'"
    done
    # shellcheck disable=SC2086
    hook_exporter_job_running "$job" "$JOB_UID" $idx
}

# release_and_check_gone JOB : ends JOB; its epilog must remove every line of it.
release_and_check_gone() {
    local job=$1
    touch "$T/release/$job"
    wait_for 30 sh -c "[ -z \"\$(squeue -h -j $job 2>/dev/null)\" ]" || fail "job $job did not end"
    # The epilog runs after the job leaves the queue: poll. The lock file holds the epilog's tombstone
    # for the job (docs/slurm.md), which is no mapping.
    wait_for 15 sh -c "! grep -rqsw --exclude=.jobtel.lock '^$job' '$T/hpc' '$T/gpustat'" ||
        fail "job $job still mapped after it ended: $(grep -rl --exclude=.jobtel.lock "^$job\b" "$T/hpc" "$T/gpustat")"
    grep -qs "^$job " "$T/hpc/.jobtel.lock" || fail "no tombstone for job $job in hpc/.jobtel.lock"
    hook_exporter_job_gone "$job"
}

# --- the test ------------------------------------------------------------------------------------

slurm_require
[ -x "$JOBTEL" ] || fail "JOBTEL=$JOBTEL is not executable"
mkdir -p "$T/out" "$T/work" "$T/release"
chmod 1777 "$T/out" "$T/work"
make_fake_procfs

common=(--strict --no-syslog --log.level=info --hpc-dir "$T/hpc" --gpustat-dir "$T/gpustat" --path.procfs "$T/proc")
slurm_write_wrapper "$T/prolog.sh" "$(readlink -f "$JOBTEL")" prolog "${common[@]}"
slurm_write_wrapper "$T/epilog.sh" "$(readlink -f "$JOBTEL")" epilog "${common[@]}"

# Let the jobs end and stop Slurm before lib.sh's cleanup (which kills what is left and removes $T).
# `set +e` first: under -e the `(exit $rc)` that hands the status on to cleanup would end the trap.
trap 'rc=$?; set +e; touch "$T/release/all"; slurm_down; (exit $rc); cleanup' EXIT
slurm_up "$NGPUS" "$T/prolog.sh" "$T/epilog.sh"
pass "one-node Slurm up with $NGPUS GPUs"
hook_exporter_start

# 1. One 2-GPU job: exactly its GPUs while it runs, nothing after.
A=$(submit --gres=gpu:2)
wait_running "$A"
check_job_files "$A"
[ "$(stat -c %a "$T/hpc")" = 755 ] || fail "hpc dir mode $(stat -c %a "$T/hpc"), want 755"
release_and_check_gone "$A"
pass "job $A: mapping files named its 2 GPUs while running, gone after"

# 2. Two concurrent 2-GPU jobs: disjoint GPUs, each file names one job.
B=$(submit --gres=gpu:2)
C=$(submit --gres=gpu:2)
wait_running "$B"
wait_running "$C"
check_job_files "$B"
check_job_files "$C"
all=$( (slurm_gres_idx "$B"; slurm_gres_idx "$C") | sort)
[ "$all" = "$(seq 0 $((NGPUS - 1)))" ] || fail "jobs $B and $C overlap or miss GPUs: ${all//$'\n'/ }"
for f in "$T"/hpc/*; do
    [ "$(wc -l <"$f")" = 1 ] || fail "$f names $(wc -l <"$f") jobs, want 1"
done
release_and_check_gone "$B"
check_job_files "$C" # B's epilog left C alone
release_and_check_gone "$C"
pass "jobs $B and $C: disjoint GPUs, each epilog removed only its own lines"

# 3. A job without GPUs: the prolog does nothing and does not fail it.
D=$(submit)
wait_running "$D"
[ -z "$(files_naming "$T/hpc" "$D")$(files_naming "$T/gpustat" "$D")" ] || fail "CPU job $D was mapped"
release_and_check_gone "$D"
pass "job $D without GPUs: no mapping, no failure"

# Nothing left behind, and no prolog/epilog failed (with --strict that would have drained the node).
left=$(find "$T/hpc" "$T/gpustat" -mindepth 1 ! -name .jobtel.lock)
[ -z "$left" ] || fail "left behind: $left"
[ "$(slurm_node_state)" = idle ] || fail "node is $(slurm_node_state): $(sinfo -h -o %E)"
if grep -q 'level=error' "$T/prolog.log" "$T/epilog.log" 2>/dev/null; then
    fail "prolog/epilog logged errors: $(grep -h 'level=error' "$T/prolog.log" "$T/epilog.log")"
fi
pass "node idle, no stale files, no prolog/epilog errors"
