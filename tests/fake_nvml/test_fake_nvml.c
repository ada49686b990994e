/* test_fake_nvml.c - self-test of the fake libnvidia-ml.so.1, loaded with dlopen the way the exporter loads it.
 *
 * Usage: test_fake_nvml <path/to/libnvidia-ml.so.1> <scenarios dir>. FAKE_NVML_SCENARIO, when set, names the
 * scenario the DGX tests read (CTest sets it to scenarios/dgx_h100.json); other tests point the variable at
 * their own scenarios, and set FAKE_NVML_START_EPOCH so that "now" is a known scenario time. Timing checks leave
 * wide margins: sanitizer builds and loaded CI machines are slow.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_nvml.h"

#define NVML_FUNCS(X)                                                                                                 \
    X(nvmlInit_v2)                                                                                                    \
    X(nvmlInit)                                                                                                       \
    X(nvmlInitWithFlags)                                                                                              \
    X(nvmlShutdown)                                                                                                   \
    X(nvmlErrorString)                                                                                                \
    X(nvmlSystemGetDriverVersion)                                                                                     \
    X(nvmlSystemGetNVMLVersion)                                                                                       \
    X(nvmlSystemGetCudaDriverVersion)                                                                                 \
    X(nvmlDeviceGetCount_v2)                                                                                          \
    X(nvmlDeviceGetCount)                                                                                             \
    X(nvmlDeviceGetHandleByIndex_v2)                                                                                  \
    X(nvmlDeviceGetHandleByIndex)                                                                                     \
    X(nvmlDeviceGetHandleByUUID)                                                                                      \
    X(nvmlDeviceGetName)                                                                                              \
    X(nvmlDeviceGetUUID)                                                                                              \
    X(nvmlDeviceGetPciInfo_v3)                                                                                        \
    X(nvmlDeviceGetMinorNumber)                                                                                       \
    X(nvmlDeviceGetIndex)                                                                                             \
    X(nvmlDeviceGetUtilizationRates)                                                                                  \
    X(nvmlDeviceGetMemoryInfo_v2)                                                                                     \
    X(nvmlDeviceGetMemoryInfo)                                                                                        \
    X(nvmlDeviceGetTemperature)                                                                                       \
    X(nvmlDeviceGetPowerUsage)                                                                                        \
    X(nvmlDeviceGetTotalEnergyConsumption)                                                                            \
    X(nvmlDeviceGetEnforcedPowerLimit)                                                                                \
    X(nvmlDeviceGetPowerManagementLimit)                                                                              \
    X(nvmlDeviceGetClockInfo)                                                                                         \
    X(nvmlDeviceGetMaxClockInfo)                                                                                      \
    X(nvmlDeviceGetCurrentClocksEventReasons)                                                                         \
    X(nvmlDeviceGetCurrentClocksThrottleReasons)                                                                      \
    X(nvmlDeviceGetPcieThroughput)                                                                                    \
    X(nvmlDeviceGetTotalEccErrors)                                                                                    \
    X(nvmlDeviceGetRetiredPages)                                                                                      \
    X(nvmlDeviceGetRetiredPagesPendingStatus)                                                                         \
    X(nvmlDeviceGetRemappedRows)                                                                                      \
    X(nvmlDeviceGetFanSpeed)                                                                                          \
    X(nvmlDeviceGetEncoderUtilization)                                                                                \
    X(nvmlDeviceGetDecoderUtilization)                                                                                \
    X(nvmlDeviceGetPerformanceState)                                                                                  \
    X(nvmlDeviceGetFieldValues)                                                                                       \
    X(nvmlDeviceGetComputeRunningProcesses_v3)                                                                        \
    X(nvmlDeviceGetComputeRunningProcesses_v2)                                                                        \
    X(nvmlDeviceGetProcessUtilization)                                                                                \
    X(nvmlDeviceGetGraphicsRunningProcesses_v3)                                                                       \
    X(nvmlEventSetCreate)                                                                                             \
    X(nvmlEventSetFree)                                                                                               \
    X(nvmlDeviceRegisterEvents)                                                                                       \
    X(nvmlDeviceGetSupportedEventTypes)                                                                               \
    X(nvmlEventSetWait_v2)                                                                                            \
    X(nvmlDeviceGetMigMode)                                                                                           \
    X(nvmlDeviceGetMaxMigDeviceCount)                                                                                 \
    X(nvmlDeviceGetMigDeviceHandleByIndex)                                                                            \
    X(nvmlDeviceIsMigDeviceHandle)                                                                                    \
    X(nvmlDeviceGetDeviceHandleFromMigDeviceHandle)                                                                   \
    X(nvmlDeviceGetGpuInstanceId)                                                                                     \
    X(nvmlDeviceGetComputeInstanceId)                                                                                 \
    X(nvmlGpmQueryDeviceSupport)                                                                                      \
    X(nvmlGpmSampleAlloc)                                                                                             \
    X(nvmlGpmSampleFree)                                                                                              \
    X(nvmlGpmSampleGet)                                                                                               \
    X(nvmlGpmMigSampleGet)                                                                                            \
    X(nvmlGpmMetricsGet)

/* Every entry point, typed from our own prototypes, resolved with dlsym. */
static struct {
#define X(name) __typeof__(&name) name;
    NVML_FUNCS(X)
#undef X
} nv;

static const char *g_lib_path;
static const char *g_scenario_dir;
static char g_dgx_path[PATH_MAX];
static char g_tmpdir[] = "/tmp/fake_nvml_test.XXXXXX";

#define MIB 1048576ULL

/* ---- helpers ---- */

static double now_epoch(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void use_path(const char *path)
{
    setenv("FAKE_NVML_SCENARIO", path, 1);
}

static void use_scenario(const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", g_scenario_dir, name);
    use_path(path);
}

/* Makes scenario time t be "now" for the next first nvmlInit. */
static void start_at(double t)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.6f", now_epoch() - t);
    setenv("FAKE_NVML_START_EPOCH", buf, 1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Replaces path with new content through rename, so a reader sees the old or the new file, never half. */
static void replace_file(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    write_file(tmp, text);
    assert_int_equal(rename(tmp, path), 0);
}

/* Writes text to a fresh file in the test directory and returns its path (static buffer per call site). */
static const char *temp_scenario(char *buf, size_t cap, const char *name, const char *text)
{
    snprintf(buf, cap, "%s/%s", g_tmpdir, name);
    write_file(buf, text);
    return buf;
}

static nvmlDevice_t handle(unsigned int i)
{
    nvmlDevice_t d;
    assert_int_equal(nv.nvmlDeviceGetHandleByIndex_v2(i, &d), NVML_SUCCESS);
    return d;
}

static unsigned int power(nvmlDevice_t d)
{
    unsigned int mw = 0;
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(d, &mw), NVML_SUCCESS);
    return mw;
}

/* A minimal valid GPU object for hand-written scenarios; i (one digit) makes its UUID and bus id unique. */
#define GPU_JSON(i, extra)                                                                                           \
    "{\"name\": \"NVIDIA H100 80GB HBM3\", \"uuid\": \"GPU-00000000-0000-0000-0000-00000000000" #i "\", "         \
    "\"pci_bus_id\": \"00000000:1" #i ":00.0\", \"memory_total_mib\": 81559" extra "}"

/* ---- lifecycle ---- */

static void test_uninitialized(void **state)
{
    (void)state;
    unsigned int n = 99;
    nvmlDevice_t d;
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
    assert_int_equal(nv.nvmlDeviceGetHandleByIndex_v2(0, &d), NVML_ERROR_UNINITIALIZED);
    assert_int_equal(nv.nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
    assert_string_equal(nv.nvmlErrorString(NVML_ERROR_GPU_IS_LOST), "GPU is lost");
    assert_string_equal(nv.nvmlErrorString(NVML_SUCCESS), "Success");
    assert_non_null(nv.nvmlErrorString((nvmlReturn_t)12345));
}

static void test_init_errors(void **state)
{
    (void)state;
    char path[PATH_MAX];
    unsigned int n;
    unsetenv("FAKE_NVML_SCENARIO");
    assert_int_equal(nv.nvmlInit_v2(), NVML_ERROR_DRIVER_NOT_LOADED);
    use_path("/nonexistent/fake_nvml/scenario.json");
    assert_int_equal(nv.nvmlInit_v2(), NVML_ERROR_DRIVER_NOT_LOADED);
    use_path(temp_scenario(path, sizeof(path), "broken.json", "{\"gpus\": [ {"));
    assert_int_equal(nv.nvmlInit_v2(), NVML_ERROR_UNKNOWN);
    use_path(temp_scenario(path, sizeof(path), "typo.json", "{\"gpus\": [], \"driver_verison\": \"1\"}"));
    assert_int_equal(nv.nvmlInit(), NVML_ERROR_UNKNOWN);
    use_scenario("one_gpu.json");
    setenv("FAKE_NVML_START_EPOCH", "12abc", 1);
    assert_int_equal(nv.nvmlInitWithFlags(0), NVML_ERROR_UNKNOWN);
    unsetenv("FAKE_NVML_START_EPOCH");
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
}

static void test_refcount(void **state)
{
    (void)state;
    unsigned int n = 0;
    use_scenario("one_gpu.json");
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlInitWithFlags(1), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
    assert_int_equal(nv.nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
    use_scenario("no_gpus.json");
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetCount(&n), NVML_SUCCESS);
    assert_int_equal(n, 0);
    nvmlDevice_t d;
    assert_int_equal(nv.nvmlDeviceGetHandleByIndex_v2(0, &d), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

/* ---- the DGX scenario ---- */

static const char *const dgx_bus_ids[8] = {"00000000:18:00.0", "00000000:2A:00.0", "00000000:3A:00.0",
                                           "00000000:5D:00.0", "00000000:9A:00.0", "00000000:AB:00.0",
                                           "00000000:BA:00.0", "00000000:DB:00.0"};

static void test_dgx_identity(void **state)
{
    (void)state;
    char buf[96];
    unsigned int n = 0, u = 0;
    int cuda = 0;
    use_path(g_dgx_path);
    unsetenv("FAKE_NVML_START_EPOCH");
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlSystemGetDriverVersion(buf, sizeof(buf)), NVML_SUCCESS);
    assert_string_equal(buf, "550.144.03");
    assert_int_equal(nv.nvmlSystemGetDriverVersion(buf, 5), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(nv.nvmlSystemGetDriverVersion(NULL, 80), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlSystemGetNVMLVersion(buf, sizeof(buf)), NVML_SUCCESS);
    assert_string_equal(buf, "12.550.144.03");
    assert_int_equal(nv.nvmlSystemGetCudaDriverVersion(&cuda), NVML_SUCCESS);
    assert_int_equal(cuda, 12040);
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_SUCCESS);
    assert_int_equal(n, 8);

    for (unsigned int i = 0; i < 8; i++) {
        nvmlDevice_t d = handle(i), d2;
        nvmlPciInfo_t pci;
        char uuid[96];
        assert_int_equal(nv.nvmlDeviceGetName(d, buf, sizeof(buf)), NVML_SUCCESS);
        assert_string_equal(buf, "NVIDIA H100 80GB HBM3");
        assert_int_equal(nv.nvmlDeviceGetName(d, buf, 21), NVML_ERROR_INSUFFICIENT_SIZE);
        assert_int_equal(nv.nvmlDeviceGetName(d, buf, 22), NVML_SUCCESS);
        assert_int_equal(nv.nvmlDeviceGetUUID(d, uuid, sizeof(uuid)), NVML_SUCCESS);
        assert_int_equal(strlen(uuid), 40);
        assert_memory_equal(uuid, "GPU-", 4);
        assert_int_equal(nv.nvmlDeviceGetHandleByUUID(uuid, &d2), NVML_SUCCESS);
        assert_ptr_equal(d.handle, d2.handle);
        assert_int_equal(nv.nvmlDeviceGetIndex(d, &u), NVML_SUCCESS);
        assert_int_equal(u, i);
        assert_int_equal(nv.nvmlDeviceGetMinorNumber(d, &u), NVML_SUCCESS);
        assert_int_equal(u, i);
        assert_int_equal(nv.nvmlDeviceGetPciInfo_v3(d, &pci), NVML_SUCCESS);
        assert_string_equal(pci.busId, dgx_bus_ids[i]);
        assert_string_equal(pci.busIdLegacy, dgx_bus_ids[i] + 4);
        assert_int_equal(pci.domain, 0);
        assert_int_equal(pci.bus, strtoul(dgx_bus_ids[i] + 9, NULL, 16));
        assert_int_equal(pci.device, 0);
        assert_int_equal(pci.pciDeviceId, 0x233010DE);
        assert_int_equal(pci.pciSubSystemId, 0x16C110DE);
        for (unsigned int k = 0; k < i; k++) {
            char other[96];
            assert_int_equal(nv.nvmlDeviceGetUUID(handle(k), other, sizeof(other)), NVML_SUCCESS);
            assert_string_not_equal(uuid, other);
        }
    }
    nvmlDevice_t d;
    assert_int_equal(nv.nvmlDeviceGetHandleByIndex_v2(8, &d), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetHandleByIndex(0, NULL), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetHandleByUUID("GPU-nope", &d), NVML_ERROR_NOT_FOUND);
    assert_int_equal(nv.nvmlDeviceGetHandleByUUID(NULL, &d), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

static void test_invalid_handles(void **state)
{
    (void)state;
    char buf[96];
    unsigned int u;
    int local = 0;
    nvmlFieldValue_t fv = {.fieldId = NVML_FI_MEMORY_TEMP};
    use_path(g_dgx_path);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t good = handle(0);
    nvmlDevice_t bad[] = {
        {NULL},
        {(struct nvmlDevice_st *)(uintptr_t)0x1234},
        {(struct nvmlDevice_st *)(void *)&local},
        {(struct nvmlDevice_st *)(void *)((char *)good.handle + 1)},
        {(struct nvmlDevice_st *)(uintptr_t)UINTPTR_MAX},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(nv.nvmlDeviceGetName(bad[i], buf, sizeof(buf)), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nv.nvmlDeviceGetPowerUsage(bad[i], &u), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nv.nvmlDeviceGetFieldValues(bad[i], 1, &fv), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nv.nvmlDeviceIsMigDeviceHandle(bad[i], &u), NVML_ERROR_INVALID_ARGUMENT);
    }
    /* A handle past the scenario's GPUs but inside the library's table. */
    nvmlDevice_t beyond = {(struct nvmlDevice_st *)(void *)((char *)good.handle + 40 * 9 * 8)};
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(beyond, &u), NVML_ERROR_INVALID_ARGUMENT);
    /* NULL output pointers. */
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(good, NULL), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo_v2(good, NULL), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetName(good, NULL, 96), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetRemappedRows(good, &u, &u, NULL, &u), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetFieldValues(good, -1, &fv), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetFieldValues(good, 1, NULL), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v3(good, NULL, NULL), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

static void test_dgx_readings(void **state)
{
    (void)state;
    unsigned int u = 0, period = 0;
    unsigned long long ull = 0;
    use_path(g_dgx_path);
    start_at(12);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g4 = handle(4), g5 = handle(5), g7 = handle(7);

    nvmlMemory_v2_t m2 = {.version = 2};
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo_v2(g0, &m2), NVML_ERROR_FUNCTION_NOT_FOUND);
    m2.version = NVML_MEMORY_V2_VERSION;
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo_v2(g0, &m2), NVML_SUCCESS);
    assert_int_equal(m2.total, 81559 * MIB);
    assert_int_equal(m2.reserved, 541 * MIB);
    assert_int_equal(m2.used, 71234 * MIB);
    assert_int_equal(m2.free, m2.total - m2.reserved - m2.used);
    nvmlMemory_t m1;
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo(g0, &m1), NVML_SUCCESS);
    assert_int_equal(m1.used, (71234 + 541) * MIB);
    assert_int_equal(m1.free, m1.total - m1.used);

    nvmlUtilization_t ut;
    assert_int_equal(nv.nvmlDeviceGetUtilizationRates(g0, &ut), NVML_SUCCESS);
    assert_int_equal(ut.gpu, 96);
    assert_int_equal(ut.memory, 41);
    assert_int_equal(nv.nvmlDeviceGetTemperature(g0, NVML_TEMPERATURE_GPU, &u), NVML_SUCCESS);
    assert_int_equal(u, 61);
    assert_int_equal(nv.nvmlDeviceGetTemperature(g0, (nvmlTemperatureSensors_t)1, &u), NVML_ERROR_INVALID_ARGUMENT);
    /* Linear between (0, 612000) and (20, 655000): 2150 mW per second. */
    u = power(g0);
    assert_in_range(u, 612000 + 2150 * 11, 612000 + 2150 * 14);
    assert_int_equal(nv.nvmlDeviceGetTotalEnergyConsumption(g0, &ull), NVML_SUCCESS);
    assert_in_range(ull, 913402117844ULL + 612000ULL * 11, 913402117844ULL + 660000ULL * 14);
    assert_int_equal(nv.nvmlDeviceGetEnforcedPowerLimit(g0, &u), NVML_SUCCESS);
    assert_int_equal(u, 700000);
    assert_int_equal(nv.nvmlDeviceGetPowerManagementLimit(g0, &u), NVML_SUCCESS);
    assert_int_equal(u, 700000);
    assert_int_equal(nv.nvmlDeviceGetClockInfo(g0, NVML_CLOCK_SM, &u), NVML_SUCCESS);
    assert_int_equal(u, 1980);
    assert_int_equal(nv.nvmlDeviceGetClockInfo(g0, NVML_CLOCK_MEM, &u), NVML_SUCCESS);
    assert_int_equal(u, 2619);
    assert_int_equal(nv.nvmlDeviceGetClockInfo(g0, (nvmlClockType_t)7, &u), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetMaxClockInfo(g0, NVML_CLOCK_VIDEO, &u), NVML_SUCCESS);
    assert_int_equal(u, 1545);
    assert_int_equal(nv.nvmlDeviceGetCurrentClocksEventReasons(g4, &ull), NVML_SUCCESS);
    assert_int_equal(ull, 0x4);
    assert_int_equal(nv.nvmlDeviceGetCurrentClocksThrottleReasons(g4, &ull), NVML_SUCCESS);
    assert_int_equal(ull, 0x4);
    assert_int_equal(nv.nvmlDeviceGetCurrentClocksEventReasons(g7, &ull), NVML_SUCCESS);
    assert_int_equal(ull, 0); /* GPU 7 left idle at t=10 */
    assert_int_equal(nv.nvmlDeviceGetClockInfo(g7, NVML_CLOCK_GRAPHICS, &u), NVML_SUCCESS);
    assert_int_equal(u, 1980);
    assert_int_equal(nv.nvmlDeviceGetPcieThroughput(g0, NVML_PCIE_UTIL_TX_BYTES, &u), NVML_SUCCESS);
    assert_int_equal(u, 13021);
    assert_int_equal(nv.nvmlDeviceGetPcieThroughput(g0, NVML_PCIE_UTIL_RX_BYTES, &u), NVML_SUCCESS);
    assert_int_equal(u, 51230);
    assert_int_equal(nv.nvmlDeviceGetTotalEccErrors(g5, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_AGGREGATE_ECC, &ull),
                     NVML_SUCCESS);
    assert_int_equal(ull, 17);
    assert_int_equal(nv.nvmlDeviceGetTotalEccErrors(g5, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC, &ull),
                     NVML_SUCCESS);
    assert_int_equal(ull, 0);
    unsigned int corr = 9, unc = 9, pend = 9, fail = 9;
    assert_int_equal(nv.nvmlDeviceGetRemappedRows(g5, &corr, &unc, &pend, &fail), NVML_SUCCESS);
    assert_int_equal(corr, 1);
    assert_int_equal(unc + pend + fail, 0);
    unsigned int pages = 0;
    assert_int_equal(nv.nvmlDeviceGetRetiredPages(g0, NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR, &pages, NULL),
                     NVML_SUCCESS);
    assert_int_equal(pages, 0);
    nvmlEnableState_t es = NVML_FEATURE_ENABLED;
    assert_int_equal(nv.nvmlDeviceGetRetiredPagesPendingStatus(g0, &es), NVML_SUCCESS);
    assert_int_equal(es, NVML_FEATURE_DISABLED);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g0, &u), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlDeviceGetEncoderUtilization(g0, &u, &period), NVML_SUCCESS);
    assert_int_equal(u, 0);
    assert_true(period > 0);
    assert_int_equal(nv.nvmlDeviceGetDecoderUtilization(g0, &u, &period), NVML_SUCCESS);
    nvmlPstates_t ps = NVML_PSTATE_UNKNOWN;
    assert_int_equal(nv.nvmlDeviceGetPerformanceState(g0, &ps), NVML_SUCCESS);
    assert_int_equal(ps, NVML_PSTATE_0);
    unsigned long long mask = 0;
    assert_int_equal(nv.nvmlDeviceGetSupportedEventTypes(g0, &mask), NVML_SUCCESS);
    assert_true(mask & NVML_EVENT_TYPE_XID);
    assert_int_equal(nv.nvmlDeviceGetMigMode(g0, &u, &u), NVML_ERROR_NOT_SUPPORTED);

    /* Processes: a count of 0 asks for the size. */
    nvmlProcessInfo_t procs[8];
    unsigned int count = 0;
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v3(g0, &count, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(count, 1);
    count = 8;
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v3(g0, &count, procs), NVML_SUCCESS);
    assert_int_equal(count, 1);
    assert_int_equal(procs[0].pid, 41200);
    assert_int_equal(procs[0].usedGpuMemory, 70722 * MIB);
    assert_int_equal(procs[0].gpuInstanceId, NVML_NO_INSTANCE_ID);
    assert_int_equal(procs[0].computeInstanceId, NVML_NO_INSTANCE_ID);
    count = 8;
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v2(g4, &count, procs), NVML_SUCCESS);
    assert_int_equal(count, 2); /* the helper runs from t=5 to t=45 */
    assert_int_equal(procs[0].pid, 52004);
    assert_int_equal(procs[1].pid, 52104);
    count = 1;
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v3(g4, &count, procs), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(count, 2);
    count = 8;
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v3(g4, &count, NULL), NVML_ERROR_INVALID_ARGUMENT);
    count = 0;
    assert_int_equal(nv.nvmlDeviceGetGraphicsRunningProcesses_v3(g0, &count, NULL), NVML_SUCCESS);
    assert_int_equal(count, 0);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

static void test_field_values(void **state)
{
    (void)state;
    use_path(g_dgx_path);
    start_at(12);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0);
    const unsigned int ids[] = {82, 83, 94, 74, 75, 76, 77, 78, 79, 38, 45, 52, 59, 91, 186};
    enum { NIDS = sizeof(ids) / sizeof(ids[0]), NLINKS = 18 };
    nvmlFieldValue_t fv[NIDS + 4 + NLINKS + 3];
    memset(fv, 0, sizeof(fv));
    size_t n = 0;
    for (size_t i = 0; i < NIDS; i++)
        fv[n++].fieldId = ids[i];
    for (unsigned int id = 138; id <= 141; id++) {
        fv[n].fieldId = id;
        fv[n++].scopeId = UINT_MAX;
    }
    for (unsigned int link = 0; link < NLINKS; link++) {
        fv[n].fieldId = NVML_FI_NVLINK_THROUGHPUT_DATA_TX;
        fv[n++].scopeId = link;
    }
    fv[n].fieldId = NVML_FI_NVLINK_THROUGHPUT_DATA_TX;
    fv[n++].scopeId = NLINKS; /* no such link */
    fv[n++].fieldId = 9999;   /* no such field */
    fv[n++].fieldId = 1;      /* a real field the fake does not serve */
    assert_int_equal(nv.nvmlDeviceGetFieldValues(g0, (int)n, fv), NVML_SUCCESS);
    double t = now_epoch() * 1e6;
    for (size_t i = 0; i < NIDS + 4 + NLINKS; i++) {
        assert_int_equal(fv[i].nvmlReturn, NVML_SUCCESS);
        assert_true(fabs((double)fv[i].timestamp - t) < 5e6);
    }
    assert_int_equal(fv[0].valueType, NVML_VALUE_TYPE_UNSIGNED_INT);
    assert_int_equal(fv[0].value.uiVal, 67); /* memory temperature */
    assert_int_equal(fv[1].valueType, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG);
    assert_in_range(fv[1].value.ullVal, 913402117844ULL, 913402117844ULL + 660000ULL * 14);
    assert_int_equal(fv[2].value.uiVal, 0);
    assert_int_equal(fv[13].value.uiVal, NLINKS); /* link count */
    assert_in_range(fv[14].value.uiVal, 612000, 660000);
    unsigned long long total = fv[NIDS].value.ullVal, sum = 0;
    assert_in_range(total, 4100000000000ULL + 8100000ULL * 11, 4100000000000ULL + 8100000ULL * 14);
    for (size_t i = 0; i < NLINKS; i++)
        sum += fv[NIDS + 4 + i].value.ullVal;
    assert_int_equal(sum, total); /* the links add up to the total within one call */
    assert_int_equal(fv[n - 3].nvmlReturn, NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(fv[n - 2].nvmlReturn, NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(fv[n - 1].nvmlReturn, NVML_ERROR_NOT_SUPPORTED);

    nvmlFieldValue_t none = {.fieldId = 9999};
    assert_int_equal(nv.nvmlDeviceGetFieldValues(g0, 1, &none), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlDeviceGetFieldValues(g0, 0, NULL), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* ---- value semantics ---- */

static const char timeline_json[] =
    "{\"values\": {\"power_mw\": 100000, \"fan_percent\": 30, \"power_limit_mw\": 450000},\n"
    " \"gpus\": [\n" GPU_JSON(0, ", \"values\": {"
                                 "\"gpu_util\": {\"timeline\": [[0, 10], [10, 50]], \"interp\": \"linear\"},"
                                 "\"mem_util\": {\"timeline\": [[0, 5], [2, 7]], \"period\": 4},"
                                 "\"clock_sm_mhz\": [[0, 1], [100, 2]],"
                                 "\"temperature_c\": [[100, 40]],"
                                 "\"energy_mj\": {\"rate\": 1000, \"initial\": 500},"
                                 "\"violation_power_ns\": {\"rate\": [[0, 100], [3, 0]]},"
                                 "\"nvlink_data_tx_kib\": {\"rate\": {\"timeline\": [[0, 0], [2, 200]], "
                                 "\"interp\": \"linear\"}},"
                                 "\"memory_used_bytes\": 123456789,"
                                 "\"pstate\": 20,"
                                 "\"clocks_event_reasons\": \"0x24\"}") ",\n" GPU_JSON(
        1, ", \"values\": {\"fan_percent\": null, \"power_management_limit_mw\": 400000,"
           "\"decoder_util\": [[0, null], [1000, 50]]}") "]}\n";

static void test_timelines(void **state)
{
    (void)state;
    char path[PATH_MAX];
    unsigned int u = 0;
    unsigned long long ull = 0;
    use_path(temp_scenario(path, sizeof(path), "timeline.json", timeline_json));
    start_at(5);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g1 = handle(1);
    nvmlUtilization_t ut;
    assert_int_equal(nv.nvmlDeviceGetUtilizationRates(g0, &ut), NVML_SUCCESS);
    assert_in_range(ut.gpu, 30, 33); /* linear: 10 + 4/s */
    assert_int_equal(ut.memory, 5);  /* period 4: t=5 reads t=1 */
    assert_int_equal(nv.nvmlDeviceGetClockInfo(g0, NVML_CLOCK_SM, &u), NVML_SUCCESS);
    assert_int_equal(u, 1);
    assert_int_equal(nv.nvmlDeviceGetTemperature(g0, NVML_TEMPERATURE_GPU, &u), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlDeviceGetTotalEnergyConsumption(g0, &ull), NVML_SUCCESS);
    assert_in_range(ull, 5500, 6000);
    nvmlFieldValue_t fv[2] = {{.fieldId = NVML_FI_PERF_POLICY_POWER},
                              {.fieldId = NVML_FI_NVLINK_THROUGHPUT_DATA_TX, .scopeId = UINT_MAX}};
    assert_int_equal(nv.nvmlDeviceGetFieldValues(g0, 2, fv), NVML_SUCCESS);
    assert_int_equal(fv[0].value.ullVal, 300);                /* 100/s for 3 s, then 0 */
    assert_in_range(fv[1].value.ullVal, 800, 900); /* ramp to 200/s over 2 s, then 200/s */
    nvmlMemory_v2_t m2 = {.version = NVML_MEMORY_V2_VERSION};
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo_v2(g0, &m2), NVML_SUCCESS);
    assert_int_equal(m2.used, 123456789);
    assert_int_equal(m2.reserved, 0);
    nvmlPstates_t ps;
    assert_int_equal(nv.nvmlDeviceGetPerformanceState(g0, &ps), NVML_SUCCESS);
    assert_int_equal(ps, NVML_PSTATE_UNKNOWN);
    assert_int_equal(nv.nvmlDeviceGetCurrentClocksEventReasons(g0, &ull), NVML_SUCCESS);
    assert_int_equal(ull, 0x24);
    /* Defaults, and null overriding a default. */
    assert_int_equal(power(g0), 100000);
    assert_int_equal(power(g1), 100000);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g0, &u), NVML_SUCCESS);
    assert_int_equal(u, 30);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g1, &u), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlDeviceGetPowerManagementLimit(g0, &u), NVML_SUCCESS);
    assert_int_equal(u, 450000); /* falls back to power_limit_mw */
    assert_int_equal(nv.nvmlDeviceGetPowerManagementLimit(g1, &u), NVML_SUCCESS);
    assert_int_equal(u, 400000);
    unsigned int period;
    assert_int_equal(nv.nvmlDeviceGetDecoderUtilization(g1, &u, &period), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo_v2(g1, &m2), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* ---- GPM ---- */

static const char gpm_json[] =
    "{\"gpm_metric_max\": 98, \"gpus\": [" GPU_JSON(0, ", \"values\": {\"gpm_sm_util\": {\"timeline\": [[0, 20], [10, 80]]}, "
                                                     "\"gpm_pcie_rx_mibps\": 2500, \"gpm_nvlink_total_rx_mibps\": 7, "
                                                     "\"gpm_nvlink_total_tx_mibps\": 9}") ", " GPU_JSON(1, "") "]}";

/* GPM: support per device, samples, and MetricsGet averaging each timeline over the two samples' window. */
static void test_gpm(void **state)
{
    (void)state;
    char path[PATH_MAX];
    use_path(temp_scenario(path, sizeof(path), "gpm.json", gpm_json));
    start_at(9.5);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g1 = handle(1);
    nvmlGpmSupport_t sup = {.version = 2};
    assert_int_equal(nv.nvmlGpmQueryDeviceSupport(g0, &sup), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    sup.version = NVML_GPM_SUPPORT_VERSION;
    assert_int_equal(nv.nvmlGpmQueryDeviceSupport(g0, &sup), NVML_SUCCESS);
    assert_int_equal(sup.isSupportedDevice, 1);
    assert_int_equal(nv.nvmlGpmQueryDeviceSupport(g1, &sup), NVML_SUCCESS);
    assert_int_equal(sup.isSupportedDevice, 0);
    nvmlGpmSample_t a, b, c;
    assert_int_equal(nv.nvmlGpmSampleAlloc(&a), NVML_SUCCESS);
    assert_int_equal(nv.nvmlGpmSampleAlloc(&b), NVML_SUCCESS);
    assert_int_equal(nv.nvmlGpmSampleAlloc(&c), NVML_SUCCESS);
    assert_int_equal(nv.nvmlGpmSampleGet(g1, c), NVML_ERROR_NOT_SUPPORTED);
    char logpath[PATH_MAX];
    snprintf(logpath, sizeof(logpath), "%s/gpm.log", g_tmpdir);
    unlink(logpath);
    setenv("FAKE_NVML_GPM_LOG", logpath, 1);
    assert_int_equal(nv.nvmlGpmSampleGet(g0, a), NVML_SUCCESS);
    sleep_ms(1000); /* a window across the step at t = 10 */
    assert_int_equal(nv.nvmlGpmSampleGet(g0, b), NVML_SUCCESS);
    unsetenv("FAKE_NVML_GPM_LOG");
    /* The log has the scenario times of both samples (and the refused one on GPU 1, which came before). */
    double ts[3] = {0};
    unsigned int lg, ls;
    int lr, n = 0;
    FILE *lf = fopen(logpath, "r");
    assert_non_null(lf);
    while (n < 3 && fscanf(lf, "%u %u %lf %d", &lg, &ls, &ts[n], &lr) == 4)
        if (lg == 0 && lr == 0)
            n++;
    fclose(lf);
    assert_int_equal(n, 2);
    double t1 = ts[0], t2 = ts[1];
    double want = (20 * (fmin(t2, 10) - fmin(t1, 10)) + 80 * (fmax(t2, 10) - fmax(t1, 10))) / (t2 - t1);
    /* The caller's array may be the oldest one (98 entries): the fake touches metrics[0 .. numMetrics) only. */
    size_t old_size = offsetof(nvmlGpmMetricsGet_t, metrics) + 98 * sizeof(nvmlGpmMetric_t);
    nvmlGpmMetricsGet_t *mg = calloc(1, sizeof *mg);
    assert_non_null(mg);
    memset((char *)mg + old_size, 0xAB, sizeof *mg - old_size);
    mg->version = NVML_GPM_METRICS_GET_VERSION;
    mg->sample1 = a;
    mg->sample2 = b;
    unsigned int ids[] = {2, 21, 60, 61, 1, 98};
    mg->numMetrics = 6;
    for (unsigned int i = 0; i < 6; i++)
        mg->metrics[i].metricId = ids[i];
    assert_int_equal(nv.nvmlGpmMetricsGet(mg), NVML_SUCCESS);
    assert_int_equal(mg->metrics[0].nvmlReturn, NVML_SUCCESS);
    /* The step timeline's mean over [t1, t2] (the log keeps microseconds). */
    assert_true(fabs(mg->metrics[0].value - want) < 0.01);
    assert_int_equal(mg->metrics[1].nvmlReturn, NVML_SUCCESS);
    assert_true(mg->metrics[1].value == 2500);
    assert_true(mg->metrics[2].value == 7 && mg->metrics[3].value == 9); /* 60 is RX, 61 TX */
    assert_int_equal(mg->metrics[4].nvmlReturn, NVML_ERROR_NOT_SUPPORTED); /* not in the scenario */
    assert_int_equal(mg->metrics[5].nvmlReturn, NVML_ERROR_INVALID_ARGUMENT); /* beyond this driver's max */
    for (size_t i = old_size; i < sizeof *mg; i++)
        assert_int_equal(((unsigned char *)mg)[i], 0xAB);
    mg->numMetrics = 99; /* more than the driver's array */
    assert_int_equal(nv.nvmlGpmMetricsGet(mg), NVML_ERROR_INVALID_ARGUMENT);
    mg->numMetrics = 1;
    mg->sample1 = b; /* newer first */
    mg->sample2 = a;
    assert_int_equal(nv.nvmlGpmMetricsGet(mg), NVML_ERROR_INVALID_ARGUMENT);
    mg->version = 2;
    assert_int_equal(nv.nvmlGpmMetricsGet(mg), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    free(mg);
    assert_int_equal(nv.nvmlGpmSampleFree(a), NVML_SUCCESS);
    assert_int_equal(nv.nvmlGpmSampleFree(a), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlGpmSampleFree(b), NVML_SUCCESS);
    assert_int_equal(nv.nvmlGpmSampleFree(c), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* A 3 s burst every 30 s seen through NVML's 1 s sampler ("average": 1), and per-process samples. */
static const char burst_json[] =
    "{\"gpus\": [" GPU_JSON(0, ", \"values\": {\"gpu_util\": {\"timeline\": [[0, 100], [3, 0]], \"period\": 30, "
    "\"average\": 1}, \"mem_util\": 0}, \"processes\": [{\"pid\": 11, \"sm_util\": 60}, {\"pid\": 12, \"sm_util\": "
    "[[0, 20], [20, null]]}, {\"pid\": 13}]") ", " GPU_JSON(1, "") "]}";

static void test_window_average_and_process_utilization(void **state)
{
    (void)state;
    char path[PATH_MAX];
    use_path(temp_scenario(path, sizeof(path), "burst.json", burst_json));
    start_at(32.5); /* window [31.5, 32.5]: inside the burst */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g1 = handle(1);
    nvmlUtilization_t ut;
    assert_int_equal(nv.nvmlDeviceGetUtilizationRates(g0, &ut), NVML_SUCCESS);
    assert_int_equal(ut.gpu, 100);
    nvmlProcessUtilizationSample_t smp[4];
    unsigned int n = 0;
    /* NULL buffer: the count; then the samples of the processes that have one now (pid 12's value
     * went null at t = 20, pid 13 never had one) */
    assert_int_equal(nv.nvmlDeviceGetProcessUtilization(g0, NULL, &n, 0), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(nv.nvmlDeviceGetProcessUtilization(g0, smp, &n, 0), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 1);
    n = 4;
    assert_int_equal(nv.nvmlDeviceGetProcessUtilization(g0, smp, &n, 0), NVML_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(smp[0].pid, 11);
    assert_int_equal(smp[0].smUtil, 60);
    assert_true(smp[0].timeStamp > 0);
    /* nothing newer than the last sample seen: NOT_FOUND, as the driver answers */
    n = 4;
    assert_int_equal(nv.nvmlDeviceGetProcessUtilization(g0, smp, &n, smp[0].timeStamp + 60000000ull),
                     NVML_ERROR_NOT_FOUND);
    n = 4;
    assert_int_equal(nv.nvmlDeviceGetProcessUtilization(g1, smp, &n, 0), NVML_ERROR_NOT_FOUND);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    start_at(34.5); /* window [33.5, 34.5]: after the burst */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    g0 = handle(0);
    assert_int_equal(nv.nvmlDeviceGetUtilizationRates(g0, &ut), NVML_SUCCESS);
    assert_int_equal(ut.gpu, 0);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    start_at(33.25); /* window [32.25, 33.25]: three quarters in the burst */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    g0 = handle(0);
    assert_int_equal(nv.nvmlDeviceGetUtilizationRates(g0, &ut), NVML_SUCCESS);
    assert_in_range(ut.gpu, 70, 76); /* the call lands a little after t */
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* ---- faults ---- */

static const char faults_json[] =
    "{\"values\": {\"power_mw\": 100000, \"fan_percent\": 30, \"temperature_c\": 40, \"clock_sm_mhz\": 1000,"
    " \"max_clock_sm_mhz\": 2000, \"memory_temperature_c\": 50, \"energy_mj\": 7},\n"
    " \"gpus\": [" GPU_JSON(0, "") ", " GPU_JSON(1, "") "],\n"
    " \"faults\": [\n"
    "  {\"call\": \"nvmlDeviceGetPowerUsage\", \"gpu\": 1, \"return\": \"NOT_SUPPORTED\"},\n"
    "  {\"call\": \"nvmlDeviceGetPower*\", \"gpu\": 1, \"return\": \"UNKNOWN\"},\n"
    "  {\"call\": \"nvmlDeviceGetTemperature\", \"gpu\": 0, \"return\": \"NVML_ERROR_NO_PERMISSION\", "
    "\"from\": 4, \"until\": 60},\n"
    "  {\"call\": \"nvmlDeviceGetTemperature\", \"gpu\": 1, \"return\": \"UNKNOWN\", \"from\": 100},\n"
    "  {\"call\": \"nvmlDeviceGetFanSpeed\", \"return\": \"UNKNOWN\", \"once\": true},\n"
    "  {\"call\": \"nvmlDeviceGetIndex\", \"gpu\": 0, \"return\": 15, \"times\": 2},\n"
    "  {\"call\": \"nvmlDeviceGetClock*\", \"gpu\": 1, \"return\": \"IN_USE\"},\n"
    "  {\"call\": \"nvmlDeviceGetFieldValues\", \"gpu\": 0, \"field_id\": 82, \"return\": \"NO_PERMISSION\"},\n"
    "  {\"call\": \"nvmlDeviceGetPowerUsage\", \"gpu\": 0, \"hang_ms\": 3000, \"once\": true},\n"
    "  {\"call\": \"nvmlSystemGetDriverVersion\", \"hang_ms\": 300, \"return\": \"TIMEOUT\", \"once\": true}\n"
    " ]}\n";

struct hang_arg {
    nvmlDevice_t dev;
    double seconds;
    nvmlReturn_t r;
    unsigned int mw;
    atomic_long tid;
};

static void *hang_thread(void *p)
{
    struct hang_arg *a = p;
    atomic_store(&a->tid, (long)syscall(SYS_gettid));
    double t0 = now_mono();
    a->r = nv.nvmlDeviceGetPowerUsage(a->dev, &a->mw);
    a->seconds = now_mono() - t0;
    return NULL;
}

/* Whether thread `tid` of this process is blocked in a sleep (the fake's injected hang), as the kernel says. */
static bool thread_sleeping(long tid)
{
    char path[64], line[64] = "";
    snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    char *end = NULL;
    long nr = got ? strtol(line, &end, 10) : -1;
    return end != line && (nr == SYS_clock_nanosleep || nr == SYS_nanosleep);
}

static void test_faults(void **state)
{
    (void)state;
    char path[PATH_MAX], buf[96];
    unsigned int u = 0;
    use_path(temp_scenario(path, sizeof(path), "faults.json", faults_json));
    start_at(5);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g1 = handle(1);

    assert_int_equal(nv.nvmlDeviceGetPowerUsage(g1, &u), NVML_ERROR_NOT_SUPPORTED); /* the first rule wins */
    assert_int_equal(nv.nvmlDeviceGetPowerManagementLimit(g1, &u), NVML_ERROR_UNKNOWN);
    assert_int_equal(nv.nvmlDeviceGetTemperature(g0, NVML_TEMPERATURE_GPU, &u), NVML_ERROR_NO_PERMISSION);
    assert_int_equal(nv.nvmlDeviceGetTemperature(g1, NVML_TEMPERATURE_GPU, &u), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g1, &u), NVML_ERROR_UNKNOWN);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g1, &u), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g0, &u), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetIndex(g0, &u), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetIndex(g1, &u), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetIndex(g0, &u), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetIndex(g0, &u), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetClockInfo(g1, NVML_CLOCK_SM, &u), NVML_ERROR_IN_USE);
    assert_int_equal(nv.nvmlDeviceGetClockInfo(g0, NVML_CLOCK_SM, &u), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetMaxClockInfo(g1, NVML_CLOCK_SM, &u), NVML_SUCCESS);
    nvmlFieldValue_t fv[2] = {{.fieldId = NVML_FI_MEMORY_TEMP}, {.fieldId = NVML_FI_TOTAL_ENERGY_CONSUMPTION}};
    assert_int_equal(nv.nvmlDeviceGetFieldValues(g0, 2, fv), NVML_SUCCESS);
    assert_int_equal(fv[0].nvmlReturn, NVML_ERROR_NO_PERMISSION);
    assert_int_equal(fv[1].nvmlReturn, NVML_SUCCESS);
    assert_int_equal(fv[1].value.ullVal, 7);
    assert_int_equal(nv.nvmlDeviceGetFieldValues(g1, 2, fv), NVML_SUCCESS);
    assert_int_equal(fv[0].nvmlReturn, NVML_SUCCESS);

    /* A hang blocks its caller only: other threads keep getting answers. The kernel says when the hanging
     * thread is asleep in the hang, and that it still is after this thread's calls have returned; no
     * assumption on how fast a loaded machine runs either thread. */
    struct hang_arg a = {.dev = g0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hang_thread, &a), 0);
    bool asleep = false;
    for (int i = 0; i < 12000 && !asleep; i++) { /* 60 s bound for a broken library */
        long tid = atomic_load(&a.tid);
        asleep = tid != 0 && thread_sleeping(tid);
        if (!asleep)
            sleep_ms(5);
    }
    assert_true(asleep);
    unsigned int n = 0;
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g0, &u), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(g0, &u), NVML_SUCCESS); /* "once": this one is not hung */
    if (!thread_sleeping(atomic_load(&a.tid)))
        fail_msg("the 3 s hang ended before the other calls returned: inconclusive on this machine");
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.r, NVML_SUCCESS);
    assert_int_equal(a.mw, 100000);
    assert_true(a.seconds >= 2.99);

    /* A hang and a return in one rule: the caller waits, then gets the error. */
    double t0 = now_mono();
    assert_int_equal(nv.nvmlSystemGetDriverVersion(buf, sizeof(buf)), NVML_ERROR_TIMEOUT);
    assert_true(now_mono() - t0 >= 0.29);
    assert_int_equal(nv.nvmlSystemGetDriverVersion(buf, sizeof(buf)), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);

    /* "once" survives a shutdown and a new init of the same file. */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g1, &u), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

static void test_fault_lifecycle(void **state)
{
    (void)state;
    char path[PATH_MAX];
    unsigned int n;
    /* "*" hits every call but spares init and shutdown. */
    use_path(temp_scenario(path, sizeof(path), "star.json",
                           "{\"gpus\": [" GPU_JSON(0, "") "],"
                           " \"faults\": [{\"call\": \"*\", \"return\": \"UNKNOWN\"}]}"));
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNKNOWN);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    /* An init that fails once, as a driver still loading would. */
    use_path(temp_scenario(path, sizeof(path), "initfail.json",
                           "{\"gpus\": [], \"faults\": [{\"call\": \"nvmlInit_v2\", \"return\": "
                           "\"DRIVER_NOT_LOADED\", \"once\": true}]}"));
    assert_int_equal(nv.nvmlInit_v2(), NVML_ERROR_DRIVER_NOT_LOADED);
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

/* ---- lost GPU and events ---- */

static void test_gpu_lost(void **state)
{
    (void)state;
    char uuid1[96], buf[96];
    unsigned int u = 0, n = 0;
    use_scenario("gpu_lost.json");
    start_at(0);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g1 = handle(1);
    assert_int_equal(power(g1), 480000);
    assert_int_equal(nv.nvmlDeviceGetUUID(g1, uuid1, sizeof(uuid1)), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);

    start_at(5);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t d;
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(nv.nvmlDeviceGetHandleByIndex_v2(1, &d), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetHandleByUUID(uuid1, &d), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(g1, &u), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetName(g1, buf, sizeof(buf)), NVML_ERROR_GPU_IS_LOST);
    nvmlFieldValue_t fv = {.fieldId = NVML_FI_MEMORY_TEMP};
    assert_int_equal(nv.nvmlDeviceGetFieldValues(g1, 1, &fv), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(power(g0), 480000);
    /* The XID 79 at t=3 happened before this registration: it is not reported. */
    nvmlEventSet_t set;
    nvmlEventData_t ev;
    assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(g0, NVML_EVENT_TYPE_XID, set), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(g1, NVML_EVENT_TYPE_XID, set), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlEventSetWait_v2(set, &ev, 50), NVML_ERROR_TIMEOUT);
    assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);

    /* Registered before t=3 (1.5 s of margin for a loaded machine): the XID 79 arrives when the GPU falls
     * off, not before; how late is up to the scheduler. */
    start_at(1.5);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(g1, NVML_EVENT_TYPE_XID, set), NVML_SUCCESS);
    double t0 = now_mono();
    assert_int_equal(nv.nvmlEventSetWait_v2(set, &ev, 5000), NVML_SUCCESS);
    double waited = now_mono() - t0;
    assert_true(waited > 0.2);
    assert_ptr_equal(ev.device.handle, g1.handle);
    assert_int_equal(ev.eventType, NVML_EVENT_TYPE_XID);
    assert_int_equal(ev.eventData, 79);
    assert_int_equal(ev.gpuInstanceId, NVML_NO_INSTANCE_ID);
    assert_int_equal(nv.nvmlEventSetWait_v2(set, &ev, 100), NVML_ERROR_TIMEOUT);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(g1, &u), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* A GPU lost twice that comes back each time, the second time as another board. Like the real driver, a
 * handle issued before a return stays lost: the GPU must be opened again (by index or UUID). */
static void test_gpu_return(void **state)
{
    (void)state;
    char path[PATH_MAX], uuid[96];
    static const char text[] = "{\"gpus\": [" GPU_JSON(0, "") ", " GPU_JSON(1, ", \"lost\": [[1, 2], [3, 4]], "
                               "\"returns_as\": \"GPU-99999999-0000-4000-8000-000000000001\", "
                               "\"values\": {\"power_mw\": 5}") "]}";
    const char *old = "GPU-00000000-0000-0000-0000-000000000001", *new = "GPU-99999999-0000-4000-8000-000000000001";
    unsigned int u = 0;
    nvmlDevice_t d, d2;
    use_path(temp_scenario(path, sizeof(path), "return.json", text));
    start_at(0.5);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t gen0 = handle(1);
    assert_int_equal(power(gen0), 5);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);

    start_at(1.5); /* lost: every way to it */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(gen0, &u), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetHandleByIndex_v2(1, &d), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetHandleByUUID(old, &d), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);

    start_at(2.5); /* back: the old handle stays lost, a new one works, the same board */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(gen0, &u), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetUUID(gen0, uuid, sizeof(uuid)), NVML_ERROR_GPU_IS_LOST);
    nvmlDevice_t gen1 = handle(1);
    assert_ptr_not_equal(gen1.handle, gen0.handle);
    assert_int_equal(power(gen1), 5);
    assert_int_equal(nv.nvmlDeviceGetUUID(gen1, uuid, sizeof(uuid)), NVML_SUCCESS);
    assert_string_equal(uuid, old);
    assert_int_equal(nv.nvmlDeviceGetHandleByUUID(old, &d), NVML_SUCCESS);
    assert_ptr_equal(d.handle, gen1.handle);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);

    start_at(3.5); /* lost again */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(gen1, &u), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetHandleByIndex_v2(1, &d), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);

    start_at(4.5); /* back as another board: the old UUID is gone */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(gen1, &u), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(nv.nvmlDeviceGetHandleByUUID(old, &d), NVML_ERROR_NOT_FOUND);
    nvmlDevice_t gen2 = handle(1);
    assert_int_equal(nv.nvmlDeviceGetUUID(gen2, uuid, sizeof(uuid)), NVML_SUCCESS);
    assert_string_equal(uuid, new);
    assert_int_equal(nv.nvmlDeviceGetHandleByUUID(new, &d2), NVML_SUCCESS);
    assert_ptr_equal(d2.handle, gen2.handle);
    assert_int_equal(power(gen2), 5);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

static const char events_json[] = "{\"gpus\": [" GPU_JSON(0, "") ", " GPU_JSON(1, "") "],\n"
                                  " \"xid_events\": [{\"gpu\": 1, \"at\": 0.6, \"xid\": 48},\n"
                                  "  {\"gpu\": 1, \"at\": 0.3, \"xid\": 31},\n"
                                  "  {\"gpu\": 0, \"at\": 0.3, \"xid\": 13},\n"
                                  "  {\"gpu\": 1, \"at\": 0.3, \"xid\": 94, \"gpu_instance_id\": 3}]}\n";

static void test_events(void **state)
{
    (void)state;
    char path[PATH_MAX];
    nvmlEventData_t ev;
    nvmlEventSet_t a, b, bogus = {(struct nvmlEventSet_st *)(uintptr_t)0x40};
    use_path(temp_scenario(path, sizeof(path), "events.json", events_json));
    start_at(-0.7); /* the registrations below come well before the first event at t=0.3 */
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g1 = handle(1);
    assert_int_equal(nv.nvmlEventSetCreate(&a), NVML_SUCCESS);
    assert_int_equal(nv.nvmlEventSetCreate(&b), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(g1, NVML_EVENT_TYPE_XID | NVML_EVENT_TYPE_PSTATE, a), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(g1, 1ULL << 40, a), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(g0, NVML_EVENT_TYPE_PSTATE, b), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(g0, NVML_EVENT_TYPE_XID, bogus), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlEventSetWait_v2(a, NULL, 10), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlEventSetWait_v2(bogus, &ev, 10), NVML_ERROR_INVALID_ARGUMENT);

    /* Set a gets GPU 1's events in time order, equal times in file order, each once. */
    const unsigned long long want[] = {31, 94, 48};
    for (size_t i = 0; i < 3; i++) {
        memset(&ev, 0, sizeof(ev));
        assert_int_equal(nv.nvmlEventSetWait_v2(a, &ev, 3000), NVML_SUCCESS);
        assert_int_equal(ev.eventData, want[i]);
        assert_ptr_equal(ev.device.handle, g1.handle);
        assert_int_equal(ev.gpuInstanceId, i == 1 ? 3 : NVML_NO_INSTANCE_ID);
    }
    double t0 = now_mono();
    assert_int_equal(nv.nvmlEventSetWait_v2(a, &ev, 300), NVML_ERROR_TIMEOUT);
    double waited = now_mono() - t0;
    assert_true(waited >= 0.29); /* not before the timeout; a loaded machine only makes it later */
    /* Set b registered GPU 0 for PState only: its XID 13 is not delivered there. */
    assert_int_equal(nv.nvmlEventSetWait_v2(b, &ev, 0), NVML_ERROR_TIMEOUT);
    /* A wait with nothing due blocks, as the driver's does in the kernel, instead of waking every few ms
     * to poll (which billed a daemon's XID thread 0.1 % of a core at idle): the kernel's count of this
     * thread's voluntary context switches over a 1 s wait stays at a few (20 with 50 ms polling). */
    struct rusage ru0, ru1;
    assert_int_equal(getrusage(RUSAGE_THREAD, &ru0), 0);
    assert_int_equal(nv.nvmlEventSetWait_v2(b, &ev, 1000), NVML_ERROR_TIMEOUT);
    assert_int_equal(getrusage(RUSAGE_THREAD, &ru1), 0);
    assert_true(ru1.ru_nvcsw - ru0.ru_nvcsw <= 5);
    /* Events from before a registration are not reported. */
    nvmlEventSet_t late;
    assert_int_equal(nv.nvmlEventSetCreate(&late), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(g1, NVML_EVENT_TYPE_XID, late), NVML_SUCCESS);
    assert_int_equal(nv.nvmlEventSetWait_v2(late, &ev, 0), NVML_ERROR_TIMEOUT);
    assert_int_equal(nv.nvmlEventSetFree(late), NVML_SUCCESS);
    assert_int_equal(nv.nvmlEventSetFree(a), NVML_SUCCESS);
    assert_int_equal(nv.nvmlEventSetFree(a), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlEventSetWait_v2(a, &ev, 10), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlEventSetFree(b), NVML_SUCCESS);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlEventSetCreate(&a), NVML_ERROR_UNINITIALIZED);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* ---- MIG ---- */

static void test_mig(void **state)
{
    (void)state;
    char buf[96];
    unsigned int cur = 9, pend = 9, u = 0, count = 0;
    use_scenario("mig.json");
    start_at(6);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g1 = handle(1), m0, m1, m, parent;
    assert_int_equal(nv.nvmlDeviceGetMigMode(g0, &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, 1);
    assert_int_equal(pend, 1);
    assert_int_equal(nv.nvmlDeviceGetMaxMigDeviceCount(g0, &count), NVML_SUCCESS);
    assert_int_equal(count, 7);
    assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(g0, 0, &m0), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(g0, 1, &m1), NVML_SUCCESS);
    assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(g0, 2, &m), NVML_ERROR_NOT_FOUND);
    assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(g0, 7, &m), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetName(m0, buf, sizeof(buf)), NVML_SUCCESS);
    assert_string_equal(buf, "NVIDIA H100 80GB HBM3 MIG 3g.40gb");
    assert_int_equal(nv.nvmlDeviceGetName(m1, buf, sizeof(buf)), NVML_SUCCESS);
    assert_string_equal(buf, "NVIDIA H100 80GB HBM3 MIG 1g.10gb");
    assert_int_equal(nv.nvmlDeviceGetUUID(m1, buf, sizeof(buf)), NVML_SUCCESS);
    assert_string_equal(buf, "MIG-3a7e5c1b-9d2f-5e4a-8c6b-0f1e3d5a7b9c");
    assert_int_equal(nv.nvmlDeviceGetHandleByUUID(buf, &m), NVML_SUCCESS);
    assert_ptr_equal(m.handle, m1.handle);
    assert_int_equal(nv.nvmlDeviceIsMigDeviceHandle(m1, &u), NVML_SUCCESS);
    assert_int_equal(u, 1);
    assert_int_equal(nv.nvmlDeviceIsMigDeviceHandle(g0, &u), NVML_SUCCESS);
    assert_int_equal(u, 0);
    assert_int_equal(nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(m1, &parent), NVML_SUCCESS);
    assert_ptr_equal(parent.handle, g0.handle);
    assert_int_equal(nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(g0, &parent), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nv.nvmlDeviceGetGpuInstanceId(m1, &u), NVML_SUCCESS);
    assert_int_equal(u, 9);
    assert_int_equal(nv.nvmlDeviceGetComputeInstanceId(m1, &u), NVML_SUCCESS);
    assert_int_equal(u, 0);
    assert_int_equal(nv.nvmlDeviceGetGpuInstanceId(g0, &u), NVML_ERROR_INVALID_ARGUMENT);
    nvmlMemory_v2_t m2 = {.version = NVML_MEMORY_V2_VERSION};
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo_v2(m0, &m2), NVML_SUCCESS);
    assert_int_equal(m2.total, 40320 * MIB);
    assert_int_equal(m2.used, 20480 * MIB);
    assert_int_equal(m2.reserved, 14 * MIB);
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo_v2(m1, &m2), NVML_SUCCESS);
    assert_int_equal(m2.used, 7168 * MIB); /* the timeline stepped at t=5 */
    nvmlMemory_t m1v;
    assert_int_equal(nv.nvmlDeviceGetMemoryInfo(m1, &m1v), NVML_SUCCESS);
    assert_int_equal(m1v.used, (7168 + 13) * MIB);
    /* What a real MIG GPU refuses. */
    nvmlUtilization_t ut;
    assert_int_equal(nv.nvmlDeviceGetUtilizationRates(g0, &ut), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(m0, &u), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nv.nvmlDeviceRegisterEvents(m0, NVML_EVENT_TYPE_XID, (nvmlEventSet_t){NULL}),
                     NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(power(g0), 215000);
    /* Processes: per instance on MIG handles, all of them on the parent. */
    nvmlProcessInfo_t procs[4];
    count = 4;
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v3(m1, &count, procs), NVML_SUCCESS);
    assert_int_equal(count, 1);
    assert_int_equal(procs[0].pid, 8102);
    assert_int_equal(procs[0].gpuInstanceId, 9);
    assert_int_equal(procs[0].computeInstanceId, 0);
    count = 4;
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v3(g0, &count, procs), NVML_SUCCESS);
    assert_int_equal(count, 2);
    /* GPU 1 can do MIG but has it off. */
    assert_int_equal(nv.nvmlDeviceGetMigMode(g1, &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, 0);
    assert_int_equal(nv.nvmlDeviceGetMaxMigDeviceCount(g1, &count), NVML_SUCCESS);
    assert_int_equal(count, 0);
    assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(g1, 0, &m), NVML_ERROR_NOT_FOUND);
    assert_int_equal(nv.nvmlDeviceGetUtilizationRates(g1, &ut), NVML_SUCCESS);
    assert_int_equal(ut.gpu, 64);
    count = 4;
    assert_int_equal(nv.nvmlDeviceGetComputeRunningProcesses_v3(g1, &count, procs), NVML_SUCCESS);
    assert_int_equal(procs[0].gpuInstanceId, NVML_NO_INSTANCE_ID);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* ---- reloading ---- */

static void scenario_with_power(char *out, size_t cap, unsigned int mw, bool two_gpus)
{
    snprintf(out, cap,
             "{\"values\": {\"power_mw\": %u, \"fan_percent\": 10}, \"gpus\": [%s%s],"
             " \"faults\": [{\"call\": \"nvmlDeviceGetFanSpeed\", \"return\": \"UNKNOWN\", \"once\": true}]}",
             mw, GPU_JSON(0, ""), two_gpus ? ", " GPU_JSON(1, "") : "");
}

static void test_reload(void **state)
{
    (void)state;
    char path[PATH_MAX], text[1024];
    unsigned int u;
    scenario_with_power(text, sizeof(text), 100000, true);
    use_path(temp_scenario(path, sizeof(path), "reload.json", text));
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t g0 = handle(0), g1 = handle(1);
    assert_int_equal(power(g0), 100000);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g0, &u), NVML_ERROR_UNKNOWN);

    scenario_with_power(text, sizeof(text), 200000, true);
    replace_file(path, text);
    sleep_ms(250);
    assert_int_equal(power(g0), 200000);
    assert_int_equal(nv.nvmlDeviceGetFanSpeed(g0, &u), NVML_SUCCESS); /* the unchanged "once" rule stays spent */

    replace_file(path, "{\"gpus\": [ this is not json");
    sleep_ms(250);
    assert_int_equal(power(g0), 200000); /* the previous scenario stays */
    assert_int_equal(power(g1), 200000);

    /* Rewritten in place (no rename), with a different size. */
    scenario_with_power(text, sizeof(text), 3000, true);
    write_file(path, text);
    sleep_ms(250);
    assert_int_equal(power(g1), 3000);

    /* A reload that removes GPU 1 invalidates its handle. */
    scenario_with_power(text, sizeof(text), 4000, false);
    replace_file(path, text);
    sleep_ms(250);
    unsigned int n = 0;
    assert_int_equal(nv.nvmlDeviceGetCount_v2(&n), NVML_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(nv.nvmlDeviceGetPowerUsage(g1, &u), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(power(g0), 4000);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

/* Several threads call while the main thread rewrites the scenario: sanitizers watch for races on memory. */
struct stress_arg {
    nvmlDevice_t dev;
    atomic_int *stop;
    unsigned long calls;
};

static void *stress_thread(void *p)
{
    struct stress_arg *a = p;
    while (!*a->stop) {
        unsigned int u;
        unsigned long long ull;
        char buf[96];
        nvmlMemory_v2_t m2 = {.version = NVML_MEMORY_V2_VERSION};
        nvmlFieldValue_t fv[3] = {{.fieldId = 82}, {.fieldId = 83}, {.fieldId = 138, .scopeId = UINT_MAX}};
        nvmlProcessInfo_t procs[4];
        unsigned int count = 4;
        (void)nv.nvmlDeviceGetPowerUsage(a->dev, &u);
        (void)nv.nvmlDeviceGetTotalEnergyConsumption(a->dev, &ull);
        (void)nv.nvmlDeviceGetName(a->dev, buf, sizeof(buf));
        (void)nv.nvmlDeviceGetMemoryInfo_v2(a->dev, &m2);
        (void)nv.nvmlDeviceGetFieldValues(a->dev, 3, fv);
        (void)nv.nvmlDeviceGetComputeRunningProcesses_v3(a->dev, &count, procs);
        a->calls++;
    }
    return NULL;
}

static void test_stress_reload(void **state)
{
    (void)state;
    char path[PATH_MAX], text[1024];
    scenario_with_power(text, sizeof(text), 1000, true);
    use_path(temp_scenario(path, sizeof(path), "stress.json", text));
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    atomic_int stop = 0;
    struct stress_arg args[4];
    pthread_t th[4];
    for (unsigned int i = 0; i < 4; i++) {
        args[i] = (struct stress_arg){.dev = handle(i % 2), .stop = &stop};
        assert_int_equal(pthread_create(&th[i], NULL, stress_thread, &args[i]), 0);
    }
    for (unsigned int k = 0; k < 8; k++) {
        scenario_with_power(text, sizeof(text), 1000 + k, k % 2 == 0);
        replace_file(path, text);
        sleep_ms(120);
    }
    stop = 1;
    for (unsigned int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_true(args[i].calls > 0);
    }
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

/* ---- hostile scenario files ---- */

/* The library says why each bad file is refused; hundreds of such lines would bury real failures. */
static int g_saved_stderr = -1;

static void stderr_off(void)
{
    fflush(stderr);
    g_saved_stderr = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDERR_FILENO);
        close(null);
    }
}

static void stderr_on(void)
{
    fflush(stderr);
    if (g_saved_stderr >= 0) {
        dup2(g_saved_stderr, STDERR_FILENO);
        close(g_saved_stderr);
        g_saved_stderr = -1;
    }
}

static char *repeat_json(const char *head, const char *item, size_t n, const char *tail)
{
    size_t len = strlen(head) + n * (strlen(item) + 1) + strlen(tail) + 1;
    char *s = malloc(len);
    assert_non_null(s);
    size_t off = 0;
    memcpy(s + off, head, strlen(head));
    off += strlen(head);
    for (size_t i = 0; i < n; i++) {
        if (i) {
            s[off++] = ',';
        }
        memcpy(s + off, item, strlen(item));
        off += strlen(item);
    }
    memcpy(s + off, tail, strlen(tail) + 1);
    return s;
}

static void expect_rejected(const char *text)
{
    char path[PATH_MAX];
    use_path(temp_scenario(path, sizeof(path), "hostile.json", text));
    nvmlReturn_t r = nv.nvmlInit_v2();
    if (r == NVML_SUCCESS) {
        nv.nvmlShutdown();
        stderr_on();
        fail_msg("accepted: %.200s", text);
    }
    if (r != NVML_ERROR_UNKNOWN) {
        stderr_on();
        fail_msg("returned %d, not NVML_ERROR_UNKNOWN: %.200s", r, text);
    }
}

static void test_hostile(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "null",
        "{\"gpus\": 5}",
        "{\"gpus\": [{}]}",
        "{\"gpus\": [], \"gpus\": []}",
        "{\"gpus\": [], \"schema\": 2}",
        "{\"gpus\": [], \"cuda_driver_version\": -1}",
        "{\"gpus\": [], \"driver_version\": \"\"}",
        "{\"gpus\": [], \"driver_version\": \"a\\nb\"}",
        "{\"gpus\": [], \"driver_version\": "
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
        "{\"gpus\": [], \"values\": {\"power\": 1}}",
        "{\"gpus\": [], \"values\": {\"power_mw\": \"high\"}}",
        "{\"gpus\": [], \"values\": {\"power_mw\": 1e400}}",
        "{\"gpus\": [], \"values\": {\"power_mw\": [[1, 2], [0, 3]]}}",
        "{\"gpus\": [], \"values\": {\"power_mw\": [[1, 2, 3]]}}",
        "{\"gpus\": [], \"values\": {\"power_mw\": []}}",
        "{\"gpus\": [], \"values\": {\"power_mw\": {\"timeline\": [[0, 1]], \"interp\": \"cubic\"}}}",
        "{\"gpus\": [], \"values\": {\"power_mw\": {\"timeline\": [[0, 1]], \"period\": 0}}}",
        "{\"gpus\": [], \"values\": {\"power_mw\": {\"timeline\": [[1e300, 1]]}}}",
        "{\"gpus\": [], \"values\": {\"memory_used_mib\": 1, \"memory_used_bytes\": 1}}",
        "{\"gpus\": [], \"values\": {\"energy_mj\": {\"rate\": \"no_such_field\"}}}",
        "{\"gpus\": [" GPU_JSON(0, ", \"values\": {\"energy_mj\": {\"rate\": \"fan_percent\"}}") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"values\": {\"energy_mj\": {\"rate\": \"energy_mj\"}}") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"color\": \"green\"") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost_at\": 1, \"lost\": [[2, 3]]") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"returns_at\": 3") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost_at\": 3, \"returns_at\": 3") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost\": [[2, 3], [2.5, 4]]") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost\": [[2, 1]]") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost\": [[2, null], [3, 4]]") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost\": [2, 3]") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost\": [[1, 2]], \"returns_as\": \"GPU-00000000-0000-0000-0000-000000000000\"") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost_at\": 1, \"returns_as\": \"GPU-9\"") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"returns_as\": \"GPU-9\"") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"lost\": [[1, 2]], \"returns_as\": \"GPU-00000000-0000-0000-0000-000000000001\"") ", "
        GPU_JSON(1, "") "]}",
        "{\"gpus\": [{\"name\": \"x\", \"uuid\": \"GPU-1\", \"pci_bus_id\": \"0000:18:00\", \"memory_total_mib\": 1}]}",
        "{\"gpus\": [{\"name\": \"x\", \"uuid\": \"GPU-1\", \"pci_bus_id\": \"00000000:18:20.0\", "
        "\"memory_total_mib\": 1}]}",
        "{\"gpus\": [{\"name\": \"x\", \"uuid\": \"GPU-1\", \"pci_bus_id\": \"00000000:18:00.0x\", "
        "\"memory_total_mib\": 1}]}",
        "{\"gpus\": [{\"name\": \"x\", \"uuid\": \"1\", \"pci_bus_id\": \"00000000:18:00.0\", "
        "\"memory_total_mib\": 1}]}",
        "{\"gpus\": [{\"name\": \"x\", \"uuid\": \"GPU-1\", \"pci_bus_id\": \"00000000:18:00.0\", "
        "\"memory_total_mib\": 0}]}",
        "{\"gpus\": [{\"name\": \"x\", \"uuid\": \"GPU-1\", \"pci_bus_id\": \"00000000:18:00.0\"}]}",
        "{\"gpus\": [" GPU_JSON(0, "") "," GPU_JSON(0, "") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"processes\": [{\"pid\": -1}]") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"processes\": [{\"pid\": 1, \"type\": \"X\"}]") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"processes\": [{\"pid\": 1, \"compute_instance_id\": 0}]") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"mig\": {\"max_devices\": 9}") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"mig\": {\"instances\": [{\"gpu_instance_id\": 1, "
                                   "\"memory_total_mib\": 1}]}") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"mig\": {\"instances\": [{\"gpu_instance_id\": 1, \"profile\": "
                                   "\"1g.10gb\", \"memory_total_mib\": 1, \"index\": 7}]}") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"mig\": {\"max_devices\": 1, \"instances\": [{\"gpu_instance_id\": 1, "
                                   "\"profile\": \"a\", \"memory_total_mib\": 1}, {\"gpu_instance_id\": 2, "
                                   "\"profile\": \"b\", \"memory_total_mib\": 1}]}") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"mig\": {\"instances\": [{\"gpu_instance_id\": 1, \"profile\": \"a\", "
                                   "\"memory_total_mib\": 1}, {\"gpu_instance_id\": 1, \"profile\": \"b\", "
                                   "\"memory_total_mib\": 1}]}") "]}",
        "{\"gpus\": [" GPU_JSON(0, ", \"mig\": {\"instances\": [{\"gpu_instance_id\": 1, \"profile\": "
                                   "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"memory_total_mib\": 1}]}") "]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"nvmlDeviceGetPowerUsage\"}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"nvmlDeviceGetPowerUsag\", \"return\": \"UNKNOWN\"}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"nvmlFoo*\", \"return\": \"UNKNOWN\"}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"nvml*Get\", \"return\": \"UNKNOWN\"}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"*\", \"return\": \"SUCCESS\"}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"*\", \"return\": \"NOPE\"}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"*\", \"return\": \"UNKNOWN\", \"gpu\": 0}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"*\", \"hang_ms\": 600001}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"*\", \"return\": 1, \"times\": 0}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"*\", \"return\": 1, \"once\": true, \"times\": 2}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"nvmlDeviceGetPowerUsage\", \"field_id\": 82, \"return\": 3}]}",
        "{\"gpus\": [], \"faults\": [{\"call\": \"nvmlDeviceGetFieldValues\", \"field_id\": 82, \"hang_ms\": 3}]}",
        "{\"gpus\": [], \"xid_events\": [{\"gpu\": 0, \"at\": 1, \"xid\": 79}]}",
        "{\"gpus\": [" GPU_JSON(0, "") "], \"xid_events\": [{\"gpu\": 1, \"at\": 1, \"xid\": 79}]}",
        "{\"gpus\": [" GPU_JSON(0, "") "], \"xid_events\": [{\"gpu\": 0, \"xid\": 79}]}",
        "{\"gpus\": [], \"values\": {\"power_mw\": 1}} trailing",
    };
    stderr_off();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rejected(bad[i]);

    /* Over the caps. */
    char gpu[256];
    snprintf(gpu, sizeof(gpu), "%s", GPU_JSON(0, ""));
    char *s = repeat_json("{\"gpus\": [", gpu, 65, "]}");
    expect_rejected(s);
    free(s);
    s = repeat_json("{\"gpus\": [], \"values\": {\"power_mw\": [", "[1, 2]", 4097, "]}}");
    expect_rejected(s);
    free(s);
    s = repeat_json("{\"gpus\": [], \"faults\": [", "{\"call\": \"*\", \"return\": 1}", 257, "]}");
    expect_rejected(s);
    free(s);
    s = repeat_json("", "[", 200000, "");
    expect_rejected(s);
    free(s);
    s = repeat_json("{\"gpus\": [], \"comment\": \"", "x", 5u << 20, "\"}");
    expect_rejected(s);
    free(s);
    /* A directory is not a scenario. */
    use_path(g_tmpdir);
    assert_int_equal(nv.nvmlInit_v2(), NVML_ERROR_UNKNOWN);
    stderr_on();
}

/* Random byte damage to a real scenario: every outcome is fine except a crash, which the sanitizers catch. */
static void exercise_all(void)
{
    unsigned int n = 0;
    if (nv.nvmlDeviceGetCount_v2(&n) != NVML_SUCCESS)
        return;
    for (unsigned int i = 0; i < n; i++) {
        nvmlDevice_t d, m;
        char buf[96];
        unsigned int u, v;
        unsigned long long ull;
        nvmlFieldValue_t fv[4] = {{.fieldId = 82}, {.fieldId = 83}, {.fieldId = 139, .scopeId = 1}, {.fieldId = 91}};
        nvmlProcessInfo_t procs[8];
        unsigned int count = 8;
        nvmlMemory_v2_t m2 = {.version = NVML_MEMORY_V2_VERSION};
        nvmlUtilization_t ut;
        if (nv.nvmlDeviceGetHandleByIndex_v2(i, &d) != NVML_SUCCESS)
            continue;
        (void)nv.nvmlDeviceGetName(d, buf, sizeof(buf));
        (void)nv.nvmlDeviceGetPowerUsage(d, &u);
        (void)nv.nvmlDeviceGetTotalEnergyConsumption(d, &ull);
        (void)nv.nvmlDeviceGetUtilizationRates(d, &ut);
        (void)nv.nvmlDeviceGetMemoryInfo_v2(d, &m2);
        (void)nv.nvmlDeviceGetFieldValues(d, 4, fv);
        (void)nv.nvmlDeviceGetComputeRunningProcesses_v3(d, &count, procs);
        (void)nv.nvmlDeviceGetRemappedRows(d, &u, &u, &u, &v);
        (void)nv.nvmlDeviceGetRetiredPages(d, NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR, &count, NULL);
        for (unsigned int k = 0; k < 8; k++)
            if (nv.nvmlDeviceGetMigDeviceHandleByIndex(d, k, &m) == NVML_SUCCESS) {
                (void)nv.nvmlDeviceGetName(m, buf, sizeof(buf));
                (void)nv.nvmlDeviceGetMemoryInfo_v2(m, &m2);
            }
    }
}

static void test_mutations(void **state)
{
    (void)state;
    FILE *f = fopen(g_dgx_path, "rb");
    assert_non_null(f);
    static char orig[1 << 20], text[1 << 20];
    size_t len = fread(orig, 1, sizeof(orig) - 1, f);
    fclose(f);
    assert_true(len > 100);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/mutant.json", g_tmpdir);
    use_path(path);
    start_at(30);
    unsigned long long x = 0x9E3779B97F4A7C15ULL;
    static const char junk[] = "{}[],:\"0123456789-.eEnulltrfas \\x";
    unsigned int accepted = 0;
    stderr_off();
    for (unsigned int iter = 0; iter < 600; iter++) {
        memcpy(text, orig, len);
        size_t n = len;
        unsigned int edits = 1 + iter % 4;
        for (unsigned int e = 0; e < edits; e++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t at = (size_t)(x % n);
            if ((x >> 32) % 8 == 0)
                n = at + 1; /* truncate */
            else
                text[at] = junk[(x >> 40) % (sizeof(junk) - 1)];
        }
        text[n] = '\0';
        write_file(path, text);
        nvmlReturn_t r = nv.nvmlInit_v2();
        if (r == NVML_SUCCESS) {
            accepted++;
            exercise_all();
            assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
        } else if (r != NVML_ERROR_UNKNOWN) {
            stderr_on();
            fail_msg("a damaged scenario gave %d", r);
        }
    }
    stderr_on();
    print_message("mutations: %u of 600 still loaded\n", accepted);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* Every shipped scenario loads and answers; the hang scenario is read before its hangs start. */
static void test_shipped_scenarios(void **state)
{
    (void)state;
    static const char *const names[] = {"one_gpu.json", "dgx_h100.json", "gpu_lost.json", "mig.json",
                                        "hang.json",    "errors.json",   "no_gpus.json", "dgx_a100_r535_early.json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        use_scenario(names[i]);
        start_at(0);
        if (nv.nvmlInit_v2() != NVML_SUCCESS)
            fail_msg("%s does not load", names[i]);
        exercise_all();
        assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    }
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* ---- main ---- */

/* ---- driver branches ---- */

typedef nvmlReturn_t (*procs_fn)(nvmlDevice_t, unsigned int *, void *);

/* What each branch must look like through dlsym and its answers (README.md, "Driver branches"). Typed in here
 * from the reference, not taken from scenario.c's table, so a wrong table entry fails. */
static const struct branch_case {
    const char *name;
    bool v3, memory_v2, clocks_event_reasons; /* exported */
    size_t v3_record;
    const char *driver, *nvml;
    int cuda;
} branch_cases[] = {
    {"r470", false, false, false, 0, "470.256.02", "11.470.256.02", 11040},
    {"r525", true, true, false, 24, "525.147.05", "12.525.147.05", 12000},
    {"r535_early", true, true, true, 32, "535.54.03", "12.535.54.03", 12020},
    {"r535", true, true, true, 24, "535.183.01", "12.535.183.01", 12020},
    {"r550", true, true, true, 24, "550.144.03", "12.550.144.03", 12040},
};

static void *open_branch_library(const char *branch)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s", g_lib_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    snprintf(path, sizeof(path), "%s/%s/libnvidia-ml.so.1", dir, branch);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        fail_msg("dlopen %s: %s", path, dlerror());
    return lib;
}

static void *sym(void *lib, const char *name)
{
    void *p = dlsym(lib, name);
    if (!p)
        fail_msg("missing symbol %s", name);
    return p;
}

#define BRANCH_GPU                                                                                                   \
    "{\"name\": \"G\", \"uuid\": \"GPU-00000000-0000-0000-0000-000000000001\", \"pci_bus_id\": \"00000000:18:00.0\", " \
    "\"memory_total_mib\": 1000, \"processes\": [{\"pid\": 1111, \"used_memory_bytes\": 4096}, "                       \
    "{\"pid\": 2222, \"used_memory_bytes\": 8192, \"type\": \"C+G\"}, {\"pid\": 3333, \"type\": \"G\"}, "            \
    "{\"pid\": 4444, \"used_memory_bytes\": 12288}]}"

/* Calls fn into a buffer filled with 0xA5 and checks that it wrote exactly `want` records of `record` bytes with
 * these pids, memory and instance ids, and not one byte more. */
static void check_records(procs_fn fn, nvmlDevice_t d, size_t record, const unsigned int *pids,
                          const unsigned long long *mem, unsigned int want)
{
    unsigned char buf[8 * 32 + 64];
    unsigned int count = 0;
    assert_int_equal(fn(d, &count, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(count, want);
    memset(buf, 0xA5, sizeof(buf));
    count = 8;
    assert_int_equal(fn(d, &count, buf), NVML_SUCCESS);
    assert_int_equal(count, want);
    for (unsigned int i = 0; i < want; i++) {
        const unsigned char *r = buf + i * record;
        unsigned int pid, id;
        unsigned long long used;
        memcpy(&pid, r, 4);
        memcpy(&used, r + 8, 8);
        assert_int_equal(pid, pids[i]);
        assert_int_equal(used, mem[i]);
        if (record >= 24) {
            memcpy(&id, r + 16, 4);
            assert_int_equal(id, NVML_NO_INSTANCE_ID);
            memcpy(&id, r + 20, 4);
            assert_int_equal(id, NVML_NO_INSTANCE_ID);
        }
        if (record == 32) {
            memcpy(&used, r + 24, 8);
            assert_int_equal(used, 0); /* usedGpuCcProtectedMemory outside confidential computing */
        }
    }
    for (size_t k = want * record; k < sizeof(buf); k++)
        if (buf[k] != 0xA5)
            fail_msg("record size %zu: byte %zu beyond %u records was written", record, k, want);
}

static void test_driver_branches(void **state)
{
    (void)state;
    char path[PATH_MAX], text[2048];
    static const unsigned int cpids[] = {1111, 2222, 4444}, gpids[] = {2222, 3333};
    static const unsigned long long cmem[] = {4096, 8192, 12288},
                                    gmem[] = {8192, NVML_VALUE_NOT_AVAILABLE_ULL};
    for (size_t b = 0; b < sizeof(branch_cases) / sizeof(branch_cases[0]); b++) {
        const struct branch_case *bc = &branch_cases[b];
        /* Its own library first (what the branch lacks is not exported at all, as with the real library), then
         * the default one (it is exported, and answers NVML_ERROR_FUNCTION_NOT_FOUND). */
        for (int own = 1; own >= 0; own--) {
            void *lib = own ? open_branch_library(bc->name) : open_branch_library("r550");
            if (own) {
                assert_int_equal(dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3") != NULL, bc->v3);
                /* GPM came with NVML 11.8/12.0 (R520/R525): R470 has none of it. */
                assert_int_equal(dlsym(lib, "nvmlGpmSampleGet") != NULL, strcmp(bc->name, "r470") != 0);
                assert_int_equal(dlsym(lib, "nvmlGpmMetricsGet") != NULL, strcmp(bc->name, "r470") != 0);
                assert_int_equal(dlsym(lib, "nvmlDeviceGetGraphicsRunningProcesses_v3") != NULL, bc->v3);
                assert_int_equal(dlsym(lib, "nvmlDeviceGetMemoryInfo_v2") != NULL, bc->memory_v2);
                assert_int_equal(dlsym(lib, "nvmlDeviceGetCurrentClocksEventReasons") != NULL,
                                 bc->clocks_event_reasons);
            }
            assert_non_null(sym(lib, "nvmlDeviceGetCurrentClocksThrottleReasons"));
            assert_non_null(sym(lib, "nvmlDeviceGetMemoryInfo"));

            nvmlReturn_t (*init)(void) = (nvmlReturn_t(*)(void))sym(lib, "nvmlInit_v2");
            nvmlReturn_t (*shutdown)(void) = (nvmlReturn_t(*)(void))sym(lib, "nvmlShutdown");
            nvmlReturn_t (*driver)(char *, unsigned int) =
                (nvmlReturn_t(*)(char *, unsigned int))sym(lib, "nvmlSystemGetDriverVersion");
            nvmlReturn_t (*nvml)(char *, unsigned int) =
                (nvmlReturn_t(*)(char *, unsigned int))sym(lib, "nvmlSystemGetNVMLVersion");
            nvmlReturn_t (*cuda)(int *) = (nvmlReturn_t(*)(int *))sym(lib, "nvmlSystemGetCudaDriverVersion");
            nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t *) =
                (nvmlReturn_t(*)(unsigned int, nvmlDevice_t *))sym(lib, "nvmlDeviceGetHandleByIndex_v2");

            snprintf(text, sizeof(text), "{\"driver_branch\": \"%s\", \"values\": {\"memory_used_mib\": 10, "
                     "\"clocks_event_reasons\": 1}, \"gpus\": [" BRANCH_GPU "]}", bc->name);
            use_path(temp_scenario(path, sizeof(path), "branch.json", text));
            assert_int_equal(init(), NVML_SUCCESS);
            char v[96];
            int cv = 0;
            assert_int_equal(driver(v, sizeof(v)), NVML_SUCCESS);
            assert_string_equal(v, bc->driver);
            assert_int_equal(nvml(v, sizeof(v)), NVML_SUCCESS);
            assert_string_equal(v, bc->nvml);
            assert_int_equal(cuda(&cv), NVML_SUCCESS);
            assert_int_equal(cv, bc->cuda);
            nvmlDevice_t d;
            assert_int_equal(by_index(0, &d), NVML_SUCCESS);

            /* Record layouts: v1 16 bytes, _v2 24, _v3 the branch's. */
            check_records((procs_fn)sym(lib, "nvmlDeviceGetComputeRunningProcesses"), d, 16, cpids, cmem, 3);
            check_records((procs_fn)sym(lib, "nvmlDeviceGetGraphicsRunningProcesses"), d, 16, gpids, gmem, 2);
            check_records((procs_fn)sym(lib, "nvmlDeviceGetComputeRunningProcesses_v2"), d, 24, cpids, cmem, 3);
            check_records((procs_fn)sym(lib, "nvmlDeviceGetGraphicsRunningProcesses_v2"), d, 24, gpids, gmem, 2);
            void *v3c = dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3");
            void *v3g = dlsym(lib, "nvmlDeviceGetGraphicsRunningProcesses_v3");
            void *memv2 = dlsym(lib, "nvmlDeviceGetMemoryInfo_v2");
            void *cer = dlsym(lib, "nvmlDeviceGetCurrentClocksEventReasons");
            unsigned int count = 0;
            unsigned long long reasons = 0;
            nvmlMemory_v2_t m2 = {.version = NVML_MEMORY_V2_VERSION};
            if (bc->v3) {
                check_records((procs_fn)v3c, d, bc->v3_record, cpids, cmem, 3);
                check_records((procs_fn)v3g, d, bc->v3_record, gpids, gmem, 2);
            } else if (!own) {
                assert_int_equal(((procs_fn)v3c)(d, &count, NULL), NVML_ERROR_FUNCTION_NOT_FOUND);
                assert_int_equal(((procs_fn)v3g)(d, &count, NULL), NVML_ERROR_FUNCTION_NOT_FOUND);
            }
            if (memv2)
                assert_int_equal(((nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_v2_t *))memv2)(d, &m2),
                                 bc->memory_v2 ? NVML_SUCCESS : NVML_ERROR_FUNCTION_NOT_FOUND);
            if (cer)
                assert_int_equal(((nvmlReturn_t(*)(nvmlDevice_t, unsigned long long *))cer)(d, &reasons),
                                 bc->clocks_event_reasons ? NVML_SUCCESS : NVML_ERROR_FUNCTION_NOT_FOUND);
            assert_int_equal(shutdown(), NVML_SUCCESS);

            /* A branch with entry points this build lacks is refused with the library/driver mismatch code. */
            if (own && !bc->clocks_event_reasons) {
                snprintf(text, sizeof(text), "{\"driver_branch\": \"r535\", \"gpus\": []}");
                use_path(temp_scenario(path, sizeof(path), "branch.json", text));
                assert_int_equal(init(), NVML_ERROR_LIB_RM_VERSION_MISMATCH);
            }
            dlclose(lib);
        }
    }
    void *r525 = open_branch_library("r525");
    nvmlReturn_t (*init525)(void) = (nvmlReturn_t(*)(void))sym(r525, "nvmlInit_v2");
    use_path(temp_scenario(path, sizeof(path), "branch.json", "{\"driver_branch\": \"r470\", \"gpus\": []}"));
    assert_int_equal(init525(), NVML_SUCCESS); /* R525's build has all R470 has */
    assert_int_equal(((nvmlReturn_t(*)(void))sym(r525, "nvmlShutdown"))(), NVML_SUCCESS);
    dlclose(r525);

    /* Without "driver_branch": today's behaviour, R550's ABI with whatever version string the file gives. */
    use_path(temp_scenario(path, sizeof(path), "branch.json", "{\"driver_version\": \"banana\", \"gpus\": []}"));
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    char v[96];
    assert_int_equal(nv.nvmlSystemGetDriverVersion(v, sizeof(v)), NVML_SUCCESS);
    assert_string_equal(v, "banana");
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    void *r470 = open_branch_library("r470");
    nvmlReturn_t (*init470)(void) = (nvmlReturn_t(*)(void))sym(r470, "nvmlInit_v2");
    assert_int_equal(init470(), NVML_ERROR_LIB_RM_VERSION_MISMATCH); /* the default is not R470 */
    dlclose(r470);

    /* A version string the branch never shipped is a load error; so is an unknown branch. */
    static const char *const bad[] = {
        "{\"driver_branch\": \"r999\", \"gpus\": []}",
        "{\"driver_branch\": 535, \"gpus\": []}",
        "{\"driver_branch\": \"r535_early\", \"driver_version\": \"535.104.05\", \"gpus\": []}",
        "{\"driver_branch\": \"r535\", \"driver_version\": \"535.86.05\", \"gpus\": []}",
        "{\"driver_branch\": \"r535\", \"driver_version\": \"535.98\", \"gpus\": []}",
        "{\"driver_branch\": \"r470\", \"driver_version\": \"550.144.03\", \"gpus\": []}",
        "{\"driver_branch\": \"r550\", \"driver_version\": \"545.29.06\", \"gpus\": []}",
        "{\"driver_branch\": \"r550\", \"driver_version\": \"550\", \"gpus\": []}",
        "{\"driver_branch\": \"r550\", \"driver_version\": \"550.x.1\", \"gpus\": []}",
        "{\"driver_branch\": \"r550\", \"driver_version\": \"550.1.2.3\", \"gpus\": []}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        use_path(temp_scenario(path, sizeof(path), "branchbad.json", bad[i]));
        if (nv.nvmlInit_v2() != NVML_ERROR_UNKNOWN)
            fail_msg("accepted: %s", bad[i]);
    }
    use_path(temp_scenario(path, sizeof(path), "branchbad.json",
                           "{\"driver_branch\": \"r535_early\", \"driver_version\": \"535.86.10\", \"gpus\": []}"));
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlSystemGetNVMLVersion(v, sizeof(v)), NVML_SUCCESS);
    assert_string_equal(v, "12.535.86.10");

    /* A reload may not switch the branch under a running process: the old scenario stays. */
    use_path(temp_scenario(path, sizeof(path), "branch.json",
                           "{\"driver_branch\": \"r535_early\", \"gpus\": [" BRANCH_GPU "]}"));
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
    assert_int_equal(nv.nvmlInit_v2(), NVML_SUCCESS);
    replace_file(path, "{\"driver_branch\": \"r535\", \"gpus\": [" BRANCH_GPU "]}");
    sleep_ms(250);
    stderr_off();
    assert_int_equal(nv.nvmlSystemGetDriverVersion(v, sizeof(v)), NVML_SUCCESS);
    stderr_on();
    assert_string_equal(v, "535.54.03");
    check_records((procs_fn)nv.nvmlDeviceGetComputeRunningProcesses_v3, handle(0), 32, cpids, cmem, 3);
    assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

/* A failed test leaves the library initialised; undo that so the next test starts clean. */
static int teardown(void **state)
{
    (void)state;
    stderr_on();
    while (nv.nvmlShutdown() == NVML_SUCCESS)
        ;
    unsetenv("FAKE_NVML_START_EPOCH");
    return 0;
}

static int load_library(const char *path)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
#define X(name)                                                                                                       \
    nv.name = (__typeof__(nv.name))dlsym(lib, #name);                                                                 \
    if (!nv.name) {                                                                                                   \
        fprintf(stderr, "missing symbol %s\n", #name);                                                                \
        return -1;                                                                                                    \
    }
    NVML_FUNCS(X)
#undef X
    return 0;
}

static void remove_tmpdir(void)
{
    static const char *const names[] = {"broken.json", "typo.json",   "timeline.json", "faults.json",
                                        "star.json",   "initfail.json", "events.json", "reload.json",
                                        "reload.json.new", "return.json", "stress.json", "stress.json.new", "hostile.json",
                                        "mutant.json", "branch.json", "branch.json.new", "branchbad.json"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", g_tmpdir, names[i]);
        unlink(path);
    }
    rmdir(g_tmpdir);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libnvidia-ml.so.1> <scenarios dir>\n", argv[0]);
        return 2;
    }
    g_lib_path = argv[1];
    g_scenario_dir = argv[2];
    const char *env = getenv("FAKE_NVML_SCENARIO");
    if (env && env[0])
        snprintf(g_dgx_path, sizeof(g_dgx_path), "%s", env);
    else
        snprintf(g_dgx_path, sizeof(g_dgx_path), "%s/dgx_h100.json", g_scenario_dir);
    if (!mkdtemp(g_tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    if (load_library(g_lib_path) != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_uninitialized, teardown),
        cmocka_unit_test_teardown(test_init_errors, teardown),
        cmocka_unit_test_teardown(test_refcount, teardown),
        cmocka_unit_test_teardown(test_dgx_identity, teardown),
        cmocka_unit_test_teardown(test_invalid_handles, teardown),
        cmocka_unit_test_teardown(test_dgx_readings, teardown),
        cmocka_unit_test_teardown(test_field_values, teardown),
        cmocka_unit_test_teardown(test_timelines, teardown),
        cmocka_unit_test_teardown(test_gpm, teardown),
        cmocka_unit_test_teardown(test_faults, teardown),
        cmocka_unit_test_teardown(test_fault_lifecycle, teardown),
        cmocka_unit_test_teardown(test_gpu_lost, teardown),
        cmocka_unit_test_teardown(test_gpu_return, teardown),
        cmocka_unit_test_teardown(test_events, teardown),
        cmocka_unit_test_teardown(test_mig, teardown),
        cmocka_unit_test_teardown(test_reload, teardown),
        cmocka_unit_test_teardown(test_stress_reload, teardown),
        cmocka_unit_test_teardown(test_shipped_scenarios, teardown),
        cmocka_unit_test_teardown(test_window_average_and_process_utilization, teardown),
        cmocka_unit_test_teardown(test_hostile, teardown),
        cmocka_unit_test_teardown(test_mutations, teardown),
        cmocka_unit_test_teardown(test_driver_branches, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    remove_tmpdir();
    return failed;
}
