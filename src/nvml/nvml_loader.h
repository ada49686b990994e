/* nvml_loader.h - loads libnvidia-ml through dlopen and binds the NVML entry points jobtel uses.
 *
 * We never link against NVML: the exporter must start on hosts without a driver, and tests load a
 * fake library from tests/fake_nvml/ by passing its path. Everything the loader finds lives in one
 * struct nvml_lib (no globals), so a test can hold two at once. Each entry point is bound by its
 * versioned name, newest first (the header's unversioned names are macros for the versioned ones;
 * the library still exports old unversioned symbols that write older struct layouts). Only the seven
 * entry points needed to enumerate and name GPUs are required; every other pointer may be NULL, and
 * each call site checks it before calling, treating NULL like NVML_ERROR_FUNCTION_NOT_FOUND.
 *
 * nvml_lib_open() does not call Init: the collector does, and owns the ref-counted Init/Shutdown
 * pairing. NVML is thread-safe, so one struct nvml_lib may be shared by threads once it is open.
 */
#ifndef JOBTEL_NVML_LOADER_H
#define JOBTEL_NVML_LOADER_H

#include <limits.h>
#include <stddef.h>

#include "common/error.h"
#include "nvml/nvml_types.h"

/* What nvml_lib_open() loads when given NULL or "": the driver's soname (the unsuffixed .so is a dev
 * symlink that is often missing). */
#define NVML_LIB_DEFAULT_SONAME "libnvidia-ml.so.1"

/* Comments give the symbols tried, in order, and [R] for required. */
struct nvml_lib {
    void *handle;          /* from dlopen; NULL when closed */
    char path[PATH_MAX];   /* the file the dynamic linker loaded (resolved from a soname if it can) */
    /* Which nvmlDevice{Compute,Graphics}RunningProcesses was bound: 3 (_v3), 2 (_v2) or 0 (none). Both
     * names write nvmlProcessInfo_t, except early R535 _v3, which wrote 32-byte elements: read these
     * lists only through nvml_procs_pids() (nvml_procs.h), which uses this to pick the record size. */
    unsigned int compute_procs_version;
    unsigned int graphics_procs_version;

    /* Function pointers from here to GpmMetricsGet, contiguous (the loader asserts it).
     * A new one goes at the end, with a line in nvml_loader.c's symbol table. */

    /* Library and system. */
    nvmlReturn_t (*Init)(void);                                     /* [R] nvmlInit_v2, nvmlInit */
    nvmlReturn_t (*Shutdown)(void);                                 /* [R] nvmlShutdown */
    const char *(*ErrorString)(nvmlReturn_t);                       /* [R] nvmlErrorString */
    nvmlReturn_t (*SystemGetDriverVersion)(char *buf, unsigned int len);  /* len >= 80 */
    nvmlReturn_t (*SystemGetNVMLVersion)(char *buf, unsigned int len);    /* len >= 80 */
    nvmlReturn_t (*SystemGetCudaDriverVersion)(int *version);      /* e.g. 12040 */

    /* Enumeration and identity. */
    nvmlReturn_t (*DeviceGetCount)(unsigned int *count);           /* [R] _v2, unversioned */
    nvmlReturn_t (*DeviceGetHandleByIndex)(unsigned int index, nvmlDevice_t *dev); /* [R] _v2, unversioned */
    nvmlReturn_t (*DeviceGetHandleByUUID)(const char *uuid, nvmlDevice_t *dev);    /* GPU-… or MIG-… */
    nvmlReturn_t (*DeviceGetName)(nvmlDevice_t dev, char *name, unsigned int len); /* [R] len 96 */
    nvmlReturn_t (*DeviceGetUUID)(nvmlDevice_t dev, char *uuid, unsigned int len); /* [R] len 96 */
    /* _v3 only: _v2 and the unversioned symbol come from releases whose nvmlPciInfo_t layout the
     * reference does not document, so we cannot promise they write the 68-byte struct. _v3 has been
     * exported by every driver since 2018. */
    nvmlReturn_t (*DeviceGetPciInfo)(nvmlDevice_t dev, nvmlPciInfo_t *pci);
    nvmlReturn_t (*DeviceGetMinorNumber)(nvmlDevice_t dev, unsigned int *minor); /* /dev/nvidia<minor> */
    nvmlReturn_t (*DeviceGetIndex)(nvmlDevice_t dev, unsigned int *index);

    /* Utilisation, memory, thermals, power, clocks. */
    nvmlReturn_t (*DeviceGetUtilizationRates)(nvmlDevice_t dev, nvmlUtilization_t *util);
    /* Prefer _v2 (set version with nvml_memory_v2_init()), fall back to v1. Either may be missing. */
    nvmlReturn_t (*DeviceGetMemoryInfo_v2)(nvmlDevice_t dev, nvmlMemory_v2_t *mem);
    nvmlReturn_t (*DeviceGetMemoryInfo)(nvmlDevice_t dev, nvmlMemory_t *mem);
    nvmlReturn_t (*DeviceGetTemperature)(nvmlDevice_t dev, nvmlTemperatureSensors_t sensor,
                                         unsigned int *celsius);
    nvmlReturn_t (*DeviceGetPowerUsage)(nvmlDevice_t dev, unsigned int *milliwatts);
    nvmlReturn_t (*DeviceGetTotalEnergyConsumption)(nvmlDevice_t dev,
                                                    unsigned long long *millijoules); /* since load */
    nvmlReturn_t (*DeviceGetEnforcedPowerLimit)(nvmlDevice_t dev, unsigned int *milliwatts);
    nvmlReturn_t (*DeviceGetPowerManagementLimit)(nvmlDevice_t dev, unsigned int *milliwatts);
    nvmlReturn_t (*DeviceGetClockInfo)(nvmlDevice_t dev, nvmlClockType_t type, unsigned int *mhz);
    nvmlReturn_t (*DeviceGetMaxClockInfo)(nvmlDevice_t dev, nvmlClockType_t type, unsigned int *mhz);
    /* nvmlDeviceGetCurrentClocksEventReasons, nvmlDeviceGetCurrentClocksThrottleReasons */
    nvmlReturn_t (*DeviceGetCurrentClocksEventReasons)(nvmlDevice_t dev, unsigned long long *reasons);
    nvmlReturn_t (*DeviceGetPcieThroughput)(nvmlDevice_t dev, nvmlPcieUtilCounter_t counter,
                                            unsigned int *kbps);
    nvmlReturn_t (*DeviceGetFanSpeed)(nvmlDevice_t dev, unsigned int *percent);
    nvmlReturn_t (*DeviceGetEncoderUtilization)(nvmlDevice_t dev, unsigned int *percent,
                                                unsigned int *period_us);
    nvmlReturn_t (*DeviceGetDecoderUtilization)(nvmlDevice_t dev, unsigned int *percent,
                                                unsigned int *period_us);
    nvmlReturn_t (*DeviceGetPerformanceState)(nvmlDevice_t dev, nvmlPstates_t *pstate);
    nvmlReturn_t (*DeviceGetFieldValues)(nvmlDevice_t dev, int count, nvmlFieldValue_t *values);
    /* P2P capability between two GPUs: caps_index nvmlGpuP2PCapsIndex_t (2 = NVLINK), *status
     * nvmlGpuP2PStatus_t (0 OK ... 6 UNKNOWN); both enums are int-sized. */
    nvmlReturn_t (*DeviceGetP2PStatus)(nvmlDevice_t dev1, nvmlDevice_t dev2, int caps_index, int *status);

    /* Memory errors. */
    nvmlReturn_t (*DeviceGetTotalEccErrors)(nvmlDevice_t dev, nvmlMemoryErrorType_t type,
                                            nvmlEccCounterType_t counter, unsigned long long *count);
    /* Unversioned only (_v2 adds a timestamps argument). *page_count = 0 queries the size. */
    nvmlReturn_t (*DeviceGetRetiredPages)(nvmlDevice_t dev, nvmlPageRetirementCause_t cause,
                                          unsigned int *page_count, unsigned long long *addresses);
    nvmlReturn_t (*DeviceGetRetiredPagesPendingStatus)(nvmlDevice_t dev, nvmlEnableState_t *pending);
    nvmlReturn_t (*DeviceGetRemappedRows)(nvmlDevice_t dev, unsigned int *corrected,
                                          unsigned int *uncorrected, unsigned int *is_pending,
                                          unsigned int *failure_occurred);

    /* Processes: _v3, _v2 (see compute_procs_version; call them through nvml_procs_pids()). Never the
     * unversioned symbols, which write 16-byte nvmlProcessInfo_v1_t. `infos` is void *: how many
     * bytes each element takes depends on the driver, not on the name. R470 has only _v2, and 535.98
     * dropped _v3 for one release. */
    nvmlReturn_t (*DeviceGetComputeRunningProcesses)(nvmlDevice_t dev, unsigned int *count, void *infos);
    nvmlReturn_t (*DeviceGetGraphicsRunningProcesses)(nvmlDevice_t dev, unsigned int *count, void *infos);
    /* _v2 only: where _v3 is exported but answers FUNCTION_NOT_FOUND (a loader shim such as DCGM's
     * stands in for a driver without it), nvml_procs_pids() asks these instead. */
    nvmlReturn_t (*DeviceGetComputeRunningProcesses_v2)(nvmlDevice_t dev, unsigned int *count, void *infos);
    nvmlReturn_t (*DeviceGetGraphicsRunningProcesses_v2)(nvmlDevice_t dev, unsigned int *count, void *infos);
    /* Per-process SM utilization samples newer than last_seen_us (NOT_FOUND: none yet). Optional. */
    nvmlReturn_t (*DeviceGetProcessUtilization)(nvmlDevice_t dev, nvmlProcessUtilizationSample_t *samples,
                                                unsigned int *count, unsigned long long last_seen_us);

    /* Events (Xid). */
    nvmlReturn_t (*EventSetCreate)(nvmlEventSet_t *set);
    nvmlReturn_t (*EventSetFree)(nvmlEventSet_t set);
    nvmlReturn_t (*DeviceRegisterEvents)(nvmlDevice_t dev, unsigned long long types, nvmlEventSet_t set);
    nvmlReturn_t (*DeviceGetSupportedEventTypes)(nvmlDevice_t dev, unsigned long long *types);
    /* nvmlEventSetWait_v2 only: v1 writes a shorter nvmlEventData_t. */
    nvmlReturn_t (*EventSetWait)(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeout_ms);

    /* MIG. */
    nvmlReturn_t (*DeviceGetMigMode)(nvmlDevice_t dev, unsigned int *current, unsigned int *pending);
    nvmlReturn_t (*DeviceGetMaxMigDeviceCount)(nvmlDevice_t dev, unsigned int *count);
    nvmlReturn_t (*DeviceGetMigDeviceHandleByIndex)(nvmlDevice_t dev, unsigned int index,
                                                    nvmlDevice_t *mig);
    nvmlReturn_t (*DeviceIsMigDeviceHandle)(nvmlDevice_t dev, unsigned int *is_mig);
    nvmlReturn_t (*DeviceGetDeviceHandleFromMigDeviceHandle)(nvmlDevice_t mig, nvmlDevice_t *parent);
    nvmlReturn_t (*DeviceGetGpuInstanceId)(nvmlDevice_t mig, unsigned int *id);
    nvmlReturn_t (*DeviceGetComputeInstanceId)(nvmlDevice_t mig, unsigned int *id);

    /* GPM (NVML 11.8+, Hopper and newer; unversioned names). One all-or-nothing group: use GPM only when
     * nvml_lib_has_gpm() (MigSampleGet is 12.0+ and optional within it). Never the streaming setter. */
    nvmlReturn_t (*GpmQueryDeviceSupport)(nvmlDevice_t dev, nvmlGpmSupport_t *support);
    nvmlReturn_t (*GpmSampleAlloc)(nvmlGpmSample_t *sample);
    nvmlReturn_t (*GpmSampleFree)(nvmlGpmSample_t sample);
    nvmlReturn_t (*GpmSampleGet)(nvmlDevice_t dev, nvmlGpmSample_t sample); /* a GPU or MIG handle */
    nvmlReturn_t (*GpmMigSampleGet)(nvmlDevice_t parent, unsigned int gpu_instance_id, nvmlGpmSample_t sample);
    nvmlReturn_t (*GpmMetricsGet)(nvmlGpmMetricsGet_t *get);
};

/* True when the GPM group every GPM user needs is bound (all of it but MigSampleGet). */
static inline int nvml_lib_has_gpm(const struct nvml_lib *lib)
{
    return lib->GpmQueryDeviceSupport && lib->GpmSampleAlloc && lib->GpmSampleFree && lib->GpmSampleGet &&
           lib->GpmMetricsGet;
}

/* Loads the library at `path` (a file path or a bare soname searched the usual way; NULL or "" means
 * NVML_LIB_DEFAULT_SONAME) and binds every entry point above. On success *lib owns the handle until
 * nvml_lib_close(). On failure returns JT_ERR_LIBRARY, leaves *lib closed (safe to pass to
 * nvml_lib_close) and writes the reason to why[whylen] if why is not NULL: the dlerror() text when
 * the library cannot be loaded, or the names of the missing required symbols. Does not call Init. */
enum jt_err nvml_lib_open(struct nvml_lib *lib, const char *path, char *why, size_t whylen);

/* Unloads the library and clears *lib. Safe on a closed or failed struct; idempotent. Call it only
 * after Shutdown and after every thread has stopped calling through lib. */
void nvml_lib_close(struct nvml_lib *lib);

/* A message for `r`: the library's own (nvmlErrorString) when loaded, else nvml_return_name(r).
 * Never NULL. The string belongs to the library or is static; it stays valid until nvml_lib_close.
 * `lib` may be NULL. */
const char *nvml_lib_strerror(const struct nvml_lib *lib, nvmlReturn_t r);

/* The constant's name, e.g. "NVML_ERROR_GPU_IS_LOST"; "unrecognised NVML return code" for a code
 * nvml_types.h does not know (a newer driver). Static; never NULL. */
const char *nvml_return_name(nvmlReturn_t r);

/* The project error a failed NVML call becomes, for a collector's return value: NOT_SUPPORTED and
 * FUNCTION_NOT_FOUND -> JT_ERR_UNSUPPORTED, GPU_IS_LOST -> JT_ERR_GPU_LOST, NO_PERMISSION ->
 * JT_ERR_PERMISSION, TIMEOUT -> JT_ERR_TIMEOUT, misuse of the API (UNINITIALIZED, INVALID_ARGUMENT,
 * a version mismatch) -> JT_ERR_INTERNAL, a broken driver install -> JT_ERR_LIBRARY, the rest
 * (including codes we do not know) -> JT_ERR_IO. SUCCESS -> JT_OK. */
enum jt_err nvml_return_to_jt_err(nvmlReturn_t r);

#endif
