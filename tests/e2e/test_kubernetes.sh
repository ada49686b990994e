#!/bin/bash
# test_kubernetes.sh - pod attribution (-k) against a real gRPC kubelet stand-in (python3-grpcio serving
# the v1 pod-resources proto on a unix socket), and the JSON API: whole GPUs by UUID, shared replicas
# (UUID::N), MIG devices, an extra resource name with an "nvidiaN" id, a pod that goes away, a kubelet
# restart, RESOURCE_EXHAUSTED, a real Prometheus answering the orchestrator's query, windowed means,
# 404/400/503 and concurrent clients.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"
KUBE="$SRC/tests/e2e/kube"

mkdir -p "$T/gen"
"$PY" -m grpc_tools.protoc -I"$KUBE" --python_out="$T/gen" --grpc_python_out="$T/gen" "$KUBE/podresources.proto" \
    || fail "cannot generate the gRPC stubs (python3-grpc-tools)"

U0=GPU-00000000-0000-4000-8000-000000000000
U1=GPU-11111111-0000-4000-8000-000000000000
U2=GPU-22222222-0000-4000-8000-000000000000
U3=GPU-33333333-0000-4000-8000-000000000000
M1=MIG-aaaaaaaa-0000-4000-8000-000000000001
M2=MIG-aaaaaaaa-0000-4000-8000-000000000002
# GPU 0: a square wave 20/60; GPU 3: 10 until the test changes it to 90; GPU 2 has two MIG instances.
cat >"$T/scenario.json" <<JSON
{
  "schema": 1,
  "driver_version": "550.144.03",
  "values": {"gpu_util": 50, "mem_util": 5, "memory_used_mib": 1000, "temperature_c": 40, "power_mw": 100000},
  "gpus": [
    {"name": "G", "uuid": "$U0", "pci_bus_id": "00000000:18:00.0", "memory_total_mib": 1000,
     "values": {"gpu_util": {"timeline": [[0, 20], [0.5, 60]], "period": 1}}},
    {"name": "G", "uuid": "$U1", "pci_bus_id": "00000000:2A:00.0", "memory_total_mib": 1000},
    {"name": "G", "uuid": "$U2", "pci_bus_id": "00000000:3A:00.0", "memory_total_mib": 80000,
     "mig": {"mode": 1, "instances": [
       {"index": 0, "gpu_instance_id": 1, "profile": "3g.40gb", "uuid": "$M1", "memory_total_mib": 40000, "memory_used_mib": 100},
       {"index": 1, "gpu_instance_id": 2, "profile": "3g.40gb", "uuid": "$M2", "memory_total_mib": 40000, "memory_used_mib": 200}]}},
    {"name": "G", "uuid": "$U3", "pci_bus_id": "00000000:5D:00.0", "memory_total_mib": 1000,
     "values": {"gpu_util": 10}}
  ]
}
JSON

# set_state MODE [without-r2] : the kubelet's next answers.
set_state() {
    local mode=$1 r2=', {"name": "r2", "namespace": "team-b", "containers": [{"name": "c", "devices": [{"resource_name": "nvidia.com/gpu", "device_ids": ["'$U1'::1"]}]}]}'
    [ "${2:-}" = without-r2 ] && r2=
    cat >"$T/state.tmp" <<JSON
{"mode": "$mode", "hang_s": ${HANG_S:-3}, "pods": [
  {"name": "x", "namespace": "default", "containers": [
    {"name": "main", "devices": [{"resource_name": "nvidia.com/gpu", "device_ids": ["$U0"]}]},
    {"name": "sidecar", "devices": []}]},
  {"name": "no-gpu", "namespace": "default", "containers": [{"name": "app", "devices": [{"resource_name": "example.com/fpga", "device_ids": ["$U0", "0"]}]}]},
  {"name": "r1", "namespace": "team-b", "containers": [{"name": "c", "devices": [{"resource_name": "nvidia.com/gpu", "device_ids": ["$U1::0"]}]}]}
  $r2,
  {"name": "mig-a", "namespace": "ml", "containers": [{"name": "t", "devices": [{"resource_name": "nvidia.com/mig-3g.40gb", "device_ids": ["$M1"]}]}]},
  {"name": "mig-b", "namespace": "ml", "containers": [{"name": "t", "devices": [{"resource_name": "nvidia.com/mig-3g.40gb", "device_ids": ["$M2::3"]}]}]},
  {"name": "mig-idx", "namespace": "ml", "containers": [{"name": "t", "devices": [{"resource_name": "nvidia.com/mig-3g.40gb", "device_ids": ["2:1::0"]}]}]},
  {"name": "idx", "namespace": "default", "containers": [{"name": "main", "devices": [{"resource_name": "example.com/gpu", "device_ids": ["nvidia3"]}]}]}
]}
JSON
    mv "$T/state.tmp" "$T/state.json"
}
set_state ok

SOCK="$T/kubelet.sock"
# start_kubelet [SOCKET STATE] : the fake kubelet; sets KUBELET_PID.
start_kubelet() {
    local sock=${1:-$SOCK} state=${2:-$T/state.json}
    start_bg "kubelet-$(basename "$sock")" "$PY" "$KUBE/fake_kubelet.py" "$sock" "$T/gen" "$state"
    KUBELET_PID=$LAST_PID
    wait_for 30 test -S "$sock" || fail "fake kubelet did not create its socket"
}
start_kubelet

export FAKE_NVML_SCENARIO="$T/scenario.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n --collect.interval=250ms \
    --hpc-job-mapping-dir= --slurm.gpustat-dir= -k --kubernetes.pod-resources-socket="$SOCK" \
    --kubernetes.resource-names=example.com/gpu
P=$EXPORTER_PORT
EXPORTER_START=$(date +%s.%N)
wait_for 30 scrape_has $P 'pod="x"' || fail "pod labels never appeared"
scrape $P "$T/m.txt"
validate "$T/m.txt"

dl() { echo "gpu=\"$1\",UUID=\"$2\",pci_bus_id=\"$3\",device=\"nvidia$1\",modelName=\"G\",DCGM_FI_DRIVER_VERSION=\"550.144.03\""; }
# Whole GPU by UUID; container, namespace, pod after the DCGM label fields (dcgm-exporter's order).
grep -q "^DCGM_FI_DEV_GPU_UTIL{$(dl 0 $U0 00000000:18:00.0),container=\"main\",namespace=\"default\",pod=\"x\"} " "$T/m.txt" \
    || fail "GPU 0 lacks pod x in dcgm-exporter's label order"
[ "$(count_series "$T/m.txt" DCGM_FI_DEV_GPU_UTIL)" = 4 ] || fail "want 4 GPU_UTIL series: x, r1, r2, idx (a MIG parent has no utilization)"
# Shared replicas: one series per pod.
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 1 $U1 00000000:2A:00.0),container=\"c\",namespace=\"team-b\",pod=\"r1\"}" 50
expect_value "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 1 $U1 00000000:2A:00.0),container=\"c\",namespace=\"team-b\",pod=\"r2\"}" 50
expect_absent "$T/m.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 1 $U1 00000000:2A:00.0)}"
# An extra resource name with a device-name id.
expect_value "$T/m.txt" "DCGM_FI_DEV_FB_USED{$(dl 3 $U3 00000000:5D:00.0),container=\"main\",namespace=\"default\",pod=\"idx\"}" 1000
# MIG: by MIG UUID, and with a sharing suffix.
mig() { echo "gpu=\"2\",UUID=\"$U2\",pci_bus_id=\"00000000:3A:00.0\",device=\"nvidia2\",modelName=\"G\",GPU_I_PROFILE=\"3g.40gb\",GPU_I_ID=\"$1\",DCGM_FI_DRIVER_VERSION=\"550.144.03\""; }
expect_value "$T/m.txt" "DCGM_FI_DEV_FB_USED{$(mig 1),container=\"t\",namespace=\"ml\",pod=\"mig-a\"}" 100
expect_value "$T/m.txt" "DCGM_FI_DEV_FB_USED{$(mig 2),container=\"t\",namespace=\"ml\",pod=\"mig-b\"}" 200
# deviceIDStrategy=index: "<gpu>:<MIG slot>" (slot 1 is GI 2), shared with mig-b.
expect_value "$T/m.txt" "DCGM_FI_DEV_FB_USED{$(mig 2),container=\"t\",namespace=\"ml\",pod=\"mig-idx\"}" 200
[ "$(count_series "$T/m.txt" DCGM_FI_DEV_FB_USED)" = 8 ] || fail "want 8 FB_USED series: x, r1, r2, MIG parent, mig-a, mig-b, mig-idx, idx"
# A resource that is not a GPU never labels one; the Princeton names keep their schema, joined by the info gauge.
expect_none "$T/m.txt" '*' pod=no-gpu
grep -E '^nvidia_gpu_[a-z_]+\{.*pod=' "$T/m.txt" && fail "Princeton series must not carry pod labels"
expect_value "$T/m.txt" "jobtel_kubernetes_gpu_pod_info{gpu=\"0\",UUID=\"$U0\",container=\"main\",namespace=\"default\",pod=\"x\"}" 1
expect_value "$T/m.txt" "jobtel_kubernetes_gpu_pod_info{gpu=\"2\",UUID=\"$U2\",GPU_I_ID=\"2\",container=\"t\",namespace=\"ml\",pod=\"mig-b\"}" 1
expect_value "$T/m.txt" 'jobtel_kubernetes_pod_resources_up' 1
expect_value "$T/m.txt" 'jobtel_kubernetes_pod_resources_gpu_devices' 7
pass "pod labels: whole GPU, replicas, MIG, extra resource name"

# Once per collection, never per scrape: a second exporter that collects once (interval 1 h) answers 100
# scrapes with no further List call to its own kubelet.
MAIN_PID=$EXPORTER_PID MAIN_LOG=$EXPORTER_LOG MAIN_KUBELET=$KUBELET_PID
cp "$T/state.json" "$T/state1.json"
start_kubelet "$T/kubelet1.sock" "$T/state1.json"
KUBELET1_PID=$KUBELET_PID
start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n --collect.interval=1h \
    --hpc-job-mapping-dir= --slurm.gpustat-dir= -k --kubernetes.pod-resources-socket="$T/kubelet1.sock"
c0=$(wc -l <"$T/state1.json.calls")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$EXPORTER_PORT/metrics" || fail "scrape failed"; done
scrape "$EXPORTER_PORT" "$T/once.txt"
c1=$(wc -l <"$T/state1.json.calls")
[ "$c0" -ge 1 ] || fail "the first collection made no List call"
[ "$c1" = "$c0" ] || fail "$((c1 - c0)) List calls during 100 scrapes with no collection due: one per scrape?"
expect_value "$T/once.txt" "jobtel_kubernetes_gpu_pod_info{gpu=\"0\",UUID=\"$U0\",container=\"main\",namespace=\"default\",pod=\"x\"}" 1
stop_pid "$EXPORTER_PID"
stop_pid "$KUBELET1_PID" || true
EXPORTER_PID=$MAIN_PID EXPORTER_LOG=$MAIN_LOG KUBELET_PID=$MAIN_KUBELET
pass "one List call per collection"

# JSON API.
api() { # api PATH OUT : prints the HTTP status
    curl -s -o "$2" -w '%{http_code}' "http://127.0.0.1:$P$1"
}
jcheck() { # jcheck FILE PYEXPR : the parsed document d satisfies PYEXPR
    "$PY" -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if ($2) else 1)" || fail "$1: not ($2): $(cat "$1")"
}
[ "$(api /api/v1/gpus "$T/g.json")" = 200 ] || fail "/api/v1/gpus"
# The snapshot cannot be older than the exporter (the 200 itself says it is fresh).
uptime_s=$("$PY" -c "import time; print(time.time() - $EXPORTER_START)")
jcheck "$T/g.json" "len(d['gpus']) == 6 and 0 <= d['age_seconds'] <= $uptime_s"
jcheck "$T/g.json" "[g['uuid'] for g in d['gpus'] if g['mig'] is None] == ['$U0', '$U1', '$U2', '$U3']"
jcheck "$T/g.json" "d['gpus'][0]['pods'] == [{'namespace': 'default', 'pod': 'x', 'container': 'main'}]"
jcheck "$T/g.json" "d['gpus'][0]['memory_used_bytes'] == 1000 * 2**20 and d['gpus'][0]['memory_total_bytes'] == 1000 * 2**20"
jcheck "$T/g.json" "d['gpus'][0]['power_watts'] == 100 and d['gpus'][0]['model'] == 'G' and d['gpus'][0]['up']"
jcheck "$T/g.json" "sorted(p['pod'] for p in d['gpus'][1]['pods']) == ['r1', 'r2']"
jcheck "$T/g.json" "d['gpus'][3]['mig'] == {'gpu_instance_id': '1', 'uuid': '$M1', 'profile': '3g.40gb'} and d['gpus'][3]['utilization_percent'] is None"
[ "$(api /api/v1/pods/ml/mig-b "$T/p.json")" = 200 ] || fail "MIG pod"
jcheck "$T/p.json" "len(d['gpus']) == 1 and d['gpus'][0]['mig']['gpu_instance_id'] == '2' and d['gpus'][0]['utilization_percent_mean'] is None"
[ "$(api /api/v1/pods/default/nobody "$T/e.json")" = 404 ] || fail "unknown pod must be 404"
jcheck "$T/e.json" "d['status'] == 404 and 'error' in d"
[ "$(api /api/v1/pods/default/no-gpu "$T/e.json")" = 404 ] || fail "a pod without GPUs must be 404"
[ "$(api '/api/v1/pods/default/x?window=abc' "$T/e.json")" = 400 ] || fail "bad window must be 400"
[ "$(api '/api/v1/pods/default/x?window=-5s' "$T/e.json")" = 400 ] || fail "negative window must be 400"
[ "$(api /api/v1/pods/default "$T/e.json")" = 400 ] || fail "missing pod must be 400"
[ "$(api /api/v1/nothing "$T/e.json")" = 404 ] || fail "unknown API path must be 404"
jcheck "$T/e.json" "d['status'] == 404"
pass "JSON API: gpus, MIG pod, 404, 400"

# Concurrent clients: 40 at once, every answer valid JSON naming pod x's GPU.
CLIENTS=()
for i in $(seq 40); do
    curl -s -o "$T/c$i.json" -w '%{http_code}\n' "http://127.0.0.1:$P/api/v1/pods/default/x?window=5s" >"$T/c$i.code" &
    CLIENTS+=($!)
done
wait "${CLIENTS[@]}" # not a bare wait: that would wait for the daemons too
for i in $(seq 40); do
    [ "$(cat "$T/c$i.code")" = 200 ] || fail "concurrent client $i: HTTP $(cat "$T/c$i.code")"
    jcheck "$T/c$i.json" "d['gpus'][0]['uuid'] == '$U0'"
done
pass "40 concurrent API clients"

# A real Prometheus answers the orchestrator's query with the pod's GPU.
start_prometheus 0 "127.0.0.1:$P"
wait_for 60 prom_is "count(DCGM_FI_DEV_GPU_UTIL{namespace=\"default\",pod=\"x\"})" 1 || fail "Prometheus: no series for pod x"
prom_query "DCGM_FI_DEV_GPU_UTIL{namespace=\"default\",pod=\"x\"}" >"$T/q.json"
jcheck "$T/q.json" "d['data']['result'][0]['metric']['UUID'] == '$U0' and d['data']['result'][0]['metric']['container'] == 'main'"
wait_for 30 prom_is "count(DCGM_FI_DEV_GPU_UTIL{namespace=\"team-b\"})" 2 || fail "Prometheus: want the two replicas"
pass "Prometheus: DCGM_FI_DEV_GPU_UTIL{namespace=\"default\",pod=\"x\"}"

# A pod goes away.
set_state ok without-r2
wait_for 30 scrape_lacks $P '*' pod=r2 || fail "r2's labels stayed"
wait_for 30 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$P/api/v1/pods/team-b/r2) = 404 ]" \
    || fail "API still lists r2"
scrape $P "$T/m2.txt"
validate "$T/m2.txt"
expect_value "$T/m2.txt" "DCGM_FI_DEV_GPU_UTIL{$(dl 1 $U1 00000000:2A:00.0),container=\"c\",namespace=\"team-b\",pod=\"r1\"}" 50
pass "a pod that goes away loses its labels"

# The kubelet restarts: labels go while it is away, and come back.
stop_pid "$KUBELET_PID" || true
rm -f "$SOCK"
down_since=$SECONDS
wait_for 30 scrape_has $P '^jobtel_kubernetes_pod_resources_up 0' || fail "kubelet down not reported"
wait_for 30 scrape_lacks $P '*' pod=x || fail "labels must go with the kubelet"
scrape $P "$T/m3.txt"
validate "$T/m3.txt"
value "$T/m3.txt" 'jobtel_kubernetes_pod_resources_errors_total{code="transport"}' >/dev/null || fail "no transport error counted"
expect_value "$T/m3.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
expect_value "$T/m3.txt" "DCGM_FI_DEV_FB_USED{$(dl 1 $U1 00000000:2A:00.0)}" 1000
grep -q 'pod-resources List on .* failed' "$EXPORTER_LOG" || fail "failure not logged"
# At most one line a minute (4 failed calls a second without the limit), however long the outage lasted.
logged=$(grep -c 'pod-resources List on .* failed' "$EXPORTER_LOG")
[ "$logged" -le $((2 + (SECONDS - down_since) / 60)) ] || fail "failure log not rate-limited: $logged lines in $((SECONDS - down_since)) s"
start_kubelet
wait_for 30 scrape_has $P 'pod="x"' || fail "labels did not come back after the kubelet restart"
grep -q 'works again' "$EXPORTER_LOG" || fail "recovery not logged"
pass "kubelet restart"

# RESOURCE_EXHAUSTED: counted; the last mapping is kept only while fresh (stale-after, 3 s), then dropped.
set_state exhausted without-r2
wait_for 30 scrape_has $P '^jobtel_kubernetes_pod_resources_errors_total\{code="RESOURCE_EXHAUSTED"\} [1-9]' \
    || fail "RESOURCE_EXHAUSTED not counted"
wait_for 30 scrape_lacks $P '*' pod=x || fail "a stale mapping must be dropped"
scrape $P "$T/m4.txt"
validate "$T/m4.txt"
expect_value "$T/m4.txt" 'jobtel_kubernetes_pod_resources_up' 0
set_state ok without-r2
wait_for 30 scrape_has $P 'pod="x"' || fail "labels did not come back after RESOURCE_EXHAUSTED"
pass "RESOURCE_EXHAUSTED"

# Windowed means, checked against what the exporter says it averaged (samples), not against the clock.
# GPU 3 (pod idx) reads 10 until the test changes it to 90; GPU 0 (pod x) a 20/60 square wave.
# composed FILE LOW HIGH : the GPU's mean over its n samples is (a * LOW + (n - a) * HIGH) / n for a whole a.
composed() {
    "$PY" - "$@" <<'EOF' || fail "$1: the mean is not an average of $2 and $3 over the samples: $(cat "$1")"
import json, sys
g = json.load(open(sys.argv[1]))["gpus"][0]
low, high = float(sys.argv[2]), float(sys.argv[3])
n, mean = g["samples"], g["utilization_percent_mean"]
a = (high * n - mean * n) / (high - low)
assert n >= 1 and abs(a - round(a)) < 1e-6 and 0 <= round(a) <= n, (n, mean, a)
print(round(a), n - round(a))
EOF
}
[ "$(api '/api/v1/pods/default/idx?window=10m' "$T/w.json")" = 200 ] || fail "window=10m before the change"
jcheck "$T/w.json" "d['gpus'][0]['utilization_percent_mean'] == 10 and d['gpus'][0]['samples'] >= 1"
scenario_edit "$T/scenario.json" 's["gpus"][3]["values"]["gpu_util"] = 90'
idx_2s_is_90() {
    [ "$(api '/api/v1/pods/default/idx?window=2s' "$T/w.json")" = 200 ] &&
        "$PY" -c "import json; d = json.load(open('$T/w.json')); exit(0 if d['gpus'][0]['utilization_percent_mean'] == 90 else 1)"
}
wait_for 30 idx_2s_is_90 || fail "window=2s never averaged only the new value: $(cat "$T/w.json")"
jcheck "$T/w.json" "d['window_seconds'] == 2 and d['utilization_percent_mean'] == 90"
jcheck "$T/w.json" "d['gpus'][0]['samples'] >= 1 and 0 <= d['gpus'][0]['covered_seconds'] <= 2"
[ "$(api '/api/v1/pods/default/idx?window=10m' "$T/w.json")" = 200 ] || fail "window=10m"
# Both values are in the window (seen above), so the mean lies strictly between and is made of whole samples.
jcheck "$T/w.json" "10 < d['gpus'][0]['utilization_percent_mean'] < 90"
split=$(composed "$T/w.json" 10 90)
[ "${split% *}" -ge 1 ] && [ "${split#* }" -ge 1 ] || fail "window=10m: $split samples of 10 and 90, want both"
[ "$(api '/api/v1/pods/default/x?window=8s' "$T/w.json")" = 200 ] || fail "pod x"
jcheck "$T/w.json" "20 <= d['gpus'][0]['utilization_percent_mean'] <= 60 and d['gpus'][0]['container'] == 'main'"
composed "$T/w.json" 20 60 >/dev/null
jcheck "$T/w.json" "d['gpus'][0]['utilization_percent'] in (20, 60)"
pass "windowed means"

# A kubelet that does not answer (the fake holds the call until the state changes): the call gives up at
# its 2 s deadline, so it lasted at least that long and failed; GPU metrics stay fresh.
hung_before=$(curl -sf "http://127.0.0.1:$P/metrics" | sed -n 's/^jobtel_kubernetes_pod_resources_errors_total{code="transport"} //p')
hung_before=${hung_before:-0}
HANG_S=300 set_state hang without-r2
timed_out() {
    local f="$T/hang.txt" d n
    curl -sf "http://127.0.0.1:$P/metrics" -o "$f" || return 1
    d=$(value "$f" jobtel_kubernetes_pod_resources_request_duration_seconds) || return 1
    n=$(value "$f" 'jobtel_kubernetes_pod_resources_errors_total{code="transport"}') || return 1
    "$PY" -c "import sys; sys.exit(0 if $d >= 1.5 and $n > $hung_before else 1)"
}
wait_for 60 timed_out || fail "a hung kubelet call did not end at its deadline: $(grep '^jobtel_kubernetes' "$T/hang.txt")"
scrape $P "$T/m5.txt"
expect_value "$T/m5.txt" 'jobtel_kubernetes_pod_resources_up' 0
expect_value "$T/m5.txt" 'jobtel_scrape_collector_success{collector="gpu"}' 1
curl -sf -o /dev/null "http://127.0.0.1:$P/health" || fail "/health must stay OK while the kubelet hangs"
[ "$(api /api/v1/gpus "$T/g.json")" = 200 ] || fail "GPU data must stay fresh while the kubelet hangs"
set_state ok without-r2
wait_for 30 scrape_has $P 'pod="x"' || fail "labels did not come back after the hang"
pass "a hung kubelet times out"

# A kubelet that hangs for 10 s (issue 10): attribution is a stage of its own, so the GPU collector keeps
# its cadence (250 ms here) while every List call times out after 2 s; the stage reports success 0.
# Measured against the daemon's own records: over the span of the kubernetes stage's (slow) collections,
# the GPU collector must finish many times more often. Were GPU readings held up by each 2 s call there
# would be about one GPU collection per kubernetes collection.
tsv() { # tsv FILE COLLECTOR : that collector's last collection timestamp
    grep "^jobtel_last_collection_timestamp_seconds{collector=\"$2\"}" "$1" | cut -d' ' -f2
}
HANG_S=10 set_state hang without-r2
wait_for 10 scrape_has $P '^jobtel_scrape_collector_success\{collector="kubernetes"\} 0$' \
    || fail "the kubernetes stage must report success 0 while the kubelet hangs"
: >"$T/gpu_ts"; : >"$T/kube_ts"
# Scrape as fast as we can (no python in the loop): each scrape records both collectors' timestamps.
for _ in $(seq 3000); do
    scrape $P "$T/h.txt"
    grep -q '^jobtel_scrape_collector_success{collector="gpu"} 1$' "$T/h.txt" || fail "GPU collector failed while the kubelet hung"
    echo "$(tsv "$T/h.txt" gpu)" >>"$T/gpu_ts"
    echo "$(tsv "$T/h.txt" kubernetes)" >>"$T/kube_ts"
    [ "$(sort -u "$T/kube_ts" | wc -l)" -ge 4 ] && break
done
expect_value "$T/h.txt" 'jobtel_scrape_collector_success{collector="kubernetes"}' 0
expect_none "$T/h.txt" '*' pod=x
curl -sf -o /dev/null "http://127.0.0.1:$P/health" || fail "/health must stay OK while the kubelet hangs"
"$PY" - "$T/gpu_ts" "$T/kube_ts" <<'EOF2' || fail "GPU collections were held up by the hung List calls"
import sys
pairs = [(float(k), float(g)) for g, k in zip(open(sys.argv[1]), open(sys.argv[2])) if g.strip() and k.strip()]
kube = sorted({k for k, _ in pairs})
span = kube[-1] - kube[0]  # the daemon's record of 3+ hung List calls (each lasts its 2 s deadline at least)
assert len(kube) >= 4 and span >= 4, ("the window did not cover the hang", kube)
# While one kubernetes collection was pending (its last timestamp unchanged), how many GPU collections
# finished? GPU readings held up by the List call would finish at most once per kubernetes collection
# (twice counting the boundary); independent ones finish every 250 ms. Counted from the daemon's own
# timestamps, not against the clock.
per = {}
for k, g in pairs:
    per.setdefault(k, set()).add(g)
best = max(len(v) for v in per.values())
print(f"kubelet hang: {len(kube)} kubernetes collections over {span:.1f} s; at most {best} GPU collections "
      f"seen during one of them ({len(pairs)} scrapes)")
assert best >= 3, f"only {best} GPU collections during one hung List call"
EOF2
set_state ok without-r2
wait_for 30 scrape_has $P 'pod="x"' || fail "pod labels did not return with the kubelet"
wait_for 10 scrape_has $P '^jobtel_scrape_collector_success\{collector="kubernetes"\} 1$' \
    || fail "the kubernetes stage did not recover"
pass "a kubelet hanging 10 s: GPU readings keep their cadence, the stage reports success 0, pod labels return"
stop_pid "$EXPORTER_PID"

# 503: NVML unavailable (no scenario), then data gone stale (a GPU call hangs once the test says so).
FAKE_NVML_SCENARIO='' start_exporter 0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n \
    --hpc-job-mapping-dir= --slurm.gpustat-dir=
P=$EXPORTER_PORT
[ "$(api /api/v1/gpus "$T/e.json")" = 503 ] || fail "no NVML must be 503"
jcheck "$T/e.json" "d['status'] == 503"
stop_pid "$EXPORTER_PID"
cp "$T/scenario.json" "$T/hang.json"
FAKE_NVML_SCENARIO="$T/hang.json" start_exporter 0 \
    --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup -n --hpc-job-mapping-dir= --slurm.gpustat-dir=
P=$EXPORTER_PORT
[ "$(api /api/v1/gpus "$T/g.json")" = 200 ] || fail "fresh data must be 200"
scenario_edit "$T/hang.json" 's["faults"] = [{"call": "nvmlDeviceGetTemperature", "hang_ms": 20000, "from": t, "once": True}]'
wait_for 30 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$P/api/v1/gpus) = 503 ]" \
    || fail "stale GPU data must be 503"
api /api/v1/gpus "$T/e.json" >/dev/null
jcheck "$T/e.json" "'stale' in d['error']"
[ "$(api /api/v1/pods/default/x "$T/e.json")" = 404 ] || fail "pods without -k must be 404"
pass "503 when GPU data is missing or stale"
