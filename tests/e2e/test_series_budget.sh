#!/bin/bash
# test_series_budget.sh - the series an 8-GPU node serves, and the series one job's end creates and removes,
# held to the budget docs/scaling.md writes down (issue 17).
#
# One exporter per setting of the switches (--collector.gpu.job-labels, --collector.gpu.fields, the name
# sets) runs on the same node: the fake NVML's DGX H100 with GPM, mapping directories as `jobtel prolog`
# writes them (both formats), and a cgroup v2 tree with one Slurm job cgroup (steps batch, extern,
# interactive and 0, with tasks: tests/fixtures/cgroup_v2's job_301) per running job. The node goes through
# the states below; each exporter is polled until its scrape shows exactly the state's (GPU, job) pairs and
# cgroup jobs, and that scrape is counted. Every count must stay within the budget table of
# docs/scaling.md (read from the doc itself, so the two cannot drift), every state and setting must have a
# budget row, and with job-labels=info no GPU series may carry a job or pod label.
# SERIES_BUDGET_REPORT=FILE writes the measured tables (per family too) for the doc.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"
[ -e "$FAKE_NVML_LIB" ] || fail "no fake NVML at $FAKE_NVML_LIB"
SB="$PY $SRC/tests/e2e/series_budget.py"
DOC=$SRC/docs/scaling.md
REPORT=${SERIES_BUDGET_REPORT:-$T/report.md}

# The DGX H100 scenario with GPM values (real H100s have GPM), every timeline frozen at its first value: a
# GPU whose clock event reason changes mid-test would change nvidia_gpu_clock_event_reason's label and be
# counted as churn that no job caused.
"$PY" - "$SCENARIOS/dgx_h100.json" "$T/scenario.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
def freeze(v):
    if isinstance(v, dict) and "timeline" in v:
        return v["timeline"][0][1]
    return v
for d in [s] + s["gpus"]:
    vals = d.get("values", {})
    for k in list(vals):
        vals[k] = freeze(vals[k])
    for p in d.get("processes", []):
        p.pop("from", None)
        p.pop("until", None)
s["values"].update({"gpm_graphics_util": 85, "gpm_sm_util": 60, "gpm_sm_occupancy": 40, "gpm_integer_util": 10,
    "gpm_any_tensor_util": 55, "gpm_dram_bw_util": 33, "gpm_fp64_util": 1, "gpm_fp32_util": 20, "gpm_fp16_util": 12,
    "gpm_pcie_tx_mibps": 1500, "gpm_pcie_rx_mibps": 2500, "gpm_nvlink_total_tx_mibps": 300,
    "gpm_nvlink_total_rx_mibps": 200})
json.dump(s, open(sys.argv[2], "w"))
PY
export FAKE_NVML_SCENARIO="$T/scenario.json"

# The cgroup tree: the fixture's root and scope files, its jobs taken out; jobs are added per state.
cp -a "$FIXTURES/cgroup_v2" "$T/cg"
SCOPE=$T/cg/system.slice/slurmstepd.scope
rm -rf "$SCOPE"/job_* "$SCOPE"/s* "$T/cg/system.slice/node2_slurmstepd.scope"
JOB_TEMPLATE=$FIXTURES/cgroup_v2/system.slice/slurmstepd.scope/job_301
mkdir -p "$T/hpc" "$T/gpustat" "$T/proc" # an empty procfs: no job found through processes
# (the cgroup collector runs every second here instead of every 10: the counts are the same, the wait shorter)

# The settings measured: name and flags. docs/scaling.md's tables use these names.
SETTINGS=(default info dcgm-only jobstats-only minimal job-cgroups recommended large-site)
declare -A FLAGS=(
    [default]=""
    [info]="--collector.gpu.job-labels=info"
    [dcgm-only]="--no-collector.gpu.jobstats-names"
    [jobstats-only]="--no-collector.gpu.dcgm-names"
    [minimal]="--collector.gpu.fields=minimal"
    [job-cgroups]="--no-collector.cgroup.steps"
    [recommended]="--collector.gpu.fields=minimal --no-collector.cgroup.steps"
    [large-site]="--collector.gpu.fields=minimal --collector.gpu.job-labels=info --no-collector.cgroup.steps"
)
declare -A PORT EPID
for s in "${SETTINGS[@]}"; do
    # shellcheck disable=SC2086 # FLAGS are words
    start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --hostname=gpu-node-001 \
        --hpc-job-mapping-dir="$T/hpc" --slurm.gpustat-dir="$T/gpustat" --path.procfs="$T/proc" \
        --path.cgroupfs="$T/cg" --collector.cgroup.interval=1s ${FLAGS[$s]}
    PORT[$s]=$EXPORTER_PORT
    EPID[$s]=$EXPORTER_PID
done
# A real Prometheus scrapes the default and the info exporter: the joins docs/scaling.md gives for
# job-labels=info must return what the job labels give by default (checked in the shared state below).
mkdir -p "$T/prom"
cat >"$T/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: all
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs: [{targets: ['127.0.0.1:${PORT[default]}'], labels: {cluster: c1}}]
  - job_name: info
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs: [{targets: ['127.0.0.1:${PORT[info]}'], labels: {cluster: c1}}]
YAML
start_prometheus_config 0 "$T/prom/prometheus.yml"
# GPM values need two samples an interval apart: wait for a few GPU collections everywhere.
collections() {
    "$PY" "$SRC/tests/e2e/promtext.py" value "$1" 'jobtel_scrape_collector_collections_total{collector="gpu"}'
}
gpu_collected() {
    local f=$T/c-$1.txt
    curl -sf "http://127.0.0.1:$1/metrics" -o "$f" && [ "$(collections "$f")" -ge 3 ]
}
for s in "${SETTINGS[@]}"; do
    wait_for 60 gpu_collected "${PORT[$s]}" || fail "$s: no third GPU collection"
done

# --- states ------------------------------------------------------------------------------------------
# A state is "GPU:JOB ..." (a job on several GPUs is listed once per GPU). apply_state writes the mapping
# files and job cgroups for it, as prolog and slurmstepd would; EXPECT is what a scrape must then show.
declare -A STATE=(
    [idle]=""
    [one-per-gpu]="0:1001 1:1002 2:1003 3:1004 4:1005 5:1006 6:1007 7:1008"
    [one-per-gpu-next]="0:1101 1:1002 2:1003 3:1004 4:1005 5:1006 6:1007 7:1008"
    [shared]=""
    [shared-next]=""
    [node-job]=""
    [node-job-next]=""
)
# 8 jobs sharing the GPUs: job 200j runs on GPUs j..j+3 (mod 8), so every GPU has 4 jobs. -next: job
# 2001 (GPUs 0-3) ends and 2101 starts on the same GPUs. node-job: one job on all 8 GPUs, then the next.
for j in 1 2 3 4 5 6 7 8; do
    for k in 0 1 2 3; do
        g=$(((j - 1 + k) % 8))
        STATE[shared]+=" $g:200$j"
        STATE[shared-next]+=" $g:$([ "$j" = 1 ] && echo 2101 || echo "200$j")"
    done
done
for g in 0 1 2 3 4 5 6 7; do
    STATE[node-job]+=" $g:3001"
    STATE[node-job-next]+=" $g:3002"
done
ORDER=(idle one-per-gpu one-per-gpu-next shared shared-next node-job node-job-next)
# The job-end measurements: the state before and the state after.
CHURN=(one-per-gpu:one-per-gpu-next shared:shared-next node-job:node-job-next)

apply_state() {
    local pair g j jobs
    rm -f "$T/hpc"/* "$T/gpustat"/*
    for pair in ${STATE[$1]}; do
        g=${pair%%:*} j=${pair#*:}
        printf '%s\n' "$j" >>"$T/hpc/$g"
        printf '%s %s\n' "$j" "$((5000 + j % 100))" >>"$T/gpustat/$g"
    done
    # job cgroups come and go whole, by rename, from the trees made below
    jobs=$(for pair in ${STATE[$1]}; do echo "${pair#*:}"; done | sort -u)
    for d in "$SCOPE"/job_*; do
        [ -e "$d" ] || continue
        grep -qx "${d##*/job_}" <<<"$jobs" || mv "$d" "$T/jobs/"
    done
    for j in $jobs; do
        [ -d "$SCOPE/job_$j" ] || mv "$T/jobs/job_$j" "$SCOPE/"
    done
}
mkdir -p "$T/jobs"
for j in $(for st in "${!STATE[@]}"; do for p in ${STATE[$st]}; do echo "${p#*:}"; done; done | sort -u); do
    cp -a "$JOB_TEMPLATE" "$T/jobs/job_$j"
done

expected() {
    local pairs jobs
    pairs=$(for p in ${STATE[$1]}; do echo "$p"; done | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
    jobs=$(for p in ${STATE[$1]}; do echo "${p#*:}"; done | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//')
    echo "$pairs|$jobs"
}

# shows PORT WANT FILE : a fresh scrape into FILE shows exactly WANT.
shows() {
    curl -sf "http://127.0.0.1:$1/metrics" -o "$3.tmp" || return 1
    [ "$($SB state "$3.tmp")" = "$2" ] || return 1
    mv "$3.tmp" "$3"
}

# prom_series QUERY LABEL : "LABEL=value" of each series the query returns, sorted, with the value.
prom_series() {
    prom_query "$1" | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
if d["status"] != "success":
    sys.exit(1)
print(" ".join(sorted(r["metric"].get(sys.argv[1], "") + "=" + r["value"][1] for r in d["data"]["result"])))' "$2"
}
# same_answer Q_ALL Q_INFO LABEL_ALL LABEL_INFO : both queries give the same non-empty answer
same_answer() {
    local a b
    a=$(prom_series "$1" "$3") && b=$(prom_series "$2" "$4") && [ -n "$a" ] && [ "$a" = "$b" ]
}
prom_check_shared() {
    # Princeton's jobstats with GPU_EXPORTER_JOBID = False: the job is nvidia_gpu_jobId's value
    same_answer 'nvidia_gpu_memory_total_bytes{job="all",jobid="2004"}' \
        'nvidia_gpu_memory_total_bytes{job="info"} and nvidia_gpu_jobId{job="info"} == 2004' ordinal ordinal &&
    # one job's GPUs: the info series filtered to the job, then joined (one series a side)
    same_answer 'DCGM_FI_DEV_GPU_UTIL{job="all",hpc_job="2002"}' \
        'DCGM_FI_DEV_GPU_UTIL{job="info"} * on (cluster, instance, gpu) group_left (jobid) jobtel_gpu_job_info{job="info",jobid="2002"}' gpu gpu &&
    # every job at once, 4 jobs to a GPU: the info series on the many side
    same_answer 'avg by (hpc_job) (DCGM_FI_DEV_GPU_UTIL{job="all"})' \
        'avg by (jobid) (jobtel_gpu_job_info{job="info"} * on (cluster, instance, gpu) group_left () DCGM_FI_DEV_GPU_UTIL{job="info"})' hpc_job jobid &&
    same_answer 'count by (hpc_job) (DCGM_FI_DEV_FB_USED{job="all"})' \
        'count by (jobid) (jobtel_gpu_job_info{job="info"} * on (cluster, instance, gpu) group_left () DCGM_FI_DEV_FB_USED{job="info"})' hpc_job jobid
}

for st in "${ORDER[@]}"; do
    apply_state "$st"
    want=$(expected "$st")
    for s in "${SETTINGS[@]}"; do
        f=$T/$s.$st.txt
        wait_for 60 shows "${PORT[$s]}" "$want" "$f" ||
            fail "$s never showed state $st ($want); last: $($SB state "$f.tmp" 2>&1)"
    done
    if [ "$st" = shared ]; then
        wait_for 60 prom_check_shared || fail "with job-labels=info the joins of docs/scaling.md do not give what the job labels give"
    fi
done
# promtool and prometheus_client accept the largest scrapes of the new label schemes (the counts parse plainly)
for s in info large-site; do validate "$T/$s.shared.txt"; done

# --- info mode: no job or pod label on a GPU series; the info series carry them ------------------------
for s in info large-site; do
    for st in one-per-gpu shared node-job; do
        bad=$($SB joblabels "$T/$s.$st.txt")
        [ -z "$bad" ] || { echo "$bad" | head -n 5 >&2; fail "$s, $st: GPU series with job labels"; }
    done
    # one jobtel_gpu_job_info per (GPU, job), and the job on Princeton's jobId gauge of its GPU
    [ "$(count_series "$T/$s.shared.txt" jobtel_gpu_job_info)" = 32 ] || fail "$s: want 32 job info series (8 GPUs x 4 jobs)"
    expect_value "$T/$s.one-per-gpu.txt" \
        'jobtel_gpu_job_info{gpu="3",UUID="GPU-06b72b2d-f4a9-95cb-674e-52b83cb80449",jobid="1004",userid="5004"}' 1
    expect_value "$T/$s.one-per-gpu.txt" \
        'nvidia_gpu_jobId{minor_number="3",name="NVIDIA H100 80GB HBM3",ordinal="3",uuid="GPU-06b72b2d-f4a9-95cb-674e-52b83cb80449"}' 1004
done
# ... while the default puts the job on every GPU series, one copy per job on a shared GPU
[ "$(count_series "$T/default.shared.txt" DCGM_FI_DEV_GPU_UTIL)" = 32 ] || fail "default: want 32 GPU_UTIL series"
[ "$(count_series "$T/info.shared.txt" DCGM_FI_DEV_GPU_UTIL)" = 8 ] || fail "info: want 8 GPU_UTIL series"
expect_none "$T/default.shared.txt" jobtel_gpu_job_info
[ "$(count_series "$T/minimal.idle.txt" DCGM_FI_DEV_MEMORY_TEMP)" = 0 ] || fail "minimal: MEMORY_TEMP served"
[ "$(count_series "$T/minimal.idle.txt" nvidia_gpu_clock)" = 0 ] || fail "minimal: nvidia_gpu_clock served"
[ "$(count_series "$T/minimal.idle.txt" DCGM_FI_DEV_GPU_UTIL)" = 8 ] || fail "minimal: GPU_UTIL missing"
[ "$(count_series "$T/minimal.idle.txt" nvidia_gpu_duty_cycle)" = 8 ] || fail "minimal: duty cycle missing"
# without steps, one set of cgroup series per job (step="", task=""), and the job's owner still found
[ "$(count_series "$T/job-cgroups.one-per-gpu.txt" cgroup_cpus)" = 8 ] || fail "job-cgroups: want 8 cgroup_cpus"
[ "$(count_series "$T/default.one-per-gpu.txt" cgroup_cpus step=)" = 8 ] || fail "default: want 8 job-level cgroup_cpus"
expect_value "$T/job-cgroups.one-per-gpu.txt" 'cgroup_cpus{jobid="1004",step="",task=""}' \
    "$(value "$T/default.one-per-gpu.txt" 'cgroup_cpus{jobid="1004",step="",task=""}')"

# --- counts against the budget (and the report docs/scaling.md's tables come from) ---------------------
$SB measure "$DOC" "$T" "$REPORT" "${SETTINGS[*]}" "idle one-per-gpu shared node-job" "${CHURN[*]}" ||
    fail "series over (or without) the budget of docs/scaling.md (see above)"
for s in "${SETTINGS[@]}"; do stop_pid "${EPID[$s]}" || fail "$s: the exporter did not stop cleanly"; done
pass "series per node and churn per job end within docs/scaling.md's budget"
