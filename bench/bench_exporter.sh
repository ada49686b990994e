#!/bin/bash
# bench_exporter.sh - jobtel exporter (8 fake H100s) against Debian's prometheus-node-exporter,
# measured in the same run on the same machine: RSS and private memory, /metrics latency p50/p99 over
# N sequential scrapes, and wrk throughput. Run by hand after a build:  bench/bench_exporter.sh [build]
# Prints a table with jobtel/node_exporter ratios. Needs prometheus-node-exporter, wrk, curl.
set -euo pipefail
BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-1000}
DUR=${DUR:-10}
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
JP=$(free_port)
NP=$(free_port)
. "$SRC/bench/result.sh"
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait $p 2>/dev/null || true; done; rm -rf "$T"' EXIT

FAKE_NVML_SCENARIO="$SRC/tests/fake_nvml/scenarios/dgx_h100.json" "$SRC/$BUILD/jobtel" exporter \
    --web.listen-address=127.0.0.1:$JP --collector.gpu.nvml-library="$SRC/$BUILD/tests/fake_nvml/libnvidia-ml.so.1" \
    --no-collector.cgroup >"$T/jobtel.log" 2>&1 &
JPID=$!; PIDS+=($JPID)
prometheus-node-exporter --web.listen-address=127.0.0.1:$NP --no-collector.systemd >"$T/ne.log" 2>&1 &
NPID=$!; PIDS+=($NPID)
for i in $(seq 100); do curl -sf -o /dev/null 127.0.0.1:$JP/metrics && curl -sf -o /dev/null 127.0.0.1:$NP/metrics && break; sleep 0.1; done
sleep 1.5

latency() { # port -> "p50 p99 mean" in ms, one keep-alive connection (as Prometheus scrapes)
    /usr/bin/python3 "$SRC/bench/scrape_latency.py" "$1" "$N"
}
latency_newconn() { # port -> "p50 p99 mean" in ms, a new curl process and connection per scrape
    for i in $(seq "$N"); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$1/metrics"; done >"$T/lat"
    /usr/bin/python3 - "$T/lat" <<'PY'
import sys, statistics
v = sorted(float(x) * 1000 for x in open(sys.argv[1]))
p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print(f"{p(0.50):.3f} {p(0.99):.3f} {statistics.mean(v):.3f}")
PY
}
mem() { # pid -> "rss_kib private_dirty_kib"
    local rss pd
    rss=$(awk '/^VmRSS/ {print $2}' /proc/$1/status)
    pd=$(awk '/^Private_Dirty/ {print $2}' /proc/$1/smaps_rollup)
    echo "$rss $pd"
}
rps() { wrk -t2 -c4 -d"${DUR}s" "http://127.0.0.1:$1/metrics" | awk '/Requests\/sec/ {print $2}'; }

read -r jl50 jl99 jlm < <(latency $JP)
read -r nl50 nl99 nlm < <(latency $NP)
read -r jc50 jc99 jcm < <(latency_newconn $JP)
read -r nc50 nc99 ncm < <(latency_newconn $NP)
jr=$(rps $JP)
nr=$(rps $NP)
read -r jrss jpd < <(mem $JPID)
read -r nrss npd < <(mem $NPID)
jbytes=$(curl -s 127.0.0.1:$JP/metrics | wc -c)
nbytes=$(curl -s 127.0.0.1:$NP/metrics | wc -c)
jseries=$(curl -s 127.0.0.1:$JP/metrics | grep -vc '^#')
nseries=$(curl -s 127.0.0.1:$NP/metrics | grep -vc '^#')

printf '%-28s %14s %16s %10s\n' metric jobtel node_exporter ratio
row() { printf '%-28s %14s %16s %10s\n' "$1" "$2" "$3" "$(/usr/bin/python3 -c "print(f'{$2/$3:.3g}x')")"; }
row "RSS KiB (after load)" "$jrss" "$nrss"
row "Private_Dirty KiB" "$jpd" "$npd"
row "keep-alive p50 ms (N=$N)" "$jl50" "$nl50"
row "keep-alive p99 ms" "$jl99" "$nl99"
row "keep-alive mean ms" "$jlm" "$nlm"
row "new-conn curl p50 ms" "$jc50" "$nc50"
row "new-conn curl p99 ms" "$jc99" "$nc99"
row "wrk req/s (-t2 -c4 ${DUR}s)" "$jr" "$nr"
row "body bytes" "$jbytes" "$nbytes"
row "series" "$jseries" "$nseries"
bench_result rss_kib "$jrss" KiB "$nrss" node_exporter
bench_result private_dirty_kib "$jpd" KiB "$npd" node_exporter
bench_result scrape_keepalive_p50 "$jl50" ms "$nl50" node_exporter
bench_result scrape_keepalive_p99 "$jl99" ms "$nl99" node_exporter
bench_result scrape_newconn_p50 "$jc50" ms "$nc50" node_exporter
bench_result scrape_newconn_p99 "$jc99" ms "$nc99" node_exporter
bench_result throughput "$jr" req/s "$nr" node_exporter
bench_result series "$jseries" series "$nseries" node_exporter
