/* test_nvml_abi.c - pins our NVML declarations to the documented ABI, and the loader's failure paths.
 *
 * The expected numbers are typed in from shared/reference/gpu-apis.md §1 (NVML 13.3 header, LP64),
 * not computed from our header, so a wrong declaration cannot agree with itself. nvml_types.h
 * asserts the same facts at compile time; this test is the reviewed list, readable in one place.
 * The loader tests need no NVML: a missing file and libc (which has no nvml* symbols) exercise the
 * failures. The fake library (FAKE_NVML_LIB, built with the tree) must load, and nvml_procs must read
 * the process records of every driver branch it models; stub entry points written here add the
 * drivers the fake will not imitate (a lying version string, a library that clears the buffer).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "nvml/nvml_loader.h"
#include "nvml/nvml_procs.h"
#include "nvml/nvml_types.h"

#define assert_offset(type, member, off) assert_int_equal(offsetof(type, member), (off))

static void test_return_codes(void **state)
{
    (void)state;
    static const struct {
        nvmlReturn_t code;
        int value;
        const char *name;
    } codes[] = {
        {NVML_SUCCESS, 0, "NVML_SUCCESS"},
        {NVML_ERROR_UNINITIALIZED, 1, "NVML_ERROR_UNINITIALIZED"},
        {NVML_ERROR_INVALID_ARGUMENT, 2, "NVML_ERROR_INVALID_ARGUMENT"},
        {NVML_ERROR_NOT_SUPPORTED, 3, "NVML_ERROR_NOT_SUPPORTED"},
        {NVML_ERROR_NO_PERMISSION, 4, "NVML_ERROR_NO_PERMISSION"},
        {NVML_ERROR_ALREADY_INITIALIZED, 5, "NVML_ERROR_ALREADY_INITIALIZED"},
        {NVML_ERROR_NOT_FOUND, 6, "NVML_ERROR_NOT_FOUND"},
        {NVML_ERROR_INSUFFICIENT_SIZE, 7, "NVML_ERROR_INSUFFICIENT_SIZE"},
        {NVML_ERROR_INSUFFICIENT_POWER, 8, "NVML_ERROR_INSUFFICIENT_POWER"},
        {NVML_ERROR_DRIVER_NOT_LOADED, 9, "NVML_ERROR_DRIVER_NOT_LOADED"},
        {NVML_ERROR_TIMEOUT, 10, "NVML_ERROR_TIMEOUT"},
        {NVML_ERROR_IRQ_ISSUE, 11, "NVML_ERROR_IRQ_ISSUE"},
        {NVML_ERROR_LIBRARY_NOT_FOUND, 12, "NVML_ERROR_LIBRARY_NOT_FOUND"},
        {NVML_ERROR_FUNCTION_NOT_FOUND, 13, "NVML_ERROR_FUNCTION_NOT_FOUND"},
        {NVML_ERROR_CORRUPTED_INFOROM, 14, "NVML_ERROR_CORRUPTED_INFOROM"},
        {NVML_ERROR_GPU_IS_LOST, 15, "NVML_ERROR_GPU_IS_LOST"},
        {NVML_ERROR_RESET_REQUIRED, 16, "NVML_ERROR_RESET_REQUIRED"},
        {NVML_ERROR_OPERATING_SYSTEM, 17, "NVML_ERROR_OPERATING_SYSTEM"},
        {NVML_ERROR_LIB_RM_VERSION_MISMATCH, 18, "NVML_ERROR_LIB_RM_VERSION_MISMATCH"},
        {NVML_ERROR_IN_USE, 19, "NVML_ERROR_IN_USE"},
        {NVML_ERROR_MEMORY, 20, "NVML_ERROR_MEMORY"},
        {NVML_ERROR_NO_DATA, 21, "NVML_ERROR_NO_DATA"},
        {NVML_ERROR_VGPU_ECC_NOT_SUPPORTED, 22, "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED"},
        {NVML_ERROR_INSUFFICIENT_RESOURCES, 23, "NVML_ERROR_INSUFFICIENT_RESOURCES"},
        {NVML_ERROR_FREQ_NOT_SUPPORTED, 24, "NVML_ERROR_FREQ_NOT_SUPPORTED"},
        {NVML_ERROR_ARGUMENT_VERSION_MISMATCH, 25, "NVML_ERROR_ARGUMENT_VERSION_MISMATCH"},
        {NVML_ERROR_DEPRECATED, 26, "NVML_ERROR_DEPRECATED"},
        {NVML_ERROR_NOT_READY, 27, "NVML_ERROR_NOT_READY"},
        {NVML_ERROR_GPU_NOT_FOUND, 28, "NVML_ERROR_GPU_NOT_FOUND"},
        {NVML_ERROR_INVALID_STATE, 29, "NVML_ERROR_INVALID_STATE"},
        {NVML_ERROR_RESET_TYPE_NOT_SUPPORTED, 30, "NVML_ERROR_RESET_TYPE_NOT_SUPPORTED"},
        {NVML_ERROR_UNKNOWN, 999, "NVML_ERROR_UNKNOWN"},
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_int_equal((int)codes[i].code, codes[i].value);
        assert_string_equal(nvml_return_name(codes[i].code), codes[i].name);
        /* Without a library, strerror falls back to the name. */
        assert_string_equal(nvml_lib_strerror(NULL, codes[i].code), codes[i].name);
    }
    assert_int_equal(sizeof(nvmlReturn_t), 4);
}

static void test_unknown_return_code(void **state)
{
    (void)state;
    nvmlReturn_t future = (nvmlReturn_t)31; /* a code newer than our declarations */
    assert_non_null(nvml_return_name(future));
    assert_string_equal(nvml_return_name(future), "unrecognised NVML return code");
    assert_non_null(nvml_lib_strerror(NULL, future));

    struct nvml_lib closed;
    memset(&closed, 0, sizeof closed);
    assert_string_equal(nvml_lib_strerror(&closed, NVML_ERROR_GPU_IS_LOST), "NVML_ERROR_GPU_IS_LOST");
}

static void test_return_to_jt_err(void **state)
{
    (void)state;
    assert_int_equal(nvml_return_to_jt_err(NVML_SUCCESS), JT_OK);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_NOT_SUPPORTED), JT_ERR_UNSUPPORTED);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_FUNCTION_NOT_FOUND), JT_ERR_UNSUPPORTED);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_GPU_IS_LOST), JT_ERR_GPU_LOST);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_NO_PERMISSION), JT_ERR_PERMISSION);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_TIMEOUT), JT_ERR_TIMEOUT);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_NOT_FOUND), JT_ERR_NOT_FOUND);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_UNINITIALIZED), JT_ERR_INTERNAL);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_DRIVER_NOT_LOADED), JT_ERR_LIBRARY);
    assert_int_equal(nvml_return_to_jt_err(NVML_ERROR_UNKNOWN), JT_ERR_IO);
    assert_int_equal(nvml_return_to_jt_err((nvmlReturn_t)31), JT_ERR_IO);
}

static void test_handles(void **state)
{
    (void)state;
    assert_int_equal(sizeof(nvmlDevice_t), 8);
    assert_int_equal(sizeof(nvmlEventSet_t), 8);

    nvmlDevice_t a = {0}, b = {0};
    assert_true(nvml_device_is_null(a));
    assert_true(nvml_device_same(a, b));
    a.handle = (struct nvmlDevice_st *)&b;
    assert_false(nvml_device_is_null(a));
    assert_false(nvml_device_same(a, b));
}

static void test_pci_info_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(nvmlPciInfo_t), 68);
    assert_offset(nvmlPciInfo_t, busIdLegacy, 0);
    assert_int_equal(sizeof(((nvmlPciInfo_t *)0)->busIdLegacy), 16);
    assert_offset(nvmlPciInfo_t, domain, 16);
    assert_offset(nvmlPciInfo_t, bus, 20);
    assert_offset(nvmlPciInfo_t, device, 24);
    assert_offset(nvmlPciInfo_t, pciDeviceId, 28);
    assert_offset(nvmlPciInfo_t, pciSubSystemId, 32);
    assert_offset(nvmlPciInfo_t, busId, 36);
    assert_int_equal(sizeof(((nvmlPciInfo_t *)0)->busId), 32);
}

static void test_utilization_and_memory_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(nvmlUtilization_t), 8);
    assert_offset(nvmlUtilization_t, gpu, 0);
    assert_offset(nvmlUtilization_t, memory, 4);

    assert_int_equal(sizeof(nvmlMemory_t), 24);
    assert_offset(nvmlMemory_t, total, 0);
    assert_offset(nvmlMemory_t, free, 8);
    assert_offset(nvmlMemory_t, used, 16);

    assert_int_equal(sizeof(nvmlMemory_v2_t), 40);
    assert_offset(nvmlMemory_v2_t, version, 0);
    assert_offset(nvmlMemory_v2_t, total, 8);
    assert_offset(nvmlMemory_v2_t, reserved, 16);
    assert_offset(nvmlMemory_v2_t, free, 24);
    assert_offset(nvmlMemory_v2_t, used, 32);
}

static void test_memory_v2_version(void **state)
{
    (void)state;
    /* The trap: the doc comment says 2, the library wants sizeof | 2 << 24. */
    assert_int_equal(NVML_MEMORY_V2_VERSION, 0x02000028u);
    assert_int_equal(NVML_MEMORY_V2_VERSION, 40u | 2u << 24);
    assert_int_equal(NVML_STRUCT_VERSION(nvmlMemory_v2_t, 2), 0x02000028u);

    nvmlMemory_v2_t m;
    memset(&m, 0xA5, sizeof m);
    nvml_memory_v2_init(&m);
    assert_int_equal(m.version, 0x02000028u);
    assert_int_equal(m.total, 0);
    assert_int_equal(m.reserved, 0);
    assert_int_equal(m.free, 0);
    assert_int_equal(m.used, 0);
}

static void test_process_info_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(nvmlProcessInfo_v1_t), 16);
    assert_offset(nvmlProcessInfo_v1_t, pid, 0);
    assert_offset(nvmlProcessInfo_v1_t, usedGpuMemory, 8);

    assert_int_equal(sizeof(nvmlProcessInfo_t), 24);
    assert_offset(nvmlProcessInfo_t, pid, 0);
    assert_offset(nvmlProcessInfo_t, usedGpuMemory, 8);
    assert_offset(nvmlProcessInfo_t, gpuInstanceId, 16);
    assert_offset(nvmlProcessInfo_t, computeInstanceId, 20);

    /* Early R535 _v3 (nvitop#79/#88, go-nvml#75): the v2 record plus a u64. */
    assert_int_equal(sizeof(nvmlProcessInfo_r535_t), 32);
    assert_offset(nvmlProcessInfo_r535_t, pid, 0);
    assert_offset(nvmlProcessInfo_r535_t, usedGpuMemory, 8);
    assert_offset(nvmlProcessInfo_r535_t, gpuInstanceId, 16);
    assert_offset(nvmlProcessInfo_r535_t, computeInstanceId, 20);
    assert_offset(nvmlProcessInfo_r535_t, usedGpuCcProtectedMemory, 24);
    assert_int_equal(NVML_PROCESS_INFO_MAX_STRIDE, 32);
}

static void test_field_value_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(nvmlValue_t), 8);
    assert_int_equal(sizeof(nvmlFieldValue_t), 40);
    assert_offset(nvmlFieldValue_t, fieldId, 0);
    assert_offset(nvmlFieldValue_t, scopeId, 4);
    assert_offset(nvmlFieldValue_t, timestamp, 8);
    assert_offset(nvmlFieldValue_t, latencyUsec, 16);
    assert_offset(nvmlFieldValue_t, valueType, 24);
    assert_offset(nvmlFieldValue_t, nvmlReturn, 28);
    assert_offset(nvmlFieldValue_t, value, 32);

    assert_int_equal(NVML_VALUE_TYPE_DOUBLE, 0);
    assert_int_equal(NVML_VALUE_TYPE_UNSIGNED_INT, 1);
    assert_int_equal(NVML_VALUE_TYPE_UNSIGNED_LONG, 2);
    assert_int_equal(NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, 3);
    assert_int_equal(NVML_VALUE_TYPE_SIGNED_LONG_LONG, 4);
    assert_int_equal(NVML_VALUE_TYPE_SIGNED_INT, 5);
    assert_int_equal(NVML_VALUE_TYPE_UNSIGNED_SHORT, 6);
}

static void test_event_data_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(nvmlEventData_t), 32);
    assert_offset(nvmlEventData_t, device, 0);
    assert_offset(nvmlEventData_t, eventType, 8);
    assert_offset(nvmlEventData_t, eventData, 16);
    assert_offset(nvmlEventData_t, gpuInstanceId, 24);
    assert_offset(nvmlEventData_t, computeInstanceId, 28);
}

static void test_enums(void **state)
{
    (void)state;
    assert_int_equal(NVML_TEMPERATURE_GPU, 0);
    assert_int_equal(NVML_CLOCK_GRAPHICS, 0);
    assert_int_equal(NVML_CLOCK_SM, 1);
    assert_int_equal(NVML_CLOCK_MEM, 2);
    assert_int_equal(NVML_CLOCK_VIDEO, 3);
    assert_int_equal(NVML_PCIE_UTIL_TX_BYTES, 0);
    assert_int_equal(NVML_PCIE_UTIL_RX_BYTES, 1);
    assert_int_equal(NVML_MEMORY_ERROR_TYPE_CORRECTED, 0);
    assert_int_equal(NVML_MEMORY_ERROR_TYPE_UNCORRECTED, 1);
    assert_int_equal(NVML_VOLATILE_ECC, 0);
    assert_int_equal(NVML_AGGREGATE_ECC, 1);
    assert_int_equal(NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS, 0);
    assert_int_equal(NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR, 1);
    assert_int_equal(NVML_FEATURE_DISABLED, 0);
    assert_int_equal(NVML_FEATURE_ENABLED, 1);
    assert_int_equal(NVML_PSTATE_0, 0);
    assert_int_equal(NVML_PSTATE_15, 15);
    assert_int_equal(NVML_PSTATE_UNKNOWN, 32);
    assert_int_equal(sizeof(nvmlClockType_t), 4);
    assert_int_equal(sizeof(nvmlEnableState_t), 4);
    assert_int_equal(sizeof(nvmlPstates_t), 4);
}

static void test_buffer_sizes_and_flags(void **state)
{
    (void)state;
    assert_int_equal(NVML_DEVICE_NAME_BUFFER_SIZE, 64);
    assert_int_equal(NVML_DEVICE_NAME_V2_BUFFER_SIZE, 96);
    assert_int_equal(NVML_DEVICE_UUID_BUFFER_SIZE, 80);
    assert_int_equal(NVML_DEVICE_UUID_V2_BUFFER_SIZE, 96);
    assert_int_equal(NVML_DEVICE_UUID_ASCII_LEN, 41);
    assert_int_equal(NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE, 80);
    assert_int_equal(NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE, 80);
    assert_int_equal(NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE, 32);
    assert_int_equal(NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE, 16);
    assert_int_equal(NVML_DEVICE_SERIAL_BUFFER_SIZE, 30);
    assert_int_equal(NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE, 32);
    assert_int_equal(NVML_DEVICE_INFOROM_VERSION_BUFFER_SIZE, 16);
    assert_int_equal(NVML_DEVICE_PART_NUMBER_BUFFER_SIZE, 80);
    assert_string_equal(NVML_DEVICE_PCI_BUS_ID_FMT, "%08X:%02X:%02X.0");

    assert_int_equal(NVML_INIT_FLAG_NO_GPUS, 1);
    assert_int_equal(NVML_INIT_FLAG_NO_ATTACH, 2);
    assert_int_equal(NVML_INIT_FLAG_FORCE_INIT, 4);
    assert_int_equal(NVML_DEVICE_MIG_DISABLE, 0);
    assert_int_equal(NVML_DEVICE_MIG_ENABLE, 1);
    assert_int_equal(NVML_VALUE_NOT_AVAILABLE, -1);
    assert_int_equal(NVML_VALUE_NOT_AVAILABLE_UINT, UINT32_MAX);
    assert_true(NVML_VALUE_NOT_AVAILABLE_ULL == UINT64_MAX);
    assert_int_equal(NVML_INSTANCE_ID_NONE, 0xFFFFFFFFu);
}

static void test_event_bits(void **state)
{
    (void)state;
    assert_int_equal(nvmlEventTypeNone, 0);
    assert_int_equal(nvmlEventTypeSingleBitEccError, 0x1);
    assert_int_equal(nvmlEventTypeDoubleBitEccError, 0x2);
    assert_int_equal(nvmlEventTypePState, 0x4);
    assert_int_equal(nvmlEventTypeXidCriticalError, 0x8);
    assert_int_equal(nvmlEventTypeClock, 0x10);
    assert_int_equal(nvmlEventTypePowerSourceChange, 0x80);
    assert_int_equal(nvmlEventMigConfigChange, 0x100);
    assert_int_equal(nvmlEventTypeSingleBitEccErrorStorm, 0x200);
    assert_int_equal(nvmlEventTypeDramRetirementEvent, 0x400);
    assert_int_equal(nvmlEventTypeDramRetirementFailure, 0x800);
    assert_int_equal(nvmlEventTypeNonFatalPoisonError, 0x1000);
    assert_int_equal(nvmlEventTypeFatalPoisonError, 0x2000);
    assert_int_equal(nvmlEventTypeGpuUnavailableError, 0x4000);
    assert_int_equal(nvmlEventTypeGpuRecoveryAction, 0x8000);
    assert_int_equal(nvmlEventTypeAll, 0xFF9F);
    unsigned long long all = nvmlEventTypeSingleBitEccError | nvmlEventTypeDoubleBitEccError |
                             nvmlEventTypePState | nvmlEventTypeXidCriticalError | nvmlEventTypeClock |
                             nvmlEventTypePowerSourceChange | nvmlEventMigConfigChange |
                             nvmlEventTypeSingleBitEccErrorStorm | nvmlEventTypeDramRetirementEvent |
                             nvmlEventTypeDramRetirementFailure | nvmlEventTypeNonFatalPoisonError |
                             nvmlEventTypeFatalPoisonError | nvmlEventTypeGpuUnavailableError |
                             nvmlEventTypeGpuRecoveryAction;
    assert_true(all == nvmlEventTypeAll);
}

static void test_clock_reason_bits(void **state)
{
    (void)state;
    assert_int_equal(nvmlClocksEventReasonNone, 0);
    assert_int_equal(nvmlClocksEventReasonGpuIdle, 0x1);
    assert_int_equal(nvmlClocksEventReasonApplicationsClocksSetting, 0x2);
    assert_int_equal(nvmlClocksEventReasonSwPowerCap, 0x4);
    assert_int_equal(nvmlClocksThrottleReasonHwSlowdown, 0x8);
    assert_int_equal(nvmlClocksEventReasonSyncBoost, 0x10);
    assert_int_equal(nvmlClocksEventReasonSwThermalSlowdown, 0x20);
    assert_int_equal(nvmlClocksThrottleReasonHwThermalSlowdown, 0x40);
    assert_int_equal(nvmlClocksThrottleReasonHwPowerBrakeSlowdown, 0x80);
    assert_int_equal(nvmlClocksEventReasonDisplayClockSetting, 0x100);
}

static void test_field_ids(void **state)
{
    (void)state;
    assert_int_equal(NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, 38);
    assert_int_equal(NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, 45);
    assert_int_equal(NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, 52);
    assert_int_equal(NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, 59);
    assert_int_equal(NVML_FI_DEV_NVLINK_BANDWIDTH_C0_TOTAL, 66);
    assert_int_equal(NVML_FI_DEV_NVLINK_BANDWIDTH_C1_TOTAL, 73);
    assert_int_equal(NVML_FI_DEV_PERF_POLICY_POWER, 74);
    assert_int_equal(NVML_FI_DEV_PERF_POLICY_THERMAL, 75);
    assert_int_equal(NVML_FI_DEV_PERF_POLICY_SYNC_BOOST, 76);
    assert_int_equal(NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT, 77);
    assert_int_equal(NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION, 78);
    assert_int_equal(NVML_FI_DEV_PERF_POLICY_RELIABILITY, 79);
    assert_int_equal(NVML_FI_DEV_MEMORY_TEMP, 82);
    assert_int_equal(NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION, 83);
    assert_int_equal(NVML_FI_DEV_PCIE_REPLAY_COUNTER, 94);
    assert_int_equal(NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, 138);
    assert_int_equal(NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, 139);
    assert_int_equal(NVML_FI_DEV_NVLINK_THROUGHPUT_RAW_TX, 140);
    assert_int_equal(NVML_FI_DEV_NVLINK_THROUGHPUT_RAW_RX, 141);
    assert_int_equal(NVML_FIELD_SCOPE_ALL_LINKS, UINT32_MAX);
}

/* ---- loader ----------------------------------------------------------------------------------- */

static void assert_closed(const struct nvml_lib *lib)
{
    assert_null(lib->handle);
    assert_null(lib->Init);
    assert_null(lib->ErrorString);
    assert_null(lib->DeviceGetComputeInstanceId);
    assert_int_equal(lib->path[0], '\0');
}

static void test_open_missing_file(void **state)
{
    (void)state;
    struct nvml_lib lib;
    char why[512];
    enum jt_err e = nvml_lib_open(&lib, "/nonexistent/jobtel-test/libnvidia-ml.so.1", why, sizeof why);
    assert_int_equal(e, JT_ERR_LIBRARY);
    assert_non_null(strstr(why, "dlopen failed: "));
    assert_non_null(strstr(why, "/nonexistent/jobtel-test/libnvidia-ml.so.1"));
    assert_closed(&lib);
    nvml_lib_close(&lib); /* safe after a failed open, and twice */
    nvml_lib_close(&lib);
    assert_closed(&lib);
}

static void test_open_missing_soname(void **state)
{
    (void)state;
    struct nvml_lib lib;
    char why[512];
    assert_int_equal(nvml_lib_open(&lib, "libjobtel-no-such-library.so.1", why, sizeof why), JT_ERR_LIBRARY);
    assert_non_null(strstr(why, "dlopen failed: "));
    assert_closed(&lib);
}

static void test_open_lib_without_nvml_symbols(void **state)
{
    (void)state;
    struct nvml_lib lib;
    char why[1024];
    enum jt_err e = nvml_lib_open(&lib, "libc.so.6", why, sizeof why);
    assert_int_equal(e, JT_ERR_LIBRARY);
    /* Names the first missing required symbol with its fallback, and the others. */
    assert_non_null(strstr(why, "missing required NVML symbol"));
    assert_non_null(strstr(why, "nvmlInit_v2 or nvmlInit"));
    assert_non_null(strstr(why, "nvmlDeviceGetCount_v2 or nvmlDeviceGetCount"));
    assert_non_null(strstr(why, "nvmlDeviceGetUUID"));
    /* Optional symbols are never reported. */
    assert_null(strstr(why, "nvmlDeviceGetFanSpeed"));
    assert_closed(&lib);
}

static void test_open_tolerates_small_or_null_why(void **state)
{
    (void)state;
    struct nvml_lib lib;
    char tiny[8];
    assert_int_equal(nvml_lib_open(&lib, "libc.so.6", NULL, 0), JT_ERR_LIBRARY);
    assert_int_equal(nvml_lib_open(&lib, "libc.so.6", tiny, sizeof tiny), JT_ERR_LIBRARY);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(nvml_lib_open(&lib, "/nonexistent/x.so", tiny, 1), JT_ERR_LIBRARY);
    assert_int_equal(tiny[0], '\0');
    assert_closed(&lib);
}

static void test_open_path_too_long(void **state)
{
    (void)state;
    struct nvml_lib lib;
    static char path[PATH_MAX + 16];
    char why[256];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    assert_int_equal(nvml_lib_open(&lib, path, why, sizeof why), JT_ERR_LIBRARY);
    assert_non_null(strstr(why, "longer than"));
    assert_closed(&lib);
}

static void test_close_null(void **state)
{
    (void)state;
    nvml_lib_close(NULL);
}

static const char *fake_lib_path(const char *branch);

/* The fake library is built with the tree: a missing one fails the test, it does not skip it. */
static void test_open_fake_if_built(void **state)
{
    (void)state;
    const char *path = fake_lib_path(NULL);
    struct nvml_lib lib;
    char why[1024];
    enum jt_err e = nvml_lib_open(&lib, path, why, sizeof why);
    if (e != JT_OK)
        fail_msg("loading %s: %s", path, why);
    assert_non_null(lib.handle);
    assert_true(lib.path[0] == '/');
    assert_non_null(lib.Init);
    assert_non_null(lib.Shutdown);
    assert_non_null(lib.ErrorString);
    assert_non_null(lib.DeviceGetCount);
    assert_non_null(lib.DeviceGetHandleByIndex);
    assert_non_null(lib.DeviceGetName);
    assert_non_null(lib.DeviceGetUUID);
    /* The full library has _v3; never the unversioned 16-byte symbols. */
    assert_non_null(lib.DeviceGetComputeRunningProcesses);
    assert_int_equal(lib.compute_procs_version, 3);
    assert_non_null(lib.DeviceGetGraphicsRunningProcesses);
    assert_int_equal(lib.graphics_procs_version, 3);
    assert_non_null(nvml_lib_strerror(&lib, NVML_ERROR_GPU_IS_LOST));
    nvml_lib_close(&lib);
    assert_closed(&lib);
}

/* FAKE_NVML_LIB (set by ctest), or `branch`'s variant next to it; fails when it is not there. */
static const char *fake_lib_path(const char *branch)
{
    static char path[PATH_MAX];
    const char *lib = getenv("FAKE_NVML_LIB");
    if (lib == NULL || lib[0] == '\0')
        lib = "tests/fake_nvml/libnvidia-ml.so.1"; /* ctest runs in the build directory */
    if (branch == NULL) {
        snprintf(path, sizeof path, "%s", lib);
    } else {
        const char *slash = strrchr(lib, '/');
        int dir = slash ? (int)(slash - lib) : 1;
        snprintf(path, sizeof path, "%.*s/%s/libnvidia-ml.so.1", dir, slash ? lib : ".", branch);
    }
    if (access(path, R_OK) != 0)
        fail_msg("the fake NVML library %s is not built", path);
    return path;
}

/* ---- nvml_procs: the record size rule and its measurement --------------------------------------- */

static void test_procs_record_size(void **state)
{
    (void)state;
    static const struct {
        unsigned version;
        const char *driver;
        size_t want;
    } cases[] = {
        {3, "535.43.02", 32},  {3, "535.54.03", 32},  {3, "535.86.05", 32},  {3, "535.86.10", 32},
        {3, "535.98", 24},     {3, "535.104.05", 24}, {3, "535.183.01", 24}, {3, "530.41.03", 24},
        {3, "525.147.05", 24}, {3, "550.144.03", 24}, {3, "545.23.06", 24},  {3, "5350.54.03", 24},
        {3, "35.54.03", 24},   {3, "535", 24},        {3, "535.x", 24},      {3, "", 24},
        {3, NULL, 24},         {2, "535.54.03", 24},  {2, "470.256.02", 24}, {1, "535.54.03", 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = nvml_procs_record_size(cases[i].version, cases[i].driver);
        if (got != cases[i].want)
            fail_msg("v%u on %s: %zu bytes, want %zu", cases[i].version,
                     cases[i].driver ? cases[i].driver : "(null)", got, cases[i].want);
    }
}

/* n records of `size` bytes written into a filled buffer, as a driver would. */
static void write_records(unsigned char *buf, size_t len, size_t n, size_t size)
{
    memset(buf, NVML_PROCS_FILL, len);
    for (size_t i = 0; i < n; i++) {
        nvmlProcessInfo_r535_t r = {.pid = (unsigned)(100 + i), .usedGpuMemory = 1ull << 30,
                                    .gpuInstanceId = NVML_INSTANCE_ID_NONE,
                                    .computeInstanceId = NVML_INSTANCE_ID_NONE, .usedGpuCcProtectedMemory = 0};
        memcpy(buf + i * size, &r, size);
    }
}

static void test_procs_measured_record_size(void **state)
{
    (void)state;
    unsigned char buf[20 * 32];
    for (size_t n = 1; n <= 12; n++) {
        write_records(buf, sizeof buf, n, 32);
        assert_int_equal(nvml_procs_measured_record_size(buf, sizeof buf, n), 32);
        write_records(buf, sizeof buf, n, 24);
        assert_int_equal(nvml_procs_measured_record_size(buf, sizeof buf, n), 24);
        write_records(buf, sizeof buf, n, 16);
        assert_int_equal(nvml_procs_measured_record_size(buf, sizeof buf, n), 16);
    }
    /* Nothing written, no records, a library that clears the whole buffer: no answer. */
    memset(buf, NVML_PROCS_FILL, sizeof buf);
    assert_int_equal(nvml_procs_measured_record_size(buf, sizeof buf, 3), 0);
    write_records(buf, sizeof buf, 3, 24);
    assert_int_equal(nvml_procs_measured_record_size(buf, sizeof buf, 0), 0);
    memset(buf, 0, sizeof buf);
    assert_int_equal(nvml_procs_measured_record_size(buf, sizeof buf, 3), 0);
    assert_int_equal(nvml_procs_measured_record_size(NULL, 0, 3), 0);
    /* A count the buffer cannot hold is never measured past its end. */
    write_records(buf, 64, 2, 32);
    assert_int_equal(nvml_procs_measured_record_size(buf, 64, 1000), 0);
}

/* ---- nvml_procs against stub drivers the fake does not imitate ----------------------------------- */

/* One stub driver at a time (these tests do not run in parallel). */
static struct {
    const char *version;       /* nvmlSystemGetDriverVersion */
    size_t record;             /* bytes per record written */
    unsigned pids[8];
    unsigned n;
    bool clear_all;            /* memset the whole buffer the caller declared first */
    unsigned extra_count;      /* add this to the count returned with SUCCESS (a count beyond the buffer) */
    unsigned grow_once;        /* the first read fails: this many more processes than the query said */
    nvmlReturn_t fail;         /* returned by every call when not SUCCESS */
    unsigned calls;
} stub;

static nvmlReturn_t stub_driver_version(char *buf, unsigned len)
{
    snprintf(buf, len, "%s", stub.version);
    return NVML_SUCCESS;
}

static nvmlReturn_t stub_procs(nvmlDevice_t dev, unsigned *count, void *infos)
{
    (void)dev;
    stub.calls++;
    if (stub.fail != NVML_SUCCESS)
        return stub.fail;
    unsigned n = stub.n;
    if (infos != NULL && stub.grow_once > 0) { /* more processes than the buffer's slack holds */
        stub.n += stub.grow_once;
        stub.grow_once = 0;
        *count = stub.n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (*count < n || (infos == NULL && n > 0)) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (stub.clear_all)
        memset(infos, 0, (size_t)*count * stub.record);
    for (unsigned i = 0; i < n; i++) {
        nvmlProcessInfo_r535_t r = {.pid = stub.pids[i], .usedGpuMemory = stub.pids[(i + 1) % n],
                                    .gpuInstanceId = NVML_INSTANCE_ID_NONE,
                                    .computeInstanceId = NVML_INSTANCE_ID_NONE, .usedGpuCcProtectedMemory = 0};
        memcpy((unsigned char *)infos + (size_t)i * stub.record, &r, stub.record);
    }
    *count = n + stub.extra_count;
    return NVML_SUCCESS;
}

/* A _v2 beside a failing _v3: the same processes at 24 bytes. */
static nvmlReturn_t stub_procs_v2(nvmlDevice_t dev, unsigned *count, void *infos)
{
    nvmlReturn_t fail = stub.fail;
    size_t record = stub.record;
    stub.fail = NVML_SUCCESS;
    stub.record = sizeof(nvmlProcessInfo_t);
    nvmlReturn_t r = stub_procs(dev, count, infos);
    stub.fail = fail;
    stub.record = record;
    return r;
}

static struct nvml_lib stub_lib(const char *version, size_t record, unsigned symbol_version)
{
    struct nvml_lib lib;
    memset(&lib, 0, sizeof lib);
    memset(&stub, 0, sizeof stub);
    static const unsigned pids[] = {1101, 1102, 1103, 1104, 1105};
    memcpy(stub.pids, pids, sizeof pids);
    stub.n = 5;
    stub.version = version;
    stub.record = record;
    lib.SystemGetDriverVersion = stub_driver_version;
    lib.DeviceGetComputeRunningProcesses = stub_procs;
    lib.compute_procs_version = symbol_version;
    return lib;
}

static void assert_pids(const unsigned *got, size_t n, const unsigned *want, size_t wn)
{
    if (n != wn)
        fail_msg("%zu pids, want %zu (first %u)", n, wn, n ? got[0] : 0);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("pid %zu is %u, want %u", i, got[i], want[i]);
}

static void test_procs_stub_drivers(void **state)
{
    (void)state;
    static const unsigned want[] = {1101, 1102, 1103, 1104, 1105};
    unsigned pids[NVML_PROCS_MAX];
    size_t n = 99;
    nvmlDevice_t dev = {NULL};

    /* The documented cases (early R535 _v3 writes 32 bytes, everything else 24), then a driver whose
     * version does not say it writes 32-byte records and one that says so but writes 24: there the
     * bytes written decide. */
    static const struct {
        const char *version;
        size_t record;
        unsigned symbol_version;
    } drivers[] = {{"535.54.03", 32, 3}, {"535.54.03", 24, 2}, {"550.144.03", 24, 3},
                   {"550.144.03", 32, 3}, {"535.54.03", 24, 3}};
    struct nvml_lib lib;
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
        lib = stub_lib(drivers[i].version, drivers[i].record, drivers[i].symbol_version);
        assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
        assert_pids(pids, n, want, 5);
    }

    /* A library that clears the whole buffer: the measurement abstains, the version rule decides. */
    static const struct {
        const char *version;
        size_t record;
    } clearing[] = {{"535.54.03", 32}, {"535.183.01", 24}};
    for (size_t c = 0; c < sizeof clearing / sizeof clearing[0]; c++) {
        for (unsigned np = 1; np <= 5; np++) {
            lib = stub_lib(clearing[c].version, clearing[c].record, 3);
            stub.clear_all = true;
            stub.n = np;
            assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
            assert_pids(pids, n, want, np);
        }
    }

    /* A count beyond the buffer is not read (ASan would see it), only the records there are. */
    lib = stub_lib("550.144.03", 24, 3);
    stub.extra_count = 100000;
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
    assert_pids(pids, n, want, 5); /* the slots after them hold the fill, no pid */

    /* Processes that start between the size query and the read: asked again. */
    lib = stub_lib("550.144.03", 24, 3);
    stub.n = 2;
    stub.grow_once = 3;
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
    assert_int_equal(stub.calls, 4);
    assert_pids(pids, n, want, 5);

    /* Impossible pids are dropped, duplicates returned once, the cap is kept. */
    lib = stub_lib("550.144.03", 24, 3);
    static const unsigned odd[] = {0, 1101, 4194305, 1101, 0xFFFFFFFFu, 1102};
    memcpy(stub.pids, odd, sizeof odd);
    stub.n = 6;
    static const unsigned sane[] = {1101, 1102};
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
    assert_pids(pids, n, sane, 2);
    lib = stub_lib("550.144.03", 24, 3);
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, 3, &n), JT_ERR_LIMIT);
    assert_pids(pids, n, want, 3);

    /* A _v3 that answers as if it were missing: the _v2 entry point is asked. */
    lib = stub_lib("550.144.03", 24, 3);
    stub.fail = NVML_ERROR_FUNCTION_NOT_FOUND;
    lib.DeviceGetComputeRunningProcesses_v2 = stub_procs_v2;
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
    assert_pids(pids, n, want, 5);

    /* Errors: nothing returned, the reason mapped. */
    lib = stub_lib("550.144.03", 24, 3);
    stub.fail = NVML_ERROR_GPU_IS_LOST;
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_ERR_GPU_LOST);
    assert_int_equal(n, 0);
    lib = stub_lib("550.144.03", 24, 3);
    stub.fail = NVML_ERROR_NOT_SUPPORTED;
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n),
                     JT_ERR_UNSUPPORTED);
    lib = stub_lib("550.144.03", 24, 3);
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_GRAPHICS, pids, NVML_PROCS_MAX, &n),
                     JT_ERR_UNSUPPORTED); /* no graphics entry point */
    lib = stub_lib("550.144.03", 24, 3);
    lib.SystemGetDriverVersion = NULL; /* unknown version: measured */
    stub.record = 32;
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
    assert_pids(pids, n, want, 5);
    stub.n = 0;
    assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
    assert_int_equal(n, 0);
}

/* ---- nvml_procs against the fake library of every driver branch ---------------------------------- */

static void test_procs_fake_branches(void **state)
{
    (void)state;
    static const struct {
        const char *branch, *library; /* the scenario's branch, the build of the fake */
        unsigned version;             /* the process symbols the loader must bind */
    } branches[] = {{"r470", "r470", 2},   {"r525", "r525", 3}, {"r535_early", "r535_early", 3},
                    {"r535", "r535", 3},   {"r550", "r550", 3},
                    {"r470", "r550", 3}}; /* _v3 exported, answering FUNCTION_NOT_FOUND: _v2 is asked */
    char scenario[] = "/tmp/jobtel-nvml-abi.XXXXXX";
    int fd = mkstemp(scenario);
    assert_true(fd >= 0);
    close(fd);
    for (size_t b = 0; b < sizeof branches / sizeof branches[0]; b++) {
        FILE *f = fopen(scenario, "w");
        assert_non_null(f);
        fprintf(f,
                "{\"driver_branch\": \"%s\", \"gpus\": [{\"name\": \"G\", "
                "\"uuid\": \"GPU-00000000-0000-4000-8000-000000000000\", \"pci_bus_id\": \"00000000:18:00.0\", "
                "\"memory_total_mib\": 1000, \"processes\": ["
                "{\"pid\": 501, \"used_memory_bytes\": 777}, {\"pid\": 502, \"type\": \"C+G\"}, "
                "{\"pid\": 503, \"used_memory_bytes\": 501}, {\"pid\": 504, \"type\": \"G\"}, "
                "{\"pid\": 505}]}]}",
                branches[b].branch);
        assert_int_equal(fclose(f), 0);
        setenv("FAKE_NVML_SCENARIO", scenario, 1);

        struct nvml_lib lib;
        char why[512];
        if (nvml_lib_open(&lib, fake_lib_path(branches[b].library), why, sizeof why) != JT_OK)
            fail_msg("%s: %s", branches[b].branch, why);
        assert_int_equal(lib.compute_procs_version, branches[b].version);
        assert_int_equal(lib.graphics_procs_version, branches[b].version);
        assert_int_equal(lib.Init(), NVML_SUCCESS);
        nvmlDevice_t dev;
        assert_int_equal(lib.DeviceGetHandleByIndex(0, &dev), NVML_SUCCESS);
        unsigned pids[NVML_PROCS_MAX];
        size_t n = 0;
        static const unsigned compute[] = {501, 502, 503, 505}, graphics[] = {502, 504},
                              both[] = {501, 502, 503, 505, 504};
        assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n), JT_OK);
        assert_pids(pids, n, compute, 4);
        assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_GRAPHICS, pids, NVML_PROCS_MAX, &n), JT_OK);
        assert_pids(pids, n, graphics, 2);
        assert_int_equal(nvml_procs_pids(&lib, dev, NVML_PROCS_COMPUTE | NVML_PROCS_GRAPHICS, pids, NVML_PROCS_MAX,
                                         &n),
                         JT_OK);
        assert_pids(pids, n, both, 5);
        assert_int_equal(lib.Shutdown(), NVML_SUCCESS);
        nvml_lib_close(&lib);
    }
    unlink(scenario);
    unsetenv("FAKE_NVML_SCENARIO");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_return_codes),
        cmocka_unit_test(test_unknown_return_code),
        cmocka_unit_test(test_return_to_jt_err),
        cmocka_unit_test(test_handles),
        cmocka_unit_test(test_pci_info_layout),
        cmocka_unit_test(test_utilization_and_memory_layout),
        cmocka_unit_test(test_memory_v2_version),
        cmocka_unit_test(test_process_info_layout),
        cmocka_unit_test(test_field_value_layout),
        cmocka_unit_test(test_event_data_layout),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_buffer_sizes_and_flags),
        cmocka_unit_test(test_event_bits),
        cmocka_unit_test(test_clock_reason_bits),
        cmocka_unit_test(test_field_ids),
        cmocka_unit_test(test_open_missing_file),
        cmocka_unit_test(test_open_missing_soname),
        cmocka_unit_test(test_open_lib_without_nvml_symbols),
        cmocka_unit_test(test_open_tolerates_small_or_null_why),
        cmocka_unit_test(test_open_path_too_long),
        cmocka_unit_test(test_close_null),
        cmocka_unit_test(test_open_fake_if_built),
        cmocka_unit_test(test_procs_record_size),
        cmocka_unit_test(test_procs_measured_record_size),
        cmocka_unit_test(test_procs_stub_drivers),
        cmocka_unit_test(test_procs_fake_branches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
