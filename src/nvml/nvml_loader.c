/* nvml_loader.c - dlopen()s NVML and fills struct nvml_lib from one symbol table (see nvml_loader.h).
 *
 * The table below is the single place that says which NVML symbols we bind, under which names, in
 * which order, and which are required. It is written in the order of the function pointers in
 * struct nvml_lib, and nvml_lib_open() checks that at run time (entry i fills pointer i), while a
 * static assert checks the count: a pointer added to the struct without a table line, or the other
 * way round, fails loudly instead of staying NULL forever.
 */
#include "nvml/nvml_loader.h"

#include <dlfcn.h>
#include <link.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/strparse.h"

/* We store dlsym()'s void * into function-pointer members by copying its bytes, which POSIX allows
 * (object and function pointers share one representation there); every member must have that size. */
typedef nvmlReturn_t (*nvml_any_fn)(void);
_Static_assert(sizeof(nvml_any_fn) == sizeof(void *), "function and object pointers differ in size");

#define NVML_SYM_MAX_NAMES 2

struct nvml_sym {
    const char *names[NVML_SYM_MAX_NAMES + 1]; /* newest first, NULL-terminated */
    size_t offset;                             /* of the function pointer in struct nvml_lib */
    bool required;
};

#define REQ true
#define OPT false
#define SYM(member, req, ...) { { __VA_ARGS__, NULL }, offsetof(struct nvml_lib, member), req }

static const struct nvml_sym nvml_syms[] = {
    SYM(Init, REQ, "nvmlInit_v2", "nvmlInit"),
    SYM(Shutdown, REQ, "nvmlShutdown"),
    SYM(ErrorString, REQ, "nvmlErrorString"),
    SYM(SystemGetDriverVersion, OPT, "nvmlSystemGetDriverVersion"),
    SYM(SystemGetNVMLVersion, OPT, "nvmlSystemGetNVMLVersion"),
    SYM(SystemGetCudaDriverVersion, OPT, "nvmlSystemGetCudaDriverVersion"),

    SYM(DeviceGetCount, REQ, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"),
    SYM(DeviceGetHandleByIndex, REQ, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"),
    SYM(DeviceGetHandleByUUID, OPT, "nvmlDeviceGetHandleByUUID"),
    SYM(DeviceGetName, REQ, "nvmlDeviceGetName"),
    SYM(DeviceGetUUID, REQ, "nvmlDeviceGetUUID"),
    SYM(DeviceGetPciInfo, OPT, "nvmlDeviceGetPciInfo_v3"),
    SYM(DeviceGetMinorNumber, OPT, "nvmlDeviceGetMinorNumber"),
    SYM(DeviceGetIndex, OPT, "nvmlDeviceGetIndex"),

    SYM(DeviceGetUtilizationRates, OPT, "nvmlDeviceGetUtilizationRates"),
    SYM(DeviceGetMemoryInfo_v2, OPT, "nvmlDeviceGetMemoryInfo_v2"),
    SYM(DeviceGetMemoryInfo, OPT, "nvmlDeviceGetMemoryInfo"),
    SYM(DeviceGetTemperature, OPT, "nvmlDeviceGetTemperature"),
    SYM(DeviceGetPowerUsage, OPT, "nvmlDeviceGetPowerUsage"),
    SYM(DeviceGetTotalEnergyConsumption, OPT, "nvmlDeviceGetTotalEnergyConsumption"),
    SYM(DeviceGetEnforcedPowerLimit, OPT, "nvmlDeviceGetEnforcedPowerLimit"),
    SYM(DeviceGetPowerManagementLimit, OPT, "nvmlDeviceGetPowerManagementLimit"),
    SYM(DeviceGetClockInfo, OPT, "nvmlDeviceGetClockInfo"),
    SYM(DeviceGetMaxClockInfo, OPT, "nvmlDeviceGetMaxClockInfo"),
    SYM(DeviceGetCurrentClocksEventReasons, OPT, "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons"),
    SYM(DeviceGetPcieThroughput, OPT, "nvmlDeviceGetPcieThroughput"),
    SYM(DeviceGetFanSpeed, OPT, "nvmlDeviceGetFanSpeed"),
    SYM(DeviceGetEncoderUtilization, OPT, "nvmlDeviceGetEncoderUtilization"),
    SYM(DeviceGetDecoderUtilization, OPT, "nvmlDeviceGetDecoderUtilization"),
    SYM(DeviceGetPerformanceState, OPT, "nvmlDeviceGetPerformanceState"),
    SYM(DeviceGetFieldValues, OPT, "nvmlDeviceGetFieldValues"),
    SYM(DeviceGetP2PStatus, OPT, "nvmlDeviceGetP2PStatus"),

    SYM(DeviceGetTotalEccErrors, OPT, "nvmlDeviceGetTotalEccErrors"),
    SYM(DeviceGetRetiredPages, OPT, "nvmlDeviceGetRetiredPages"),
    SYM(DeviceGetRetiredPagesPendingStatus, OPT, "nvmlDeviceGetRetiredPagesPendingStatus"),
    SYM(DeviceGetRemappedRows, OPT, "nvmlDeviceGetRemappedRows"),

    /* Not the unversioned symbols: they write 16-byte elements. Keep _v3 first: the index of the name
     * that resolved becomes {compute,graphics}_procs_version (procs_version() below). */
    SYM(DeviceGetComputeRunningProcesses, OPT, "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2"),
    SYM(DeviceGetGraphicsRunningProcesses, OPT, "nvmlDeviceGetGraphicsRunningProcesses_v3",
        "nvmlDeviceGetGraphicsRunningProcesses_v2"),
    SYM(DeviceGetComputeRunningProcesses_v2, OPT, "nvmlDeviceGetComputeRunningProcesses_v2"),
    SYM(DeviceGetGraphicsRunningProcesses_v2, OPT, "nvmlDeviceGetGraphicsRunningProcesses_v2"),
    SYM(DeviceGetProcessUtilization, OPT, "nvmlDeviceGetProcessUtilization"),

    SYM(EventSetCreate, OPT, "nvmlEventSetCreate"),
    SYM(EventSetFree, OPT, "nvmlEventSetFree"),
    SYM(DeviceRegisterEvents, OPT, "nvmlDeviceRegisterEvents"),
    SYM(DeviceGetSupportedEventTypes, OPT, "nvmlDeviceGetSupportedEventTypes"),
    SYM(EventSetWait, OPT, "nvmlEventSetWait_v2"),

    SYM(DeviceGetMigMode, OPT, "nvmlDeviceGetMigMode"),
    SYM(DeviceGetMaxMigDeviceCount, OPT, "nvmlDeviceGetMaxMigDeviceCount"),
    SYM(DeviceGetMigDeviceHandleByIndex, OPT, "nvmlDeviceGetMigDeviceHandleByIndex"),
    SYM(DeviceIsMigDeviceHandle, OPT, "nvmlDeviceIsMigDeviceHandle"),
    SYM(DeviceGetDeviceHandleFromMigDeviceHandle, OPT, "nvmlDeviceGetDeviceHandleFromMigDeviceHandle"),
    SYM(DeviceGetGpuInstanceId, OPT, "nvmlDeviceGetGpuInstanceId"),
    SYM(DeviceGetComputeInstanceId, OPT, "nvmlDeviceGetComputeInstanceId"),

    SYM(GpmQueryDeviceSupport, OPT, "nvmlGpmQueryDeviceSupport"),
    SYM(GpmSampleAlloc, OPT, "nvmlGpmSampleAlloc"),
    SYM(GpmSampleFree, OPT, "nvmlGpmSampleFree"),
    SYM(GpmSampleGet, OPT, "nvmlGpmSampleGet"),
    SYM(GpmMigSampleGet, OPT, "nvmlGpmMigSampleGet"),
    SYM(GpmMetricsGet, OPT, "nvmlGpmMetricsGet"),
};

#undef SYM
#undef REQ
#undef OPT

#define NVML_NSYMS (sizeof nvml_syms / sizeof nvml_syms[0])
#define NVML_FIRST_FN offsetof(struct nvml_lib, Init)

_Static_assert(offsetof(struct nvml_lib, GpmMetricsGet) + sizeof(nvml_any_fn) == sizeof(struct nvml_lib),
               "GpmMetricsGet must stay the last member of struct nvml_lib");
_Static_assert(sizeof(struct nvml_lib) - NVML_FIRST_FN == NVML_NSYMS * sizeof(nvml_any_fn),
               "every function pointer in struct nvml_lib needs exactly one line in nvml_syms");

/* printf into why[*used..whylen), keeping it terminated; a full buffer truncates silently. */
__attribute__((format(printf, 4, 5)))
static void why_add(char *why, size_t whylen, size_t *used, const char *fmt, ...)
{
    if (why == NULL || *used + 1 >= whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why + *used, whylen - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n < whylen - *used ? (size_t)n : whylen - *used - 1;
}

/* Entry i must fill the i-th function pointer: keeps the table in struct order, so the count assert
 * above also proves there is no duplicate and no gap. */
static bool table_in_struct_order(size_t *bad)
{
    for (size_t i = 0; i < NVML_NSYMS; i++) {
        if (nvml_syms[i].offset != NVML_FIRST_FN + i * sizeof(nvml_any_fn) || nvml_syms[i].names[0] == NULL) {
            *bad = i;
            return false;
        }
    }
    return true;
}

/* The index in sym->names of the name that resolved, or -1; stores the address into lib. */
static int resolve(struct nvml_lib *lib, const struct nvml_sym *sym)
{
    for (int i = 0; i < NVML_SYM_MAX_NAMES && sym->names[i] != NULL; i++) {
        void *addr = dlsym(lib->handle, sym->names[i]);
        if (addr != NULL) {
            memcpy((char *)lib + sym->offset, &addr, sizeof addr);
            return i;
        }
    }
    return -1;
}

/* The symbol version of a process-list entry point from the index of the name that resolved. */
static unsigned int procs_version(int which)
{
    return which == 0 ? 3u : which == 1 ? 2u : 0u;
}

/* Where the dynamic linker found the library (a soname resolves to a file); `asked` if unknown. */
static void record_path(struct nvml_lib *lib, const char *asked)
{
    struct link_map *map = NULL;
    const char *found = asked;
    if (dlinfo(lib->handle, RTLD_DI_LINKMAP, &map) == 0 && map != NULL && map->l_name != NULL &&
        map->l_name[0] != '\0')
        found = map->l_name;
    str_copy(lib->path, sizeof lib->path, found, strlen(found));
}

enum jt_err nvml_lib_open(struct nvml_lib *lib, const char *path, char *why, size_t whylen)
{
    enum jt_err err = JT_ERR_LIBRARY;
    size_t used = 0;
    size_t bad = 0;

    memset(lib, 0, sizeof *lib);
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (path == NULL || path[0] == '\0')
        path = NVML_LIB_DEFAULT_SONAME;

    if (!table_in_struct_order(&bad)) {
        why_add(why, whylen, &used, "nvml_loader: symbol table entry %zu is out of step with struct nvml_lib",
                bad);
        err = JT_ERR_INTERNAL;
        goto out;
    }
    if (strlen(path) >= sizeof lib->path) {
        why_add(why, whylen, &used, "NVML library path is longer than %zu bytes", sizeof lib->path - 1);
        goto out;
    }

    dlerror();
    lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib->handle == NULL) {
        const char *e = dlerror();
        why_add(why, whylen, &used, "dlopen failed: %s", e != NULL ? e : path);
        goto out;
    }
    record_path(lib, path);

    size_t missing = 0;
    for (size_t i = 0; i < NVML_NSYMS; i++) {
        const struct nvml_sym *sym = &nvml_syms[i];
        int which = resolve(lib, sym);
        if (sym->offset == offsetof(struct nvml_lib, DeviceGetComputeRunningProcesses))
            lib->compute_procs_version = procs_version(which);
        else if (sym->offset == offsetof(struct nvml_lib, DeviceGetGraphicsRunningProcesses))
            lib->graphics_procs_version = procs_version(which);
        if (which >= 0 || !sym->required)
            continue;
        if (missing++ == 0)
            why_add(why, whylen, &used, "%s: missing required NVML symbol(s): ", lib->path);
        else
            why_add(why, whylen, &used, ", ");
        for (int k = 0; k < NVML_SYM_MAX_NAMES && sym->names[k] != NULL; k++)
            why_add(why, whylen, &used, "%s%s", k == 0 ? "" : " or ", sym->names[k]);
    }
    if (missing > 0)
        goto out;
    return JT_OK;

out:
    nvml_lib_close(lib);
    return err;
}

void nvml_lib_close(struct nvml_lib *lib)
{
    if (lib == NULL)
        return;
    if (lib->handle != NULL)
        dlclose(lib->handle);
    memset(lib, 0, sizeof *lib);
}

const char *nvml_return_name(nvmlReturn_t r)
{
    /* No default: a code added to nvmlReturn_t without a name here is a -Wswitch error. */
    switch (r) {
    case NVML_SUCCESS: return "NVML_SUCCESS";
    case NVML_ERROR_UNINITIALIZED: return "NVML_ERROR_UNINITIALIZED";
    case NVML_ERROR_INVALID_ARGUMENT: return "NVML_ERROR_INVALID_ARGUMENT";
    case NVML_ERROR_NOT_SUPPORTED: return "NVML_ERROR_NOT_SUPPORTED";
    case NVML_ERROR_NO_PERMISSION: return "NVML_ERROR_NO_PERMISSION";
    case NVML_ERROR_ALREADY_INITIALIZED: return "NVML_ERROR_ALREADY_INITIALIZED";
    case NVML_ERROR_NOT_FOUND: return "NVML_ERROR_NOT_FOUND";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "NVML_ERROR_INSUFFICIENT_SIZE";
    case NVML_ERROR_INSUFFICIENT_POWER: return "NVML_ERROR_INSUFFICIENT_POWER";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "NVML_ERROR_DRIVER_NOT_LOADED";
    case NVML_ERROR_TIMEOUT: return "NVML_ERROR_TIMEOUT";
    case NVML_ERROR_IRQ_ISSUE: return "NVML_ERROR_IRQ_ISSUE";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML_ERROR_LIBRARY_NOT_FOUND";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "NVML_ERROR_FUNCTION_NOT_FOUND";
    case NVML_ERROR_CORRUPTED_INFOROM: return "NVML_ERROR_CORRUPTED_INFOROM";
    case NVML_ERROR_GPU_IS_LOST: return "NVML_ERROR_GPU_IS_LOST";
    case NVML_ERROR_RESET_REQUIRED: return "NVML_ERROR_RESET_REQUIRED";
    case NVML_ERROR_OPERATING_SYSTEM: return "NVML_ERROR_OPERATING_SYSTEM";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "NVML_ERROR_LIB_RM_VERSION_MISMATCH";
    case NVML_ERROR_IN_USE: return "NVML_ERROR_IN_USE";
    case NVML_ERROR_MEMORY: return "NVML_ERROR_MEMORY";
    case NVML_ERROR_NO_DATA: return "NVML_ERROR_NO_DATA";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "NVML_ERROR_INSUFFICIENT_RESOURCES";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "NVML_ERROR_FREQ_NOT_SUPPORTED";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "NVML_ERROR_ARGUMENT_VERSION_MISMATCH";
    case NVML_ERROR_DEPRECATED: return "NVML_ERROR_DEPRECATED";
    case NVML_ERROR_NOT_READY: return "NVML_ERROR_NOT_READY";
    case NVML_ERROR_GPU_NOT_FOUND: return "NVML_ERROR_GPU_NOT_FOUND";
    case NVML_ERROR_INVALID_STATE: return "NVML_ERROR_INVALID_STATE";
    case NVML_ERROR_RESET_TYPE_NOT_SUPPORTED: return "NVML_ERROR_RESET_TYPE_NOT_SUPPORTED";
    case NVML_ERROR_UNKNOWN: return "NVML_ERROR_UNKNOWN";
    }
    /* A newer driver may return codes our declarations predate. */
    return "unrecognised NVML return code";
}

const char *nvml_lib_strerror(const struct nvml_lib *lib, nvmlReturn_t r)
{
    if (lib != NULL && lib->handle != NULL && lib->ErrorString != NULL) {
        const char *s = lib->ErrorString(r);
        if (s != NULL && s[0] != '\0')
            return s;
    }
    return nvml_return_name(r);
}

enum jt_err nvml_return_to_jt_err(nvmlReturn_t r)
{
    switch (r) {
    case NVML_SUCCESS:
        return JT_OK;
    case NVML_ERROR_NOT_SUPPORTED:
    case NVML_ERROR_FUNCTION_NOT_FOUND:
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED:
    case NVML_ERROR_FREQ_NOT_SUPPORTED:
    case NVML_ERROR_DEPRECATED:
    case NVML_ERROR_RESET_TYPE_NOT_SUPPORTED:
        return JT_ERR_UNSUPPORTED;
    case NVML_ERROR_NO_PERMISSION:
        return JT_ERR_PERMISSION;
    case NVML_ERROR_NOT_FOUND:
    case NVML_ERROR_GPU_NOT_FOUND:
    case NVML_ERROR_NO_DATA:
        return JT_ERR_NOT_FOUND;
    case NVML_ERROR_TIMEOUT:
        return JT_ERR_TIMEOUT;
    case NVML_ERROR_GPU_IS_LOST:
        return JT_ERR_GPU_LOST;
    case NVML_ERROR_MEMORY:
        return JT_ERR_NOMEM;
    case NVML_ERROR_INSUFFICIENT_SIZE:
        return JT_ERR_LIMIT;
    case NVML_ERROR_UNINITIALIZED:
    case NVML_ERROR_ALREADY_INITIALIZED:
    case NVML_ERROR_INVALID_ARGUMENT:
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
        return JT_ERR_INTERNAL;
    case NVML_ERROR_DRIVER_NOT_LOADED:
    case NVML_ERROR_LIBRARY_NOT_FOUND:
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        return JT_ERR_LIBRARY;
    case NVML_ERROR_INSUFFICIENT_POWER:
    case NVML_ERROR_IRQ_ISSUE:
    case NVML_ERROR_CORRUPTED_INFOROM:
    case NVML_ERROR_RESET_REQUIRED:
    case NVML_ERROR_OPERATING_SYSTEM:
    case NVML_ERROR_IN_USE:
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
    case NVML_ERROR_NOT_READY:
    case NVML_ERROR_INVALID_STATE:
    case NVML_ERROR_UNKNOWN:
        return JT_ERR_IO;
    }
    return JT_ERR_IO;
}
