#!/bin/bash
# test_exporter_driver_branches.sh - GPU -> Slurm job attribution through process cgroups on every NVML driver
# branch the fake models (tests/fake_nvml/README.md, "Driver branches"). The branches differ in the process-list
# ABI: R470 has no _v3 calls (the exporter must use _v2), early R535 (535.43-535.86) writes 32-byte records from
# _v3, the others 24-byte ones. Each GPU runs several processes of different jobs, mapped to their jobs through a
# fixture procfs, and must be labelled with exactly its own jobs. Reading early R535's records at 24 bytes loses
# every pid after the first and, on GPU 1, picks up another GPU's job (see the used memory of pid 1203).
# Each branch runs on its own build of the fake, where what the branch lacks is not exported at all; R470 runs
# once more on the default build, where the missing _v3 calls exist but answer FUNCTION_NOT_FOUND.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"
FAKE_DIR=$(dirname "$FAKE_NVML_LIB")
# branch:library directory ("." = the default library)
RUNS="r470:r470 r525:r525 r535_early:r535_early r535:r535 r550:r550 r470:."
# The driver version each branch reports by default (the fake's branch table).
declare -A DRIVER=([r470]=470.256.02 [r525]=525.147.05 [r535_early]=535.54.03 [r535]=535.183.01 [r550]=550.144.03)

# Fixture procfs: /proc/<pid>/cgroup in the layouts Slurm uses (cgroup v1, v1 with a node name, v2).
cg_v1() { printf '12:memory:/slurm/uid_%s/job_%s/step_0/task_0\n11:cpuacct,cpu:/slurm/uid_%s/job_%s/step_0/task_0\n' "$2" "$1" "$2" "$1"; }
cg_v1_node() { printf '9:devices:/slurm_gpu17/uid_%s/job_%s/step_batch/task_0\n' "$2" "$1"; }
cg_v2() { printf '0::/system.slice/slurmstepd.scope/job_%s/step_0/user/task_0\n' "$1"; }
proc() { mkdir -p "$T/proc/$1"; "$2" "$3" "${4:-}" >"$T/proc/$1/cgroup"; }
proc 1101 cg_v1 501 7001
proc 1102 cg_v2 502
proc 1103 cg_v1_node 503 7003
proc 1201 cg_v2 601
proc 1202 cg_v1 602 7002
proc 1203 cg_v1 601 7001 # a second process of job 601
mkdir -p "$T/proc/1204"
printf '0::/system.slice/nvidia-persistenced.service\n' >"$T/proc/1204/cgroup" # in no job
proc 1301 cg_v2 701
proc 1302 cg_v1 702 7002
# What each GPU must be labelled with ("" = no job found through processes).
declare -A WANT=([0]="501 502 503" [1]="601 602" [2]="701 702" [3]="")

# scenario BRANCH : the same machine as each driver branch shows it.
scenario() {
    cat <<JSON
{
  "schema": 1,
  "driver_branch": "$1",
  "values": {"gpu_util": 50, "mem_util": 5, "memory_used_mib": 1000, "temperature_c": 40, "power_mw": 100000},
  "gpus": [
    {"name": "G", "uuid": "GPU-00000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "memory_total_mib": 8000,
     "processes": [{"pid": 1101, "used_memory_mib": 100}, {"pid": 1102, "used_memory_mib": 200}, {"pid": 1103, "used_memory_mib": 300}]},
    {"name": "G", "uuid": "GPU-11111111-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "memory_total_mib": 8000,
     "comment": "pid 1203 uses 1101 bytes: read at the wrong stride, the 4th record's pid is that number, GPU 0's job 501",
     "processes": [{"pid": 1201, "used_memory_mib": 100}, {"pid": 1202, "used_memory_mib": 100},
                   {"pid": 1203, "used_memory_bytes": 1101}, {"pid": 1204, "used_memory_mib": 50}]},
    {"name": "G", "uuid": "GPU-22222222-0000-4000-8000-000000000000", "pci_bus_id": "00000000:3A:00.0", "memory_total_mib": 8000,
     "processes": [{"pid": 1301, "used_memory_mib": 100}, {"pid": 1302, "used_memory_mib": 100, "type": "C+G"}]},
    {"name": "G", "uuid": "GPU-33333333-0000-4000-8000-000000000000", "pci_bus_id": "00000000:5D:00.0", "memory_total_mib": 8000}
  ]
}
JSON
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_branch BRANCH LIBDIR : starts the exporter on LIBDIR's library on an ephemeral port (a new one if another
# process took it between the probe and the bind); sets PORT, EXPORTER_PID, LOG.
start_branch() {
    local b=$1 lib="$FAKE_DIR/$2/libnvidia-ml.so.1" try
    [ -e "$lib" ] || fail "fake NVML for $b not built: $lib"
    for try in 1 2 3 4 5; do
        PORT=$(free_port)
        start_bg "exporter-$b-$PORT" env FAKE_NVML_SCENARIO="$T/$b.json" "$JOBTEL" exporter \
            --web.listen-address="127.0.0.1:$PORT" --collector.gpu.nvml-library="$lib" --no-collector.cgroup -n \
            --hpc-job-mapping-dir= --slurm.gpustat-dir= --path.procfs="$T/proc"
        EXPORTER_PID=$LAST_PID
        LOG="$T/exporter-$b-$PORT.log"
        wait_for 20 grep -q -e 'listening on' -e 'cannot listen' "$LOG" || fail "$b: exporter said nothing in 20 s"
        if grep -q 'listening on' "$LOG"; then
            wait_for 20 curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" || fail "$b: no metrics on :$PORT"
            return 0
        fi
        stop_pid "$EXPORTER_PID" || true # lost the port to another process: try another one
    done
    fail "$b: no free port after 5 tries"
}

for run in $RUNS; do
    b=${run%%:*}
    scenario "$b" >"$T/$b.json"
    start_branch "$b" "${run#*:}"
    b="$b (library ${run#*:})"
    OUT="$T/metrics-$PORT.txt"
    scrape "$PORT" "$OUT"
    validate "$OUT"
    got=$("$PY" "$SRC/tests/e2e/promtext.py" select "$OUT" DCGM_FI_DEV_GPU_UTIL gpu=3 DCGM_FI_DRIVER_VERSION)
    [ "$got" = "${DRIVER[${run%%:*}]}" ] || fail "$b: driver version [$got], want the branch's ${DRIVER[${run%%:*}]}"
    for gpu in 0 1 2 3; do
        got=$("$PY" "$SRC/tests/e2e/promtext.py" select "$OUT" jobtel_gpu_process_job_info gpu="$gpu" jobid)
        [ "$got" = "${WANT[$gpu]}" ] || fail "$b: GPU $gpu is labelled with jobs [$got] through its processes, want [${WANT[$gpu]}]"
        # The DCGM series carry the same jobs (one series per job), the idle GPU one series without a job.
        got=$("$PY" "$SRC/tests/e2e/promtext.py" select "$OUT" DCGM_FI_DEV_GPU_UTIL gpu="$gpu" hpc_job)
        [ "$got" = "${WANT[$gpu]}" ] || fail "$b: DCGM_FI_DEV_GPU_UTIL of GPU $gpu has hpc_job [$got], want [${WANT[$gpu]}]"
        # Princeton's single jobid label names one of them.
        got=$("$PY" "$SRC/tests/e2e/promtext.py" select "$OUT" nvidia_gpu_duty_cycle ordinal="$gpu" jobid)
        case " ${WANT[$gpu]} " in
        *" $got "*) ;;
        *) fail "$b: nvidia_gpu_duty_cycle of GPU $gpu has jobid [$got], not one of [${WANT[$gpu]}]" ;;
        esac
    done
    [ "$(count_series "$OUT" jobtel_gpu_process_job_info)" = 7 ] || fail "$b: want 7 GPU/job pairs"
    [ "$(count_series "$OUT" DCGM_FI_DEV_GPU_UTIL)" = 8 ] || fail "$b: want one DCGM series per job, one for the idle GPU"
    stop_pid "$EXPORTER_PID" || fail "$b: exporter did not stop cleanly"
    pass "$b: each GPU labelled with exactly its jobs"
done

# A branch the library build cannot serve (R550 needs entry points the R470 build lacks) is refused, not served
# with the wrong ABI.
scenario r550 >"$T/mismatch.json"
start_bg mismatch env FAKE_NVML_SCENARIO="$T/mismatch.json" "$JOBTEL" exporter --web.listen-address="127.0.0.1:$(free_port)" \
    --collector.gpu.nvml-library="$FAKE_DIR/r470/libnvidia-ml.so.1" --no-collector.cgroup -n --hpc-job-mapping-dir= \
    --slurm.gpustat-dir=
MISMATCH_PID=$LAST_PID
wait_for 20 grep -q 'NVML not available' "$T/mismatch.log" || fail "an r550 scenario on the R470 library was served"
grep -q 'r550/libnvidia-ml.so.1' "$T/mismatch.log" || fail "the refusal does not say which library to load"
stop_pid "$MISMATCH_PID" || true
pass "attribution through process cgroups on every driver branch"
