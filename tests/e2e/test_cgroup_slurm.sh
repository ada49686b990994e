#!/bin/bash
# test_cgroup_slurm.sh - the cgroup collector against a real Slurm job: with proctrack/cgroup and
# task/cgroup (cgroup v1 here), a running job's cgroup_* series appear under its job id with its
# memory limit, CPU count and uid, its CPU time grows while it burns CPU, and the series go when it ends.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/e2e/slurm/cluster.sh"

slurm_require
mkdir -p "$T/out"
chmod 1777 "$T/out"
printf '#!/bin/sh\nexit 0\n' >"$T/true.sh"
chmod 755 "$T/true.sh"
trap 'rc=$?; set +e; slurm_down; (exit $rc); cleanup' EXIT
SLURM_CGROUP=1 slurm_up 1 "$T/true.sh" "$T/true.sh"
pass "one-node Slurm with cgroup plugins"

start_exporter 19620 --no-collector.gpu
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
wait_for 10 scrape_has 19620 "^cgroup_cpus\\{$L\\} 1$" || fail "no cgroup_cpus for job $J: $(curl -s 127.0.0.1:19620/metrics | grep "jobid=\"$J\"" | head)"
sleep 2
scrape 19620 "$T/m1.txt"
validate "$T/m1.txt"
expect_value "$T/m1.txt" "cgroup_memory_total_bytes{$L}" $((150 * 1048576))
expect_value "$T/m1.txt" "cgroup_uid{jobid=\"$J\"}" "$JOB_UID"
used=$(value "$T/m1.txt" "cgroup_memory_used_bytes{$L}")
"$PY" -c "import sys; sys.exit(0 if $used >= 60 * 2**20 else 1)" || fail "memory used $used: the job touched 64 MiB"
c1=$(value "$T/m1.txt" "cgroup_cpu_total_seconds{$L}")
grep -q "^cgroup_cpu_user_seconds{jobid=\"$J\",step=\"batch\",task=\"\"}" "$T/m1.txt" || fail "no batch step series"
sleep 3
scrape 19620 "$T/m2.txt"
c2=$(value "$T/m2.txt" "cgroup_cpu_total_seconds{$L}")
"$PY" -c "import sys; d = $c2 - $c1; sys.exit(0 if 1.5 < d < 4.5 else 1)" || fail "CPU time grew from $c1 to $c2 in 3 s of a spinning job"
expect_value "$T/m2.txt" 'jobtel_scrape_collector_success{collector="cgroup"}' 1

scancel "$J"
wait_for 20 sh -c "[ -z \"\$(squeue -h -j $J 2>/dev/null)\" ]" || fail "job $J did not end"
wait_for 15 sh -c "! curl -s 127.0.0.1:19620/metrics | grep -q 'jobid=\"$J\"'" || fail "series of ended job $J remain"
expect_value <(curl -s 127.0.0.1:19620/metrics) 'jobtel_scrape_collector_success{collector="cgroup"}' 1
stop_pid "$EXPORTER_PID"
pass "cgroup series of a real Slurm job (job $J)"
