#!/bin/bash
# test_exporter_prometheus.sh - a real Prometheus scrapes jobtel every second; when the scenario
# changes a GPU's utilization, /api/v1/query returns the new value under both name sets, with the
# expected labels. Proves Prometheus stores what jobtel serves. The change happens once Prometheus has
# stored the first value (the test rewrites the scenario), so a slow first scrape cannot miss it.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"

cat >"$T/scenario.json" <<JSON
{
  "schema": 1,
  "driver_version": "550.144.03",
  "values": {"mem_util": 10, "memory_used_mib": 1024, "temperature_c": 40, "power_mw": 100000},
  "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-aaaaaaaa-0000-4000-8000-000000000000",
     "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 81559,
     "values": {"gpu_util": 20}},
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-bbbbbbbb-0000-4000-8000-000000000001",
     "pci_bus_id": "00000000:2A:00.0", "minor_number": 1, "memory_total_mib": 81559,
     "values": {"gpu_util": 5}}
  ]
}
JSON
export FAKE_NVML_SCENARIO="$T/scenario.json"
start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup --hostname=node01
start_prometheus 0 "127.0.0.1:$EXPORTER_PORT"

wait_for 60 prom_is 'up{job="jobtel"}' 1 || fail "Prometheus never scraped jobtel"
wait_for 30 prom_is 'DCGM_FI_DEV_GPU_UTIL{gpu="0"}' 20 || fail "initial utilization not stored"

# Labels as stored: dcgm-exporter's set plus Prometheus' job/instance.
prom_query 'DCGM_FI_DEV_GPU_UTIL{gpu="0"}' >"$T/q.json"
"$PY" - "$T/q.json" "127.0.0.1:$EXPORTER_PORT" <<'PYEOF' || fail "stored labels differ"
import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
assert len(r) == 1, r
m = r[0]["metric"]
want = {"__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": "0", "UUID": "GPU-aaaaaaaa-0000-4000-8000-000000000000",
        "pci_bus_id": "00000000:18:00.0", "device": "nvidia0", "modelName": "NVIDIA H100 80GB HBM3",
        "hostname": "node01", "DCGM_FI_DRIVER_VERSION": "550.144.03", "instance": sys.argv[2], "job": "jobtel"}
assert m == want, m
PYEOF

# The change: both name sets follow, the other GPU does not.
scenario_edit "$T/scenario.json" 's["gpus"][0]["values"]["gpu_util"] = 85'
wait_for 60 prom_is 'DCGM_FI_DEV_GPU_UTIL{gpu="0"}' 85 || fail "changed utilization not seen"
[ "$(prom_value 'nvidia_gpu_duty_cycle{uuid="GPU-aaaaaaaa-0000-4000-8000-000000000000",minor_number="0",ordinal="0",name="NVIDIA H100 80GB HBM3"}')" = 85 ] \
    || fail "Princeton name did not follow"
[ "$(prom_value 'DCGM_FI_DEV_GPU_UTIL{gpu="1"}')" = 5 ] || fail "GPU 1 should be unchanged"
# History: the series held 20 before the change, 85 after (the window reaches back past the test's start).
[ "$(prom_value 'min_over_time(DCGM_FI_DEV_GPU_UTIL{gpu="0"}[1h])')" = 20 ] || fail "history lost the old value"
[ "$(prom_value 'max_over_time(nvidia_gpu_duty_cycle{minor_number="0"}[1h])')" = 85 ] || fail "history max"
[ "$(prom_value 'nvidia_gpu_memory_used_bytes{minor_number="1"}')" = "$((1024 * 1048576))" ] || fail "memory used"
# Self metrics are stored too, and the target is healthy.
[ "$(prom_value 'jobtel_scrape_collector_success{collector="gpu"}')" = 1 ] || fail "collector success"
curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/targets" | grep '"health":"up"' >/dev/null || fail "target not healthy"
pass "Prometheus stores jobtel's GPU metrics and sees them change"
