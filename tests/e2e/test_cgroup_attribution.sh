#!/bin/bash
# test_cgroup_attribution.sh - a GPU's Slurm job found through its processes' cgroups, in the layouts the
# old attribution parser missed: several slurmd per host (<node>_slurmstepd.scope, and v1 slurm_<node>)
# and Slurm 26.05 SLUID job directories. The daemon reads /proc/<pid>/cgroup from a fixture procfs; the
# fake NVML lists those pids as the GPUs' compute processes. The same paths go through the one parser
# the cgroup collector uses (src/slurm/cgpath.c), so a GPU and its job's cgroup series carry one job id.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"
[ -e "$FAKE_NVML_LIB" ] || fail "no fake NVML at $FAKE_NVML_LIB"

# A port nobody listens on, chosen by the kernel (the daemon binds it right after; retried if taken).
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cat >"$T/scenario.json" <<'JSON'
{
  "schema": 1,
  "driver_version": "550.144.03",
  "values": {"gpu_util": 40, "mem_util": 5, "memory_used_mib": 1000, "temperature_c": 40, "power_mw": 100000},
  "gpus": [
    {"name": "G", "uuid": "GPU-00000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 1000,
     "processes": [{"pid": 5100, "used_memory_mib": 100}]},
    {"name": "G", "uuid": "GPU-11111111-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "minor_number": 1, "memory_total_mib": 1000,
     "processes": [{"pid": 5200, "used_memory_mib": 100}]},
    {"name": "G", "uuid": "GPU-22222222-0000-4000-8000-000000000000", "pci_bus_id": "00000000:3A:00.0", "minor_number": 2, "memory_total_mib": 1000,
     "processes": [{"pid": 5300, "used_memory_mib": 100}]},
    {"name": "G", "uuid": "GPU-33333333-0000-4000-8000-000000000000", "pci_bus_id": "00000000:5D:00.0", "minor_number": 3, "memory_total_mib": 1000,
     "processes": [{"pid": 5400, "used_memory_mib": 100}]}
  ]
}
JSON
for p in 5100 5200 5300 5400; do mkdir -p "$T/proc/$p"; done
# GPU 0: the second slurmd of a host running two (cgroup v2, in system.slice).
printf '0::/system.slice/node2_slurmstepd.scope/job_4001/step_0/user/task_0\n' >"$T/proc/5100/cgroup"
# GPU 1: Slurm 26.05 names the job's directory by its SLUID, as real nodes show.
printf '0::/system.slice/slurmstepd.scope/s5K1KKYAYG5D00/step_0/user/task_0\n' >"$T/proc/5200/cgroup"
# GPU 2: cgroup v1 with several slurmd (Debian's build): slurm_<node>, the uid comes with the path.
printf '12:memory:/slurm_node02/uid_7000/job_4003/step_batch/task_0\n11:cpuacct,cpu:/slurm_node02/uid_7000/job_4003/step_batch/task_0\n1:name=systemd:/user.slice\n' >"$T/proc/5300/cgroup"
# GPU 3: a process outside any job (a hostile look-alike scope name): no job.
printf '0::/system.slice/_slurmstepd.scope/job_4004/step_0\n' >"$T/proc/5400/cgroup"

export FAKE_NVML_SCENARIO="$T/scenario.json"
for _ in 1 2 3; do
    PORT=$(free_port)
    start_bg "exporter-$PORT" "$JOBTEL" exporter --web.listen-address="127.0.0.1:$PORT" \
        --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n --path.procfs="$T/proc"
    EXPORTER_PID=$LAST_PID
    if wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics"; then break; fi
    stop_pid "$EXPORTER_PID" || true # the port was taken meanwhile: another one
    EXPORTER_PID=
done
[ -n "$EXPORTER_PID" ] || fail "exporter never served metrics"
scrape "$PORT" "$T/m.txt"
validate "$T/m.txt"

uuid() { echo "GPU-$1-0000-4000-8000-000000000000"; }
expect_value "$T/m.txt" "jobtel_gpu_process_job_info{gpu=\"0\",UUID=\"$(uuid 00000000)\",jobid=\"4001\"}" 1
expect_value "$T/m.txt" "jobtel_gpu_process_job_info{gpu=\"1\",UUID=\"$(uuid 11111111)\",jobid=\"s5K1KKYAYG5D00\"}" 1
expect_value "$T/m.txt" "jobtel_gpu_process_job_info{gpu=\"2\",UUID=\"$(uuid 22222222)\",jobid=\"4003\"}" 1
[ "$(count_series "$T/m.txt" jobtel_gpu_process_job_info)" = 3 ] || fail "GPU 3's process is in no job"

dl() { echo "gpu=\"$1\",UUID=\"$(uuid "$2")\",pci_bus_id=\"$3\",device=\"nvidia$1\",modelName=\"G\",DCGM_FI_DRIVER_VERSION=\"550.144.03\""; }
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 0 00000000 00000000:18:00.0),hpc_job=\"4001\"}" 40
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 1 11111111 00000000:2A:00.0),hpc_job=\"s5K1KKYAYG5D00\"}" 40
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 2 22222222 00000000:3A:00.0),hpc_job=\"4003\"}" 40
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 3 33333333 00000000:5D:00.0)}" 40

# Princeton names: the job id label; the uid where the path has one (v1); no numeric jobId for a SLUID.
pl() { echo "jobid=\"$1\",minor_number=\"$2\",name=\"G\",ordinal=\"$2\",${3:+userid=\"$3\",}uuid=\"$(uuid "$4")\""; }
expect_value "$T/m.txt" "nvidia_gpu_duty_cycle{$(pl 4001 0 '' 00000000)}" 40
expect_value "$T/m.txt" "nvidia_gpu_jobId{$(pl 4001 0 '' 00000000)}" 4001
expect_value "$T/m.txt" "nvidia_gpu_duty_cycle{$(pl s5K1KKYAYG5D00 1 '' 11111111)}" 40
grep -q 'nvidia_gpu_jobId{[^}]*minor_number="1"' "$T/m.txt" && fail "a SLUID is no number: no nvidia_gpu_jobId"
expect_value "$T/m.txt" "nvidia_gpu_duty_cycle{$(pl 4003 2 7000 22222222)}" 40
expect_value "$T/m.txt" "nvidia_gpu_jobUid{$(pl 4003 2 7000 22222222)}" 7000
expect_value "$T/m.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
stop_pid "$EXPORTER_PID"
pass "GPU jobs through process cgroups: <node>_slurmstepd.scope, SLUID and slurm_<node> paths"
