#!/bin/bash
# test_accounting_shared.sh - per-job accounting through the daemon and the fake NVML: two jobs sharing
# a GPU split busy time and energy by their processes' utilization (nvmlDeviceGetProcessUtilization),
# two jobs on a GPU without per-process samples split evenly; a daemon restart mid-job continues the
# totals from its state directory without counting anything twice.
#
# Every assertion compares totals with what the daemon recorded (its collection timestamps, the
# scenario's constant readings), never with the wall clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}"
# series_value FILE SERIES : the value of an exact series line (name and labels as served).
series_value() { awk -v s="$2" 'index($0, s " ") == 1 { print $NF }' "$1"; }

cat >"$T/scenario.json" <<'JSON'
{
  "schema": 1,
  "driver_version": "550.144.03",
  "values": {"gpu_util": 80, "mem_util": 5, "memory_used_mib": 1000, "power_mw": 200000,
             "energy_mj": {"rate": "power_mw", "initial": 5000000000}},
  "gpus": [
    {"name": "G", "uuid": "GPU-a0000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "memory_total_mib": 4000,
     "processes": [{"pid": 4242, "used_memory_mib": 100, "sm_util": 60}, {"pid": 4243, "used_memory_mib": 100, "sm_util": 20}]},
    {"name": "G", "uuid": "GPU-a1111111-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "memory_total_mib": 4000,
     "processes": [{"pid": 5252, "used_memory_mib": 100}, {"pid": 5253, "used_memory_mib": 100}]}
  ]
}
JSON
mkdir -p "$T/hpc" "$T/proc/4242" "$T/proc/4243" "$T/proc/5252" "$T/proc/5253" "$T/state"
printf '1001\n1002\n' >"$T/hpc/0"
printf '2001\n2002\n' >"$T/hpc/1"
printf '0::/system.slice/slurmstepd.scope/job_1001/step_0/user/task_0\n' >"$T/proc/4242/cgroup"
printf '0::/system.slice/slurmstepd.scope/job_1002/step_0/user/task_0\n' >"$T/proc/4243/cgroup"
printf '0::/system.slice/slurmstepd.scope/job_2001/step_0/user/task_0\n' >"$T/proc/5252/cgroup"
printf '0::/system.slice/slurmstepd.scope/job_2002/step_0/user/task_0\n' >"$T/proc/5253/cgroup"
export FAKE_NVML_SCENARIO="$T/scenario.json"
ARGS=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n --hpc-job-mapping-dir="$T/hpc"
      --slurm.gpustat-dir= --path.procfs="$T/proc")

# The test's own state directory (start_bg would give each daemon its own: these two must share it).
start_exporter_ephemeral exp1 127.0.0.1:0 "${ARGS[@]}" --path.accounting="$T/state"
wait_metrics "$PORT"

ts_of() { series_value "$1" 'jobtel_last_collection_timestamp_seconds{collector="gpu"}'; }
v() { series_value "$1" "jobtel_job_gpu_$2{jobid=\"$3\",gpu=\"$4\"}"; }
# fresh FILE : a scrape taken after at least 5 more collections of the GPU than the previous one.
fresh() {
    local before=${LASTTS:-0} i
    for ((i = 0; i < 600; i++)); do
        curl -sf "http://127.0.0.1:$PORT/metrics" -o "$1" || true
        local ts
        ts=$(ts_of "$1" 2>/dev/null || true)
        if [ -n "$ts" ] && [ -n "$(v "$1" busy_seconds_total 1001 0)" ] &&
            awk -v a="$ts" -v b="$before" 'BEGIN { exit !(a - b >= 5) }'; then
            LASTTS=$ts
            return 0
        fi
        sleep 0.1
    done
    fail "no fresh scrape with the jobs' counters"
}
fresh "$T/a"
fresh "$T/b"
validate "$T/b"
"$PY" - "$T/a" "$T/b" <<'PYEOF' || fail "shared GPU split"
import sys
def load(f):
    d = {}
    for l in open(f):
        if l.startswith("jobtel_job_gpu_"):
            k, val = l.rsplit(" ", 1)
            d[k] = float(val)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
def delta(name, job, gpu):
    k = f'jobtel_job_gpu_{name}{{jobid="{job}",gpu="{gpu}"}}'
    return b[k] - a[k]
alloc = delta("allocated_seconds_total", 1001, 0)
assert alloc > 0
# GPU 0: processes at 60 % and 20 % -> 3:1 of the GPU's 80 % busy time and of its 200 W.
b1, b2 = delta("busy_seconds_total", 1001, 0), delta("busy_seconds_total", 1002, 0)
e1, e2 = delta("energy_joules_total", 1001, 0), delta("energy_joules_total", 1002, 0)
print(f"GPU 0 (process utilization 60/20): busy {b1:.3f} / {b2:.3f} s, energy {e1:.1f} / {e2:.1f} J over {alloc:.3f} s")
assert abs(b1 / b2 - 3) < 1e-6, (b1, b2)
assert abs(b1 + b2 - 0.8 * alloc) < 1e-6, (b1, b2, alloc)
assert abs(e1 / e2 - 3) < 1e-6 and abs(e1 + e2 - 200 * alloc) < 1e-3 * 200 * alloc, (e1, e2)
# Each job holds the GPU for the whole interval: allocated time is not split.
assert abs(delta("allocated_seconds_total", 1002, 0) - alloc) < 1e-6
# GPU 1: no per-process samples -> even.
c1, c2 = delta("busy_seconds_total", 2001, 1), delta("busy_seconds_total", 2002, 1)
alloc1 = delta("allocated_seconds_total", 2001, 1)
print(f"GPU 1 (no process utilization): busy {c1:.3f} / {c2:.3f} s over {alloc1:.3f} s")
assert abs(c1 - c2) < 1e-9 and abs(c1 + c2 - 0.8 * alloc1) < 1e-6, (c1, c2, alloc1)
PYEOF
pass "shared GPUs: split by process utilization when NVML has it, else evenly"

# The node epilog's record: over the daemon's root-only unix socket, written atomically for the controller.
[ -S "$T/state/accounting.sock" ] || fail "no record socket"
[ "$(stat -c %a "$T/state/accounting.sock")" = 600 ] || fail "the record socket is not 0600"
"$JOBTEL" job-record 1001 --socket="$T/state/accounting.sock" --records-dir="$T/records" --node=gpu-n1 \
    || fail "job-record failed"
"$PY" - "$T/records/1001/gpu-n1.json" <<'PYEOF' || fail "the job's record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["jobid"] == "1001" and r["version"] == 1, r
g = {x["gpu"]: x for x in r["gpus"]}
assert set(g) == {"0"}, g
assert g["0"]["allocated_s"] > 0 and abs(g["0"]["busy_s"] / g["0"]["energy_j"] - 0.6 / 150) < 0.05 * 0.6 / 150, g
PYEOF
# An unknown job is not an error for the epilog, and writes nothing.
"$JOBTEL" job-record 999999 --socket="$T/state/accounting.sock" --records-dir="$T/records" --node=gpu-n1 \
    || fail "job-record failed on an unknown job"
[ ! -e "$T/records/999999" ] || fail "a record for an unknown job"
# Another user is refused by the daemon (peer credentials), even if the socket's mode let it connect.
chmod 777 "$T/state" "$T/state/accounting.sock"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$JOBTEL" job-record 1001 --socket="$T/state/accounting.sock" --records-dir=- 2>&1 || true)
chmod 700 "$T/state"; chmod 600 "$T/state/accounting.sock"
echo "$out" | grep -q '"gpus"' && fail "a non-root user got a job's record"
echo "$out" | grep -q "cannot get the accounting record" || fail "the refusal is not reported: $out"
pass "the node epilog gets the job's record over the root-only socket"

# Restart mid-job: stop (the state is saved), start again on the same state directory.
fresh "$T/before"
stop_pid "$EXPORTER_PID" || fail "the exporter did not stop cleanly"
[ -f "$T/state/job_accounting.state" ] || fail "no state file after a clean stop"
start_exporter_ephemeral exp2 127.0.0.1:0 "${ARGS[@]}" --path.accounting="$T/state"
wait_metrics "$PORT"
grep -q "accounting: 4 job records restored" "$T/exp2.log" || fail "the records were not restored: $(grep accounting "$T/exp2.log")"
fresh "$T/after"
"$PY" - "$T/before" "$T/after" <<'PYEOF' || fail "restart"
import sys
def load(f):
    d = {}
    for l in open(f):
        if l.startswith(("jobtel_job_gpu_", "jobtel_last_collection_timestamp_seconds")):
            k, val = l.rsplit(" ", 1)
            d[k] = float(val)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
k = 'jobtel_job_gpu_allocated_seconds_total{jobid="1001",gpu="0"}'
busy = 'jobtel_job_gpu_busy_seconds_total{jobid="1001",gpu="0"}'
ts = 'jobtel_last_collection_timestamp_seconds{collector="gpu"}'
grew = b[k] - a[k]
# Continued, not restarted from zero: and no more than the collections after the restart can account for
# (the second daemon's collections started after the first one's last: the span between the two scrapes).
print(f"restart: allocated {a[k]:.3f} -> {b[k]:.3f} s (+{grew:.3f}); collections span {b[ts] - a[ts]:.3f} s")
assert b[k] > a[k], "totals went back"
assert grew <= b[ts] - a[ts] + 1e-6, "allocated time grew more than the time that passed: counted twice"
assert abs((b[busy] - a[busy]) / grew - 0.6) < 1e-6 if grew > 0 else True
PYEOF
pass "a daemon restart continues the totals without counting twice"

# Hostile state file: a FIFO where the state file should be is refused at once and the daemon serves.
stop_pid "$EXPORTER_PID" || true
rm -f "$T/state/job_accounting.state"
mkfifo "$T/state/job_accounting.state"
start_exporter_ephemeral exp3 127.0.0.1:0 "${ARGS[@]}" --path.accounting="$T/state"
wait_metrics "$PORT"
grep -q "not a regular file; refused" "$T/exp3.log" || fail "FIFO state file not refused"
pass "a FIFO state file is refused without blocking"
