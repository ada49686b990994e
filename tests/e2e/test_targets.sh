#!/bin/bash
# test_targets.sh - `jobtel targets` feeding a real Prometheus through file_sd, with the shipped
# deploy/prometheus/prometheus.yml (paths and the 30 s interval adapted to a test):
#  - a static host list: Prometheus scrapes the jobtel exporter (fake NVML) and a node_exporter,
#    up == 1 with the cluster/role/node labels, instance = the bare host, node_exporter's go_* dropped;
#  - a node added to the list shows up; unchanged content is not rewritten (same inode);
#  - a reader polling the file during many rewrites never sees a partial document;
#  - a missing, empty, failing, hanging or garbage-printing source keeps the last file, and says so
#    in the log and in jobtel_targets_source_up (read through node_exporter's textfile collector);
#  - the Slurm source against the test cluster (scontrol show nodes) lists its GPU node.
. "$(dirname "$0")/lib.sh"
source "$SRC/tests/e2e/slurm/cluster.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
TARGETS="$(dirname "$JOBTEL")/jobtel-targets"
for tool in prometheus promtool prometheus-node-exporter; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"
done

pick_port() { # a port the kernel just handed out, so free now
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- the shipped Prometheus configuration ---------------------------------------------------------
promtool check config "$SRC/deploy/prometheus/prometheus.yml" >"$T/promtool.log" 2>&1 \
    || { cat "$T/promtool.log"; fail "promtool check config rejects deploy/prometheus/prometheus.yml"; }
pass "promtool check config deploy/prometheus/prometheus.yml"

# --- exporters --------------------------------------------------------------------------------------
JPORT=$(pick_port)
FAKE_NVML_SCENARIO="$SCENARIOS/one_gpu.json" start_exporter "$JPORT" \
    --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup
SD=$T/sd
mkdir -p "$SD"
NPORT=$(pick_port)
start_bg node_exporter prometheus-node-exporter --web.listen-address="127.0.0.1:$NPORT" \
    --collector.disable-defaults --collector.textfile --collector.textfile.directory="$SD"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$NPORT/metrics" || fail "node_exporter did not start"
wait_for 10 scrape_has "$NPORT" "^go_goroutines " || fail "node_exporter has no go_* series: the drop rule would prove nothing"

# --- jobtel targets, static list, loop mode -------------------------------------------------------
printf '# GPU nodes\n127.0.0.1\n' >"$T/hosts"
start_bg targets "$TARGETS" --source=file --hosts-file="$T/hosts" --output="$SD/gpu.json" --cluster=testc \
    --jobtel-port="$JPORT" --node-exporter-port="$NPORT" --interval=0.2s --metrics-file="$SD/jobtel_targets.prom"
TARGETS_PID=$LAST_PID
wait_for 10 test -s "$SD/gpu.json" || fail "no file_sd file written"
"$PY" - "$SD/gpu.json" "$JPORT" "$NPORT" <<'PY' || fail "file_sd content: $(cat "$SD/gpu.json")"
import json, sys
groups = json.load(open(sys.argv[1]))
want = {("127.0.0.1:" + sys.argv[2], "jobtel"), ("127.0.0.1:" + sys.argv[3], "node")}
got = {(g["targets"][0], g["labels"]["__meta_jobtel_exporter"]) for g in groups}
assert got == want, got
for g in groups:
    assert g["labels"]["cluster"] == "testc" and g["labels"]["role"] == "gpu" and g["labels"]["node"] == "127.0.0.1", g
PY
[ "$(stat -c %a "$SD/gpu.json")" = 644 ] || fail "gpu.json mode $(stat -c %a "$SD/gpu.json"), want 644"
pass "file_sd JSON from a static list"

# --- Prometheus with the shipped configuration ----------------------------------------------------
PPORT=$(pick_port)
mkdir -p "$T/prom"
sed -e "s#/var/lib/jobtel/targets/#$SD/#" -e 's/^  scrape_interval: 30s/  scrape_interval: 1s/' \
    -e 's/^  scrape_timeout: 10s/  scrape_timeout: 1s/' -e "s/localhost:9090/127.0.0.1:$PPORT/" \
    "$SRC/deploy/prometheus/prometheus.yml" >"$T/prom/prometheus.yml"
grep -q "$SD/\*.json" "$T/prom/prometheus.yml" || fail "could not point the configuration at the test's file_sd dir"
promtool check config "$T/prom/prometheus.yml" >/dev/null || fail "adapted configuration rejected"
start_bg prometheus prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
    --web.listen-address="127.0.0.1:$PPORT" --log.level=warn
PROM_PORT=$PPORT
wait_for 15 curl -sf "http://127.0.0.1:$PPORT/-/ready" || fail "prometheus not ready"

wait_for 40 prom_is 'up{job="jobtel",cluster="testc",role="gpu",node="127.0.0.1",instance="127.0.0.1"}' 1 \
    || fail "jobtel target not up with its labels: $(prom_query 'up')"
wait_for 20 prom_is 'up{job="node",cluster="testc",role="gpu",node="127.0.0.1",instance="127.0.0.1"}' 1 \
    || fail "node_exporter target not up with its labels: $(prom_query 'up')"
wait_for 20 prom_is 'count(DCGM_FI_DEV_GPU_TEMP{job="jobtel",instance="127.0.0.1",cluster="testc"})' 1 \
    || fail "no GPU series through file_sd"
wait_for 20 prom_is 'jobtel_targets_source_up{job="node",source="file"}' 1 || fail "status metric not scraped"
[ "$(prom_query 'count({job="node",__name__=~"go_.*"})' | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))')" = 0 ] \
    || fail "go_* series of node_exporter were not dropped"
pass "Prometheus scrapes both exporters through file_sd: up == 1, labels cluster/role/node, go_* dropped"

# --- unchanged content is not rewritten -------------------------------------------------------------
ino=$(stat -c %i "$SD/gpu.json")
# The status file changes every run (its timestamp): see five more runs, then compare the inode.
last=""
for _ in 1 2 3 4 5; do
    wait_for 10 sh -c "[ \"\$(stat -c %i '$SD/jobtel_targets.prom')\" != '$last' ]" || fail "status file not rewritten"
    last=$(stat -c %i "$SD/jobtel_targets.prom")
done
[ "$(stat -c %i "$SD/gpu.json")" = "$ino" ] || fail "gpu.json rewritten although the node list did not change"
pass "unchanged node list: file not rewritten"

# --- a node added shows up; readers never see a partial document ------------------------------------
"$PY" - "$SD/gpu.json" "$T/reader.out" "$T/reader.stop" <<'PY' &
import json, os, sys
path, out, stop = sys.argv[1:]
reads = bad = 0
seen = set()
while not os.path.exists(stop):
    with open(path) as f:
        text = f.read()
    reads += 1
    try:
        seen.add(len(json.loads(text)))
    except ValueError:
        bad += 1
with open(out, "w") as f:
    f.write(f"{reads} {bad} {len(seen)}\n")
PY
READER=$!
PIDS+=("$READER")
printf '127.0.0.1\nlocalhost\n' >"$T/hosts"
wait_for 10 grep -q '"node": "localhost"' "$SD/gpu.json" || fail "added node not written"
for i in $(seq 1 16); do # ends with both nodes listed
    # Rename into place, so jobtel targets itself never reads a half-written list.
    if ((i % 2)); then printf '127.0.0.1\n' >"$T/hosts.new"; else printf '127.0.0.1\nlocalhost\n' >"$T/hosts.new"; fi
    mv "$T/hosts.new" "$T/hosts"
    if ((i % 2)); then
        wait_for 10 sh -c "! grep -q localhost '$SD/gpu.json'" || fail "node removal not written (round $i)"
    else
        wait_for 10 grep -q localhost "$SD/gpu.json" || fail "node addition not written (round $i)"
    fi
done
touch "$T/reader.stop"
wait "$READER" || fail "reader failed"
read -r reads bad versions <"$T/reader.out"
[ "$bad" = 0 ] || fail "a reader saw $bad partial documents in $reads reads"
[ "$versions" -ge 2 ] || fail "the reader saw only $versions version(s) of the file in $reads reads"
echo "reader: $reads reads, $versions versions, 0 partial"
wait_for 40 prom_is 'up{job="jobtel",cluster="testc",role="gpu",node="localhost",instance="localhost"}' 1 \
    || fail "added node not scraped: $(prom_query 'up{job="jobtel"}')"
pass "a node added shows up in Prometheus; no reader saw a partial file"

# --- failing sources keep the last good file --------------------------------------------------------
cp "$SD/gpu.json" "$T/good.json"
failures() { sed -n 's/^jobtel_targets_source_failures_total{[^}]*} //p' "$SD/jobtel_targets.prom"; }
f0=$(failures)
rm "$T/hosts"
wait_for 10 grep -q '^jobtel_targets_source_up{.*} 0$' "$SD/jobtel_targets.prom" || fail "source_up not 0 with the list gone"
wait_for 10 grep -q 'keeps its last good content' "$T/targets.log" || fail "no log line about keeping the file"
cmp -s "$SD/gpu.json" "$T/good.json" || fail "a missing host list changed the file"
: >"$T/hosts.new"
mv "$T/hosts.new" "$T/hosts"
wait_for 10 grep -q 'named no GPU node' "$T/targets.log" || fail "empty list not reported"
f1=$(failures)
[ "$f1" -gt "$f0" ] || fail "source failures did not count ($f0 -> $f1)"
cmp -s "$SD/gpu.json" "$T/good.json" || fail "an empty host list changed the file"
wait_for 20 prom_is 'jobtel_targets_source_up{job="node",instance="127.0.0.1",source="file"}' 0 || fail "Prometheus does not see source_up 0"
printf '127.0.0.1\nlocalhost\n' >"$T/hosts.new"
mv "$T/hosts.new" "$T/hosts"
wait_for 10 grep -q '^jobtel_targets_source_up{.*} 1$' "$SD/jobtel_targets.prom" || fail "source_up not back to 1"
stop_pid "$TARGETS_PID" || fail "jobtel targets exit status after SIGTERM"
pass "missing or empty list: last file kept, logged, source_up 0"

# Once mode with a command source: a hang (killed at the deadline), a failing and a garbage-printing
# command all keep the file and exit 1; a working command replaces it.
once() {
    "$TARGETS" --output="$SD/gpu.json" --cluster=testc --jobtel-port="$JPORT" --node-exporter-port="$NPORT" \
        --metrics-file="$SD/jobtel_targets.prom" "$@"
}
cp "$SD/gpu.json" "$T/good.json"
rc=0
once --source=command --source.timeout=1s -- /bin/sleep 600 >"$T/hang.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "hanging source: exit $rc, want 1"
grep -q 'did not finish within 1 s: killed' "$T/hang.log" || fail "hang not reported: $(cat "$T/hang.log")"
cmp -s "$SD/gpu.json" "$T/good.json" || fail "a hanging source changed the file"
rc=0
once --source=command -- /bin/sh -c 'echo dgx-9; exit 3' >"$T/fail.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'exited with status 3' "$T/fail.log" || fail "failing source: rc $rc, $(cat "$T/fail.log")"
cmp -s "$SD/gpu.json" "$T/good.json" || fail "a failing source changed the file"
rc=0
once --source=command -- /bin/echo '<html><body>502 Bad Gateway</body></html>' >"$T/garbage.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "garbage source: exit $rc"
cmp -s "$SD/gpu.json" "$T/good.json" || fail "a garbage-printing source changed the file"
grep -q '^jobtel_targets_source_up{.*} 0$' "$SD/jobtel_targets.prom" || fail "source_up not 0 after a failed once run"
rc=0
once --source=command --command.column=2 --command.skip-lines=1 -- /bin/printf 'Type Hostname\nNode 127.0.0.1\n' \
    >"$T/cmd.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "working command source: rc $rc $(cat "$T/cmd.log")"
grep -q '"node": "localhost"' "$SD/gpu.json" && fail "command source output not written"
rc=0
once --source=nonsense >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "usage error: exit $rc, want 2"
pass "hanging, failing and garbage sources keep the last file; a command source works"

# --- Slurm source against the test cluster ----------------------------------------------------------
# Not slurm_require: its port probe runs before slurm_up takes the machine-wide lock, so it fails
# while another worktree's cluster holds the ports; slurm_up waits for the lock instead.
for tool in munged slurmctld slurmd scontrol sinfo; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"
done
slurm_up 2 /bin/true /bin/true
HOST=$(hostname -s)
"$JOBTEL" targets --source=slurm --slurm.scontrol="$(command -v scontrol)" --output="$SD/slurm.json" \
    --cluster=jobtele2e --jobtel-port="$JPORT" --node-exporter-port=0 >"$T/slurm-targets.log" 2>&1 \
    || fail "jobtel targets --source=slurm failed: $(cat "$T/slurm-targets.log")"
slurm_down
"$PY" - "$SD/slurm.json" "$JPORT" "$HOST" <<'PY' || fail "slurm file_sd: $(cat "$SD/slurm.json")"
import json, sys
g = json.load(open(sys.argv[1]))
assert len(g) == 1, g
assert g[0]["targets"] == ["127.0.0.1:" + sys.argv[2]], g  # NodeAddr
assert g[0]["labels"] == {"__meta_jobtel_exporter": "jobtel", "cluster": "jobtele2e", "role": "gpu", "node": sys.argv[3]}, g
PY
wait_for 40 prom_is "up{job=\"jobtel\",cluster=\"jobtele2e\",node=\"$HOST\",instance=\"$HOST\"}" 1 \
    || fail "Slurm node not scraped: $(prom_query 'up{job="jobtel"}')"
pass "Slurm source: the cluster's GPU node, instance = its NodeName, up == 1"
