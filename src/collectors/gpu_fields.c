/* gpu_fields.c - the GPU metric tables (see gpu_fields.h).
 *
 * DCGM names, types and units follow dcgm-exporter (../shared/reference/dcgm-exporter.md §2, §3):
 * power in W, framebuffer in MiB, utilization in %, violations in ns. Princeton names follow
 * nvidia_gpu_prometheus_exporter (jobstats.md §5). HELP texts are ours.
 */
#include "collectors/gpu_fields.h"

#include <stdio.h>
#include <string.h>

#include "nvml/nvml_types.h"

#define MIB (1.0 / 1048576.0)
#define PCT 0.01          /* GPM percent -> DCGM's 0-1 ratio */
#define MIBPS 1048576.0   /* GPM MiB/s -> bytes/s */
#define RB(r) READING_BIT(r)

const struct reading_def reading_defs[R_COUNT] = {
    [R_GPU_UTIL] = {R_GPU_UTIL, "%", SRC_UTIL, 0, 0, RB(R_MEM_UTIL)},
    [R_MEM_UTIL] = {R_MEM_UTIL, "%", SRC_UTIL, 0, 0, RB(R_GPU_UTIL)},
    [R_ENC_UTIL] = {R_ENC_UTIL, "%", SRC_ENC_UTIL, 0, 0, 0},
    [R_DEC_UTIL] = {R_DEC_UTIL, "%", SRC_DEC_UTIL, 0, 0, 0},
    [R_SM_CLOCK] = {R_SM_CLOCK, "MHz", SRC_CLOCK, NVML_CLOCK_SM, 0, 0},
    [R_MEM_CLOCK] = {R_MEM_CLOCK, "MHz", SRC_CLOCK, NVML_CLOCK_MEM, 0, 0},
    [R_GRAPHICS_CLOCK] = {R_GRAPHICS_CLOCK, "MHz", SRC_CLOCK, NVML_CLOCK_GRAPHICS, 0, 0},
    [R_VIDEO_CLOCK] = {R_VIDEO_CLOCK, "MHz", SRC_CLOCK, NVML_CLOCK_VIDEO, 0, 0},
    [R_GPU_TEMP] = {R_GPU_TEMP, "C", SRC_TEMP, 0, 0, 0},
    [R_MEM_TEMP] = {R_MEM_TEMP, "C", SRC_FIELD, NVML_FI_DEV_MEMORY_TEMP, 0, 0},
    [R_POWER_MW] = {R_POWER_MW, "mW", SRC_POWER, 0, 0, 0},
    [R_POWER_LIMIT_MW] = {R_POWER_LIMIT_MW, "mW", SRC_POWER_LIMIT, 0, 0, 0},
    [R_ENERGY_MJ] = {R_ENERGY_MJ, "mJ", SRC_ENERGY, 0, 0, 0},
    [R_FB_TOTAL] = {R_FB_TOTAL, "bytes", SRC_MEMORY, 0, 0, RB(R_FB_FREE) | RB(R_FB_USED) | RB(R_FB_RESERVED) | RB(R_FB_USED_V1)},
    [R_FB_FREE] = {R_FB_FREE, "bytes", SRC_MEMORY, 0, 0, RB(R_FB_TOTAL) | RB(R_FB_USED) | RB(R_FB_RESERVED) | RB(R_FB_USED_V1)},
    [R_FB_USED] = {R_FB_USED, "bytes", SRC_MEMORY, 0, 0, RB(R_FB_TOTAL) | RB(R_FB_FREE) | RB(R_FB_RESERVED) | RB(R_FB_USED_V1)},
    [R_FB_RESERVED] = {R_FB_RESERVED, "bytes", SRC_MEMORY, 0, 0, RB(R_FB_TOTAL) | RB(R_FB_FREE) | RB(R_FB_USED) | RB(R_FB_USED_V1)},
    [R_FB_USED_V1] = {R_FB_USED_V1, "bytes", SRC_MEMORY, 0, 0, RB(R_FB_TOTAL) | RB(R_FB_FREE) | RB(R_FB_USED) | RB(R_FB_RESERVED)},
    [R_FAN] = {R_FAN, "%", SRC_FAN, 0, 0, 0},
    [R_PSTATE] = {R_PSTATE, "P-state", SRC_PSTATE, 0, 0, 0},
    [R_CLOCK_REASONS] = {R_CLOCK_REASONS, "bitmask", SRC_CLOCK_REASONS, 0, 0, 0},
    [R_PCIE_REPLAY] = {R_PCIE_REPLAY, "count", SRC_FIELD, NVML_FI_DEV_PCIE_REPLAY_COUNTER, 0, 0},
    [R_PCIE_TX_KBPS] = {R_PCIE_TX_KBPS, "KB/s", SRC_PCIE, NVML_PCIE_UTIL_TX_BYTES, 0, 0},
    [R_PCIE_RX_KBPS] = {R_PCIE_RX_KBPS, "KB/s", SRC_PCIE, NVML_PCIE_UTIL_RX_BYTES, 0, 0},
    [R_ECC_SBE_VOL] = {R_ECC_SBE_VOL, "count", SRC_ECC, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC, 0},
    [R_ECC_DBE_VOL] = {R_ECC_DBE_VOL, "count", SRC_ECC, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC, 0},
    [R_ECC_SBE_AGG] = {R_ECC_SBE_AGG, "count", SRC_ECC, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_AGGREGATE_ECC, 0},
    [R_ECC_DBE_AGG] = {R_ECC_DBE_AGG, "count", SRC_ECC, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_AGGREGATE_ECC, 0},
    [R_RETIRED_SBE] = {R_RETIRED_SBE, "pages", SRC_RETIRED, NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS, 0, 0},
    [R_RETIRED_DBE] = {R_RETIRED_DBE, "pages", SRC_RETIRED, NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR, 0, 0},
    [R_RETIRED_PENDING] = {R_RETIRED_PENDING, "0/1", SRC_RETIRED_PENDING, 0, 0, 0},
    [R_REMAP_COR] = {R_REMAP_COR, "rows", SRC_REMAP, 0, 0, RB(R_REMAP_UNC) | RB(R_REMAP_PENDING) | RB(R_REMAP_FAILED)},
    [R_REMAP_UNC] = {R_REMAP_UNC, "rows", SRC_REMAP, 0, 0, RB(R_REMAP_COR) | RB(R_REMAP_PENDING) | RB(R_REMAP_FAILED)},
    [R_REMAP_PENDING] = {R_REMAP_PENDING, "0/1", SRC_REMAP, 0, 0, RB(R_REMAP_COR) | RB(R_REMAP_UNC) | RB(R_REMAP_FAILED)},
    [R_REMAP_FAILED] = {R_REMAP_FAILED, "0/1", SRC_REMAP, 0, 0, RB(R_REMAP_COR) | RB(R_REMAP_UNC) | RB(R_REMAP_PENDING)},
    [R_VIOL_POWER] = {R_VIOL_POWER, "ns", SRC_FIELD, NVML_FI_DEV_PERF_POLICY_POWER, 0, 0},
    [R_VIOL_THERMAL] = {R_VIOL_THERMAL, "ns", SRC_FIELD, NVML_FI_DEV_PERF_POLICY_THERMAL, 0, 0},
    [R_VIOL_SYNC_BOOST] = {R_VIOL_SYNC_BOOST, "ns", SRC_FIELD, NVML_FI_DEV_PERF_POLICY_SYNC_BOOST, 0, 0},
    [R_VIOL_BOARD] = {R_VIOL_BOARD, "ns", SRC_FIELD, NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT, 0, 0},
    [R_VIOL_LOW_UTIL] = {R_VIOL_LOW_UTIL, "ns", SRC_FIELD, NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION, 0, 0},
    [R_VIOL_RELIABILITY] = {R_VIOL_RELIABILITY, "ns", SRC_FIELD, NVML_FI_DEV_PERF_POLICY_RELIABILITY, 0, 0},
    [R_NVLINK_CRC_FLIT] = {R_NVLINK_CRC_FLIT, "count", SRC_FIELD, NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, 0, 0},
    [R_NVLINK_CRC_DATA] = {R_NVLINK_CRC_DATA, "count", SRC_FIELD, NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, 0, 0},
    [R_NVLINK_REPLAY] = {R_NVLINK_REPLAY, "count", SRC_FIELD, NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, 0, 0},
    [R_NVLINK_RECOVERY] = {R_NVLINK_RECOVERY, "count", SRC_FIELD, NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, 0, 0},
    [R_NVLINK_BW_TOTAL] = {R_NVLINK_BW_TOTAL, "counter", SRC_FIELD, NVML_FI_DEV_NVLINK_BANDWIDTH_C0_TOTAL, 0, 0},
    [R_XID_LAST] = {R_XID_LAST, "xid", SRC_XID, 0, 0, 0},
    [R_GPM_GR_ACTIVE] = {R_GPM_GR_ACTIVE, "%", SRC_GPM, NVML_GPM_METRIC_GRAPHICS_UTIL, 0, 0},
    [R_GPM_SM_ACTIVE] = {R_GPM_SM_ACTIVE, "%", SRC_GPM, NVML_GPM_METRIC_SM_UTIL, 0, 0},
    [R_GPM_SM_OCCUPANCY] = {R_GPM_SM_OCCUPANCY, "%", SRC_GPM, NVML_GPM_METRIC_SM_OCCUPANCY, 0, 0},
    [R_GPM_INT_ACTIVE] = {R_GPM_INT_ACTIVE, "%", SRC_GPM, NVML_GPM_METRIC_INTEGER_UTIL, 0, 0},
    [R_GPM_TENSOR_ACTIVE] = {R_GPM_TENSOR_ACTIVE, "%", SRC_GPM, NVML_GPM_METRIC_ANY_TENSOR_UTIL, 0, 0},
    [R_GPM_DRAM_ACTIVE] = {R_GPM_DRAM_ACTIVE, "%", SRC_GPM, NVML_GPM_METRIC_DRAM_BW_UTIL, 0, 0},
    [R_GPM_FP64_ACTIVE] = {R_GPM_FP64_ACTIVE, "%", SRC_GPM, NVML_GPM_METRIC_FP64_UTIL, 0, 0},
    [R_GPM_FP32_ACTIVE] = {R_GPM_FP32_ACTIVE, "%", SRC_GPM, NVML_GPM_METRIC_FP32_UTIL, 0, 0},
    [R_GPM_FP16_ACTIVE] = {R_GPM_FP16_ACTIVE, "%", SRC_GPM, NVML_GPM_METRIC_FP16_UTIL, 0, 0},
    [R_GPM_PCIE_TX] = {R_GPM_PCIE_TX, "MiB/s", SRC_GPM, NVML_GPM_METRIC_PCIE_TX_PER_SEC, 0, 0},
    [R_GPM_PCIE_RX] = {R_GPM_PCIE_RX, "MiB/s", SRC_GPM, NVML_GPM_METRIC_PCIE_RX_PER_SEC, 0, 0},
    [R_GPM_NVLINK_TX] = {R_GPM_NVLINK_TX, "MiB/s", SRC_GPM, NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC, 0, 0},
    [R_GPM_NVLINK_RX] = {R_GPM_NVLINK_RX, "MiB/s", SRC_GPM, NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC, 0, 0},
};

static const struct dcgm_field_def dcgm_fields[] = {
    {"DCGM_FI_DEV_SM_CLOCK", R_SM_CLOCK, 1, false, CT_GAUGE, "SM clock frequency (in MHz).", false},
    {"DCGM_FI_DEV_MEM_CLOCK", R_MEM_CLOCK, 1, false, CT_GAUGE, "Memory clock frequency (in MHz).", false},
    {"DCGM_FI_DEV_VIDEO_CLOCK", R_VIDEO_CLOCK, 1, false, CT_GAUGE, "Video encoder/decoder clock (in MHz).", false},
    {"DCGM_FI_DEV_MEMORY_TEMP", R_MEM_TEMP, 1, false, CT_GAUGE, "Memory temperature (in C).", false},
    {"DCGM_FI_DEV_GPU_TEMP", R_GPU_TEMP, 1, false, CT_GAUGE, "GPU temperature (in C).", false},
    {"DCGM_FI_DEV_POWER_USAGE", R_POWER_MW, 0.001, false, CT_GAUGE, "Power draw (in W).", false},
    {"DCGM_FI_DEV_ENFORCED_POWER_LIMIT", R_POWER_LIMIT_MW, 0.001, false, CT_GAUGE, "Effective power limit (in W).", false},
    {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", R_ENERGY_MJ, 1, false, CT_COUNTER,
     "Total energy consumption since the driver was loaded (in mJ).", false},
    {"DCGM_FI_DEV_PCIE_REPLAY_COUNTER", R_PCIE_REPLAY, 1, false, CT_COUNTER, "Total number of PCIe retries.", false},
    {"DCGM_FI_DEV_PCIE_TX_THROUGHPUT", R_PCIE_TX_KBPS, 1, false, CT_GAUGE, "PCIe transmit throughput (in KB/s).", false},
    {"DCGM_FI_DEV_PCIE_RX_THROUGHPUT", R_PCIE_RX_KBPS, 1, false, CT_GAUGE, "PCIe receive throughput (in KB/s).", false},
    {"DCGM_FI_DEV_GPU_UTIL", R_GPU_UTIL, 1, false, CT_GAUGE, "GPU utilization (in %).", false},
    {"DCGM_FI_DEV_MEM_COPY_UTIL", R_MEM_UTIL, 1, false, CT_GAUGE, "Memory utilization (in %).", false},
    {"DCGM_FI_DEV_ENC_UTIL", R_ENC_UTIL, 1, false, CT_GAUGE, "Encoder utilization (in %).", false},
    {"DCGM_FI_DEV_DEC_UTIL", R_DEC_UTIL, 1, false, CT_GAUGE, "Decoder utilization (in %).", false},
    {"DCGM_FI_DEV_XID_ERRORS", R_XID_LAST, 1, false, CT_GAUGE, "Value of the last XID error seen.", false},
    {"DCGM_FI_DEV_FB_TOTAL", R_FB_TOTAL, MIB, true, CT_GAUGE, "Framebuffer memory total (in MiB).", true},
    {"DCGM_FI_DEV_FB_FREE", R_FB_FREE, MIB, true, CT_GAUGE, "Framebuffer memory free (in MiB).", true},
    {"DCGM_FI_DEV_FB_USED", R_FB_USED, MIB, true, CT_GAUGE, "Framebuffer memory used (in MiB).", true},
    {"DCGM_FI_DEV_FB_RESERVED", R_FB_RESERVED, MIB, true, CT_GAUGE, "Framebuffer memory reserved (in MiB).", true},
    {"DCGM_FI_DEV_FAN_SPEED", R_FAN, 1, false, CT_GAUGE, "Fan speed (in %).", false},
    {"DCGM_FI_DEV_PSTATE", R_PSTATE, 1, false, CT_GAUGE, "Performance state (P0-P15).", false},
    {"DCGM_FI_DEV_CLOCKS_EVENT_REASONS", R_CLOCK_REASONS, 1, false, CT_GAUGE, "Clock event reasons bitmask.", false},
    {"DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", R_CLOCK_REASONS, 1, false, CT_GAUGE, "Clock throttle reasons bitmask.", false},
    {"DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", R_ECC_SBE_VOL, 1, false, CT_COUNTER, "Total number of single-bit volatile ECC errors.", false},
    {"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", R_ECC_DBE_VOL, 1, false, CT_COUNTER, "Total number of double-bit volatile ECC errors.", false},
    {"DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", R_ECC_SBE_AGG, 1, false, CT_COUNTER, "Total number of single-bit persistent ECC errors.", false},
    {"DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", R_ECC_DBE_AGG, 1, false, CT_COUNTER, "Total number of double-bit persistent ECC errors.", false},
    {"DCGM_FI_DEV_RETIRED_SBE", R_RETIRED_SBE, 1, false, CT_COUNTER, "Total number of retired pages due to single-bit errors.", false},
    {"DCGM_FI_DEV_RETIRED_DBE", R_RETIRED_DBE, 1, false, CT_COUNTER, "Total number of retired pages due to double-bit errors.", false},
    {"DCGM_FI_DEV_RETIRED_PENDING", R_RETIRED_PENDING, 1, false, CT_COUNTER, "Whether page retirements are pending.", false},
    {"DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", R_REMAP_UNC, 1, false, CT_COUNTER, "Number of remapped rows for uncorrectable errors.", false},
    {"DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", R_REMAP_COR, 1, false, CT_COUNTER, "Number of remapped rows for correctable errors.", false},
    {"DCGM_FI_DEV_ROW_REMAP_FAILURE", R_REMAP_FAILED, 1, false, CT_GAUGE, "Whether remapping of rows has failed.", false},
    {"DCGM_FI_DEV_ROW_REMAP_PENDING", R_REMAP_PENDING, 1, false, CT_GAUGE, "Whether row remapping is pending.", false},
    {"DCGM_FI_DEV_POWER_VIOLATION", R_VIOL_POWER, 1, false, CT_COUNTER, "Throttling duration due to power constraints (in ns).", false},
    {"DCGM_FI_DEV_THERMAL_VIOLATION", R_VIOL_THERMAL, 1, false, CT_COUNTER, "Throttling duration due to thermal constraints (in ns).", false},
    {"DCGM_FI_DEV_SYNC_BOOST_VIOLATION", R_VIOL_SYNC_BOOST, 1, false, CT_COUNTER, "Throttling duration due to sync-boost constraints (in ns).", false},
    {"DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", R_VIOL_BOARD, 1, false, CT_COUNTER, "Throttling duration due to board limit constraints (in ns).", false},
    {"DCGM_FI_DEV_LOW_UTIL_VIOLATION", R_VIOL_LOW_UTIL, 1, false, CT_COUNTER, "Throttling duration due to low utilization (in ns).", false},
    {"DCGM_FI_DEV_RELIABILITY_VIOLATION", R_VIOL_RELIABILITY, 1, false, CT_COUNTER, "Throttling duration due to reliability constraints (in ns).", false},
    {"DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", R_NVLINK_CRC_FLIT, 1, false, CT_COUNTER, "Total number of NVLink flow-control CRC errors.", false},
    {"DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", R_NVLINK_CRC_DATA, 1, false, CT_COUNTER, "Total number of NVLink data CRC errors.", false},
    {"DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", R_NVLINK_REPLAY, 1, false, CT_COUNTER, "Total number of NVLink retries.", false},
    {"DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL", R_NVLINK_RECOVERY, 1, false, CT_COUNTER, "Total number of NVLink recovery errors.", false},
    {"DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", R_NVLINK_BW_TOTAL, 1, false, CT_COUNTER, "Total NVLink bandwidth counter for all lanes.", false},
    /* Profiling fields from NVML GPM, converted as DCGM converts them (gpu-apis.md A.7): ratios = % / 100,
     * bytes/s = MiB/s x 1048576 stored as an integer. Served per MIG instance too. */
    {"DCGM_FI_PROF_GR_ENGINE_ACTIVE", R_GPM_GR_ACTIVE, PCT, false, CT_GAUGE, "Ratio of time the graphics engine is active.", true},
    {"DCGM_FI_PROF_SM_ACTIVE", R_GPM_SM_ACTIVE, PCT, false, CT_GAUGE, "Ratio of cycles an SM has at least one warp assigned.", true},
    {"DCGM_FI_PROF_SM_OCCUPANCY", R_GPM_SM_OCCUPANCY, PCT, false, CT_GAUGE, "Ratio of warps resident on an SM to the maximum.", true},
    {"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", R_GPM_TENSOR_ACTIVE, PCT, false, CT_GAUGE, "Ratio of cycles the tensor (HMMA) pipe is active.", true},
    {"DCGM_FI_PROF_DRAM_ACTIVE", R_GPM_DRAM_ACTIVE, PCT, false, CT_GAUGE, "Ratio of cycles the device memory interface is active sending or receiving data.", true},
    {"DCGM_FI_PROF_PIPE_FP64_ACTIVE", R_GPM_FP64_ACTIVE, PCT, false, CT_GAUGE, "Ratio of cycles the fp64 pipe is active.", true},
    {"DCGM_FI_PROF_PIPE_FP32_ACTIVE", R_GPM_FP32_ACTIVE, PCT, false, CT_GAUGE, "Ratio of cycles the fp32 pipe is active.", true},
    {"DCGM_FI_PROF_PIPE_FP16_ACTIVE", R_GPM_FP16_ACTIVE, PCT, false, CT_GAUGE, "Ratio of cycles the fp16 pipe is active.", true},
    {"DCGM_FI_PROF_PIPE_INT_ACTIVE", R_GPM_INT_ACTIVE, PCT, false, CT_GAUGE, "Ratio of cycles the integer pipe is active.", true},
    {"DCGM_FI_PROF_PCIE_TX_BYTES", R_GPM_PCIE_TX, MIBPS, true, CT_GAUGE, "The rate of data transmitted over the PCIe bus, in bytes per second.", true},
    {"DCGM_FI_PROF_PCIE_RX_BYTES", R_GPM_PCIE_RX, MIBPS, true, CT_GAUGE, "The rate of data received over the PCIe bus, in bytes per second.", true},
    {"DCGM_FI_PROF_NVLINK_TX_BYTES", R_GPM_NVLINK_TX, MIBPS, true, CT_GAUGE, "The rate of data transmitted over NVLink, in bytes per second.", true},
    {"DCGM_FI_PROF_NVLINK_RX_BYTES", R_GPM_NVLINK_RX, MIBPS, true, CT_GAUGE, "The rate of data received over NVLink, in bytes per second.", true},
};

const struct dcgm_field_def *dcgm_field_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof dcgm_fields / sizeof dcgm_fields[0]; i++) {
        if (strcmp(dcgm_fields[i].name, name) == 0)
            return &dcgm_fields[i];
    }
    return NULL;
}

enum dcgm_label_field dcgm_label_lookup(const char *name)
{
    if (strcmp(name, "DCGM_FI_DRIVER_VERSION") == 0)
        return DLF_DRIVER_VERSION;
    if (strcmp(name, "DCGM_FI_NVML_VERSION") == 0)
        return DLF_NVML_VERSION;
    return DLF_NONE;
}

/* dcgm-exporter's default selection (the active lines of its default-counters.csv), in its order.
 * The fields that need DCGM itself (profiling, vGPU licensing) are listed too, so a user sees at
 * start-up exactly which of the defaults jobtel skips and why. */
const char dcgm_default_counters_csv[] =
    "# Format: DCGM field, Prometheus metric type, help message\n"
    "DCGM_FI_DEV_SM_CLOCK, gauge, SM clock frequency (in MHz).\n"
    "DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).\n"
    "DCGM_FI_DEV_MEMORY_TEMP, gauge, Memory temperature (in C).\n"
    "DCGM_FI_DEV_GPU_TEMP, gauge, GPU temperature (in C).\n"
    "DCGM_FI_DEV_POWER_USAGE, gauge, Power draw (in W).\n"
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).\n"
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER, counter, Total number of PCIe retries.\n"
    "DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).\n"
    "DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).\n"
    "DCGM_FI_DEV_ENC_UTIL, gauge, Encoder utilization (in %).\n"
    "DCGM_FI_DEV_DEC_UTIL, gauge, Decoder utilization (in %).\n"
    "DCGM_FI_DEV_XID_ERRORS, gauge, Value of the last XID error encountered.\n"
    "DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).\n"
    "DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).\n"
    "DCGM_FI_DEV_FB_RESERVED, gauge, Framebuffer memory reserved (in MiB).\n"
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL, counter, Total number of NVLink bandwidth counters for all lanes.\n"
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS, gauge, vGPU License status\n"
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for uncorrectable errors\n"
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for correctable errors\n"
    "DCGM_FI_DEV_ROW_REMAP_FAILURE, gauge, Whether remapping of rows has failed\n"
    "DCGM_FI_DRIVER_VERSION, label, Driver Version\n"
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.\n"
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.\n"
    "DCGM_FI_PROF_DRAM_ACTIVE, gauge, Ratio of cycles the device memory interface is active sending or receiving data.\n"
    "DCGM_FI_PROF_PCIE_TX_BYTES, gauge, The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.\n"
    "DCGM_FI_PROF_PCIE_RX_BYTES, gauge, The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.\n";

const struct jobstats_metric_def jobstats_metrics[] = {
    {"nvidia_gpu_duty_cycle", R_GPU_UTIL, 1, "Percent of time over the past sample period during which one or more kernels were executing on the GPU.", NULL, NULL, NULL, NULL, false},
    {"nvidia_gpu_memory_used_bytes", R_FB_USED_V1, 1, "Memory used by the GPU device in bytes (as NVML v1 reports it: total minus free).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_memory_total_bytes", R_FB_TOTAL, 1, "Total memory of the GPU device in bytes.", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_power_usage_milliwatts", R_POWER_MW, 1, "Power usage of the GPU device in milliwatts.", NULL, NULL, NULL, NULL, false},
    {"nvidia_gpu_temperature_celsius", R_GPU_TEMP, 1, "Temperature of the GPU device in celsius.", NULL, NULL, NULL, NULL, false},
    {"nvidia_gpu_fanspeed_percent", R_FAN, 1, "Fanspeed of the GPU device as a percent of its maximum.", NULL, NULL, NULL, NULL, false},
    {"nvidia_gpu_clock", R_GRAPHICS_CLOCK, 1, "Current clock of the GPU device in MHz, by clock type.", "type", "graphics", NULL, NULL, false},
    {"nvidia_gpu_clock", R_SM_CLOCK, 1, NULL, "type", "sm", NULL, NULL, false},
    {"nvidia_gpu_clock", R_MEM_CLOCK, 1, NULL, "type", "mem", NULL, NULL, false},
    {"nvidia_gpu_clock", R_VIDEO_CLOCK, 1, NULL, "type", "video", NULL, NULL, false},
    {"nvidia_gpu_ecc_errors", R_ECC_SBE_VOL, 1, "ECC error counts of the GPU device, by error type and counter.", "counter", "volatile", "error", "corrected", false},
    {"nvidia_gpu_ecc_errors", R_ECC_DBE_VOL, 1, NULL, "counter", "volatile", "error", "uncorrected", false},
    {"nvidia_gpu_ecc_errors", R_ECC_SBE_AGG, 1, NULL, "counter", "aggregate", "error", "corrected", false},
    {"nvidia_gpu_ecc_errors", R_ECC_DBE_AGG, 1, NULL, "counter", "aggregate", "error", "uncorrected", false},
    /* GPM (Hopper+), as plazonic's exporter names them: 0-1 despite "_percent", bytes/s (jobstats.md §5). */
    {"nvidia_gpu_graphics_util_percent", R_GPM_GR_ACTIVE, PCT, "Ratio (0-1) of time the graphics engine was active (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_sm_util_percent", R_GPM_SM_ACTIVE, PCT, "Ratio (0-1) of SM cycles with a warp assigned (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_sm_occupancy_percent", R_GPM_SM_OCCUPANCY, PCT, "Ratio (0-1) of resident warps to the SM maximum (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_integer_util", R_GPM_INT_ACTIVE, PCT, "Ratio (0-1) of cycles the integer pipe was active (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_any_tensor_util_percent", R_GPM_TENSOR_ACTIVE, PCT, "Ratio (0-1) of cycles any tensor pipe was active (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_dram_bw_util_percent", R_GPM_DRAM_ACTIVE, PCT, "Ratio (0-1) of DRAM bandwidth used to the maximum (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_fp64_util_percent", R_GPM_FP64_ACTIVE, PCT, "Ratio (0-1) of cycles the fp64 pipe was active (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_fp32_util_percent", R_GPM_FP32_ACTIVE, PCT, "Ratio (0-1) of cycles the fp32 pipe was active (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_fp16_util_percent", R_GPM_FP16_ACTIVE, PCT, "Ratio (0-1) of cycles the fp16 pipe was active (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_pcie_tx_per_sec", R_GPM_PCIE_TX, MIBPS, "PCIe transmit rate in bytes per second (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_pcie_rx_per_sec", R_GPM_PCIE_RX, MIBPS, "PCIe receive rate in bytes per second (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_nvlink_total_rx_per_sec", R_GPM_NVLINK_RX, MIBPS, "NVLink receive rate in bytes per second (NVML GPM).", NULL, NULL, NULL, NULL, true},
    {"nvidia_gpu_nvlink_total_tx_per_sec", R_GPM_NVLINK_TX, MIBPS, "NVLink transmit rate in bytes per second (NVML GPM).", NULL, NULL, NULL, NULL, true},
};

const size_t jobstats_metrics_count = sizeof jobstats_metrics / sizeof jobstats_metrics[0];

void jobstats_clock_reasons(uint64_t mask, char *out, size_t n)
{
    static const struct { uint64_t bit; const char *name; } reasons[] = {
        {0x1, "idle"}, {0x2, "application"}, {0x4, "swpowercap"}, {0x8, "hwslowdown"},
        {0x10, "syncboost"}, {0x20, "swthermalslowdown"}, {0x40, "hwthermalslowdown"},
        {0x80, "hwpowerbrakeslowdown"}, {0x100, "displayclocksetting"},
    };
    size_t off = 0;
    out[0] = '\0';
    if (mask == 0) {
        snprintf(out, n, "none");
        return;
    }
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (!(mask & reasons[i].bit))
            continue;
        int w = snprintf(out + off, n - off, "%s%s", off ? "," : "", reasons[i].name);
        if (w < 0 || (size_t)w >= n - off)
            return;
        off += (size_t)w;
    }
}
