#!/bin/bash
# bench_prolog.sh - wall time of `jobtel prolog` + `jobtel epilog` as slurmd pays it (fork+exec included).
#
# Usage: bench/bench_prolog.sh [JOBTEL] [N]    (or env JOBTEL, N; CHECK=1 exits 1 over the 5 ms budget)
# Runs N prolog/epilog pairs for a 2-GPU job on a 4-GPU node (fake /proc/driver/nvidia so the UUID
# files are written too), with 3 other jobs sharing the GPUs so every write is a real read-modify-
# write, and prints p50/p99/max per command, plus fork+exec of /bin/true for scale. Timing uses bash's
# $EPOCHREALTIME: no extra process.
set -euo pipefail

JOBTEL=${1:-${JOBTEL:-$(dirname "$0")/../build/jobtel}}
N=${2:-${N:-1000}}
BUDGET_US=5000
[ -x "$JOBTEL" ] || { echo "usage: $0 [path/to/jobtel] [N]" >&2; exit 2; }

# The mapping dirs live in /run, a tmpfs on compute nodes: measure on tmpfs too (ext4 adds journal
# work to every create and rename). BENCH_DIR overrides.
BENCH_DIR=${BENCH_DIR:-/dev/shm}
[ -d "$BENCH_DIR" ] && [ -w "$BENCH_DIR" ] || BENCH_DIR=/tmp
T=$(mktemp -d "$BENCH_DIR/jobtel-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
for i in 0 1 2 3; do
    d="$T/proc/driver/nvidia/gpus/0000:$((i + 1))0:00.0"
    mkdir -p "$d"
    printf 'Model: \t\t Tesla T4\nGPU UUID: \t GPU-00000000-0000-0000-0000-00000000000%d\nDevice Minor: \t %d\n' "$i" "$i" \
        >"$d/information"
done
args=(--no-syslog --hpc-dir "$T/hpc" --gpustat-dir "$T/gpustat" --path.procfs "$T/proc")

export SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0-3
for job in 11 12 13; do
    SLURM_JOB_ID=$job "$JOBTEL" prolog --strict "${args[@]}"
done

# us DELTA: microseconds between two $EPOCHREALTIME values
us() { echo $(( ${2/./} - ${1/./} )); }

export SLURM_JOB_GPUS=0,1
: >"$T/prolog.us"
: >"$T/epilog.us"
for ((i = 0; i < N; i++)); do
    export SLURM_JOB_ID=$((100000 + i))
    t0=$EPOCHREALTIME
    "$JOBTEL" prolog "${args[@]}"
    t1=$EPOCHREALTIME
    "$JOBTEL" epilog "${args[@]}"
    t2=$EPOCHREALTIME
    us "$t0" "$t1" >>"$T/prolog.us"
    us "$t1" "$t2" >>"$T/epilog.us"
done

# The other jobs' lines must have survived every rewrite.
for f in 0 1 2 3; do
    [ "$(cat "$T/hpc/$f")" = $'11\n12\n13' ] || { echo "hpc/$f damaged: $(cat "$T/hpc/$f")" >&2; exit 1; }
done

t0=$EPOCHREALTIME
for ((i = 0; i < N; i++)); do /bin/true; done
t1=$EPOCHREALTIME
echo "dir $BENCH_DIR; fork+exec of /bin/true from bash: $(( $(us "$t0" "$t1") / N )) us average"

over=0
for cmd in prolog epilog; do
    read -r p50 p99 max < <(sort -n "$T/$cmd.us" | awk '{ v[NR] = $1 } END {
        i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
        print v[i50], v[i99], v[NR] }')
    awk -v c="$cmd" -v n="$N" -v a="$p50" -v b="$p99" -v m="$max" -v B="$BUDGET_US" 'BEGIN {
        printf "%s: N=%d p50=%.2f ms p99=%.2f ms max=%.2f ms (budget %.1f ms)\n", c, n, a / 1000, b / 1000, m / 1000, B / 1000 }'
    [ "$p99" -le "$BUDGET_US" ] || over=1
done
if [ "${CHECK:-0}" = 1 ] && [ "$over" = 1 ]; then
    echo "p99 over budget" >&2
    exit 1
fi
