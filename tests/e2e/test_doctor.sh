#!/bin/bash
# test_doctor.sh - `jobtel doctor` against a test node (fake NVML, mapping dirs, the cgroup v2 fixture,
# a slurm.conf, a running exporter scraped by a real Prometheus), healthy and then with one thing broken
# at a time: each must give its failing line and an exit code equal to the number of failed checks.
# Runs as root (the mapping directories must be root-owned, as the prolog makes them).
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"
[ "$(id -u)" = 0 ] || fail "must run as root (root-owned mapping directories)"

if ! declare -F free_port >/dev/null; then
    free_port() {
        "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    }
fi

cat >"$T/scenario.json" <<'JSON'
{"schema": 1, "driver_version": "550.144.03",
 "values": {"gpu_util": 50, "memory_used_mib": 1000, "temperature_c": 40, "power_mw": 100000},
 "gpus": [{"name": "G", "uuid": "GPU-00000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0", "minor_number": 0, "memory_total_mib": 1000},
          {"name": "G", "uuid": "GPU-11111111-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0", "minor_number": 1, "memory_total_mib": 1000}]}
JSON
# The same node whose driver hangs in nvmlDeviceGetCount.
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["faults"]=[{"call": "nvmlDeviceGetCount_v2", "hang_ms": 60000}]; json.dump(d, open(sys.argv[2], "w"))' \
    "$T/scenario.json" "$T/hang.json"
export FAKE_NVML_SCENARIO="$T/scenario.json"

install -d -m 0755 "$T/hpc" "$T/gpustat" "$T/prolog.d"
printf '301\n' >"$T/hpc/0"          # job 301 has a cgroup in tests/fixtures/cgroup_v2
printf '301 5000\n' >"$T/gpustat/0"
printf '#!/bin/sh\nexec /usr/bin/jobtel prolog\n' >"$T/prolog.d/60-jobtel.sh"
printf '#!/bin/sh\nexec /usr/bin/jobtel epilog\n' >"$T/epilog.sh"
cat >"$T/slurm.conf" <<EOF
ClusterName=test
# Prolog=/nowhere  (a comment does not count)
prolog=$T/prolog.d/*
Epilog=$T/epilog.sh
EOF
grep -v '^Epilog' "$T/slurm.conf" >"$T/slurm-noepilog.conf"

EP=$(free_port)
start_exporter "$EP" --collector.gpu.nvml-library="$FAKE_NVML_LIB" --hpc-job-mapping-dir="$T/hpc" \
    --slurm.gpustat-dir="$T/gpustat" --path.cgroupfs="$FIXTURES/cgroup_v2" --path.procfs="$FIXTURES/cgroup_procfs"
PP=$(free_port)
start_prometheus "$PP" "127.0.0.1:$EP"
wait_for 30 prom_is "up{instance=\"127.0.0.1:$EP\"}" 1 || fail "prometheus never scraped the exporter"

D=(--nvml-library="$FAKE_NVML_LIB" --hpc-job-mapping-dir="$T/hpc" --slurm.gpustat-dir="$T/gpustat"
   --path.cgroupfs="$FIXTURES/cgroup_v2" --slurm-conf="$T/slurm.conf" --exporter.url="http://127.0.0.1:$EP/metrics"
   --prometheus.url="http://127.0.0.1:$PP" --instance=127.0.0.1 --timeout=3s)

# doctor WANT_RC REGEX ARGS... : runs `jobtel doctor` with the base flags and ARGS (later flags win);
# the exit code must be WANT_RC, with as many [FAIL] lines, one of them matching REGEX.
doctor() {
    local want=$1 re=$2 rc=0
    shift 2
    "$JOBTEL" doctor "${D[@]}" "$@" >"$T/out.txt" 2>"$T/err.txt" || rc=$?
    cat "$T/out.txt"
    [ "$rc" = "$want" ] || fail "doctor $*: exit $rc, want $want"
    [ "$(grep -c '^\[FAIL\]' "$T/out.txt")" = "$want" ] || fail "doctor $*: want $want [FAIL] line(s)"
    if [ -n "$re" ]; then grep -E -q -- "$re" "$T/out.txt" || fail "doctor $*: no line matching $re"; fi
}

# Healthy: every check of the gpu role passes.
doctor 0 ''
[ "$(grep -c '^\[ OK \]' "$T/out.txt")" = 6 ] || fail "healthy node: want 6 OK lines"
grep -q '^\[ OK \] nvml: driver 550.144.03, 2 GPU(s)' "$T/out.txt" || fail "nvml line"
grep -q "^\[ OK \] prometheus: .* scrapes this node" "$T/out.txt" || fail "prometheus line"
ncoll=$(curl -sf "http://127.0.0.1:$EP/metrics" | grep -c '^jobtel_scrape_collector_success{')
[ "$ncoll" -ge 2 ] || fail "the exporter reports $ncoll collectors"
grep -q "^\[ OK \] exporter: .* $ncoll collector(s) healthy" "$T/out.txt" || fail "exporter line"

# One thing broken at a time.
doctor 1 '^\[FAIL\] nvml: cannot load .*/nonexistent/libnvidia-ml.so.1.* -- fix: install the NVIDIA driver' \
    --nvml-library="$T/nonexistent/libnvidia-ml.so.1"
FAKE_NVML_SCENARIO="$T/hang.json" doctor 1 '^\[FAIL\] nvml: NVML did not answer within 1 s -- fix: a driver call is hung' \
    --timeout=1s
doctor 1 "^\[FAIL\] mapping-dirs: hpc dir $T/gone: No such file or directory -- fix: the prolog creates" \
    --hpc-job-mapping-dir="$T/gone"
# Unreadable for the exporter's user (it runs as jobtel; the doctor as root reads anything) or a file in
# the directory's place: both fail, as the exporter's jobtel_gpu_job_mapping_dir_state{state="unreadable"}.
install -d -m 0700 "$T/private"
doctor 1 "^\[FAIL\] mapping-dirs: hpc dir $T/private unreadable by the exporter's user \(mode 0700\) -- fix: chmod 0755" \
    --hpc-job-mapping-dir="$T/private"
: >"$T/afile"
doctor 1 "^\[FAIL\] mapping-dirs: hpc dir $T/afile: not a directory: unreadable for the exporter" \
    --hpc-job-mapping-dir="$T/afile"
# Absent on a node with no Slurm job yet (fresh boot): a warning, not a failure.
install -d "$T/cg-nojobs" && : >"$T/cg-nojobs/cgroup.controllers"
doctor 0 "" --hpc-job-mapping-dir="$T/gone" --path.cgroupfs="$T/cg-nojobs"
grep -q "^\[WARN\] mapping-dirs: hpc dir $T/gone absent: normal before the first GPU job after boot" "$T/out.txt" ||
    fail "an absent mapping dir on a node with no job must be a warning"
install -d -m 0777 "$T/open"
doctor 1 "^\[FAIL\] mapping-dirs: gpustat dir $T/open: must be owned by root and not group/world-writable" \
    --slurm.gpustat-dir="$T/open"
install -d -m 0755 "$T/stale" && printf '999\n' >"$T/stale/1"
doctor 1 "^\[FAIL\] mapping-dirs: hpc dir $T/stale names job 999, which has no cgroup here \(stale\)" \
    --hpc-job-mapping-dir="$T/stale"
doctor 1 "^\[FAIL\] cgroup: $T/nocg is not a cgroup v1 or v2 mount" --path.cgroupfs="$T/nocg"
doctor 1 "^\[FAIL\] slurm.conf: .*no Epilog= line -- fix: add Epilog=" --slurm-conf="$T/slurm-noepilog.conf"
sed "s|^Epilog=.*|Epilog=$T/missing.sh|" "$T/slurm.conf" >"$T/slurm-missing.conf"
doctor 1 "^\[FAIL\] slurm.conf: .*Epilog=$T/missing.sh does not exist" --slurm-conf="$T/slurm-missing.conf"
printf '#!/bin/sh\nexit 0\n' >"$T/other.sh"
sed "s|^Epilog=.*|Epilog=$T/other.sh|" "$T/slurm.conf" >"$T/slurm-other.conf"
doctor 1 "^\[FAIL\] slurm.conf: .*Epilog=$T/other.sh does not run jobtel" --slurm-conf="$T/slurm-other.conf"
DEAD=$(free_port)
doctor 1 "^\[FAIL\] exporter: http://127.0.0.1:$DEAD/metrics not answering: .*Connection refused" \
    --exporter.url="http://127.0.0.1:$DEAD/metrics"
doctor 1 "^\[FAIL\] prometheus: http://127.0.0.1:$DEAD not reachable: .*Connection refused" \
    --prometheus.url="http://127.0.0.1:$DEAD"
doctor 1 '^\[FAIL\] prometheus: .* no up\{job="jobtel"\} series for instance othernode' --instance=othernode

# --json carries the same verdicts.
rc=0
"$JOBTEL" doctor "${D[@]}" --json --exporter.url="http://127.0.0.1:$DEAD/metrics" >"$T/d.json" || rc=$?
[ "$rc" = 1 ] || fail "--json exit $rc"
"$PY" - "$T/d.json" <<'PY' || fail "--json document"
import json, sys
d = json.load(open(sys.argv[1]))
st = {c["check"]: c["status"] for c in d["checks"]}
assert d["failed"] == 1 and d["role"] == "gpu", d
assert st == {"nvml": "ok", "mapping-dirs": "ok", "cgroup": "ok", "slurm.conf": "ok", "exporter": "fail", "prometheus": "ok"}, st
assert all(c["fix"] for c in d["checks"] if c["status"] == "fail")
PY

# The controller role: EpilogSlurmctld and the spool.
printf '#!/bin/sh\nexec /usr/bin/jobtel summary --store "$SLURM_JOB_ID"\n' >"$T/ctld-epilog.sh"
printf 'EpilogSlurmctld=%s\n' "$T/ctld-epilog.sh" >"$T/slurmctld.conf"
C=(--role=controller --slurm-conf="$T/slurmctld.conf" --spool-dir="$T/spool" --prometheus.url="http://127.0.0.1:$PP")
doctor 0 '' "${C[@]}"
grep -q "^\[ OK \] spool: $T/spool absent" "$T/out.txt" || fail "absent spool is fine"
install -d "$T/spool" && printf 'jobid=5\n' >"$T/spool/5" && touch -d '3 hours ago' "$T/spool/5"
printf 'jobid=6\n' >"$T/spool/6"
doctor 1 "^\[FAIL\] spool: $T/spool: 2 job\(s\) spooled, 1 older than 3600 s" "${C[@]}"
doctor 0 '' "${C[@]}" --spool-max-age=4h
doctor 1 '^\[FAIL\] slurm.conf: .*no EpilogSlurmctld= line' "${C[@]}" --slurm-conf="$T/slurm.conf" --spool-max-age=4h

# The command line: usage errors exit 64 (above any count of failed checks) and name the argument;
# --help (from the option table, common/args.c) lists every option within 100 columns.
rc=0
"$JOBTEL" doctor --no-such-flag >/dev/null 2>"$T/err.txt" || rc=$?
[ "$rc" = 64 ] || fail "usage error: exit $rc, want 64"
grep -q -- "--no-such-flag" "$T/err.txt" || fail "usage error does not name the argument"
rc=0
"$JOBTEL" doctor --role=nurse >/dev/null 2>&1 || rc=$?
[ "$rc" = 64 ] || fail "bad --role: exit $rc, want 64"
"$JOBTEL" doctor --help >"$T/help.txt" || fail "--help exit"
for o in --role --json --nvml-library --hpc-job-mapping-dir --slurm.gpustat-dir --path.cgroupfs --slurm-conf \
    --exporter.url --prometheus.url --prometheus.job --instance --spool-dir --spool-max-age --timeout; do
    grep -q -- "$o" "$T/help.txt" || fail "--help does not list $o"
done
awk 'length > 100 { exit 1 }' "$T/help.txt" || fail "--help wider than 100 columns"
"$JOBTEL" doctor --version | grep -q '^jobtel doctor version' || fail "--version"

# A real outage: the exporter stops. Once Prometheus has noticed, two checks fail.
stop_pid "$EXPORTER_PID"
wait_for 30 prom_is "up{instance=\"127.0.0.1:$EP\"}" 0 || fail "prometheus did not notice the exporter stopping"
doctor 2 "^\[FAIL\] prometheus: .* cannot scrape 127.0.0.1:$EP \(up == 0\)"
grep -q "^\[FAIL\] exporter: http://127.0.0.1:$EP/metrics not answering" "$T/out.txt" || fail "exporter line after the outage"
stop_pid "$PROM_PID" || true
doctor 2 "^\[FAIL\] prometheus: http://127.0.0.1:$PP not reachable"
pass "jobtel doctor names the broken piece"
