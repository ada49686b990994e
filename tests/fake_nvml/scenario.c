/* scenario.c - parse and validate a fake NVML scenario file, and evaluate its values at a time t.
 *
 * The parser is strict on purpose: an unknown key, a wrong type or an out-of-range number is an error that
 * names the JSON path ("gpus[2].values.power_mw: ..."), because a typo in a test scenario that silently turned
 * into "not supported" would make a test pass for the wrong reason. All memory of one scenario comes from one
 * allocation list, so values can share timelines (a GPU inheriting a top-level default) and freeing is one walk.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_nvml.h"

#define MIB 1048576.0
#define PATH_LEN 192
#define MAX_EXACT 9007199254740992.0 /* 2^53: integers above this are not exact in a double */

struct scenario_alloc {
    struct scenario_alloc *next;
    max_align_t data[];
};

struct perr {
    char *buf;
    size_t len;
};

/* The JSON key of every value, with the factor that turns its unit into the one NVML reports. */
struct field_key {
    const char *key;
    enum scenario_field field;
    double scale;
};

static const struct field_key field_keys[] = {
    {"gpu_util", SF_GPU_UTIL, 1},
    {"mem_util", SF_MEM_UTIL, 1},
    {"memory_used_mib", SF_MEM_USED, MIB},
    {"memory_used_bytes", SF_MEM_USED, 1},
    {"memory_reserved_mib", SF_MEM_RESERVED, MIB},
    {"memory_reserved_bytes", SF_MEM_RESERVED, 1},
    {"temperature_c", SF_TEMP, 1},
    {"memory_temperature_c", SF_MEM_TEMP, 1},
    {"power_mw", SF_POWER, 1},
    {"energy_mj", SF_ENERGY, 1},
    {"power_limit_mw", SF_POWER_LIMIT, 1},
    {"power_management_limit_mw", SF_POWER_MGMT_LIMIT, 1},
    {"clock_graphics_mhz", SF_CLOCK_GRAPHICS, 1},
    {"clock_sm_mhz", SF_CLOCK_SM, 1},
    {"clock_mem_mhz", SF_CLOCK_MEM, 1},
    {"clock_video_mhz", SF_CLOCK_VIDEO, 1},
    {"max_clock_graphics_mhz", SF_MAX_CLOCK_GRAPHICS, 1},
    {"max_clock_sm_mhz", SF_MAX_CLOCK_SM, 1},
    {"max_clock_mem_mhz", SF_MAX_CLOCK_MEM, 1},
    {"max_clock_video_mhz", SF_MAX_CLOCK_VIDEO, 1},
    {"clocks_event_reasons", SF_CLOCK_REASONS, 1},
    {"pcie_tx_kbps", SF_PCIE_TX, 1},
    {"pcie_rx_kbps", SF_PCIE_RX, 1},
    {"pcie_replay_count", SF_PCIE_REPLAY, 1},
    {"ecc_corrected_volatile", SF_ECC_CORR_VOL, 1},
    {"ecc_uncorrected_volatile", SF_ECC_UNC_VOL, 1},
    {"ecc_corrected_aggregate", SF_ECC_CORR_AGG, 1},
    {"ecc_uncorrected_aggregate", SF_ECC_UNC_AGG, 1},
    {"retired_pages_sbe", SF_RETIRED_SBE, 1},
    {"retired_pages_dbe", SF_RETIRED_DBE, 1},
    {"retired_pages_pending", SF_RETIRED_PENDING, 1},
    {"remapped_rows_corrected", SF_REMAP_CORR, 1},
    {"remapped_rows_uncorrected", SF_REMAP_UNC, 1},
    {"remapped_rows_pending", SF_REMAP_PENDING, 1},
    {"remapped_rows_failure", SF_REMAP_FAILURE, 1},
    {"fan_percent", SF_FAN, 1},
    {"encoder_util", SF_ENC_UTIL, 1},
    {"decoder_util", SF_DEC_UTIL, 1},
    {"pstate", SF_PSTATE, 1},
    {"violation_power_ns", SF_VIOL_POWER, 1},
    {"violation_thermal_ns", SF_VIOL_THERMAL, 1},
    {"violation_sync_boost_ns", SF_VIOL_SYNC_BOOST, 1},
    {"violation_board_limit_ns", SF_VIOL_BOARD_LIMIT, 1},
    {"violation_low_util_ns", SF_VIOL_LOW_UTIL, 1},
    {"violation_reliability_ns", SF_VIOL_RELIABILITY, 1},
    {"violation_total_app_clocks_ns", SF_VIOL_APP_CLOCKS, 1},
    {"violation_total_base_clocks_ns", SF_VIOL_BASE_CLOCKS, 1},
    {"nvlink_crc_flit_errors", SF_NVLINK_CRC_FLIT, 1},
    {"nvlink_crc_data_errors", SF_NVLINK_CRC_DATA, 1},
    {"nvlink_replay_errors", SF_NVLINK_REPLAY, 1},
    {"nvlink_recovery_errors", SF_NVLINK_RECOVERY, 1},
    {"nvlink_data_tx_kib", SF_NVLINK_DATA_TX, 1},
    {"nvlink_data_rx_kib", SF_NVLINK_DATA_RX, 1},
    {"nvlink_raw_tx_kib", SF_NVLINK_RAW_TX, 1},
    {"nvlink_raw_rx_kib", SF_NVLINK_RAW_RX, 1},
    {"nvlink_bandwidth_c0_total", SF_NVLINK_BW_C0, 1},
    {"gpm_graphics_util", SF_GPM_GRAPHICS_UTIL, 1},
    {"gpm_sm_util", SF_GPM_SM_UTIL, 1},
    {"gpm_sm_occupancy", SF_GPM_SM_OCCUPANCY, 1},
    {"gpm_integer_util", SF_GPM_INTEGER_UTIL, 1},
    {"gpm_any_tensor_util", SF_GPM_ANY_TENSOR_UTIL, 1},
    {"gpm_dram_bw_util", SF_GPM_DRAM_BW_UTIL, 1},
    {"gpm_fp64_util", SF_GPM_FP64_UTIL, 1},
    {"gpm_fp32_util", SF_GPM_FP32_UTIL, 1},
    {"gpm_fp16_util", SF_GPM_FP16_UTIL, 1},
    {"gpm_pcie_tx_mibps", SF_GPM_PCIE_TX, 1},
    {"gpm_pcie_rx_mibps", SF_GPM_PCIE_RX, 1},
    {"gpm_nvlink_total_rx_mibps", SF_GPM_NVLINK_RX, 1},
    {"gpm_nvlink_total_tx_mibps", SF_GPM_NVLINK_TX, 1},
};

/* nvmlGpmMetricId_t of each GPM field (gpu-apis.md A.3; NVLink puts RX before TX). */
static const struct {
    enum scenario_field field;
    unsigned int id;
} gpm_ids[] = {
    {SF_GPM_GRAPHICS_UTIL, 1}, {SF_GPM_SM_UTIL, 2},    {SF_GPM_SM_OCCUPANCY, 3}, {SF_GPM_INTEGER_UTIL, 4},
    {SF_GPM_ANY_TENSOR_UTIL, 5}, {SF_GPM_DRAM_BW_UTIL, 10}, {SF_GPM_FP64_UTIL, 11}, {SF_GPM_FP32_UTIL, 12},
    {SF_GPM_FP16_UTIL, 13},    {SF_GPM_PCIE_TX, 20},   {SF_GPM_PCIE_RX, 21},     {SF_GPM_NVLINK_RX, 60},
    {SF_GPM_NVLINK_TX, 61},
};

unsigned int scenario_gpm_metric_id(enum scenario_field f)
{
    for (size_t i = 0; i < sizeof(gpm_ids) / sizeof(gpm_ids[0]); i++)
        if (gpm_ids[i].field == f)
            return gpm_ids[i].id;
    return 0;
}

enum scenario_field scenario_gpm_field(unsigned int id)
{
    for (size_t i = 0; i < sizeof(gpm_ids) / sizeof(gpm_ids[0]); i++)
        if (gpm_ids[i].id == id)
            return gpm_ids[i].field;
    return SF_COUNT;
}

bool scenario_gpm_supported(const struct scenario_value *values)
{
    for (size_t i = 0; i < sizeof(gpm_ids) / sizeof(gpm_ids[0]); i++)
        if (values[gpm_ids[i].field].kind == SV_CURVE)
            return true;
    return false;
}

/* The calls a fault may name; a typo in "call" is then a load error instead of a fault that never fires. */
static const char *const known_calls[] = {
    "nvmlInit_v2", "nvmlInit", "nvmlInitWithFlags", "nvmlShutdown", "nvmlSystemGetDriverVersion",
    "nvmlSystemGetNVMLVersion", "nvmlSystemGetCudaDriverVersion", "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetHandleByUUID", "nvmlDeviceGetName",
    "nvmlDeviceGetUUID", "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetMinorNumber", "nvmlDeviceGetIndex",
    "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetTemperature", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit", "nvmlDeviceGetClockInfo",
    "nvmlDeviceGetMaxClockInfo", "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetCurrentClocksThrottleReasons", "nvmlDeviceGetPcieThroughput", "nvmlDeviceGetTotalEccErrors",
    "nvmlDeviceGetRetiredPages", "nvmlDeviceGetRetiredPagesPendingStatus", "nvmlDeviceGetRemappedRows",
    "nvmlDeviceGetFanSpeed", "nvmlDeviceGetEncoderUtilization", "nvmlDeviceGetDecoderUtilization",
    "nvmlDeviceGetPerformanceState", "nvmlDeviceGetFieldValues", "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetComputeRunningProcesses_v2", "nvmlDeviceGetComputeRunningProcesses",
    "nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2",
    "nvmlDeviceGetGraphicsRunningProcesses", "nvmlEventSetCreate",
    "nvmlEventSetFree", "nvmlDeviceRegisterEvents", "nvmlDeviceGetSupportedEventTypes", "nvmlEventSetWait_v2",
    "nvmlDeviceGetMigMode", "nvmlDeviceGetMaxMigDeviceCount", "nvmlDeviceGetMigDeviceHandleByIndex",
    "nvmlDeviceIsMigDeviceHandle", "nvmlDeviceGetDeviceHandleFromMigDeviceHandle", "nvmlDeviceGetGpuInstanceId",
    "nvmlDeviceGetComputeInstanceId", "nvmlGpmQueryDeviceSupport", "nvmlGpmSampleAlloc", "nvmlGpmSampleFree",
    "nvmlGpmSampleGet", "nvmlGpmMigSampleGet", "nvmlGpmMetricsGet", "nvmlDeviceGetProcessUtilization",
};

/* What each driver branch looks like to a caller of the library. Versions and first appearances are from
 * shared/reference/gpu-apis.md §1.4/§1.5 and the nvidia-settings header history quoted in nvitop#88/#89/#94:
 * 510.39 added the _v3 process calls with the 24-byte record; 535.43.02 made them write a 32-byte record (an extra
 * u64 usedGpuCcProtectedMemory) without a version bump; 535.98 dropped them; 535.104.05 brought them back with the
 * 24-byte record, which later branches keep. The defaults are releases that shipped on DGX OS / in the CUDA
 * repositories. */
static const struct scenario_branch_abi branch_abis[SB_COUNT] = {
    [SB_R470] = {"r470", "470.256.02", "11", 11040, 0, SE_R470, 470, 470, 0, UINT_MAX},
    [SB_R525] = {"r525", "525.147.05", "12", 12000, 24, SE_R525, 525, 525, 0, UINT_MAX},
    [SB_R535_EARLY] = {"r535_early", "535.54.03", "12", 12020, 32, SE_ALL, 535, 535, 0, 97},
    [SB_R535] = {"r535", "535.183.01", "12", 12020, 24, SE_ALL, 535, 535, 104, UINT_MAX},
    [SB_R550] = {"r550", "550.144.03", "12", 12040, 24, SE_ALL, 550, UINT_MAX, 0, UINT_MAX},
};

const struct scenario_branch_abi *scenario_branch_abi(enum scenario_branch b)
{
    return &branch_abis[(unsigned int)b < SB_COUNT ? b : SB_R550];
}

const char *scenario_exports_name(enum scenario_exports x)
{
    switch (x) {
    case SE_R470:
        return "r470";
    case SE_R525:
        return "r525";
    case SE_ALL:
        break;
    }
    return "all";
}

static const struct {
    const char *name;
    int code;
} return_names[] = {
    {"SUCCESS", 0},
    {"UNINITIALIZED", 1},
    {"INVALID_ARGUMENT", 2},
    {"NOT_SUPPORTED", 3},
    {"NO_PERMISSION", 4},
    {"ALREADY_INITIALIZED", 5},
    {"NOT_FOUND", 6},
    {"INSUFFICIENT_SIZE", 7},
    {"INSUFFICIENT_POWER", 8},
    {"DRIVER_NOT_LOADED", 9},
    {"TIMEOUT", 10},
    {"IRQ_ISSUE", 11},
    {"LIBRARY_NOT_FOUND", 12},
    {"FUNCTION_NOT_FOUND", 13},
    {"CORRUPTED_INFOROM", 14},
    {"GPU_IS_LOST", 15},
    {"RESET_REQUIRED", 16},
    {"OPERATING_SYSTEM", 17},
    {"LIB_RM_VERSION_MISMATCH", 18},
    {"IN_USE", 19},
    {"MEMORY", 20},
    {"NO_DATA", 21},
    {"VGPU_ECC_NOT_SUPPORTED", 22},
    {"INSUFFICIENT_RESOURCES", 23},
    {"FREQ_NOT_SUPPORTED", 24},
    {"ARGUMENT_VERSION_MISMATCH", 25},
    {"DEPRECATED", 26},
    {"NOT_READY", 27},
    {"GPU_NOT_FOUND", 28},
    {"INVALID_STATE", 29},
    {"RESET_TYPE_NOT_SUPPORTED", 30},
    {"UNKNOWN", 999},
};

/* ---- errors and paths ---- */

__attribute__((format(printf, 3, 4))) static bool fail(struct perr *e, const char *path, const char *fmt, ...)
{
    size_t used = 0;
    if (path && path[0]) {
        int n = snprintf(e->buf, e->len, "%s: ", path);
        used = n < 0 ? 0 : (size_t)n;
    }
    if (used < e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf + used, e->len - used, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* dst = base + sep + part, with part cut at 64 bytes and the whole at PATH_LEN; a cut path is still useful. */
static void path_make(char *dst, const char *base, const char *sep, const char *part)
{
    const char *pieces[3] = {base, sep, part};
    const size_t limits[3] = {PATH_LEN, PATH_LEN, 64};
    size_t n = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; pieces[i][k] && k < limits[i] && n + 1 < PATH_LEN; k++)
            dst[n++] = pieces[i][k];
    dst[n] = '\0';
}

static void path_key(char *dst, const char *base, const char *key)
{
    path_make(dst, base, base[0] ? "." : "", key);
}

static void path_idx(char *dst, const char *base, size_t idx)
{
    char num[32];
    snprintf(num, sizeof(num), "[%zu]", idx);
    path_make(dst, base, "", num);
}

/* ---- allocation ---- */

static void *scn_calloc(struct scenario *scn, size_t n, size_t size)
{
    if (size != 0 && n > (SIZE_MAX - sizeof(struct scenario_alloc)) / size)
        return NULL;
    struct scenario_alloc *a = calloc(1, sizeof(*a) + n * size);
    if (!a)
        return NULL;
    a->next = scn->allocs;
    scn->allocs = a;
    return a->data;
}

void scenario_free(struct scenario *scn)
{
    if (!scn)
        return;
    struct scenario_alloc *a = scn->allocs;
    while (a) {
        struct scenario_alloc *next = a->next;
        free(a);
        a = next;
    }
    free(scn);
}

/* ---- JSON scalars ---- */

/* "0x" followed by 1 to 16 hex digits, nothing else. */
static bool parse_hex(const char *s, unsigned long long *out)
{
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    s += 2;
    unsigned long long v = 0;
    size_t n = 0;
    for (; *s; s++, n++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (n >= 16)
            return false;
        v = v << 4 | d;
    }
    if (n == 0)
        return false;
    *out = v;
    return true;
}

/* A number: JSON integer, JSON real, or a "0x..." string (handy for bit masks). */
static bool get_number(const json_t *j, double *out)
{
    unsigned long long u;
    if (json_is_integer(j))
        *out = (double)json_integer_value(j);
    else if (json_is_real(j))
        *out = json_real_value(j);
    else if (json_is_string(j) && parse_hex(json_string_value(j), &u))
        *out = (double)u;
    else
        return false;
    return isfinite(*out);
}

static bool get_uint(const json_t *j, unsigned long long max, unsigned long long *out, struct perr *e,
                     const char *path)
{
    unsigned long long u;
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        if (v < 0)
            return fail(e, path, "must not be negative");
        u = (unsigned long long)v;
    } else if (!(json_is_string(j) && parse_hex(json_string_value(j), &u))) {
        return fail(e, path, "expected a non-negative integer or a \"0x...\" string");
    }
    if (u > max)
        return fail(e, path, "%llu is larger than the maximum %llu", u, max);
    *out = u;
    return true;
}

static bool get_u32(const json_t *j, unsigned int max, unsigned int *out, struct perr *e, const char *path)
{
    unsigned long long u;
    if (!get_uint(j, max, &u, e, path))
        return false;
    *out = (unsigned int)u;
    return true;
}

static bool get_time(const json_t *j, double *out, struct perr *e, const char *path)
{
    if (!json_is_number(j) || !get_number(j, out))
        return fail(e, path, "expected a number of seconds");
    if (fabs(*out) > 1e12)
        return fail(e, path, "time out of range");
    return true;
}

/* Copies a printable string of at most cap-1 bytes. */
static bool get_string(const json_t *j, char *dst, size_t cap, struct perr *e, const char *path)
{
    if (!json_is_string(j))
        return fail(e, path, "expected a string");
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    if (n == 0)
        return fail(e, path, "must not be empty");
    if (n >= cap)
        return fail(e, path, "longer than %zu bytes", cap - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fail(e, path, "contains a control character");
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool get_object(const json_t *j, struct perr *e, const char *path)
{
    return json_is_object(j) ? true : fail(e, path, "expected an object");
}

static bool get_array(const json_t *j, size_t max, struct perr *e, const char *path)
{
    if (!json_is_array(j))
        return fail(e, path, "expected an array");
    if (json_array_size(j) > max)
        return fail(e, path, "more than %zu entries", max);
    return true;
}

/* Every key of obj must be in allowed (NULL-terminated) or be "comment". */
static bool check_keys(const json_t *obj, const char *const *allowed, struct perr *e, const char *path)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        (void)val;
        if (strcmp(key, "comment") == 0)
            continue;
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0) {
                ok = true;
                break;
            }
        if (!ok)
            return fail(e, path, "unknown key \"%.64s\"", key);
    }
    return true;
}

int scenario_return_code(const char *name)
{
    const char *prefix = "NVML_ERROR_";
    if (strncmp(name, prefix, strlen(prefix)) == 0)
        name += strlen(prefix);
    else if (strcmp(name, "NVML_SUCCESS") == 0)
        name = "SUCCESS";
    for (size_t i = 0; i < sizeof(return_names) / sizeof(return_names[0]); i++)
        if (strcmp(name, return_names[i].name) == 0)
            return return_names[i].code;
    return -1;
}

bool scenario_fault_same(const struct scenario_fault *a, const struct scenario_fault *b)
{
    return strcmp(a->call, b->call) == 0 && a->prefix == b->prefix && a->any_gpu == b->any_gpu &&
           a->gpu == b->gpu && a->has_field == b->has_field && a->field_id == b->field_id && a->ret == b->ret &&
           a->hang_ms == b->hang_ms && a->from == b->from && a->until == b->until && a->times == b->times &&
           a->skip_given == b->skip_given;
}

/* ---- values ---- */

static const struct field_key *field_key_find(const char *key)
{
    for (size_t i = 0; i < sizeof(field_keys) / sizeof(field_keys[0]); i++)
        if (strcmp(key, field_keys[i].key) == 0)
            return &field_keys[i];
    return NULL;
}

static const char *field_key_name(enum scenario_field f)
{
    for (size_t i = 0; i < sizeof(field_keys) / sizeof(field_keys[0]); i++)
        if (field_keys[i].field == f)
            return field_keys[i].key;
    return "?";
}

/* A timeline: [[t, v], ...] with t non-decreasing and v a number or null. */
static bool parse_points(struct scenario *scn, const json_t *arr, struct scenario_curve *c, struct perr *e,
                         const char *path)
{
    if (!get_array(arr, SCENARIO_MAX_POINTS, e, path))
        return false;
    size_t n = json_array_size(arr);
    if (n == 0)
        return fail(e, path, "a timeline needs at least one point");
    struct scenario_point *pts = scn_calloc(scn, n, sizeof(*pts));
    if (!pts)
        return fail(e, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char p[PATH_LEN];
        path_idx(p, path, i);
        const json_t *pt = json_array_get(arr, i);
        if (!json_is_array(pt) || json_array_size(pt) != 2)
            return fail(e, p, "expected a [seconds, value] pair");
        if (!get_time(json_array_get(pt, 0), &pts[i].t, e, p))
            return false;
        if (i > 0 && pts[i].t < pts[i - 1].t)
            return fail(e, p, "times must not decrease");
        const json_t *v = json_array_get(pt, 1);
        if (json_is_null(v)) {
            pts[i].has = false;
        } else if (get_number(v, &pts[i].v)) {
            pts[i].has = true;
        } else {
            return fail(e, p, "value must be a number, a \"0x...\" string or null");
        }
    }
    c->pts = pts;
    c->n = n;
    return true;
}

/* A curve: a number, a [[t, v], ...] step timeline, or {"timeline": [...], "interp": ..., "period": ...}. */
static bool parse_curve(struct scenario *scn, const json_t *j, struct scenario_curve *c, struct perr *e,
                        const char *path)
{
    memset(c, 0, sizeof(*c));
    if (get_number(j, &c->c))
        return true;
    if (json_is_array(j))
        return parse_points(scn, j, c, e, path);
    if (!json_is_object(j))
        return fail(e, path, "expected a number, a timeline array or an object");
    static const char *const keys[] = {"timeline", "interp", "period", "average", NULL};
    if (!check_keys(j, keys, e, path))
        return false;
    char p[PATH_LEN];
    const json_t *tl = json_object_get(j, "timeline");
    path_key(p, path, "timeline");
    if (!tl)
        return fail(e, path, "needs \"timeline\" (or \"rate\")");
    if (!parse_points(scn, tl, c, e, p))
        return false;
    const json_t *interp = json_object_get(j, "interp");
    if (interp) {
        path_key(p, path, "interp");
        const char *s = json_is_string(interp) ? json_string_value(interp) : "";
        if (strcmp(s, "linear") == 0)
            c->linear = true;
        else if (strcmp(s, "step") != 0)
            return fail(e, p, "expected \"step\" or \"linear\"");
    }
    const json_t *period = json_object_get(j, "period");
    if (period) {
        path_key(p, path, "period");
        if (!get_time(period, &c->period, e, p))
            return false;
        if (!(c->period > 0))
            return fail(e, p, "must be positive");
    }
    const json_t *avg = json_object_get(j, "average");
    if (avg) {
        path_key(p, path, "average");
        if (!get_time(avg, &c->average, e, p))
            return false;
        if (!(c->average > 0) || c->average > 3600)
            return fail(e, p, "must be a window of seconds in (0, 3600]");
    }
    return true;
}

/* A value: null, a curve, or a counter {"rate": curve or "field_key", "initial": n}. allow_ref permits a rate
 * that names another field of the same GPU; it is resolved by resolve_rates() after defaults are merged. */
static bool parse_value(struct scenario *scn, const json_t *j, double scale, bool allow_ref, struct scenario_value *v,
                        struct perr *e, const char *path)
{
    memset(v, 0, sizeof(*v));
    v->scale = scale;
    v->rate_ref = -1;
    if (json_is_null(j)) {
        v->kind = SV_NULL;
        return true;
    }
    if (!json_is_object(j) || !json_object_get(j, "rate")) {
        v->kind = SV_CURVE;
        return parse_curve(scn, j, &v->curve, e, path);
    }
    static const char *const keys[] = {"rate", "initial", NULL};
    if (!check_keys(j, keys, e, path))
        return false;
    char p[PATH_LEN];
    v->kind = SV_RATE;
    v->rate_scale = scale;
    const json_t *rate = json_object_get(j, "rate");
    path_key(p, path, "rate");
    if (json_is_string(rate) && !parse_hex(json_string_value(rate), &(unsigned long long){0})) {
        const struct field_key *fk = field_key_find(json_string_value(rate));
        if (!allow_ref)
            return fail(e, p, "a rate that names a field is only allowed in \"values\"");
        if (!fk)
            return fail(e, p, "\"%.64s\" is not a value key", json_string_value(rate));
        v->rate_ref = (int)fk->field;
    } else if (!parse_curve(scn, rate, &v->curve, e, p)) {
        return false;
    }
    const json_t *initial = json_object_get(j, "initial");
    if (initial) {
        path_key(p, path, "initial");
        if (!get_number(initial, &v->initial))
            return fail(e, p, "expected a number");
    }
    return true;
}

/* Fills values[] from a "values" object. Keys outside only_fields (when given) are rejected. */
static bool parse_values(struct scenario *scn, const json_t *obj, struct scenario_value *values,
                         const enum scenario_field *only_fields, size_t nonly, bool allow_ref, struct perr *e,
                         const char *path)
{
    if (!get_object(obj, e, path))
        return false;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        if (strcmp(key, "comment") == 0)
            continue;
        char p[PATH_LEN];
        path_key(p, path, key);
        const struct field_key *fk = field_key_find(key);
        bool allowed = fk != NULL;
        if (fk && only_fields) {
            allowed = false;
            for (size_t i = 0; i < nonly; i++)
                allowed = allowed || only_fields[i] == fk->field;
        }
        if (!allowed)
            return fail(e, path, "unknown value key \"%.64s\"", key);
        if (values[fk->field].kind != SV_ABSENT)
            return fail(e, p, "the same value is given twice (in MiB and in bytes?)");
        if (!parse_value(scn, val, fk->scale, allow_ref, &values[fk->field], e, p))
            return false;
    }
    return true;
}

/* Memory-like keys that sit directly in an object with a _mib / _bytes suffix ("used_memory_mib"). */
static bool parse_unit_value(struct scenario *scn, const json_t *obj, const char *stem, struct scenario_value *v,
                             struct perr *e, const char *path)
{
    char kmib[64], kbytes[64], p[PATH_LEN];
    snprintf(kmib, sizeof(kmib), "%s_mib", stem);
    snprintf(kbytes, sizeof(kbytes), "%s_bytes", stem);
    const json_t *jm = json_object_get(obj, kmib);
    const json_t *jb = json_object_get(obj, kbytes);
    memset(v, 0, sizeof(*v));
    if (jm && jb)
        return fail(e, path, "give either \"%s\" or \"%s\", not both", kmib, kbytes);
    if (!jm && !jb)
        return true;
    path_key(p, path, jm ? kmib : kbytes);
    return parse_value(scn, jm ? jm : jb, jm ? MIB : 1.0, false, v, e, p);
}

static bool parse_memory_total(const json_t *obj, unsigned long long *out, struct perr *e, const char *path)
{
    const json_t *jm = json_object_get(obj, "memory_total_mib");
    const json_t *jb = json_object_get(obj, "memory_total_bytes");
    char p[PATH_LEN];
    unsigned long long u;
    if (jm && jb)
        return fail(e, path, "give either \"memory_total_mib\" or \"memory_total_bytes\", not both");
    if (!jm && !jb)
        return fail(e, path, "\"memory_total_mib\" (or \"memory_total_bytes\") is required");
    path_key(p, path, jm ? "memory_total_mib" : "memory_total_bytes");
    if (!get_uint(jm ? jm : jb, jm ? (1ULL << 33) : (1ULL << 53), &u, e, p))
        return false;
    if (u == 0)
        return fail(e, p, "must be positive");
    *out = jm ? u << 20 : u;
    return true;
}

/* Resolves {"rate": "power_mw"}: the counter integrates that field's curve, in that field's unit. */
static bool resolve_rates(struct scenario_value *values, struct perr *e, const char *path)
{
    for (size_t f = 0; f < SF_COUNT; f++) {
        struct scenario_value *v = &values[f];
        if (v->kind != SV_RATE || v->rate_ref < 0)
            continue;
        const struct scenario_value *ref = &values[v->rate_ref];
        if (ref->kind != SV_CURVE) {
            char p[PATH_LEN];
            path_key(p, path, field_key_name((enum scenario_field)f));
            return fail(e, p, "the rate names a field that is not a constant or timeline for this GPU");
        }
        v->curve = ref->curve;
        v->rate_scale = ref->scale;
        v->rate_ref = -1;
    }
    return true;
}

/* ---- evaluation ---- */

static double curve_integral(const struct scenario_curve *c, double t);

static bool curve_at(const struct scenario_curve *c, double t, double *out)
{
    if (c->average > 0 && c->n > 0) {
        /* The mean over the window just ended (from 0 while the window reaches before the start). */
        if (t < c->pts[0].t && !(c->period > 0))
            return false;
        double a = t - c->average < 0 ? 0 : t - c->average;
        if (!(t > a))
            return false;
        *out = (curve_integral(c, t) - curve_integral(c, a)) / (t - a);
        return true;
    }
    if (c->n == 0) {
        *out = c->c;
        return true;
    }
    if (c->period > 0 && t >= 0)
        t = fmod(t, c->period);
    const struct scenario_point *p = c->pts;
    if (t < p[0].t)
        return false;
    size_t lo = 0, hi = c->n; /* find the last point with p[i].t <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p[mid].t <= t)
            lo = mid;
        else
            hi = mid;
    }
    if (!p[lo].has)
        return false;
    *out = p[lo].v;
    if (c->linear && lo + 1 < c->n && p[lo + 1].has && p[lo + 1].t > p[lo].t)
        *out += (p[lo + 1].v - p[lo].v) * (t - p[lo].t) / (p[lo + 1].t - p[lo].t);
    return true;
}

/* Integral of the curve over [a, b], 0 <= a <= b, ignoring the period; no value counts as 0. */
static double curve_integral_span(const struct scenario_curve *c, double a, double b)
{
    if (c->n == 0)
        return c->c * (b - a);
    double sum = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct scenario_point *p = &c->pts[i];
        double seg_end = i + 1 < c->n ? c->pts[i + 1].t : INFINITY;
        double lo = fmax(a, p->t), hi = fmin(b, seg_end);
        if (!(hi > lo) || !p->has)
            continue;
        if (c->linear && i + 1 < c->n && c->pts[i + 1].has && seg_end > p->t) {
            double slope = (c->pts[i + 1].v - p->v) / (seg_end - p->t);
            double flo = p->v + slope * (lo - p->t), fhi = p->v + slope * (hi - p->t);
            sum += (hi - lo) * (flo + fhi) / 2;
        } else {
            sum += p->v * (hi - lo);
        }
    }
    return sum;
}

static double curve_integral(const struct scenario_curve *c, double t)
{
    if (!(t > 0))
        return 0;
    if (c->n > 0 && c->period > 0) {
        double cycles = floor(t / c->period);
        double rest = t - cycles * c->period;
        return cycles * curve_integral_span(c, 0, c->period) + curve_integral_span(c, 0, rest);
    }
    return curve_integral_span(c, 0, t);
}

bool scenario_gpu_lost(const struct scenario_gpu *g, double t, unsigned int *returns)
{
    unsigned int back = 0;
    bool lost = false;
    for (size_t i = 0; i < g->nlosses; i++) {
        if (t >= g->losses[i].until)
            back++;
        else if (t >= g->losses[i].from)
            lost = true;
    }
    if (returns)
        *returns = back;
    return lost;
}

const char *scenario_gpu_uuid(const struct scenario_gpu *g, double t)
{
    if (g->return_uuid[0] && g->nlosses && t >= g->losses[g->nlosses - 1].until)
        return g->return_uuid;
    return g->uuid;
}

bool scenario_value_at(const struct scenario_value *v, double t, double *out)
{
    double x;
    switch (v->kind) {
    case SV_ABSENT:
    case SV_NULL:
        return false;
    case SV_CURVE:
        if (!curve_at(&v->curve, t, &x))
            return false;
        *out = x * v->scale;
        return true;
    case SV_RATE:
        if (v->rate_ref >= 0)
            return false;
        *out = v->initial * v->scale + curve_integral(&v->curve, t) * v->rate_scale;
        return isfinite(*out);
    }
    return false;
}

bool scenario_value_mean(const struct scenario_value *v, double t1, double t2, double *out)
{
    if (v->kind != SV_CURVE || !(t2 > t1))
        return false;
    const struct scenario_curve *c = &v->curve;
    double x;
    /* A window that touches "no value" has no mean: the real driver reports the metric as unavailable. */
    if (!curve_at(c, t1, &x) || !curve_at(c, t2, &x))
        return false;
    for (size_t i = 0; i < c->n && c->period == 0; i++)
        if (!c->pts[i].has && c->pts[i].t > t1 && c->pts[i].t < t2)
            return false;
    double area;
    if (c->n == 0)
        area = c->c * (t2 - t1);
    else if (t1 >= 0)
        area = curve_integral(c, t2) - curve_integral(c, t1);
    else
        area = curve_integral_span(c, t1, t2);
    *out = area / (t2 - t1) * v->scale;
    return isfinite(*out);
}

/* ---- structure ---- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A stable "MIG-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" derived from the parent UUID and the instance ids. */
static void synth_mig_uuid(char *dst, size_t cap, const char *parent, unsigned int gi, unsigned int ci)
{
    unsigned int ids[2] = {gi, ci};
    uint64_t a = fnv1a(fnv1a(0xcbf29ce484222325ULL, parent, strlen(parent)), ids, sizeof(ids));
    uint64_t b = fnv1a(a ^ 0x9e3779b97f4a7c15ULL, ids, sizeof(ids));
    snprintf(dst, cap, "MIG-%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffffu,
             (unsigned)a & 0xffffu, (unsigned)(b >> 48), (unsigned long long)(b & 0xffffffffffffULL));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads exactly ndigits hex digits (ndigits <= 8). */
static bool hex_field(const char **s, size_t ndigits, unsigned int *out)
{
    unsigned int v = 0;
    for (size_t i = 0; i < ndigits; i++) {
        int d = hexval((*s)[i]);
        if (d < 0)
            return false;
        v = v << 4 | (unsigned)d;
    }
    *s += ndigits;
    *out = v;
    return true;
}

/* "DDDDDDDD:BB:DD.F" or the legacy "DDDD:BB:DD.F", hex, either case. */
static bool parse_bus_id(struct scenario_gpu *g, const char *s)
{
    size_t dlen = strcspn(s, ":");
    unsigned int fn;
    if ((dlen != 8 && dlen != 4) || !hex_field(&s, dlen, &g->domain) || *s++ != ':' ||
        !hex_field(&s, 2, &g->bus) || *s++ != ':' || !hex_field(&s, 2, &g->device) || *s++ != '.' || *s < '0' ||
        *s > '7' || s[1] != '\0')
        return false;
    fn = (unsigned)(*s - '0');
    if (g->device > 0x1f)
        return false;
    snprintf(g->bus_id, sizeof(g->bus_id), "%08X:%02X:%02X.%u", g->domain, g->bus, g->device, fn);
    snprintf(g->bus_id_legacy, sizeof(g->bus_id_legacy), "%04X:%02X:%02X.%u", g->domain & 0xffffu, g->bus,
             g->device, fn);
    return true;
}

static bool parse_procs(struct scenario *scn, const json_t *arr, struct scenario_gpu *g, struct perr *e,
                        const char *path)
{
    static const char *const keys[] = {"pid",  "used_memory_mib", "used_memory_bytes", "from", "until",
                                       "type", "gpu_instance_id", "compute_instance_id", "sm_util", NULL};
    if (!get_array(arr, SCENARIO_MAX_PROCS, e, path))
        return false;
    g->nprocs = json_array_size(arr);
    g->procs = scn_calloc(scn, g->nprocs, sizeof(*g->procs));
    if (g->nprocs && !g->procs)
        return fail(e, path, "out of memory");
    for (size_t i = 0; i < g->nprocs; i++) {
        struct scenario_proc *pr = &g->procs[i];
        const json_t *o = json_array_get(arr, i);
        char p[PATH_LEN], q[PATH_LEN];
        path_idx(p, path, i);
        if (!get_object(o, e, p) || !check_keys(o, keys, e, p))
            return false;
        const json_t *pid = json_object_get(o, "pid");
        path_key(q, p, "pid");
        if (!pid)
            return fail(e, p, "\"pid\" is required");
        if (!get_u32(pid, 0x7fffffffu, &pr->pid, e, q))
            return false;
        if (!parse_unit_value(scn, o, "used_memory", &pr->mem, e, p))
            return false;
        const json_t *sm = json_object_get(o, "sm_util");
        path_key(q, p, "sm_util");
        if (sm && !parse_value(scn, sm, 1, false, &pr->sm_util, e, q))
            return false;
        pr->from = -INFINITY;
        pr->until = INFINITY;
        const json_t *from = json_object_get(o, "from"), *until = json_object_get(o, "until");
        path_key(q, p, "from");
        if (from && !get_time(from, &pr->from, e, q))
            return false;
        path_key(q, p, "until");
        if (until && !get_time(until, &pr->until, e, q))
            return false;
        const json_t *type = json_object_get(o, "type");
        const char *ts = type && json_is_string(type) ? json_string_value(type) : type ? "" : "C";
        pr->compute = strcmp(ts, "C") == 0 || strcmp(ts, "C+G") == 0;
        pr->graphics = strcmp(ts, "G") == 0 || strcmp(ts, "C+G") == 0;
        path_key(q, p, "type");
        if (!pr->compute && !pr->graphics)
            return fail(e, q, "expected \"C\", \"G\" or \"C+G\"");
        pr->gi = pr->ci = NVML_NO_INSTANCE_ID;
        const json_t *gi = json_object_get(o, "gpu_instance_id"), *ci = json_object_get(o, "compute_instance_id");
        path_key(q, p, "gpu_instance_id");
        if (gi && !get_u32(gi, 0xfffffffeu, &pr->gi, e, q))
            return false;
        path_key(q, p, "compute_instance_id");
        if (ci && !gi)
            return fail(e, q, "needs \"gpu_instance_id\" as well");
        if (gi)
            pr->ci = 0;
        if (ci && !get_u32(ci, 0xfffffffeu, &pr->ci, e, q))
            return false;
    }
    return true;
}

static bool parse_mig(struct scenario *scn, const json_t *o, struct scenario_gpu *g, struct perr *e,
                      const char *path)
{
    static const char *const keys[] = {"mode", "pending_mode", "max_devices", "instances", NULL};
    static const char *const ikeys[] = {"index",
                                        "gpu_instance_id",
                                        "compute_instance_id",
                                        "profile",
                                        "uuid",
                                        "memory_total_mib",
                                        "memory_total_bytes",
                                        "memory_used_mib",
                                        "memory_used_bytes",
                                        "memory_reserved_mib",
                                        "memory_reserved_bytes",
                                        "values",
                                        NULL};
    static const enum scenario_field gpm_only[] = {
        SF_GPM_GRAPHICS_UTIL, SF_GPM_SM_UTIL,   SF_GPM_SM_OCCUPANCY, SF_GPM_INTEGER_UTIL, SF_GPM_ANY_TENSOR_UTIL,
        SF_GPM_DRAM_BW_UTIL,  SF_GPM_FP64_UTIL, SF_GPM_FP32_UTIL,    SF_GPM_FP16_UTIL,    SF_GPM_PCIE_TX,
        SF_GPM_PCIE_RX,       SF_GPM_NVLINK_RX, SF_GPM_NVLINK_TX};
    char p[PATH_LEN], q[PATH_LEN];
    if (!get_object(o, e, path) || !check_keys(o, keys, e, path))
        return false;
    g->mig_capable = true;
    g->mig_mode = 1;
    g->mig_max = 7;
    const json_t *j;
    path_key(p, path, "mode");
    if ((j = json_object_get(o, "mode")) && !get_u32(j, 1, &g->mig_mode, e, p))
        return false;
    g->mig_pending = g->mig_mode;
    path_key(p, path, "pending_mode");
    if ((j = json_object_get(o, "pending_mode")) && !get_u32(j, 1, &g->mig_pending, e, p))
        return false;
    path_key(p, path, "max_devices");
    if ((j = json_object_get(o, "max_devices")) && !get_u32(j, SCENARIO_MAX_MIG, &g->mig_max, e, p))
        return false;
    const json_t *inst = json_object_get(o, "instances");
    path_key(p, path, "instances");
    if (!inst)
        return true;
    if (!get_array(inst, g->mig_max, e, p))
        return false;
    for (size_t i = 0; i < json_array_size(inst); i++) {
        const json_t *io = json_array_get(inst, i);
        char ip[PATH_LEN];
        path_idx(ip, p, i);
        if (!get_object(io, e, ip) || !check_keys(io, ikeys, e, ip))
            return false;
        unsigned int slot = (unsigned int)i;
        path_key(q, ip, "index");
        if ((j = json_object_get(io, "index")) && !get_u32(j, g->mig_max ? g->mig_max - 1 : 0, &slot, e, q))
            return false;
        struct scenario_mig *m = &g->mig[slot];
        if (m->used)
            return fail(e, q, "slot %u is used twice", slot);
        m->used = true;
        path_key(q, ip, "gpu_instance_id");
        if (!(j = json_object_get(io, "gpu_instance_id")))
            return fail(e, ip, "\"gpu_instance_id\" is required");
        if (!get_u32(j, 0xfffffffeu, &m->gi, e, q))
            return false;
        path_key(q, ip, "compute_instance_id");
        if ((j = json_object_get(io, "compute_instance_id")) && !get_u32(j, 0xfffffffeu, &m->ci, e, q))
            return false;
        for (unsigned int s = 0; s < SCENARIO_MAX_MIG; s++)
            if (s != slot && g->mig[s].used && g->mig[s].gi == m->gi && g->mig[s].ci == m->ci)
                return fail(e, ip, "gpu_instance_id %u / compute_instance_id %u is used twice", m->gi, m->ci);
        path_key(q, ip, "profile");
        if (!(j = json_object_get(io, "profile")))
            return fail(e, ip, "\"profile\" is required (e.g. \"1g.10gb\")");
        if (!get_string(j, m->profile, sizeof(m->profile), e, q))
            return false;
        size_t nl = strlen(g->name), pl = strlen(m->profile);
        if (nl + 5 + pl >= sizeof(m->name))
            return fail(e, q, "the MIG device name \"<gpu name> MIG <profile>\" is longer than 95 bytes");
        memcpy(m->name, g->name, nl);
        memcpy(m->name + nl, " MIG ", 5);
        memcpy(m->name + nl + 5, m->profile, pl + 1);
        path_key(q, ip, "uuid");
        if ((j = json_object_get(io, "uuid"))) {
            if (!get_string(j, m->uuid, sizeof(m->uuid), e, q))
                return false;
            if (strncmp(m->uuid, "MIG-", 4) != 0)
                return fail(e, q, "a MIG UUID starts with \"MIG-\"");
        } else {
            synth_mig_uuid(m->uuid, sizeof(m->uuid), g->uuid, m->gi, m->ci);
        }
        if (!parse_memory_total(io, &m->mem_total, e, ip) ||
            !parse_unit_value(scn, io, "memory_used", &m->mem_used, e, ip) ||
            !parse_unit_value(scn, io, "memory_reserved", &m->mem_reserved, e, ip))
            return false;
        path_key(q, ip, "values");
        if ((j = json_object_get(io, "values")) &&
            !parse_values(scn, j, m->values, gpm_only, sizeof(gpm_only) / sizeof(gpm_only[0]), false, e, q))
            return false;
    }
    return true;
}

/* A GPU's losses: "lost_at" (and "returns_at"), or "lost": [[from, until or null], ...]; "returns_as" puts a
 * different board in the slot from the end of the last loss on. */
static bool parse_losses(const json_t *o, struct scenario_gpu *g, struct perr *e, const char *path)
{
    char p[PATH_LEN];
    const json_t *at = json_object_get(o, "lost_at"), *ret = json_object_get(o, "returns_at");
    const json_t *list = json_object_get(o, "lost"), *as = json_object_get(o, "returns_as");
    g->nlosses = 0;
    if (at && list)
        return fail(e, path, "\"lost_at\" and \"lost\" exclude each other");
    if (ret && !at)
        return fail(e, path, "\"returns_at\" needs \"lost_at\"");
    if (at) {
        path_key(p, path, "lost_at");
        if (!get_time(at, &g->losses[0].from, e, p))
            return false;
        g->losses[0].until = INFINITY;
        path_key(p, path, "returns_at");
        if (ret && !get_time(ret, &g->losses[0].until, e, p))
            return false;
        if (g->losses[0].until <= g->losses[0].from)
            return fail(e, p, "must be later than \"lost_at\"");
        g->nlosses = 1;
    }
    if (list) {
        path_key(p, path, "lost");
        if (!get_array(list, SCENARIO_MAX_LOSSES, e, p))
            return false;
        for (size_t i = 0; i < json_array_size(list); i++) {
            char q[PATH_LEN];
            path_idx(q, p, i);
            const json_t *w = json_array_get(list, i);
            if (!json_is_array(w) || json_array_size(w) != 2)
                return fail(e, q, "expected [from, until] (until null: never returns)");
            double from, until = INFINITY;
            if (!get_time(json_array_get(w, 0), &from, e, q))
                return false;
            if (!json_is_null(json_array_get(w, 1)) && !get_time(json_array_get(w, 1), &until, e, q))
                return false;
            if (until <= from)
                return fail(e, q, "until must be later than from");
            if (i > 0 && from < g->losses[i - 1].until)
                return fail(e, q, "windows must be sorted and must not overlap");
            g->losses[i].from = from;
            g->losses[i].until = until;
            g->nlosses = i + 1;
        }
    }
    g->return_uuid[0] = '\0';
    if (as) {
        path_key(p, path, "returns_as");
        if (!get_string(as, g->return_uuid, sizeof(g->return_uuid), e, p))
            return false;
        if (strncmp(g->return_uuid, "GPU-", 4) != 0 || strcmp(g->return_uuid, g->uuid) == 0)
            return fail(e, p, "a GPU UUID (\"GPU-...\") other than the GPU's own");
        if (g->nlosses == 0 || !isfinite(g->losses[g->nlosses - 1].until))
            return fail(e, p, "needs a loss the GPU returns from");
    }
    return true;
}

static bool parse_gpu(struct scenario *scn, const json_t *o, size_t index, struct scenario_gpu *g,
                      const struct scenario_value *defaults, struct perr *e, const char *path)
{
    static const char *const keys[] = {"name",
                                       "uuid",
                                       "pci_bus_id",
                                       "pci_device_id",
                                       "pci_subsystem_id",
                                       "minor_number",
                                       "memory_total_mib",
                                       "memory_total_bytes",
                                       "nvlink_links",
                                       "supported_event_types",
                                       "lost_at",
                                       "returns_at",
                                       "lost",
                                       "returns_as",
                                       "values",
                                       "processes",
                                       "mig",
                                       NULL};
    char p[PATH_LEN];
    const json_t *j;
    if (!get_object(o, e, path) || !check_keys(o, keys, e, path))
        return false;

    path_key(p, path, "name");
    if (!(j = json_object_get(o, "name")))
        return fail(e, path, "\"name\" is required");
    if (!get_string(j, g->name, sizeof(g->name), e, p))
        return false;
    path_key(p, path, "uuid");
    if (!(j = json_object_get(o, "uuid")))
        return fail(e, path, "\"uuid\" is required");
    if (!get_string(j, g->uuid, sizeof(g->uuid), e, p))
        return false;
    if (strncmp(g->uuid, "GPU-", 4) != 0)
        return fail(e, p, "a GPU UUID starts with \"GPU-\"");
    path_key(p, path, "pci_bus_id");
    if (!(j = json_object_get(o, "pci_bus_id")))
        return fail(e, path, "\"pci_bus_id\" is required");
    if (!json_is_string(j) || !parse_bus_id(g, json_string_value(j)))
        return fail(e, p, "expected \"DDDDDDDD:BB:DD.F\" (hex, e.g. \"00000000:18:00.0\")");

    g->pci_device_id = 0x233010DEu;
    path_key(p, path, "pci_device_id");
    if ((j = json_object_get(o, "pci_device_id")) && !get_u32(j, 0xffffffffu, &g->pci_device_id, e, p))
        return false;
    path_key(p, path, "pci_subsystem_id");
    if ((j = json_object_get(o, "pci_subsystem_id")) && !get_u32(j, 0xffffffffu, &g->pci_subsystem_id, e, p))
        return false;
    g->minor = (unsigned int)index;
    path_key(p, path, "minor_number");
    if ((j = json_object_get(o, "minor_number")) && !get_u32(j, 255, &g->minor, e, p))
        return false;
    if (!parse_memory_total(o, &g->mem_total, e, path))
        return false;
    path_key(p, path, "nvlink_links");
    if ((j = json_object_get(o, "nvlink_links"))) {
        if (!get_u32(j, 64, &g->nvlink_links, e, p))
            return false;
        g->has_nvlink_links = true;
    }
    g->supported_events = NVML_EVENT_TYPE_SINGLE_BIT_ECC | NVML_EVENT_TYPE_DOUBLE_BIT_ECC | NVML_EVENT_TYPE_PSTATE |
                          NVML_EVENT_TYPE_XID | NVML_EVENT_TYPE_CLOCK;
    path_key(p, path, "supported_event_types");
    if ((j = json_object_get(o, "supported_event_types")) && !get_uint(j, ~0ULL, &g->supported_events, e, p))
        return false;
    if (!parse_losses(o, g, e, path))
        return false;

    path_key(p, path, "values");
    if ((j = json_object_get(o, "values")) && !parse_values(scn, j, g->values, NULL, 0, true, e, p))
        return false;
    for (size_t f = 0; f < SF_COUNT; f++)
        if (g->values[f].kind == SV_ABSENT)
            g->values[f] = defaults[f];
    if (!resolve_rates(g->values, e, p))
        return false;

    path_key(p, path, "processes");
    if ((j = json_object_get(o, "processes")) && !parse_procs(scn, j, g, e, p))
        return false;
    path_key(p, path, "mig");
    if ((j = json_object_get(o, "mig")) && !parse_mig(scn, j, g, e, p))
        return false;
    return true;
}

static bool call_pattern_known(const char *pat, bool prefix)
{
    size_t n = strlen(pat);
    for (size_t i = 0; i < sizeof(known_calls) / sizeof(known_calls[0]); i++)
        if (prefix ? strncmp(known_calls[i], pat, n) == 0 : strcmp(known_calls[i], pat) == 0)
            return true;
    return false;
}

static bool parse_faults(const json_t *arr, struct scenario *scn, struct perr *e, const char *path)
{
    static const char *const keys[] = {"call", "gpu",  "return", "hang_ms", "from",
                                       "until", "once", "times", "field_id", "skip", NULL};
    if (!get_array(arr, SCENARIO_MAX_FAULTS, e, path))
        return false;
    scn->nfaults = json_array_size(arr);
    scn->faults = scn_calloc(scn, scn->nfaults, sizeof(*scn->faults));
    if (scn->nfaults && !scn->faults)
        return fail(e, path, "out of memory");
    for (size_t i = 0; i < scn->nfaults; i++) {
        struct scenario_fault *f = &scn->faults[i];
        const json_t *o = json_array_get(arr, i), *j;
        char p[PATH_LEN], q[PATH_LEN];
        path_idx(p, path, i);
        if (!get_object(o, e, p) || !check_keys(o, keys, e, p))
            return false;
        path_key(q, p, "call");
        if (!(j = json_object_get(o, "call")))
            return fail(e, p, "\"call\" is required (an NVML function name, \"prefix*\" or \"*\")");
        if (!get_string(j, f->call, sizeof(f->call), e, q))
            return false;
        size_t n = strlen(f->call);
        if (f->call[n - 1] == '*') {
            f->prefix = true;
            f->call[n - 1] = '\0';
        }
        if (strchr(f->call, '*') || !call_pattern_known(f->call, f->prefix))
            return fail(e, q, "\"%s%s\" names no function of the fake NVML", f->call, f->prefix ? "*" : "");
        f->any_gpu = true;
        path_key(q, p, "gpu");
        if ((j = json_object_get(o, "gpu"))) {
            if (!get_u32(j, scn->ngpus ? (unsigned int)scn->ngpus - 1 : 0, &f->gpu, e, q))
                return false;
            if (scn->ngpus == 0)
                return fail(e, q, "there are no GPUs");
            f->any_gpu = false;
        }
        path_key(q, p, "return");
        if ((j = json_object_get(o, "return"))) {
            if (json_is_string(j))
                f->ret = scenario_return_code(json_string_value(j));
            else if (json_is_integer(j) && json_integer_value(j) > 0 && json_integer_value(j) <= 0x7fffffff)
                f->ret = (int)json_integer_value(j);
            else
                f->ret = -1;
            if (f->ret <= 0)
                return fail(e, q, "expected an error name such as \"NOT_SUPPORTED\" or a positive number");
        }
        path_key(q, p, "hang_ms");
        if ((j = json_object_get(o, "hang_ms")) && !get_u32(j, SCENARIO_MAX_HANG_MS, &f->hang_ms, e, q))
            return false;
        if (f->ret == 0 && f->hang_ms == 0)
            return fail(e, p, "needs \"return\" or a positive \"hang_ms\"");
        f->from = -INFINITY;
        f->until = INFINITY;
        path_key(q, p, "from");
        if ((j = json_object_get(o, "from")) && !get_time(j, &f->from, e, q))
            return false;
        path_key(q, p, "until");
        if ((j = json_object_get(o, "until")) && !get_time(j, &f->until, e, q))
            return false;
        f->remaining = -1;
        path_key(q, p, "once");
        if ((j = json_object_get(o, "once"))) {
            if (!json_is_boolean(j))
                return fail(e, q, "expected true or false");
            if (json_is_true(j))
                f->remaining = 1;
        }
        path_key(q, p, "times");
        if ((j = json_object_get(o, "times"))) {
            unsigned int times;
            if (json_object_get(o, "once"))
                return fail(e, q, "give \"once\" or \"times\", not both");
            if (!get_u32(j, 0x7fffffffu, &times, e, q))
                return false;
            if (times == 0)
                return fail(e, q, "must be at least 1");
            f->remaining = times;
        }
        f->times = f->remaining;
        path_key(q, p, "skip");
        if ((j = json_object_get(o, "skip"))) {
            unsigned int skip;
            if (!get_u32(j, 0x7fffffffu, &skip, e, q))
                return false;
            f->skip = skip;
        }
        f->skip_given = f->skip;
        path_key(q, p, "field_id");
        if ((j = json_object_get(o, "field_id"))) {
            if (f->prefix || strcmp(f->call, "nvmlDeviceGetFieldValues") != 0)
                return fail(e, q, "only for \"call\": \"nvmlDeviceGetFieldValues\"");
            if (f->hang_ms || f->ret == 0)
                return fail(e, q, "a per-field fault takes \"return\" and no \"hang_ms\"");
            if (!get_u32(j, 0xffffffffu, &f->field_id, e, q))
                return false;
            f->has_field = true;
        }
    }
    return true;
}

static bool parse_xids(const json_t *arr, struct scenario *scn, struct perr *e, const char *path)
{
    static const char *const keys[] = {"gpu", "at", "xid", "gpu_instance_id", "compute_instance_id", NULL};
    if (!get_array(arr, SCENARIO_MAX_XIDS, e, path))
        return false;
    scn->nxids = json_array_size(arr);
    scn->xids = scn_calloc(scn, scn->nxids, sizeof(*scn->xids));
    if (scn->nxids && !scn->xids)
        return fail(e, path, "out of memory");
    for (size_t i = 0; i < scn->nxids; i++) {
        struct scenario_xid *x = &scn->xids[i];
        const json_t *o = json_array_get(arr, i), *j;
        char p[PATH_LEN], q[PATH_LEN];
        path_idx(p, path, i);
        if (!get_object(o, e, p) || !check_keys(o, keys, e, p))
            return false;
        path_key(q, p, "gpu");
        if (!(j = json_object_get(o, "gpu")))
            return fail(e, p, "\"gpu\" is required");
        if (scn->ngpus == 0)
            return fail(e, q, "there are no GPUs");
        if (!get_u32(j, (unsigned int)scn->ngpus - 1, &x->gpu, e, q))
            return false;
        path_key(q, p, "at");
        if (!(j = json_object_get(o, "at")))
            return fail(e, p, "\"at\" is required");
        if (!get_time(j, &x->at, e, q))
            return false;
        path_key(q, p, "xid");
        if (!(j = json_object_get(o, "xid")))
            return fail(e, p, "\"xid\" is required");
        if (!get_uint(j, ~0ULL, &x->xid, e, q))
            return false;
        x->gi = x->ci = NVML_NO_INSTANCE_ID;
        path_key(q, p, "gpu_instance_id");
        if ((j = json_object_get(o, "gpu_instance_id")) && !get_u32(j, 0xffffffffu, &x->gi, e, q))
            return false;
        path_key(q, p, "compute_instance_id");
        if ((j = json_object_get(o, "compute_instance_id")) && !get_u32(j, 0xffffffffu, &x->ci, e, q))
            return false;
    }
    /* Stable insertion sort by time: equal times keep file order, which the event sets rely on. */
    for (size_t i = 1; i < scn->nxids; i++) {
        struct scenario_xid x = scn->xids[i];
        size_t k = i;
        while (k > 0 && scn->xids[k - 1].at > x.at) {
            scn->xids[k] = scn->xids[k - 1];
            k--;
        }
        scn->xids[k] = x;
    }
    return true;
}

static bool check_unique(const struct scenario *scn, struct perr *e)
{
    for (size_t a = 0; a < scn->ngpus; a++) {
        const struct scenario_gpu *ga = &scn->gpus[a];
        for (size_t b = a + 1; b < scn->ngpus; b++) {
            const struct scenario_gpu *gb = &scn->gpus[b];
            if (strcmp(ga->uuid, gb->uuid) == 0)
                return fail(e, "gpus", "GPUs %zu and %zu have the same uuid", a, b);
            if (strcmp(ga->bus_id, gb->bus_id) == 0)
                return fail(e, "gpus", "GPUs %zu and %zu have the same pci_bus_id", a, b);
            if ((ga->return_uuid[0] && (strcmp(ga->return_uuid, gb->uuid) == 0 ||
                                        strcmp(ga->return_uuid, gb->return_uuid) == 0)) ||
                (gb->return_uuid[0] && strcmp(gb->return_uuid, ga->uuid) == 0))
                return fail(e, "gpus", "GPUs %zu and %zu: returns_as repeats a uuid", a, b);
        }
        for (size_t s = 0; s < SCENARIO_MAX_MIG; s++) {
            if (!ga->mig[s].used)
                continue;
            for (size_t b = 0; b < scn->ngpus; b++) {
                if (strcmp(ga->mig[s].uuid, scn->gpus[b].uuid) == 0)
                    return fail(e, "gpus", "MIG uuid %s is used twice", ga->mig[s].uuid);
                for (size_t t = 0; t < SCENARIO_MAX_MIG; t++)
                    if ((b != a || t != s) && scn->gpus[b].mig[t].used &&
                        strcmp(ga->mig[s].uuid, scn->gpus[b].mig[t].uuid) == 0)
                        return fail(e, "gpus", "MIG uuid %s is used twice", ga->mig[s].uuid);
            }
        }
    }
    return true;
}

/* "major.minor" or "major.minor.patch", decimal, each at most 9 digits. */
static bool parse_driver_version(const char *s, unsigned int *major, unsigned int *minor)
{
    unsigned long long part[3] = {0, 0, 0};
    size_t nparts = 0;
    const char *p = s;
    while (nparts < 3) {
        size_t digits = 0;
        while (p[digits] >= '0' && p[digits] <= '9') {
            if (digits == 9)
                return false;
            part[nparts] = part[nparts] * 10 + (unsigned long long)(p[digits] - '0');
            digits++;
        }
        if (digits == 0)
            return false;
        nparts++;
        p += digits;
        if (*p == '\0')
            break;
        if (*p != '.')
            return false;
        p++;
    }
    if (*p != '\0' || nparts < 2)
        return false;
    *major = (unsigned int)part[0];
    *minor = (unsigned int)part[1];
    return true;
}

static bool parse_branch(struct scenario *scn, const json_t *j, struct perr *e)
{
    if (!json_is_string(j))
        return fail(e, "driver_branch", "expected a string");
    const char *name = json_string_value(j);
    for (int b = 0; b < SB_COUNT; b++)
        if (strcmp(name, branch_abis[b].name) == 0) {
            scn->branch = (enum scenario_branch)b;
            scn->branch_given = true;
            return true;
        }
    return fail(e, "driver_branch", "\"%.32s\" is none of r470, r525, r535_early, r535, r550", name);
}

/* A version string that cannot come from the branch would make the branch's ABI a lie: refuse it. */
static bool check_branch_version(const struct scenario *scn, struct perr *e)
{
    const struct scenario_branch_abi *abi = scenario_branch_abi(scn->branch);
    unsigned int major, minor;
    if (!parse_driver_version(scn->driver_version, &major, &minor))
        return fail(e, "driver_version", "\"%s\" is not major.minor[.patch], which driver_branch needs",
                    scn->driver_version);
    if (major < abi->major_min || major > abi->major_max || minor < abi->minor_min || minor > abi->minor_max) {
        if (major == 535 && minor >= 98 && minor < 104)
            return fail(e, "driver_version", "%s is a 535.98 release, which exported no _v3 process calls and is not "
                        "modelled", scn->driver_version);
        return fail(e, "driver_version", "%s is not a driver of branch %s (default %s)", scn->driver_version,
                    abi->name, abi->driver_version);
    }
    return true;
}

static bool parse_scenario(struct scenario *scn, const json_t *root, struct perr *e)
{
    static const char *const keys[] = {"schema",     "driver_branch", "driver_version", "nvml_version",
                                       "cuda_driver_version", "values", "gpus",       "faults",
                                       "xid_events", "gpm_metric_max", NULL};
    const json_t *j;
    if (!get_object(root, e, "(top level)") || !check_keys(root, keys, e, "(top level)"))
        return false;
    if ((j = json_object_get(root, "schema")) && !(json_is_integer(j) && json_integer_value(j) == 1))
        return fail(e, "schema", "only schema 1 exists");

    scn->branch = SB_R550;
    if ((j = json_object_get(root, "driver_branch")) && !parse_branch(scn, j, e))
        return false;
    const struct scenario_branch_abi *abi = scenario_branch_abi(scn->branch);
    snprintf(scn->driver_version, sizeof(scn->driver_version), "%s", abi->driver_version);
    scn->cuda_version = abi->cuda_version;
    if ((j = json_object_get(root, "driver_version")) &&
        !get_string(j, scn->driver_version, sizeof(scn->driver_version), e, "driver_version"))
        return false;
    if (scn->branch_given && !check_branch_version(scn, e))
        return false;
    size_t dl = strlen(scn->driver_version), ml = strlen(abi->nvml_major);
    if (dl + ml + 2 > sizeof(scn->nvml_version))
        return fail(e, "driver_version", "too long");
    memcpy(scn->nvml_version, abi->nvml_major, ml);
    scn->nvml_version[ml] = '.';
    memcpy(scn->nvml_version + ml + 1, scn->driver_version, dl + 1);
    if ((j = json_object_get(root, "nvml_version")) &&
        !get_string(j, scn->nvml_version, sizeof(scn->nvml_version), e, "nvml_version"))
        return false;
    if ((j = json_object_get(root, "cuda_driver_version"))) {
        unsigned int v;
        if (!get_u32(j, 0x7fffffffu, &v, e, "cuda_driver_version"))
            return false;
        scn->cuda_version = (int)v;
    }

    scn->gpm_metric_max = 333;
    if ((j = json_object_get(root, "gpm_metric_max"))) {
        if (!get_u32(j, 333, &scn->gpm_metric_max, e, "gpm_metric_max"))
            return false;
        if (scn->gpm_metric_max != 98 && scn->gpm_metric_max != 210 && scn->gpm_metric_max != 333)
            return fail(e, "gpm_metric_max", "NVML_GPM_METRIC_MAX was 98, 210 or 333");
    }

    struct scenario_value defaults[SF_COUNT];
    memset(defaults, 0, sizeof(defaults));
    if ((j = json_object_get(root, "values")) && !parse_values(scn, j, defaults, NULL, 0, true, e, "values"))
        return false;

    const json_t *gpus = json_object_get(root, "gpus");
    if (!gpus)
        return fail(e, "gpus", "is required (it may be empty)");
    if (!get_array(gpus, SCENARIO_MAX_GPUS, e, "gpus"))
        return false;
    scn->ngpus = json_array_size(gpus);
    scn->gpus = scn_calloc(scn, scn->ngpus, sizeof(*scn->gpus));
    if (scn->ngpus && !scn->gpus)
        return fail(e, "gpus", "out of memory");
    for (size_t i = 0; i < scn->ngpus; i++) {
        char p[PATH_LEN];
        path_idx(p, "gpus", i);
        if (!parse_gpu(scn, json_array_get(gpus, i), i, &scn->gpus[i], defaults, e, p))
            return false;
    }
    if (!check_unique(scn, e))
        return false;
    if ((j = json_object_get(root, "faults")) && !parse_faults(j, scn, e, "faults"))
        return false;
    if ((j = json_object_get(root, "xid_events")) && !parse_xids(j, scn, e, "xid_events"))
        return false;
    return true;
}

/* ---- files ---- */

static void sig_from_stat(const struct stat *st, struct scenario_sig *sig)
{
    sig->valid = true;
    sig->dev = st->st_dev;
    sig->ino = st->st_ino;
    sig->size = st->st_size;
    sig->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

void scenario_stat(const char *path, struct scenario_sig *sig)
{
    struct stat st;
    memset(sig, 0, sizeof(*sig));
    if (stat(path, &st) == 0)
        sig_from_stat(&st, sig);
}

bool scenario_sig_equal(const struct scenario_sig *a, const struct scenario_sig *b)
{
    if (a->valid != b->valid)
        return false;
    if (!a->valid)
        return true;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Reads a whole regular file of at most SCENARIO_MAX_FILE bytes. Returns a malloc'd buffer the caller frees. */
static char *read_whole(const char *path, size_t *len, struct scenario_sig *sig, enum scenario_error *error,
                        struct perr *e)
{
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    *error = SCENARIO_ERR_BAD;
    if (fd < 0) {
        *error = SCENARIO_ERR_MISSING;
        fail(e, NULL, "cannot open: %s", strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        fail(e, NULL, "cannot stat: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(e, NULL, "not a regular file");
        goto out;
    }
    if (st.st_size > (off_t)SCENARIO_MAX_FILE) {
        fail(e, NULL, "larger than %u bytes", SCENARIO_MAX_FILE);
        goto out;
    }
    sig_from_stat(&st, sig);
    buf = malloc(SCENARIO_MAX_FILE + 1);
    if (!buf) {
        fail(e, NULL, "out of memory");
        goto out;
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, SCENARIO_MAX_FILE + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fail(e, NULL, "read error: %s", strerror(errno));
            free(buf);
            buf = NULL;
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > SCENARIO_MAX_FILE) {
            fail(e, NULL, "larger than %u bytes", SCENARIO_MAX_FILE);
            free(buf);
            buf = NULL;
            goto out;
        }
    }
    *len = got;
out:
    if (fd >= 0)
        close(fd);
    return buf;
}

struct scenario *scenario_load(const char *path, struct scenario_sig *sig, enum scenario_error *error, char *err,
                               size_t errlen)
{
    struct perr e = {err, errlen};
    struct scenario *scn = NULL;
    json_t *root = NULL;
    size_t len = 0;
    struct scenario_sig read_sig = {0};
    err[0] = '\0';
    char *buf = read_whole(path, &len, &read_sig, error, &e);
    if (!buf)
        goto out;
    json_error_t jerr;
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        *error = SCENARIO_ERR_BAD;
        fail(&e, NULL, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        goto out;
    }
    scn = calloc(1, sizeof(*scn));
    if (!scn) {
        *error = SCENARIO_ERR_BAD;
        fail(&e, NULL, "out of memory");
        goto out;
    }
    scn->refs = 1;
    if (!parse_scenario(scn, root, &e)) {
        *error = SCENARIO_ERR_BAD;
        scenario_free(scn);
        scn = NULL;
        goto out;
    }
    *error = SCENARIO_OK;
    *sig = read_sig;
out:
    json_decref(root);
    free(buf);
    return scn;
}
