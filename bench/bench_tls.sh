#!/bin/bash
# bench_tls.sh - what TLS and basic auth cost a scrape and the daemon's memory: jobtel plain, jobtel
# with a web config (TLS 1.3, ECDSA P-256, a bcrypt cost-10 user), and Debian's
# prometheus-node-exporter with the same web-config file, in the same run. Per server: p50/p99 of N
# scrapes on one keep-alive connection (as Prometheus scrapes), of N scrapes each on a new connection
# (curl: a full handshake each), and RSS after them. Prints ratios jobtel/node_exporter.
# Run by hand after a build:  bench/bench_tls.sh [build]     Needs openssl, curl, prometheus-node-exporter.
set -euo pipefail
BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-300}
PY=/usr/bin/python3
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait $p 2>/dev/null || true; done; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$SRC/tests/e2e/tlscerts.sh"
make_ca ca
make_cert ca server 0x10 server
HASH=$($PY -W ignore -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prom: %s\n' \
    "$T/server.crt" "$T/server.key" "$HASH" >"$T/web.yml"

start_jobtel() { # name extra-args...
    local name=$1
    shift
    FAKE_NVML_SCENARIO="$SRC/tests/fake_nvml/scenarios/dgx_h100.json" "$SRC/$BUILD/jobtel" exporter \
        --web.listen-address=127.0.0.1:0 --collector.gpu.nvml-library="$SRC/$BUILD/tests/fake_nvml/libnvidia-ml.so.1" \
        --no-collector.cgroup "$@" >"$T/$name.log" 2>&1 &
    PIDS+=($!)
    eval "${name}_PID=$!"
    local i p=
    for i in $(seq 100); do
        p=$(sed -n 's/.*listening on .* (port \([0-9]*\)).*/\1/p' "$T/$name.log" 2>/dev/null | head -n1 || true)
        [ -n "$p" ] && break
        sleep 0.1
    done
    [ -n "$p" ] || fail "$name did not start: $(tail -n 3 "$T/$name.log")"
    eval "${name}_PORT=$p"
}
start_jobtel plain
start_jobtel tls --web.config.file="$T/web.yml"
NP=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus-node-exporter --web.listen-address=127.0.0.1:$NP --web.config.file="$T/web.yml" --no-collector.systemd >"$T/ne.log" 2>&1 &
NE_PID=$!
PIDS+=($NE_PID)
C=(curl -s --cacert "$T/ca.crt" -u prom:s3cret)
for i in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$plain_PORT/metrics" && "${C[@]}" -f -o /dev/null "https://localhost:$tls_PORT/metrics" &&
        "${C[@]}" -f -o /dev/null "https://localhost:$NP/metrics" && break
    sleep 0.1
done

newconn() { # url curl-args... : N scrapes, a new connection each -> "p50 p99" ms
    local url=$1
    shift
    for i in $(seq "$N"); do curl -s -o /dev/null -w '%{time_total}\n' "$@" "$url"; done | $PY -c '
import sys
l = sorted(float(x) * 1000 for x in sys.stdin)
print("%.2f %.2f" % (l[len(l) // 2], l[min(len(l) - 1, int(0.99 * len(l)))]))'
}
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

KA_PLAIN=$($PY "$SRC/bench/scrape_latency.py" "$plain_PORT" "$N")
KA_TLS=$($PY "$SRC/bench/scrape_latency_tls.py" "$tls_PORT" "$N" "$T/ca.crt" prom s3cret)
KA_NE=$($PY "$SRC/bench/scrape_latency_tls.py" "$NP" "$N" "$T/ca.crt" prom s3cret)
NC_PLAIN=$(newconn "http://127.0.0.1:$plain_PORT/metrics")
NC_TLS=$(newconn "https://localhost:$tls_PORT/metrics" --cacert "$T/ca.crt" -u prom:s3cret)
NC_NE=$(newconn "https://localhost:$NP/metrics" --cacert "$T/ca.crt" -u prom:s3cret)
R_PLAIN=$(rss "$plain_PID") R_TLS=$(rss "$tls_PID") R_NE=$(rss "$NE_PID")
echo "N=$N scrapes each; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %-22s %-22s %s\n' server "keep-alive p50/p99 ms" "new conn p50/p99 ms" "RSS MiB"
printf '%-28s %-22s %-22s %s\n' "jobtel plain" "$(echo $KA_PLAIN | cut -d' ' -f1-2)" "$NC_PLAIN" "$R_PLAIN"
printf '%-28s %-22s %-22s %s\n' "jobtel TLS+auth" "$(echo $KA_TLS | cut -d' ' -f1-2)" "$NC_TLS" "$R_TLS"
printf '%-28s %-22s %-22s %s\n' "node_exporter TLS+auth" "$(echo $KA_NE | cut -d' ' -f1-2)" "$NC_NE" "$R_NE"
$PY - "$KA_TLS" "$KA_NE" "$NC_TLS" "$NC_NE" "$R_TLS" "$R_NE" "$KA_PLAIN" <<'PY'
import sys
kt, kn, nt, nn = (list(map(float, a.split())) for a in sys.argv[1:5])
rt, rn = float(sys.argv[5]), float(sys.argv[6])
kp = list(map(float, sys.argv[7].split()))
print("jobtel TLS / node_exporter TLS: keep-alive p50 %.2fx p99 %.2fx; new conn p50 %.2fx p99 %.2fx; RSS %.2fx"
      % (kt[0] / kn[0], kt[1] / kn[1], nt[0] / nn[0], nt[1] / nn[1], rt / rn))
print("jobtel TLS / jobtel plain, keep-alive: p50 %.2fx p99 %.2fx" % (kt[0] / kp[0], kt[1] / kp[1]))
PY
. "$SRC/bench/result.sh"
bench_result tls_keepalive_p50 "$(cut -d' ' -f1 <<<"$KA_TLS")" ms "$(cut -d' ' -f1 <<<"$KA_NE")" node_exporter_tls
bench_result tls_keepalive_p99 "$(cut -d' ' -f2 <<<"$KA_TLS")" ms "$(cut -d' ' -f2 <<<"$KA_NE")" node_exporter_tls
bench_result tls_newconn_p50 "$(cut -d' ' -f1 <<<"$NC_TLS")" ms "$(cut -d' ' -f1 <<<"$NC_NE")" node_exporter_tls
bench_result tls_newconn_p99 "$(cut -d' ' -f2 <<<"$NC_TLS")" ms "$(cut -d' ' -f2 <<<"$NC_NE")" node_exporter_tls
bench_result tls_rss "$R_TLS" MiB "$R_NE" node_exporter_tls
