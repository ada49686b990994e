#!/bin/bash
# test_exporter_gpm.sh - profiling metrics through NVML GPM, end to end: the daemon against the fake NVML's GPM
# scenario serves DCGM_FI_PROF_* with DCGM's conversions (ratio = % / 100, bytes/s = MiB/s x 2^20) and
# Princeton's GPM names, per GPU and per MIG instance; a GPU without GPM has no profiling series, and the log
# says why once; the profiling fields of dcgm-exporter's default counters are served, not skipped.
# --no-collector.gpu.gpm turns the producer off: no GPM call at all, no profiling series, the rest served.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
export FAKE_NVML_SCENARIO="$SCENARIOS/gpm.json"
start_exporter_ephemeral gpm 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup \
    --hostname=testhost
wait_metrics "$PORT"
# The first collection has one sample, no window: wait for the second.
wait_for 10 scrape_has "$PORT" '^DCGM_FI_PROF_GR_ENGINE_ACTIVE' || fail "no profiling series"
scrape "$PORT" "$T/m.txt"
validate "$T/m.txt"

G0='gpu="0",UUID="GPU-6a1e0c3b-2f4d-4b8e-9a7c-5d3e1f0a2b4c",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",hostname="testhost",DCGM_FI_DRIVER_VERSION="550.144.03"'
expect_value "$T/m.txt" "DCGM_FI_PROF_GR_ENGINE_ACTIVE{$G0}" 0.85
expect_value "$T/m.txt" "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{$G0}" 0.55
expect_value "$T/m.txt" "DCGM_FI_PROF_DRAM_ACTIVE{$G0}" 0.33
expect_value "$T/m.txt" "DCGM_FI_PROF_PCIE_TX_BYTES{$G0}" $((1500 * 1048576))
expect_value "$T/m.txt" "DCGM_FI_PROF_PCIE_RX_BYTES{$G0}" $((2500 * 1048576))
# Exact text, as DCGM prints it (no 0.35000000000000003).
grep -q "^DCGM_FI_PROF_GR_ENGINE_ACTIVE{$G0} 0.85\$" "$T/m.txt" || fail "ratio printed inexactly"
grep -q '^# TYPE DCGM_FI_PROF_PCIE_TX_BYTES gauge$' "$T/m.txt" || fail "PROF fields are gauges"

# MIG instances carry their own values, with dcgm-exporter's MIG labels.
M='gpu="1",UUID="GPU-7b2f1d4c-3a5e-4c9f-8b6d-6e4f2a1b3c5d",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3"'
expect_value "$T/m.txt" "DCGM_FI_PROF_GR_ENGINE_ACTIVE{$M,GPU_I_PROFILE=\"3g.40gb\",GPU_I_ID=\"2\",hostname=\"testhost\",DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 0.9
expect_value "$T/m.txt" "DCGM_FI_PROF_GR_ENGINE_ACTIVE{$M,GPU_I_PROFILE=\"1g.10gb\",GPU_I_ID=\"9\",hostname=\"testhost\",DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 0.15
expect_value "$T/m.txt" "DCGM_FI_PROF_GR_ENGINE_ACTIVE{$M,hostname=\"testhost\",DCGM_FI_DRIVER_VERSION=\"550.144.03\"}" 0.6
expect_absent "$T/m.txt" "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{$M,GPU_I_PROFILE=\"1g.10gb\",GPU_I_ID=\"9\",hostname=\"testhost\",DCGM_FI_DRIVER_VERSION=\"550.144.03\"}"

# Princeton's GPM names: 0-1 despite "_percent", bytes/s.
P='minor_number="0",name="NVIDIA H100 80GB HBM3",ordinal="0",uuid="GPU-6a1e0c3b-2f4d-4b8e-9a7c-5d3e1f0a2b4c"'
expect_value "$T/m.txt" "nvidia_gpu_graphics_util_percent{$P}" 0.85
expect_value "$T/m.txt" "nvidia_gpu_sm_occupancy_percent{$P}" 0.4
expect_value "$T/m.txt" "nvidia_gpu_integer_util{$P}" 0.1
expect_value "$T/m.txt" "nvidia_gpu_any_tensor_util_percent{$P}" 0.55
expect_value "$T/m.txt" "nvidia_gpu_dram_bw_util_percent{$P}" 0.33
expect_value "$T/m.txt" "nvidia_gpu_fp64_util_percent{$P}" 0.01
expect_value "$T/m.txt" "nvidia_gpu_fp32_util_percent{$P}" 0.2
expect_value "$T/m.txt" "nvidia_gpu_fp16_util_percent{$P}" 0.125
expect_value "$T/m.txt" "nvidia_gpu_pcie_tx_per_sec{$P}" $((1500 * 1048576))
expect_value "$T/m.txt" "nvidia_gpu_pcie_rx_per_sec{$P}" $((2500 * 1048576))
expect_value "$T/m.txt" "nvidia_gpu_nvlink_total_tx_per_sec{$P}" $((300 * 1048576))
expect_value "$T/m.txt" "nvidia_gpu_nvlink_total_rx_per_sec{$P}" $((200 * 1048576))
expect_value "$T/m.txt" "nvidia_gpu_graphics_util_percent{GPU_I_ID=\"2\",minor_number=\"1\",name=\"NVIDIA H100 80GB HBM3 MIG 3g.40gb\",ordinal=\"1\",uuid=\"MIG-1c3e5a7b-9d2f-4e6a-8c0b-2d4f6a8c0e1b\"}" 0.9

# The A100 has no GPM: no profiling series (not zeros), and the log says why, once.
A='GPU-8c3a2e5d-4b6f-4dab-9c7e-7f5a3b2c4d6e'
grep -E "^(DCGM_FI_PROF_|nvidia_gpu_[a-z0-9_]*(util|per_sec|percent))[^ ]*$A" "$T/m.txt" | grep -v duty_cycle && fail "profiling series for a GPU without GPM"
[ "$(grep -c "GPU 2 ($A): no profiling metrics" "$T/gpm.log")" = 1 ] || fail "the log must say once why GPU 2 has no GPM"
# The default counters' profiling fields are served here, so they are not listed as skipped.
grep -q 'skipped (needs DCGM): .*DCGM_FI_PROF_' "$T/gpm.log" && fail "PROF fields listed as skipped while GPM serves them"
stop_pid "$EXPORTER_PID"
pass "GPM profiling metrics"

# --no-collector.gpu.gpm: the same GPUs, not one GPM sample call, and no profiling series.
FAKE_NVML_GPM_LOG="$T/samples.log" start_exporter_ephemeral nogpm 127.0.0.1:0 \
    --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup --hostname=testhost --no-collector.gpu.gpm
wait_metrics "$PORT"
coll_ts() { scrape "$PORT" "$T/n.txt" && sed -n 's/^jobtel_last_collection_timestamp_seconds{collector="gpu"} //p' "$T/n.txt"; }
ts0=$(coll_ts)
later() { "$PY" -c "import sys; sys.exit(0 if float('$(coll_ts)') >= float('$ts0') + 2 else 1)"; }
wait_for 15 later || fail "the GPU collector stopped"
validate "$T/n.txt"
grep -q '^DCGM_FI_DEV_GPU_UTIL{gpu="0"' "$T/n.txt" || fail "NVML readings gone with GPM off"
grep -q -E '^(DCGM_FI_PROF_|nvidia_gpu_(graphics|sm|tensor|fp16|fp32|fp64|dram)[a-z_]*util)' "$T/n.txt" && fail "profiling series with GPM off"
[ ! -s "$T/samples.log" ] || fail "GPM sampled with --no-collector.gpu.gpm: $(head -n 3 "$T/samples.log")"
grep -q 'skipped (needs DCGM): .*--no-collector.gpu.gpm' "$T/nogpm.log" || fail "the log does not say why PROF fields are skipped"
stop_pid "$EXPORTER_PID"
pass "--no-collector.gpu.gpm"
