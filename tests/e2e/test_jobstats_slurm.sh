#!/bin/bash
# test_jobstats_slurm.sh - jobstats and job-end summaries with every real part: Slurm with accounting
# (munged, mariadbd, slurmdbd, slurmctld, slurmd with cgroup plugins), the exporter (fake NVML with
# known utilization, Slurm GPU attribution through `jobtel prolog`, cgroup collector) scraped every
# second by a real Prometheus that adds the cluster label.
#
# 1. A ~20 s job with 2 GPUs and 2 cores burning one core: jobstats reports the scenario's GPU
#    utilization and memory, 2 CPU cores and a CPU efficiency near 50 %.
# 2. EpilogSlurmctld runs `jobtel summary --store`; the summary lands in AdminComment and reads back.
# 3. slurmdbd down at job end: the job is spooled; after slurmdbd is back, --retry-spool stores it.
# 4. Prometheus stopped: jobstats still prints the report, from the stored summary.
source "$SRC/tests/e2e/lib.sh"
source "$SRC/tests/e2e/slurm/cluster.sh"

JOBTEL_ABS=$(readlink -f "$JOBTEL")
JOBSTATS=$(dirname "$JOBTEL_ABS")/jobstats
# Ports the kernel reports free right now (tests run in parallel: never a fixed port).
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
EXPORTER_PORT=$(free_port)
PROM_PORT=$(free_port)

slurm_require
mkdir -p "$T/out" "$T/work" "$T/proc" "$T/spool"
chmod 1777 "$T/out" "$T/work"

# Two GPUs with constant, known readings.
cat >"$T/scenario.json" <<'EOS'
{"schema": 1, "gpus": [
 {"name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-11111111-2222-3333-4444-555555555550",
  "pci_bus_id": "00000000:07:00.0", "minor_number": 0, "memory_total_mib": 81920,
  "values": {"gpu_util": 60, "mem_util": 10, "memory_used_mib": 4096}},
 {"name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-11111111-2222-3333-4444-555555555551",
  "pci_bus_id": "00000000:08:00.0", "minor_number": 1, "memory_total_mib": 81920,
  "values": {"gpu_util": 30, "mem_util": 10, "memory_used_mib": 8192}}]}
EOS

cat >"$T/jobstats.conf" <<EOS
prometheus_url = http://127.0.0.1:$PROM_PORT
sacct = $(command -v sacct)
sacctmgr = $(command -v sacctmgr)
sampling_period = 1
command_timeout = 10
spool_dir = $T/spool
EOS

common=(--no-syslog --log.level=info --gpustat-dir "$T/gpustat" --hpc-dir "$T/hpc" --path.procfs "$T/proc")
slurm_write_wrapper "$T/prolog.sh" "$JOBTEL_ABS" prolog "${common[@]}"
slurm_write_wrapper "$T/epilog.sh" "$JOBTEL_ABS" epilog "${common[@]}"
# EpilogSlurmctld gets neither PATH nor SLURM_CONF (deploy/slurm/jobtel-epilog-slurmctld.sh does the same).
cat >"$T/epilog_ctld.sh" <<EOS
#!/bin/sh
SLURM_CONF=$T/slurm/slurm.conf
export SLURM_CONF
exec $JOBTEL_ABS summary --store "\$SLURM_JOB_ID" --config $T/jobstats.conf 2>>$T/epilog_ctld.log
EOS
chmod 755 "$T/epilog_ctld.sh"

trap 'rc=$?; set +e; slurm_down; (exit $rc); cleanup' EXIT
SLURM_ACCOUNTING=1 SLURM_CGROUP=1 SLURM_EPILOG_CTLD="$T/epilog_ctld.sh" slurm_up 2 "$T/prolog.sh" "$T/epilog.sh"
pass "Slurm with slurmdbd + mariadb, cgroup plugins and EpilogSlurmctld"

FAKE_NVML_SCENARIO="$T/scenario.json" start_exporter "$EXPORTER_PORT" \
    --collector.gpu.nvml-library="$FAKE_NVML_LIB" --slurm.gpustat-dir="$T/gpustat" --hpc-job-mapping-dir="$T/hpc"
mkdir -p "$T/prom"
cat >"$T/prom/prometheus.yml" <<EOS
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: jobtel
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:$EXPORTER_PORT']
        labels:
          cluster: jobtele2e
EOS
start_bg prometheus prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
PROM_PID=$LAST_PID
wait_for 20 prom_is 'up{cluster="jobtele2e"}' 1 || fail "Prometheus never scraped the exporter"

# --- 1. a 20 s, 2-GPU job burning one of its two cores ---------------------------------------------------
J=$(sbatch --parsable --gres=gpu:2 -c 2 --mem=200M -t 2 -J 'train|gpu' -D "$T/work" -o "$T/out/%j.out" \
    --wrap "exec /usr/bin/python3 -c 'import time
end = time.time() + 20
while time.time() < end: pass'")
[ -n "$J" ] || fail "sbatch failed"
wait_for 20 sh -c "[ \"\$(squeue -h -j $J -o %T)\" = RUNNING ]" || fail "job $J did not start"
wait_for 15 prom_is "count(nvidia_gpu_duty_cycle{jobid=\"$J\"})" 2 || fail "Prometheus does not see job $J's GPUs: $(curl -s 127.0.0.1:$EXPORTER_PORT/metrics | grep '^nvidia_gpu_duty_cycle'; ls -l "$T/gpustat"; cat "$T/prolog.log")"
sleep 8
"$JOBSTATS" --config "$T/jobstats.conf" -n "$J" >"$T/running.txt" 2>&1 || fail "report of running job: $(cat "$T/running.txt")"
grep -q "(in progress)" "$T/running.txt" || fail "running job not marked in progress"
pass "report of the running job $J"

wait_for 40 sh -c "[ -z \"\$(squeue -h -j $J 2>/dev/null)\" ]" || fail "job $J did not end"
wait_for 10 sh -c "sacct -n -X -P -j $J -o State | grep -q COMPLETED" || fail "sacct does not show job $J completed"
"$JOBSTATS" --config "$T/jobstats.conf" -n -f "$J" >"$T/report.txt" 2>"$T/report.err" || fail "report: $(cat "$T/report.err")"
cat "$T/report.txt"
"$JOBSTATS" --config "$T/jobstats.conf" -f -j "$J" >"$T/job.json" || fail "-j failed"
# CPU time is checked against what Slurm itself recorded for the job (sacct's TotalCPU, from the same
# cgroup), never against a band of what the clock should have allowed: other tests share both cores.
# (The allocation line of -X has 0 here: the CPU time is on the steps, batch and extern; they are summed.)
TOTALCPU=$(sacct -n -P -j "$J" -o JobID,TotalCPU | awk -F'|' '$1 ~ /\./ { print $2 }' | paste -sd' ')
"$PY" - "$T/job.json" "$TOTALCPU" <<'EOP' || fail "job data does not match the scenario / the job (TotalCPU $TOTALCPU): $(cat "$T/job.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["gpus"] == 2, d["gpus"]
(node,) = d["nodes"].values()
util = node["gpu_utilization"]
assert abs(util["0"] - 60) <= 1 and abs(util["1"] - 30) <= 1, util
assert node["gpu_used_memory"] == {"0": 4096 << 20, "1": 8192 << 20}, node["gpu_used_memory"]
assert node["gpu_total_memory"] == {"0": 81920 << 20, "1": 81920 << 20}, node["gpu_total_memory"]
assert node["cpus"] == 2, node["cpus"]
eff = node["total_time"] / (d["total_time"] * node["cpus"])
def slurm_seconds(t):  # [D-][HH:]MM:SS[.mmm]
    days, _, t = t.rpartition("-")
    parts = [float(x) for x in t.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    return int(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
slurm_cpu = sum(slurm_seconds(t) for t in sys.argv[2].split())
assert slurm_cpu > 1, ("sacct TotalCPU", sys.argv[2])
# The exporter samples the cgroup counter every second: its maximum may miss the last second's CPU.
assert abs(node["total_time"] - slurm_cpu) <= 2.0 + 0.1 * slurm_cpu, ("cpu time", node["total_time"], slurm_cpu)
assert 0 < eff <= 1.0, ("cpu efficiency", eff)
assert node["total_memory"] == 200 << 20, node["total_memory"]
assert 0 < node["used_memory"] < 200 << 20, node["used_memory"]
print("live numbers ok", round(eff * 100, 1))
EOP
grep -q "      CPU Cores: 2" "$T/report.txt" || fail "report: CPU cores"
grep -q "       Job Name: train|gpu" "$T/report.txt" || fail "report: job name"
# Princeton prints a whole utilization as Python prints an int ("60%"), others with their decimal, and
# an allocation without ".0" before "GB".
grep -qE "\(GPU 0\): (59|60|61)(\.[0-9])?%" "$T/report.txt" || fail "report: GPU 0 utilization"
grep -q "(GPU 1): 8.0GB/80GB (10.0%)" "$T/report.txt" || fail "report: GPU 1 memory"
pass "jobstats for job $J: scenario GPU utilization and memory, 2 cores, CPU efficiency of one busy core"

# --- 2. the EpilogSlurmctld summary ---------------------------------------------------------------------
wait_for 30 sh -c "sacct -n -X -P -j $J -o AdminComment | grep -qE '^(JS1:H4sI|js1b32:)'" \
    || fail "no summary stored for job $J: '$(sacct -n -X -P -j "$J" -o AdminComment)'; $(cat "$T/epilog_ctld.log" 2>/dev/null)"
STORED=$(sacct -n -X -P -j "$J" -o AdminComment)
echo "stored AdminComment: ${STORED:0:40}... (${#STORED} chars)"
"$JOBSTATS" --config "$T/jobstats.conf" -d -n "$J" >"$T/stored.txt" 2>"$T/stored.err" || fail "report from summary failed"
# Princeton's report does not say where its figures came from; -d does (stderr).
grep -q "summary stored at job end" "$T/stored.err" || fail "stored summary not used"
pass "EpilogSlurmctld stored the summary of job $J (${STORED%%:*}: spelling)"

# --- 3. slurmdbd down at job end: spooled, stored on retry ------------------------------------------------
K=$(sbatch --parsable --gres=gpu:1 -c 1 --mem=100M -t 1 -D "$T/work" -o "$T/out/%j.out" --wrap "sleep 5")
wait_for 20 sh -c "[ \"\$(squeue -h -j $K -o %T)\" = RUNNING ]" || fail "job $K did not start"
stop_pid "$SLURMDBD_PID" || true
wait_for 30 sh -c "[ -z \"\$(squeue -h -j $K 2>/dev/null)\" ]" || fail "job $K did not end"
wait_for 40 test -f "$T/spool/$K" || fail "job $K was not spooled: $(cat "$T/epilog_ctld.log")"
pass "slurmdbd down at the end of job $K: spooled"
start_bg slurmdbd-fg2 slurmdbd -D
SLURMDBD_PID=$LAST_PID
wait_for 30 sacctmgr -n show cluster || fail "slurmdbd did not come back"
wait_for 30 sh -c "sacct -n -X -P -j $K -o State | grep -q COMPLETED" || fail "job $K never reached the DB"
# Slurm 22.05 shows COMPLETED a moment before the job's End: --retry-spool leaves a job without an End
# spooled (its run time is not known yet), so wait for what the scenario needs, the End.
wait_for 30 sh -c "SLURM_TIME_FORMAT=%s sacct -n -X -P -j $K -o End | grep -q '^[0-9]'" || fail "job $K: no End in the DB"
"$JOBTEL" summary --retry-spool --config "$T/jobstats.conf" 2>"$T/retry.log" || fail "retry failed: $(cat "$T/retry.log")"
[ ! -e "$T/spool/$K" ] || fail "job $K still spooled"
sacct -n -X -P -j "$K" -o AdminComment | grep -qE '^(JS1:H4sI|js1b32:)' || fail "job $K: no summary after retry"
pass "--retry-spool stored job $K once slurmdbd was back"

# --- 4. Prometheus gone: the report still comes from the summary -------------------------------------------
stop_pid "$PROM_PID"
"$JOBSTATS" --config "$T/jobstats.conf" -n "$J" >"$T/noprom.txt" 2>&1 || fail "no report without Prometheus: $(cat "$T/noprom.txt")"
diff "$T/noprom.txt" "$T/report.txt" >/dev/null || fail "stored report differs from the live one"
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" -n -f "$J" >/dev/null 2>"$T/f.err" || rc=$?
[ "$rc" = 1 ] && grep -q "127.0.0.1:$PROM_PORT" "$T/f.err" || fail "-f without Prometheus: rc $rc $(cat "$T/f.err")"
pass "Prometheus stopped: jobstats $J prints the same report from the stored summary"
stop_pid "$EXPORTER_PID"
