# lib.sh - shared helpers for the end-to-end tests (sourced, not run).
#
# Every daemon a test starts is started from the test's own shell and stopped with kill + wait in the
# same shell (see shared notes: a daemon reaped from elsewhere lingers as a zombie). `cleanup` runs
# on any exit, so a failing test leaves nothing behind.
set -euo pipefail

: "${JOBTEL:?JOBTEL must point at the built jobtel binary}"
: "${SRC:?SRC must point at the repository}"
PY=/usr/bin/python3 # Debian's python: the one that sees python3-prometheus-client
T=$(mktemp -d /tmp/jobtel-e2e.XXXXXX)
PIDS=()

cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        echo "--- logs from $T ---"
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            echo "=== $f"; tail -n 40 "$f"
        done
    fi
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

pass() {
    echo "PASS: $*"
}

# start_bg NAME CMD... : runs CMD in the background with its output in $T/NAME.log; sets LAST_PID.
start_bg() {
    local name=$1
    shift
    "$@" >"$T/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# stop_pid PID : TERM and wait; returns the exit status.
stop_pid() {
    local pid=$1 rc=0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    local keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
    return "$rc"
}

# wait_http URL [SECONDS] : polls until URL answers (any HTTP status).
wait_http() {
    local url=$1 secs=${2:-10} i
    for ((i = 0; i < secs * 20; i++)); do
        if curl -s -o /dev/null "$url"; then return 0; fi
        sleep 0.05
    done
    fail "$url did not answer within ${secs}s"
}

# wait_for SECONDS CMD... : polls CMD until it succeeds.
wait_for() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}

# start_exporter PORT ARGS... : starts jobtel exporter on 127.0.0.1:PORT and waits for it.
start_exporter() {
    local port=$1
    shift
    start_bg "exporter-$port" "$JOBTEL" exporter --web.listen-address="127.0.0.1:$port" "$@"
    EXPORTER_PID=$LAST_PID
    # 200 only once every collector has reported (before that the daemon answers 503).
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" || fail "exporter on :$port never served metrics"
}

# scrape PORT FILE : one /metrics body into FILE.
scrape() {
    curl -sf "http://127.0.0.1:$1/metrics" -o "$2" || fail "scrape of :$1 failed"
}

# validate FILE : promtool and prometheus_client both accept it, and no series is duplicated.
# promtool's lint (exit 3) is allowed only for what the compatibility contracts force on us: the
# DCGM_FI_* names (upper case, counters without _total) and dcgm-exporter's camelCase labels
# (modelName, UUID...). Any other lint finding, e.g. a jobtel_* metric without HELP, fails.
validate() {
    local f=$1 out rc=0
    out=$(promtool check metrics <"$f" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
        echo "$out" >&2
        fail "promtool check metrics rejected $f (rc $rc)"
    fi
    local bad
    bad=$(echo "$out" | grep -v '^$' | grep -v -E "^DCGM_(FI|EXP)_[A-Z0-9_]+ (counter metrics should have \"_total\" suffix|metric name should not include type 'counter'|label names should be written in 'snake_case' not 'camelCase')$" \
        | grep -v -E "^(jobtel_gpu_up|jobtel_gpu_xid_errors_total|nvidia_gpu_[a-z_]+) label names should be written in 'snake_case' not 'camelCase'$" \
        | grep -v -E "^nvidia_gpu_job(Id|Uid) (metric|label) names should be written in 'snake_case' not 'camelCase'$" \
        | grep -v -E "^nvidia_gpu_(pcie|nvlink_total)_(tx|rx)_per_sec metric names should not contain abbreviated units$" \
        | grep -v -E "^cgroup_memory_fail_count (non-histogram and non-summary metrics should not have \"_count\" suffix)$" || true)
    if [ -n "$bad" ]; then
        echo "$bad" >&2
        fail "promtool lint findings in $f beyond the compatibility names"
    fi
    "$PY" "$SRC/tests/e2e/promtext.py" validate "$f" || fail "prometheus_client parser rejected $f"
}

# value FILE 'name{a="b",...}' : prints the sample's value (labels in any order; exact label set).
value() {
    "$PY" "$SRC/tests/e2e/promtext.py" value "$1" "$2"
}

# expect_value FILE SERIES WANT : the sample exists and equals WANT numerically.
expect_value() {
    local got
    got=$(value "$1" "$2") || fail "series $2 missing"
    "$PY" -c "import sys; sys.exit(0 if abs(float('$got') - float('$3')) < 1e-9 * max(1, abs(float('$3'))) else 1)" \
        || fail "series $2 = $got, want $3"
}

# expect_absent FILE SERIES : no such sample.
expect_absent() {
    if value "$1" "$2" >/dev/null 2>&1; then fail "series $2 should be absent"; fi
}

# count_series FILE NAME : number of samples of metric NAME.
count_series() {
    "$PY" "$SRC/tests/e2e/promtext.py" count "$1" "$2"
}

# --- Prometheus -------------------------------------------------------------------------------------

# start_prometheus PORT TARGET... : a real Prometheus scraping each TARGET every second.
start_prometheus() {
    local port=$1
    shift
    mkdir -p "$T/prom"
    {
        echo "global:"
        echo "  scrape_interval: 1s"
        echo "  evaluation_interval: 1s"
        echo "scrape_configs:"
        echo "  - job_name: jobtel"
        echo "    scrape_interval: 1s"
        echo "    scrape_timeout: 1s"
        echo "    static_configs:"
        echo "      - targets: [$(printf "'%s'," "$@" | sed 's/,$//')]"
    } >"$T/prom/prometheus.yml"
    promtool check config "$T/prom/prometheus.yml" >/dev/null || fail "bad prometheus config"
    start_bg prometheus prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
        --web.listen-address="127.0.0.1:$port" --log.level=warn
    PROM_PID=$LAST_PID
    PROM_PORT=$port
    wait_for 10 curl -sf "http://127.0.0.1:$port/-/ready" || fail "prometheus not ready"
}

# prom_query QUERY : instant query against the test Prometheus; prints the JSON.
prom_query() {
    curl -sf -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"
}

# prom_value QUERY : the value of a single-series instant query, or nothing.
prom_value() {
    prom_query "$1" | "$PY" -c 'import json,sys
d=json.load(sys.stdin)["data"]["result"]
print(d[0]["value"][1] if len(d)==1 else "")'
}

# prom_is QUERY WANT : succeeds when the single-series query currently equals WANT (for wait_for).
prom_is() {
    [ "$(prom_value "$1")" = "$2" ]
}

# scrape_has PORT REGEX : succeeds when a fresh scrape has a line matching REGEX (for wait_for).
scrape_has() {
    curl -s "http://127.0.0.1:$1/metrics" | grep -q -E "$2"
}
