#!/bin/bash
# bench_accounting.sh - what the per-job accumulators cost: daemon RSS and collection CPU with 64 concurrent
# jobs on 8 fake GPUs (8 per GPU, mapping files) against the same daemon with no jobs, and against 64 jobs
# with --no-collector.gpu.accounting, all three running at the same time (same machine load).
#
# Usage: bench/bench_accounting.sh [BUILD_DIR] [SECONDS]     (default: build, 60)
# CPU is each daemon's utime + stime from /proc/<pid>/stat over SECONDS after its first collection, as %
# of one core; RSS is VmRSS at the end; the GPU collection's own duration is the mean of
# jobtel_scrape_collector_duration_seconds{collector="gpu"} over scrapes every 2 s.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
DUR=${2:-60}
JOBTEL=$BUILD/jobtel
LIB=$BUILD/tests/fake_nvml/libnvidia-ml.so.1
SCENARIO=$SRC/tests/fake_nvml/scenarios/dgx_h100.json
PY=/usr/bin/python3
for f in "$JOBTEL" "$LIB" "$SCENARIO"; do
    [ -e "$f" ] || { echo "missing $f: build first" >&2; exit 2; }
done
T=$(mktemp -d /tmp/jobtel-bench-acct.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/jobs" "$T/nojobs" "$T/proc"
for g in 0 1 2 3 4 5 6 7; do
    for j in 0 1 2 3 4 5 6 7; do echo $((100000 + g * 8 + j)); done >"$T/jobs/$g"
done
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)

declare -A PORT PID
start() {
    local name=$1
    shift
    PORT[$name]=$(free_port)
    FAKE_NVML_SCENARIO=$SCENARIO "$JOBTEL" exporter --web.listen-address="127.0.0.1:${PORT[$name]}" -n \
        --collector.gpu.nvml-library="$LIB" --no-collector.cgroup --path.procfs="$T/proc" --slurm.gpustat-dir= \
        --path.accounting="$T/state-$name" --log.level=warn "$@" >"$T/$name.log" 2>&1 &
    PID[$name]=$!
    PIDS+=("$!")
}
start nojobs --hpc-job-mapping-dir="$T/nojobs"
start jobs64 --hpc-job-mapping-dir="$T/jobs"
start jobs64_noacct --hpc-job-mapping-dir="$T/jobs" --no-collector.gpu.accounting
for n in nojobs jobs64 jobs64_noacct; do
    for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:${PORT[$n]}/metrics" && break; sleep 0.1; done
done
curl -sf "http://127.0.0.1:${PORT[jobs64]}/metrics" | grep -c '^jobtel_job_gpu_allocated_seconds_total' >"$T/pairs"
declare -A C0 DSUM DN
for n in nojobs jobs64 jobs64_noacct; do C0[$n]=$(cpu_ticks "${PID[$n]}"); DSUM[$n]=0; DN[$n]=0; done
end=$((SECONDS + DUR))
while [ "$SECONDS" -lt "$end" ]; do
    for n in nojobs jobs64 jobs64_noacct; do
        d=$(curl -sf "http://127.0.0.1:${PORT[$n]}/metrics" | awk '/^jobtel_scrape_collector_duration_seconds\{collector="gpu"\}/ { print $2 }')
        DSUM[$n]=$(awk -v a="${DSUM[$n]}" -v b="${d:-0}" 'BEGIN { print a + b }')
        DN[$n]=$((DN[$n] + 1))
    done
    sleep 2
done
echo "64 jobs on 8 GPUs ($(cat "$T/pairs") (job, GPU) pairs accounted), ${DUR} s, 1 s collections, three daemons side by side:"
printf '%-16s %10s %10s %22s\n' daemon "CPU %core" "RSS KiB" "gpu collection ms"
. "$SRC/bench/result.sh"
declare -A RCPU RRSS
for n in nojobs jobs64 jobs64_noacct; do
    c1=$(cpu_ticks "${PID[$n]}")
    RCPU[$n]=$(awk -v a="${C0[$n]}" -v b="$c1" -v t="$TICK" -v d="$DUR" 'BEGIN { printf "%.3f", 100 * (b - a) / t / d }')
    RRSS[$n]=$(rss_kib "${PID[$n]}")
    printf '%-16s %10.2f %10d %22.3f\n' "$n" "$(awk -v a="${C0[$n]}" -v b="$c1" -v t="$TICK" -v d="$DUR" 'BEGIN { print 100 * (b - a) / t / d }')" \
        "$(rss_kib "${PID[$n]}")" "$(awk -v s="${DSUM[$n]}" -v n="${DN[$n]}" 'BEGIN { print 1000 * s / n }')"
done
bench_result accounting_cpu_jobs64 "${RCPU[jobs64]}" %core "${RCPU[nojobs]}" no_jobs
bench_result accounting_cpu_jobs64_noacct "${RCPU[jobs64_noacct]}" %core "${RCPU[nojobs]}" no_jobs
bench_result accounting_rss_jobs64 "${RRSS[jobs64]}" KiB "${RRSS[nojobs]}" no_jobs
