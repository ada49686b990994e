#!/bin/bash
# test_exporter_privdrop.sh - the daemon started as root gives root up (src/exporter/privdrop.c), and
# still does its work afterwards. Checked in /proc/PID/task/*/status, every thread, not only the main one:
#   --run-as-user=nobody: Uid/Gid 65534, supplementary groups only the GPU device nodes' (a fixture devfs
#     with a 0660 root:video node), CapEff/CapPrm/CapBnd/CapAmb 0, NoNewPrivs 1; then scrapes over TLS,
#     the GPU (and a GPU that is lost and returns: NVML re-opened as nobody), the cgroup tree, a mapping
#     directory, the process stage's /proc/PID/cgroup, a certificate swap on SIGHUP, a clean stop;
#   no flag (even where a `jobtel` user exists): uid 0 without any capability, NoNewPrivs 1;
#   --run-as-user=root keeps root; an unknown user, and uid 0 without capabilities on a port < 1024, are
#   refused at start (exit 2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
. "$(dirname "$0")/tlscerts.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
[ "$(id -u)" = 0 ] || fail "this test starts the exporter as root"
getent passwd nobody >/dev/null || fail "no user nobody"
getent group video >/dev/null || fail "no group video"
VIDEO=$(getent group video | cut -d: -f3)
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
# The new user must be able to read what the daemon reads after the switch (as on a real node).
chmod 0755 "$T"

# --- fixtures: GPU scenario, devfs, cgroup tree, procfs, mapping dir, TLS ---------------------------------
cp "$SCENARIOS/gpu_lost.json" "$T/s.json"
export FAKE_NVML_SCENARIO="$T/s.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
scenario_edit "$T/s.json" 'del s["gpus"][1]["lost_at"]; s["xid_events"] = []'
mkdir -p "$T/dev" "$T/proc/7002" "$T/hpc" "$T/acct"
: >"$T/dev/nvidiactl"; chgrp video "$T/dev/nvidiactl"; chmod 0660 "$T/dev/nvidiactl"
: >"$T/dev/nvidia0"; chmod 0666 "$T/dev/nvidia0"
cp -r "$SRC/tests/fixtures/cgroup_v2" "$T/cg"
printf '0::/system.slice/slurmstepd.scope/job_301/step_0\n' >"$T/proc/7002/cgroup"
printf '4242\n' >"$T/hpc/0"
chown nobody "$T/acct"
make_ca ca
make_cert ca server1 0x5151 server
make_cert ca server2 0x5252 server
cp "$T/server1.crt" "$T/tls.crt"
cp "$T/server1.key" "$T/tls.key"
chown nobody "$T/tls.key"
chmod 0600 "$T/tls.key"
printf 'tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n' >"$T/web.yml"
COMMON=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --path.cgroupfs="$T/cg" --collector.cgroup.version=2
        --path.procfs="$T/proc" --hpc-job-mapping-dir="$T/hpc" --slurm.gpustat-dir= --path.devfs="$T/dev")

# status_of PID FIELD : FIELD's value in /proc/PID/task/*/status, one line per distinct value.
status_of() {
    local f
    for f in /proc/"$1"/task/*/status; do
        sed -n "s/^$2:[[:space:]]*//p" "$f" | sed "s/[[:space:]]*$//"
    done | sort -u
}
expect_status() {
    local got
    got=$(status_of "$1" "$2")
    [ "$got" = "$3" ] || fail "$2 of the threads of $1: '$(echo $got)', want '$3'"
}

# --- switch to nobody --------------------------------------------------------------------------------------
start_exporter_ephemeral drop 127.0.0.1:0 "${COMMON[@]}" --web.config.file "$T/web.yml" \
    --path.accounting="$T/acct" --run-as-user=nobody
P=$PORT
C=(curl -s --max-time 10 --cacert "$T/ca.crt")
wait_for 20 "${C[@]}" -f -o /dev/null "https://localhost:$P/metrics" || fail "never served metrics over TLS"
wait_for 10 grep -q "now running as user nobody (uid $NOBODY, gid $NOGROUP, supplementary groups: $VIDEO)" "$T/drop.log" ||
    fail "the switch was not logged: $(grep -i 'running as' "$T/drop.log")"
[ "$(status_of "$EXPORTER_PID" Threads)" -ge 3 ] || fail "want several threads to check, got $(status_of "$EXPORTER_PID" Threads)"
expect_status "$EXPORTER_PID" Uid "$NOBODY	$NOBODY	$NOBODY	$NOBODY"
expect_status "$EXPORTER_PID" Gid "$NOGROUP	$NOGROUP	$NOGROUP	$NOGROUP"
expect_status "$EXPORTER_PID" Groups "$VIDEO"
for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
    expect_status "$EXPORTER_PID" $cap 0000000000000000
done
expect_status "$EXPORTER_PID" NoNewPrivs 1
grep -q 'cannot be read again\|not writable\|cannot be reached' "$T/drop.log" && fail "an access warning: $(grep 'as user' "$T/drop.log")"

# It still collects: GPU, the mapping dir, the process stage, the cgroup tree.
wait_for 20 bash -c "curl -s --cacert $T/ca.crt https://localhost:$P/metrics | grep -q 'jobtel_gpu_process_job_info{.*jobid=\"301\"'" ||
    fail "the process stage found no job as nobody"
"${C[@]}" -f -o "$T/m1.txt" "https://localhost:$P/metrics" || fail "scrape failed"
validate "$T/m1.txt"
grep -q '^DCGM_FI_DEV_GPU_UTIL{gpu="0",.*hpc_job="4242"} 88$' "$T/m1.txt" || fail "GPU 0 with its job from the mapping dir"
[ "$(count_series "$T/m1.txt" DCGM_FI_DEV_GPU_UTIL)" = 2 ] || fail "two GPUs"
[ "$(count_series "$T/m1.txt" cgroup_cpu_user_seconds jobid=401)" -ge 1 ] || fail "no cgroup series as nobody"
expect_value "$T/m1.txt" 'jobtel_scrape_collector_success{collector="cgroup"}' 1

# A lost GPU comes back: NVML is asked again, as nobody.
scenario_edit "$T/s.json" 's["gpus"][1]["lost"] = [[t + 0.3, t + 1.5]]'
wait_for 30 grep -q 'GPU 1 .* is lost' "$T/drop.log" || fail "GPU 1 never lost"
wait_for 60 grep -q 'GPU 1 .* is back' "$T/drop.log" || fail "GPU 1 never came back as nobody"

# The certificate swap on SIGHUP: the key is read again as nobody.
cp "$T/server2.crt" "$T/tls.crt.new" && mv "$T/tls.crt.new" "$T/tls.crt"
cp "$T/server2.key" "$T/tls.key.new" && chown nobody "$T/tls.key.new" && chmod 0600 "$T/tls.key.new" && mv "$T/tls.key.new" "$T/tls.key"
kill -HUP "$EXPORTER_PID"
wait_for 10 grep -q "web config reloaded from $T/web.yml, TLS certificate serial" "$T/drop.log" || fail "no reload as nobody: $(tail -n 3 "$T/drop.log")"
wait_for 10 bash -c "[ \"\$(. $SRC/tests/e2e/tlscerts.sh; served_serial $P)\" = 5252 ]" || fail "new certificate not served"
"${C[@]}" -f -o "$T/m2.txt" "https://localhost:$P/metrics" || fail "scrape after SIGHUP failed"
stop_pid "$EXPORTER_PID" || fail "exporter (as nobody) did not stop cleanly"
pass "started as root: runs as nobody with the video group, no capability, no_new_privs; collects, reloads, stops"

# --- no flag: uid 0 without capabilities ----------------------------------------------------------------------
start_exporter_ephemeral rootless 127.0.0.1:0 "${COMMON[@]}"
wait_metrics "$PORT"
grep -q 'running as uid 0 without capabilities' "$T/rootless.log" || fail "uid-0 mode not logged"
expect_status "$EXPORTER_PID" Uid "0	0	0	0"
expect_status "$EXPORTER_PID" Groups ""
for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
    expect_status "$EXPORTER_PID" $cap 0000000000000000
done
expect_status "$EXPORTER_PID" NoNewPrivs 1
curl -sf -o "$T/m3.txt" "http://127.0.0.1:$PORT/metrics" || fail "scrape (uid 0) failed"
[ "$(count_series "$T/m3.txt" DCGM_FI_DEV_GPU_UTIL)" = 2 ] || fail "two GPUs (uid 0)"
stop_pid "$EXPORTER_PID" || fail "exporter (uid 0) did not stop cleanly"
pass "started as root without --run-as-user: uid 0 with no capability"

# --- --run-as-user=root keeps root; refusals ---------------------------------------------------------------
start_exporter_ephemeral keep 127.0.0.1:0 "${COMMON[@]}" --run-as-user=root
wait_metrics "$PORT"
[ "$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/"$EXPORTER_PID"/status)" != 0000000000000000 ] || fail "--run-as-user=root dropped the capabilities"
stop_pid "$EXPORTER_PID" || fail "exporter (root) did not stop cleanly"
rc=0
"$JOBTEL" exporter -a 127.0.0.1:0 "${COMMON[@]}" --run-as-user=no-such-user-here >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "an unknown user: exit $rc, want 2"
grep -q "no user 'no-such-user-here'" "$T/bad.log" || fail "no reason: $(cat "$T/bad.log")"
rc=0
"$JOBTEL" exporter -a 127.0.0.1:1 "${COMMON[@]}" >"$T/low.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "uid 0 without capabilities on port 1: exit $rc, want 2"
grep -q 'below 1024' "$T/low.log" || fail "no reason: $(cat "$T/low.log")"
pass "--run-as-user=root keeps root; an unknown user and a low port without capabilities are refused"
