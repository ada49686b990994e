/* nvml_types.h - our own declarations of the part of the NVML ABI that jobtel uses.
 *
 * There is no nvml.h on the build machines and we do not copy NVIDIA's: every type, value, size and
 * offset here is written from the documented ABI facts (shared/reference/gpu-apis.md §1, NVML 13.3
 * header, x86-64/aarch64 LP64). The library is dlopen()ed (nvml_loader.h), so nothing here is linked
 * against; what matters is that each struct has exactly the layout the library writes. That is why
 * every size and offset is asserted below and again in tests/unit/test_nvml_abi.c, and why each
 * versioned struct names the entry point that fills it: older, unversioned entry points write older,
 * smaller layouts into the same memory.
 *
 * Names follow NVIDIA's spelling (NVML_*, nvml*_t, nvmlEventType*, nvmlClocksEventReason*), even
 * where house style would not, so a reader can grep NVIDIA's documentation for them; the few names
 * that are ours and not NVIDIA's say so. Only the subset jobtel uses is declared; append more as
 * collectors need them, with their asserts.
 */
#ifndef JOBTEL_NVML_TYPES_H
#define JOBTEL_NVML_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* ---- return codes (§1.2) ---------------------------------------------------------------------- */

/* The library may return codes newer than this list: code that switches on an nvmlReturn_t must
 * handle values it does not name (nvml_return_name() does). */
typedef enum nvmlReturn_enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,           /* skip the metric; not an error */
    NVML_ERROR_NO_PERMISSION = 4,           /* also from GetHandleByIndex_v2 for a device we may not open */
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,                /* the normal "no event" result of nvmlEventSetWait_v2 */
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,     /* also: a wrong struct `version` field */
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,            /* fell off the bus: mark the GPU lost, stop querying it */
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_RESET_TYPE_NOT_SUPPORTED = 30,
    NVML_ERROR_UNKNOWN = 999,
} nvmlReturn_t;

/* ---- handles (§1.1) --------------------------------------------------------------------------- */

/* NVIDIA's header declares these as pointers to incomplete structs; go-nvml's copy, which the
 * reference quotes, wraps the pointer in a one-member struct. The two are the same ABI on x86-64
 * SysV and AAPCS64 (an 8-byte struct of one pointer travels in one integer register, like the
 * pointer). We take the struct: it cannot be mixed up with another handle type or a void *, and it
 * cannot be compared with NULL by accident. Compare handles with nvml_device_same(). */
typedef struct {
    struct nvmlDevice_st *handle;
} nvmlDevice_t;

typedef struct {
    struct nvmlEventSet_st *handle;
} nvmlEventSet_t;

static inline bool nvml_device_is_null(nvmlDevice_t d)
{
    return d.handle == NULL;
}

/* True when two handles name the same device (e.g. nvmlEventData_t.device against our list). */
static inline bool nvml_device_same(nvmlDevice_t a, nvmlDevice_t b)
{
    return a.handle == b.handle;
}

/* ---- constants (§1.1, §1.3) ------------------------------------------------------------------- */

#define NVML_DEVICE_NAME_BUFFER_SIZE 64
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96          /* what to pass to nvmlDeviceGetName */
#define NVML_DEVICE_UUID_BUFFER_SIZE 80
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96          /* what to pass to nvmlDeviceGetUUID */
#define NVML_DEVICE_UUID_ASCII_LEN 41
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE 80
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
#define NVML_DEVICE_SERIAL_BUFFER_SIZE 30
#define NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE 32
#define NVML_DEVICE_INFOROM_VERSION_BUFFER_SIZE 16
#define NVML_DEVICE_PART_NUMBER_BUFFER_SIZE 80

/* Bus id text as NVML writes it ("00000000:3B:00.0"); sysfs and Kubernetes write "0000:3b:00.0",
 * so normalise both before comparing. */
#define NVML_DEVICE_PCI_BUS_ID_FMT "%08X:%02X:%02X.0"

/* An unsigned field reads as all ones when NVML has no value for it. The typed forms are ours, so
 * comparisons with unsigned fields need no casts. */
#define NVML_VALUE_NOT_AVAILABLE (-1)
#define NVML_VALUE_NOT_AVAILABLE_UINT 0xFFFFFFFFu
#define NVML_VALUE_NOT_AVAILABLE_ULL 0xFFFFFFFFFFFFFFFFull

/* Ours: gpuInstanceId/computeInstanceId when MIG is off or the event is not attributable. */
#define NVML_INSTANCE_ID_NONE 0xFFFFFFFFu

/* Ours: nvmlFieldValue_t.scopeId meaning "all links" for the NVLink throughput fields. */
#define NVML_FIELD_SCOPE_ALL_LINKS 0xFFFFFFFFu

#define NVML_INIT_FLAG_NO_GPUS (1u << 0)
#define NVML_INIT_FLAG_NO_ATTACH (1u << 1)
#define NVML_INIT_FLAG_FORCE_INIT (1u << 2)

#define NVML_DEVICE_MIG_DISABLE 0u
#define NVML_DEVICE_MIG_ENABLE 1u

/* NVML's version word: the versioned struct's size in the low bits, the version in the top byte.
 * Ours takes the type itself; NVIDIA's pastes tokens into a type name. */
#define NVML_STRUCT_VERSION(type, ver) ((unsigned int)(sizeof(type) | ((unsigned int)(ver) << 24)))

/* ---- enums (§1.6); all are 4-byte ints in the ABI ------------------------------------------- */

typedef enum nvmlTemperatureSensors_enum {
    NVML_TEMPERATURE_GPU = 0,
} nvmlTemperatureSensors_t;

typedef enum nvmlClockType_enum {
    NVML_CLOCK_GRAPHICS = 0,
    NVML_CLOCK_SM = 1,
    NVML_CLOCK_MEM = 2,
    NVML_CLOCK_VIDEO = 3,
} nvmlClockType_t;

typedef enum nvmlPcieUtilCounter_enum {
    NVML_PCIE_UTIL_TX_BYTES = 0,
    NVML_PCIE_UTIL_RX_BYTES = 1,
} nvmlPcieUtilCounter_t;

typedef enum nvmlMemoryErrorType_enum {
    NVML_MEMORY_ERROR_TYPE_CORRECTED = 0,
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1,
} nvmlMemoryErrorType_t;

typedef enum nvmlEccCounterType_enum {
    NVML_VOLATILE_ECC = 0,      /* reset when the driver reloads */
    NVML_AGGREGATE_ECC = 1,
} nvmlEccCounterType_t;

typedef enum nvmlPageRetirementCause_enum {
    NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS = 0,
    NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR = 1,
} nvmlPageRetirementCause_t;

typedef enum nvmlEnableState_enum {
    NVML_FEATURE_DISABLED = 0,
    NVML_FEATURE_ENABLED = 1,
} nvmlEnableState_t;

typedef enum nvmlValueType_enum {
    NVML_VALUE_TYPE_DOUBLE = 0,
    NVML_VALUE_TYPE_UNSIGNED_INT = 1,
    NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
    NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
    NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
    NVML_VALUE_TYPE_SIGNED_INT = 5,
    NVML_VALUE_TYPE_UNSIGNED_SHORT = 6,
} nvmlValueType_t;

/* Performance state P0 (fastest) .. P15; 32 = unknown. The reference lists the signature only;
 * these are NVML's long-standing values (what nvidia-smi prints as P0..P15). */
typedef enum nvmlPStates_enum {
    NVML_PSTATE_0 = 0,
    NVML_PSTATE_1 = 1,
    NVML_PSTATE_2 = 2,
    NVML_PSTATE_3 = 3,
    NVML_PSTATE_4 = 4,
    NVML_PSTATE_5 = 5,
    NVML_PSTATE_6 = 6,
    NVML_PSTATE_7 = 7,
    NVML_PSTATE_8 = 8,
    NVML_PSTATE_9 = 9,
    NVML_PSTATE_10 = 10,
    NVML_PSTATE_11 = 11,
    NVML_PSTATE_12 = 12,
    NVML_PSTATE_13 = 13,
    NVML_PSTATE_14 = 14,
    NVML_PSTATE_15 = 15,
    NVML_PSTATE_UNKNOWN = 32,
} nvmlPstates_t;

/* ---- bitmasks (§1.6, §A.9) -------------------------------------------------------------------- */

/* Event types, for nvmlDeviceRegisterEvents / nvmlDeviceGetSupportedEventTypes. One unsupported bit
 * makes registration fail as a whole, so register (wanted & supported). */
#define nvmlEventTypeNone 0x0ULL
#define nvmlEventTypeSingleBitEccError 0x1ULL
#define nvmlEventTypeDoubleBitEccError 0x2ULL
#define nvmlEventTypePState 0x4ULL
#define nvmlEventTypeXidCriticalError 0x8ULL
#define nvmlEventTypeClock 0x10ULL
#define nvmlEventTypePowerSourceChange 0x80ULL
#define nvmlEventMigConfigChange 0x100ULL
#define nvmlEventTypeSingleBitEccErrorStorm 0x200ULL   /* 12.9 header */
#define nvmlEventTypeDramRetirementEvent 0x400ULL
#define nvmlEventTypeDramRetirementFailure 0x800ULL
#define nvmlEventTypeNonFatalPoisonError 0x1000ULL
#define nvmlEventTypeFatalPoisonError 0x2000ULL
#define nvmlEventTypeGpuUnavailableError 0x4000ULL
#define nvmlEventTypeGpuRecoveryAction 0x8000ULL
#define nvmlEventTypeAll 0xFF9FULL                       /* 13.3 value: the OR of all the above */

/* Clock event (formerly "throttle") reasons, from nvmlDeviceGetCurrentClocksEventReasons. Spelled as
 * in the 13.3 header, where the three hardware bits exist only under the older Throttle names. */
#define nvmlClocksEventReasonNone 0x0ULL
#define nvmlClocksEventReasonGpuIdle 0x1ULL
#define nvmlClocksEventReasonApplicationsClocksSetting 0x2ULL
#define nvmlClocksEventReasonSwPowerCap 0x4ULL
#define nvmlClocksThrottleReasonHwSlowdown 0x8ULL
#define nvmlClocksEventReasonSyncBoost 0x10ULL
#define nvmlClocksEventReasonSwThermalSlowdown 0x20ULL
#define nvmlClocksThrottleReasonHwThermalSlowdown 0x40ULL
#define nvmlClocksThrottleReasonHwPowerBrakeSlowdown 0x80ULL
#define nvmlClocksEventReasonDisplayClockSetting 0x100ULL

/* ---- field ids for nvmlDeviceGetFieldValues (§1.7); these numbers never change ---------------- */

#define NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL 38
#define NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL 45
#define NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL 52
#define NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL 59
#define NVML_FI_DEV_NVLINK_BANDWIDTH_C0_TOTAL 66
#define NVML_FI_DEV_NVLINK_BANDWIDTH_C1_TOTAL 73
#define NVML_FI_DEV_PERF_POLICY_POWER 74
#define NVML_FI_DEV_PERF_POLICY_THERMAL 75
#define NVML_FI_DEV_PERF_POLICY_SYNC_BOOST 76
#define NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT 77
#define NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION 78
#define NVML_FI_DEV_PERF_POLICY_RELIABILITY 79
#define NVML_FI_DEV_MEMORY_TEMP 82
#define NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION 83            /* mJ */
#define NVML_FI_DEV_PCIE_REPLAY_COUNTER 94
#define NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX 138           /* KiB; scopeId = link or all links */
#define NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX 139
#define NVML_FI_DEV_NVLINK_THROUGHPUT_RAW_TX 140
#define NVML_FI_DEV_NVLINK_THROUGHPUT_RAW_RX 141

/* ---- structs (§1.5) --------------------------------------------------------------------------- */

/* Filled by nvmlDeviceGetPciInfo_v3 only (older entry points write an older layout). */
typedef struct nvmlPciInfo_st {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE]; /* "%04X:%02X:%02X.0" */
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;       /* device id << 16 | vendor id (0x10DE) */
    unsigned int pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];          /* NVML_DEVICE_PCI_BUS_ID_FMT */
} nvmlPciInfo_t;

/* Percent of time over the last sample period (1/6 s to 1 s depending on the product). */
typedef struct nvmlUtilization_st {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

/* nvmlDeviceGetMemoryInfo (v1). Bytes; `used` includes memory the driver reserves. */
typedef struct nvmlMemory_st {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

/* nvmlDeviceGetMemoryInfo_v2. Bytes; `used` excludes `reserved` and matches nvidia-smi.
 * `version` must be NVML_MEMORY_V2_VERSION (0x02000028), NOT 2 despite NVIDIA's doc comment: 2
 * gets NVML_ERROR_FUNCTION_NOT_FOUND. Use nvml_memory_v2_init(). */
typedef struct nvmlMemory_v2_st {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

#define NVML_MEMORY_V2_VERSION 0x02000028u /* NVIDIA spells it nvmlMemory_v2 */

/* Zeroes *m and sets the one version word the library accepts. */
static inline void nvml_memory_v2_init(nvmlMemory_v2_t *m)
{
    memset(m, 0, sizeof *m);
    m->version = NVML_MEMORY_V2_VERSION;
}

/* Elements written by the unversioned nvmlDeviceGetComputeRunningProcesses. The loader does not
 * bind that symbol; the type is here so the difference stays visible. */
/* nvmlDeviceGetProcessUtilization's record (32 bytes). */
typedef struct nvmlProcessUtilizationSample_st {
    unsigned int pid;
    unsigned long long timeStamp; /* CPU µs */
    unsigned int smUtil;          /* % */
    unsigned int memUtil;
    unsigned int encUtil;
    unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

typedef struct nvmlProcessInfo_v1_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;   /* bytes */
} nvmlProcessInfo_v1_t;

/* Elements written by nvml{Compute,Graphics}RunningProcesses_v2, and by _v3 on every driver but
 * early R535. pid is in the host PID namespace. */
typedef struct nvmlProcessInfo_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;   /* bytes */
    unsigned int gpuInstanceId;         /* NVML_INSTANCE_ID_NONE when MIG is off */
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

/* Elements the _v3 process calls of early R535 drivers (535.43 to 535.86) wrote under the same names
 * (their header called it nvmlProcessInfo_v3_t; later headers moved this layout to
 * nvmlProcessDetail_v1_t and _v3 went back to nvmlProcessInfo_t). The name is ours. */
typedef struct nvmlProcessInfo_r535_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
    unsigned long long usedGpuCcProtectedMemory; /* bytes; confidential computing */
} nvmlProcessInfo_r535_t;

/* Ours: the largest element any process-list entry point writes. Give the library a buffer of
 * count * NVML_PROCESS_INFO_MAX_STRIDE bytes even when telling it `count`. */
#define NVML_PROCESS_INFO_MAX_STRIDE 32

typedef union nvmlValue_st {
    double dVal;
    int siVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    signed long long sllVal;
    unsigned short usVal;
} nvmlValue_t;

/* One entry of nvmlDeviceGetFieldValues. The call succeeds if any entry was filled: check each
 * entry's nvmlReturn before reading `value` through the member that valueType names. */
typedef struct nvmlFieldValue_st {
    unsigned int fieldId;           /* in: NVML_FI_DEV_* */
    unsigned int scopeId;           /* in: NVLink link id, or NVML_FIELD_SCOPE_ALL_LINKS */
    long long timestamp;            /* out: microseconds since the epoch */
    long long latencyUsec;
    nvmlValueType_t valueType;
    nvmlReturn_t nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;

/* Filled by nvmlEventSetWait_v2 (v1 wrote a shorter struct). */
typedef struct nvmlEventData_st {
    nvmlDevice_t device;
    unsigned long long eventType;   /* one nvmlEventType* bit */
    unsigned long long eventData;   /* the Xid for XidCriticalError (999 = unknown), else 0 */
    unsigned int gpuInstanceId;     /* NVML_INSTANCE_ID_NONE if not attributable */
    unsigned int computeInstanceId;
} nvmlEventData_t;

/* ---- GPM (gpu-apis.md addendum A.1-A.3): Hopper+ profiling metrics from two samples ------------
 * Both version constants are the plain integer 1 (not NVML_STRUCT_VERSION-encoded). NVML_GPM_METRIC_MAX grew
 * 98 -> 210 -> 333 while the version stayed 1, so the library cannot know our array's length and reads only
 * metrics[0 .. numMetrics): we allocate the newest size and keep numMetrics <= 98, which every driver takes. */
#define NVML_GPM_SUPPORT_VERSION 1u
#define NVML_GPM_METRICS_GET_VERSION 1u
#define NVML_GPM_METRIC_MAX 333u        /* 13.2.1 headers */
#define NVML_GPM_METRIC_MAX_OLDEST 98u  /* 11.8-12.8 headers: the most any driver accepts */

typedef enum nvmlGpmMetricId_enum {
    NVML_GPM_METRIC_GRAPHICS_UTIL = 1,   /* percent 0-100 */
    NVML_GPM_METRIC_SM_UTIL = 2,
    NVML_GPM_METRIC_SM_OCCUPANCY = 3,
    NVML_GPM_METRIC_INTEGER_UTIL = 4,
    NVML_GPM_METRIC_ANY_TENSOR_UTIL = 5,
    NVML_GPM_METRIC_DRAM_BW_UTIL = 10,
    NVML_GPM_METRIC_FP64_UTIL = 11,
    NVML_GPM_METRIC_FP32_UTIL = 12,
    NVML_GPM_METRIC_FP16_UTIL = 13,
    NVML_GPM_METRIC_PCIE_TX_PER_SEC = 20, /* MiB/s */
    NVML_GPM_METRIC_PCIE_RX_PER_SEC = 21,
    NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC = 60, /* RX before TX, unlike DCGM */
    NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC = 61,
} nvmlGpmMetricId_t;

typedef struct nvmlGpmSample_st *nvmlGpmSample_t; /* opaque; from nvmlGpmSampleAlloc */

typedef struct {
    unsigned int version;           /* in: NVML_GPM_SUPPORT_VERSION */
    unsigned int isSupportedDevice; /* out */
} nvmlGpmSupport_t;

typedef struct {
    char *shortName;  /* the library's; may be NULL; never freed */
    char *longName;
    char *unit;
} nvmlGpmMetricMetricInfo_t;

typedef struct {
    unsigned int metricId;          /* in: nvmlGpmMetricId_t */
    nvmlReturn_t nvmlReturn;        /* out, per metric */
    double value;                   /* out, valid only when nvmlReturn == SUCCESS (and may be NaN) */
    nvmlGpmMetricMetricInfo_t metricInfo;
} nvmlGpmMetric_t;

typedef struct {
    unsigned int version;           /* NVML_GPM_METRICS_GET_VERSION */
    unsigned int numMetrics;
    nvmlGpmSample_t sample1;        /* the older */
    nvmlGpmSample_t sample2;        /* the newer */
    nvmlGpmMetric_t metrics[NVML_GPM_METRIC_MAX];
} nvmlGpmMetricsGet_t;

/* ---- ABI checks: if one of these fires, the declaration above is wrong, not the assert -------- */

_Static_assert(sizeof(nvmlReturn_t) == 4, "nvmlReturn_t is a 4-byte enum");
_Static_assert(sizeof(nvmlTemperatureSensors_t) == 4, "enum size");
_Static_assert(sizeof(nvmlClockType_t) == 4, "enum size");
_Static_assert(sizeof(nvmlPcieUtilCounter_t) == 4, "enum size");
_Static_assert(sizeof(nvmlMemoryErrorType_t) == 4, "enum size");
_Static_assert(sizeof(nvmlEccCounterType_t) == 4, "enum size");
_Static_assert(sizeof(nvmlPageRetirementCause_t) == 4, "enum size");
_Static_assert(sizeof(nvmlEnableState_t) == 4, "enum size");
_Static_assert(sizeof(nvmlValueType_t) == 4, "enum size");
_Static_assert(sizeof(nvmlPstates_t) == 4, "enum size");

_Static_assert(sizeof(nvmlDevice_t) == 8 && sizeof(nvmlDevice_t) == sizeof(void *),
               "nvmlDevice_t is one pointer");
_Static_assert(sizeof(nvmlEventSet_t) == 8, "nvmlEventSet_t is one pointer");

_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t (v3) is 68 bytes");
_Static_assert(offsetof(nvmlPciInfo_t, busIdLegacy) == 0, "nvmlPciInfo_t.busIdLegacy");
_Static_assert(offsetof(nvmlPciInfo_t, domain) == 16, "nvmlPciInfo_t.domain");
_Static_assert(offsetof(nvmlPciInfo_t, bus) == 20, "nvmlPciInfo_t.bus");
_Static_assert(offsetof(nvmlPciInfo_t, device) == 24, "nvmlPciInfo_t.device");
_Static_assert(offsetof(nvmlPciInfo_t, pciDeviceId) == 28, "nvmlPciInfo_t.pciDeviceId");
_Static_assert(offsetof(nvmlPciInfo_t, pciSubSystemId) == 32, "nvmlPciInfo_t.pciSubSystemId");
_Static_assert(offsetof(nvmlPciInfo_t, busId) == 36, "nvmlPciInfo_t.busId");

_Static_assert(sizeof(nvmlUtilization_t) == 8, "nvmlUtilization_t is 8 bytes");
_Static_assert(offsetof(nvmlUtilization_t, memory) == 4, "nvmlUtilization_t.memory");

_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t (v1) is 24 bytes");
_Static_assert(offsetof(nvmlMemory_t, free) == 8, "nvmlMemory_t.free");
_Static_assert(offsetof(nvmlMemory_t, used) == 16, "nvmlMemory_t.used");

_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t is 40 bytes");
_Static_assert(offsetof(nvmlMemory_v2_t, version) == 0, "nvmlMemory_v2_t.version");
_Static_assert(offsetof(nvmlMemory_v2_t, total) == 8, "nvmlMemory_v2_t.total");
_Static_assert(offsetof(nvmlMemory_v2_t, reserved) == 16, "nvmlMemory_v2_t.reserved");
_Static_assert(offsetof(nvmlMemory_v2_t, free) == 24, "nvmlMemory_v2_t.free");
_Static_assert(offsetof(nvmlMemory_v2_t, used) == 32, "nvmlMemory_v2_t.used");
_Static_assert(NVML_MEMORY_V2_VERSION == NVML_STRUCT_VERSION(nvmlMemory_v2_t, 2),
               "nvmlMemory_v2 version word is sizeof | 2 << 24");

_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t is 16 bytes");
_Static_assert(offsetof(nvmlProcessInfo_v1_t, usedGpuMemory) == 8, "nvmlProcessInfo_v1_t.usedGpuMemory");
_Static_assert(sizeof(nvmlProcessUtilizationSample_t) == 32, "nvmlProcessUtilizationSample_t is 32 bytes");
_Static_assert(offsetof(nvmlProcessUtilizationSample_t, timeStamp) == 8, "nvmlProcessUtilizationSample_t.timeStamp");
_Static_assert(offsetof(nvmlProcessUtilizationSample_t, smUtil) == 16, "nvmlProcessUtilizationSample_t.smUtil");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_t (v2/v3) is 24 bytes");
_Static_assert(offsetof(nvmlProcessInfo_t, pid) == 0, "nvmlProcessInfo_t.pid");
_Static_assert(offsetof(nvmlProcessInfo_t, usedGpuMemory) == 8, "nvmlProcessInfo_t.usedGpuMemory");
_Static_assert(offsetof(nvmlProcessInfo_t, gpuInstanceId) == 16, "nvmlProcessInfo_t.gpuInstanceId");
_Static_assert(offsetof(nvmlProcessInfo_t, computeInstanceId) == 20, "nvmlProcessInfo_t.computeInstanceId");
_Static_assert(sizeof(nvmlProcessInfo_r535_t) == 32, "nvmlProcessInfo_r535_t (early R535 _v3) is 32 bytes");
_Static_assert(offsetof(nvmlProcessInfo_r535_t, computeInstanceId) == 20, "nvmlProcessInfo_r535_t.computeInstanceId");
_Static_assert(offsetof(nvmlProcessInfo_r535_t, usedGpuCcProtectedMemory) == 24,
               "nvmlProcessInfo_r535_t.usedGpuCcProtectedMemory");
_Static_assert(NVML_PROCESS_INFO_MAX_STRIDE == sizeof(nvmlProcessInfo_r535_t), "stride bound");

_Static_assert(sizeof(nvmlValue_t) == 8, "nvmlValue_t is an 8-byte union");

_Static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t is 40 bytes");
_Static_assert(offsetof(nvmlFieldValue_t, fieldId) == 0, "nvmlFieldValue_t.fieldId");
_Static_assert(offsetof(nvmlFieldValue_t, scopeId) == 4, "nvmlFieldValue_t.scopeId");
_Static_assert(offsetof(nvmlFieldValue_t, timestamp) == 8, "nvmlFieldValue_t.timestamp");
_Static_assert(offsetof(nvmlFieldValue_t, latencyUsec) == 16, "nvmlFieldValue_t.latencyUsec");
_Static_assert(offsetof(nvmlFieldValue_t, valueType) == 24, "nvmlFieldValue_t.valueType");
_Static_assert(offsetof(nvmlFieldValue_t, nvmlReturn) == 28, "nvmlFieldValue_t.nvmlReturn");
_Static_assert(offsetof(nvmlFieldValue_t, value) == 32, "nvmlFieldValue_t.value");

_Static_assert(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t (v2) is 32 bytes");
_Static_assert(offsetof(nvmlEventData_t, device) == 0, "nvmlEventData_t.device");
_Static_assert(offsetof(nvmlEventData_t, eventType) == 8, "nvmlEventData_t.eventType");
_Static_assert(offsetof(nvmlEventData_t, eventData) == 16, "nvmlEventData_t.eventData");
_Static_assert(offsetof(nvmlEventData_t, gpuInstanceId) == 24, "nvmlEventData_t.gpuInstanceId");
_Static_assert(offsetof(nvmlEventData_t, computeInstanceId) == 28, "nvmlEventData_t.computeInstanceId");

_Static_assert(sizeof(nvmlGpmSample_t) == 8, "nvmlGpmSample_t is one pointer");
_Static_assert(sizeof(nvmlGpmSupport_t) == 8, "nvmlGpmSupport_t is 8 bytes");
_Static_assert(offsetof(nvmlGpmSupport_t, isSupportedDevice) == 4, "nvmlGpmSupport_t.isSupportedDevice");
_Static_assert(sizeof(nvmlGpmMetricMetricInfo_t) == 24, "nvmlGpmMetricMetricInfo_t is 24 bytes");
_Static_assert(sizeof(nvmlGpmMetric_t) == 40, "nvmlGpmMetric_t is 40 bytes");
_Static_assert(offsetof(nvmlGpmMetric_t, nvmlReturn) == 4, "nvmlGpmMetric_t.nvmlReturn");
_Static_assert(offsetof(nvmlGpmMetric_t, value) == 8, "nvmlGpmMetric_t.value");
_Static_assert(offsetof(nvmlGpmMetric_t, metricInfo) == 16, "nvmlGpmMetric_t.metricInfo");
_Static_assert(offsetof(nvmlGpmMetricsGet_t, numMetrics) == 4, "nvmlGpmMetricsGet_t.numMetrics");
_Static_assert(offsetof(nvmlGpmMetricsGet_t, sample1) == 8, "nvmlGpmMetricsGet_t.sample1");
_Static_assert(offsetof(nvmlGpmMetricsGet_t, sample2) == 16, "nvmlGpmMetricsGet_t.sample2");
_Static_assert(offsetof(nvmlGpmMetricsGet_t, metrics) == 24, "nvmlGpmMetricsGet_t.metrics");
_Static_assert(sizeof(nvmlGpmMetricsGet_t) == 13344, "nvmlGpmMetricsGet_t (13.2.1 headers) is 13344 bytes");

#endif
