#!/bin/bash
# test_dashboards.sh - every Grafana panel query returns data from a real Prometheus fed by jobtel.
#
# Two exporters on the fake NVML (two GPUs: one busy, one allocated and idle, an XID on the busy one),
# each with mapping dirs naming jobs and a cgroup fixture tree (v1 on one node, v2 on the other), scraped
# every second by a Prometheus that also loads deploy/prometheus/rules. Then, with the dashboard
# variables substituted as Grafana would, each query of deploy/grafana/dashboards/*.json, of the
# variables' own queries, of the two peer dashboards (tests/fixtures/dashboards/peer_queries.tsv) and
# each recording rule must return a non-empty result. Also checks the dashboards' structure (datasource
# variable, no hard-coded datasource UID, current panel types) and the provisioning files.
#
# JOBTEL_ENGINE=vm (ctest e2e_test_dashboards_vm): a single-node VictoriaMetrics scrapes the same two
# exporters with the same scrape configuration (-promscrape.config) beside the Prometheus; every query
# is asked of VictoriaMetrics (each recording rule's expression, as vmalert would ask it, since single-node
# VictoriaMetrics evaluates no rules), must return data, and must return the very series Prometheus
# returns for it.
. "$(dirname "$0")/lib.sh"
ENGINE=${JOBTEL_ENGINE:-prometheus}
[ "$ENGINE" = prometheus ] || [ "$ENGINE" = vm ] || fail "JOBTEL_ENGINE=$ENGINE: want prometheus or vm"
: "${FAKE_NVML_LIB:?}"
command -v prometheus >/dev/null || fail "prometheus not installed"

if ! declare -F free_port >/dev/null; then
    # free_port : prints a TCP port the kernel just gave out on 127.0.0.1 (ephemeral; tiny reuse race).
    free_port() {
        "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    }
fi

cat >"$T/scenario.json" <<'JSON'
{
  "schema": 1,
  "driver_version": "550.144.03",
  "values": {"mem_util": 5, "memory_used_mib": 2000, "temperature_c": 45, "memory_temperature_c": 50,
             "power_mw": 300000, "energy_mj": {"rate": "power_mw", "initial": 100000000000},
             "clock_sm_mhz": 1980, "clock_mem_mhz": 2619, "remapped_rows_failure": 0,
             "gpm_graphics_util": 60, "gpm_sm_util": 55, "gpm_sm_occupancy": 30, "gpm_any_tensor_util": 40,
             "gpm_dram_bw_util": 25, "gpm_pcie_tx_mibps": 100, "gpm_pcie_rx_mibps": 200,
             "remapped_rows_corrected": 0, "remapped_rows_uncorrected": 0, "remapped_rows_pending": 0},
  "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-00000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0",
     "minor_number": 0, "memory_total_mib": 81559, "values": {"gpu_util": 70}},
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-11111111-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0",
     "minor_number": 1, "memory_total_mib": 81559, "values": {"gpu_util": 0}}
  ],
  "xid_events": [{"gpu": 0, "at": 0.5, "xid": 13}]
}
JSON
export FAKE_NVML_SCENARIO="$T/scenario.json"

# node N CGROUP_FIXTURE JOB_ON_GPU0 JOB_ON_GPU1 : mapping dirs as `jobtel prolog` writes them, and an exporter.
node() {
    local n=$1 cg=$2 j0=$3 j1=$4 port
    mkdir -p "$T/n$n/hpc" "$T/n$n/gpustat"
    printf '%s\n' "$j0" >"$T/n$n/hpc/0"
    printf '%s\n' "$j1" >"$T/n$n/hpc/1"
    printf '%s 5000\n' "$j0" >"$T/n$n/gpustat/0"
    printf '%s 5001\n' "$j1" >"$T/n$n/gpustat/1"
    port=$(free_port)
    start_exporter "$port" --collector.gpu.nvml-library="$FAKE_NVML_LIB" --hostname="node$n" \
        --hpc-job-mapping-dir="$T/n$n/hpc" --slurm.gpustat-dir="$T/n$n/gpustat" \
        --path.cgroupfs="$FIXTURES/$cg" --path.procfs="$FIXTURES/cgroup_procfs"
    NODE_PORTS+=("$port")
}
NODE_PORTS=()
node 1 cgroup_v1 101 102
node 2 cgroup_v2 301 302

# Prometheus with the shipped rules, a cluster label, and instance = host:port as Princeton's setup has.
PROM_PORT=$(free_port)
mkdir -p "$T/prom"
cp "$SRC"/deploy/prometheus/rules/*.rules.yml "$T/prom/"
cat >"$T/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['$T/prom/*.rules.yml']
scrape_configs:
  - job_name: jobtel
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:${NODE_PORTS[0]}', '127.0.0.1:${NODE_PORTS[1]}']
        labels: {cluster: testcluster}
YAML
promtool check config "$T/prom/prometheus.yml" >/dev/null || fail "bad prometheus config"
start_bg prometheus prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
PROM_PID=$LAST_PID
wait_for 20 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" || fail "prometheus not ready"

# Enough samples for rate() over the test's $__rate_interval, and the rules evaluated on them.
prom_count() { prom_query "$1" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))'; }
prom_count_is() { [ "$(prom_count "$1")" = "$2" ]; }
wait_for 60 prom_count_is 'count_over_time(up{job="jobtel"}[1h]) >= 6' 2 || fail "prometheus did not scrape both exporters"
wait_for 30 prom_count_is 'instance:jobtel_gpus_used:count' 2 || fail "recording rules not evaluated"
QUERY_PORT=$PROM_PORT
COMPARE_PORT=
if [ "$ENGINE" = vm ]; then
    # Prometheus' very configuration file: VictoriaMetrics' scraper refuses its rule_files and
    # evaluation_interval unless told to skip the fields it does not know.
    # -search.latencyOffset: VictoriaMetrics hides the newest 30 s from queries by default (for
    # samples still in flight from remote writers); the test asks for the last seconds, as a dashboard's
    # "now" does. docs/scaling.md tells sites the same.
    start_victoria -promscrape.config="$T/prom/prometheus.yml" -promscrape.config.strictParse=false \
        -search.latencyOffset=1s
    vm_count_is() {
        [ "$(curl -sf -G "$VM_URL/api/v1/query" --data-urlencode "query=$1" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))')" = "$2" ]
    }
    wait_for 60 vm_count_is 'count_over_time(up{job="jobtel"}[1h]) >= 6' 2 || fail "VictoriaMetrics did not scrape both exporters"
    QUERY_PORT=$VM_PORT
    COMPARE_PORT=$PROM_PORT
fi

"$PY" - "$SRC" "$QUERY_PORT" "$T" "$COMPARE_PORT" <<'PY' || fail "dashboard queries"
import glob, json, os, re, sys, time, urllib.parse, urllib.request
import yaml

src, port, tmp, cmp_port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
base = f"http://127.0.0.1:{port}/api/v1/"
bad, checked = [], 0

def api(path, base=base, **params):
    url = base + path + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as r:
        d = json.load(r)
    if d.get("status") != "success":
        raise RuntimeError(f"{path} {params}: {d}")
    return d["data"]

def run(expr, instant, base=base):
    now = time.time()
    if instant:
        return api("query", base=base, query=expr, time=now)["result"]
    return api("query_range", base=base, query=expr, start=now - 20, end=now, step=1)["result"]

def series(res):
    return sorted(sorted((k, v) for k, v in r["metric"].items() if k != "__name__") for r in res)

def check(where, expr, instant=False, want_data=True, compare_with=None):
    global checked
    checked += 1
    try:
        res = run(expr, instant)
    except Exception as e:  # a syntax error is as bad as no data
        bad.append(f"{where}: {expr}: {e}")
        return
    if want_data and not res:
        bad.append(f"{where}: no data: {expr}")
    if not want_data and res:
        bad.append(f"{where}: expected no data (update the fixture list): {expr}")
    if cmp_port:  # VictoriaMetrics: the very series Prometheus returns
        try:
            other = run(compare_with or expr, instant, base=f"http://127.0.0.1:{cmp_port}/api/v1/")
        except Exception as e:
            bad.append(f"{where}: Prometheus: {compare_with or expr}: {e}")
            return
        if series(res) != series(other):
            bad.append(f"{where}: VictoriaMetrics and Prometheus return different series for {expr}:\n"
                       f"    VM:   {series(res)}\n    Prom: {series(other)}")
        elif instant:
            # The same values, except where the engines differ by design on a young series (the two
            # started scraping seconds apart): Prometheus extrapolates rate()/increase() to the window's
            # edges and divides by the whole window, VictoriaMetrics takes the samples' own span
            # (docs/scaling.md). The fake's gauges are constant, so every other value is equal.
            key = lambda r: sorted((k, v) for k, v in r["metric"].items() if k != "__name__")
            for a, b in zip(sorted(res, key=key), sorted(other, key=key)):
                x, y = float(a["value"][1]), float(b["value"][1])
                if re.search(r"\b(i?rate|increase|delta|deriv)\(", expr) or (x != x and y != y):
                    continue
                if abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
                    bad.append(f"{where}: {expr}: VictoriaMetrics {x}, Prometheus {y} for {key(a)}")

# Grafana's built-ins as it would expand them for a 1 s scrape interval and a short range.
BUILTIN = {"__rate_interval": "1m", "__interval": "1s", "__range": "60s", "__range_s": "60", "interval": "1m"}

def subst(expr, values):
    def rep(m):
        name = m.group(1) or m.group(2)
        if name.isdigit():  # a label_replace group reference, which Grafana leaves alone
            return m.group(0)
        if name not in values:
            raise KeyError(name)
        return values[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", rep, expr)

def panels(d):
    for p in d.get("panels", []):
        yield p
        yield from p.get("panels", [])

# --- our dashboards: structure ------------------------------------------------------------------
dashdir = os.path.join(src, "deploy/grafana/dashboards")
ours = sorted(glob.glob(os.path.join(dashdir, "*.json")))
if len(ours) < 2:
    bad.append("expected the cluster and the job dashboard")
for f in ours:
    d = json.load(open(f))
    name = os.path.basename(f)
    vars_ = {v["name"]: v for v in d["templating"]["list"]}
    if vars_.get("datasource", {}).get("type") != "datasource":
        bad.append(f"{name}: no datasource variable")
    if d.get("schemaVersion", 0) < 36:
        bad.append(f"{name}: schemaVersion {d.get('schemaVersion')} is not current Grafana")
    for m in re.finditer(r'"uid":\s*"([^"]*)"', open(f).read()):
        if m.group(1) not in ("${datasource}", "-- Grafana --", d["uid"]):
            bad.append(f"{name}: hard-coded uid {m.group(1)}")
    for p in panels(d):
        if p["type"] == "row":
            continue
        if p["type"] in ("graph", "singlestat", "table-old"):
            bad.append(f"{name}: panel {p['title']}: deprecated type {p['type']}")
        if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            bad.append(f"{name}: panel {p['title']}: datasource is not the variable")
        if not p.get("targets"):
            bad.append(f"{name}: panel {p['title']}: no query")

# --- our dashboards: every query returns data ------------------------------------------------------
def label_values(q):
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
    if not m:
        raise ValueError(q)
    return m.group(1), m.group(2)

for f in ours:
    d = json.load(open(f))
    name = os.path.basename(f)
    qvars = [v for v in d["templating"]["list"] if v["type"] == "query"]
    if d["uid"] == "jobtel-job":
        cases = [{"jobid": "101"}, {"jobid": "301"}]  # cgroup v1 node and v2 node
    else:
        # "All" everywhere, then one node as picked from the variable (a GPU alone may rightly be empty:
        # the idle panel needs the idle GPU, the XID panels the busy one).
        one = api("series", **{"match[]": "DCGM_FI_DEV_GPU_UTIL", "start": time.time() - 30})[0]["instance"]
        cases = [{"cluster": "testcluster", "instance": ".*", "gpu": ".*"},
                 {"cluster": ".*", "instance": one, "gpu": ".*"}]
    for case in cases:
        vals = dict(BUILTIN, **case)
        for v in qvars:  # the variable's query must list values too
            sel, lbl = label_values(v["query"]["query"])
            sel = subst(sel, vals)
            checked += 1
            got = api("series", **{"match[]": sel, "start": time.time() - 30})
            if not any(lbl in s for s in got):
                bad.append(f"{name}: variable {v['name']}: no values for {lbl} in {sel}")
        for p in panels(d):
            for t in p.get("targets", []):
                try:
                    e = subst(t["expr"], vals)
                except KeyError as k:
                    bad.append(f"{name}: {p['title']}: unknown variable {k}")
                    continue
                check(f"{name} {case} {p['title']}", e, instant=t.get("instant", False))

# --- the peer dashboards users already have ----------------------------------------------------------
peer = os.path.join(src, "tests/fixtures/dashboards/peer_queries.tsv")
for line in open(peer):
    if line.startswith("#") or not line.strip():
        continue
    dash, title, status, expr = line.rstrip("\n").split("\t")
    if status in ("node_exporter", "gpfs"):
        continue
    for jobid in ("101", "301"):
        e = subst(expr, dict(BUILTIN, instance=".*", gpu=".*", JobID=jobid))
        check(f"{dash} {title} job {jobid}", e, want_data=(status == "jobtel"))

# --- recording rules on real data ---------------------------------------------------------------------
for f in glob.glob(os.path.join(src, "deploy/prometheus/rules/*.rules.yml")):
    for g in yaml.safe_load(open(f))["groups"]:
        for r in g["rules"]:
            if "record" in r and not cmp_port:
                check(f"recording rule", r["record"], instant=True)
            elif "record" in r:  # no rules in VictoriaMetrics: the expression, against Prometheus' record
                check(f"recording rule {r['record']}", r["expr"], instant=True, compare_with=r["record"])

# --- provisioning files -------------------------------------------------------------------------------
prov = os.path.join(src, "deploy/grafana/provisioning")
dp = yaml.safe_load(open(os.path.join(prov, "dashboards/jobtel.yaml")))
paths = {p["name"]: p["options"]["path"] for p in dp["providers"]}
if len(paths) < 2 or not all(p["type"] == "file" for p in dp["providers"]):
    bad.append(f"dashboard provisioning: want file providers for ours and the peers' dashboards: {paths}")
ds = yaml.safe_load(open(os.path.join(prov, "datasources/jobtel.yaml")))
if not any(d.get("type") == "prometheus" for d in ds["datasources"]):
    bad.append("datasource provisioning: no prometheus datasource")

for b in bad:
    print("  " + b, file=sys.stderr)
print(f"{checked} queries checked, {len(bad)} problems")
sys.exit(1 if bad else 0)
PY
[ "$ENGINE" = prometheus ] || stop_pid "$VM_PID" || true
stop_pid "$PROM_PID" || true
pass "dashboards: every panel query returns data ($ENGINE)"
