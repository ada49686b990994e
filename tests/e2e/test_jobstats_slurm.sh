#!/bin/bash
# test_jobstats_slurm.sh - jobstats and job-end summaries with every real part: Slurm with accounting
# (munged, mariadbd, slurmdbd, slurmctld, slurmd with cgroup plugins), the exporter (fake NVML with
# known utilization, Slurm GPU attribution through `jobtel prolog`, cgroup collector) scraped every
# second by a real Prometheus that adds the cluster label.
#
# 1. A job with 2 GPUs and 2 cores that burns 3 s of CPU on one core, then idles until released:
#    jobstats reports the scenario's GPU utilization and memory, 2 CPU cores, and the CPU time Slurm
#    accounted (sacct TotalCPU), however long a loaded machine took to give the job its 3 s.
# 2. EpilogSlurmctld runs `jobtel summary --store`; the summary lands in AdminComment and reads back.
# 3. slurmdbd down at job end: the job is spooled; after slurmdbd is back, --retry-spool stores it.
# 4. Prometheus stopped: jobstats still prints the report, from the stored summary.
source "$SRC/tests/e2e/lib.sh"
source "$SRC/tests/e2e/slurm/cluster.sh"

JOBTEL_ABS=$(readlink -f "$JOBTEL")
JOBSTATS=$(dirname "$JOBTEL_ABS")/jobstats

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

FAKE_NVML_SCENARIO="$T/scenario.json" start_exporter 0 \
    --collector.gpu.nvml-library="$FAKE_NVML_LIB" --slurm.gpustat-dir="$T/gpustat" --hpc-job-mapping-dir="$T/hpc"
# A Prometheus scraping the exporter every second, and the jobstats.conf for it (read by jobstats and by
# the EpilogSlurmctld script, at each job's end, so written before the jobs).
start_prometheus_jobstats jobtele2e

# --- 1. a 2-GPU job that burns 3 s of CPU on one of its two cores, then idles until released --------------
# The job records the CPU time its process was given (time.process_time) once it has burnt 3 s, then waits:
# its CPU counter stands still, so the samples Prometheus stores before the release hold the job's total.
J=$(sbatch --parsable --gres=gpu:2 -c 2 --mem=200M -t 5 -J 'train|gpu' -D "$T/work" -o "$T/out/%j.out" \
    --wrap "exec /usr/bin/python3 -c 'import os, time
while time.process_time() < 3: pass
open(\"$T/out/burnt.tmp\", \"w\").write(repr(time.process_time()))
os.rename(\"$T/out/burnt.tmp\", \"$T/out/burnt\")
end = time.monotonic() + 240
while not os.path.exists(\"$T/out/release\") and time.monotonic() < end: time.sleep(0.2)'")
[ -n "$J" ] || fail "sbatch failed"
wait_for 60 sh -c "[ \"\$(squeue -h -j $J -o %T)\" = RUNNING ]" || fail "job $J did not start"
wait_for 60 prom_is "count(nvidia_gpu_duty_cycle{jobid=\"$J\"})" 2 || fail "Prometheus does not see job $J's GPUs: $(curl -s 127.0.0.1:$EXPORTER_PORT/metrics | grep '^nvidia_gpu_duty_cycle'; ls -l "$T/gpustat"; cat "$T/prolog.log")"
wait_for 180 test -s "$T/out/burnt" || fail "job $J did not burn its 3 s of CPU in 3 minutes"
BURNT=$(cat "$T/out/burnt")
JOBCG=/sys/fs/cgroup/cpuacct/slurm_$(hostname -s)/uid_0/job_$J
IDLE_CPU=$(cgroup_cpu_seconds "$JOBCG") || fail "no job cgroup at $JOBCG"
# Stored at least 2 s before now: jobstats asks for the window up to the job's End, which sacct keeps
# in whole seconds, so a sample taken in the job's last second would fall outside it. With the cgroup
# collector's 10 s cadence the total may reach Prometheus only a moment before the release.
stored_past() {
    local at v
    at=$(( $(date +%s) - 2 ))
    v=$(curl -sf -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "time=$at" \
        --data-urlencode "query=max_over_time(cgroup_cpu_total_seconds{jobid=\"$J\",step=\"\",task=\"\"}[1h])" |
        "$PY" -c 'import json,sys
d=json.load(sys.stdin)["data"]["result"]
print(d[0]["value"][1] if len(d)==1 else "")')
    "$PY" -c "import sys; v = '$v'; sys.exit(0 if v and float(v) >= $1 else 1)"
}
wait_for 60 stored_past "$IDLE_CPU" || fail "Prometheus never stored job $J's CPU time $IDLE_CPU s"
"$JOBSTATS" --config "$T/jobstats.conf" -n "$J" >"$T/running.txt" 2>&1 || fail "report of running job: $(cat "$T/running.txt")"
grep -q "(in progress)" "$T/running.txt" || fail "running job not marked in progress"
pass "report of the running job $J"

touch "$T/out/release"
wait_for 60 sh -c "[ -z \"\$(squeue -h -j $J 2>/dev/null)\" ]" || fail "job $J did not end"
wait_for 60 sh -c "sacct -n -X -P -j $J -o State | grep -q COMPLETED" || fail "sacct does not show job $J completed"
# The job's line without -X: sacct adds up its steps (batch, extern); with -X it shows the allocation only.
sacct -n -P -j "$J" -o JobID,TotalCPU,ElapsedRaw >"$T/sacct-cpu.txt"
TOTALCPU=$(awk -F'|' -v j="$J" '$1 == j { print $2 }' "$T/sacct-cpu.txt")
ELAPSED=$(awk -F'|' -v j="$J" '$1 == j { print $3 }' "$T/sacct-cpu.txt")
"$JOBSTATS" --config "$T/jobstats.conf" -n -f "$J" >"$T/report.txt" 2>"$T/report.err" || fail "report: $(cat "$T/report.err")"
cat "$T/report.txt"
"$JOBSTATS" --config "$T/jobstats.conf" -f -j -d "$J" >"$T/job.json" 2>"$T/job.debug" || fail "-j failed"
# The CPU-time query jobstats sent, asked again: what Prometheus holds for the job.
cpu_query=$(sed -n 's/.*query: \(max_over_time(cgroup_cpu_total_seconds.*\) time=\([0-9]*\).*/\1 \2/p' "$T/job.debug")
[ -n "$cpu_query" ] || fail "jobstats -d did not show its CPU-time query: $(cat "$T/job.debug")"
STORED=$(curl -sf -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=${cpu_query% *}" \
    --data-urlencode "time=${cpu_query##* }" | "$PY" -c 'import json, sys; (r,) = json.load(sys.stdin)["data"]["result"]; print(r["value"][1])') \
    || fail "Prometheus has no CPU time for job $J"
"$PY" - "$T/job.json" "$TOTALCPU" "$BURNT" "$IDLE_CPU" "$STORED" "$ELAPSED" "$T/report.txt" <<'EOP' || fail "job data does not match the scenario / Slurm's accounting: $(cat "$T/job.json" "$T/sacct-cpu.txt")"
import json, re, sys
d = json.load(open(sys.argv[1]))
totalcpu, burnt, idle_cpu, stored, elapsed = sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
report = open(sys.argv[7]).read()
assert d["gpus"] == 2, d["gpus"]
(node,) = d["nodes"].values()
util = node["gpu_utilization"]
assert abs(util["0"] - 60) <= 1 and abs(util["1"] - 30) <= 1, util
assert node["gpu_used_memory"] == {"0": 4096 << 20, "1": 8192 << 20}, node["gpu_used_memory"]
assert node["gpu_total_memory"] == {"0": 81920 << 20, "1": 81920 << 20}, node["gpu_total_memory"]
assert node["cpus"] == 2, node["cpus"]
# CPU time, against what was recorded rather than what the clock allowed: jobstats reports what Prometheus
# stored (kept to 0.1 s); that is the job cgroup's counter, so at least what the kernel had counted while
# the job idled, and at least what Slurm accounted to the job's steps (sacct TotalCPU, [D-][H:]M:S.mmm),
# which is at least the CPU time the job's own process measured.
m = re.fullmatch(r"(?:(?:(\d+)-)?(\d+):)?(\d+):(\d+(?:\.\d+)?)", totalcpu)
assert m, ("sacct TotalCPU", totalcpu)
sacct_cpu = int(m[1] or 0) * 86400 + int(m[2] or 0) * 3600 + int(m[3]) * 60 + float(m[4])
used = node["total_time"]
assert abs(used - round(stored, 1)) < 1e-6, ("jobstats CPU time is not what Prometheus stored", used, stored)
assert stored >= idle_cpu, ("Prometheus holds less CPU time than the cgroup counted", stored, idle_cpu)
assert sacct_cpu >= burnt - 0.01, ("sacct TotalCPU below the job's own process time", sacct_cpu, burnt)
assert stored >= sacct_cpu - 0.01, ("job cgroup CPU time below Slurm's TotalCPU", stored, sacct_cpu)
# Efficiency: that CPU time over Slurm's elapsed time times the cores, as the report prints it.
assert d["total_time"] == elapsed, ("run time", d["total_time"], elapsed)
eff = round(1000 * used / (elapsed * node["cpus"])) / 10
line = re.search(r"Total used/runtime: .*, efficiency=([0-9.]+)%", report) or re.search(r"\(efficiency=([0-9.]+)%\)", report)
assert line and float(line[1]) == eff, ("report efficiency", line and line[1], eff)
assert node["total_memory"] == 200 << 20, node["total_memory"]
assert 0 < node["used_memory"] < 200 << 20, node["used_memory"]
print(f"live numbers ok: CPU {used} s (stored {stored}, sacct TotalCPU {sacct_cpu} s, process {burnt:.3f} s), efficiency {eff} %")
EOP
grep -q "      CPU Cores: 2" "$T/report.txt" || fail "report: CPU cores"
grep -q "       Job Name: train|gpu" "$T/report.txt" || fail "report: job name"
# Princeton prints a whole utilization as Python prints an int ("60%"), others with their decimal, and
# an allocation without ".0" before "GB".
grep -qE "\(GPU 0\): (59|60|61)(\.[0-9])?%" "$T/report.txt" || fail "report: GPU 0 utilization"
grep -q "(GPU 1): 8.0GB/80GB (10.0%)" "$T/report.txt" || fail "report: GPU 1 memory"
pass "jobstats for job $J: scenario GPU utilization and memory, 2 cores, CPU time as Slurm accounted it"

# --- 2. the EpilogSlurmctld summary ---------------------------------------------------------------------
wait_for 60 sh -c "sacct -n -X -P -j $J -o AdminComment | grep -qE '^(JS1:H4sI|js1b32:)'" \
    || fail "no summary stored for job $J: '$(sacct -n -X -P -j "$J" -o AdminComment)'; $(cat "$T/epilog_ctld.log" 2>/dev/null)"
STORED=$(sacct -n -X -P -j "$J" -o AdminComment)
echo "stored AdminComment: ${STORED:0:40}... (${#STORED} chars)"
"$JOBSTATS" --config "$T/jobstats.conf" -d -n "$J" >"$T/stored.txt" 2>"$T/stored.err" || fail "report from summary failed"
# Princeton's report does not say where its figures came from; -d does (stderr).
grep -q "summary stored at job end" "$T/stored.err" || fail "stored summary not used"
pass "EpilogSlurmctld stored the summary of job $J (${STORED%%:*}: spelling)"

# --- 3. slurmdbd down at job end: spooled, stored on retry ------------------------------------------------
# The job ends when the test releases it, after slurmdbd is down.
K=$(sbatch --parsable --gres=gpu:1 -c 1 --mem=100M -t 5 -D "$T/work" -o "$T/out/%j.out" \
    --wrap "for i in \$(seq 2400); do [ -e $T/out/release-k ] && break; sleep 0.1; done")
wait_for 60 sh -c "[ \"\$(squeue -h -j $K -o %T)\" = RUNNING ]" || fail "job $K did not start"
stop_pid "$SLURMDBD_PID" || true
touch "$T/out/release-k"
wait_for 60 sh -c "[ -z \"\$(squeue -h -j $K 2>/dev/null)\" ]" || fail "job $K did not end"
wait_for 60 test -f "$T/spool/$K" || fail "job $K was not spooled: $(cat "$T/epilog_ctld.log")"
pass "slurmdbd down at the end of job $K: spooled"
# Back on its port, the one slurmctld knows: connections the old slurmdbd closed hold it (TIME_WAIT) for up
# to a minute, so the restart is retried until the port is free again.
restart_slurmdbd() {
    local rc=0
    start_listening slurmdbd-fg2 "$SLURM_DBD_PORT" 60 slurmdbd -D || rc=$?
    [ "$rc" = 0 ] && SLURMDBD_PID=$LAST_PID
    return "$rc"
}
wait_for 180 restart_slurmdbd || fail "slurmdbd could not get its port $SLURM_DBD_PORT back"
wait_for 60 sacctmgr -n show cluster || fail "slurmdbd did not come back"
wait_for 60 sh -c "sacct -n -X -P -j $K -o State | grep -q COMPLETED" || fail "job $K never reached the DB"
# Slurm 22.05 shows COMPLETED a moment before the job's End: --retry-spool leaves a job without an End
# spooled (its run time is not known yet), so wait for what the scenario needs, the End.
wait_for 60 sh -c "SLURM_TIME_FORMAT=%s sacct -n -X -P -j $K -o End | grep -q '^[0-9]'" || fail "job $K: no End in the DB"
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
