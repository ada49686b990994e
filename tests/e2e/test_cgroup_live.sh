#!/bin/bash
# test_cgroup_live.sh - the cgroup collector on this machine's real cgroup v1 filesystem, through the daemon.
#
# Builds a Slurm-shaped job cgroup (<ctrl>/slurm_<name>/uid_U/job_J/step_0[/task_0]) in the cpuacct,
# memory and cpuset trees, moves a process into it that allocates 48 MiB and burns one CPU, and checks
# that `jobtel exporter` reports that job with the values the kernel has: CPU seconds against the
# cgroups' own counters read around the scrape (however much CPU a loaded machine gave the worker).
# Then it removes the cgroups under the running daemon and checks the job's series go away without an
# error. Needs root and cgroup v1; without them it fails (a skipped live test would look like a passing
# one). Every cgroup directory and process it makes is removed on any exit.
. "$(dirname "$0")/lib.sh"
CG=/sys/fs/cgroup
CTRLS=(cpuacct memory cpuset)
BASE=slurm_jtlive$$
FAKE_UID=4242
JOB=$((900000 + $$ % 90000))
JOBDIR=uid_$FAKE_UID/job_$JOB
WORKER=

# Removes our cgroup directories, deepest first; a cgroup whose last process just died may need a moment.
remove_cgroups() {
    local c d
    for c in "${CTRLS[@]}"; do
        [ -d "$CG/$c/$BASE" ] || continue
        for _ in $(seq 300); do
            find "$CG/$c/$BASE" -depth -type d -exec rmdir {} + 2>/dev/null || true
            [ -d "$CG/$c/$BASE" ] || break
            sleep 0.1
        done
        [ -d "$CG/$c/$BASE" ] && echo "WARNING: could not remove $CG/$c/$BASE" >&2
    done
    return 0
}

# The worker and the cgroups first, then lib.sh's cleanup (daemon, logs, $T).
trap 'rc=$?; set +e; if [ -n "$WORKER" ]; then kill -KILL "$WORKER"; wait "$WORKER"; fi 2>/dev/null; remove_cgroups; (exit $rc); cleanup' EXIT
trap 'exit 130' INT TERM

# --- preconditions: fail loudly ---
[ "$(id -u)" = 0 ] || fail "needs root to create cgroups (running as uid $(id -u))"
for c in "${CTRLS[@]}"; do
    [ "$(stat -f -c %T "$CG/$c" 2>/dev/null)" = cgroupfs ] || fail "$CG/$c is not a cgroup v1 mount"
done
[ -x "$JOBTEL" ] || fail "no jobtel binary at $JOBTEL"
command -v curl >/dev/null || fail "curl is needed"
command -v perl >/dev/null || fail "perl is needed for the worker process"
command -v ss >/dev/null || fail "ss is needed (Debian: iproute2)"

# --- the job's cgroups ---
for c in "${CTRLS[@]}"; do
    mkdir -p "$CG/$c/$BASE/$JOBDIR/step_0"
done
mkdir "$CG/cpuacct/$BASE/$JOBDIR/step_0/task_0" "$CG/memory/$BASE/$JOBDIR/step_0/task_0"
# v1 cpusets start empty: fill each level top down. The job gets every CPU, step_0 only CPU 0, and
# task_0 has no cpuset cgroup at all (as with Slurm), so it must report its step's count.
ROOTCPUS=$(cat "$CG/cpuset/cpuset.cpus")
ROOTMEMS=$(cat "$CG/cpuset/cpuset.mems")
# the number of CPUs in a list like 0-3,8
NCPU=$(echo "$ROOTCPUS" | awk -F, '{ n = 0; for (i = 1; i <= NF; i++) { split($i, r, "-"); n += (r[2] == "" ? 1 : r[2] - r[1] + 1) } print n }')
for d in "$BASE" "$BASE/uid_$FAKE_UID" "$BASE/$JOBDIR"; do
    echo "$ROOTCPUS" >"$CG/cpuset/$d/cpuset.cpus"
    echo "$ROOTMEMS" >"$CG/cpuset/$d/cpuset.mems"
done
echo 0 >"$CG/cpuset/$BASE/$JOBDIR/step_0/cpuset.cpus"
echo "$ROOTMEMS" >"$CG/cpuset/$BASE/$JOBDIR/step_0/cpuset.mems"
LIMIT=209715200 # --mem=200M
echo $LIMIT >"$CG/memory/$BASE/$JOBDIR/memory.limit_in_bytes"

# --- the worker: joins the cgroups first, then allocates 48 MiB (written, so charged) and spins ---
sh -c "echo \$\$ >'$CG/cpuacct/$BASE/$JOBDIR/step_0/task_0/cgroup.procs' &&
       echo \$\$ >'$CG/memory/$BASE/$JOBDIR/step_0/task_0/cgroup.procs' &&
       echo \$\$ >'$CG/cpuset/$BASE/$JOBDIR/step_0/cgroup.procs' &&
       exec perl -e '\$x = \"a\" x (48 * 1024 * 1024); \$| = 1; print \"ready\\n\"; 1 while 1;'" \
    >"$T/worker.log" 2>&1 &
WORKER=$!
worker_ready() {
    grep -q ready "$T/worker.log" 2>/dev/null && return 0
    alive "$WORKER" || fail "worker died: $(cat "$T/worker.log")"
    return 1
}
wait_for 60 worker_ready || fail "worker did not get ready"
grep -qx "$WORKER" "$CG/memory/$BASE/$JOBDIR/step_0/task_0/cgroup.procs" || fail "worker is not in the task cgroup"

# --- the daemon ---
start_exporter 0 --path.cgroupfs="$CG" --no-collector.gpu
PORT=$EXPORTER_PORT

J="jobid=\"$JOB\""
JL="$J,step=\"\",task=\"\""
SL="$J,step=\"0\",task=\"\""
TL="$J,step=\"0\",task=\"0\""
# check 'awk condition on a and b' A B WHAT
check() {
    awk -v a="$2" -v b="$3" "BEGIN { exit !($1) }" || fail "$4 (a=$2 b=$3)"
}

wait_for 60 scrape_has "$PORT" "^cgroup_cpu_total_seconds\\{$JL\\} " || fail "the job's series never appeared"
scrape "$PORT" "$T/m1"
T1=$(value "$T/m1" "cgroup_cpu_total_seconds{$JL}")
# CPU: the worker spins. Once the kernel has counted half a second more for the job than the first scrape
# showed, every level's CPU seconds must match its cgroup's own counter read around one scrape.
JOBCG=$CG/cpuacct/$BASE/$JOBDIR
kernel_past() { "$PY" -c "import sys; sys.exit(0 if $(cgroup_cpu_seconds "$JOBCG") >= $1 else 1)"; }
wait_for 120 kernel_past "$T1 + 0.5" || fail "the worker got no CPU for 2 minutes"
expect_cpu_bracket "$PORT" 60 \
    "cgroup_cpu_total_seconds{$JL}|$JOBCG|total" \
    "cgroup_cpu_user_seconds{$JL}|$JOBCG|user" \
    "cgroup_cpu_system_seconds{$JL}|$JOBCG|system" \
    "cgroup_cpu_total_seconds{$SL}|$JOBCG/step_0|total" \
    "cgroup_cpu_total_seconds{$TL}|$JOBCG/step_0/task_0|total" \
    "cgroup_cpu_user_seconds{$TL}|$JOBCG/step_0/task_0|user"
cp "$T/cpu-bracket.txt" "$T/m2"
T2=$(value "$T/m2" "cgroup_cpu_total_seconds{$JL}")
check 'b - a >= 0.5' "$T1" "$T2" "job CPU time should grow with the kernel's count"
U2=$(value "$T/m2" "cgroup_cpu_user_seconds{$JL}")
S2=$(value "$T/m2" "cgroup_cpu_system_seconds{$JL}")
check 'a >= 0 && a < b' "$S2" "$U2" "a spinning process is mostly user time"
# memory: the 48 MiB string, charged to the job; the limit we set
USED=$(value "$T/m2" "cgroup_memory_used_bytes{$JL}")
RSS=$(value "$T/m2" "cgroup_memory_rss_bytes{$JL}")
check 'a >= 48 * 1048576 && a < 200 * 1048576' "$USED" 0 "job memory use should hold the 48 MiB"
check 'a >= 46 * 1048576 && a <= b' "$RSS" "$USED" "job RSS should hold the 48 MiB"
check 'a >= 46 * 1048576' "$(value "$T/m2" "cgroup_memory_rss_bytes{$TL}")" 0 "task RSS should hold the 48 MiB"
check 'a == b' "$(value "$T/m2" "cgroup_memory_total_bytes{$JL}")" $LIMIT "job memory limit"
check 'a == b' "$(value "$T/m2" "cgroup_memory_total_bytes{$TL}")" $LIMIT "task bounded by the job's limit"
check 'a == 0' "$(value "$T/m2" "cgroup_memory_fail_count{$JL}")" 0 "no allocation hit the limit"
value "$T/m2" "cgroup_memory_cache_bytes{$JL}" >/dev/null || fail "no cache bytes"
value "$T/m2" "cgroup_memory_shmem_bytes{$JL}" >/dev/null || fail "no shmem bytes"
# CPUs: the job has all of them, step_0 one, task_0 (no cpuset cgroup) its step's
check 'a == b' "$(value "$T/m2" "cgroup_cpus{$JL}")" "$NCPU" "job CPU count"
check 'a == 1' "$(value "$T/m2" "cgroup_cpus{$SL}")" 0 "step CPU count"
check 'a == 1' "$(value "$T/m2" "cgroup_cpus{$TL}")" 0 "task CPU count from its step"
check 'a == b' "$(value "$T/m2" "cgroup_uid{$J}")" $FAKE_UID "uid from the uid_ directory"
check 'a == 1' "$(value "$T/m2" 'jobtel_scrape_collector_success{collector="cgroup"}')" 0 "collector success"
check 'a == 0' "$(value "$T/m2" 'jobtel_cgroup_parse_errors_total')" 0 "parse errors"
check 'a == 0' "$(value "$T/m2" 'jobtel_cgroup_read_errors_total')" 0 "read errors"

# The scrape parses (promtool, which must be installed, and prometheus_client); promtool's only complaint
# may be the "_count" suffix of cgroup_memory_fail_count, a name kept as cgroup_exporter spells it.
validate "$T/m2"

# --- the job ends: its series go, nothing fails ---
kill -KILL "$WORKER"
wait "$WORKER" 2>/dev/null || true
WORKER=
remove_cgroups
[ ! -d "$CG/cpuacct/$BASE" ] || fail "could not remove the job's cgroups"
[ "$(count_series "$T/m2" '*' jobid="$JOB")" -gt 0 ] || fail "no series named the job before it ended"
wait_for 60 scrape_lacks "$PORT" '*' jobid="$JOB" || fail "series of the removed job are still exported"
scrape "$PORT" "$T/m3"
expect_none "$T/m3" '*' jobid="$JOB"
check 'a == 1' "$(value "$T/m3" 'jobtel_scrape_collector_success{collector="cgroup"}')" 0 "collector success after removal"
check 'a == 0' "$(value "$T/m3" 'jobtel_cgroup_parse_errors_total')" 0 "parse errors after removal"
kill -0 "$EXPORTER_PID" || fail "daemon died"

echo "PASS: live cgroup v1 job $JOB: cpu $T1 -> $T2 s (as the kernel counted), used $USED B, rss $RSS B"
