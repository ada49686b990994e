#!/bin/bash
# test_accounting_slurm.sh - a job's exact accounting and timeline through a real job end: Slurm with
# accounting (munged, mariadbd, slurmdbd, slurmctld, slurmd), the exporter on a fake NVML whose GPU 0
# alternates 20 % / 100 W / 1980 MHz and 80 % / 300 W / 1410 MHz (power-capped) every 10 s and whose
# GPU 1 stays at 50 % / 200 W, a real Prometheus for Princeton's part of the summary.
#
# 1. The node epilog runs `jobtel epilog` then `jobtel job-record`: the job's record (totals and
#    timelines) lands in the records directory.
# 2. EpilogSlurmctld runs `jobtel summary --store --records-dir`: the AdminComment, decoded here
#    independently of jobtel, holds Princeton's keys and the "jobtel" key, whose exact utilization and
#    energy match the scenario's integrals over the job's recorded span (2 pp, 1 %), and whose per-GPU
#    timelines are in time order with every point's values within what the scenario gave over that
#    point's span (exactly the constant values on GPU 1). The node's CPU timeline ("cpu_tl", fed by the
#    cgroup collector) integrates to the job cgroup's own CPU counter (cpuacct) over a burst of CPU the
#    job spends between two reads of that counter, the job idle around them.
# 3. Prometheus stopped: `jobstats JOBID` prints the exact section from the stored summary, and
#    `jobstats --timeline JOBID` draws the stored timelines, the CPU row included.
#
# test_jobstats_slurm.sh covers the Princeton summary path (spool, retry, report equality); this one adds
# the node records, which make the stored report differ from a live one by design.
source "$SRC/tests/e2e/lib.sh"
source "$SRC/tests/e2e/slurm/cluster.sh"

JOBTEL_ABS=$(readlink -f "$JOBTEL")
JOBSTATS=$(dirname "$JOBTEL_ABS")/jobstats
HOST=$(hostname -s)

slurm_require
mkdir -p "$T/out" "$T/work" "$T/proc" "$T/spool" "$T/records"
chmod 1777 "$T/out" "$T/work"

START=$(date +%s.%N)
export FAKE_NVML_START_EPOCH=$START
cat >"$T/scenario.json" <<'EOS'
{"schema": 1, "gpus": [
 {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-21111111-2222-3333-4444-555555555550",
  "pci_bus_id": "00000000:07:00.0", "minor_number": 0, "memory_total_mib": 81559,
  "values": {"gpu_util": {"timeline": [[0, 20], [10, 80]], "period": 20, "average": 1},
             "mem_util": 10, "memory_used_mib": 4096,
             "power_mw": {"timeline": [[0, 100000], [10, 300000]], "period": 20},
             "energy_mj": {"rate": "power_mw", "initial": 1000000000},
             "clock_sm_mhz": {"timeline": [[0, 1980], [10, 1410]], "period": 20},
             "clocks_event_reasons": {"timeline": [[0, 0], [10, 4]], "period": 20}}},
 {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-21111111-2222-3333-4444-555555555551",
  "pci_bus_id": "00000000:08:00.0", "minor_number": 1, "memory_total_mib": 81559,
  "values": {"gpu_util": 50, "mem_util": 10, "memory_used_mib": 8192, "power_mw": 200000,
             "energy_mj": {"rate": "power_mw", "initial": 2000000000},
             "clock_sm_mhz": 1700, "clocks_event_reasons": 0}}]}
EOS

common=(--no-syslog --log.level=info --gpustat-dir "$T/gpustat" --hpc-dir "$T/hpc" --path.procfs "$T/proc")
slurm_write_wrapper "$T/prolog.sh" "$JOBTEL_ABS" prolog "${common[@]}"
# The node epilog as a site writes it: the mapping cleanup, other site work (2 s here: slurmctld runs
# EpilogSlurmctld beside the node epilogs, so the summary must wait for the record), then the job's
# record for the controller.
cat >"$T/epilog.sh" <<EOS
#!/bin/sh
'$JOBTEL_ABS' epilog $(printf "'%s' " "${common[@]}") 2>>'$T/epilog.log'
sleep 2
exec '$JOBTEL_ABS' job-record --socket='$T/acct.sock' --records-dir='$T/records' 2>>'$T/epilog.log'
EOS
chmod 755 "$T/epilog.sh"
cat >"$T/epilog_ctld.sh" <<EOS
#!/bin/sh
SLURM_CONF=$T/slurm/slurm.conf
export SLURM_CONF
exec $JOBTEL_ABS summary --store "\$SLURM_JOB_ID" --config $T/jobstats.conf --records-dir $T/records 2>>$T/epilog_ctld.log
EOS
chmod 755 "$T/epilog_ctld.sh"

trap 'rc=$?; set +e; slurm_down; (exit $rc); cleanup' EXIT
SLURM_ACCOUNTING=1 SLURM_CGROUP=1 SLURM_EPILOG_CTLD="$T/epilog_ctld.sh" slurm_up 2 "$T/prolog.sh" "$T/epilog.sh"
pass "Slurm with slurmdbd, node epilog with job-record, EpilogSlurmctld with --records-dir"

FAKE_NVML_SCENARIO="$T/scenario.json" start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" \
    --slurm.gpustat-dir="$T/gpustat" --hpc-job-mapping-dir="$T/hpc" --accounting.socket="$T/acct.sock" \
    --collector.cgroup.interval=2
# A Prometheus scraping the exporter every second, and the jobstats.conf for it (read by jobstats and by
# the EpilogSlurmctld script, at each job's end, so written before the jobs).
start_prometheus_jobstats jobtele2e

# --- the job: both GPUs until the daemon has accounted 45 s of it (two full periods of GPU 0) -------------
# It idles (a check every 0.5 s) but for one burst of CPU between the files burn and stop, which the test
# ends once the kernel has counted 3 s of it.
J=$(sbatch --parsable --gres=gpu:2 -c 1 --mem=100M -t 5 -D "$T/work" -o "$T/out/%j.out" \
    --wrap "for i in \$(seq 1200); do [ -e $T/out/release ] && break
        if [ -e $T/out/burn ]; then while [ ! -e $T/out/stop ]; do :; done; rm -f $T/out/burn; fi; sleep 0.5; done")
[ -n "$J" ] || fail "sbatch failed"
wait_for 60 sh -c "[ \"\$(squeue -h -j $J -o %T)\" = RUNNING ]" || fail "job $J did not start"
# The CPU burst, bracketed by the kernel's own counter of the job cgroup, read once the daemon has the job
# (its first reading, the timeline's baseline, is then before the first read, the job idle between).
JOBCG=/sys/fs/cgroup/cpuacct/slurm_$HOST/uid_$(id -u)/job_$J
wait_for 60 scrape_has "$EXPORTER_PORT" "^cgroup_cpu_total_seconds\\{jobid=\"$J\",step=\"\",task=\"\"\\} " ||
    fail "the daemon has no cgroup series of job $J"
[ -d "$JOBCG" ] || fail "no job cgroup at $JOBCG"
CPU0=$(cgroup_cpu_seconds "$JOBCG")
touch "$T/out/burn"
kernel_past() { "$PY" -c "import sys; sys.exit(0 if $(cgroup_cpu_seconds "$JOBCG") >= $1 else 1)"; }
wait_for 120 kernel_past "$CPU0 + 3" || fail "job $J got no CPU for 2 minutes"
touch "$T/out/stop"
wait_for 30 sh -c "[ ! -e $T/out/burn ]" || fail "job $J did not stop its CPU burst"
# series_at_least PREFIX MIN: the daemon's sample whose line starts with PREFIX is at least MIN (wait_for).
series_at_least() {
    local f v
    f=$(mktemp "$T/scrape.XXXXXX")
    curl -sf "http://127.0.0.1:$EXPORTER_PORT/metrics" -o "$f" || return 1
    v=$(awk -v s="$1" 'index($0, s) == 1 { print $NF }' "$f")
    [ -n "$v" ] && "$PY" -c "import sys; sys.exit(0 if float('$v') >= $2 else 1)"
}
allocated() { series_at_least "jobtel_job_gpu_allocated_seconds_total{jobid=\"$J\",gpu=\"1\"" "$1"; }
wait_for 180 allocated 45 || fail "the daemon did not account 45 s of job $J: $(grep "jobid=\"$J\"" "$T"/exporter*.log | head -3)"
# Princeton's part needs the job's GPU series in Prometheus for a few samples.
wait_for 60 prom_is "count(nvidia_gpu_duty_cycle{jobid=\"$J\"})" 2 || fail "Prometheus does not see job $J's GPUs"
CPU1=$(cgroup_cpu_seconds "$JOBCG")
# a daemon reading after that read, so the timeline covers the whole burst
wait_for 60 series_at_least "cgroup_cpu_total_seconds{jobid=\"$J\",step=\"\",task=\"\"}" "$CPU1" || fail "the daemon never read job $J's cgroup after the burst"
# The daemon's memory peak of the job (Princeton's used memory, RSS + shmem, over every collection).
wait_for 60 series_at_least "jobtel_job_memory_peak_bytes{jobid=\"$J\"" 1 || fail "no jobtel_job_memory_peak_bytes of job $J"
# The kernel's high-water mark of all the job's memory (cache included: at least RSS + shmem at any time),
# read until the job's cgroup goes.
MEMCG=/sys/fs/cgroup/memory/slurm_$HOST/uid_$(id -u)/job_$J
[ -r "$MEMCG/memory.max_usage_in_bytes" ] || fail "no memory cgroup at $MEMCG"
touch "$T/out/release"
KMAX=0
job_gone() {
    local v
    v=$(cat "$MEMCG/memory.max_usage_in_bytes" 2>/dev/null) && KMAX=$v
    [ -z "$(squeue -h -j "$J" 2>/dev/null)" ]
}
wait_for 60 job_gone || fail "job $J did not end"
[ "$KMAX" -gt 0 ] || fail "job $J's memory.max_usage_in_bytes never read"

# --- 1. the node's record ------------------------------------------------------------------------------------
wait_for 60 test -s "$T/records/$J/$HOST.json" || fail "no record from the node epilog: $(cat "$T/epilog.log" 2>/dev/null)"
pass "the node epilog wrote job $J's record ($(stat -c %s "$T/records/$J/$HOST.json") bytes)"

# --- 2. the stored summary ------------------------------------------------------------------------------------
wait_for 90 sh -c "sacct -n -X -P -j $J -o AdminComment | grep -qE '^(JS1:H4sI|js1b32:)'" \
    || fail "no summary stored for job $J: '$(sacct -n -X -P -j "$J" -o AdminComment)'; $(cat "$T/epilog_ctld.log" 2>/dev/null)"
sacct -n -X -P -j "$J" -o AdminComment >"$T/admin_comment.txt"
grep -q "exact accounting records of 1 node(s) folded in" "$T/epilog_ctld.log" \
    || fail "the summary was stored without the node's record: $(cat "$T/epilog_ctld.log")"
"$PY" - "$T/admin_comment.txt" "$T/records/$J/$HOST.json" "$HOST" "$START" "$T/summary.json" "$CPU0" "$CPU1" <<'EOP' || fail "stored summary of job $J does not match the scenario: $(cat "$T/summary.json" 2>/dev/null)"
import base64, gzip, json, math, sys
comment, record_file, host, start = open(sys.argv[1]).read().strip(), sys.argv[2], sys.argv[3], float(sys.argv[4])
# Decoded here as Princeton's tools do (JS1: base64) or as the lowercase base32 spelling reads.
if comment.startswith("JS1:"):
    raw = base64.b64decode(comment[4:])
else:
    b = comment[len("js1b32:"):].upper()
    raw = base64.b32decode(b + "=" * (-len(b) % 8))
summary = json.loads(gzip.decompress(raw))
json.dump(summary, open(sys.argv[5], "w"), indent=1)
print(f"AdminComment: {len(comment)} bytes ({comment[:7]}...)")
# Princeton's keys as jobstats made them from Prometheus (its node name is the scrape target's).
(pnode,) = summary["nodes"].values()
assert summary["gpus"] == 2 and set(pnode["gpu_utilization"]) == {"0", "1"}, "Princeton's keys"
rec = {g["gpu"]: g for g in json.load(open(record_file))["gpus"]}
jt = summary["jobtel"]
node = jt["nodes"][host]
assert set(node) == {"0", "1", "cpu_tl"}, node.keys()

# The scenario, in scenario time (wall - start).
def util0(t): return 20.0 if (t % 20) < 10 else 80.0
def power0(t): return 100.0 if (t % 20) < 10 else 300.0
def mean(f, a, b, step=0.01):
    n = max(1, int(round((b - a) / step)))
    return sum(f(a + (i + 0.5) * (b - a) / n) for i in range(n)) / n
def rng(f, a, b, step=0.05):
    vals = [f(a + i * step) for i in range(int((b - a) / step) + 1)]
    return min(vals), max(vals)

# Exact figures: the daemon integrated (last - alloc, last] (no gap in this job; the collection that first
# found the job credits it the interval that collection closed, so alloc is last - first plus that interval).
for gpu in ("0", "1"):
    r, g = rec[gpu], node[gpu]
    assert abs(g["alloc"] - r["allocated_s"]) < 1e-6 and 0 <= g["alloc"] - (r["last"] - r["first"]) <= 3, (g["alloc"], r)
    a, b = r["last"] - g["alloc"] - start, r["last"] - start
    want_u = mean(util0, a, b) if gpu == "0" else 50.0
    want_e = mean(power0, a, b) * (b - a) if gpu == "0" else 200.0 * (b - a)
    got_u, got_e = 100 * g["busy"] / g["alloc"], g["energy"]
    print(f"GPU {gpu}: exact utilization {got_u:.2f} % (scenario {want_u:.2f} %), energy {got_e:.1f} J "
          f"(scenario {want_e:.1f} J) over {g['alloc']:.1f} s")
    assert abs(got_u - want_u) <= 2.0, ("utilization", gpu, got_u, want_u)
    assert abs(got_e - want_e) <= 0.01 * want_e, ("energy", gpu, got_e, want_e)
    assert g["mem_peak"] == (4096 if gpu == "0" else 8192) << 20
assert abs(jt["energy_j"] - round(node["0"]["energy"] + node["1"]["energy"])) <= 1

# Timelines: the documented shape, in time order, every point within what the scenario gave over its span.
for gpu in ("0", "1"):
    tl = node[gpu]["tl"]
    assert tl["cols"] == ["util", "power", "mem", "sm", "clock", "throttle"], tl["cols"]
    assert isinstance(tl["t0"], int) and abs(tl["t0"] - (rec[gpu]["last"] - node[gpu]["alloc"])) <= 1.5, (tl["t0"], rec[gpu])
    pts, prev_end, covered = tl["pts"], 0, 0
    assert 8 <= len(pts) <= 100, len(pts)
    seen = set()
    for off, dur, util, power, mem, sm, clock, thr in pts:
        assert isinstance(off, int) and isinstance(dur, int) and off >= prev_end and 0 <= dur <= 8, (off, dur)
        prev_end, covered = off + dur, covered + dur
        a, b = tl["t0"] + off - start - 1.5, tl["t0"] + off + dur - start + 1.5
        assert mem == (4.0 if gpu == "0" else 8.0) and sm is None, (mem, sm)
        if gpu == "1":
            assert (util, power, clock, thr) == (50, 200, 1700, 0), (off, util, power, clock, thr)
            continue
        lo, hi = rng(util0, a, b)
        assert lo - 1 <= util <= hi + 1, ("util", off, dur, util, lo, hi)
        lo, hi = rng(power0, a, b)
        assert lo - 1 <= power <= hi + 1, ("power", off, dur, power, lo, hi)
        high = rng(lambda t: 1 if (t % 20) >= 10 else 0, a, b)
        if high == (1, 1):
            assert (clock, thr) == (1410, 100), ("power-capped phase", off, clock, thr)
        elif high == (0, 0):
            assert (clock, thr) == (1980, 0), ("free phase", off, clock, thr)
        else:
            assert 1410 <= clock <= 1980 and 0 <= thr <= 100, ("mixed point", off, clock, thr)
        seen.add(util)
    assert abs(covered - node[gpu]["alloc"]) <= 2, (covered, node[gpu]["alloc"])
    if gpu == "0":
        assert min(seen) <= 30 and max(seen) >= 70, ("the timeline does not show GPU 0's swings", sorted(seen))
    print(f"GPU {gpu}: {len(pts)} timeline points over {covered} s, utilization values {sorted(seen) if seen else 50}")
# The CPU timeline: cores x seconds over its points is the kernel's count of the burst (the job idle
# around it: a check every 0.5 s), within the rounding of its points (whole seconds, 0.01 core).
cpu0, cpu1 = float(sys.argv[6]), float(sys.argv[7])
ctl = node["cpu_tl"]
assert ctl["cols"] == ["cpu", "mem"] and isinstance(ctl["t0"], int), ctl
prev_end, used = 0, 0.0
for off, dur, cores, mem in ctl["pts"]:
    assert isinstance(off, int) and isinstance(dur, int) and off >= prev_end and dur >= 0, (off, dur)
    assert cores is None or 0 <= cores <= 4, cores
    assert mem is None or 0 <= mem < 1, mem
    prev_end = off + dur
    used += (cores or 0) * dur
kernel = cpu1 - cpu0
print(f"CPU timeline: {len(ctl['pts'])} points, {used:.2f} core-seconds; the job cgroup counted {kernel:.2f} s "
      f"of CPU between the reads around the burst")
assert 3 <= kernel and abs(used - kernel) <= 1.5 + 0.05 * kernel, ("CPU timeline vs cpuacct", used, kernel)
with open(sys.argv[5] + ".exact", "w") as f:
    f.write(f"{jt['gpu_util_exact']:.1f} {jt['energy_j'] / 3.6e6:.3f}\n")
EOP
pass "job $J's AdminComment holds the exact figures and the timelines of the scenario"

# Used memory in the summary came from the daemon's peak (the last hour, one sample): at least Princeton's
# subquery over the job's scrapes, at most the kernel's high-water mark of all the job's memory.
END_J=$(sacct -n -X -P -j "$J" -o End | head -1)
END_S=$(date -d "$END_J" +%s)
PRINCETON_MEM=$(prom_value "max_over_time(((cgroup_memory_rss_bytes{jobid=\"$J\",step=\"\",task=\"\"} + cgroup_memory_shmem_bytes{jobid=\"$J\",step=\"\",task=\"\"}) or 1*cgroup_memory_rss_bytes{jobid=\"$J\",step=\"\",task=\"\"})[$((END_S - ${START%.*} + 60))s:] @ $END_S)")
"$JOBSTATS" --config "$T/jobstats.conf" -d -f -j "$J" >"$T/live.json" 2>"$T/live.dbg" || fail "jobstats -f -j $J: $(cat "$T/live.dbg")"
grep -q "^DEBUG: cgroup keys: from the last window" "$T/live.dbg" || fail "job $J: cgroup keys not from jobtel's peak: $(grep 'cgroup keys' "$T/live.dbg")"
"$PY" - "$T/summary.json" "$PRINCETON_MEM" "$KMAX" "$T/live.json" <<'EOP' || fail "job $J: used memory not between Princeton's figure and the kernel's high-water mark"
import json, sys
(node,) = json.load(open(sys.argv[1]))["nodes"].values()
(live,) = json.load(open(sys.argv[4]))["nodes"].values()
got, princeton, kernel = node["used_memory"], float(sys.argv[2]), int(sys.argv[3])
print(f"used memory: {got} B from jobtel's peak; Princeton's query {princeton:.0f} B; kernel high-water {kernel} B")
assert 0 < princeton <= got <= kernel, (princeton, got, kernel)
assert live["used_memory"] == got, ("jobstats -f now and the summary at job end differ", live["used_memory"], got)
EOP
pass "job $J's used memory: jobtel's peak, between Princeton's sampled figure and the kernel's high-water mark"

# --- 3. Prometheus gone: the exact section from the stored summary ----------------------------------------
stop_pid "$PROM_PID"
"$JOBSTATS" --config "$T/jobstats.conf" -n "$J" >"$T/noprom.txt" 2>&1 || fail "no report without Prometheus: $(cat "$T/noprom.txt")"
cat "$T/noprom.txt"
read -r UTIL KWH <"$T/summary.json.exact"
grep -q "Exact GPU Accounting" "$T/noprom.txt" || fail "no exact section without Prometheus"
grep -qF "GPU utilization (exact)  $UTIL%" "$T/noprom.txt" || fail "exact utilization $UTIL% not in the report"
grep -qF "GPU energy               $KWH kWh" "$T/noprom.txt" || fail "energy $KWH kWh not in the report"
pass "Prometheus stopped: jobstats $J prints the exact section ($UTIL %, $KWH kWh) from the stored summary"
# --timeline draws the stored timelines (the format contract between jobtel summary and jobstats).
"$JOBSTATS" --config "$T/jobstats.conf" --timeline --ascii "$J" >"$T/timeline.txt" 2>&1 || fail "--timeline: $(cat "$T/timeline.txt")"
cat "$T/timeline.txt"
grep -qE "^  $HOST GPU 0 \|.*\| mean [0-9.]+ max 80\.0" "$T/timeline.txt" || fail "--timeline: no GPU 0 utilization line reaching 80 %"
grep -qE "^  $HOST GPU 1 \|.*\| mean 50\.0 max 50\.0" "$T/timeline.txt" || fail "--timeline: GPU 1 is not at 50 %"
awk -v h="$HOST" '/^CPU utilization/ { c = 1; next } /^$/ { c = 0 } c && $1 == h && /\| mean [0-9.]+ max [0-9.]+$/ { ok = 1 }
    END { exit !ok }' "$T/timeline.txt" || fail "--timeline: no CPU row for $HOST"
pass "Prometheus stopped: jobstats --timeline $J draws the stored timelines, the CPU row included"
stop_pid "$EXPORTER_PID"
