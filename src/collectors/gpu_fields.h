/* gpu_fields.h - what the GPU collector reads from NVML and under which names it exports it.
 *
 * A reading is one quantity NVML gives us (in NVML's unit), read once per collection however many
 * metrics use it. Three tables, all keyed on `enum gpu_reading`, in gpu_fields.c:
 *   reading_defs      reading -> the NVML call that gives it (gpu_nvml.c's reader loops over it)
 *   dcgm fields       reading -> DCGM_FI_* name, unit conversion, type, help (render_dcgm.c)
 *   jobstats_metrics  reading -> nvidia_gpu_* name, conversion, fixed labels (render_jobstats.c)
 * The name tables are separate because the mapping is many-to-many (one reading, several names; a
 * Princeton metric split by a label). This is where a newcomer looks up where any GPU metric comes from.
 */
#ifndef JOBTEL_GPU_FIELDS_H
#define JOBTEL_GPU_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/counters_csv.h"
#include "exporter/expo.h"

enum gpu_reading {
    R_GPU_UTIL,        /* %        nvmlDeviceGetUtilizationRates .gpu */
    R_MEM_UTIL,        /* %        .memory (memory copy engine) */
    R_ENC_UTIL,        /* %        nvmlDeviceGetEncoderUtilization */
    R_DEC_UTIL,        /* %        nvmlDeviceGetDecoderUtilization */
    R_SM_CLOCK,        /* MHz      nvmlDeviceGetClockInfo(SM) */
    R_MEM_CLOCK,       /* MHz      (MEM) */
    R_GRAPHICS_CLOCK,  /* MHz      (GRAPHICS) */
    R_VIDEO_CLOCK,     /* MHz      (VIDEO) */
    R_GPU_TEMP,        /* °C       nvmlDeviceGetTemperature(GPU) */
    R_MEM_TEMP,        /* °C       field NVML_FI_DEV_MEMORY_TEMP */
    R_POWER_MW,        /* mW       nvmlDeviceGetPowerUsage */
    R_POWER_LIMIT_MW,  /* mW       nvmlDeviceGetEnforcedPowerLimit */
    R_ENERGY_MJ,       /* mJ       nvmlDeviceGetTotalEnergyConsumption */
    R_FB_TOTAL,        /* bytes    nvmlDeviceGetMemoryInfo_v2 (v1 fallback: no reserved) */
    R_FB_FREE,         /* bytes */
    R_FB_USED,         /* bytes    v2 semantics: excludes reserved */
    R_FB_RESERVED,     /* bytes */
    R_FB_USED_V1,      /* bytes    total - free, as NVML v1 and Princeton's exporter report it */
    R_FAN,             /* %        nvmlDeviceGetFanSpeed */
    R_PSTATE,          /* 0..15    nvmlDeviceGetPerformanceState */
    R_CLOCK_REASONS,   /* bitmask  nvmlDeviceGetCurrentClocksEventReasons */
    R_PCIE_REPLAY,     /* count    field NVML_FI_DEV_PCIE_REPLAY_COUNTER */
    R_PCIE_TX_KBPS,    /* KB/s     nvmlDeviceGetPcieThroughput(TX) */
    R_PCIE_RX_KBPS,    /* KB/s     (RX) */
    R_ECC_SBE_VOL,     /* count    nvmlDeviceGetTotalEccErrors(corrected, volatile) */
    R_ECC_DBE_VOL,
    R_ECC_SBE_AGG,
    R_ECC_DBE_AGG,
    R_RETIRED_SBE,     /* pages    nvmlDeviceGetRetiredPages(multiple SBE) */
    R_RETIRED_DBE,     /* pages    (DBE) */
    R_RETIRED_PENDING, /* 0/1      nvmlDeviceGetRetiredPagesPendingStatus */
    R_REMAP_COR,       /* rows     nvmlDeviceGetRemappedRows */
    R_REMAP_UNC,
    R_REMAP_PENDING,
    R_REMAP_FAILED,
    R_VIOL_POWER,      /* ns       fields NVML_FI_DEV_PERF_POLICY_* */
    R_VIOL_THERMAL,
    R_VIOL_SYNC_BOOST,
    R_VIOL_BOARD,
    R_VIOL_LOW_UTIL,
    R_VIOL_RELIABILITY,
    R_NVLINK_CRC_FLIT, /* count    fields NVML_FI_DEV_NVLINK_*_ERROR_COUNT_TOTAL */
    R_NVLINK_CRC_DATA,
    R_NVLINK_REPLAY,
    R_NVLINK_RECOVERY,
    R_NVLINK_BW_TOTAL, /* counter  field NVML_FI_DEV_NVLINK_BANDWIDTH_C0_TOTAL */
    R_XID_LAST,        /* xid      last XID event seen by our event thread (0 = none since start) */
    /* GPM (Hopper+), averaged over the two samples' window by nvmlGpmMetricsGet (collectors/gpu_gpm.c) */
    R_GPM_GR_ACTIVE,   /* %        NVML_GPM_METRIC_GRAPHICS_UTIL */
    R_GPM_SM_ACTIVE,   /* %        SM_UTIL */
    R_GPM_SM_OCCUPANCY,/* %        SM_OCCUPANCY */
    R_GPM_INT_ACTIVE,  /* %        INTEGER_UTIL */
    R_GPM_TENSOR_ACTIVE, /* %      ANY_TENSOR_UTIL */
    R_GPM_DRAM_ACTIVE, /* %        DRAM_BW_UTIL */
    R_GPM_FP64_ACTIVE, /* %        FP64_UTIL */
    R_GPM_FP32_ACTIVE, /* %        FP32_UTIL */
    R_GPM_FP16_ACTIVE, /* %        FP16_UTIL */
    R_GPM_PCIE_TX,     /* MiB/s    PCIE_TX_PER_SEC */
    R_GPM_PCIE_RX,     /* MiB/s    PCIE_RX_PER_SEC */
    R_GPM_NVLINK_TX,   /* MiB/s    NVLINK_TOTAL_TX_PER_SEC (61) */
    R_GPM_NVLINK_RX,   /* MiB/s    NVLINK_TOTAL_RX_PER_SEC (60) */
    R_COUNT
};

_Static_assert(R_COUNT <= 64, "readings must fit the 64-bit valid mask");

/* How NVML gives a reading; the reader has one small function per kind. */
enum nvml_source {
    SRC_UTIL,            /* nvmlDeviceGetUtilizationRates: gpu, memory */
    SRC_ENC_UTIL,        /* nvmlDeviceGetEncoderUtilization */
    SRC_DEC_UTIL,        /* nvmlDeviceGetDecoderUtilization */
    SRC_CLOCK,           /* nvmlDeviceGetClockInfo(arg = nvmlClockType_t) */
    SRC_TEMP,            /* nvmlDeviceGetTemperature(GPU) */
    SRC_POWER,           /* nvmlDeviceGetPowerUsage */
    SRC_POWER_LIMIT,     /* nvmlDeviceGetEnforcedPowerLimit */
    SRC_ENERGY,          /* nvmlDeviceGetTotalEnergyConsumption */
    SRC_MEMORY,          /* nvmlDeviceGetMemoryInfo_v2, else v1 */
    SRC_FAN,             /* nvmlDeviceGetFanSpeed */
    SRC_PSTATE,          /* nvmlDeviceGetPerformanceState */
    SRC_CLOCK_REASONS,   /* nvmlDeviceGetCurrentClocksEventReasons */
    SRC_PCIE,            /* nvmlDeviceGetPcieThroughput(arg = nvmlPcieUtilCounter_t) */
    SRC_ECC,             /* nvmlDeviceGetTotalEccErrors(arg = error type, arg2 = counter type) */
    SRC_RETIRED,         /* nvmlDeviceGetRetiredPages(arg = cause), count only */
    SRC_RETIRED_PENDING, /* nvmlDeviceGetRetiredPagesPendingStatus */
    SRC_REMAP,           /* nvmlDeviceGetRemappedRows: correctable, uncorrectable, pending, failed */
    SRC_FIELD,           /* nvmlDeviceGetFieldValues(arg = NVML_FI_*), all in one batch */
    SRC_XID,             /* the last XID event our event thread saw */
    SRC_GPM,             /* nvmlGpmMetricsGet(arg = nvmlGpmMetricId_t): produced by gpu_gpm.c, not gpu_nvml.c */
};

struct reading_def {
    enum gpu_reading r;
    const char *unit;          /* NVML's unit, which the reading keeps */
    enum nvml_source src;
    int arg, arg2;
    uint64_t also;             /* other readings the same call fills (read once for all of them) */
};

/* One row per reading, indexed by enum gpu_reading, in the order the reader calls NVML. */
extern const struct reading_def reading_defs[R_COUNT];

#define READING_BIT(r) (UINT64_C(1) << (r))

/* Every GPM reading (R_GPM_GR_ACTIVE .. R_GPM_NVLINK_RX). */
#define READINGS_GPM (((UINT64_C(1) << (R_GPM_NVLINK_RX + 1)) - 1) & ~((UINT64_C(1) << R_GPM_GR_ACTIVE) - 1))

/* One collection's readings for one GPU; a value is meaningful only if its valid bit is set. */
struct gpu_readings {
    uint64_t valid;
    double v[R_COUNT];
};

/* raw * scale, as the peers compute it: a scale below 1 (W from mW, a ratio from %) divides by its inverse, so
 * 35 % reads 0.35 as DCGM prints it, not 0.35000000000000003. */
static inline double reading_scaled(double raw, double scale)
{
    return scale < 1 ? raw / (1.0 / scale) : raw * scale;
}

/* A DCGM field jobtel can serve from NVML. */
struct dcgm_field_def {
    const char *name;          /* DCGM_FI_* exactly as DCGM spells it */
    enum gpu_reading reading;
    double scale;              /* exported = reading * scale (e.g. mW -> W) */
    bool floor_value;          /* DCGM exports an integer here (MiB) */
    enum counter_type type;    /* default type when not from a CSV */
    const char *help;
    bool per_mig_instance;     /* also exported per MIG instance */
};

/* The DCGM fields jobtel serves, or NULL. */
const struct dcgm_field_def *dcgm_field_lookup(const char *name);

/* Label-type fields jobtel can fill (DCGM_FI_DRIVER_VERSION, DCGM_FI_NVML_VERSION). */
enum dcgm_label_field { DLF_NONE, DLF_DRIVER_VERSION, DLF_NVML_VERSION };
enum dcgm_label_field dcgm_label_lookup(const char *name);

/* dcgm-exporter's default counters (its etc/default-counters.csv, active lines), used when no -f. */
extern const char dcgm_default_counters_csv[];

/* A Princeton nvidia_gpu_* metric served from one reading, with up to one fixed extra label. */
struct jobstats_metric_def {
    const char *name;
    enum gpu_reading reading;
    double scale;
    const char *help;
    const char *label_name;   /* NULL: none */
    const char *label_value;
    const char *label2_name;  /* NULL: none */
    const char *label2_value;
    bool per_mig_instance;
};

extern const struct jobstats_metric_def jobstats_metrics[];
extern const size_t jobstats_metrics_count;

/* Princeton's comma list of clock-event reason names for a bitmask ("none" for 0). */
void jobstats_clock_reasons(uint64_t mask, char *out, size_t n);

#endif
