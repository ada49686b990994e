#!/bin/bash
# test_exporter_fifo.sh - a FIFO where a file belongs never blocks the exporter: not the counters CSV
# at start-up (-f) or at a SIGHUP, not a mapping directory, a process's cgroup file or a cgroup tree.
# Each is refused with a clear error, what was read before is kept, the other GPUs and jobs keep their
# labels, collection goes on (jobtel_last_collection_timestamp_seconds advances) and SIGTERM stops the
# daemon. A FIFO with no writer blocks a plain open() forever, so without the fix every part hangs:
# the deadlines below turn the hang into a failure, and SIGKILL on the failure path ends the daemon.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${FIXTURES:?}"
NVML=(--collector.gpu.nvml-library="$FAKE_NVML_LIB")

# A daemon stuck on a FIFO may not honour SIGTERM (that is the bug): kill it so the test ends.
trap 'rc=$?; if [ "$rc" -ne 0 ]; then for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; fi; (exit "$rc"); cleanup' EXIT

# free_port : a port the kernel just handed out as free (bound to port 0, then closed).
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# stop_within SECS PID : SIGTERM, then the daemon must exit within SECS; fails if it does not.
stop_within() {
    local secs=$1 pid=$2 i state
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
        if [ "$state" = Z ] || [ "$state" = gone ]; then
            stop_pid "$pid" || fail "daemon exited $? after SIGTERM, want 0"
            return 0
        fi
        sleep 0.1
    done
    fail "daemon ignored SIGTERM for ${secs}s"
}

# stamp PORT COLLECTOR : the collector's jobtel_last_collection_timestamp_seconds.
stamp() {
    curl -sf "http://127.0.0.1:$1/metrics" \
        | sed -n "s/^jobtel_last_collection_timestamp_seconds{collector=\"$2\"} //p"
}

# advances PORT COLLECTOR FROM : the collector has finished a collection after FROM.
advances() {
    local now
    now=$(stamp "$1" "$2")
    [ -n "$now" ] && "$PY" -c "import sys; sys.exit(0 if float('$now') > float('$3') else 1)"
}

cat >"$T/scenario.json" <<'JSON'
{
  "schema": 1,
  "driver_version": "550.144.03",
  "values": {"gpu_util": 50, "mem_util": 5, "memory_used_mib": 1000, "temperature_c": 40, "power_mw": 100000},
  "gpus": [
    {"name": "G", "uuid": "GPU-00000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 1000},
    {"name": "G", "uuid": "GPU-11111111-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "minor_number": 1, "memory_total_mib": 1000},
    {"name": "G", "uuid": "GPU-22222222-0000-4000-8000-000000000000", "pci_bus_id": "00000000:3A:00.0", "minor_number": 2, "memory_total_mib": 1000,
     "processes": [{"pid": 4243, "used_memory_mib": 100}]},
    {"name": "G", "uuid": "GPU-33333333-0000-4000-8000-000000000000", "pci_bus_id": "00000000:5D:00.0", "minor_number": 3, "memory_total_mib": 1000,
     "processes": [{"pid": 4242, "used_memory_mib": 100}]}
  ]
}
JSON
export FAKE_NVML_SCENARIO="$T/scenario.json"

# --- -f names a FIFO at start-up: a usage error at once, naming the file --------------------------------
mkfifo "$T/start.csv"
rc=0
timeout -k 5 20 "$JOBTEL" exporter "${NVML[@]}" --no-collector.cgroup --web.listen-address="127.0.0.1:$(free_port)" \
    -f "$T/start.csv" >"$T/start.log" 2>&1 || rc=$?
[ "$rc" != 124 ] || fail "-f FIFO: start-up blocked (stopped by SIGTERM after 20s)"
[ "$rc" != 137 ] || fail "-f FIFO: start-up blocked and ignored SIGTERM (killed)"
[ "$rc" = 2 ] || fail "-f FIFO: exit $rc, want 2 (usage error)"
grep -q "start.csv: cannot read: not a regular file" "$T/start.log" || fail "-f FIFO: the error must name the file and say why"
pass "-f FIFO at start-up: exit 2 at once, clear error"

# --- SIGHUP with the counters file replaced by a FIFO: old counters kept, GPU collector goes on ---------
printf 'DCGM_FI_DEV_GPU_UTIL, gauge, u\nDCGM_FI_DEV_GPU_TEMP, gauge, t\n' >"$T/c.csv"
P=$(free_port)
mkdir -p "$T/noproc" # no job labels from this host's mapping dirs or processes
start_exporter "$P" "${NVML[@]}" --no-collector.cgroup --no-collector.gpu.jobstats-names -n -f "$T/c.csv" \
    --hpc-job-mapping-dir= --slurm.gpustat-dir= --path.procfs="$T/noproc"
LOG="$T/exporter-$P.log"
rm "$T/c.csv"
mkfifo "$T/c.csv"
before=$(stamp "$P" gpu)
[ -n "$before" ] || fail "no jobtel_last_collection_timestamp_seconds for the GPU collector"
kill -HUP "$EXPORTER_PID"
wait_for 10 grep -q 'keeping the previous counters' "$LOG" || fail "SIGHUP with a FIFO: the reload blocked or was not reported"
grep -q "c.csv: cannot read: not a regular file" "$LOG" || fail "SIGHUP with a FIFO: the error must name the file and say why"
after=$(stamp "$P" gpu)
wait_for 10 advances "$P" gpu "$after" || fail "GPU collector stuck after the SIGHUP"
scrape "$P" "$T/hup.txt"
validate "$T/hup.txt"
grep -q '^DCGM_FI_DEV_GPU_TEMP{gpu="0",.*} 40$' "$T/hup.txt" || fail "the previous counters must be kept"
[ "$(grep -c '^DCGM_FI_' "$T/hup.txt")" = 8 ] || fail "two fields for four GPUs, as before the SIGHUP"
expect_value "$T/hup.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
stop_within 10 "$EXPORTER_PID"
pass "SIGHUP with a FIFO as the counters file: previous counters kept, GPU collector collecting"

# --- FIFOs in mapping directories, a process's cgroup file and a cgroup tree ----------------------------
mkdir -p "$T/hpc" "$T/gpustat" "$T/proc/4242" "$T/proc/4243"
printf '1001\n' >"$T/hpc/0"
mkfifo "$T/hpc/1"
printf '1001 5000\n' >"$T/gpustat/0"
mkfifo "$T/gpustat/1"
mkfifo "$T/proc/4242/cgroup"                   # GPU 3's process
printf '0::/system.slice/slurmstepd.scope/job_3003/step_0/user/task_0\n' >"$T/proc/4243/cgroup" # GPU 2's
cp -a "$FIXTURES/cgroup_v2" "$T/cg"
J302="$T/cg/system.slice/slurmstepd.scope/job_302"
[ -f "$J302/memory.stat" ] || fail "fixture changed: no job_302/memory.stat"
rm "$J302/memory.stat"
mkfifo "$J302/memory.stat"
mkfifo "$T/cg/system.slice/slurmstepd.scope/job_999" # where a job's directory would be
P=$(free_port)
start_exporter "$P" "${NVML[@]}" -n --hpc-job-mapping-dir="$T/hpc" --slurm.gpustat-dir="$T/gpustat" \
    --path.procfs="$T/proc" --path.cgroupfs="$T/cg" --collector.cgroup.version=2
LOG="$T/exporter-$P.log"
scrape "$P" "$T/m.txt"
validate "$T/m.txt"
dl() { echo "gpu=\"$1\",UUID=\"GPU-$2-0000-4000-8000-000000000000\",pci_bus_id=\"$3\",device=\"nvidia$1\",modelName=\"G\",DCGM_FI_DRIVER_VERSION=\"550.144.03\""; }
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 0 00000000 00000000:18:00.0),hpc_job=\"1001\"}" 50
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 1 11111111 00000000:2A:00.0)}" 50
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 2 22222222 00000000:3A:00.0),hpc_job=\"3003\"}" 50
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 3 33333333 00000000:5D:00.0)}" 50
expect_value "$T/m.txt" 'nvidia_gpu_jobId{jobid="1001",minor_number="0",name="G",ordinal="0",userid="5000",uuid="GPU-00000000-0000-4000-8000-000000000000"}' 1001
expect_value "$T/m.txt" 'jobtel_gpu_process_job_info{gpu="2",UUID="GPU-22222222-0000-4000-8000-000000000000",jobid="3003"}' 1
# The cgroup tree: job 302's unreadable memory.stat does not cost job 301 its series.
expect_value "$T/m.txt" 'cgroup_memory_rss_bytes{jobid="301",step="",task=""}' 4296015872
for c in gpu cgroup; do
    t=$(stamp "$P" "$c")
    [ -n "$t" ] || fail "no collection timestamp for $c"
    wait_for 10 advances "$P" "$c" "$t" || fail "$c collector stuck on a FIFO"
done
scrape "$P" "$T/m2.txt"
validate "$T/m2.txt"
expect_value "$T/m2.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 0 00000000 00000000:18:00.0),hpc_job=\"1001\"}" 50
expect_value "$T/m2.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
stop_within 10 "$EXPORTER_PID"
pass "FIFOs in mapping dirs, procfs and a cgroup tree: refused, the rest labelled, collection goes on"
