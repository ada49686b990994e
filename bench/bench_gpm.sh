#!/bin/bash
# bench_gpm.sh - what the GPM profiling path costs: the daemon's RSS and collection CPU on 8 fake H100s (the
# DGX H100 scenario of the fake NVML, with every GPM value the exporter reads) with GPM on, against the same
# daemon, scenario and GPUs with --no-collector.gpu.gpm, in the same invocation.
#
# Usage: bench/bench_gpm.sh [BUILD_DIR] [SECONDS] [ROUNDS]     (default: build, 60, 2)
# "on": each 1 s collection takes 8 GPM samples and 8 metric requests (13 metrics each) and renders the
# profiling series of dcgm-exporter's default counters and Princeton's GPM names; "off": no GPM call at all.
# Runs alternate (off, on, off, on...) so machine load drifts over both alike. CPU is utime + stime from
# /proc/<pid>/stat over SECONDS after start-up (no scrape meanwhile: collection only); RSS is VmRSS at the
# end and VmHWM. Targets (issue 13): GPM adds <= 1 MiB RSS and <= 0.2 % of one core. CHECK=1 exits 1 when
# the means miss them.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
DUR=${2:-60}
ROUNDS=${3:-2}
JOBTEL=$BUILD/jobtel
LIB=$BUILD/tests/fake_nvml/libnvidia-ml.so.1
BASE=$SRC/tests/fake_nvml/scenarios/dgx_h100.json
PY=/usr/bin/python3
for f in "$JOBTEL" "$LIB" "$BASE"; do
    [ -e "$f" ] || { echo "missing $f: build first" >&2; exit 2; }
done
T=$(mktemp -d /tmp/jobtel-bench-gpm.XXXXXX)
DAEMON=
cleanup() {
    if [ -n "$DAEMON" ]; then
        kill -TERM "$DAEMON" 2>/dev/null || true
        wait "$DAEMON" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

"$PY" - "$BASE" "$T/gpm.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s.setdefault("values", {}).update({
    "gpm_graphics_util": 85, "gpm_sm_util": {"timeline": [[0, 20], [30, 80]], "period": 60},
    "gpm_sm_occupancy": 40, "gpm_integer_util": 10, "gpm_any_tensor_util": 55, "gpm_dram_bw_util": 33,
    "gpm_fp64_util": 1, "gpm_fp32_util": 20, "gpm_fp16_util": 12, "gpm_pcie_tx_mibps": 1500,
    "gpm_pcie_rx_mibps": 2500, "gpm_nvlink_total_tx_mibps": 300, "gpm_nvlink_total_rx_mibps": 200})
json.dump(s, open(sys.argv[2], "w"))
PY
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# measure NAME : prints "NAME cpu% rss_kib hwm_kib profiling_series".
measure() {
    local name=$1 port ok=0 c0 c1 t0 t1 rss hwm switch=--collector.gpu.gpm
    [ "$name" = off ] && switch=--no-collector.gpu.gpm
    FAKE_NVML_SCENARIO=$T/gpm.json "$JOBTEL" exporter -a 127.0.0.1:0 -n --collector.gpu.nvml-library="$LIB" \
        --no-collector.cgroup --path.accounting="$T/acct-$name" "$switch" >"$T/$name.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 200); do
        port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/$name.log" | head -n1)
        if [ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; then ok=1; break; fi
        kill -0 "$DAEMON" 2>/dev/null || break
        sleep 0.05
    done
    [ "$ok" = 1 ] || { cat "$T/$name.log" >&2; exit 1; }
    sleep 3 # past start-up, and GPM past its first (window-less) sample
    c0=$(cpu_ticks "$DAEMON")
    t0=$(date +%s.%N)
    sleep "$DUR"
    c1=$(cpu_ticks "$DAEMON")
    t1=$(date +%s.%N)
    rss=$(kib "$DAEMON" VmRSS)
    hwm=$(kib "$DAEMON" VmHWM)
    curl -sf -o "$T/$name.prom" "http://127.0.0.1:$port/metrics"
    kill -TERM "$DAEMON"
    wait "$DAEMON" || true
    DAEMON=
    awk -v n="$name" -v a="$c0" -v b="$c1" -v hz="$TICK" -v t0="$t0" -v t1="$t1" -v r="$rss" -v h="$hwm" \
        -v p="$(grep -c '^DCGM_FI_PROF_' "$T/$name.prom" || true)" \
        'BEGIN { printf "%-8s cpu %.3f %% of one core  rss %d KiB  hwm %d KiB  (%d DCGM_FI_PROF_ series)\n",
                 n, (b - a) / hz / (t1 - t0) * 100, r, h, p }'
}

echo "jobtel GPM cost ($(nproc) CPUs, $(uname -r), 8 GPUs, ${DUR}s per run, $ROUNDS rounds)"
for _ in $(seq "$ROUNDS"); do
    measure off
    measure on
done | tee "$T/out"
awk -v check="${CHECK:-0}" '{ s[$1] += $3; r[$1] += $9; n[$1]++ }
     END { dc = s["on"] / n["on"] - s["off"] / n["off"]; dr = r["on"] / n["on"] - r["off"] / n["off"]
           printf "mean: off %.3f %% / %.0f KiB, on %.3f %% / %.0f KiB: GPM adds %+.3f %% of a core, %+.0f KiB RSS\n",
               s["off"] / n["off"], r["off"] / n["off"], s["on"] / n["on"], r["on"] / n["on"], dc, dr
           ok = dc <= 0.2 && dr <= 1024
           printf "targets (<= 0.2 %% of a core, <= 1024 KiB): %s\n", ok ? "met" : "MISSED"
           exit check == 1 && !ok }' "$T/out"
. "$SRC/bench/result.sh"
awk '{ s[$1] += $3; r[$1] += $9; n[$1]++ } END {
     printf "%.3f %.3f %.0f %.0f\n", s["on"] / n["on"], s["off"] / n["off"], r["on"] / n["on"], r["off"] / n["off"] }' \
    "$T/out" | { read -r cw cwo rw rwo; bench_result gpm_cpu "$cw" %core "$cwo" without_gpm; bench_result gpm_rss "$rw" KiB "$rwo" without_gpm; }
