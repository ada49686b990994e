#!/bin/bash
# test_jobstats_backfill.sh - jobstats against a real Prometheus holding a backfilled 3-day, 2-node, 8-GPU job.
#
# The history is written with known values (tests/fixtures/jobstats/make_history.py) and loaded with
# `promtool tsdb create-blocks-from openmetrics`, so the expected report numbers are exact and there is
# no scrape wait. sacct is a stand-in script here (the live Slurm test uses the real one); it is named
# in the config file, as a site would name /usr/bin/sacct. Also covered: the JSON and JS1 views agree
# (decoded by Python), a stored summary is shown with Prometheus down, and the fault messages.
#
# JOBTEL_ENGINE=vm (ctest e2e_test_jobstats_backfill_vm): the same history, sampled every 30 s as a
# production scrape is, is imported into a single-node VictoriaMetrics, every check below runs against
# it, and its reports are then compared figure by figure with a Prometheus backfilled from the same file.
source "$(dirname "$0")/lib.sh"
ENGINE=${JOBTEL_ENGINE:-prometheus}
case "$ENGINE" in
prometheus) HIST_STEP=120 ;;
vm) HIST_STEP=30 ;; # at 120 s VictoriaMetrics' default 5m subquery step happens to hit every peak
*) fail "JOBTEL_ENGINE=$ENGINE: want prometheus or vm" ;;
esac
JOBSTATS=$(dirname "$JOBTEL")/jobstats
PORT=$(free_port) # nothing listens there until the backfilled Prometheus is started on it
JOB=4242

NOW=$(date +%s)
END=$((NOW - 3 * 3600)) # older than Prometheus' head block, well inside its retention
START=$((END - 3 * 86400))
OLD_END=$((NOW - 40 * 86400)) # beyond Prometheus' 15-day retention
OLD_START=$((OLD_END - 7200))
mkdir -p "$T/prom"
GPM_JOB=4245 # a MIG slice with only nvidia_gpu_graphics_util_percent, beside a plain GPU
STOP_JOB=4246 # jobtel's exact counters, one node's exporter stopped two hours before the end
EXACT_JOB=4247 # the main job's history once more, with jobtel's series (exact counters, memory peak)
STOPPED_JOBID=$STOP_JOB EXACT_JOBID=$EXACT_JOB "$PY" "$SRC/tests/fixtures/jobstats/make_history.py" "$START" "$END" "$JOB" tc "$HIST_STEP" $GPM_JOB >"$T/hist.om" 2>"$T/expect.json"
promtool tsdb create-blocks-from openmetrics "$T/hist.om" "$T/prom/data" >"$T/promtool.log" 2>&1 \
    || fail "promtool backfill failed"

# sacct stand-in: the fields of sacct_parse.h, job name with a '|' in it, AllocTRES with typed GPUs.
COMMENT=""
write_sacct() {
    cat >"$T/sacct" <<EOS
#!/bin/sh
for a in "\$@"; do [ "\$a" = -B ] && { echo '#!/bin/bash'; echo '#SBATCH --gres=gpu:4'; exit 0; }; done
case " \$* " in
  *" -j $JOB "*) echo '$JOB|$START|$END|tc|billing=32,cpu=32,gres/gpu:a100=8,mem=128G,node=2|$COMMENT|alice|physics|COMPLETED|2|32|128G|normal|gpu|5760|train|big run' ;;
  *" -j 77 "*) echo '77|Unknown|Unknown|tc|cpu=1,mem=1G,node=1||alice|physics|PENDING|1|1|1G|normal|gpu|60|waiting' ;;
  *" -j $GPM_JOB "*) echo '$GPM_JOB|$START|$END|tc|billing=2,cpu=2,gres/gpu=2,mem=8G,node=1||bob|physics|COMPLETED|1|2|8G|normal|gpu|5760|mig' ;;
  *" -j $EXACT_JOB "*) echo '$EXACT_JOB|$START|$END|tc|billing=32,cpu=32,gres/gpu:a100=8,mem=128G,node=2||alice|physics|COMPLETED|2|32|128G|normal|gpu|5760|train' ;;
  *" -j $STOP_JOB "*) echo '$STOP_JOB|$START|$END|tc|billing=4,cpu=4,gres/gpu=2,mem=16G,node=2||bob|physics|COMPLETED|2|4|16G|normal|gpu|5760|stop' ;;
  *" -j 4243 "*) echo '4243|$OLD_START|$OLD_END|tc|cpu=4,mem=4G,node=1||alice|physics|COMPLETED|1|4|4G|normal|cpu|600|old' ;;
  *" -j 4244 "*) echo '4244|$((END - 20))|$END|tc|cpu=1,mem=1G,node=1||alice|physics|COMPLETED|1|1|1G|normal|cpu|10|blink' ;;
esac
exit 0
EOS
    chmod 755 "$T/sacct"
}
write_sacct
cat >"$T/jobstats.conf" <<EOF
# test config
prometheus_url = http://127.0.0.1:$PORT/
sacct = $T/sacct
seff = $T/seff
sampling_period = 30
connect_timeout = 2
timeout = 10
EOF

# --- faults first, while Prometheus is not running ----------------------------------------------------
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" -n $JOB >"$T/down.out" 2>"$T/down.err" || rc=$?
[ "$rc" = 1 ] || fail "Prometheus down: exit $rc, want 1"
grep -q "http://127.0.0.1:$PORT" "$T/down.err" || fail "Prometheus down: error does not name the URL: $(cat "$T/down.err")"
pass "Prometheus down: exit 1, message names the URL"

# serve_on_port0 NAME PYTHON-SERVER-CODE : a Python server that binds port 0 itself (no collision
# possible) and publishes the port in $T/NAME.port; sets SERVER_PID and SERVER_PORT.
serve_on_port0() {
    rm -f "$T/$1.port"
    start_bg "$1" "$PY" -c "$2" "$T/$1.port" "$T"
    SERVER_PID=$LAST_PID
    wait_for 30 test -s "$T/$1.port" || fail "$1 did not start"
    SERVER_PORT=$(cat "$T/$1.port")
}
# The bound socket's port, written atomically to sys.argv[1].
PUBLISH='import os, sys
def publish(port):
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
'
mkdir -p "$T/bad/api/v1"
echo '{"status":"success","data":{"resultType":"vector","result":[{"metric":' >"$T/bad/api/v1/query"
serve_on_port0 badprom "$PUBLISH
import functools, http.server
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2] + '/bad'))
publish(srv.server_address[1])
srv.serve_forever()"
BAD_PID=$SERVER_PID
wait_http "http://127.0.0.1:$SERVER_PORT/" 30
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" --prometheus "http://127.0.0.1:$SERVER_PORT" -n $JOB >"$T/bad.out" 2>"$T/bad.err" || rc=$?
[ "$rc" = 1 ] || fail "malformed answer: exit $rc, want 1"
grep -q "not JSON" "$T/bad.err" || fail "malformed answer: unclear error: $(cat "$T/bad.err")"
stop_pid "$BAD_PID" || true
pass "malformed Prometheus JSON: exit 1 with a clear message"

# A Prometheus that accepts the connection and never answers (until it is stopped): only jobstats' own
# total timeout can end the request. `timeout` is there to end a test that hangs, not to time jobstats.
serve_on_port0 hungprom "$PUBLISH
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(16)
publish(s.getsockname()[1])
time.sleep(3600)"
HUNG_PID=$SERVER_PID
printf 'timeout = 1\n' | cat "$T/jobstats.conf" - >"$T/hung.conf"
rc=0
timeout -k 5 300 "$JOBSTATS" --config "$T/hung.conf" --prometheus "http://127.0.0.1:$SERVER_PORT" -n $JOB >/dev/null 2>"$T/hung.err" || rc=$?
[ "$rc" = 1 ] && grep -q "http://127.0.0.1:$SERVER_PORT" "$T/hung.err" && grep -qi "timed out\|timeout" "$T/hung.err" \
    || fail "hung Prometheus: rc $rc (124: jobstats waited for an answer that never comes): $(cat "$T/hung.err")"
stop_pid "$HUNG_PID" || true
pass "hung Prometheus: the total timeout ends the request, message names the URL"

rc=0
"$JOBSTATS" --config "$T/jobstats.conf" 77 >/dev/null 2>"$T/pending.err" || rc=$?
[ "$rc" = 1 ] && grep -q PENDING "$T/pending.err" || fail "pending job: rc $rc $(cat "$T/pending.err")"
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" 999 >/dev/null 2>"$T/unknown.err" || rc=$?
[ "$rc" = 1 ] && grep -q "Failed to lookup job 999" "$T/unknown.err" || fail "unknown job: rc $rc $(cat "$T/unknown.err")"
printf '\nFailed to lookup job 999. Make sure the cluster is correct by\nspecifying the -c option (e.g., $ jobstats 1234567 -c frontier).\n\n' \
    | cmp -s - "$T/unknown.err" || fail "unknown job: not Princeton's message: $(cat "$T/unknown.err")"
printf 'Failed to get details for job 77 since it is a PENDING job.\n' | cmp -s - "$T/pending.err" \
    || fail "pending job: not Princeton's message: $(cat "$T/pending.err")"
printf 'sampling_period = 30\nbogus_key = 1\n' >"$T/broken.conf"
rc=0
"$JOBSTATS" --config "$T/broken.conf" $JOB >/dev/null 2>"$T/conf.err" || rc=$?
[ "$rc" = 2 ] && grep -q "broken.conf:2" "$T/conf.err" || fail "bad config: rc $rc $(cat "$T/conf.err")"
pass "pending job, unknown job and a malformed config: clear messages and exit codes"

# --- the backfilled job ---------------------------------------------------------------------------------
# No scrape targets: the data is the backfill. The evaluation interval is the subquery resolution of
# the [Ds:] queries, so it is a production-like 30 s rather than lib.sh's 1 s.
printf 'global:\n  scrape_interval: 30s\n  evaluation_interval: 30s\n' >"$T/prom/prometheus.yml"
if [ "$ENGINE" = prometheus ]; then
    # On the port the configuration names; if something took it meanwhile, on a new one, named in the config.
    if ! _start_prometheus_on "$PORT" "$T/prom/prometheus.yml"; then
        start_prometheus_config 0 "$T/prom/prometheus.yml"
        sed -i "s|^prometheus_url = .*|prometheus_url = http://127.0.0.1:$PROM_PORT/|" "$T/jobstats.conf"
    fi
    wait_for 30 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" || fail "prometheus not ready"
    ENGINE_PID=$PROM_PID
    ENGINE_URL=http://127.0.0.1:$PROM_PORT
else
    start_victoria
    vm_import "$T/hist.om"
    sed -i "s|^prometheus_url = .*|prometheus_url = $VM_URL/|" "$T/jobstats.conf"
    ENGINE_PID=$VM_PID
    ENGINE_URL=$VM_URL
fi
# engine_is QUERY WANT : the single-series instant query against the engine under test equals WANT.
engine_is() {
    local got
    got=$(curl -sf -G "$ENGINE_URL/api/v1/query" --data-urlencode "query=$1" | "$PY" -c 'import json,sys
d=json.load(sys.stdin)["data"]["result"]
print(d[0]["value"][1] if len(d)==1 else "")') || return 1
    [ "$got" = "$2" ]
}
wait_for 30 engine_is "count(cgroup_cpus{jobid=\"$JOB\"} @ $END)" 2 || fail "backfilled data not visible"

T0=$EPOCHREALTIME
"$JOBSTATS" --config "$T/jobstats.conf" -n $JOB >"$T/report.txt" 2>"$T/report.err" || fail "report failed: $(cat "$T/report.err")"
T1=$EPOCHREALTIME
cat "$T/report.txt"
"$JOBSTATS" --config "$T/jobstats.conf" -j $JOB >"$T/job.json" || fail "-j failed"
"$JOBSTATS" --config "$T/jobstats.conf" -b $JOB >"$T/job.b64" || fail "-b failed"

# Every number in the JSON matches the backfilled history; the JS1 payload decodes to the same data.
"$PY" - "$T/expect.json" "$T/job.json" "$T/job.b64" <<'EOP' || fail "JSON / JS1 numbers do not match the backfill"
import base64, gzip, json, sys
exp = json.load(open(sys.argv[1])); got = json.load(open(sys.argv[2]))
b64 = open(sys.argv[3]).read().strip()
assert b64.startswith("H4sI"), b64[:10]
dec = json.loads(gzip.decompress(base64.b64decode(b64)))
assert dec == got, "base64 and json views differ"
assert list(dec.keys()) == ["nodes", "total_time", "gpus"], list(dec.keys())
assert got["gpus"] == 8 and got["total_time"] == exp["runtime"], (got["gpus"], got["total_time"])
for node, e in exp["nodes"].items():
    g = got["nodes"][node]
    for k in ("cpus", "total_memory", "used_memory"):
        assert g[k] == e[k], (node, k, g[k], e[k])
    assert abs(g["total_time"] - e["total_time"]) < 1, (node, g["total_time"], e["total_time"])
    for m, u in e["gpu_utilization"].items():
        assert abs(g["gpu_utilization"][m] - u) <= 0.2, (node, m, g["gpu_utilization"][m], u)
    assert g["gpu_used_memory"] == e["gpu_used_memory"], (node, g["gpu_used_memory"])
    assert g["gpu_total_memory"] == e["gpu_total_memory"], (node,)
print("json ok")
EOP
pass "JSON and JS1 views match the backfilled data exactly"

# The report: CPU 37.5 % (16 cores at 50 % + 16 at 25 %; the meter shows int(37.5) = 37, as Princeton's), memory (16+8)/128 GiB = 19 %, GPU mean 35 %,
# GPU memory 221/640 GiB = 35 %; per node and per GPU lines; the note for the idle GPU.
expect_line() { grep -qF -- "$1" "$T/report.txt" || fail "report lacks: $1"; }
expect_line "         Job ID: $JOB"
expect_line "       Job Name: train|big run"
expect_line "          Nodes: 2"
expect_line "      CPU Cores: 32"
expect_line "           GPUs: 8"
expect_line "       Run Time: 3-00:00:00"
expect_line "     Time Limit: 4-00:00:00"
expect_line "  CPU utilization  [||||||||||||||||||                             37%]"
expect_line "  CPU memory usage [|||||||||                                      19%]"
expect_line "  GPU utilization  [|||||||||||||||||                              35%]"
expect_line "  GPU memory usage [|||||||||||||||||                              35%]"
expect_line "      gn1: 24-00:00:00/48-00:00:00 (efficiency=50.0%)"
expect_line "      gn2: 12-00:00:00/48-00:00:00 (efficiency=25.0%)"
expect_line "  Total used/runtime: 36-00:00:00/96-00:00:00, efficiency=37.5%"
expect_line "      gn1: 16.0GB/64GB (1.0GB/4GB per core of 16)"
expect_line "  Total used/allocated: 24.0GB/128.0GB (768.0MB/4GB per core of 32)"
expect_line "      gn2 (GPU 7): 0% <-- GPU was not used"
expect_line "      gn1 (GPU 3): 50.0GB/80GB (62.5%)"
expect_line "1 of the 8 allocated GPUs had 0% utilization"
# With 30 s samples over 3 days the count is even and the mean exactly 10 ("10%").
grep -qE "gn1 \(GPU 0\): (9\.9|10|10\.0|10\.1)%" "$T/report.txt" || fail "GPU 0 utilization line"
pass "report numbers match the backfilled 3-day, 2-node, 8-GPU job ($(((${T1/./} - ${T0/./}) / 1000)) ms end to end)"

# The cheaper query set (fast_queries, the default) gives the very figures of Princeton's expressions
# (fast_queries = false): byte-identical -j for the 8-GPU job (no GPM series: one round trip) and for the
# MIG job (GPM series found by the probe: Princeton's full GPU utilization query).
(cat "$T/jobstats.conf"; echo "fast_queries = false") >"$T/princeton.conf"
for j in $JOB $GPM_JOB; do
    "$JOBSTATS" --config "$T/jobstats.conf" -f -j $j >"$T/fast.$j.json" 2>"$T/fast.err" || fail "fast -j $j: $(cat "$T/fast.err")"
    "$JOBSTATS" --config "$T/princeton.conf" -f -j $j >"$T/full.$j.json" || fail "Princeton queries -j $j"
    cmp -s "$T/fast.$j.json" "$T/full.$j.json" || fail "job $j: figures differ: $(diff "$T/full.$j.json" "$T/fast.$j.json")"
done
"$PY" - "$T/fast.$GPM_JOB.json" <<'EOP' || fail "MIG job utilization: $(cat "$T/fast.$GPM_JOB.json")"
import json, sys
u = json.load(open(sys.argv[1]))["nodes"]["gm1"]["gpu_utilization"]
assert u == {"0": 30, "1": 80}, u
EOP
"$JOBSTATS" --config "$T/jobstats.conf" -d -f -j $JOB 2>"$T/probe1.log" >/dev/null
grep -q "graphics_util_percent samples: none" "$T/probe1.log" || fail "probe not used for job $JOB"
# Used memory in two parts (gn1 has shmem, gn2 has not: both parts carry a figure), merged to the very
# figures of Princeton's `(rss + shmem) or 1*rss` compared above.
grep -q "^DEBUG: query: max_over_time((cgroup_memory_rss_bytes{[^}]*} unless cgroup_memory_shmem_bytes" "$T/probe1.log" \
    || fail "used memory not asked in two parts: $(grep 'DEBUG: query:.*memory_rss' "$T/probe1.log")"
if grep "^DEBUG: query:" "$T/probe1.log" | grep -q " or 1\*cgroup_memory_rss_bytes"; then
    fail "Princeton's used-memory expression sent with fast_queries"
fi
grep -q "^DEBUG: used memory: two parts merged" "$T/probe1.log" || fail "used-memory parts not merged"
"$JOBSTATS" --config "$T/jobstats.conf" -d -f -j $GPM_JOB 2>"$T/probe2.log" >/dev/null
grep -q "graphics_util_percent samples: yes" "$T/probe2.log" || fail "probe did not find the GPM series of job $GPM_JOB"
pass "fast query set: the same figures as Princeton's queries (plain GPUs and a MIG slice with GPM)"

# Exact counters asked over the last hour (totals and GPU inventory): a node whose exporter stopped two
# hours before the end is missing from both, which the GPU count sacct gives must catch (the whole run
# is asked again), so its GPU keeps its figures: the same as Princeton's queries (constant values).
"$JOBSTATS" --config "$T/jobstats.conf" -d -f -j $STOP_JOB >"$T/stop.json" 2>"$T/stop.dbg" || fail "-j $STOP_JOB: $(cat "$T/stop.dbg")"
grep -q "^DEBUG: exact counters: some GPU has none in the last 3600s" "$T/stop.dbg" || fail "job $STOP_JOB: no second round: $(grep exact "$T/stop.dbg")"
grep -q "^DEBUG: exact counters: every GPU" "$T/stop.dbg" || fail "job $STOP_JOB: exact path not taken: $(grep exact "$T/stop.dbg")"
(cat "$T/jobstats.conf"; echo "exact_counters = false") >"$T/noexact.conf"
"$JOBSTATS" --config "$T/noexact.conf" -f -j $STOP_JOB >"$T/stop.princeton.json" 2>"$T/stop.err" || fail "exact_counters = false -j $STOP_JOB: $(cat "$T/stop.err")"
"$PY" - "$T/stop.json" "$T/stop.princeton.json" <<'EOP' || fail "job $STOP_JOB: exact and Princeton figures differ"
import json, sys
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert got["nodes"] == want["nodes"], (got["nodes"], want["nodes"])
assert got["nodes"]["gd2"]["gpu_utilization"] == {"0": 60}, got["nodes"]["gd2"]
assert sorted(got["jobtel"]["nodes"]) == ["gd1", "gd2"], got["jobtel"]["nodes"].keys()
print("stopped exporter:", got["nodes"]["gd1"]["gpu_utilization"], got["nodes"]["gd2"]["gpu_utilization"])
EOP
grep -q "^DEBUG: cgroup keys: no jobtel memory peak on some node" "$T/stop.dbg" \
    || fail "job $STOP_JOB: cgroup keys not asked again over the run: $(grep 'cgroup keys' "$T/stop.dbg")"
pass "exact counters with an exporter stopped before the last hour: the whole run is asked, every GPU kept"

# The same 3-day job with jobtel's series: the cgroup keys come from the last hour (used memory from the
# daemon's memory peak), no query reaches further back than an hour, and the figures are Princeton's
# (exact_counters = false: the subqueries over the whole run) and the history's, to the byte for the
# four cgroup keys.
"$JOBSTATS" --config "$T/jobstats.conf" -d -f -j $EXACT_JOB >"$T/ex.json" 2>"$T/ex.dbg" || fail "-j $EXACT_JOB: $(cat "$T/ex.dbg")"
grep -q "^DEBUG: cgroup keys: from the last window" "$T/ex.dbg" || fail "job $EXACT_JOB: $(grep 'cgroup keys' "$T/ex.dbg")"
grep -q "^DEBUG: exact counters: every GPU" "$T/ex.dbg" || fail "job $EXACT_JOB: exact path not taken"
grep "^DEBUG: query: " "$T/ex.dbg" >"$T/ex.queries"
[ "$(wc -l <"$T/ex.queries")" = 6 ] || fail "job $EXACT_JOB: want 6 queries in one round: $(cat "$T/ex.queries")"
if grep -v "\[3600s\]" "$T/ex.queries" | grep -q .; then fail "job $EXACT_JOB: a query over more than the last hour: $(grep -v '\[3600s\]' "$T/ex.queries")"; fi
"$JOBSTATS" --config "$T/princeton.conf" -f -j $EXACT_JOB >"$T/ex.princeton.json" 2>"$T/ex.err" \
    || fail "fast_queries = false -j $EXACT_JOB: $(cat "$T/ex.err")"
"$JOBSTATS" --config "$T/noexact.conf" -f -j $EXACT_JOB >"$T/ex.noexact.json" 2>"$T/ex.err" \
    || fail "exact_counters = false -j $EXACT_JOB: $(cat "$T/ex.err")"
"$PY" - "$T/expect.json" "$T/ex.json" "$T/ex.princeton.json" "$T/ex.noexact.json" <<'EOP' || fail "job $EXACT_JOB: cgroup figures differ"
import json, sys
exp = json.load(open(sys.argv[1]))["nodes"]
got, full, princeton = (json.load(open(f))["nodes"] for f in sys.argv[2:5])
assert sorted(got) == sorted(exp) == sorted(princeton), (got.keys(), princeton.keys())
for node in exp:
    for k in ("total_memory", "used_memory", "total_time", "cpus"):
        assert got[node][k] == princeton[node][k] == full[node][k], (node, k, got[node][k], princeton[node][k])
    assert got[node]["used_memory"] == exp[node]["used_memory"], (node, got[node]["used_memory"])
print("cgroup keys from the last hour:", {n: got[n]["used_memory"] for n in got})
EOP
pass "exact path: the cgroup keys from the last hour (jobtel's memory peak), Princeton's figures"

# A job older than Prometheus' retention, and one shorter than a sampling period: Princeton's messages.
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" -n 4243 >"$T/old.out" 2>"$T/old.err" || rc=$?
[ "$rc" = 1 ] || fail "job beyond retention: exit $rc, want 1"
cat >"$T/old.want" <<'EOW'
No data was found for job 4243. This is probably because it is too old
or it expired from Jobstats database. If you are not running this command on the
cluster where the job was run then use the -c option to specify the cluster.
If the run time was very short then try running "seff 4243".
EOW
diff -u "$T/old.want" "$T/old.err" || fail "job beyond retention: not Princeton's message"
[ ! -s "$T/old.out" ] || fail "job beyond retention printed a report: $(cat "$T/old.out")"
printf '#!/bin/sh\necho "Job ID: $1"\necho "CPU Efficiency: 95.00%% of 00:00:20 core-walltime"\n' >"$T/seff"
chmod 755 "$T/seff"
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" -n 4244 >"$T/short.out" 2>"$T/short.err" || rc=$?
[ "$rc" = 1 ] || fail "very short job: exit $rc, want 1 (as Princeton's)"
printf '\nRun time is very short so only providing seff output:\n\nJob ID: 4244\nCPU Efficiency: 95.00%% of 00:00:20 core-walltime\n\n' >"$T/short.want"
cmp -s "$T/short.want" "$T/short.out" || fail "very short job: $(diff -u "$T/short.want" "$T/short.out")"
rm "$T/seff"
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" -n 4244 >/dev/null 2>"$T/noseff.err" || rc=$?
[ "$rc" = 1 ] && grep -q "^No job statistics are available (" "$T/noseff.err" || fail "no seff: rc $rc $(cat "$T/noseff.err")"
pass "job beyond retention and very short job: Princeton's messages, exit 1"

# -B appends the batch script; jobtel stats is the same command.
"$JOBSTATS" --config "$T/jobstats.conf" -n -B $JOB | grep -q -- '#SBATCH --gres=gpu:4' || fail "-B: no batch script"
"$JOBTEL" stats --config "$T/jobstats.conf" -j $JOB | cmp -s - "$T/job.json" || fail "jobtel stats differs from jobstats -j"
pass "-B and jobtel stats"

# --- VictoriaMetrics: the same figures as Prometheus on the same data ------------------------------------
# Prometheus on the backfill of the very file VictoriaMetrics imported; each report of jobstats (-j of
# both jobs, fast and Princeton's query sets, and the text report) compared with VictoriaMetrics' line by
# line, numbers parsed: the two engines sum a mean in a different order, so Prometheus may answer
# 29.999999999999996 where VictoriaMetrics answers 30 (shown as 30.0 and 30 after Princeton's rounding).
if [ "$ENGINE" = vm ]; then
    start_prometheus_config 0 "$T/prom/prometheus.yml"
    wait_for 30 prom_is "count(cgroup_cpus{jobid=\"$JOB\"} @ $END)" 2 || fail "backfilled data not visible in Prometheus"
    sed "s|^prometheus_url = .*|prometheus_url = http://127.0.0.1:$PROM_PORT/|" "$T/jobstats.conf" >"$T/prom.conf"
    sed "s|^prometheus_url = .*|prometheus_url = http://127.0.0.1:$PROM_PORT/|" "$T/princeton.conf" >"$T/prom-princeton.conf"
    for j in $JOB $GPM_JOB; do
        for v in "jobstats.conf prom.conf -f -j" "princeton.conf prom-princeton.conf -f -j" "jobstats.conf prom.conf -f -n"; do
            set -- $v
            "$JOBSTATS" --config "$T/$1" "${@:3}" $j >"$T/vm.out" || fail "jobstats against VictoriaMetrics: ${*:3} $j"
            "$JOBSTATS" --config "$T/$2" "${@:3}" $j >"$T/prom.out" || fail "jobstats against Prometheus: ${*:3} $j"
            "$PY" - "$T/vm.out" "$T/prom.out" <<'EOP' || fail "job $j (${*:3}): VictoriaMetrics and Prometheus differ"
import re, sys
num = re.compile(r"-?\d+(?:\.\d+)?")
a, b = open(sys.argv[1]).read().splitlines(), open(sys.argv[2]).read().splitlines()
assert len(a) == len(b) and len(a) > 10, (len(a), len(b))
for x, y in zip(a, b):
    if num.sub("#", x) != num.sub("#", y) or [float(n) for n in num.findall(x)] != [float(n) for n in num.findall(y)]:
        sys.exit(f"VictoriaMetrics: {x!r}\nPrometheus:      {y!r}")
EOP
        done
    done
    stop_pid "$PROM_PID"
    pass "VictoriaMetrics: jobstats' figures equal Prometheus' on the same data, line by line"
fi

# --- a stored summary is used, and still works with the engine gone --------------------------------------
stop_pid "$ENGINE_PID"
COMMENT="JS1:$(cat "$T/job.b64")"
write_sacct
"$JOBSTATS" --config "$T/jobstats.conf" -d -n $JOB >"$T/stored.txt" 2>"$T/stored.err" || fail "stored summary: $(cat "$T/stored.err")"
# Princeton's report does not say where its figures came from; -d does (stderr).
grep -q "summary stored at job end" "$T/stored.err" || fail "stored summary not used"
grep -v "^DEBUG: " "$T/stored.txt" | diff - "$T/report.txt" >/dev/null || fail "report from the stored summary differs"
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" -f -n $JOB >/dev/null 2>"$T/force.err" || rc=$?
[ "$rc" = 1 ] || fail "-f with Prometheus down should fail"
pass "stored JS1 summary gives the same report with Prometheus down; -f ignores it"

# --- the shipped config file parses, its example notes too -------------------------------------------------
sed 's/^#note = /note = /' "$SRC/deploy/jobstats.conf" >"$T/shipped.conf"
rc=0
"$JOBSTATS" --config "$T/shipped.conf" not-a-job >/dev/null 2>"$T/shipped.err" || rc=$?
[ "$rc" = 2 ] && grep -q "is not a job id" "$T/shipped.err" || fail "deploy/jobstats.conf: $(cat "$T/shipped.err")"
pass "deploy/jobstats.conf and its example notes are valid"
