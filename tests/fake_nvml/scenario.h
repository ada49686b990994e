/* scenario.h - the fake NVML's scenario: a JSON file parsed into an immutable model, read at a time t.
 *
 * A scenario is built once by scenario_load() and never changed afterwards (except the fault firing counters,
 * which fake_nvml.c guards with its lock), so API calls read it without a lock while they hold a reference.
 * Every list has a hard cap, every string a fixed buffer, and every number is checked, so a hostile file gives
 * an error message, never a crash. The schema is documented in README.md next to this file.
 */
#ifndef FAKE_NVML_SCENARIO_H
#define FAKE_NVML_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SCENARIO_MAX_GPUS 64
#define SCENARIO_MAX_MIG 8          /* MIG device slots per GPU */
#define SCENARIO_MAX_POINTS 4096    /* points in one timeline */
#define SCENARIO_MAX_PROCS 256      /* process entries per GPU */
#define SCENARIO_MAX_FAULTS 256
#define SCENARIO_MAX_LOSSES 256     /* loss windows of one GPU */
#define SCENARIO_MAX_XIDS 1024
#define SCENARIO_MAX_FILE (4u << 20) /* bytes */
#define SCENARIO_MAX_HANG_MS 600000u
#define SCENARIO_STR 96              /* name/uuid buffers, NUL included */
#define SCENARIO_CALL_NAME 64

/* Every readable per-GPU quantity. The JSON key for each is in scenario.c's field table and in README.md. */
enum scenario_field {
    SF_GPU_UTIL,
    SF_MEM_UTIL,
    SF_MEM_USED,
    SF_MEM_RESERVED,
    SF_TEMP,
    SF_MEM_TEMP,
    SF_POWER,
    SF_ENERGY,
    SF_POWER_LIMIT,
    SF_POWER_MGMT_LIMIT,
    SF_CLOCK_GRAPHICS,
    SF_CLOCK_SM,
    SF_CLOCK_MEM,
    SF_CLOCK_VIDEO,
    SF_MAX_CLOCK_GRAPHICS,
    SF_MAX_CLOCK_SM,
    SF_MAX_CLOCK_MEM,
    SF_MAX_CLOCK_VIDEO,
    SF_CLOCK_REASONS,
    SF_PCIE_TX,
    SF_PCIE_RX,
    SF_PCIE_REPLAY,
    SF_ECC_CORR_VOL,
    SF_ECC_UNC_VOL,
    SF_ECC_CORR_AGG,
    SF_ECC_UNC_AGG,
    SF_RETIRED_SBE,
    SF_RETIRED_DBE,
    SF_RETIRED_PENDING,
    SF_REMAP_CORR,
    SF_REMAP_UNC,
    SF_REMAP_PENDING,
    SF_REMAP_FAILURE,
    SF_FAN,
    SF_ENC_UTIL,
    SF_DEC_UTIL,
    SF_PSTATE,
    SF_VIOL_POWER,
    SF_VIOL_THERMAL,
    SF_VIOL_SYNC_BOOST,
    SF_VIOL_BOARD_LIMIT,
    SF_VIOL_LOW_UTIL,
    SF_VIOL_RELIABILITY,
    SF_VIOL_APP_CLOCKS,
    SF_VIOL_BASE_CLOCKS,
    SF_NVLINK_CRC_FLIT,
    SF_NVLINK_CRC_DATA,
    SF_NVLINK_REPLAY,
    SF_NVLINK_RECOVERY,
    SF_NVLINK_DATA_TX,
    SF_NVLINK_DATA_RX,
    SF_NVLINK_RAW_TX,
    SF_NVLINK_RAW_RX,
    SF_NVLINK_BW_C0,
    /* GPM metrics (nvmlGpmMetricsGet averages them over the two samples' window); a GPU or MIG instance with
     * any of them set supports GPM. Percent 0-100, or MiB/s, as NVML reports them. */
    SF_GPM_GRAPHICS_UTIL,
    SF_GPM_SM_UTIL,
    SF_GPM_SM_OCCUPANCY,
    SF_GPM_INTEGER_UTIL,
    SF_GPM_ANY_TENSOR_UTIL,
    SF_GPM_DRAM_BW_UTIL,
    SF_GPM_FP64_UTIL,
    SF_GPM_FP32_UTIL,
    SF_GPM_FP16_UTIL,
    SF_GPM_PCIE_TX,
    SF_GPM_PCIE_RX,
    SF_GPM_NVLINK_RX,
    SF_GPM_NVLINK_TX,
    SF_COUNT
};

struct scenario_point {
    double t;
    double v;
    bool has; /* false: JSON null, "no value" from here to the next point */
};

struct scenario_curve {
    const struct scenario_point *pts; /* sorted by t; n == 0 means "constant c" */
    size_t n;
    double c;
    bool linear;
    double period; /* > 0: the curve repeats with this period for t >= 0 */
    double average; /* > 0: the value at t is the curve's mean over [t - average, t] (NVML's utilization
                       is the busy share of its last sample period, not an instant) */
};

enum scenario_value_kind {
    SV_ABSENT = 0, /* not given: inherit the top-level default, else "not supported" */
    SV_NULL,       /* given as null: "not supported", even if a default exists */
    SV_CURVE,      /* constant or timeline */
    SV_RATE        /* counter: initial + integral of the curve from 0 to t */
};

struct scenario_value {
    enum scenario_value_kind kind;
    double scale; /* unit factor of the key (MiB to bytes): SV_CURVE results and the SV_RATE initial */
    struct scenario_curve curve;
    double initial;    /* SV_RATE: value at t <= 0 */
    double rate_scale; /* SV_RATE: factor applied to the integral of curve */
    int rate_ref;      /* SV_RATE, while parsing only: the field whose curve is the rate, or -1 */
};

struct scenario_proc {
    unsigned int pid;
    struct scenario_value mem; /* bytes; absent: NVML_VALUE_NOT_AVAILABLE */
    struct scenario_value sm_util; /* %, nvmlDeviceGetProcessUtilization; absent: no sample */
    double from, until;        /* listed while from <= t < until */
    bool compute, graphics;
    unsigned int gi, ci; /* NVML_NO_INSTANCE_ID when not on a MIG instance */
};

struct scenario_mig {
    bool used;
    unsigned int gi, ci;
    char profile[32];
    char uuid[SCENARIO_STR];
    char name[SCENARIO_STR];
    unsigned long long mem_total; /* bytes */
    struct scenario_value mem_used, mem_reserved;
    struct scenario_value values[SF_COUNT]; /* only the SF_GPM_* ones are ever set */
};

struct scenario_gpu {
    char name[SCENARIO_STR];
    char uuid[SCENARIO_STR];
    char bus_id[32];        /* "%08X:%02X:%02X.%u" */
    char bus_id_legacy[16]; /* "%04X:%02X:%02X.%u" */
    unsigned int domain, bus, device;
    unsigned int pci_device_id, pci_subsystem_id;
    unsigned int minor;
    unsigned long long mem_total; /* bytes */
    bool has_nvlink_links;
    unsigned int nvlink_links;
    unsigned long long supported_events;
    /* Windows of scenario time in which the GPU is lost (from <= t < until; until INFINITY: it never comes
     * back), sorted and disjoint. Each return invalidates the handles issued before it (scenario_gpu_lost). */
    struct { double from, until; } losses[SCENARIO_MAX_LOSSES];
    size_t nlosses;
    char return_uuid[SCENARIO_STR]; /* "" or the UUID of the board in this slot after the last loss */
    struct scenario_value values[SF_COUNT];
    struct scenario_proc *procs;
    size_t nprocs;
    bool mig_capable;
    unsigned int mig_mode, mig_pending, mig_max;
    struct scenario_mig mig[SCENARIO_MAX_MIG]; /* indexed by MIG device slot */
};

/* The GPM metric id (nvmlGpmMetricId_t) a field answers, 0 for fields that are not GPM metrics. */
unsigned int scenario_gpm_metric_id(enum scenario_field f);
/* The field that answers GPM metric `id`, or SF_COUNT for an id the fake does not model. */
enum scenario_field scenario_gpm_field(unsigned int id);
/* True when any GPM value is set in values[] (the device supports GPM). */
bool scenario_gpm_supported(const struct scenario_value *values);

struct scenario_fault {
    char call[SCENARIO_CALL_NAME]; /* exact name, or a prefix when prefix is set ("nvmlDeviceGet*", "*") */
    bool prefix;
    bool any_gpu;
    unsigned int gpu;
    bool has_field;
    unsigned int field_id; /* nvmlDeviceGetFieldValues only: fail just this entry */
    int ret;               /* nvmlReturn_t to return; 0 = none (hang only) */
    unsigned int hang_ms;
    double from, until;
    long skip;      /* matching calls to let through before the rule fires; mutated under the lock */
    long skip_given;
    long times;     /* firings allowed, -1 = unlimited */
    long remaining; /* firings left, -1 = unlimited; mutated only under fake_nvml.c's lock */
};

struct scenario_xid {
    unsigned int gpu;
    double at;
    unsigned long long xid;
    unsigned int gi, ci;
};

/* The NVIDIA driver branches the fake can stand for. They differ in the ABI the exporter depends on: which
 * entry points the library exports and how many bytes each process record is (README.md, "Driver branches"). */
enum scenario_branch {
    SB_R470,       /* NVML 11.4: no _v3 process calls, no MemoryInfo_v2, no ClocksEventReasons */
    SB_R525,       /* NVML 12.0: _v3 process calls writing the 24-byte record; no ClocksEventReasons */
    SB_R535_EARLY, /* 535.43 - 535.86: _v3 process calls write 32-byte records under the same name */
    SB_R535,       /* 535.104 and later 535: _v3 back to 24 bytes */
    SB_R550,       /* 550 and later; also what a scenario without "driver_branch" gets */
    SB_COUNT
};

/* The export sets the library is built with (one per variant library; see CMakeLists.txt). Each set contains
 * the ones before it, so "a library of set A can serve branch B" is A >= B's set. */
enum scenario_exports {
    SE_R470, /* without the _v3 process calls, MemoryInfo_v2 and ClocksEventReasons */
    SE_R525, /* without ClocksEventReasons */
    SE_ALL   /* everything the fake implements: R535 and later */
};

struct scenario_branch_abi {
    const char *name;           /* the "driver_branch" value, also the variant library's directory */
    const char *driver_version; /* the default nvmlSystemGetDriverVersion */
    const char *nvml_major;     /* nvmlSystemGetNVMLVersion is this + "." + the driver version */
    int cuda_version;           /* the default nvmlSystemGetCudaDriverVersion */
    unsigned int v3_record;     /* bytes per record the *RunningProcesses_v3 calls write; 0: not exported */
    enum scenario_exports exports;
    unsigned int major_min, major_max; /* driver versions of the branch: major.minor[.patch] */
    unsigned int minor_min, minor_max;
};

/* The ABI facts of branch b (b < SB_COUNT). Static; never NULL. */
const struct scenario_branch_abi *scenario_branch_abi(enum scenario_branch b);

/* The name of an export set ("all", "r470", "r525"). */
const char *scenario_exports_name(enum scenario_exports x);

/* The export set of this build of the library (variant.c). */
extern const enum scenario_exports fake_nvml_exports;

struct scenario_alloc; /* private: every allocation of one scenario, freed together */

struct scenario {
    int refs; /* guarded by fake_nvml.c's lock */
    enum scenario_branch branch;
    bool branch_given; /* "driver_branch" was in the file (else SB_R550, today's behaviour, any version string) */
    char driver_version[80];
    char nvml_version[80];
    int cuda_version;
    struct scenario_gpu *gpus;
    size_t ngpus;
    struct scenario_fault *faults;
    size_t nfaults;
    struct scenario_xid *xids; /* sorted by at, stable */
    size_t nxids;
    unsigned int gpm_metric_max; /* NVML_GPM_METRIC_MAX of the driver: 98, 210 or 333 */
    struct scenario_alloc *allocs;
};

/* What a file looked like when it was read; reloads compare these. */
struct scenario_sig {
    bool valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    long long mtime_ns;
};

enum scenario_error {
    SCENARIO_OK = 0,
    SCENARIO_ERR_MISSING, /* the file cannot be opened */
    SCENARIO_ERR_BAD      /* the file is not a valid scenario */
};

/* Reads and validates path. On success returns a scenario with refs == 1 (the caller owns it; free with
 * scenario_free) and fills *sig. On failure returns NULL, sets *error and writes one line (no newline) to err. */
struct scenario *scenario_load(const char *path, struct scenario_sig *sig, enum scenario_error *error, char *err,
                               size_t errlen);
void scenario_free(struct scenario *scn);

/* Fills *sig from stat(path); sig->valid is false when the file is missing. */
void scenario_stat(const char *path, struct scenario_sig *sig);
bool scenario_sig_equal(const struct scenario_sig *a, const struct scenario_sig *b);

/* The value of v at scenario time t (seconds since start), scale applied. False when there is no value. */
/* Whether GPU g is lost at scenario time t; *returns (if not NULL) gets how many losses it has come back from
 * by then, the generation of the handles issued at t. */
bool scenario_gpu_lost(const struct scenario_gpu *g, double t, unsigned int *returns);

/* The UUID GPU g answers at t: return_uuid once it has come back from its last loss, if the scenario sets one. */
const char *scenario_gpu_uuid(const struct scenario_gpu *g, double t);

bool scenario_value_at(const struct scenario_value *v, double t, double *out);

/* The mean of v over [t1, t2] (t1 < t2), scale applied: what a GPM metric over two samples reads. False when v
 * has no value at some point of the window (a step timeline with a null) or is not a constant or timeline. */
bool scenario_value_mean(const struct scenario_value *v, double t1, double t2, double *out);

/* True when a and b are the same rule (firing counts aside), so a reload can carry a "once" across. */
bool scenario_fault_same(const struct scenario_fault *a, const struct scenario_fault *b);

/* nvmlReturn_t name ("NOT_SUPPORTED", "NVML_ERROR_NOT_SUPPORTED") to number, -1 if unknown. */
int scenario_return_code(const char *name);

#endif /* FAKE_NVML_SCENARIO_H */
