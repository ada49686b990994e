#!/bin/bash
# test_seccomp.sh - the DaemonSet's seccomp profile (deploy/kubernetes/seccomp/jobtel-exporter.json) holds
# the real exporter through a full workload, and the systemd unit's SystemCallFilter allows the same calls.
#
# tests/seccomp/seccomp_run loads the JSON profile into a libseccomp filter as the kubelet's runtime would
# (after no_new_privs, right before exec; the capability bounding set emptied as the DaemonSet's
# `capabilities: drop: [ALL]` does), except that a syscall the profile does not list is handed to the
# harness, which names and counts it and makes it fail with EPERM (the profile's own default). Workload:
# the fake NVML with GPM (profiling samples) and MIG, the cgroup fixture, a procfs fixture, a mapping dir,
# the fake kubelet's pod-resources socket (-k, so uid 0 without capabilities, as in the DaemonSet), TLS
# with basic auth, the JSON API, the accounting socket (`jobtel job-record`), a GPU lost and back, SIGHUP
# with a certificate swap, then SIGTERM: exit 0 and not one syscall refused.
# Then the same run with `openat` taken out of the profile must name it: the test can fail.
# SECCOMP_TRACE=FILE runs the workload under strace -f instead, to see what a new version calls.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tlscerts.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
B=$(dirname "$JOBTEL")
HARNESS=$B/tests/seccomp/seccomp_run
PROFILE=$SRC/deploy/kubernetes/seccomp/jobtel-exporter.json
EXP=$B/jobtel-exporter
[ -x "$HARNESS" ] || fail "no $HARNESS (tests/seccomp, needs libseccomp-dev and libjansson-dev)"
"$PY" -c 'import grpc_tools' 2>/dev/null || fail "python3-grpc-tools is not installed (scripts/install-deps.sh)"
[ "$(id -u)" = 0 ] || fail "this test runs the exporter as root, as the DaemonSet does"

# A sanitizer runtime makes calls of its own (its shadow memory, its reports), not the daemon's.
ALLOW=
if ldd "$EXP" | grep -q libasan; then
    ALLOW=--allow=getdents,sigaltstack,personality,madvise,prlimit64,getrlimit,setrlimit,sched_getaffinity,readlink,mincore,gettid,tgkill,rt_sigaction,pipe2,wait4,clone,clone3,ptrace,prctl,statfs,getppid
fi

# --- fixtures -----------------------------------------------------------------------------------------------
cp "$SCENARIOS/gpm.json" "$T/s.json"
export FAKE_NVML_SCENARIO="$T/s.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
U0=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["gpus"][0]["uuid"])' "$T/s.json")
mkdir -p "$T/proc/4711" "$T/hpc" "$T/gen" "$T/acct"
cp -r "$SRC/tests/fixtures/cgroup_v2" "$T/cg"
printf '0::/system.slice/slurmstepd.scope/job_301/step_0\n' >"$T/proc/4711/cgroup"
printf '4242\n' >"$T/hpc/0"
make_ca ca
make_cert ca server1 0x5151 server
make_cert ca server2 0x5252 server
cp "$T/server1.crt" "$T/tls.crt"
cp "$T/server1.key" "$T/tls.key"
HASH=$(bcrypt_hash s3cret)
printf 'tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  prom: %s\n' "'$HASH'" >"$T/web.yml"
kube=$SRC/tests/e2e/kube
"$PY" -m grpc_tools.protoc -I"$kube" --python_out="$T/gen" --grpc_python_out="$T/gen" "$kube/podresources.proto" ||
    fail "protoc"
printf '{"mode": "ok", "pods": [{"name": "p", "namespace": "ns", "containers": [{"name": "c", "devices": [{"resource_name": "nvidia.com/gpu", "device_ids": ["%s"]}]}]}]}\n' "$U0" >"$T/state.json"
start_bg kubelet "$PY" "$kube/fake_kubelet.py" "$T/kubelet.sock" "$T/gen" "$T/state.json"
wait_for 30 test -S "$T/kubelet.sock" || fail "the fake kubelet has no socket"
ARGS=(-a 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --web.config.file="$T/web.yml"
      --path.cgroupfs="$T/cg" --collector.cgroup.version=2 --path.procfs="$T/proc" --hpc-job-mapping-dir="$T/hpc"
      --slurm.gpustat-dir= --path.accounting="$T/acct" -k --kubernetes.pod-resources-socket="$T/kubelet.sock"
      --collector.kubernetes.interval=200ms)

# run NAME PROFILE : runs the workload with the exporter under PROFILE; the harness report is $T/NAME.report.
run() {
    local name=$1 profile=$2 pid port i C=(curl -s --max-time 10 --cacert "$T/ca.crt" -u prom:s3cret)
    cp "$T/server1.crt" "$T/tls.crt"
    cp "$T/server1.key" "$T/tls.key"
    if [ -n "${SECCOMP_TRACE:-}" ]; then
        start_bg "$name" strace -f -qq -o "$SECCOMP_TRACE" "$EXP" "${ARGS[@]}"
    else
        start_bg "$name" "$HARNESS" --drop-caps --report="$T/$name.report" $ALLOW "$profile" -- "$EXP" "${ARGS[@]}"
    fi
    local wrapper=$LAST_PID
    for ((i = 0; i < 100; i++)); do
        port=$(sed -n 's/.*listening on .* (port \([0-9]*\)).*/\1/p' "$T/$name.log" 2>/dev/null | head -n1)
        [ -n "$port" ] && break
        kill -0 "$wrapper" 2>/dev/null || fail "$name: the exporter exited: $(tail -n 5 "$T/$name.log")"
        sleep 0.1
    done
    [ -n "$port" ] || fail "$name: the exporter did not say its port"
    if [ -n "${SECCOMP_TRACE:-}" ]; then
        pid=$(pgrep -P "$wrapper" | head -n1)
    else
        pid=$(sed -n 's/^pid //p' "$T/$name.report")
    fi
    URL=https://localhost:$port
    if [ -z "${SECCOMP_TRACE:-}" ]; then
        [ "$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$pid/status")" = 2 ] || fail "$name: the exporter runs without the filter"
        [ "$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$pid/status")" = 0000000000000000 ] || fail "$name: capabilities left"
    fi
    wait_for 30 "${C[@]}" -f -o /dev/null "$URL/metrics" || fail "$name: never served metrics"
    wait_for 30 bash -c "curl -s --cacert $T/ca.crt -u prom:s3cret $URL/metrics | grep -q 'pod=\"p\"'" ||
        fail "$name: no pod label from the kubelet"
    "${C[@]}" -f -o "$T/$name.api.json" "$URL/api/v1/gpus" || fail "$name: the JSON API"
    "$JOBTEL" job-record 301 --socket="$T/acct/accounting.sock" --records-dir="$T/records" --node=n1 \
        >"$T/$name.record.log" 2>&1 || true # a job the daemon never saw: the exchange is what counts
    scenario_edit "$T/s.json" 's["gpus"][1]["lost"] = [[t + 0.2, t + 1.2]]'
    wait_for 30 grep -q 'GPU 1 .* is lost' "$T/$name.log" || fail "$name: GPU 1 never lost"
    wait_for 60 grep -q 'GPU 1 .* is back' "$T/$name.log" || fail "$name: GPU 1 never came back"
    scenario_edit "$T/s.json" 'del s["gpus"][1]["lost"]'
    cp "$T/server2.crt" "$T/tls.crt"
    cp "$T/server2.key" "$T/tls.key"
    kill -HUP "$pid"
    wait_for 10 grep -q "web config reloaded from $T/web.yml" "$T/$name.log" || fail "$name: no reload on SIGHUP"
    "${C[@]}" -f -o "$T/$name.m.txt" "$URL/metrics" || fail "$name: scrape after SIGHUP"
    grep -q '^DCGM_FI_PROF_' "$T/$name.m.txt" || fail "$name: no profiling (GPM) series"
    grep -q '^cgroup_cpu_user_seconds' "$T/$name.m.txt" || fail "$name: no cgroup series"
    kill -TERM "$pid"
    RC=0
    wait "$wrapper" || RC=$?
}

if [ -n "${SECCOMP_TRACE:-}" ]; then
    run trace "$PROFILE"
    echo "strace in $SECCOMP_TRACE (exit $RC)"
    exit 0
fi

# --- the profile as shipped: nothing refused, a clean stop --------------------------------------------------
run full "$PROFILE"
grep -q '^denied-total 0$' "$T/full.report" || fail "the profile refused syscalls the exporter needs: $(grep '^denied' "$T/full.report" | tr '\n' ' ')"
[ "$RC" = 0 ] || fail "the exporter under the profile exited $RC, want 0 ($(tail -n 2 "$T/full.report"))"
grep -q '^exit 0$' "$T/full.report" || fail "report: $(tail -n 1 "$T/full.report")"
pass "the exporter runs a full workload under the DaemonSet's seccomp profile: nothing refused, exit 0"

# --- one syscall taken out: the harness names it -------------------------------------------------------------
"$PY" -c '
import json, sys
p = json.load(open(sys.argv[1]))
for r in p["syscalls"]:
    r["names"] = [n for n in r["names"] if n != "openat"]
json.dump(p, open(sys.argv[2], "w"))' "$PROFILE" "$T/no-openat.json"
start_bg cut "$HARNESS" --drop-caps --report="$T/cut.report" $ALLOW "$T/no-openat.json" -- "$EXP" "${ARGS[@]}"
wait_for 30 grep -q 'refused openat' "$T/cut.log" || fail "a profile without openat was not caught: $(tail -n 5 "$T/cut.log")"
pid=$(sed -n 's/^pid //p' "$T/cut.report")
kill -TERM "$pid" 2>/dev/null || true
stop_pid "$LAST_PID" || true
grep -q '^denied openat [0-9]*$' "$T/cut.report" || fail "the report does not name openat: $(cat "$T/cut.report")"
pass "a profile missing a syscall the exporter needs (openat) is caught"

# --- the systemd unit's SystemCallFilter allows every syscall of the profile ----------------------------------
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (scripts/install-deps.sh: systemd)"
"$PY" "$SRC/tests/seccomp/unit_filter.py" "$SRC/deploy/systemd/jobtel-exporter.service" "$PROFILE" ||
    fail "the unit's SystemCallFilter and the DaemonSet's profile disagree"
pass "the unit's SystemCallFilter allows every syscall of the profile"

# --- the DaemonSet loads this profile ------------------------------------------------------------------------
"$PY" - "$SRC/deploy/kubernetes/daemonset.yaml" <<'EOF' || fail "the DaemonSet does not use the profile"
import sys, yaml
ds = yaml.safe_load(open(sys.argv[1]))
sp = ds["spec"]["template"]["spec"]["securityContext"]["seccompProfile"]
assert sp == {"type": "Localhost", "localhostProfile": "jobtel/jobtel-exporter.json"}, sp
c = ds["spec"]["template"]["spec"]["containers"][0]
assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], "the harness drops every capability as the DaemonSet must"
assert c["securityContext"]["allowPrivilegeEscalation"] is False
EOF
pass "the DaemonSet loads the profile (Localhost jobtel/jobtel-exporter.json) with every capability dropped"
