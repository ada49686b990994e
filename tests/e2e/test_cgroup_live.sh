#!/bin/bash
# test_cgroup_live.sh - the cgroup collector on this machine's real cgroup v1 filesystem, through the daemon.
#
# Builds a Slurm-shaped job cgroup (<ctrl>/slurm_<name>/uid_U/job_J/step_0[/task_0]) in the cpuacct,
# memory and cpuset trees, moves a process into it that allocates 48 MiB and burns one CPU, and checks
# that `jobtel exporter` reports that job with values that move as they should. Then it removes the
# cgroups under the running daemon and checks the job's series go away without an error.
# Needs root and cgroup v1; without them it fails (a skipped live test would look like a passing one).
# Every cgroup directory and process it makes is removed on any exit.
set -euo pipefail

: "${JOBTEL:?JOBTEL must point at the built jobtel binary}"
CG=/sys/fs/cgroup
CTRLS=(cpuacct memory cpuset)
BASE=slurm_jtlive$$
FAKE_UID=4242
JOB=$((900000 + $$ % 90000))
JOBDIR=uid_$FAKE_UID/job_$JOB
T=$(mktemp -d /tmp/jobtel-cglive.XXXXXX)
WORKER=
DAEMON=

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
. "$(dirname "$0")/cgroup_lib.sh"

# Removes our cgroup directories, deepest first; a cgroup whose last process just died may need a moment.
remove_cgroups() {
    local c d
    for c in "${CTRLS[@]}"; do
        [ -d "$CG/$c/$BASE" ] || continue
        for _ in $(seq 50); do
            find "$CG/$c/$BASE" -depth -type d -exec rmdir {} + 2>/dev/null || true
            [ -d "$CG/$c/$BASE" ] || break
            sleep 0.1
        done
        [ -d "$CG/$c/$BASE" ] && echo "WARNING: could not remove $CG/$c/$BASE" >&2
    done
    return 0
}

cleanup() {
    local rc=$?
    if [ -n "$WORKER" ]; then
        kill -KILL "$WORKER" 2>/dev/null || true
        wait "$WORKER" 2>/dev/null || true
    fi
    if [ -n "$DAEMON" ]; then
        kill -TERM "$DAEMON" 2>/dev/null || true
        wait "$DAEMON" 2>/dev/null || true
    fi
    remove_cgroups
    if [ "$rc" -ne 0 ] && [ -f "$T/daemon.log" ]; then
        echo "--- daemon log ---"
        tail -n 30 "$T/daemon.log"
    fi
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- preconditions: fail loudly ---
[ "$(id -u)" = 0 ] || fail "needs root to create cgroups (running as uid $(id -u))"
for c in "${CTRLS[@]}"; do
    [ "$(stat -f -c %T "$CG/$c" 2>/dev/null)" = cgroupfs ] || fail "$CG/$c is not a cgroup v1 mount"
done
[ -x "$JOBTEL" ] || fail "no jobtel binary at $JOBTEL"
command -v curl >/dev/null || fail "curl is needed"
command -v perl >/dev/null || fail "perl is needed for the worker process"

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
for _ in $(seq 100); do
    grep -q ready "$T/worker.log" 2>/dev/null && break
    kill -0 "$WORKER" 2>/dev/null || fail "worker died: $(cat "$T/worker.log")"
    sleep 0.1
done
grep -q ready "$T/worker.log" || fail "worker did not get ready"
grep -qx "$WORKER" "$CG/memory/$BASE/$JOBDIR/step_0/task_0/cgroup.procs" || fail "worker is not in the task cgroup"

# --- the daemon, on a port the kernel picks (another one if it is taken before the daemon binds it) ---
J="jobid=\"$JOB\""
scrape() { curl -sf "http://127.0.0.1:$PORT/metrics" -o "$1"; }
for _ in 1 2 3; do
    PORT=$(free_port)
    "$JOBTEL" exporter --web.listen-address="127.0.0.1:$PORT" --path.cgroupfs="$CG" --no-collector.gpu \
        >"$T/daemon.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 100); do
        scrape "$T/m0" 2>/dev/null && break
        kill -0 "$DAEMON" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$DAEMON" 2>/dev/null && break
    wait "$DAEMON" 2>/dev/null || true
    DAEMON=
done
[ -n "$DAEMON" ] || fail "the daemon did not start: $(cat "$T/daemon.log")"
# value FILE 'name{labels}' : the sample's value; fails if absent.
value() {
    local v
    v=$(awk -v s="$2" 'index($0, s " ") == 1 { print $2; found = 1 } END { exit !found }' "$1") ||
        fail "series $2 missing"
    echo "$v"
}
absent() { ! grep -qF "$2" "$1"; }
# check 'awk condition on a and b' A B WHAT
check() {
    awk -v a="$2" -v b="$3" "BEGIN { exit !($1) }" || fail "$4 (a=$2 b=$3)"
}
KJOB=$CG/cpuacct/$BASE/$JOBDIR/cpuacct.usage_all
KTASK=$CG/cpuacct/$BASE/$JOBDIR/step_0/task_0/cpuacct.usage_all
# The kernel's own CPU counters of the job and of its task, in seconds, read at the same moment.
kernel_cpu() { echo "$(usage_all_s "$KJOB") $(usage_all_s "$KTASK")"; }
fresh() { fresh_scrape "http://127.0.0.1:$PORT/metrics" "$1" "$DAEMON"; }

JL="$J,step=\"\",task=\"\""
SL="$J,step=\"0\",task=\"\""
TL="$J,step=\"0\",task=\"0\""
# CPU, against the kernel's counters read just before and just after a collection: what is exported
# lies between them, at the job and the task level; it grows; a spinning process is mostly user time.
wait_usage_all "$KJOB" 0.5 "$WORKER"
read -r KJ0 KT0 <<<"$(kernel_cpu)"
fresh "$T/m1"
read -r KJ1 KT1 <<<"$(kernel_cpu)"
grep -qF "cgroup_cpu_total_seconds{$JL}" "$T/m1" || fail "the job's series never appeared"
T1=$(value "$T/m1" "cgroup_cpu_total_seconds{$JL}")
check 'a >= b - 1e-6' "$T1" "$KJ0" "job CPU time no less than the kernel counted before the collection"
check 'a <= b + 1e-6' "$T1" "$KJ1" "job CPU time no more than the kernel counted after it"
TT1=$(value "$T/m1" "cgroup_cpu_total_seconds{$TL}")
check 'a >= b - 1e-6' "$TT1" "$KT0" "task CPU time no less than the kernel counted before the collection"
check 'a <= b + 1e-6' "$TT1" "$KT1" "task CPU time no more than the kernel counted after it"
wait_usage_all "$KJOB" "$(awk -v k="$KJ1" 'BEGIN { print k + 1.0 }')" "$WORKER"
read -r KJ2 KT2 <<<"$(kernel_cpu)"
fresh "$T/m2"
read -r KJ3 KT3 <<<"$(kernel_cpu)"
T2=$(value "$T/m2" "cgroup_cpu_total_seconds{$JL}")
check 'a >= b - 1e-6' "$T2" "$KJ2" "job CPU time no less than the kernel counted before the collection"
check 'a <= b + 1e-6' "$T2" "$KJ3" "job CPU time no more than the kernel counted after it"
check 'b - a >= 1.0 - 1e-6' "$T1" "$T2" "job CPU time should grow by the second the kernel counted meanwhile"
U1=$(value "$T/m1" "cgroup_cpu_user_seconds{$JL}")
U2=$(value "$T/m2" "cgroup_cpu_user_seconds{$JL}")
check 'b - a >= 0.5' "$U1" "$U2" "job user time should grow"
S2=$(value "$T/m2" "cgroup_cpu_system_seconds{$JL}")
check 'a >= 0 && a < b' "$S2" "$U2" "a spinning process is mostly user time"
TT2=$(value "$T/m2" "cgroup_cpu_total_seconds{$TL}")
check 'a >= b - 1e-6' "$TT2" "$KT2" "task CPU time no less than the kernel counted before the collection"
check 'a <= b + 0.5' "$TT2" "$T2" "task CPU time is the job's, less what ran elsewhere"
value "$T/m2" "cgroup_cpu_total_seconds{$SL}" >/dev/null
# memory: the 48 MiB string, charged to the job; the limit we set
USED=$(value "$T/m2" "cgroup_memory_used_bytes{$JL}")
RSS=$(value "$T/m2" "cgroup_memory_rss_bytes{$JL}")
check 'a >= 48 * 1048576 && a < 200 * 1048576' "$USED" 0 "job memory use should hold the 48 MiB"
check 'a >= 46 * 1048576 && a <= b' "$RSS" "$USED" "job RSS should hold the 48 MiB"
check 'a >= 46 * 1048576' "$(value "$T/m2" "cgroup_memory_rss_bytes{$TL}")" 0 "task RSS should hold the 48 MiB"
check 'a == b' "$(value "$T/m2" "cgroup_memory_total_bytes{$JL}")" $LIMIT "job memory limit"
check 'a == b' "$(value "$T/m2" "cgroup_memory_total_bytes{$TL}")" $LIMIT "task bounded by the job's limit"
check 'a == 0' "$(value "$T/m2" "cgroup_memory_fail_count{$JL}")" 0 "no allocation hit the limit"
value "$T/m2" "cgroup_memory_cache_bytes{$JL}" >/dev/null
value "$T/m2" "cgroup_memory_shmem_bytes{$JL}" >/dev/null
# CPUs: the job has all of them, step_0 one, task_0 (no cpuset cgroup) its step's
check 'a == b' "$(value "$T/m2" "cgroup_cpus{$JL}")" "$NCPU" "job CPU count"
check 'a == 1' "$(value "$T/m2" "cgroup_cpus{$SL}")" 0 "step CPU count"
check 'a == 1' "$(value "$T/m2" "cgroup_cpus{$TL}")" 0 "task CPU count from its step"
check 'a == b' "$(value "$T/m2" "cgroup_uid{$J}")" $FAKE_UID "uid from the uid_ directory"
check 'a == 1' "$(value "$T/m2" 'jobtel_scrape_collector_success{collector="cgroup"}')" 0 "collector success"
check 'a == 0' "$(value "$T/m2" 'jobtel_cgroup_parse_errors_total')" 0 "parse errors"
check 'a == 0' "$(value "$T/m2" 'jobtel_cgroup_read_errors_total')" 0 "read errors"

# The scrape parses; promtool's only complaint may be the "_count" suffix of cgroup_memory_fail_count,
# a name kept as cgroup_exporter spells it (exit 3 = lint findings only).
if command -v promtool >/dev/null; then
    rc=0
    out=$(promtool check metrics <"$T/m2" 2>&1) || rc=$?
    if [ $rc -ne 0 ]; then
        [ $rc -eq 3 ] || fail "promtool rejected the scrape: $out"
        extra=$(echo "$out" | grep -v 'cgroup_memory_fail_count non-histogram and non-summary metrics should not have "_count" suffix' || true)
        [ -z "$extra" ] || fail "promtool: $extra"
    fi
fi

# --- the job ends: its series go, nothing fails ---
kill -KILL "$WORKER"
wait "$WORKER" 2>/dev/null || true
WORKER=
remove_cgroups
[ ! -d "$CG/cpuacct/$BASE" ] || fail "could not remove the job's cgroups"
fresh "$T/m3"
absent "$T/m3" "{$J," || fail "series of the removed job are still exported"
absent "$T/m3" "cgroup_uid{$J}" || fail "uid of the removed job is still exported"
check 'a == 1' "$(value "$T/m3" 'jobtel_scrape_collector_success{collector="cgroup"}')" 0 "collector success after removal"
check 'a == 0' "$(value "$T/m3" 'jobtel_cgroup_parse_errors_total')" 0 "parse errors after removal"
kill -0 "$DAEMON" || fail "daemon died"

echo "PASS: live cgroup v1 job $JOB: cpu +$(awk -v a="$T1" -v b="$T2" 'BEGIN { print b - a }') s between two collections (kernel: $KJ2..$KJ3 s), used $USED B, rss $RSS B"
