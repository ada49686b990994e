#!/bin/bash
# test_exporter_jobs.sh - Slurm job labels on GPU series, without Slurm: mapping directories in both
# formats (dcgm-exporter HPC dir, Princeton gpustat dir) as `jobtel prolog` writes them, sharing,
# a malformed file, and attribution through process cgroups when no file names a GPU.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"

cat >"$T/scenario.json" <<'JSON'
{
  "schema": 1,
  "driver_version": "550.144.03",
  "values": {"gpu_util": 50, "mem_util": 5, "memory_used_mib": 1000, "temperature_c": 40, "power_mw": 100000},
  "gpus": [
    {"name": "G", "uuid": "GPU-00000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 1000},
    {"name": "G", "uuid": "GPU-11111111-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "minor_number": 1, "memory_total_mib": 1000},
    {"name": "G", "uuid": "GPU-22222222-0000-4000-8000-000000000000", "pci_bus_id": "00000000:3A:00.0", "minor_number": 2, "memory_total_mib": 1000},
    {"name": "G", "uuid": "GPU-33333333-0000-4000-8000-000000000000", "pci_bus_id": "00000000:5D:00.0", "minor_number": 3, "memory_total_mib": 1000,
     "processes": [{"pid": 4242, "used_memory_mib": 100}, {"pid": 4243, "used_memory_mib": 100}]}
  ]
}
JSON
mkdir -p "$T/hpc" "$T/gpustat" "$T/proc/4242" "$T/proc/4243"
printf '1001\n1002\n' >"$T/hpc/0"             # two jobs share GPU 0
printf '1001 5000\n1002 5001\n' >"$T/gpustat/0"
printf '2001\n' >"$T/hpc/1"
printf '2001 6000\n' >"$T/gpustat/GPU-11111111-0000-4000-8000-000000000000" # Princeton: by UUID
printf 'not-a-job\n' >"$T/hpc/2"              # malformed: skipped and counted
printf 'README\n' >"$T/hpc/notes.txt"          # not a mapping name: ignored
# GPU 3 has no mapping file: its processes' cgroups say which job (cgroup v1 Slurm layout).
printf '12:memory:/slurm/uid_7000/job_3003/step_0/task_0\n11:cpuacct,cpu:/slurm/uid_7000/job_3003/step_0/task_0\n' >"$T/proc/4242/cgroup"
printf '0::/system.slice/slurmstepd.scope/job_3003/step_0/user/task_0\n' >"$T/proc/4243/cgroup"

export FAKE_NVML_SCENARIO="$T/scenario.json"
start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n \
    --hpc-job-mapping-dir="$T/hpc" --slurm.gpustat-dir="$T/gpustat" --path.procfs="$T/proc"
scrape $EXPORTER_PORT "$T/m.txt"
validate "$T/m.txt"
dl() { echo "gpu=\"$1\",UUID=\"GPU-$2-0000-4000-8000-000000000000\",pci_bus_id=\"$3\",device=\"nvidia$1\",modelName=\"G\",DCGM_FI_DRIVER_VERSION=\"550.144.03\""; }
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 0 00000000 00000000:18:00.0),hpc_job=\"1001\"}" 50
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 0 00000000 00000000:18:00.0),hpc_job=\"1002\"}" 50
expect_absent "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 0 00000000 00000000:18:00.0)}"
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 1 11111111 00000000:2A:00.0),hpc_job=\"2001\"}" 50
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 2 22222222 00000000:3A:00.0)}" 50
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 3 33333333 00000000:5D:00.0),hpc_job=\"3003\"}" 50
[ "$(count_series "$T/m.txt" DCGM_FI_DEV_GPU_UTIL)" = 5 ] || fail "one series per job on a shared GPU, one per idle GPU"
expect_value "$T/m.txt" 'jobtel_gpu_process_job_info{gpu="3",UUID="GPU-33333333-0000-4000-8000-000000000000",jobid="3003"}' 1
[ "$(count_series "$T/m.txt" jobtel_gpu_process_job_info)" = 1 ] || fail "only GPU 3 is attributed through processes"
expect_value "$T/m.txt" 'jobtel_gpu_job_mapping_malformed_files{format="hpc"}' 1
expect_value "$T/m.txt" 'jobtel_gpu_job_mapping_malformed_files{format="gpustat"}' 0
grep -q 'skipped 1 malformed file' "$EXPORTER_LOG" || fail "malformed file not logged"
# Princeton: jobid/userid labels and the jobId/jobUid gauges.
pl() { echo "jobid=\"$1\",minor_number=\"$2\",name=\"G\",ordinal=\"$2\",userid=\"$3\",uuid=\"GPU-$4-0000-4000-8000-000000000000\""; }
expect_value "$T/m.txt" "nvidia_gpu_duty_cycle{$(pl 1001 0 5000 00000000)}" 50
expect_value "$T/m.txt" "nvidia_gpu_jobId{$(pl 1001 0 5000 00000000)}" 1001
expect_value "$T/m.txt" "nvidia_gpu_jobUid{$(pl 1001 0 5000 00000000)}" 5000
expect_value "$T/m.txt" "nvidia_gpu_duty_cycle{$(pl 2001 1 6000 11111111)}" 50
expect_value "$T/m.txt" "nvidia_gpu_jobUid{$(pl 2001 1 6000 11111111)}" 6000
expect_value "$T/m.txt" "nvidia_gpu_duty_cycle{$(pl 3003 3 7000 33333333)}" 50
expect_value "$T/m.txt" 'nvidia_gpu_duty_cycle{minor_number="2",name="G",ordinal="2",uuid="GPU-22222222-0000-4000-8000-000000000000"}' 50
[ "$(count_series "$T/m.txt" nvidia_gpu_jobId minor_number=1)" = 1 ] || fail "jobId of the GPU job 2001 runs on"
expect_none "$T/m.txt" nvidia_gpu_jobId minor_number=2

# Jobs end: the epilog removes the files; the labels go with the next collection.
rm -f "$T/hpc/0" "$T/gpustat/0"
printf '2001\n' >"$T/hpc/0"
wait_for 30 scrape_has $EXPORTER_PORT 'DCGM_FI_DEV_GPU_UTIL\{gpu="0",.*hpc_job="2001"\} 50' || fail "mapping change not picked up"
scrape $EXPORTER_PORT "$T/m2.txt"
expect_none "$T/m2.txt" '*' hpc_job=1001
# The directories vanish entirely: no labels, no errors.
rm -rf "$T/hpc" "$T/gpustat"
wait_for 30 scrape_has $EXPORTER_PORT 'jobtel_gpu_job_mapping_readable\{format="hpc"\} 0' || fail "missing dir not reported"
# The mapping stage and the GPU collector publish separately: the labels go with the GPU collection
# that follows, which a loaded machine may delay past the scrape above.
wait_for 30 scrape_lacks $EXPORTER_PORT '*' hpc_job=2001 || fail "labels must go with the directory"
scrape $EXPORTER_PORT "$T/m3.txt"
validate "$T/m3.txt"
expect_none "$T/m3.txt" '*' hpc_job=2001
expect_value "$T/m3.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
# Absent (a fresh node: no alert) and unreadable (a file where the directory belongs: the alert) differ.
expect_value "$T/m3.txt" 'jobtel_gpu_job_mapping_dir_state{format="hpc",state="absent"}' 1
expect_value "$T/m3.txt" 'jobtel_gpu_job_mapping_dir_state{format="hpc",state="unreadable"}' 0
: >"$T/hpc"
wait_for 30 scrape_has $EXPORTER_PORT 'jobtel_gpu_job_mapping_dir_state\{format="hpc",state="unreadable"\} 1' ||
    fail "a file in place of the mapping dir must be reported unreadable"
scrape $EXPORTER_PORT "$T/m4.txt"
expect_value "$T/m4.txt" 'jobtel_gpu_job_mapping_dir_state{format="hpc",state="absent"}' 0
expect_value "$T/m4.txt" 'jobtel_gpu_job_mapping_readable{format="hpc"}' 0
expect_value "$T/m4.txt" 'jobtel_gpu_job_mapping_dir_state{format="gpustat",state="absent"}' 1
stop_pid "$EXPORTER_PID"
pass "job labels from mapping directories and process cgroups"
