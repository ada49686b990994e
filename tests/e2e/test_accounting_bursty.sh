#!/bin/bash
# test_accounting_bursty.sh - the issue's bursty job (100 % for 3 s, 0 % for 27 s, repeated) scraped by a
# real Prometheus every 30 s. jobtel's exact figure, the busy counter's growth over the allocated counter's
# between Prometheus' first and last scrape, is the scenario's truth, 10 % +- 1 pp; Princeton's avg_over_time of the utilization gauge depends on
# where the scrapes fall, and is off by >= 10 pp in some scrape phase.
#
# The phase effect is computed from the test's own scrapes of every collection (the 30 phases a 30 s
# scraper could have, each fed the samples it would have taken), since one Prometheus has one phase
# that we do not choose. The fake reports utilization as NVML does, the busy share of its last 1 s
# sample period ("average": 1), so nothing here depends on how promptly a loaded machine collects:
# the figures are asserted against the scenario, never against the clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}"
# series_value FILE SERIES : the value of an exact series line (name and labels as served).
series_value() { awk -v s="$2" 'index($0, s " ") == 1 { print $NF }' "$1"; }

cat >"$T/scenario.json" <<'JSON'
{
  "schema": 1,
  "driver_version": "550.144.03",
  "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-b0000000-0000-4000-8000-000000000000",
     "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 81559,
     "values": {"gpu_util": {"timeline": [[0, 100], [3, 0]], "period": 30, "average": 1},
                "mem_util": 0, "memory_used_mib": 2048,
                "power_mw": {"timeline": [[0, 300000], [3, 100000]], "period": 30},
                "energy_mj": {"rate": "power_mw", "initial": 1000000000}}}
  ]
}
JSON
mkdir -p "$T/hpc"
printf '4242\n' >"$T/hpc/0"
export FAKE_NVML_SCENARIO="$T/scenario.json"
START=$(date +%s.%N)
export FAKE_NVML_START_EPOCH=$START
start_exporter_ephemeral exporter 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n \
    --hpc-job-mapping-dir="$T/hpc" --slurm.gpustat-dir=
wait_metrics "$PORT"

# A real Prometheus scraping every 30 s (kernel-picked port, retried if taken before it binds).
mkdir -p "$T/prom"
cat >"$T/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 30s
  evaluation_interval: 30s
scrape_configs:
  - job_name: jobtel
    scrape_interval: 30s
    scrape_timeout: 10s
    static_configs:
      - targets: ['127.0.0.1:$PORT']
YAML
promtool check config "$T/prom/prometheus.yml" >/dev/null || fail "bad prometheus config"
for attempt in 1 2 3; do
    PROM_PORT=$(free_port)
    start_bg "prometheus-$attempt" prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data-$attempt" \
        --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
    PROM_PID=$LAST_PID
    wait_for 15 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" && break
    stop_pid "$PROM_PID" || true
    [ "$attempt" = 3 ] && fail "prometheus did not start"
done

# Every collection as the test sees it: the collection's time and the job's utilization gauge.
J='jobid="4242"'
: >"$T/samples"
last=
polls=0
samples_of_prom() { prom_value "count_over_time(jobtel_job_gpu_busy_seconds_total{$J}[15m])"; }
deadline=$((SECONDS + 280))
while :; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Prometheus did not get 5 scrapes of the job's counters"
    if curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/m"; then
        ts=$(series_value "$T/m" 'jobtel_last_collection_timestamp_seconds{collector="gpu"}')
        u=$(awk -v k="nvidia_gpu_duty_cycle{$J," 'index($0, k) == 1 { print $NF }' "$T/m")
        if [ -n "$ts" ] && [ -n "$u" ] && [ "$ts" != "$last" ]; then
            echo "$ts $u" >>"$T/samples"
            last=$ts
        fi
    fi
    # Prometheus is asked every ~3 s only: the loop's business is to see every collection.
    if [ $((++polls % 10)) = 0 ]; then
        n=$(samples_of_prom || true)
        [ -n "$n" ] && [ "$n" -ge 5 ] && break
    fi
    sleep 0.2
done

# The exact figure from what Prometheus stored: the counters' deltas between its first and last scrape
# (whole 30 s periods apart). increase() would extrapolate each counter to the range's edges, clamped at
# its zero point, which is not the same factor for two counters that started with the job.
prom_query "jobtel_job_gpu_busy_seconds_total{$J}[15m]" >"$T/busy.json"
prom_query "jobtel_job_gpu_allocated_seconds_total{$J}[15m]" >"$T/alloc.json"
EXACT=$("$PY" - "$T/busy.json" "$T/alloc.json" <<'PYEOF'
import json, sys
def delta(f):
    v = json.load(open(f))["data"]["result"][0]["values"]
    return float(v[-1][1]) - float(v[0][1]), len(v)
(b, n), (a, m) = delta(sys.argv[1]), delta(sys.argv[2])
assert n == m and n >= 5 and a > 0
print(100 * b / a)
PYEOF
)
PRINCETON=$(prom_value "avg_over_time(nvidia_gpu_duty_cycle{$J}[15m:])")
[ -n "$EXACT" ] || fail "no exact figure from Prometheus"
[ -n "$PRINCETON" ] || fail "no Princeton figure from Prometheus"
# The 30 phases a 30 s scraper could have, from the test's own samples (scenario time mod 30).
"$PY" - "$T/samples" "$START" "$EXACT" "$PRINCETON" <<'PYEOF' || fail "bursty job figures"
import sys, collections
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
start, exact, princeton = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
by_phase = collections.defaultdict(list)
for ts, u in rows:
    by_phase[int((ts - start) % 30)].append(u)
# A phase counts once it was sampled in two periods; a loaded machine may miss some collections,
# which only leaves some phases out (each sample is still the GPU's reading at that phase).
phases = {p: sum(v) / len(v) for p, v in by_phase.items() if len(v) >= 2}
worst = max(phases, key=lambda p: abs(phases[p] - 10))
print(f"bursty job (truth 10 %): jobtel exact {exact:.2f} % from Prometheus at 30 s; "
      f"Princeton avg_over_time {princeton:.1f} % at this Prometheus' phase; "
      f"over {len(phases)} scrape phases Princeton reads {min(phases.values()):.1f} .. {max(phases.values()):.1f} %, "
      f"worst {phases[worst]:.1f} % at phase {worst} s ({len(rows)} collections seen)")
assert abs(exact - 10) <= 1, f"exact figure {exact} is not 10 +- 1 %"
assert phases, "no scrape phase sampled twice"
assert abs(phases[worst] - 10) >= 10, "no scrape phase puts Princeton's figure 10 pp off"
PYEOF
# The job's energy and memory are there too (their exactness is the unit test's: test_job_accounting).
grep -q "^jobtel_job_gpu_energy_joules_total{$J,gpu=\"0\"} " "$T/m" || fail "no energy counter"
grep -q "^jobtel_job_gpu_memory_peak_bytes{$J,gpu=\"0\"} $((2048 * 1048576))$" "$T/m" || fail "no memory peak"
validate "$T/m"
pass "bursty job: exact counters give the truth at a 30 s scrape interval; Princeton's average depends on the phase"
