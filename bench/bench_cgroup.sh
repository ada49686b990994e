#!/bin/bash
# bench_cgroup.sh - how long one cgroup collection takes over 1000 and 5000 job/step cgroups, against
# the floor: a minimal C reader of the same files (bench/cgroup_floor.c), measured in the same run.
#
# Usage: bench/bench_cgroup.sh [BUILD_DIR] [COUNTS...]     (default: build, 1000 5000)
# For each count N it builds N/4 Slurm jobs of four cgroups each (job, step_batch, step_extern,
# step_0) and times the collector over them, through the driver mode of the unit-test binary
# (BUILD_DIR/test_cgroup_collect --collect), which prints mean and worst time per collection and the
# process's peak RSS. The floor lists one tree and opens, reads once and closes each file the collector
# exports a value from, parsing nothing. The two alternate in ROUNDS rounds of REPEAT/ROUNDS passes
# each, so both see the same machine load. The ratio is of CPU time per collection (the process's own,
# system included: what a node pays), the median of the per-round ratios; wall time is printed too, but
# on a shared machine it mostly measures the neighbours. Three trees:
#   v1-fixture  cpuacct/memory/cpuset trees of ordinary files on tmpfs, shaped like the kernel's
#   v2-fixture  system.slice/slurmstepd.scope/job_J/step_S/{user/task_0} on tmpfs
#   v1-real     real cgroups on this machine's cgroup v1 mounts (only as root with v1 mounted)
# Ordinary files are cheaper to read than cgroup files (the kernel computes memory.stat on read),
# so v1-real is the figure that counts. Everything it creates is removed on exit.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
shift || true
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(1000 5000)
DRIVER=$BUILD/test_cgroup_collect
[ -x "$DRIVER" ] || { echo "no $DRIVER: build first (ninja -C $BUILD test_cgroup_collect)" >&2; exit 2; }
REPEAT=${REPEAT:-20}
ROUNDS=${ROUNDS:-5}
FLOOR=$BUILD/cgroup_floor
cc -O2 -o "$FLOOR" "$SRC/bench/cgroup_floor.c" || { echo "cannot build the floor" >&2; exit 2; }

TMPBASE=/tmp
[ -w /dev/shm ] && TMPBASE=/dev/shm
T=$(mktemp -d "$TMPBASE/jobtel-bench-cg.XXXXXX")
CG=/sys/fs/cgroup
REAL=slurm_jtbench$$

remove_real() {
    local c
    for c in cpuacct memory cpuset; do
        [ -d "$CG/$c/$REAL" ] && find "$CG/$c/$REAL" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    return 0
}
cleanup() {
    remove_real
    rm -rf "$T"
}
trap cleanup EXIT

. "$SRC/bench/cgroup_tree.sh"
. "$SRC/bench/result.sh"

build_v1_real() {
    local jobs=$1 j s c cpus mems
    cpus=$(cat "$CG/cpuset/cpuset.cpus")
    mems=$(cat "$CG/cpuset/cpuset.mems")
    for c in cpuacct memory cpuset; do mkdir -p "$CG/$c/$REAL/uid_1000"; done
    for d in "$REAL" "$REAL/uid_1000"; do
        put "$CG/cpuset/$d/cpuset.cpus" "$cpus"
        put "$CG/cpuset/$d/cpuset.mems" "$mems"
    done
    for j in $(seq $((JOB0 + 1)) $((JOB0 + jobs))); do
        for c in cpuacct memory cpuset; do
            mkdir "$CG/$c/$REAL/uid_1000/job_$j"
            for s in batch extern 0; do mkdir "$CG/$c/$REAL/uid_1000/job_$j/step_$s"; done
        done
        put "$CG/cpuset/$REAL/uid_1000/job_$j/cpuset.cpus" "$cpus"
        put "$CG/memory/$REAL/uid_1000/job_$j/memory.limit_in_bytes" 4294967296
    done
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

# run NAME ROOT VERSION CGROUPS
run() {
    local out stats series fl r n ratios=() cms=() fms=() cwall=() fwall=() per=$((REPEAT / ROUNDS))
    [ "$per" -ge 1 ] || per=1
    for ((r = 0; r < ROUNDS; r++)); do
        fl=$("$FLOOR" "$3" "$2" "$per") || { echo "floor failed on $2" >&2; exit 1; }
        out=$("$DRIVER" --collect "$2" /nonexistent "$3" "$per" 2>"$T/stats") || { cat "$T/stats" >&2; exit 1; }
        stats=$(cat "$T/stats")
        cms+=("$(field cpu_ms "$stats")")
        fms+=("$(field cpu_ms "$fl")")
        cwall+=("$(field mean_ms "$stats")")
        fwall+=("$(field mean_ms "$fl")")
        ratios+=("$(awk -v a="${cms[-1]}" -v b="${fms[-1]}" 'BEGIN { printf "%.2f", a / b }')")
    done
    series=$(grep -c '^cgroup_cpu_total_seconds{' <<<"$out" || true)
    n=$(field cgroups "$fl")
    median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    printf '%-11s %6d cgroups (exported %d, floor %d)  CPU ms: collector %.2f floor %.2f  ratio %s  [rounds %s]  wall ms: %.2f / %.2f  %s\n' \
        "$1" "$4" "$series" "$n" "$(median "${cms[@]}")" "$(median "${fms[@]}")" "$(median "${ratios[@]}")" \
        "${ratios[*]}" "$(median "${cwall[@]}")" "$(median "${fwall[@]}")" "$(sed 's/.*max_ms=[0-9.]* //' <<<"$stats")"
    bench_result "cgroup_cpu_$1_$4" "$(median "${cms[@]}")" ms "$(median "${fms[@]}")" c_floor
}

echo "jobtel cgroup collector benchmark ($(nproc) CPUs, $(uname -r), $REPEAT collections each, in $ROUNDS rounds against the floor)"
for n in "${COUNTS[@]}"; do
    jobs=$((n / 4))
    rm -rf "$T/v1" "$T/v2"
    build_v1_fixture "$T/v1" "$jobs"
    run v1-fixture "$T/v1" 1 "$((jobs * 4))"
    build_v2_fixture "$T/v2" "$jobs"
    # the task cgroups come on top of the four per job
    run v2-fixture "$T/v2" 2 "$((jobs * 5))"
    if [ "$(id -u)" = 0 ] && [ "$(stat -f -c %T $CG/memory 2>/dev/null)" = cgroupfs ]; then
        build_v1_real "$jobs"
        run v1-real "$CG" 1 "$((jobs * 4))"
        remove_real
    else
        echo "v1-real     skipped: needs root and cgroup v1 mounts"
    fi
done
