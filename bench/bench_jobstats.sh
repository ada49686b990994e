#!/bin/bash
# bench_jobstats.sh - wall time of one `jobstats JOBID` report end to end (process start, sacct, seven
# Prometheus queries, report), for a 3-day, 2-node, 8-GPU job backfilled into a real Prometheus.
#
# Usage: bench/bench_jobstats.sh [JOBSTATS] [N]   (or env JOBSTATS, N; PORT, default a free one)
# Needs prometheus, promtool and, for the Python floor, python3-requests.
# sacct is a stand-in script that prints the job's line (a real sacct adds its own slurmdbd round
# trip, the same for any jobstats). Prints p50/p90/max over N runs of the Prometheus path (-f) and of
# the stored-summary path, and a floor for any Python implementation measured against the same server.
# The history also holds jobtel's exact per-job counters (make_history.py with EXACT=1, as a daemon with
# accounting exports them), so the report with exact counters (the default: no Princeton GPU query) is
# measured against the same jobstats sending Princeton's queries (exact_counters = false,
# fast_queries = false) and against the Python floor, on the same Prometheus in the same run.
set -euo pipefail

JOBSTATS=${1:-${JOBSTATS:-$(dirname "$0")/../build/jobstats}}
N=${2:-${N:-50}}
PORT=${PORT:-$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
SRC=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$JOBSTATS" ] || { echo "usage: $0 [path/to/jobstats] [N]" >&2; exit 2; }
T=$(mktemp -d /tmp/jobtel-bench.XXXXXX)
PROM=
trap '[ -z "$PROM" ] || { kill "$PROM"; wait "$PROM" || true; }; rm -rf "$T"' EXIT

JOB=4242
END=$(( $(date +%s) - 3 * 3600 ))
START=$((END - 3 * 86400))
EXACT=1 /usr/bin/python3 "$SRC/tests/fixtures/jobstats/make_history.py" "$START" "$END" $JOB tc 30 >"$T/hist.om" 2>/dev/null
promtool tsdb create-blocks-from openmetrics "$T/hist.om" "$T/data" >/dev/null
printf 'global:\n  scrape_interval: 30s\n  evaluation_interval: 30s\n' >"$T/prometheus.yml"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/data" --web.listen-address="127.0.0.1:$PORT" \
    --log.level=error >"$T/prom.log" 2>&1 &
PROM=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/-/ready" >/dev/null && break; sleep 0.1; done

write_sacct() {
    printf '#!/bin/sh\necho "%s|%s|%s|tc|billing=32,cpu=32,gres/gpu=8,mem=128G,node=2|%s|alice|physics|COMPLETED|2|32|128G|normal|gpu|5760|train"\n' \
        $JOB "$START" "$END" "$1" >"$T/sacct"
    chmod 755 "$T/sacct"
}
write_sacct ""
printf 'prometheus_url = http://127.0.0.1:%s\nsacct = %s/sacct\nsampling_period = 30\n' "$PORT" "$T" >"$T/jobstats.conf"
"$JOBSTATS" --config "$T/jobstats.conf" -n $JOB >/dev/null # warm Prometheus' caches once, as a busy server is

# run LABEL ARGS... : N timed runs; prints p50/p90/max in ms.
run() {
    local label=$1 i t0 t1
    shift
    : >"$T/ms"
    for ((i = 0; i < N; i++)); do
        t0=$EPOCHREALTIME
        "$JOBSTATS" --config "$T/jobstats.conf" "$@" >/dev/null
        t1=$EPOCHREALTIME
        echo $(((${t1/./} - ${t0/./}) / 1000)) >>"$T/ms"
    done
    sort -n "$T/ms" | awk -v l="$label" '{ a[NR] = $1 } END {
        printf "%-44s p50 %4d ms  p90 %4d ms  max %4d ms  (n=%d)\n", l, a[int(NR * 0.5 + 0.5)], a[int(NR * 0.9 + 0.5)], a[NR], NR }' |
        tee -a "$T/results"
}
echo "jobstats, 3-day 2-node 8-GPU job, samples every 30 s ($(wc -l <"$T/hist.om") backfilled samples):"
cp "$T/jobstats.conf" "$T/exact.conf"
run "report with exact counters (-f, default)" -n -f $JOB
echo "exact_counters = false" >>"$T/jobstats.conf"
cp "$T/jobstats.conf" "$T/fast.conf"
run "  without them: the fast query set" -n -f $JOB
echo "fast_queries = false" >>"$T/jobstats.conf"
run "  without them: Princeton's expressions" -n -f $JOB
cp "$T/jobstats.conf" "$T/princeton.conf"
cp "$T/exact.conf" "$T/jobstats.conf"
"$JOBSTATS" --config "$T/jobstats.conf" -d -n -f $JOB 2>&1 >/dev/null | grep -q "^DEBUG: exact counters: every GPU" \
    || { echo "the exact path was not taken (history without jobtel counters?)" >&2; exit 1; }
write_sacct "JS1:$("$JOBSTATS" --config "$T/jobstats.conf" -b $JOB)"
run "report from the stored JS1 summary" -n $JOB

# A floor for any Python implementation of the same report (Princeton's jobstats is Python and is not
# packaged, so it cannot be run here): interpreter start, `import requests`, and the very queries
# Princeton's jobstats sends (fast_queries = false), each answer parsed as JSON; no sacct, no report. Whatever the Python original
# does on top of this only adds to its time.
"$JOBSTATS" --config "$T/princeton.conf" -d -n -f $JOB 2>&1 >/dev/null | sed -n 's/^DEBUG: query: \(.*\) time=\([0-9.]*\)\( step=[0-9.]*s\)\{0,1\}$/\2 \1/p' >"$T/queries"
cat >"$T/floor.py" <<'PY'
import json, sys
import requests
url = sys.argv[1]
for line in open(sys.argv[2]):
    t, q = line.rstrip("\n").split(" ", 1)
    json.loads(requests.get(url + "/api/v1/query", params={"query": q, "time": t}).text)
PY
[ -s "$T/queries" ] || { echo "no queries captured (jobstats -d output changed?)" >&2; exit 1; }
: >"$T/ms"
for ((i = 0; i < N; i++)); do
    t0=$EPOCHREALTIME
    /usr/bin/python3 "$T/floor.py" "http://127.0.0.1:$PORT" "$T/queries"
    t1=$EPOCHREALTIME
    echo $(((${t1/./} - ${t0/./}) / 1000)) >>"$T/ms"
done
sort -n "$T/ms" | awk -v q="$(wc -l <"$T/queries")" '{ a[NR] = $1 } END {
    printf "%-44s p50 %4d ms  p90 %4d ms  max %4d ms  (n=%d)\n", "Python floor (requests + same " q " queries)", a[int(NR * 0.5 + 0.5)], a[int(NR * 0.9 + 0.5)], a[NR], NR }' |
    tee -a "$T/results"
# Ratios of the p50s, all measured in this run against the same Prometheus.
awk '{ for (i = 1; i <= NF; i++) if ($i == "p50") p[NR] = $(i + 1) } END {
    printf "ratio p50, exact counters / Princeton'"'"'s expressions (same jobstats): %.2f\n", p[1] / p[3]
    printf "ratio p50, exact counters / Python floor (Princeton'"'"'s queries): %.2f (fast set: %.2f, Princeton expressions: %.2f)\n",
        p[1] / p[5], p[2] / p[5], p[3] / p[5] }' "$T/results"
. "$SRC/bench/result.sh"
p50() { awk -v n="$1" 'NR == n { for (i = 1; i <= NF; i++) if ($i == "p50") print $(i + 1) }' "$T/results"; }
bench_result jobstats_prometheus_p50 "$(p50 1)" ms "$(p50 5)" python_floor
bench_result jobstats_fast_queries_p50 "$(p50 2)" ms "$(p50 5)" python_floor
bench_result jobstats_princeton_expressions_p50 "$(p50 3)" ms "$(p50 5)" python_floor
bench_result jobstats_summary_p50 "$(p50 4)" ms "$(p50 5)" python_floor
