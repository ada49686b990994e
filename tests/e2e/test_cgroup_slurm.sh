#!/bin/bash
# test_cgroup_slurm.sh - the cgroup collector against a real Slurm job: with proctrack/cgroup and
# task/cgroup (cgroup v1 here), a running job's cgroup_* series appear under its job id with its
# memory limit, CPU count and uid, its CPU seconds match the job cgroup's own counter read around the
# scrape (however much CPU a loaded machine gave it), and the series go when it ends.
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

start_exporter 0 --no-collector.gpu
P=$EXPORTER_PORT
JOB_UID=$(id -u nobody)
J=$(sbatch --parsable --uid=nobody --mem=150M -c 1 -o "$T/out/%j.out" --wrap \
    "exec /usr/bin/python3 -c 'import time
x = bytearray(64 << 20)
for i in range(0, len(x), 4096): x[i] = 1
while True: pass'")
[ -n "$J" ] || fail "sbatch failed"
wait_for 60 sh -c "[ \"\$(squeue -h -j $J -o %T)\" = RUNNING ]" || fail "job $J not running"

L="jobid=\"$J\",step=\"\",task=\"\""
wait_for 60 scrape_has $P "^cgroup_cpus\\{$L\\} 1$" || fail "no cgroup_cpus for job $J: $(curl -s 127.0.0.1:$P/metrics | grep "jobid=\"$J\"" | head)"
# The job's memory is touched before it spins: wait for the batch step's series and the 64 MiB.
JOBCG=/sys/fs/cgroup/cpuacct/slurm_$(hostname -s)/uid_$JOB_UID/job_$J
[ -d "$JOBCG" ] || fail "no job cgroup at $JOBCG"
wait_for 60 scrape_has $P "^cgroup_cpu_user_seconds\\{jobid=\"$J\",step=\"batch\",task=\"\"\\} " || fail "no batch step series"
touched() { scrape $P "$T/m1.txt"; "$PY" -c "import sys; sys.exit(0 if $(value "$T/m1.txt" "cgroup_memory_used_bytes{$L}") >= 60 * 2**20 else 1)"; }
wait_for 60 touched || fail "memory used $(value "$T/m1.txt" "cgroup_memory_used_bytes{$L}"): the job touched 64 MiB"
validate "$T/m1.txt"
expect_value "$T/m1.txt" "cgroup_memory_total_bytes{$L}" $((150 * 1048576))
expect_value "$T/m1.txt" "cgroup_uid{jobid=\"$J\"}" "$JOB_UID"
c1=$(value "$T/m1.txt" "cgroup_cpu_total_seconds{$L}")
kernel_past() { "$PY" -c "import sys; sys.exit(0 if $(cgroup_cpu_seconds "$JOBCG") >= $1 else 1)"; }
wait_for 120 kernel_past "$c1 + 0.5" || fail "job $J got no CPU for 2 minutes"
expect_cpu_bracket $P 60 "cgroup_cpu_total_seconds{$L}|$JOBCG|total" "cgroup_cpu_user_seconds{$L}|$JOBCG|user" \
    "cgroup_cpu_total_seconds{jobid=\"$J\",step=\"batch\",task=\"\"}|$JOBCG/step_batch|total"
cp "$T/cpu-bracket.txt" "$T/m2.txt"
c2=$(value "$T/m2.txt" "cgroup_cpu_total_seconds{$L}")
"$PY" -c "import sys; sys.exit(0 if $c2 - $c1 >= 0.5 else 1)" || fail "CPU time grew from $c1 to $c2, the kernel counted more"
expect_value "$T/m2.txt" 'jobtel_scrape_collector_success{collector="cgroup"}' 1

scancel "$J"
wait_for 60 sh -c "[ -z \"\$(squeue -h -j $J 2>/dev/null)\" ]" || fail "job $J did not end"
wait_for 60 scrape_lacks $P '*' jobid="$J" || fail "series of ended job $J remain"
scrape $P "$T/m3.txt"
expect_value "$T/m3.txt" 'jobtel_scrape_collector_success{collector="cgroup"}' 1
stop_pid "$EXPORTER_PID"
pass "cgroup series of a real Slurm job (job $J)"
