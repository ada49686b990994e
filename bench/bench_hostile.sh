#!/bin/bash
# bench_hostile.sh - /metrics latency while a local user attacks the port, jobtel against Debian's
# prometheus-node-exporter under the same attack in the same run. The attack is the test's
# (tests/e2e/hostile_http.py): 1,000 connections from 127.0.0.1 and 127.0.0.2 trickling a header line
# every 3 s and reopened when closed, plus 500-argument queries and half requests every 0.5 s.
# During it, N scrapes (a new curl connection each, 10 s timeout, 50 ms apart) are timed; also
# measured without the attack. Prints answered counts and p50/p99/max, and jobtel/node_exporter ratios.
# Run by hand after a build:  bench/bench_hostile.sh [build]     Needs prometheus-node-exporter, curl.
set -euo pipefail
BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-200}
PY=/usr/bin/python3
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait $p 2>/dev/null || true; done; rm -rf "$T"' EXIT

FAKE_NVML_SCENARIO="$SRC/tests/fake_nvml/scenarios/dgx_h100.json" "$SRC/$BUILD/jobtel" exporter \
    --web.listen-address=127.0.0.1:0 --collector.gpu.nvml-library="$SRC/$BUILD/tests/fake_nvml/libnvidia-ml.so.1" \
    --no-collector.cgroup >"$T/jobtel.log" 2>&1 &
PIDS+=($!)
NP=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus-node-exporter --web.listen-address=127.0.0.1:$NP --no-collector.systemd >"$T/ne.log" 2>&1 &
PIDS+=($!)
JP=
for i in $(seq 100); do
    JP=$(sed -n 's/.*listening on .* (port \([0-9]*\)).*/\1/p' "$T/jobtel.log" 2>/dev/null | head -n1 || true)
    [ -n "$JP" ] && curl -sf -o /dev/null 127.0.0.1:$JP/metrics && curl -sf -o /dev/null 127.0.0.1:$NP/metrics && break
    sleep 0.1
done

scrapes() { # port file : N timed scrapes, "code seconds" per line
    : >"$2"
    for i in $(seq "$N"); do
        curl -s --max-time 10 -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$1/metrics" >>"$2" || echo "000 10" >>"$2"
        sleep 0.05
    done
}
stats() { # file -> "answered p50_ms p99_ms max_ms"
    $PY - "$1" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ok = sum(r[0] == "200" for r in rows)
v = sorted(float(r[1]) * 1000 for r in rows)
p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print(f"{ok}/{len(rows)} {p(0.5):.2f} {p(0.99):.2f} {v[-1]:.2f}")
PY
}
attacked() { # port file
    rm -f "$T/ready" "$T/stop"
    $PY "$SRC/tests/e2e/hostile_http.py" "$1" "$T/ready" "$T/report-$1.json" "$T/stop" --conns 1000 \
        --sources 127.0.0.1,127.0.0.2 --max-seconds 300 &
    local a=$!
    PIDS+=($a)
    for i in $(seq 300); do [ -s "$T/ready" ] && break; sleep 0.1; done
    scrapes "$1" "$2"
    touch "$T/stop"
    wait $a || true
}

scrapes $JP "$T/j-calm"
scrapes $NP "$T/n-calm"
attacked $JP "$T/j-attack"
attacked $NP "$T/n-attack"

printf '%-34s %22s %22s\n' "N=$N scrapes, new connection each" jobtel node_exporter
row() {
    local a b
    a=$(stats "$2")
    b=$(stats "$3")
    printf '%-34s %22s %22s\n' "$1" "$a" "$b"
}
echo "(answered  p50 ms  p99 ms  max ms)"
row "no attack" "$T/j-calm" "$T/n-calm"
row "during the attack" "$T/j-attack" "$T/n-attack"
read -r _ _ j99 _ < <(stats "$T/j-attack")
read -r _ _ n99 _ < <(stats "$T/n-attack")
echo "p99 during the attack, jobtel/node_exporter: $($PY -c "print(f'{$j99/$n99:.3g}x')")"
. "$SRC/bench/result.sh"
read -r _ _ jc99 _ < <(stats "$T/j-calm")
read -r _ _ nc99 _ < <(stats "$T/n-calm")
bench_result scrape_calm_p99 "$jc99" ms "$nc99" node_exporter
bench_result scrape_attack_p99 "$j99" ms "$n99" node_exporter
bench_result scrape_attack_answered "$(stats "$T/j-attack" | cut -d/ -f1)" of_$N "$(stats "$T/n-attack" | cut -d/ -f1)" node_exporter
