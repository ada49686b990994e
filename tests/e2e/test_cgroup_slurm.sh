#!/bin/bash
# test_cgroup_slurm.sh - the cgroup collector against a real Slurm job: with proctrack/cgroup and
# task/cgroup (cgroup v1 here), a running job's cgroup_* series appear under its job id with its
# memory limit, CPU count and uid, its CPU time grows while it burns CPU, and the series go when it ends.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/e2e/slurm/cluster.sh"
. "$(dirname "$0")/cgroup_lib.sh"

slurm_require
mkdir -p "$T/out"
chmod 1777 "$T/out"
printf '#!/bin/sh\nexit 0\n' >"$T/true.sh"
chmod 755 "$T/true.sh"
trap 'rc=$?; set +e; slurm_down; (exit $rc); cleanup' EXIT
SLURM_CGROUP=1 slurm_up 1 "$T/true.sh" "$T/true.sh"
pass "one-node Slurm with cgroup plugins"

for _ in 1 2 3; do
    PORT=$(free_port) # the kernel's pick; another one if it is taken before the daemon binds it
    start_bg "exporter-$PORT" "$JOBTEL" exporter --web.listen-address="127.0.0.1:$PORT" --no-collector.gpu
    EXPORTER_PID=$LAST_PID
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" && break
    stop_pid "$EXPORTER_PID" || true
    EXPORTER_PID=
done
[ -n "$EXPORTER_PID" ] || fail "exporter never served metrics"
URL=http://127.0.0.1:$PORT/metrics
JOB_UID=$(id -u nobody)
J=$(sbatch --parsable --uid=nobody --mem=150M -c 1 -o "$T/out/%j.out" --wrap \
    "exec /usr/bin/python3 -c 'import time
x = bytearray(64 << 20)
for i in range(0, len(x), 4096): x[i] = 1
end = time.time() + 30
while time.time() < end: pass'")
[ -n "$J" ] || fail "sbatch failed"
wait_for 20 sh -c "[ \"\$(squeue -h -j $J -o %T)\" = RUNNING ]" || fail "job $J not running"

L="jobid=\"$J\",step=\"\",task=\"\""
# The job's own CPU counters, as the kernel keeps them in Slurm's cgroup (slurm_<node>/uid_U/job_J).
wait_for 20 sh -c "ls -d /sys/fs/cgroup/cpuacct/slurm*/uid_$JOB_UID/job_$J/step_batch >/dev/null 2>&1" ||
    fail "no cgroup for job $J under /sys/fs/cgroup/cpuacct/slurm*/uid_$JOB_UID"
KJOB=$(ls -d /sys/fs/cgroup/cpuacct/slurm*/uid_"$JOB_UID"/job_"$J")/cpuacct.usage_all
# The job has touched its 64 MiB once it has spent some CPU; then a collection that started later.
wait_usage_all "$KJOB" 0.3 ""
K0=$(usage_all_s "$KJOB")
fresh_scrape "$URL" "$T/m1.txt" "$EXPORTER_PID"
K1=$(usage_all_s "$KJOB")
grep -q "^cgroup_cpus{$L} 1$" "$T/m1.txt" || fail "no cgroup_cpus for job $J: $(grep "jobid=\"$J\"" "$T/m1.txt" | head)"
validate "$T/m1.txt"
expect_value "$T/m1.txt" "cgroup_memory_total_bytes{$L}" $((150 * 1048576))
expect_value "$T/m1.txt" "cgroup_uid{jobid=\"$J\"}" "$JOB_UID"
used=$(value "$T/m1.txt" "cgroup_memory_used_bytes{$L}")
"$PY" -c "import sys; sys.exit(0 if $used >= 60 * 2**20 else 1)" || fail "memory used $used: the job touched 64 MiB"
c1=$(value "$T/m1.txt" "cgroup_cpu_total_seconds{$L}")
grep -q "^cgroup_cpu_user_seconds{jobid=\"$J\",step=\"batch\",task=\"\"}" "$T/m1.txt" || fail "no batch step series"
# CPU time: what the kernel counted around the collection, not what the clock would have allowed.
"$PY" -c "import sys; sys.exit(0 if $K0 - 1e-6 <= $c1 <= $K1 + 1e-6 else 1)" ||
    fail "job CPU time $c1 outside the kernel's $K0 .. $K1 around the collection"
wait_usage_all "$KJOB" "$("$PY" -c "print($K1 + 0.5)")" ""
K2=$(usage_all_s "$KJOB")
fresh_scrape "$URL" "$T/m2.txt" "$EXPORTER_PID"
K3=$(usage_all_s "$KJOB")
c2=$(value "$T/m2.txt" "cgroup_cpu_total_seconds{$L}")
"$PY" -c "import sys; sys.exit(0 if $K2 - 1e-6 <= $c2 <= $K3 + 1e-6 and $c2 - $c1 >= 0.5 - 1e-6 else 1)" ||
    fail "CPU time grew from $c1 to $c2 while the kernel counted $K1 .. $K2 .. $K3 for the spinning job"
expect_value "$T/m2.txt" 'jobtel_scrape_collector_success{collector="cgroup"}' 1

scancel "$J"
wait_for 20 sh -c "[ -z \"\$(squeue -h -j $J 2>/dev/null)\" ]" || fail "job $J did not end"
# Its cgroups are gone once Slurm has cleaned up; a collection after that has none of its series.
wait_for 30 sh -c "! ls -d /sys/fs/cgroup/cpuacct/slurm*/uid_$JOB_UID/job_$J >/dev/null 2>&1" ||
    fail "Slurm left the cgroups of job $J"
fresh_scrape "$URL" "$T/m3.txt" "$EXPORTER_PID"
grep -q "jobid=\"$J\"" "$T/m3.txt" && fail "series of ended job $J remain"
expect_value "$T/m3.txt" 'jobtel_scrape_collector_success{collector="cgroup"}' 1
stop_pid "$EXPORTER_PID"
pass "cgroup series of a real Slurm job (job $J)"
