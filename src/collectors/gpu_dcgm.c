/* gpu_dcgm.c - the GPU collector's optional DCGM producer: the profiling readings (DCGM_FI_PROF_*) from a
 * DCGM host engine, embedded in this process (default) or remote (-r host:port, or a unix socket path).
 *
 * Why it is shaped so: dcgm-exporter exits when the host engine goes away, so a restart of nvidia-dcgm takes
 * every metric down. Here the engine is just one more producer run after NVML: when its connection drops,
 * the NVML readings keep being served, jobtel_dcgm_connected says 0, and the connection is retried with
 * back-off (1 s doubling to 30 s); a reconnection is counted (jobtel_dcgm_reconnects_total). The fields
 * watched are the profiling readings some consumer needs (the counters CSV), converted back to the readings'
 * units (% and MiB/s, as GPM gives them) so the renderers convert both sources alike. DCGM's gpuId is taken as
 * the NVML index, which DCGM assigns in NVML order. MIG instances are DCGM's GPU_I entities, numbered by DCGM
 * itself: the engine's hierarchy (dcgmGetGpuInstanceHierarchy) says which NVML GPU and GPU instance each is.
 * They are watched through the all-instances pseudo group once the collection has MIG instances, and the
 * hierarchy is read again when the MIG layout changes or an entity id is not in it.
 */
#include "collectors/gpu_dcgm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "dcgm/dcgm_loader.h"

#define DCGM_BACKOFF_MAX_S 30.0
#define DCGM_LIB_RETRY_S 30.0
#define DCGM_INST_RETRY_S 60.0 /* a failed watch of the MIG instances is tried again after this */

/* reading -> DCGM field id, and the factor from DCGM's unit to the reading's. */
static const struct {
    enum gpu_reading r;
    unsigned short field;
    double to_reading;
} dcgm_prof[] = {
    {R_GPM_GR_ACTIVE, DCGM_FI_PROF_GR_ENGINE_ACTIVE, 100},
    {R_GPM_SM_ACTIVE, DCGM_FI_PROF_SM_ACTIVE, 100},
    {R_GPM_SM_OCCUPANCY, DCGM_FI_PROF_SM_OCCUPANCY, 100},
    {R_GPM_TENSOR_ACTIVE, DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, 100},
    {R_GPM_DRAM_ACTIVE, DCGM_FI_PROF_DRAM_ACTIVE, 100},
    {R_GPM_FP64_ACTIVE, DCGM_FI_PROF_PIPE_FP64_ACTIVE, 100},
    {R_GPM_FP32_ACTIVE, DCGM_FI_PROF_PIPE_FP32_ACTIVE, 100},
    {R_GPM_FP16_ACTIVE, DCGM_FI_PROF_PIPE_FP16_ACTIVE, 100},
    {R_GPM_INT_ACTIVE, DCGM_FI_PROF_PIPE_INT_ACTIVE, 100},
    {R_GPM_PCIE_TX, DCGM_FI_PROF_PCIE_TX_BYTES, 1.0 / 1048576.0},
    {R_GPM_PCIE_RX, DCGM_FI_PROF_PCIE_RX_BYTES, 1.0 / 1048576.0},
    {R_GPM_NVLINK_TX, DCGM_FI_PROF_NVLINK_TX_BYTES, 1.0 / 1048576.0},
    {R_GPM_NVLINK_RX, DCGM_FI_PROF_NVLINK_RX_BYTES, 1.0 / 1048576.0},
};
#define NPROF (sizeof dcgm_prof / sizeof dcgm_prof[0])

struct gpu_dcgm {
    const struct exporter_config *cfg;
    struct dcgm_lib lib;
    bool loaded, inited;
    double next_lib_try;
    bool connected;
    bool ever_connected;
    dcgmHandle_t h;
    dcgmFieldGrp_t fg;
    bool fg_made;
    unsigned fg_generation;
    uint64_t watched;           /* readings the field group watches */
    uint64_t watched_need;      /* the `need` they were chosen for: another one (a reload) watches again */
    double next_try;
    double backoff;
    unsigned long long reconnects;
    struct ratelimit rl;
    struct gpm_pause_fn pause;
    bool prof_paused;           /* we paused DCGM's profiling for a job that profiles itself */
    /* MIG instances (GPU_I entities) */
    bool inst_watched;
    double next_inst_try;
    uint64_t mig_sig;           /* the MIG layout the watch and hierarchy are for */
    dcgmMigHierarchy_v2 *hier;  /* owned, 72 KiB: allocated at the first MIG collection */
    bool hier_valid;
    bool hier_stale;            /* an entity id was not in it: read it again */
    /* health checks (DCGM_EXP_GPU_HEALTH_STATUS) */
    bool want_health;
    bool health_set;            /* the watches are set on this connection */
    dcgmHealthResponse_v4 *health; /* owned, 65 KiB: allocated at the first check */
};

const struct gpu_health_watch gpu_health_watches[GPU_HEALTH_SYSTEMS] = {
    {0x1, "PCIE"}, {0x2, "NVLINK"}, {0x4, "PMU"},  {0x8, "MCU"},     {0x10, "MEM"},
    {0x20, "SM"},  {0x40, "INFOROM"}, {0x80, "THERMAL"}, {0x100, "POWER"}, {0x200, "DRIVER"},
};

/* DCGM's dcgmError_t names (dcgm_errors.h; codes are appended, never renumbered). */
static const char *const dcgm_errors[] = {
    "OK", "UNKNOWN", "UNRECOGNIZED", "PCI_REPLAY_RATE", "VOLATILE_DBE_DETECTED", "VOLATILE_SBE_DETECTED",
    "PENDING_PAGE_RETIREMENTS", "RETIRED_PAGES_LIMIT", "RETIRED_PAGES_DBE_LIMIT", "CORRUPT_INFOROM",
    "CLOCK_THROTTLE_THERMAL", "POWER_UNREADABLE", "CLOCK_THROTTLE_POWER", "NVLINK_ERROR_THRESHOLD", "NVLINK_DOWN",
    "NVSWITCH_FATAL_ERROR", "NVSWITCH_NON_FATAL_ERROR", "NVSWITCH_DOWN", "NO_ACCESS_TO_FILE", "NVML_API",
    "DEVICE_COUNT_MISMATCH", "BAD_PARAMETER", "CANNOT_OPEN_LIB", "DENYLISTED_DRIVER", "NVML_LIB_BAD",
    "GRAPHICS_PROCESSES", "HOSTENGINE_CONN", "FIELD_QUERY", "BAD_CUDA_ENV", "PERSISTENCE_MODE", "LOW_BANDWIDTH",
    "HIGH_LATENCY", "CANNOT_GET_FIELD_TAG", "FIELD_VIOLATION", "FIELD_THRESHOLD", "FIELD_VIOLATION_DBL",
    "FIELD_THRESHOLD_DBL", "UNSUPPORTED_FIELD_TYPE", "FIELD_THRESHOLD_TS", "FIELD_THRESHOLD_TS_DBL",
    "THERMAL_VIOLATIONS", "THERMAL_VIOLATIONS_TS", "TEMP_VIOLATION", "THROTTLING_VIOLATION", "INTERNAL",
    "PCIE_GENERATION", "PCIE_WIDTH", "ABORTED", "TEST_DISABLED", "CANNOT_GET_STAT", "STRESS_LEVEL", "CUDA_API",
    "FAULTY_MEMORY", "CANNOT_SET_WATCHES", "CUDA_UNBOUND", "ECC_DISABLED", "MEMORY_ALLOC", "CUDA_DBE",
    "MEMORY_MISMATCH", "CUDA_DEVICE", "ECC_UNSUPPORTED", "ECC_PENDING", "MEMORY_BANDWIDTH", "TARGET_POWER",
    "API_FAIL", "API_FAIL_GPU", "CUDA_CONTEXT", "DCGM_API", "CONCURRENT_GPUS", "TOO_MANY_ERRORS",
    "NVLINK_CRC_ERROR_THRESHOLD", "NVLINK_ERROR_CRITICAL", "ENFORCED_POWER_LIMIT", "MEMORY_ALLOC_HOST",
    "GPU_OP_MODE", "NO_MEMORY_CLOCKS", "NO_GRAPHICS_CLOCKS", "HAD_TO_RESTORE_STATE", "L1TAG_UNSUPPORTED",
    "L1TAG_MISCOMPARE", "ROW_REMAP_FAILURE", "UNCONTAINED_ERROR", "EMPTY_GPU_LIST", "DBE_PENDING_PAGE_RETIREMENTS",
    "UNCORRECTABLE_ROW_REMAP", "PENDING_ROW_REMAP", "BROKEN_P2P_MEMORY_DEVICE", "BROKEN_P2P_WRITER_DEVICE",
    "NVSWITCH_NVLINK_DOWN", "EUD_BINARY_PERMISSIONS", "EUD_NON_ROOT_USER", "EUD_SPAWN_FAILURE", "EUD_TIMEOUT",
    "EUD_ZOMBIE", "EUD_NON_ZERO_EXIT_CODE", "EUD_TEST_FAILED", "FILE_CREATE_PERMISSIONS", "PAUSE_RESUME_FAILED",
    "PCIE_H_REPLAY_VIOLATION", "GPU_EXPECTED_NVLINKS_UP", "NVSWITCH_EXPECTED_NVLINKS_UP", "XID_ERROR",
    "SBE_VIOLATION", "DBE_VIOLATION", "PCIE_REPLAY_VIOLATION", "SBE_THRESHOLD_VIOLATION", "DBE_THRESHOLD_VIOLATION",
    "PCIE_REPLAY_THRESHOLD_VIOLATION", "CUDA_FM_NOT_INITIALIZED", "SXID_ERROR", "GFLOPS_THRESHOLD_VIOLATION",
    "NAN_VALUE",
};
_Static_assert(sizeof dcgm_errors / sizeof dcgm_errors[0] == 112, "DCGM_FR_NAN_VALUE is 111");

const char *dcgm_error_name(unsigned code)
{
    static char names[sizeof dcgm_errors / sizeof dcgm_errors[0]][48];
    if (code >= sizeof dcgm_errors / sizeof dcgm_errors[0])
        return NULL;
    if (!names[code][0]) /* built once per code; written only on the GPU collector's thread */
        snprintf(names[code], sizeof names[code], "DCGM_FR_%s", dcgm_errors[code]);
    return names[code];
}

struct gpu_dcgm *gpu_dcgm_new(const struct exporter_config *cfg, struct gpm_pause_fn pause)
{
    struct gpu_dcgm *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cfg = cfg;
    d->backoff = 1.0;
    d->pause = pause;
    return d;
}

static void drop_connection(struct gpu_dcgm *d)
{
    if (d->prof_paused)
        d->lib.ProfResume(d->h); /* never leave a host engine paused behind us (fails harmlessly if it is gone) */
    if (d->fg_made)
        d->lib.FieldGroupDestroy(d->h, d->fg); /* fails on a dead connection: nothing to keep anyway */
    d->fg_made = false;
    if (d->cfg->remote_hostengine)
        d->lib.Disconnect(d->h);
    else
        d->lib.StopEmbedded(d->h);
    d->connected = false;
    d->prof_paused = false; /* a new connection (or a restarted engine) starts unpaused */
    d->inst_watched = false;
    d->hier_valid = false;
    d->health_set = false;
}

/* Watches the profiling fields of the readings in `need` on all GPUs, in a new field group (the previous one,
 * if any, unwatched and destroyed first: a reload changed the counters). *n: how many fields. */
static dcgmReturn_t watch_fields(struct gpu_dcgm *d, uint64_t need, int *n)
{
    if (d->fg_made) {
        /* Both fail harmlessly on a dead connection; a field group left behind has its own name. */
        d->lib.UnwatchFields(d->h, DCGM_GROUP_ALL_GPUS, d->fg);
        if (d->inst_watched)
            d->lib.UnwatchFields(d->h, DCGM_GROUP_ALL_INSTANCES, d->fg);
        d->lib.FieldGroupDestroy(d->h, d->fg);
        d->fg_made = false;
    }
    d->watched = 0;
    d->inst_watched = false; /* the instances are watched again with the new group, now */
    d->next_inst_try = 0;
    d->watched_need = need;
    unsigned short ids[NPROF];
    uint64_t watched = 0;
    *n = 0;
    for (size_t i = 0; i < NPROF; i++) {
        if (need & READING_BIT(dcgm_prof[i].r)) {
            ids[(*n)++] = dcgm_prof[i].field;
            watched |= READING_BIT(dcgm_prof[i].r);
        }
    }
    if (*n == 0)
        return DCGM_ST_OK;
    char name[64];
    /* Field-group names are unique per host engine: ours carries the pid (gpu-apis.md §3.3), and a generation
     * so that a group a failed destroy left behind does not clash with the next. */
    snprintf(name, sizeof name, "jobtel-%ld-%u", (long)getpid(), ++d->fg_generation);
    dcgmReturn_t r = d->lib.FieldGroupCreate(d->h, *n, ids, name, &d->fg);
    if (r != DCGM_ST_OK)
        return r;
    d->fg_made = true;
    long long every_us = (long long)(d->cfg->collect_interval_s * 1e6);
    r = d->lib.WatchFields(d->h, DCGM_GROUP_ALL_GPUS, d->fg, every_us, 3 * d->cfg->collect_interval_s + 1, 0);
    if (r == DCGM_ST_OK)
        r = d->lib.UpdateAllFields(d->h, 1); /* a new watch has a value only after one update */
    if (r == DCGM_ST_OK)
        d->watched = watched;
    return r;
}

static bool is_unix_path(const char *addr)
{
    return addr[0] == '/' || strncmp(addr, "unix://", 7) == 0;
}

/* Connects (or starts the embedded engine) and watches the fields in `need`. */
static bool try_connect(struct gpu_dcgm *d, uint64_t need)
{
    char why[512];
    double now = mono_now();
    if (!d->loaded) {
        if (now < d->next_lib_try)
            return false;
        d->next_lib_try = now + DCGM_LIB_RETRY_S;
        if (dcgm_lib_open(&d->lib, d->cfg->dcgm_library, why, sizeof why) != JT_OK) {
            uint64_t s;
            if (ratelimit_allow(&d->rl, 300.0, &s))
                log_warn("GPU collector: DCGM not available (%s); serving NVML readings only", why);
            return false;
        }
        d->loaded = true;
    }
    dcgmReturn_t r;
    if (!d->inited) {
        r = d->lib.Init();
        if (r != DCGM_ST_OK) {
            log_warn("GPU collector: dcgmInit: %s", dcgm_lib_strerror(&d->lib, r));
            return false;
        }
        d->inited = true;
    }
    const char *remote = d->cfg->remote_hostengine;
    if (remote) {
        dcgmConnectV2Params_v2 p = {DCGM_CONNECT_V2_PARAMS_VERSION2, 0, 5000, is_unix_path(remote)};
        const char *addr = strncmp(remote, "unix://", 7) == 0 ? remote + 7 : remote;
        r = d->lib.Connect_v2(addr, &p, &d->h);
    } else {
        r = d->lib.StartEmbedded(DCGM_OPERATION_MODE_AUTO, &d->h);
    }
    if (r != DCGM_ST_OK) {
        uint64_t s;
        if (ratelimit_allow(&d->rl, 60.0, &s))
            log_warn("GPU collector: DCGM %s%s: %s; retrying in %.0f s", remote ? "host engine " : "embedded engine",
                     remote ? remote : "", dcgm_lib_strerror(&d->lib, r), d->backoff);
        return false;
    }
    d->connected = true;
    int n = 0;
    r = watch_fields(d, need, &n);
    if (r != DCGM_ST_OK) {
        log_warn("GPU collector: DCGM watch of %d profiling fields: %s", n, dcgm_lib_strerror(&d->lib, r));
        drop_connection(d);
        return false;
    }
    if (d->ever_connected) {
        d->reconnects++;
        log_info("GPU collector: DCGM %s%s: reconnected (%llu reconnections)", remote ? "host engine " : "engine",
                 remote ? remote : "", d->reconnects);
    } else {
        log_info("GPU collector: DCGM %s%s from %s: watching %d profiling fields",
                 remote ? "host engine " : "embedded engine", remote ? remote : "", d->lib.path, n);
    }
    d->ever_connected = true;
    d->backoff = 1.0;
    return true;
}

struct fill_ctx {
    struct gpu_dcgm *d;
    struct gpu_collection *c;
    uint64_t need;
};

/* Sets the profiling readings in v[0 .. n) on entity e (unless it is paused). */
static void fill_entity(struct fill_ctx *x, struct gpu_entity *e, const dcgmFieldValue_v1 *v, int n)
{
    if (x->d->pause.fn && x->d->pause.fn(x->d->pause.arg, e))
        return;
    for (int k = 0; k < n; k++) {
        const dcgmFieldValue_v1 *fv = &v[k];
        if (fv->status != DCGM_ST_OK)
            continue;
        double val;
        if (fv->fieldType == 'd') {
            if (!isfinite(fv->value.dbl) || fv->value.dbl >= DCGM_FP64_BLANK || fv->value.dbl < 0)
                continue;
            val = fv->value.dbl;
        } else if (fv->fieldType == 'i') {
            if (fv->value.i64 >= DCGM_INT64_BLANK || fv->value.i64 < 0)
                continue;
            val = (double)fv->value.i64;
        } else {
            continue;
        }
        for (size_t i = 0; i < NPROF; i++) {
            if (dcgm_prof[i].field == fv->fieldId && (x->need & READING_BIT(dcgm_prof[i].r))) {
                reading_set(&e->rd, dcgm_prof[i].r, val * dcgm_prof[i].to_reading);
                break;
            }
        }
    }
}

/* The NVML GPU index and GPU-instance id of DCGM's GPU_I entity `id`; false if the hierarchy lacks it. */
static bool instance_of(const struct gpu_dcgm *d, unsigned id, unsigned *gpu, unsigned *gi)
{
    if (!d->hier_valid)
        return false;
    unsigned n = d->hier->count < DCGM_MAX_HIERARCHY_INFO ? d->hier->count : DCGM_MAX_HIERARCHY_INFO;
    for (unsigned i = 0; i < n; i++) {
        const dcgmMigHierarchyInfo_v2 *h = &d->hier->entityList[i];
        if (h->entity.entityGroupId == DCGM_FE_GPU_I && h->entity.entityId == id) {
            *gpu = h->info.nvmlGpuIndex;
            *gi = h->info.nvmlInstanceId;
            return true;
        }
    }
    return false;
}

static int on_entity(unsigned int group, unsigned int id, dcgmFieldValue_v1 *v, int n, void *user)
{
    struct fill_ctx *x = user;
    if (group == DCGM_FE_GPU) {
        for (size_t i = 0; i < x->c->n; i++) {
            struct gpu_entity *e = &x->c->e[i];
            if (!e->is_mig && e->index == id && e->up) {
                fill_entity(x, e, v, n);
                break;
            }
        }
    } else if (group == DCGM_FE_GPU_I) {
        unsigned gpu, gi;
        if (!instance_of(x->d, id, &gpu, &gi)) {
            x->d->hier_stale = true; /* a new instance: read the hierarchy again next time */
            return 0;
        }
        char gi_s[12];
        snprintf(gi_s, sizeof gi_s, "%u", gi);
        /* Every compute instance of the GPU instance (NVML's MIG devices) gets the instance's values. */
        for (size_t i = 0; i < x->c->n; i++) {
            struct gpu_entity *e = &x->c->e[i];
            if (e->is_mig && e->up && e->index == gpu && strcmp(e->gi, gi_s) == 0)
                fill_entity(x, e, v, n);
        }
    }
    return 0;
}

/* A fingerprint of the collection's MIG instances (GPU index, GPU-instance id, UUID); 0: none. */
static uint64_t mig_layout(const struct gpu_collection *c)
{
    uint64_t h = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct gpu_entity *e = &c->e[i];
        if (!e->is_mig)
            continue;
        uint64_t k = 1469598103934665603ULL ^ e->index;
        for (const char *p = e->gi; *p; p++)
            k = (k ^ (unsigned char)*p) * 1099511628211ULL;
        for (const char *p = e->mig_uuid; *p; p++)
            k = (k ^ (unsigned char)*p) * 1099511628211ULL;
        h += k | 1; /* order-free, never 0 */
    }
    return h;
}

/* Watches the profiling fields on every MIG instance and reads which instance each GPU_I entity is, when
 * the collection has MIG instances. False when the instances cannot be read now. */
static bool watch_instances(struct gpu_dcgm *d, const struct gpu_collection *c, double now)
{
    uint64_t sig = mig_layout(c);
    if (sig == 0 || !d->fg_made)
        return false;
    if (sig != d->mig_sig) {
        d->mig_sig = sig; /* reconfigured: watch and read the hierarchy again */
        d->inst_watched = false;
        d->hier_valid = false;
        d->next_inst_try = 0;
    }
    if (!d->inst_watched) {
        if (now < d->next_inst_try)
            return false;
        d->next_inst_try = now + DCGM_INST_RETRY_S;
        long long every_us = (long long)(d->cfg->collect_interval_s * 1e6);
        dcgmReturn_t r =
            d->lib.WatchFields(d->h, DCGM_GROUP_ALL_INSTANCES, d->fg, every_us, 3 * d->cfg->collect_interval_s + 1, 0);
        if (r == DCGM_ST_OK)
            r = d->lib.UpdateAllFields(d->h, 1);
        if (r != DCGM_ST_OK) {
            uint64_t s;
            if (ratelimit_allow(&d->rl, 300.0, &s))
                log_warn("GPU collector: DCGM watch of the MIG instances: %s; their profiling series stay absent",
                         dcgm_lib_strerror(&d->lib, r));
            return false;
        }
        d->inst_watched = true;
    }
    if (!d->hier_valid || d->hier_stale) {
        if (!d->hier && !(d->hier = malloc(sizeof *d->hier)))
            return false;
        memset(d->hier, 0, sizeof *d->hier);
        d->hier->version = DCGM_MIG_HIERARCHY_VERSION2;
        dcgmReturn_t r = d->lib.GetGpuInstanceHierarchy(d->h, d->hier);
        d->hier_stale = false;
        d->hier_valid = r == DCGM_ST_OK;
        if (r != DCGM_ST_OK) {
            uint64_t s;
            if (ratelimit_allow(&d->rl, 300.0, &s))
                log_warn("GPU collector: dcgmGetGpuInstanceHierarchy: %s; MIG profiling series absent",
                         dcgm_lib_strerror(&d->lib, r));
            return false;
        }
    }
    return true;
}

/* The connection broke (CONNECTION_NOT_VALID): NVML readings go on, reconnect with back-off from 1 s. */
static void lost_connection(struct gpu_dcgm *d, struct gpu_collection *c, double now)
{
    log_warn("GPU collector: lost the DCGM %s%s; serving NVML readings, reconnecting",
             d->cfg->remote_hostengine ? "host engine " : "engine",
             d->cfg->remote_hostengine ? d->cfg->remote_hostengine : "");
    drop_connection(d);
    d->backoff = 1.0;
    d->next_try = now + d->backoff;
    c->dcgm_connected = false;
}

void gpu_dcgm_set_health(struct gpu_dcgm *d, bool on)
{
    if (d)
        d->want_health = on;
}

/* Sets every whole GPU's health[] from one dcgmHealthCheck of all GPUs. Each watched system passes unless an
 * incident names it; several incidents of one system on one GPU: the worst one counts. False when the
 * connection is gone. */
static bool read_health(struct gpu_dcgm *d, struct gpu_collection *c, double now)
{
    dcgmReturn_t r = DCGM_ST_OK;
    if (!d->health_set) {
        r = d->lib.HealthSet(d->h, DCGM_GROUP_ALL_GPUS, DCGM_HEALTH_WATCH_ALL);
        d->health_set = r == DCGM_ST_OK;
    }
    if (r == DCGM_ST_OK && !d->health && !(d->health = malloc(sizeof *d->health)))
        return true;
    if (r == DCGM_ST_OK) {
        memset(d->health, 0, sizeof *d->health);
        d->health->version = DCGM_HEALTH_RESPONSE_VERSION4;
        r = d->lib.HealthCheck(d->h, DCGM_GROUP_ALL_GPUS, d->health);
    }
    if (r == DCGM_ST_CONNECTION_NOT_VALID) {
        lost_connection(d, c, now);
        return false;
    }
    if (r != DCGM_ST_OK) {
        uint64_t s;
        if (ratelimit_allow(&d->rl, 300.0, &s))
            log_warn("GPU collector: DCGM health check: %s; DCGM_EXP_GPU_HEALTH_STATUS absent",
                     dcgm_lib_strerror(&d->lib, r));
        return true;
    }
    for (size_t i = 0; i < c->n; i++) {
        struct gpu_entity *e = &c->e[i];
        if (e->is_mig || !e->up)
            continue;
        e->health_valid = true;
        memset(e->health, 0, sizeof e->health);
        memset(e->health_code, 0, sizeof e->health_code);
        unsigned n = d->health->incidentCount < DCGM_HEALTH_WATCH_MAX_INCIDENTS ? d->health->incidentCount
                                                                                 : DCGM_HEALTH_WATCH_MAX_INCIDENTS;
        for (unsigned k = 0; k < n; k++) {
            const dcgmIncidentInfo_t *inc = &d->health->incidents[k];
            if (inc->entityInfo.entityGroupId != DCGM_FE_GPU || inc->entityInfo.entityId != e->index)
                continue;
            for (size_t w = 0; w < GPU_HEALTH_SYSTEMS; w++) {
                if (gpu_health_watches[w].bit == inc->system && inc->health >= e->health[w]) {
                    e->health[w] = inc->health;
                    e->health_code[w] = inc->error.code;
                }
            }
        }
    }
    return true;
}

void gpu_dcgm_read(void *state, uint64_t need, struct gpu_collection *c)
{
    struct gpu_dcgm *d = state;
    need &= READINGS_GPM;
    c->dcgm_enabled = true;
    double now = mono_now();
    if (!d->connected && now >= d->next_try) {
        if (!try_connect(d, need)) {
            d->next_try = now + d->backoff;
            d->backoff = d->backoff * 2 > DCGM_BACKOFF_MAX_S ? DCGM_BACKOFF_MAX_S : d->backoff * 2;
        }
    }
    c->dcgm_connected = d->connected;
    c->dcgm_reconnects = d->reconnects;
    if (!d->connected || !c->nvml_available)
        return;
    if (d->want_health && !read_health(d, c, now))
        return;
    if (need != d->watched_need) {
        /* The counters file changed (SIGHUP): watch what it selects now. */
        int n = 0;
        dcgmReturn_t r = watch_fields(d, need, &n);
        if (r == DCGM_ST_CONNECTION_NOT_VALID) {
            lost_connection(d, c, now);
            return;
        }
        if (r != DCGM_ST_OK) {
            uint64_t s;
            d->watched_need = ~need; /* tried again at the next collection */
            if (ratelimit_allow(&d->rl, 300.0, &s))
                log_warn("GPU collector: DCGM watch of %d profiling fields after a reload: %s", n,
                         dcgm_lib_strerror(&d->lib, r));
        } else {
            log_info("GPU collector: DCGM: the counters changed; watching %d profiling fields", n);
        }
    }
    if (!need)
        return;
    /* A job profiling its GPUs itself: DCGM pauses profiling engine-wide (there is no per-GPU pause), so
     * while any GPU is paused no profiling field is sampled on any GPU. */
    bool any_paused = false;
    for (size_t i = 0; i < c->n && d->pause.fn && !any_paused; i++)
        any_paused = c->e[i].up && d->pause.fn(d->pause.arg, &c->e[i]);
    if (any_paused != d->prof_paused) {
        dcgmReturn_t pr = any_paused ? d->lib.ProfPause(d->h) : d->lib.ProfResume(d->h);
        if (pr == DCGM_ST_OK) {
            d->prof_paused = any_paused;
            log_info("GPU collector: DCGM profiling %s (a job profiles its GPUs itself)",
                     any_paused ? "paused" : "resumed");
        } else {
            uint64_t s;
            if (ratelimit_allow(&d->rl, 300.0, &s))
                log_warn("GPU collector: dcgmProf%s: %s", any_paused ? "Pause" : "Resume",
                         dcgm_lib_strerror(&d->lib, pr));
        }
    }
    if (d->prof_paused || !d->fg_made)
        return; /* paused for a job, or the last watch failed (retried above) */
    struct fill_ctx x = {d, c, need & d->watched};
    dcgmReturn_t r = d->lib.GetLatestValues_v2(d->h, DCGM_GROUP_ALL_GPUS, d->fg, on_entity, &x);
    if (r == DCGM_ST_OK && watch_instances(d, c, now))
        r = d->lib.GetLatestValues_v2(d->h, DCGM_GROUP_ALL_INSTANCES, d->fg, on_entity, &x);
    if (r == DCGM_ST_CONNECTION_NOT_VALID) {
        /* Values the callback may have set before the error are from the engine that answered: keep them. */
        lost_connection(d, c, now);
        return;
    }
    if (r != DCGM_ST_OK) {
        uint64_t s;
        if (ratelimit_allow(&d->rl, 300.0, &s))
            log_warn("GPU collector: dcgmGetLatestValues_v2: %s", dcgm_lib_strerror(&d->lib, r));
    }
}

void gpu_dcgm_free(struct gpu_dcgm *d)
{
    if (!d)
        return;
    if (d->connected)
        drop_connection(d);
    if (d->inited)
        d->lib.Shutdown();
    if (d->loaded)
        dcgm_lib_close(&d->lib);
    free(d->hier);
    free(d->health);
    free(d);
}
