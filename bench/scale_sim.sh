#!/bin/bash
# scale_sim.sh - the scale simulation (bench/scale_sim.py) for one cluster size, one command:
#   bench/scale_sim.sh NODES [SPAN_HOURS] [BUILD_DIR]      e.g. bench/scale_sim.sh 1000 0.5
# (bench/run-all runs it for 100 nodes; its RESULT lines give VictoriaMetrics against Prometheus.)
# Takes a real jobtel exporter's /metrics (fake NVML with 8 H100s, a job on every GPU, the cgroup v2
# fixture tree), starts a fresh single-node VictoriaMetrics and a fresh Prometheus (remote-write receiver)
# on loopback, pushes NODES nodes' series at 30 s resolution over SPAN_HOURS ending now into each, and
# prints the measurements as JSON (docs/scaling.md explains them and how they scale to a day). The default
# span keeps a run within minutes on two cores: 2 h up to 100 nodes, 15 min up to 1,000, 3 min beyond.
# Needs victoria-metrics, prometheus, python3-yaml; a build with the fake NVML library.
set -euo pipefail
NODES=${1:?usage: bench/scale_sim.sh NODES [SPAN_HOURS] [BUILD_DIR]}
if [ -n "${2:-}" ]; then SPAN=$2
elif [ "$NODES" -le 100 ]; then SPAN=2
elif [ "$NODES" -le 1000 ]; then SPAN=0.25
else SPAN=0.05
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${3:-$SRC/build-ci}" && pwd)
export SRC JOBTEL=$BUILD/jobtel
FAKE_NVML_LIB=$BUILD/tests/fake_nvml/libnvidia-ml.so.1
[ -x "$JOBTEL" ] && [ -f "$FAKE_NVML_LIB" ] || { echo "build first: $JOBTEL, $FAKE_NVML_LIB" >&2; exit 1; }
source "$SRC/tests/e2e/lib.sh"
command -v prometheus >/dev/null || fail "prometheus not installed"

# The template: one real node's /metrics, jobs 301 (GPUs 0-3), 302 (4-5) and 401 (6-7), as in the fixture.
mkdir -p "$T/hpc" "$T/gpustat"
for g in 0 1 2 3 4 5 6 7; do
    case $g in 0 | 1 | 2 | 3) j=301 ;; 4 | 5) j=302 ;; *) j=401 ;; esac
    echo "$j" >"$T/hpc/$g"
    echo "$j 500$g" >"$T/gpustat/$g"
done
FAKE_NVML_SCENARIO="$SRC/tests/fake_nvml/scenarios/dgx_h100.json" start_exporter 0 \
    --collector.gpu.nvml-library="$FAKE_NVML_LIB" --hostname=tmplnode --hpc-job-mapping-dir="$T/hpc" \
    --slurm.gpustat-dir="$T/gpustat" --path.cgroupfs="$SRC/tests/fixtures/cgroup_v2" \
    --path.procfs="$SRC/tests/fixtures/cgroup_procfs"
# Every collector has reported once the cgroup series (collected every 10 s) are there.
wait_for 30 scrape_has "$EXPORTER_PORT" '^cgroup_cpus\{' || fail "the exporter never served cgroup series"
scrape "$EXPORTER_PORT" "$T/template.prom"
stop_pid "$EXPORTER_PID"

start_victoria
mkdir -p "$T/prom"
printf 'global:\n  scrape_interval: 30s\n  evaluation_interval: 30s\n' >"$T/prom/prometheus.yml"
start_port0 prometheus 60 prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
    --web.listen-address=127.0.0.1:0 --web.enable-remote-write-receiver --web.enable-admin-api --log.level=warn
PROM_PID=$LAST_PID
PROM_PORT=$LAST_PORT
wait_for 60 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" || fail "prometheus not ready"

"$PY" "$SRC/bench/scale_sim.py" "$T/template.prom" "$NODES" "$SPAN" \
    --vm "$VM_URL:$VM_PID:$T/vm" --prom "http://127.0.0.1:$PROM_PORT:$PROM_PID:$T/prom/data" \
    --jobstats "$BUILD/jobstats" --rules "$SRC/deploy/prometheus/rules" --workdir "$T" | tee "$T/result.json"
# bench/run-all's lines: VictoriaMetrics against Prometheus, fed the same samples in the same run.
source "$SRC/bench/result.sh"
"$PY" - "$T/result.json" "$NODES" <<'PY' | while read -r name v unit pv; do bench_result "$name" "$v" "$unit" "$pv" prometheus; done
import json, sys
r = json.load(open(sys.argv[1]))
e, n = r["engines"], sys.argv[2]
vm, pr = e.get("victoriametrics", {}), e.get("prometheus", {})
for key, unit in (("engine_cpu_s_per_million", "s"), ("bytes_per_sample", "B"), ("rss_after_ingest_mib", "MiB"),
                  ("rss_peak_queries_mib", "MiB"), ("jobstats_s", "s"), ("rules_total_s", "s")):
    if key in vm and key in pr:
        print("vm_%s_nodes%s %s %s %s" % (key, n, vm[key], unit, pr[key]))
PY
stop_pid "$VM_PID" || true
stop_pid "$PROM_PID" || true
