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
# An exporter keeps its per-job accounting state in the test's own directory, never in the machine's
# /run/jobtel (tests run in parallel, and a later test must not inherit an earlier one's jobs).
start_bg() {
    local name=$1
    shift
    local args=("$@") i
    for ((i = 0; i + 1 < ${#args[@]}; i++)); do
        if [ "${args[i]}" = "$JOBTEL" ] && [ "${args[i + 1]}" = exporter ]; then
            args=("${args[@]:0:i + 2}" --path.accounting="$T/accounting-$name" "${args[@]:i + 2}")
            break
        fi
    done
    "${args[@]}" >"$T/$name.log" 2>&1 &
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

# --- ports -------------------------------------------------------------------------------------------
# Tests run in parallel with each other and with other checkouts' tests: never a fixed port. A daemon
# that takes port 0 binds whatever the kernel gives it and start_port0 reads the port back (ss, by pid):
# no race at all. Otherwise free_port asks the kernel for a free port and releases it; another process
# may take it before our daemon binds it, so start_listening checks that the daemon itself ended up
# listening on it, and the start_* helpers retry with a new port when it was taken in between.

# free_port : prints a TCP port on 127.0.0.1 the kernel just handed out as free.
free_port() {
    "$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# port_owner PORT : the pid of the process listening on TCP PORT, if any (needs root for other users).
port_owner() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}

# listen_port PID : the TCP port PID listens on, if any.
listen_port() {
    ss -Hltnp 2>/dev/null | awk -v p="pid=$1," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }'
}

# start_port0 NAME SECS CMD... : start_bg NAME CMD, where CMD listens on port 0, and waits until it
# listens; sets LAST_PORT to the port the kernel gave it. Fails if it exits first or takes over SECS.
start_port0() {
    local name=$1 secs=$2 i
    shift 2
    start_bg "$name" "$@"
    for ((i = 0; i < secs * 10; i++)); do
        LAST_PORT=$(listen_port "$LAST_PID")
        [ -n "$LAST_PORT" ] && return 0
        if ! alive "$LAST_PID"; then
            tail -n 20 "$T/$name.log" >&2
            fail "$name exited before it listened"
        fi
        sleep 0.1
    done
    fail "$name did not listen within ${secs}s"
}

# alive PID : PID runs (a zombie, our exited but unreaped child, does not count).
alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# start_listening NAME PORT SECS CMD... : start_bg NAME CMD (which must listen on PORT), then waits until
# that very process listens on PORT. Returns 2 when the port was taken (the daemon exited saying so, or
# another process holds the port: the daemon is stopped and reaped), so the caller can retry with a new
# port; fails when the daemon exits for another reason or does not listen within SECS.
start_listening() {
    local name=$1 port=$2 secs=$3 i owner
    shift 3
    start_bg "$name" "$@"
    for ((i = 0; i < secs * 10; i++)); do
        owner=$(port_owner "$port")
        [ "$owner" = "$LAST_PID" ] && return 0
        if ! alive "$LAST_PID"; then
            stop_pid "$LAST_PID" || true
            if [ -n "$owner" ] || grep -qiE 'address already in use|address in use|cannot listen|unable to bind|error binding' "$T/$name.log"; then
                echo "port $port was taken before $name could listen on it: trying another" >&2
                return 2
            fi
            tail -n 20 "$T/$name.log" >&2
            fail "$name exited before it listened on port $port"
        fi
        sleep 0.1
    done
    fail "$name did not listen on port $port within ${secs}s"
}

# on_free_port FN ARGS... : FN PORT ARGS... with fresh ports until it does not return 2 (port taken).
on_free_port() {
    local fn=$1 try rc
    shift
    for try in 1 2 3 4 5; do
        rc=0
        "$fn" "$(free_port)" "$@" || rc=$?
        [ "$rc" = 2 ] || return "$rc"
    done
    fail "$fn: the port was taken 5 times in a row"
}

# start_exporter PORT ARGS... : starts jobtel exporter on 127.0.0.1:PORT and waits until it serves.
# PORT 0: the port the kernel gives the exporter when it takes port 0; with an exporter that refuses
# port 0, a free port, retried on a collision. Sets EXPORTER_PID, EXPORTER_PORT and EXPORTER_LOG.
EXPORTER_PORT0=${EXPORTER_PORT0:-unknown} # does this exporter take port 0? learnt at the first start
start_exporter() {
    local port=$1
    shift
    if [ "$port" = 0 ] && [ "$EXPORTER_PORT0" != no ]; then
        _start_exporter_port0 "$@"
    fi
    if [ "$port" = 0 ] && [ "$EXPORTER_PORT0" = no ]; then
        on_free_port _start_exporter_on "$@"
    elif [ "$port" != 0 ]; then
        _start_exporter_on "$port" "$@" || fail "port $port is taken"
    fi
    # 200 only once every collector has reported (before that the daemon answers 503).
    wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$EXPORTER_PORT/metrics" ||
        fail "exporter on :$EXPORTER_PORT never served metrics"
}

_start_exporter_port0() {
    local n=$((${#PIDS[@]} + 1)) i port=
    start_bg "exporter-p0-$n" "$JOBTEL" exporter --web.listen-address=127.0.0.1:0 "$@"
    for ((i = 0; i < 300; i++)); do
        port=$(listen_port "$LAST_PID")
        [ -n "$port" ] && break
        if ! alive "$LAST_PID"; then
            stop_pid "$LAST_PID" || true
            if [ "$EXPORTER_PORT0" = unknown ] && grep -q "invalid --web.listen-address '127.0.0.1:0'" "$T/exporter-p0-$n.log"; then
                EXPORTER_PORT0=no
                return 0
            fi
            tail -n 20 "$T/exporter-p0-$n.log" >&2
            fail "the exporter exited before it listened"
        fi
        sleep 0.1
    done
    [ -n "$port" ] || fail "the exporter did not listen within 30s"
    EXPORTER_PORT0=yes
    EXPORTER_PID=$LAST_PID
    EXPORTER_PORT=$port
    mv "$T/exporter-p0-$n.log" "$T/exporter-$port.log" # the daemon keeps writing to the same file
    EXPORTER_LOG=$T/exporter-$port.log
}

_start_exporter_on() {
    local port=$1 rc=0
    shift
    start_listening "exporter-$port" "$port" 30 "$JOBTEL" exporter --web.listen-address="127.0.0.1:$port" "$@" || rc=$?
    [ "$rc" = 0 ] || return "$rc"
    EXPORTER_PID=$LAST_PID
    EXPORTER_PORT=$port
    EXPORTER_LOG=$T/exporter-$port.log
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

# count_series FILE NAME [KEY=VALUE...] : number of samples of metric NAME (* for any) with these labels.
count_series() {
    "$PY" "$SRC/tests/e2e/promtext.py" count "$@"
}

# expect_none FILE NAME [KEY=VALUE...] : FILE parses, has samples, and none of NAME (* for any) with
# these labels. Unlike a grep for a label prefix it holds whatever the label order, and an empty or
# unparsable file fails it instead of passing.
expect_none() {
    local f=$1 n
    shift
    n=$(count_series "$f" "$@") || fail "cannot parse $f"
    [ "$n" = 0 ] || fail "$n sample(s) of $* in $f, want none"
}

# --- Prometheus -------------------------------------------------------------------------------------

# start_prometheus PORT TARGET... : a real Prometheus scraping each TARGET every second, on PORT (0: the
# port the kernel gives it). Sets PROM_PID and PROM_PORT.
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
    start_prometheus_config "$port" "$T/prom/prometheus.yml"
}

# start_prometheus_config PORT FILE : Prometheus with that configuration and $T/prom/data, on PORT (0:
# the port the kernel gives it). Sets PROM_PID and PROM_PORT.
start_prometheus_config() {
    local port=$1 conf=$2
    promtool check config "$conf" >/dev/null || fail "bad prometheus config $conf"
    _start_prometheus_on "$port" "$conf" || fail "port $port is taken"
    wait_for 30 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" || fail "prometheus not ready"
}

_start_prometheus_on() {
    local port=$1 rc=0
    if [ "$port" = 0 ]; then
        start_port0 prometheus 60 prometheus --config.file="$2" --storage.tsdb.path="$T/prom/data" \
            --web.listen-address=127.0.0.1:0 --log.level=warn
        port=$LAST_PORT
    else
        start_listening "prometheus-$port" "$port" 30 prometheus --config.file="$2" --storage.tsdb.path="$T/prom/data" \
            --web.listen-address="127.0.0.1:$port" --log.level=warn || rc=$?
        [ "$rc" = 0 ] || return "$rc"
    fi
    PROM_PID=$LAST_PID
    PROM_PORT=$port
}

# start_prometheus_jobstats CLUSTER : a Prometheus scraping the exporter on $EXPORTER_PORT every second,
# its series labelled cluster=CLUSTER, and $T/jobstats.conf for it with the real sacct and sacctmgr and
# a spool in $T/spool; returns once Prometheus has scraped the exporter.
start_prometheus_jobstats() {
    mkdir -p "$T/prom"
    cat >"$T/prom/prometheus.yml" <<EOS
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: jobtel
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:$EXPORTER_PORT']
        labels:
          cluster: $1
EOS
    start_prometheus_config 0 "$T/prom/prometheus.yml"
    cat >"$T/jobstats.conf" <<EOS
prometheus_url = http://127.0.0.1:$PROM_PORT
sacct = $(command -v sacct)
sacctmgr = $(command -v sacctmgr)
sampling_period = 1
command_timeout = 10
spool_dir = $T/spool
EOS
    wait_for 60 prom_is "up{cluster=\"$1\"}" 1 || fail "Prometheus never scraped the exporter"
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
# grep reads the whole body (no -q): under pipefail, `curl | grep -q` fails when grep stops early and
# curl gets SIGPIPE on a large body.
scrape_has() {
    curl -s "http://127.0.0.1:$1/metrics" | grep -E "$2" >/dev/null
}

# scrape_lacks PORT NAME [KEY=VALUE...] : succeeds when a fresh scrape is answered, parses, and has no
# sample of NAME (* for any) with these labels (for wait_for). A failed scrape is not "no sample".
scrape_lacks() {
    local port=$1 f
    shift
    f=$(mktemp "$T/lacks.XXXXXX")
    curl -sf "http://127.0.0.1:$port/metrics" -o "$f" || return 1
    [ "$("$PY" "$SRC/tests/e2e/promtext.py" count "$f" "$@")" = 0 ]
}

# --- fake NVML scenarios ------------------------------------------------------------------------------

# scenario_time : seconds since FAKE_NVML_START_EPOCH, the fake library's scenario clock.
scenario_time() {
    "$PY" -c "import time; print(time.time() - float('${FAKE_NVML_START_EPOCH:?}'))"
}

# scenario_edit FILE PYTHON : runs PYTHON with the scenario loaded as `s` and the scenario time (seconds
# since FAKE_NVML_START_EPOCH, when set) as `t`, then replaces FILE atomically; the fake library reloads
# a file whose inode changed. A test changes what the fake GPUs do when it is ready for the change,
# instead of at a scenario time fixed in advance that a loaded machine may reach first.
scenario_edit() {
    "$PY" -c '
import json, os, sys, time
path, code, epoch = sys.argv[1], sys.argv[2], sys.argv[3]
with open(path) as f:
    s = json.load(f)
t = time.time() - float(epoch) if epoch else None
exec(code)
with open(path + ".new", "w") as f:
    json.dump(s, f)
os.rename(path + ".new", path)' "$1" "$2" "${FAKE_NVML_START_EPOCH:-}" || fail "cannot edit scenario $1"
}

# --- CPU time against the kernel's own counters ------------------------------------------------------

# expect_cpu_bracket PORT SECS 'SERIES|CGROUP_DIR|FIELD'... : the exporter's CPU seconds against the
# cgroup's own counter read at the same moment (cgcpu.py bracket: before <= exporter <= after, in whole
# nanoseconds, from a collection made after `before` was read). Leaves the scrape in $T/cpu-bracket.txt.
expect_cpu_bracket() {
    local port=$1 secs=$2
    shift 2
    "$PY" "$SRC/tests/e2e/cgcpu.py" bracket "$T/cpu-bracket.txt" "$port" "$secs" "$@" ||
        fail "exporter CPU seconds do not match the cgroups' own counters"
}

# cgroup_cpu_seconds DIR [FIELD] : the cgroup's own CPU counter in seconds (FIELD total, user or system).
cgroup_cpu_seconds() {
    "$PY" "$SRC/tests/e2e/cgcpu.py" seconds "$1" "${2:-total}"
}

# --- VictoriaMetrics ----------------------------------------------------------------------------------
# Single-node VictoriaMetrics (Debian's victoria-metrics) serves the query API vmselect serves, so a test
# that passes against it proves jobstats, the rules' expressions and the dashboards on a VM cluster too.

# start_victoria [ARGS...] : VictoriaMetrics on 127.0.0.1 (port 0: the kernel's pick) with $T/vm as its
# data and a 31-day retention, plus ARGS (e.g. -promscrape.config=FILE). Sets VM_PID, VM_PORT and VM_URL.
start_victoria() {
    command -v victoria-metrics >/dev/null || fail "victoria-metrics not installed (scripts/install-deps.sh)"
    mkdir -p "$T/vm"
    start_port0 victoria 60 victoria-metrics -httpListenAddr=127.0.0.1:0 -storageDataPath="$T/vm" \
        -retentionPeriod=31d -loggerLevel=WARN "$@"
    VM_PID=$LAST_PID
    VM_PORT=$LAST_PORT
    VM_URL=http://127.0.0.1:$VM_PORT
    wait_for 30 curl -sf "$VM_URL/health" || fail "victoria-metrics not healthy"
}

# vm_import FILE : imports an OpenMetrics file as promtool's backfill reads it (timestamps in seconds)
# through /api/v1/import/prometheus (milliseconds), then flushes so that queries see all of it.
vm_import() {
    "$PY" - "$1" >"$T/vm-import.prom" <<'PY' || fail "cannot convert $1 for VictoriaMetrics"
import sys
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    head, _, ts = line.rstrip("\n").rpartition(" ")
    print(f"{head} {round(float(ts) * 1000)}")
PY
    local code
    code=$(curl -s -o "$T/vm-import.out" -w '%{http_code}' --data-binary @"$T/vm-import.prom" \
        "$VM_URL/api/v1/import/prometheus") || fail "import into VictoriaMetrics failed"
    [ "$code" = 204 ] || [ "$code" = 200 ] || fail "import into VictoriaMetrics: HTTP $code $(cat "$T/vm-import.out")"
    curl -sf -o /dev/null "$VM_URL/internal/force_flush" || fail "VictoriaMetrics force_flush failed"
}
