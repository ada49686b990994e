#!/bin/bash
# test_exporter_dropin.sh - jobtel-exporter in dcgm-exporter's place: the seed unit line
#   /usr/local/bin/dcgm-exporter -f /etc/dcgm-exporter/default-counters.csv --hpc-job-mapping-dir /run/dcgm-job-map
# run unchanged through a `dcgm-exporter` symlink (only the paths point into the test's tree, and the port comes
# from DCGM_EXPORTER_LISTEN, which the drop-in honours as dcgm-exporter does), reading dcgm-exporter's own
# default-counters.csv: every default counter NVML or GPM can serve is there for every GPU, with hpc_job labels
# from the mapping dir; the one neither can serve is listed once and skipped, never fatal. Then the same with
# -a 127.0.0.1:PORT -c 1000, and the variables and flags that mean what they mean to dcgm-exporter.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${FIXTURES:?}"
EXPORTER=$(dirname "$JOBTEL")/jobtel-exporter
[ -x "$EXPORTER" ] || fail "no jobtel-exporter next to $JOBTEL"
CSV="$FIXTURES/dcgm-exporter/default-counters.csv"

mkdir -p "$T/bin" "$T/map"
ln -s "$EXPORTER" "$T/bin/dcgm-exporter"
# Two H100s serving every NVML value of the default counters, and GPM.
cat >"$T/scenario.json" <<'JSON'
{
  "values": {
    "gpu_util": 71, "mem_util": 33, "encoder_util": 0, "decoder_util": 4, "temperature_c": 55,
    "memory_temperature_c": 61, "power_mw": 512000, "energy_mj": {"rate": "power_mw", "initial": 9000000000},
    "clock_sm_mhz": 1980, "clock_mem_mhz": 2619, "pcie_replay_count": 2, "memory_used_mib": 40000,
    "memory_reserved_mib": 541, "nvlink_data_tx_kib": 1000, "nvlink_data_rx_kib": 2000, "nvlink_raw_tx_kib": 1100,
    "nvlink_raw_rx_kib": 2100, "nvlink_bandwidth_c0_total": {"rate": 5000, "initial": 1000000}, "remapped_rows_corrected": 1, "remapped_rows_uncorrected": 0,
    "remapped_rows_pending": 0, "remapped_rows_failure": 0,
    "gpm_graphics_util": 64, "gpm_any_tensor_util": 41, "gpm_dram_bw_util": 27, "gpm_pcie_tx_mibps": 800,
    "gpm_pcie_rx_mibps": 1200
  },
  "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-0a000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:18:00.0",
     "memory_total_mib": 81559, "nvlink_links": 18},
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-1a000000-0000-4000-8000-000000000000", "pci_bus_id": "00000000:2A:00.0",
     "memory_total_mib": 81559, "nvlink_links": 18}
  ]
}
JSON
printf '4101\n' >"$T/map/0"
printf '4102\n4103\n' >"$T/map/1"
export FAKE_NVML_SCENARIO="$T/scenario.json"
# The driver's soname, found the way the dynamic linker finds it: the unit line names no library.
export LD_LIBRARY_PATH
LD_LIBRARY_PATH=$(dirname "$FAKE_NVML_LIB")

# start NAME ARGS... : runs the symlink with ARGS; sets PID and PORT (the kernel picks the port).
start() {
    local name=$1 i
    shift
    start_bg "$name" "$@"
    PID=$LAST_PID
    PORT=
    for ((i = 0; i < 100; i++)); do
        PORT=$(sed -n 's/.*listening on .* (port \([0-9]*\)).*/\1/p' "$T/$name.log" 2>/dev/null | head -n1 || true)
        [ -n "$PORT" ] && break
        kill -0 "$PID" 2>/dev/null || fail "$name exited: $(tail -n 5 "$T/$name.log")"
        sleep 0.1
    done
    [ -n "$PORT" ] || fail "$name did not say which port it listens on"
    wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{' || fail "$name: no profiling series"
}

# check NAME FILE : every active counter of the CSV that NVML or GPM serves, for each GPU and job.
check() {
    local name=$1 f=$2 field n
    validate "$f"
    for field in $(grep -v '^#' "$CSV" | grep -v '^[[:space:]]*$' | cut -d, -f1 | tr -d ' '); do
        case "$field" in
        DCGM_FI_DRIVER_VERSION) continue ;; # a label, checked below
        DCGM_FI_DEV_VGPU_LICENSE_STATUS)    # neither NVML nor GPM serves it: skipped, listed once
            grep -q "^$field" "$f" && fail "$name: $field served without DCGM"
            continue ;;
        esac
        for job in 'gpu="0".*hpc_job="4101"' 'gpu="1".*hpc_job="4102"' 'gpu="1".*hpc_job="4103"'; do
            grep -q -E "^$field\{$job" "$f" || fail "$name: $field missing for $job"
        done
    done
    [ "$(grep -c 'skipped (needs DCGM): DCGM_FI_DEV_VGPU_LICENSE_STATUS"$' "$T/$name.log")" = 1 ] \
        || fail "$name: the unservable field must be listed once"
    grep -q 'DCGM_FI_DRIVER_VERSION="550.144.03",hpc_job="4101"} ' "$f" || fail "$name: driver version label"
    n=$(grep -c '^DCGM_FI_DEV_GPU_UTIL{' "$f")
    [ "$n" = 3 ] || fail "$name: $n GPU_UTIL series, want 3 (one per GPU and job)"
    # dcgm-exporter serves DCGM names only: the Princeton set is off in drop-in mode.
    grep -q '^nvidia_gpu_' "$f" && fail "$name: nvidia_gpu_* series in drop-in mode"
    expect_value "$f" "DCGM_FI_PROF_PCIE_RX_BYTES{gpu=\"0\",UUID=\"GPU-0a000000-0000-4000-8000-000000000000\",pci_bus_id=\"00000000:18:00.0\",device=\"nvidia0\",modelName=\"NVIDIA H100 80GB HBM3\",hostname=\"$(hostname)\",DCGM_FI_DRIVER_VERSION=\"550.144.03\",hpc_job=\"4101\"}" $((1200 * 1048576))
}

# 1. The seed unit line, unchanged but for the paths.
DCGM_EXPORTER_LISTEN=127.0.0.1:0 start seed "$T/bin/dcgm-exporter" -f "$CSV" --hpc-job-mapping-dir "$T/map"
scrape "$PORT" "$T/seed.txt"
check seed "$T/seed.txt"
stop_pid "$PID" || fail "seed: unclean exit"

# 2. With dcgm-exporter's -a and -c (milliseconds).
start flags "$T/bin/dcgm-exporter" -f "$CSV" --hpc-job-mapping-dir "$T/map" -a 127.0.0.1:0 -c 1000
scrape "$PORT" "$T/flags.txt"
check flags "$T/flags.txt"
grep -q 'starting (interval 1.000 s)' "$T/flags.log" || fail "-c 1000 is one second"
stop_pid "$PID" || fail "flags: unclean exit"

# 3. dcgm-exporter's variables instead of flags, -n, -d g:1, and --dcgm-exporter-compat on the real name.
DCGM_EXPORTER_COLLECTORS="$CSV" DCGM_HPC_JOB_MAPPING_DIR="$T/map" DCGM_EXPORTER_LISTEN=127.0.0.1:0 \
    DCGM_EXPORTER_INTERVAL=500 start env "$EXPORTER" --dcgm-exporter-compat -n -d g:1
scrape "$PORT" "$T/env.txt"
validate "$T/env.txt"
grep -q 'starting (interval 0.500 s)' "$T/env.log" || fail "DCGM_EXPORTER_INTERVAL not honoured"
grep -q 'hostname=' "$T/env.txt" && fail "-n: no hostname label"
grep -q '^DCGM_FI_DEV_GPU_UTIL{gpu="0"' "$T/env.txt" && fail "-d g:1 exports GPU 0"
grep -q -E '^DCGM_FI_DEV_GPU_UTIL\{gpu="1".*hpc_job="4103"\} 71$' "$T/env.txt" || fail "-d g:1 lost GPU 1"
stop_pid "$PID" || fail "env: unclean exit"

# 4. Without the drop-in, the variables mean nothing (jobtel's own flags rule).
DCGM_EXPORTER_INTERVAL=500 DCGM_EXPORTER_LISTEN=127.0.0.1:0 start plain "$EXPORTER" -a 127.0.0.1:0
grep -q 'starting (interval 1.000 s)' "$T/plain.log" || fail "DCGM_EXPORTER_* read outside drop-in mode"
stop_pid "$PID" || true

# 5. Bad drop-in input is refused with a reason, not served half-right.
for bad in "-d x" "-d g:3-1" "-d g:" "-d g:1," "-d f:0" "--kubernetes-gpu-id-type serial"; do
    # shellcheck disable=SC2086
    rc=0; "$T/bin/dcgm-exporter" -a 127.0.0.1:0 $bad >"$T/bad.log" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "'$bad' exited $rc, want 2 (usage)"
done
printf 'tls_server_config:\n  cert_file: x.crt\n' >"$T/web.yml"
rc=0; "$T/bin/dcgm-exporter" -a 127.0.0.1:0 --web-config-file "$T/web.yml" >"$T/bad.log" 2>&1 || rc=$?
# (a TLS config whose key is missing: refused before anything starts, naming the file and line)
[ "$rc" = 2 ] && grep -q "web config: $T/web.yml:1" "$T/bad.log" || fail "a broken web config must be refused (rc $rc)"
pass "dcgm-exporter drop-in"
