#!/bin/bash
# test_jobstats_exact.sh - jobstats on running jobs, from a real Prometheus scraping two exporters on fake
# GPUs (jobs from a mapping directory, no stored summary yet):
# - job 4343 on an exporter with the per-job accounting: its GPU figures come from jobtel's exact
#   counters (one query), joined to Princeton's per-minor-number keys, and Princeton's GPU queries are
#   not sent at all; the report prints the exact section, energy in kWh and CO2e with the site factor;
# - job 4344 on an exporter without it (--no-collector.gpu.accounting): Princeton's queries, same keys;
# - exact_counters = false gives Princeton's figures for job 4343, equal to the exact ones here (the
#   utilization is constant, so the 1 s integral and the 1 s scrapes agree).
# GPU 0 is power-capped (throttle seconds grow with held time). The minor numbers (3, 1) differ from the NVML ordinals (0, 1), so a join on the wrong label fails.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}"
JOBSTATS=$(dirname "$JOBTEL")/jobstats

cat >"$T/scenario.json" <<'JSON'
{
  "schema": 1,
  "driver_version": "550.144.03",
  "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-e0000000-0000-4000-8000-000000000000",
     "pci_bus_id": "00000000:18:00.0", "minor_number": 3, "memory_total_mib": 81559,
     "values": {"gpu_util": 50, "mem_util": 0, "memory_used_mib": 2048, "power_mw": 300000,
                "clocks_event_reasons": 4,
                "energy_mj": {"rate": "power_mw", "initial": 1000000000}}},
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-e0000001-0000-4000-8000-000000000000",
     "pci_bus_id": "00000000:2a:00.0", "minor_number": 1, "memory_total_mib": 81559,
     "values": {"gpu_util": 20, "mem_util": 0, "memory_used_mib": 4096, "power_mw": 100000,
                "energy_mj": {"rate": "power_mw", "initial": 5000000000}}}
  ]
}
JSON
export FAKE_NVML_SCENARIO="$T/scenario.json"
export FAKE_NVML_START_EPOCH=$(date +%s.%N)
mkdir -p "$T/hpc-a" "$T/hpc-b"
printf '4343\n' >"$T/hpc-a/0"
printf '4343\n' >"$T/hpc-a/1"
printf '4344\n' >"$T/hpc-b/0"
printf '4344\n' >"$T/hpc-b/1"
START=$(( $(date +%s) - 5 ))
common=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup --slurm.gpustat-dir=)
start_exporter_ephemeral exp-a 127.0.0.1:0 "${common[@]}" --hpc-job-mapping-dir="$T/hpc-a"
PORT_A=$PORT
start_exporter_ephemeral exp-b 127.0.0.1:0 "${common[@]}" --hpc-job-mapping-dir="$T/hpc-b" --no-collector.gpu.accounting
PORT_B=$PORT
wait_metrics "$PORT_A"
wait_metrics "$PORT_B"
start_prometheus 0 "127.0.0.1:$PORT_A" "127.0.0.1:$PORT_B"

cat >"$T/sacct" <<EOS2
#!/bin/sh
case " \$* " in
  *" -j 4343 "*) echo '4343|$START|Unknown|tc|billing=4,cpu=4,gres/gpu=2,mem=8G,node=1||alice|physics|RUNNING|1|4|8G|normal|gpu|60|live' ;;
  *" -j 4344 "*) echo '4344|$START|Unknown|tc|billing=4,cpu=4,gres/gpu=2,mem=8G,node=1||bob|physics|RUNNING|1|4|8G|normal|gpu|60|live' ;;
esac
exit 0
EOS2
chmod 755 "$T/sacct"
cat >"$T/jobstats.conf" <<EOF
prometheus_url = http://127.0.0.1:$PROM_PORT
sacct = $T/sacct
cluster_label = false
sampling_period = 1
co2_kg_per_kwh = 0.35
EOF
(grep -v co2 "$T/jobstats.conf"; echo "exact_counters = false") >"$T/princeton.conf"

# Enough scrapes of both jobs' series (1 s scrapes; polled, with a deadline).
wait_for 120 prom_is 'count(count_over_time(jobtel_job_gpu_allocated_seconds_total{jobid="4343"}[10m]) >= 5)' 2 \
    || fail "Prometheus did not store job 4343's exact counters"
wait_for 120 prom_is 'count(count_over_time(nvidia_gpu_duty_cycle{jobid="4344"}[10m]) >= 5)' 2 \
    || fail "Prometheus did not store job 4344's GPU series"
[ -z "$(prom_value 'count(jobtel_job_gpu_allocated_seconds_total{jobid="4344"})')" ] \
    || fail "the exporter without accounting exported exact counters"

# --- job 4343: exact counters ----------------------------------------------------------------------
"$JOBSTATS" --config "$T/jobstats.conf" -d -j 4343 >"$T/exact.json" 2>"$T/exact.dbg" || fail "-j 4343: $(cat "$T/exact.dbg")"
grep -q "^DEBUG: exact counters: every GPU, Princeton's GPU queries not needed" "$T/exact.dbg" || fail "exact path not taken: $(grep exact "$T/exact.dbg")"
if grep "^DEBUG: query:" "$T/exact.dbg" | grep -q "nvidia_gpu_duty_cycle\|nvidia_gpu_memory_used_bytes\|nvidia_gpu_.*\[[0-9]*s:\]"; then
    fail "Princeton's GPU queries (or a GPU subquery) were sent although every GPU has exact counters"
fi
[ "$(grep -c '^DEBUG: query:.*jobtel_job_gpu_' "$T/exact.dbg")" = 1 ] || fail "the exact totals are not one query"
"$PY" - "$T/exact.json" <<'EOP' || fail "job 4343's figures from the exact counters"
import json, sys
s = json.load(open(sys.argv[1]))
jt = s["jobtel"]
assert jt["source"] == "prometheus", jt
(node, gpus), = jt["nodes"].items()
g0, g1 = gpus["0"], gpus["1"]
for g in (g0, g1):
    assert g["alloc"] > 0 and g["busy"] <= g["alloc"], g
# The fake's utilization is constant: the integral is exact whatever the collections' timing.
assert abs(100 * g0["busy"] / g0["alloc"] - 50) < 1e-6 and abs(100 * g1["busy"] / g1["alloc"] - 20) < 1e-6, (g0, g1)
# Energy: power x held time, from the NVML energy counter's deltas (within 1 %).
assert abs(g0["energy"] - 300 * g0["alloc"]) <= 0.01 * 300 * g0["alloc"], g0
assert abs(g1["energy"] - 100 * g1["alloc"]) <= 0.01 * 100 * g1["alloc"], g1
assert g0["mem_peak"] == 2048 * 2**20 and g1["mem_peak"] == 4096 * 2**20, (g0, g1)
want = round(1000 * 100 * (g0["busy"] + g1["busy"]) / (g0["alloc"] + g1["alloc"])) / 1000
assert abs(jt["gpu_util_exact"] - want) < 1e-9, (jt["gpu_util_exact"], want)
assert jt["energy_j"] == round(g0["energy"] + g1["energy"]), jt
# Princeton's keys, by minor number (ordinal 0 is minor 3, ordinal 1 is minor 1).
(host, n), = s["nodes"].items()
assert n["gpu_utilization"] == {"3": 50, "1": 20}, n["gpu_utilization"]
assert n["gpu_used_memory"] == {"3": 2048 * 2**20, "1": 4096 * 2**20}, n["gpu_used_memory"]
assert n["gpu_total_memory"] == {"3": 81559 * 2**20, "1": 81559 * 2**20}, n["gpu_total_memory"]
print(f"job 4343 (exact): util {jt['gpu_util_exact']} %, energy {jt['energy_j']} J over {g0['alloc']:.1f}+{g1['alloc']:.1f} GPU-s")
EOP
# The JS1 payload keeps Princeton's keys first (readers that print the summary see them as before).
"$PY" -c 'import base64, gzip, json, sys
d = json.loads(gzip.decompress(base64.b64decode(sys.stdin.read().strip())))
assert list(d) == ["nodes", "total_time", "gpus", "jobtel"], list(d)' <<<"$("$JOBSTATS" --config "$T/jobstats.conf" -b 4343)" \
    || fail "-b: key order"
pass "running job with exact counters: one totals query, no Princeton GPU query, figures joined by minor number"

# The report: the exact section, energy in kWh and CO2e at the site's factor (Python's rounding, as
# Princeton's figures are rounded); the figures are the -j ones of a moment later, so they are read from
# a second -j taken right after the report and both must agree within the counters' growth.
"$JOBSTATS" --config "$T/jobstats.conf" -n 4343 >"$T/report.txt" 2>"$T/report.err" || fail "report 4343: $(cat "$T/report.err")"
"$JOBSTATS" --config "$T/jobstats.conf" -j 4343 >"$T/after.json"
grep -q "Exact GPU Accounting" "$T/report.txt" || fail "no exact section: $(cat "$T/report.txt")"
grep -qE "^      [^ ]+ GPU 0: 50\.0% [0-9.]+ kWh$" "$T/report.txt" || fail "GPU 0 exact line: $(cat "$T/report.txt")"
grep -qE "^      [^ ]+ GPU 1: 20\.0% [0-9.]+ kWh$" "$T/report.txt" || fail "GPU 1 exact line"
"$PY" - "$T/exact.json" "$T/after.json" "$T/report.txt" <<'EOP' || fail "energy / CO2e line"
import json, re, sys
e0 = json.load(open(sys.argv[1]))["jobtel"]["energy_j"]; e1 = json.load(open(sys.argv[2]))["jobtel"]["energy_j"]
line = [l for l in open(sys.argv[3]) if "GPU energy" in l][0]
m = re.match(r"^  GPU energy +([0-9.]+) kWh \(([0-9.]+) kg CO2e at 0\.350 kg/kWh\)$", line.rstrip("\n"))
assert m, line
kwh, kg = float(m.group(1)), float(m.group(2))
assert e0 / 3.6e6 - 0.0005 <= kwh <= e1 / 3.6e6 + 0.0005, (kwh, e0, e1)
# CO2e is the energy times the factor, rounded as Python's round(x, 2) (ties to even).
assert any(m.group(2) == "%.2f" % round(e / 3.6e6 * 0.35, 2) for e in range(int(e0), int(e1) + 1)), (kg, e0, e1)
print("report:", line.strip())
EOP
pass "report of the running job: exact section, kWh and CO2e at the configured factor"

# --- job 4344: no exact counters: Princeton's queries ------------------------------------------------
"$JOBSTATS" --config "$T/jobstats.conf" -d -j 4344 >"$T/princeton.json" 2>"$T/princeton.dbg" || fail "-j 4344: $(cat "$T/princeton.dbg")"
grep -q "^DEBUG: exact counters: none, Princeton's GPU queries" "$T/princeton.dbg" || fail "fallback not said"
grep "^DEBUG: query:" "$T/princeton.dbg" | grep -q "nvidia_gpu_duty_cycle" || fail "no Princeton GPU query in the fallback"
"$PY" - "$T/princeton.json" <<'EOP' || fail "job 4344's figures from Princeton's queries"
import json, sys
s = json.load(open(sys.argv[1]))
assert "jobtel" not in s, s
(host, n), = s["nodes"].items()
assert n["gpu_utilization"] == {"3": 50, "1": 20}, n
assert n["gpu_used_memory"] == {"3": 2048 * 2**20, "1": 4096 * 2**20}, n
EOP
"$JOBSTATS" --config "$T/princeton.conf" -j 4343 >"$T/forced.json" || fail "exact_counters = false"
"$PY" - "$T/forced.json" "$T/exact.json" <<'EOP' || fail "exact_counters = false"
import json, sys
f, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert "jobtel" not in f, f
assert f["nodes"] == e["nodes"], (f["nodes"], e["nodes"])
EOP
pass "no exact counters (and exact_counters = false): Princeton's queries, the same keys and figures"

# --- the running job's timeline and HTML page from Prometheus (no stored summary) ----------------------
LANG=C.UTF-8 LC_ALL=C.UTF-8 "$JOBSTATS" --config "$T/jobstats.conf" --timeline 4343 >"$T/tl.txt" 2>"$T/tl.err" || fail "--timeline: $(cat "$T/tl.err")"
cat "$T/tl.txt"
"$PY" - "$T/tl.txt" <<'EOP' || fail "--timeline from Prometheus"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[0].startswith("Timeline of job 4343 (Prometheus): "), lines[0]
def row(section, label):
    i = lines.index(next(l for l in lines if l.startswith(section)))
    r = next(l for l in lines[i + 1:] if l.strip().startswith(label))
    return r.split("|")[1]
# Constant 50 % and 20 %: every known column is the block of that level (int(v / 100 * 8)): 4 and 1.
# Before the exporters' first scrape Prometheus has nothing: those columns are gaps, never zero.
u0, u1 = row("GPU utilization", "127.0.0.1 GPU 0"), row("GPU utilization", "127.0.0.1 GPU 1")
assert set(u0) <= {"\u2585", "\u00b7"} and "\u2585" in u0, u0
assert set(u1) <= {"\u2582", "\u00b7"} and "\u2582" in u1, u1
assert u0[0] == "\u00b7", ("the first column (before any scrape) should be a gap", u0)
p0, p1 = row("GPU power", "127.0.0.1 GPU 0"), row("GPU power", "127.0.0.1 GPU 1")
assert set(p0) <= {"\u2588", "\u00b7"} and set(p1) <= {"\u2583", "\u00b7"}, (p0, p1)  # 300 W scale: 100 W is level 2
# GPU 0 is power-capped all along (SwPowerCap): its throttle counter grows at 1 s/s. A rate() needs two
# samples in its window, so the window is at least two sampling periods even where the step is shorter.
t0 = row("Throttled", "127.0.0.1 GPU 0")
assert t0.count("\u2588") >= 5 and set(t0) <= {"\u2588", "\u2587", "\u00b7"}, t0
EOP
"$JOBSTATS" --config "$T/jobstats.conf" --html "$T/live.html" 4343 2>"$T/live.err" || fail "--html from Prometheus: $(cat "$T/live.err")"
grep -q 'data-chart="heatmap" data-metric="util" data-rows="2"' "$T/live.html" || fail "--html from Prometheus: no 2-row utilization heatmap"
grep -q 'Exact GPU Accounting' "$T/live.html" || fail "--html from Prometheus: no report figures"
pass "running job: --timeline and --html from Prometheus (query_range), gaps before the first scrape"
