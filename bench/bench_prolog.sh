#!/bin/bash
# bench_prolog.sh - wall time of `jobtel prolog` as slurmd pays it (fork+exec included), against a bash
# prolog that writes the same 8 files with builtins, measured in the same run.
#
# Usage: bench/bench_prolog.sh [JOBTEL] [N]    (or env JOBTEL, N; CHECK=1 exits 1 if p50 > 1.5x the peer)
# An 8-GPU job on an 8-GPU node, on tmpfs (compute nodes keep /run there), with 3 other jobs sharing
# every GPU so each write is a real read-modify-write. The two prologs run alternately, N times each,
# so machine load falls on both alike:
#   jobtel   `jobtel prolog --hpc-dir=D --gpustat-dir=` : 8 files, lock, read-modify-write, rename
#   bash     `bash prolog.sh` : `echo "$SLURM_JOB_ID" >>"D/$g"` for each of the 8 GPUs (no lock, no
#            rename: the floor any prolog that touches 8 files pays)
# Also shown, not compared: the default configuration (dcgm-exporter and gpustat directories, 24 files,
# the driver's procfs table read for UUIDs) and `jobtel epilog`. Timing uses bash's $EPOCHREALTIME.
set -euo pipefail

JOBTEL=${1:-${JOBTEL:-$(dirname "$0")/../build/jobtel}}
N=${2:-${N:-1000}}
TARGET=1.5
NGPUS=8
[ -x "$JOBTEL" ] || { echo "usage: $0 [path/to/jobtel] [N]" >&2; exit 2; }

BENCH_DIR=${BENCH_DIR:-/dev/shm}
[ -d "$BENCH_DIR" ] && [ -w "$BENCH_DIR" ] || BENCH_DIR=/tmp
T=$(mktemp -d "$BENCH_DIR/jobtel-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
for ((i = 0; i < NGPUS; i++)); do
    d="$T/proc/driver/nvidia/gpus/0000:$((i + 1))0:00.0"
    mkdir -p "$d"
    printf 'Model: \t\t Tesla T4\nGPU UUID: \t GPU-00000000-0000-0000-0000-00000000000%d\nDevice Minor: \t %d\n' "$i" "$i" \
        >"$d/information"
done
hpc_only=(--no-syslog --hpc-dir "$T/hpc" --gpustat-dir "")
both=(--no-syslog --hpc-dir "$T/hpc2" --gpustat-dir "$T/gpustat" --path.procfs "$T/proc")
cat >"$T/prolog.sh" <<'EOF'
for g in ${SLURM_JOB_GPUS//,/ }; do
    echo "$SLURM_JOB_ID" >>"$BASH_HPC_DIR/$g"
done
EOF
mkdir -p "$T/bash-hpc"
BASH_BIN=$(command -v bash)

export SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0,1,2,3,4,5,6,7
for job in 11 12 13; do
    SLURM_JOB_ID=$job "$JOBTEL" prolog --strict "${hpc_only[@]}"
    SLURM_JOB_ID=$job "$JOBTEL" prolog --strict "${both[@]}"
done
shared=$'11\n12\n13\n'

# us T0 T1 : microseconds between two $EPOCHREALTIME values
us() { echo $((${2/./} - ${1/./})); }

for f in jobtel bash both epilog; do : >"$T/$f.us"; done
for ((i = 0; i < N; i++)); do
    export SLURM_JOB_ID=$((100000 + i))
    # The bash peer starts each round from the same 3-line files as jobtel (reset untimed).
    for ((g = 0; g < NGPUS; g++)); do printf '%s' "$shared" >"$T/bash-hpc/$g"; done
    t0=$EPOCHREALTIME
    "$JOBTEL" prolog "${hpc_only[@]}"
    t1=$EPOCHREALTIME
    BASH_HPC_DIR=$T/bash-hpc "$BASH_BIN" "$T/prolog.sh"
    t2=$EPOCHREALTIME
    "$JOBTEL" prolog "${both[@]}"
    t3=$EPOCHREALTIME
    "$JOBTEL" epilog "${both[@]}"
    t4=$EPOCHREALTIME
    "$JOBTEL" epilog "${hpc_only[@]}" # untimed: keeps the files at 3 jobs
    us "$t0" "$t1" >>"$T/jobtel.us"
    us "$t1" "$t2" >>"$T/bash.us"
    us "$t2" "$t3" >>"$T/both.us"
    us "$t3" "$t4" >>"$T/epilog.us"
done

# Both wrote the same content; the other jobs' lines survived every jobtel rewrite.
for ((g = 0; g < NGPUS; g++)); do
    [ "$(cat "$T/bash-hpc/$g")" = "${shared}$((100000 + N - 1))" ] || { echo "bash-hpc/$g wrong" >&2; exit 1; }
    [ "$(cat "$T/hpc/$g")" = "${shared%$'\n'}" ] || { echo "hpc/$g damaged: $(cat "$T/hpc/$g")" >&2; exit 1; }
    [ "$(cat "$T/hpc2/$g")" = "${shared%$'\n'}" ] || { echo "hpc2/$g damaged" >&2; exit 1; }
done

# pct FILE : "p50 p99" in microseconds
pct() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
        print v[i50], v[i99] }'
}
read -r j50 j99 < <(pct "$T/jobtel.us")
read -r b50 b99 < <(pct "$T/bash.us")
read -r d50 d99 < <(pct "$T/both.us")
read -r e50 e99 < <(pct "$T/epilog.us")
echo "dir $BENCH_DIR, N=$N, $NGPUS GPUs, 3 other jobs per GPU; $(ldd "$JOBTEL" | grep -c '=>') shared libraries in jobtel"
awk -v j50="$j50" -v j99="$j99" -v b50="$b50" -v b99="$b99" -v d50="$d50" -v d99="$d99" -v e50="$e50" \
    -v e99="$e99" -v t="$TARGET" 'BEGIN {
    printf "jobtel prolog, 8 files:          p50 %.2f ms  p99 %.2f ms\n", j50 / 1000, j99 / 1000
    printf "bash prolog, 8 files (builtins): p50 %.2f ms  p99 %.2f ms\n", b50 / 1000, b99 / 1000
    printf "ratio jobtel/bash:               p50 %.2fx   p99 %.2fx   (target p50 <= %.1fx)\n", j50 / b50, j99 / b99, t
    printf "jobtel prolog, both dirs (24 files, procfs): p50 %.2f ms  p99 %.2f ms\n", d50 / 1000, d99 / 1000
    printf "jobtel epilog, both dirs:                    p50 %.2f ms  p99 %.2f ms\n", e50 / 1000, e99 / 1000 }'
. "$(dirname "$0")/result.sh"
ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
bench_result prolog_p50 "$(ms "$j50")" ms "$(ms "$b50")" bash_prolog
bench_result prolog_p99 "$(ms "$j99")" ms "$(ms "$b99")" bash_prolog
bench_result prolog_both_dirs_p50 "$(ms "$d50")" ms
bench_result prolog_both_dirs_p99 "$(ms "$d99")" ms
bench_result epilog_both_dirs_p50 "$(ms "$e50")" ms
bench_result epilog_both_dirs_p99 "$(ms "$e99")" ms
if [ "${CHECK:-0}" = 1 ] && ! awk -v a="$j50" -v b="$b50" -v t="$TARGET" 'BEGIN { exit !(a <= t * b) }'; then
    echo "p50 over ${TARGET}x the bash prolog" >&2
    exit 1
fi
