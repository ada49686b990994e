#!/bin/bash
# bench_idle_cpu.sh - the whole daemon's collection CPU at idle, as % of one core: 8 fake GPUs (the DGX H100
# scenario of the fake NVML) and 1,000 job/step cgroups (a v2 tree on tmpfs, 250 jobs; 1,250 cgroups with
# their task cgroups), nobody scraping.
#
# Usage: bench/bench_idle_cpu.sh [BUILD_DIR] [SECONDS]     (default: build, 60)
# CPU is the daemon's utime + stime from /proc/<pid>/stat over SECONDS, after the first collection. Three
# runs in the same invocation show where it goes: the whole daemon, GPU collection alone
# (--no-collector.cgroup) and cgroup collection alone (--no-collector.gpu). EXTRA="..." adds daemon flags
# to every run (e.g. EXTRA=--collector.cgroup.interval=1s to see the cost at the old 1 s cadence).
# PERF=1 also records a 20 s perf profile of the whole daemon and prints its top symbols.
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
read -r -a EXTRA_ARGS <<<"${EXTRA:-}"

TMPBASE=/tmp
[ -w /dev/shm ] && TMPBASE=/dev/shm
T=$(mktemp -d "$TMPBASE/jobtel-bench-idle.XXXXXX")
DAEMON=
cleanup() {
    if [ -n "$DAEMON" ]; then
        kill -TERM "$DAEMON" 2>/dev/null || true
        wait "$DAEMON" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

. "$SRC/bench/cgroup_tree.sh"
. "$SRC/bench/result.sh"
build_v2_fixture "$T/cg" 250
mkdir -p "$T/proc"
TICK=$(getconf CLK_TCK)

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# measure NAME FLAGS... : prints the daemon's CPU over DUR seconds as % of one core.
measure() {
    local name=$1 port ok=0 t0 t1 c0 c1
    shift
    for _ in 1 2 3; do
        port=$(free_port)
        FAKE_NVML_SCENARIO=$SCENARIO "$JOBTEL" exporter --web.listen-address="127.0.0.1:$port" -n \
            --collector.gpu.nvml-library="$LIB" --path.cgroupfs="$T/cg" --path.procfs="$T/proc" \
            --path.accounting="$T/acct-$name" --log.level=warn "${EXTRA_ARGS[@]}" "$@" >"$T/$name.log" 2>&1 &
        DAEMON=$!
        for _ in $(seq 200); do
            if curl -sf -o "$T/$name.prom" "http://127.0.0.1:$port/metrics"; then ok=1; break; fi
            kill -0 "$DAEMON" 2>/dev/null || break
            sleep 0.05
        done
        [ "$ok" = 1 ] && break
        kill -TERM "$DAEMON" 2>/dev/null || true
        wait "$DAEMON" 2>/dev/null || true
        DAEMON=
    done
    [ "$ok" = 1 ] || { cat "$T/$name.log" >&2; echo "daemon never served metrics" >&2; exit 1; }
    sleep 2 # past start-up: the first collections, the XID watcher's set-up
    c0=$(cpu_ticks "$DAEMON")
    t0=$(date +%s.%N)
    if [ "${PERF:-0}" = 1 ] && [ "$name" = all ] && command -v perf >/dev/null; then
        perf record -q -g -o "$T/perf.data" -p "$DAEMON" -- sleep 20 >/dev/null 2>&1 || true
        sleep $((DUR > 20 ? DUR - 20 : 0))
    else
        sleep "$DUR"
    fi
    c1=$(cpu_ticks "$DAEMON")
    t1=$(date +%s.%N)
    kill -TERM "$DAEMON"
    wait "$DAEMON" || true
    DAEMON=
    local gpus jobs
    gpus=$(grep -c '^DCGM_FI_DEV_GPU_TEMP{' "$T/$name.prom" || true)
    jobs=$(grep -c '^cgroup_cpu_total_seconds{' "$T/$name.prom" || true)
    awk -v n="$name" -v a="$c0" -v b="$c1" -v hz="$TICK" -v t0="$t0" -v t1="$t1" -v g="$gpus" -v j="$jobs" \
        'BEGIN { printf "%-12s %5.2f %% of one core  (%.2f s CPU in %.1f s; %d GPUs, %d cgroups exported)\n",
                 n, (b - a) / hz / (t1 - t0) * 100, (b - a) / hz, t1 - t0, g, j }'
    bench_result "idle_cpu_$name" "$(awk -v a="$c0" -v b="$c1" -v hz="$TICK" -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%.3f", (b - a) / hz / (t1 - t0) * 100 }')" %core
}

echo "jobtel idle CPU benchmark ($(nproc) CPUs, $(uname -r), ${DUR}s per run${EXTRA:+, extra flags: $EXTRA})"
measure all
measure gpu-only --no-collector.cgroup
measure cgroup-only --no-collector.gpu
if [ -f "$T/perf.data" ]; then
    echo "--- top symbols of the whole daemon (perf, 20 s) ---"
    perf report -i "$T/perf.data" --no-children --sort dso,sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25
fi
