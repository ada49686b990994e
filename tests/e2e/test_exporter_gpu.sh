#!/bin/bash
# test_exporter_gpu.sh - jobtel exporter against fake-NVML scenarios: what it serves is valid
# exposition (promtool + prometheus_client), has dcgm-exporter's and Princeton's names and labels,
# carries exactly the scenario's values, and honours the name-set switches, -f and SIGHUP.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
NVML=(--collector.gpu.nvml-library="$FAKE_NVML_LIB")
H='hostname="testhost"'

# --- one GPU, default names --------------------------------------------------------------------------
export FAKE_NVML_SCENARIO="$SCENARIOS/one_gpu.json"
FAKE_NVML_START_EPOCH=$(date +%s.%N)
export FAKE_NVML_START_EPOCH
start_exporter 0 "${NVML[@]}" --no-collector.cgroup --hostname=testhost
scrape $EXPORTER_PORT "$T/one.txt"
t_scrape=$(scenario_time)
unset FAKE_NVML_START_EPOCH
validate "$T/one.txt"
U='GPU-4c2f8a1e-7b3d-5e96-a0c4-d81f2b6e9a37'
D="gpu=\"0\",UUID=\"$U\",pci_bus_id=\"00000000:07:00.0\",device=\"nvidia0\",modelName=\"NVIDIA A100-SXM4-80GB\",$H,DCGM_FI_DRIVER_VERSION=\"550.144.03\""
expect_value "$T/one.txt" "DCGM_FI_DEV_GPU_UTIL{$D}" 42
expect_value "$T/one.txt" "DCGM_FI_DEV_MEM_COPY_UTIL{$D}" 17
expect_value "$T/one.txt" "DCGM_FI_DEV_GPU_TEMP{$D}" 51
expect_value "$T/one.txt" "DCGM_FI_DEV_MEMORY_TEMP{$D}" 58
expect_value "$T/one.txt" "DCGM_FI_DEV_POWER_USAGE{$D}" 215
expect_value "$T/one.txt" "DCGM_FI_DEV_SM_CLOCK{$D}" 1410
expect_value "$T/one.txt" "DCGM_FI_DEV_MEM_CLOCK{$D}" 1593
expect_value "$T/one.txt" "DCGM_FI_DEV_FB_USED{$D}" 20480
expect_value "$T/one.txt" "DCGM_FI_DEV_FB_RESERVED{$D}" 512
expect_value "$T/one.txt" "DCGM_FI_DEV_FB_FREE{$D}" $((81920 - 20480 - 512))
expect_value "$T/one.txt" "DCGM_FI_DEV_XID_ERRORS{$D}" 0
# Energy is a counter growing at power_mw from 5e11 mJ: above the initial value, and no more than the
# scenario clock had accumulated when the scrape was answered.
e=$(value "$T/one.txt" "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{$D}")
"$PY" -c "import sys; sys.exit(0 if 5e11 < float('$e') <= 5e11 + 215000 * $t_scrape else 1)" || fail "energy $e at t=$t_scrape"
grep -q '^# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter$' "$T/one.txt" || fail "energy must be a counter"
# Label order is dcgm-exporter's, to the letter.
grep -q "^DCGM_FI_DEV_GPU_UTIL{$D} 42\$" "$T/one.txt" || fail "dcgm label order"
# Fields that need DCGM are skipped, not faked.
grep -q 'DCGM_FI_PROF_' "$T/one.txt" && fail "profiling fields must not appear without DCGM"
grep -q 'skipped (needs DCGM): .*DCGM_FI_PROF_GR_ENGINE_ACTIVE' "$EXPORTER_LOG" || fail "skip notice missing"
# A passively cooled board has no fan: no fan series rather than a zero.
expect_absent "$T/one.txt" "nvidia_gpu_fanspeed_percent{minor_number=\"0\",name=\"NVIDIA A100-SXM4-80GB\",ordinal=\"0\",uuid=\"$U\"}"
# Princeton names.
P="minor_number=\"0\",name=\"NVIDIA A100-SXM4-80GB\",ordinal=\"0\",uuid=\"$U\""
expect_value "$T/one.txt" "nvidia_gpu_duty_cycle{$P}" 42
expect_value "$T/one.txt" "nvidia_gpu_memory_total_bytes{$P}" $((81920 * 1048576))
expect_value "$T/one.txt" "nvidia_gpu_memory_used_bytes{$P}" $(((20480 + 512) * 1048576))
expect_value "$T/one.txt" "nvidia_gpu_power_usage_milliwatts{$P}" 215000
expect_value "$T/one.txt" "nvidia_gpu_temperature_celsius{$P}" 51
expect_value "$T/one.txt" "nvidia_gpu_clock{minor_number=\"0\",name=\"NVIDIA A100-SXM4-80GB\",ordinal=\"0\",type=\"mem\",uuid=\"$U\"}" 1593
expect_value "$T/one.txt" "nvidia_gpu_ecc_errors{counter=\"aggregate\",error=\"corrected\",$P}" 3
expect_value "$T/one.txt" "nvidia_gpu_num_devices" 1
expect_value "$T/one.txt" "jobtel_gpu_nvml_available" 1
expect_value "$T/one.txt" "jobtel_scrape_collector_success{collector=\"gpu\"}" 1
expect_value "$T/one.txt" "jobtel_gpu_up{gpu=\"0\",UUID=\"$U\",pci_bus_id=\"00000000:07:00.0\",device=\"nvidia0\",modelName=\"NVIDIA A100-SXM4-80GB\"}" 1
# gzip, as Prometheus asks for it.
curl -sf --compressed -H 'Accept-Encoding: gzip' http://127.0.0.1:$EXPORTER_PORT/metrics -o "$T/gz.txt"
curl -sf -D "$T/gz.hdr" -o /dev/null -H 'Accept-Encoding: gzip' http://127.0.0.1:$EXPORTER_PORT/metrics
grep -qi '^Content-Encoding: gzip' "$T/gz.hdr" || fail "no gzip when asked"
validate "$T/gz.txt"
# HTTP surface: health, landing page, 404, 405, hostile requests; the daemon keeps serving.
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$EXPORTER_PORT/health)" = 200 ] || fail "/health not 200"
curl -sf http://127.0.0.1:$EXPORTER_PORT/ | grep 'href="metrics"' >/dev/null || fail "landing page"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$EXPORTER_PORT/nope)" = 404 ] || fail "404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 http://127.0.0.1:$EXPORTER_PORT/metrics)" = 405 ] || fail "405"
long=$(head -c 100000 /dev/zero | tr '\0' a)
curl -s -o /dev/null "http://127.0.0.1:$EXPORTER_PORT/$long" || true
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nX: %s\r\n\r\n' "$long" | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$EXPORTER_PORT" || true
printf 'garbage\r\n\r\n' | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$EXPORTER_PORT" || true
scrape $EXPORTER_PORT "$T/after.txt"
expect_value "$T/after.txt" "DCGM_FI_DEV_GPU_UTIL{$D}" 42
stop_pid "$EXPORTER_PID" || fail "exporter did not exit cleanly on SIGTERM"
pass "one GPU: values, labels, gzip, HTTP surface"

# --- DGX H100: 8 GPUs, Princeton names only, no hostname -----------------------------------------
export FAKE_NVML_SCENARIO="$SCENARIOS/dgx_h100.json"
start_exporter 0 "${NVML[@]}" --no-collector.cgroup --no-collector.gpu.dcgm-names -n
scrape $EXPORTER_PORT "$T/dgx.txt"
validate "$T/dgx.txt"
[ "$(count_series "$T/dgx.txt" nvidia_gpu_duty_cycle)" = 8 ] || fail "want 8 GPUs"
[ "$(count_series "$T/dgx.txt" DCGM_FI_DEV_GPU_UTIL)" = 0 ] || fail "dcgm names should be off"
expect_value "$T/dgx.txt" nvidia_gpu_num_devices 8
for i in 0 1 2 3 4 5 6 7; do
    grep -q "nvidia_gpu_memory_total_bytes{minor_number=\"$i\",name=\"NVIDIA H100 80GB HBM3\",ordinal=\"$i\"" "$T/dgx.txt" \
        || fail "GPU $i missing"
done
stop_pid "$EXPORTER_PID"
# DCGM names only, with hostname omitted (-n) and blanks replaced in modelName.
start_exporter 0 "${NVML[@]}" --no-collector.cgroup --no-collector.gpu.jobstats-names -n --replace-blanks-in-model-name
scrape $EXPORTER_PORT "$T/dgx2.txt"
validate "$T/dgx2.txt"
[ "$(count_series "$T/dgx2.txt" DCGM_FI_DEV_GPU_UTIL)" = 8 ] || fail "want 8 dcgm series"
[ "$(count_series "$T/dgx2.txt" nvidia_gpu_duty_cycle)" = 0 ] || fail "jobstats names should be off"
grep -q 'hostname=' "$T/dgx2.txt" && fail "-n must drop the hostname label"
grep -q 'modelName="NVIDIA-H100-80GB-HBM3"' "$T/dgx2.txt" || fail "-rbmn"
stop_pid "$EXPORTER_PID"
pass "8 GPUs, name-set switches, -n, --replace-blanks-in-model-name"

# --- counters CSV: -f selects fields, SIGHUP reloads, a bad reload keeps the old set ------------------
export FAKE_NVML_SCENARIO="$SCENARIOS/one_gpu.json"
printf '# mine\nDCGM_FI_DEV_GPU_UTIL, gauge, My util help.\n' >"$T/c.csv"
start_exporter 0 "${NVML[@]}" --no-collector.cgroup --no-collector.gpu.jobstats-names -f "$T/c.csv" -n
scrape $EXPORTER_PORT "$T/c1.txt"
validate "$T/c1.txt"
grep -q '^# HELP DCGM_FI_DEV_GPU_UTIL My util help.$' "$T/c1.txt" || fail "help from the CSV"
grep -q '^DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-4c2f8a1e-7b3d-5e96-a0c4-d81f2b6e9a37",pci_bus_id="00000000:07:00.0",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB"} 42$' "$T/c1.txt" \
    || fail "no driver label unless the CSV asks for it"
[ "$(grep -c '^DCGM_FI_' "$T/c1.txt")" = 1 ] || fail "only the selected field"
printf 'DCGM_FI_DEV_GPU_UTIL, gauge, u\nDCGM_FI_DEV_GPU_TEMP, gauge, t\nDCGM_FI_DRIVER_VERSION, label, d\n' >"$T/c.csv"
kill -HUP "$EXPORTER_PID"
wait_for 5 scrape_has $EXPORTER_PORT '^DCGM_FI_DEV_GPU_TEMP\{.*DCGM_FI_DRIVER_VERSION="550.144.03"\} 51$' || fail "SIGHUP did not reload"
printf 'DCGM_FI_DEV_GPU_UTIL, gauge\n' >"$T/c.csv"
kill -HUP "$EXPORTER_PID"
wait_for 5 grep -q 'keeping the previous counters' "$EXPORTER_LOG" || fail "bad reload not reported"
grep -q "c.csv:1: want exactly 3 fields" "$EXPORTER_LOG" || fail "bad reload must name file:line"
scrape $EXPORTER_PORT "$T/c3.txt"
grep -q '^DCGM_FI_DEV_GPU_TEMP{' "$T/c3.txt" || fail "a bad reload must keep the previous selection"
stop_pid "$EXPORTER_PID"
# A malformed file at start is a usage error naming file:line.
rc=0
"$JOBTEL" exporter "${NVML[@]}" --web.listen-address=127.0.0.1:"$(free_port)" -f "$T/c.csv" >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "malformed counters file: exit $rc, want 2"
grep -q 'c.csv:1: want exactly 3 fields' "$T/bad.log" || fail "start-up error must name file:line"
pass "counters CSV, SIGHUP reload"

# --- no NVML at all ---------------------------------------------------------------------------------
start_exporter 0 --collector.gpu.nvml-library=/nonexistent/libnvidia-ml.so.1 --no-collector.cgroup
scrape $EXPORTER_PORT "$T/none.txt"
validate "$T/none.txt"
expect_value "$T/none.txt" jobtel_gpu_nvml_available 0
expect_value "$T/none.txt" "jobtel_scrape_collector_success{collector=\"gpu\"}" 1
grep -q 'DCGM_FI_\|nvidia_gpu_' "$T/none.txt" && fail "no GPU series without NVML"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$EXPORTER_PORT/health)" = 200 ] || fail "no GPU is healthy"
[ "$(grep -c 'NVML not available' "$EXPORTER_LOG")" = 1 ] || fail "one clear log line"
grep -q 'dlopen failed' "$EXPORTER_LOG" || fail "log line should say why"
stop_pid "$EXPORTER_PID"
# Unset scenario: the library loads but nvmlInit fails: same behaviour.
unset FAKE_NVML_SCENARIO
start_exporter 0 "${NVML[@]}" --no-collector.cgroup
scrape $EXPORTER_PORT "$T/noinit.txt"
expect_value "$T/noinit.txt" jobtel_gpu_nvml_available 0
grep -q 'nvmlInit' "$EXPORTER_LOG" || fail "init failure should be named"
stop_pid "$EXPORTER_PID"
pass "no NVML"

# --- usage errors -------------------------------------------------------------------------------------
rc=0; "$JOBTEL" exporter --bogus >/dev/null 2>&1 || rc=$?; [ "$rc" = 2 ] || fail "unknown flag: exit $rc"
rc=0; "$JOBTEL" exporter --collect.interval=abc >/dev/null 2>&1 || rc=$?; [ "$rc" = 2 ] || fail "bad interval: exit $rc"
"$JOBTEL" exporter --help | grep -q -- '--collector.gpu.nvml-library' || fail "--help"
"$JOBTEL" exporter --help | grep -q -- 'cgroup' || fail "--help lists collectors"
"$JOBTEL" exporter --version | grep -q 'jobtel exporter version' || fail "--version"
rc=0; "$JOBTEL" exporter --web.listen-address=256.1.1.1:1 >/dev/null 2>&1 || rc=$?; [ "$rc" != 0 ] || fail "bad address accepted"
pass "usage"
