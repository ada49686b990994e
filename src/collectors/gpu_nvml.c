/* gpu_nvml.c - the GPU collector: per-GPU metrics read through NVML, in dcgm-exporter's and
 * Princeton's name sets.
 *
 * Shape: init loads NVML (dlopen, path from --collector.gpu.nvml-library), enumerates the GPUs once
 * and caches their identity (the labels); each collection reads only the quantities some selected
 * metric needs (gpu_fields.h) into a struct with a valid bit per value, then writes both name sets
 * from it. A value NVML did not give us is never written. A GPU that answers GPU_IS_LOST is flagged
 * (jobtel_gpu_up 0) and not queried again; the others carry on. XID errors arrive as NVML events on
 * a thread of their own. No NVML at all is not an error: the collector says so once, exports
 * jobtel_gpu_nvml_available 0 and retries the library now and then.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/collector.h"
#include "collectors/counters_csv.h"
#include "collectors/gpu_fields.h"
#include "attribution/gpu_jobs.h"
#include "attribution/gpu_pods.h"
#include "common/log.h"
#include "common/strparse.h"
#include "exporter/api.h"
#include "nvml/nvml_loader.h"
#include "nvml/nvml_procs.h"

#define GPU_MAX_DEVICES 64
#define GPU_MAX_MIG 16
#define GPU_MAX_XID_KINDS 32
#define GPU_NVML_RETRY_S 30.0
/* What the JSON API shows, read even when no selected metric needs it. */
#define API_NEED (READING_BIT(R_GPU_UTIL) | READING_BIT(R_FB_USED) | READING_BIT(R_FB_TOTAL) | READING_BIT(R_POWER_MW))

struct mig_instance {
    nvmlDevice_t h;
    char gi[12];          /* GPU instance id, decimal */
    char ci[12];
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    char profile[32];     /* e.g. "1g.10gb", from the MIG device name */
    unsigned slot;        /* index for nvmlDeviceGetMigDeviceHandleByIndex (device plugin "<gpu>:<slot>" ids) */
};

struct xid_count {
    unsigned long long xid;
    unsigned long long count;
};

struct gpu_device {
    nvmlDevice_t h;
    unsigned index;
    char index_s[12];
    char minor_s[12];     /* "" if NVML could not tell */
    char device_s[24];    /* nvidia<index> */
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    char model[NVML_DEVICE_NAME_V2_BUFFER_SIZE]; /* modelName label (blanks optionally replaced) */
    char pci[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
    bool lost;
    nvmlReturn_t last_error; /* last non-NOT_SUPPORTED failure, NVML_SUCCESS if none */
    struct mig_instance mig[GPU_MAX_MIG];
    size_t nmig;
    /* Written by the XID thread, read by collect; guarded by gpu_state.xid_mu. */
    bool xid_registered;
    unsigned long long last_xid;
    struct xid_count xids[GPU_MAX_XID_KINDS];
    size_t nxids;
};

/* One selected DCGM metric (from the counters CSV). */
struct dcgm_metric {
    const struct dcgm_field_def *def;
    enum counter_type type;
    const char *name;  /* borrowed from counters */
    const char *help;  /* borrowed from counters */
};

struct dcgm_label {
    const char *name;  /* borrowed from counters */
    enum dcgm_label_field kind;
};

struct gpu_selection {
    struct counter_list counters; /* owns the strings the arrays below borrow */
    struct dcgm_metric *metrics;
    size_t nmetrics;
    struct dcgm_label *labels;    /* sorted by name, as dcgm-exporter orders them */
    size_t nlabels;
};

struct gpu_state {
    const struct exporter_config *cfg;
    struct gpu_selection sel;
    uint64_t need;                /* readings some metric uses */
    struct nvml_lib lib;
    bool loaded;                  /* lib is open */
    bool inited;                  /* Init succeeded and devices are enumerated */
    double next_retry;
    char why[512];                /* why NVML is unavailable */
    char driver_version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    char nvml_version[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
    struct gpu_device devs[GPU_MAX_DEVICES];
    size_t ndev;
    struct gpu_jobs jobs;         /* Slurm job attribution */
    struct gpu_pods pods;         /* Kubernetes pod attribution (-k) */
    size_t api_slot;              /* next exporter/api.h slot in this collection */
    /* XID events */
    pthread_mutex_t xid_mu;
    pthread_t xid_thread;
    bool xid_running;
    atomic_bool xid_stop;
    atomic_bool xid_done;
    nvmlEventSet_t evset;
    bool evset_created;
};

/* ---- selection: which DCGM fields, from the counters CSV ---------------------------------------- */

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dcgm_label *)a)->name, ((const struct dcgm_label *)b)->name);
}

static void selection_free(struct gpu_selection *s)
{
    counters_free(&s->counters);
    free(s->metrics);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* Builds the selection from the CSV (or the built-in default). Fields jobtel cannot serve from NVML
 * are listed once in the log and skipped; a malformed file is an error naming file:line. */
static enum jt_err selection_load(const char *path, struct gpu_selection *out, uint64_t *need)
{
    char why[512];
    struct gpu_selection s;
    memset(&s, 0, sizeof s);
    enum jt_err rc = path ? counters_load(path, &s.counters, why, sizeof why)
                          : counters_parse("built-in default counters", dcgm_default_counters_csv,
                                           strlen(dcgm_default_counters_csv), &s.counters, why, sizeof why);
    if (rc != JT_OK) {
        log_error("counters file: %s", why);
        return rc;
    }
    s.metrics = calloc(s.counters.n ? s.counters.n : 1, sizeof *s.metrics);
    s.labels = calloc(s.counters.n ? s.counters.n : 1, sizeof *s.labels);
    if (!s.metrics || !s.labels) {
        selection_free(&s);
        return JT_ERR_NOMEM;
    }
    struct buf skipped;
    buf_init(&skipped, 8192);
    uint64_t mask = 0;
    for (size_t i = 0; i < s.counters.n; i++) {
        const struct counter_entry *e = &s.counters.e[i];
        if (e->type == CT_LABEL) {
            enum dcgm_label_field k = dcgm_label_lookup(e->field);
            if (k != DLF_NONE) {
                s.labels[s.nlabels].name = e->field;
                s.labels[s.nlabels].kind = k;
                s.nlabels++;
                continue;
            }
        } else {
            const struct dcgm_field_def *def = dcgm_field_lookup(e->field);
            if (def) {
                s.metrics[s.nmetrics].def = def;
                s.metrics[s.nmetrics].type = e->type == CT_COUNTER ? CT_COUNTER : CT_GAUGE;
                s.metrics[s.nmetrics].name = e->field;
                s.metrics[s.nmetrics].help = e->help;
                s.nmetrics++;
                mask |= READING_BIT(def->reading);
                continue;
            }
        }
        buf_printf(&skipped, "%s%s", skipped.len ? ", " : "", e->field);
    }
    if (skipped.len)
        log_info("GPU collector: skipped (needs DCGM): %s", buf_str(&skipped));
    buf_free(&skipped);
    qsort(s.labels, s.nlabels, sizeof *s.labels, label_cmp);
    *out = s;
    *need |= mask;
    return JT_OK;
}

static uint64_t jobstats_need(void)
{
    uint64_t mask = READING_BIT(R_CLOCK_REASONS);
    for (size_t i = 0; i < jobstats_metrics_count; i++)
        mask |= READING_BIT(jobstats_metrics[i].reading);
    return mask;
}

/* ---- NVML start-up: load, init, enumerate ------------------------------------------------------- */

static void copy_model(char *dst, size_t n, const char *name, bool replace_blanks)
{
    str_copy(dst, n, name, strlen(name));
    if (replace_blanks) {
        for (char *p = dst; *p; p++) {
            if (*p == ' ')
                *p = '-';
        }
    }
}

/* The MIG profile is the last word of a MIG device's name ("NVIDIA H100 80GB HBM3 MIG 1g.10gb"). */
static void mig_profile_from_name(const char *name, char *out, size_t n)
{
    const char *mig = strstr(name, "MIG ");
    const char *p = mig ? mig + 4 : NULL;
    if (!p || !*p) {
        out[0] = '\0';
        return;
    }
    str_copy(out, n, p, strcspn(p, " "));
}

static void enumerate_mig(struct gpu_state *st, struct gpu_device *d)
{
    const struct nvml_lib *L = &st->lib;
    d->nmig = 0;
    if (!L->DeviceGetMigMode || !L->DeviceGetMaxMigDeviceCount || !L->DeviceGetMigDeviceHandleByIndex)
        return;
    unsigned cur = 0, pend = 0;
    if (L->DeviceGetMigMode(d->h, &cur, &pend) != NVML_SUCCESS || cur != NVML_DEVICE_MIG_ENABLE)
        return;
    unsigned max = 0;
    if (L->DeviceGetMaxMigDeviceCount(d->h, &max) != NVML_SUCCESS)
        return;
    for (unsigned i = 0; i < max && d->nmig < GPU_MAX_MIG; i++) {
        struct mig_instance *m = &d->mig[d->nmig];
        memset(m, 0, sizeof *m);
        if (L->DeviceGetMigDeviceHandleByIndex(d->h, i, &m->h) != NVML_SUCCESS)
            continue; /* NOT_FOUND: an empty slot */
        unsigned gi = 0, ci = 0;
        if (!L->DeviceGetGpuInstanceId || L->DeviceGetGpuInstanceId(m->h, &gi) != NVML_SUCCESS)
            continue;
        snprintf(m->gi, sizeof m->gi, "%u", gi);
        m->slot = i;
        if (L->DeviceGetComputeInstanceId && L->DeviceGetComputeInstanceId(m->h, &ci) == NVML_SUCCESS)
            snprintf(m->ci, sizeof m->ci, "%u", ci);
        if (L->DeviceGetUUID(m->h, m->uuid, sizeof m->uuid) != NVML_SUCCESS)
            m->uuid[0] = '\0';
        if (L->DeviceGetName(m->h, m->name, sizeof m->name) != NVML_SUCCESS)
            m->name[0] = '\0';
        mig_profile_from_name(m->name, m->profile, sizeof m->profile);
        d->nmig++;
    }
}

static enum jt_err enumerate(struct gpu_state *st)
{
    const struct nvml_lib *L = &st->lib;
    unsigned count = 0;
    nvmlReturn_t r = L->DeviceGetCount(&count);
    if (r != NVML_SUCCESS) {
        snprintf(st->why, sizeof st->why, "nvmlDeviceGetCount: %s", nvml_lib_strerror(L, r));
        return JT_ERR_LIBRARY;
    }
    if (count > GPU_MAX_DEVICES) {
        log_warn("GPU collector: NVML reports %u GPUs; exporting the first %d", count, GPU_MAX_DEVICES);
        count = GPU_MAX_DEVICES;
    }
    st->ndev = 0;
    for (unsigned i = 0; i < count; i++) {
        struct gpu_device *d = &st->devs[st->ndev];
        memset(d, 0, sizeof *d);
        r = L->DeviceGetHandleByIndex(i, &d->h);
        if (r != NVML_SUCCESS) {
            /* NO_PERMISSION: counted but not ours to open (cgroup device isolation). */
            log_warn("GPU collector: cannot open GPU %u: %s", i, nvml_lib_strerror(L, r));
            continue;
        }
        d->index = i;
        snprintf(d->index_s, sizeof d->index_s, "%u", i);
        snprintf(d->device_s, sizeof d->device_s, "nvidia%u", i);
        unsigned minor;
        if (L->DeviceGetMinorNumber && L->DeviceGetMinorNumber(d->h, &minor) == NVML_SUCCESS)
            snprintf(d->minor_s, sizeof d->minor_s, "%u", minor);
        r = L->DeviceGetUUID(d->h, d->uuid, sizeof d->uuid);
        if (r == NVML_ERROR_GPU_IS_LOST)
            d->lost = true;
        else if (r != NVML_SUCCESS)
            d->uuid[0] = '\0';
        if (L->DeviceGetName(d->h, d->name, sizeof d->name) != NVML_SUCCESS)
            d->name[0] = '\0';
        copy_model(d->model, sizeof d->model, d->name, st->cfg->replace_blanks_in_model_name);
        nvmlPciInfo_t pci;
        memset(&pci, 0, sizeof pci);
        if (L->DeviceGetPciInfo && L->DeviceGetPciInfo(d->h, &pci) == NVML_SUCCESS)
            str_copy(d->pci, sizeof d->pci, pci.busId, strnlen(pci.busId, sizeof pci.busId));
        if (d->lost) {
            log_error("GPU collector: GPU %u is lost (fell off the bus)", i);
            d->last_error = NVML_ERROR_GPU_IS_LOST;
        } else {
            enumerate_mig(st, d);
        }
        st->ndev++;
    }
    return JT_OK;
}

static void *xid_thread_main(void *arg);

static void xid_start(struct gpu_state *st)
{
    const struct nvml_lib *L = &st->lib;
    if (!st->cfg->gpu_xid_events || !L->EventSetCreate || !L->DeviceRegisterEvents || !L->EventSetWait ||
        !L->EventSetFree)
        return;
    if (L->EventSetCreate(&st->evset) != NVML_SUCCESS)
        return;
    st->evset_created = true;
    size_t registered = 0;
    for (size_t i = 0; i < st->ndev; i++) {
        struct gpu_device *d = &st->devs[i];
        if (d->lost)
            continue;
        unsigned long long supported = nvmlEventTypeXidCriticalError;
        if (L->DeviceGetSupportedEventTypes && L->DeviceGetSupportedEventTypes(d->h, &supported) != NVML_SUCCESS)
            supported = 0;
        /* One unsupported bit fails the whole registration, so ask only for what is supported. */
        unsigned long long want = nvmlEventTypeXidCriticalError & supported;
        if (want && L->DeviceRegisterEvents(d->h, want, st->evset) == NVML_SUCCESS) {
            d->xid_registered = true;
            registered++;
        }
    }
    if (registered == 0) {
        L->EventSetFree(st->evset);
        st->evset_created = false;
        log_info("GPU collector: XID events not supported on any GPU");
        return;
    }
    atomic_store(&st->xid_stop, false);
    atomic_store(&st->xid_done, false);
    if (pthread_create(&st->xid_thread, NULL, xid_thread_main, st) == 0)
        st->xid_running = true;
}

static void nvml_try_start(struct gpu_state *st)
{
    st->next_retry = mono_now() + GPU_NVML_RETRY_S;
    if (!st->loaded) {
        if (nvml_lib_open(&st->lib, st->cfg->nvml_library, st->why, sizeof st->why) != JT_OK)
            return;
        st->loaded = true;
    }
    nvmlReturn_t r = st->lib.Init();
    if (r != NVML_SUCCESS) {
        snprintf(st->why, sizeof st->why, "nvmlInit: %s", nvml_lib_strerror(&st->lib, r));
        return;
    }
    if (enumerate(st) != JT_OK) {
        st->lib.Shutdown();
        return;
    }
    if (!st->lib.SystemGetDriverVersion ||
        st->lib.SystemGetDriverVersion(st->driver_version, sizeof st->driver_version) != NVML_SUCCESS)
        st->driver_version[0] = '\0';
    if (!st->lib.SystemGetNVMLVersion ||
        st->lib.SystemGetNVMLVersion(st->nvml_version, sizeof st->nvml_version) != NVML_SUCCESS)
        st->nvml_version[0] = '\0';
    st->inited = true;
    st->why[0] = '\0';
    log_info("GPU collector: NVML %s (driver %s) from %s: %zu GPU(s)", st->nvml_version, st->driver_version,
             st->lib.path, st->ndev);
    xid_start(st);
}

/* ---- XID events ----------------------------------------------------------------------------------- */

static void *xid_thread_main(void *arg)
{
    struct gpu_state *st = arg;
    const struct nvml_lib *L = &st->lib;
    while (!atomic_load(&st->xid_stop)) {
        nvmlEventData_t ev;
        memset(&ev, 0, sizeof ev);
        nvmlReturn_t r = L->EventSetWait(st->evset, &ev, 500);
        if (r == NVML_ERROR_TIMEOUT)
            continue;
        if (r != NVML_SUCCESS) {
            /* Not a busy loop on a broken event set. */
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
            continue;
        }
        if (!(ev.eventType & nvmlEventTypeXidCriticalError))
            continue;
        pthread_mutex_lock(&st->xid_mu);
        for (size_t i = 0; i < st->ndev; i++) {
            struct gpu_device *d = &st->devs[i];
            if (!nvml_device_same(d->h, ev.device))
                continue;
            d->last_xid = ev.eventData;
            size_t k = 0;
            while (k < d->nxids && d->xids[k].xid != ev.eventData)
                k++;
            if (k == d->nxids && d->nxids < GPU_MAX_XID_KINDS) {
                d->xids[k].xid = ev.eventData;
                d->xids[k].count = 0;
                d->nxids++;
            }
            if (k < d->nxids)
                d->xids[k].count++;
            break;
        }
        pthread_mutex_unlock(&st->xid_mu);
    }
    atomic_store(&st->xid_done, true);
    return NULL;
}

/* ---- reading -------------------------------------------------------------------------------------- */

struct read_ctx {
    struct gpu_state *st;
    struct gpu_device *d;
    struct gpu_readings *rd;
    bool lost;
};

/* Records a call's outcome; true when the value may be used. */
static bool ok(struct read_ctx *c, nvmlReturn_t r)
{
    if (r == NVML_SUCCESS)
        return true;
    if (r == NVML_ERROR_GPU_IS_LOST)
        c->lost = true;
    if (r != NVML_ERROR_NOT_SUPPORTED && r != NVML_ERROR_FUNCTION_NOT_FOUND)
        c->d->last_error = r;
    return false;
}

static void set(struct gpu_readings *rd, enum gpu_reading r, double v)
{
    rd->v[r] = v;
    rd->valid |= READING_BIT(r);
}

static bool want(uint64_t need, uint64_t mask) { return (need & mask) != 0; }

/* Reads a field-values batch into the readings table. */
static void read_fields(struct read_ctx *c, nvmlDevice_t h, uint64_t need)
{
    static const struct { unsigned id; enum gpu_reading r; } map[] = {
        {NVML_FI_DEV_MEMORY_TEMP, R_MEM_TEMP},
        {NVML_FI_DEV_PCIE_REPLAY_COUNTER, R_PCIE_REPLAY},
        {NVML_FI_DEV_PERF_POLICY_POWER, R_VIOL_POWER},
        {NVML_FI_DEV_PERF_POLICY_THERMAL, R_VIOL_THERMAL},
        {NVML_FI_DEV_PERF_POLICY_SYNC_BOOST, R_VIOL_SYNC_BOOST},
        {NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT, R_VIOL_BOARD},
        {NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION, R_VIOL_LOW_UTIL},
        {NVML_FI_DEV_PERF_POLICY_RELIABILITY, R_VIOL_RELIABILITY},
        {NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, R_NVLINK_CRC_FLIT},
        {NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, R_NVLINK_CRC_DATA},
        {NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, R_NVLINK_REPLAY},
        {NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, R_NVLINK_RECOVERY},
        {NVML_FI_DEV_NVLINK_BANDWIDTH_C0_TOTAL, R_NVLINK_BW_TOTAL},
    };
    enum { NMAP = sizeof map / sizeof map[0] };
    const struct nvml_lib *L = &c->st->lib;
    if (!L->DeviceGetFieldValues)
        return;
    nvmlFieldValue_t fv[NMAP];
    enum gpu_reading which[NMAP];
    int n = 0;
    memset(fv, 0, sizeof fv);
    for (size_t i = 0; i < NMAP; i++) {
        if (!(need & READING_BIT(map[i].r)))
            continue;
        fv[n].fieldId = map[i].id;
        fv[n].scopeId = 0;
        which[n] = map[i].r;
        n++;
    }
    if (n == 0)
        return;
    /* One call for all of them: NVML serves ids that share a driver query together. */
    if (!ok(c, L->DeviceGetFieldValues(h, n, fv)))
        return;
    for (int i = 0; i < n; i++) {
        if (fv[i].nvmlReturn != NVML_SUCCESS) {
            ok(c, fv[i].nvmlReturn);
            continue;
        }
        double v;
        switch (fv[i].valueType) {
        case NVML_VALUE_TYPE_DOUBLE: v = fv[i].value.dVal; break;
        case NVML_VALUE_TYPE_UNSIGNED_INT: v = fv[i].value.uiVal; break;
        case NVML_VALUE_TYPE_UNSIGNED_LONG: v = (double)fv[i].value.ulVal; break;
        case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: v = (double)fv[i].value.ullVal; break;
        case NVML_VALUE_TYPE_SIGNED_LONG_LONG: v = (double)fv[i].value.sllVal; break;
        case NVML_VALUE_TYPE_SIGNED_INT: v = fv[i].value.siVal; break;
        case NVML_VALUE_TYPE_UNSIGNED_SHORT: v = fv[i].value.usVal; break;
        default: continue; /* a type we do not know: no value rather than a wrong one */
        }
        set(c->rd, which[i], v);
    }
}

static void read_memory(struct read_ctx *c, nvmlDevice_t h)
{
    const struct nvml_lib *L = &c->st->lib;
    if (L->DeviceGetMemoryInfo_v2) {
        nvmlMemory_v2_t m;
        nvml_memory_v2_init(&m);
        nvmlReturn_t r = L->DeviceGetMemoryInfo_v2(h, &m);
        if (r == NVML_SUCCESS) {
            set(c->rd, R_FB_TOTAL, (double)m.total);
            set(c->rd, R_FB_FREE, (double)m.free);
            set(c->rd, R_FB_USED, (double)m.used);
            set(c->rd, R_FB_RESERVED, (double)m.reserved);
            set(c->rd, R_FB_USED_V1, (double)(m.total - m.free));
            return;
        }
        if (!ok(c, r) && c->lost)
            return;
    }
    if (L->DeviceGetMemoryInfo) {
        nvmlMemory_t m;
        if (ok(c, L->DeviceGetMemoryInfo(h, &m))) {
            /* v1 has no reserved figure and its used includes it: only total, free and v1 used. */
            set(c->rd, R_FB_TOTAL, (double)m.total);
            set(c->rd, R_FB_FREE, (double)m.free);
            set(c->rd, R_FB_USED_V1, (double)m.used);
        }
    }
}

static void read_device(struct read_ctx *c, uint64_t need)
{
    const struct nvml_lib *L = &c->st->lib;
    struct gpu_device *d = c->d;
    nvmlDevice_t h = d->h;
    struct gpu_readings *rd = c->rd;
    unsigned u, u2;
    unsigned long long ull;

#define STOP_IF_LOST() do { if (c->lost) return; } while (0)
    if (want(need, READING_BIT(R_GPU_UTIL) | READING_BIT(R_MEM_UTIL)) && L->DeviceGetUtilizationRates) {
        nvmlUtilization_t ut;
        if (ok(c, L->DeviceGetUtilizationRates(h, &ut))) {
            set(rd, R_GPU_UTIL, ut.gpu);
            set(rd, R_MEM_UTIL, ut.memory);
        }
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_ENC_UTIL)) && L->DeviceGetEncoderUtilization) {
        if (ok(c, L->DeviceGetEncoderUtilization(h, &u, &u2)))
            set(rd, R_ENC_UTIL, u);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_DEC_UTIL)) && L->DeviceGetDecoderUtilization) {
        if (ok(c, L->DeviceGetDecoderUtilization(h, &u, &u2)))
            set(rd, R_DEC_UTIL, u);
        STOP_IF_LOST();
    }
    static const struct { nvmlClockType_t t; enum gpu_reading r; } clocks[] = {
        {NVML_CLOCK_SM, R_SM_CLOCK}, {NVML_CLOCK_MEM, R_MEM_CLOCK},
        {NVML_CLOCK_GRAPHICS, R_GRAPHICS_CLOCK}, {NVML_CLOCK_VIDEO, R_VIDEO_CLOCK},
    };
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0] && L->DeviceGetClockInfo; i++) {
        if (!want(need, READING_BIT(clocks[i].r)))
            continue;
        if (ok(c, L->DeviceGetClockInfo(h, clocks[i].t, &u)))
            set(rd, clocks[i].r, u);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_GPU_TEMP)) && L->DeviceGetTemperature) {
        if (ok(c, L->DeviceGetTemperature(h, NVML_TEMPERATURE_GPU, &u)))
            set(rd, R_GPU_TEMP, u);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_POWER_MW)) && L->DeviceGetPowerUsage) {
        if (ok(c, L->DeviceGetPowerUsage(h, &u)))
            set(rd, R_POWER_MW, u);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_POWER_LIMIT_MW)) && L->DeviceGetEnforcedPowerLimit) {
        if (ok(c, L->DeviceGetEnforcedPowerLimit(h, &u)))
            set(rd, R_POWER_LIMIT_MW, u);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_ENERGY_MJ)) && L->DeviceGetTotalEnergyConsumption) {
        if (ok(c, L->DeviceGetTotalEnergyConsumption(h, &ull)))
            set(rd, R_ENERGY_MJ, (double)ull);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_FB_TOTAL) | READING_BIT(R_FB_FREE) | READING_BIT(R_FB_USED) |
                       READING_BIT(R_FB_RESERVED) | READING_BIT(R_FB_USED_V1))) {
        read_memory(c, h);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_FAN)) && L->DeviceGetFanSpeed) {
        if (ok(c, L->DeviceGetFanSpeed(h, &u)))
            set(rd, R_FAN, u);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_PSTATE)) && L->DeviceGetPerformanceState) {
        nvmlPstates_t ps;
        if (ok(c, L->DeviceGetPerformanceState(h, &ps)) && ps != NVML_PSTATE_UNKNOWN)
            set(rd, R_PSTATE, ps);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_CLOCK_REASONS)) && L->DeviceGetCurrentClocksEventReasons) {
        if (ok(c, L->DeviceGetCurrentClocksEventReasons(h, &ull)))
            set(rd, R_CLOCK_REASONS, (double)ull);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_PCIE_TX_KBPS)) && L->DeviceGetPcieThroughput) {
        if (ok(c, L->DeviceGetPcieThroughput(h, NVML_PCIE_UTIL_TX_BYTES, &u)))
            set(rd, R_PCIE_TX_KBPS, u);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_PCIE_RX_KBPS)) && L->DeviceGetPcieThroughput) {
        if (ok(c, L->DeviceGetPcieThroughput(h, NVML_PCIE_UTIL_RX_BYTES, &u)))
            set(rd, R_PCIE_RX_KBPS, u);
        STOP_IF_LOST();
    }
    static const struct { nvmlMemoryErrorType_t e; nvmlEccCounterType_t k; enum gpu_reading r; } ecc[] = {
        {NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC, R_ECC_SBE_VOL},
        {NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC, R_ECC_DBE_VOL},
        {NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_AGGREGATE_ECC, R_ECC_SBE_AGG},
        {NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_AGGREGATE_ECC, R_ECC_DBE_AGG},
    };
    for (size_t i = 0; i < sizeof ecc / sizeof ecc[0] && L->DeviceGetTotalEccErrors; i++) {
        if (!want(need, READING_BIT(ecc[i].r)))
            continue;
        nvmlReturn_t r = L->DeviceGetTotalEccErrors(h, ecc[i].e, ecc[i].k, &ull);
        if (ok(c, r))
            set(rd, ecc[i].r, (double)ull);
        STOP_IF_LOST();
        if (r == NVML_ERROR_NOT_SUPPORTED)
            break; /* no ECC on this board: the other three say the same */
    }
    static const struct { nvmlPageRetirementCause_t cause; enum gpu_reading r; } retired[] = {
        {NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS, R_RETIRED_SBE},
        {NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR, R_RETIRED_DBE},
    };
    for (size_t i = 0; i < 2 && L->DeviceGetRetiredPages; i++) {
        if (!want(need, READING_BIT(retired[i].r)))
            continue;
        unsigned pages = 0; /* 0 asks for the count only */
        nvmlReturn_t r = L->DeviceGetRetiredPages(h, retired[i].cause, &pages, NULL);
        if (r == NVML_SUCCESS || r == NVML_ERROR_INSUFFICIENT_SIZE)
            set(rd, retired[i].r, pages);
        else
            ok(c, r);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_RETIRED_PENDING)) && L->DeviceGetRetiredPagesPendingStatus) {
        nvmlEnableState_t pend;
        if (ok(c, L->DeviceGetRetiredPagesPendingStatus(h, &pend)))
            set(rd, R_RETIRED_PENDING, pend == NVML_FEATURE_ENABLED ? 1 : 0);
        STOP_IF_LOST();
    }
    if (want(need, READING_BIT(R_REMAP_COR) | READING_BIT(R_REMAP_UNC) | READING_BIT(R_REMAP_PENDING) |
                       READING_BIT(R_REMAP_FAILED)) && L->DeviceGetRemappedRows) {
        unsigned cor, unc, pend, fail;
        if (ok(c, L->DeviceGetRemappedRows(h, &cor, &unc, &pend, &fail))) {
            set(rd, R_REMAP_COR, cor);
            set(rd, R_REMAP_UNC, unc);
            set(rd, R_REMAP_PENDING, pend);
            set(rd, R_REMAP_FAILED, fail);
        }
        STOP_IF_LOST();
    }
    read_fields(c, h, need);
    STOP_IF_LOST();
    if (want(need, READING_BIT(R_XID_LAST))) {
        pthread_mutex_lock(&c->st->xid_mu);
        if (d->xid_registered)
            set(rd, R_XID_LAST, (double)d->last_xid);
        pthread_mutex_unlock(&c->st->xid_mu);
    }
#undef STOP_IF_LOST
}

/* ---- writing -------------------------------------------------------------------------------------- */

/* dcgm-exporter's fixed labels, in its order; `mig` adds GPU_I_PROFILE and GPU_I_ID. */
/* The GPU's identity as dcgm-exporter labels it, in its order: gpu, UUID, pci_bus_id, device, modelName. */
static void gpu_identity_labels(const struct gpu_device *d, struct labelset *ls)
{
    labelset_init(ls);
    labelset_add(ls, "gpu", d->index_s);
    labelset_add(ls, "UUID", d->uuid);
    labelset_add(ls, "pci_bus_id", d->pci);
    labelset_add(ls, "device", d->device_s);
    labelset_add(ls, "modelName", d->model);
}

static void dcgm_labels(const struct gpu_state *st, const struct gpu_device *d, const struct mig_instance *mig,
                        struct labelset *ls)
{
    gpu_identity_labels(d, ls);
    if (mig) {
        labelset_add(ls, "GPU_I_PROFILE", mig->profile);
        labelset_add(ls, "GPU_I_ID", mig->gi);
    }
    if (st->cfg->hostname)
        labelset_add(ls, "hostname", st->cfg->hostname);
    for (size_t i = 0; i < st->sel.nlabels; i++) {
        const char *v = st->sel.labels[i].kind == DLF_DRIVER_VERSION ? st->driver_version : st->nvml_version;
        labelset_add(ls, st->sel.labels[i].name, v[0] ? v : NULL);
    }
}

static double dcgm_value(const struct dcgm_field_def *def, double raw)
{
    double v = raw * def->scale;
    if (def->floor_value)
        v = (double)(unsigned long long)v;
    return v;
}

/* Writes one dcgm metric for one entity, once per job (dcgm-exporter's hpc_job) and once per pod sharing
 * the GPU. The attribute labels follow dcgm-exporter's sorted order: container, hpc_job, namespace, pod. */
static void write_dcgm_series(struct expo_family *f, const struct labelset *base, const struct gpu_job_set *jobs,
                              const struct gpu_pod_set *pods, double v)
{
    size_t nj = jobs && jobs->n ? jobs->n : 1;
    size_t np = pods && pods->n ? pods->n : 1;
    for (size_t j = 0; j < nj; j++) {
        for (size_t p = 0; p < np; p++) {
            const struct gpu_job *job = jobs && jobs->n ? &jobs->job[j] : NULL;
            const struct gpu_pod *pod = pods && pods->n ? &pods->pod[p] : NULL;
            struct labelset ls;
            labelset_copy(&ls, base);
            if (pod)
                labelset_add(&ls, "container", pod->container);
            if (job)
                labelset_add(&ls, "hpc_job", job->jobid);
            if (pod) {
                labelset_add(&ls, "namespace", pod->ns);
                labelset_add(&ls, "pod", pod->pod);
            }
            expo_sample(f, &ls, v);
        }
    }
}

static void write_dcgm(struct gpu_state *st, struct expo *w, const struct gpu_device *d, const struct mig_instance *mig,
                       const struct gpu_readings *rd, const struct gpu_job_set *jobs, const struct gpu_pod_set *pods)
{
    struct labelset base;
    dcgm_labels(st, d, mig, &base);
    for (size_t i = 0; i < st->sel.nmetrics; i++) {
        const struct dcgm_metric *m = &st->sel.metrics[i];
        if (mig && !m->def->per_mig_instance)
            continue;
        if (!(rd->valid & READING_BIT(m->def->reading)))
            continue;
        struct expo_family *f = expo_family(w, m->name, m->type == CT_COUNTER ? METRIC_COUNTER : METRIC_GAUGE,
                                            m->help);
        write_dcgm_series(f, &base, jobs, pods, dcgm_value(m->def, rd->v[m->def->reading]));
    }
}

/* Princeton's labels, sorted by name as client_golang writes them. */
static void jobstats_labels(const struct gpu_device *d, const struct mig_instance *mig, const struct gpu_job *job,
                            struct labelset *ls)
{
    labelset_init(ls);
    if (mig)
        labelset_add(ls, "GPU_I_ID", mig->gi);
    labelset_add(ls, "jobid", job ? job->jobid : NULL);
    labelset_add(ls, "minor_number", d->minor_s[0] ? d->minor_s : NULL);
    labelset_add(ls, "name", mig ? mig->name : d->name);
    labelset_add(ls, "ordinal", d->index_s);
    labelset_add(ls, "userid", job && job->uid[0] ? job->uid : NULL);
    labelset_add(ls, "uuid", mig ? mig->uuid : d->uuid);
}

/* Adds extra labels to a Princeton label set, keeping names sorted. */
static void labels_insert_sorted(struct labelset *ls, const char *name, const char *value)
{
    if (ls->n >= LABELSET_MAX) {
        ls->overflow = 1;
        return;
    }
    size_t pos = ls->n;
    while (pos > 0 && strcmp(ls->l[pos - 1].name, name) > 0)
        pos--;
    memmove(&ls->l[pos + 1], &ls->l[pos], (ls->n - pos) * sizeof ls->l[0]);
    ls->l[pos].name = name;
    ls->l[pos].value = value;
    ls->n++;
}

static void write_jobstats(struct expo *w, const struct gpu_device *d, const struct mig_instance *mig,
                           const struct gpu_readings *rd, const struct gpu_job *job)
{
    struct labelset base;
    jobstats_labels(d, mig, job, &base);
    for (size_t i = 0; i < jobstats_metrics_count; i++) {
        const struct jobstats_metric_def *m = &jobstats_metrics[i];
        if (mig && !m->per_mig_instance)
            continue;
        if (!(rd->valid & READING_BIT(m->reading)))
            continue;
        struct labelset ls;
        labelset_copy(&ls, &base);
        if (m->label_name)
            labels_insert_sorted(&ls, m->label_name, m->label_value);
        if (m->label2_name)
            labels_insert_sorted(&ls, m->label2_name, m->label2_value);
        expo_sample(expo_family(w, m->name, METRIC_GAUGE, m->help), &ls, rd->v[m->reading] * m->scale);
    }
    if (mig)
        return;
    if (rd->valid & READING_BIT(R_CLOCK_REASONS)) {
        char reasons[256];
        jobstats_clock_reasons((uint64_t)rd->v[R_CLOCK_REASONS], reasons, sizeof reasons);
        struct labelset ls;
        labelset_copy(&ls, &base);
        labels_insert_sorted(&ls, "reason", reasons);
        expo_sample(expo_family(w, "nvidia_gpu_clock_event_reason", METRIC_GAUGE,
                                "Clock event reasons of the GPU device as a bitmask, named in the reason label."),
                    &ls, rd->v[R_CLOCK_REASONS]);
    }
    if (job) {
        uint64_t jid, uid;
        if (cstr_to_u64(job->jobid, &jid))
            expo_sample(expo_family(w, "nvidia_gpu_jobId", METRIC_GAUGE, "JobId number of a job currently using this GPU."),
                        &base, (double)jid);
        if (job->uid[0] && cstr_to_u64(job->uid, &uid))
            expo_sample(expo_family(w, "nvidia_gpu_jobUid", METRIC_GAUGE, "Uid number of user running jobs on this GPU."),
                        &base, (double)uid);
    }
}

static void write_status(struct gpu_state *st, struct expo *w, const struct gpu_device *d)
{
    struct labelset ls;
    gpu_identity_labels(d, &ls);
    expo_sample(expo_family(w, "jobtel_gpu_up", METRIC_GAUGE,
                            "Whether the GPU answers NVML (1) or was lost, e.g. fell off the bus (0)."),
                &ls, d->lost ? 0 : 1);
    if (st->cfg->gpu_jobstats_names && d->last_error != NVML_SUCCESS) {
        struct labelset pl;
        jobstats_labels(d, NULL, NULL, &pl);
        expo_sample(expo_family(w, "nvidia_gpu_last_error", METRIC_GAUGE,
                                "Last NVML error code returned for the GPU device (0 = none)."),
                    &pl, d->last_error);
    }
    /* XID counts since the exporter started (DCGM_FI_DEV_XID_ERRORS only holds the last one). */
    pthread_mutex_lock(&st->xid_mu);
    for (size_t k = 0; k < d->nxids; k++) {
        char xid[24];
        snprintf(xid, sizeof xid, "%llu", d->xids[k].xid);
        struct labelset xl;
        labelset_copy(&xl, &ls);
        labelset_add(&xl, "xid", xid);
        expo_sample_u64(expo_family(w, "jobtel_gpu_xid_errors_total", METRIC_COUNTER,
                                    "XID errors reported by NVML events since the exporter started, by XID."),
                        &xl, d->xids[k].count);
    }
    pthread_mutex_unlock(&st->xid_mu);
}

/* Jobs through the GPU's compute processes and their cgroups, for a GPU no mapping file names. */
static void jobs_from_processes(struct gpu_state *st, struct expo *w, const struct gpu_device *d, nvmlDevice_t h,
                                struct gpu_job_set *set)
{
    /* The record size differs between driver branches (early R535): nvml_procs reads it right. */
    unsigned pids[NVML_PROCS_MAX];
    size_t n = 0;
    enum jt_err rc = nvml_procs_pids(&st->lib, h, NVML_PROCS_COMPUTE, pids, NVML_PROCS_MAX, &n);
    if (rc == JT_OK || rc == JT_ERR_LIMIT) {
        for (size_t i = 0; i < n; i++) {
            size_t before = set->n;
            gpu_jobs_add_process(&st->jobs, pids[i], set);
            if (set->n > before) {
                struct labelset ls;
                labelset_init(&ls);
                labelset_add(&ls, "gpu", d->index_s);
                labelset_add(&ls, "UUID", d->uuid);
                labelset_add(&ls, "jobid", set->job[set->n - 1].jobid);
                expo_sample(expo_family(w, "jobtel_gpu_process_job_info", METRIC_GAUGE,
                                        "A Slurm job found running on the GPU through its processes' cgroups (no mapping file names the GPU)."),
                            &ls, 1);
            }
        }
        set->from_processes = set->n > 0;
    }
}

/* The Princeton names have a fixed label schema without pods, so pods are joined through this gauge
 * (on UUID, or gpu + GPU_I_ID for MIG) rather than added to nvidia_gpu_* series. */
static void write_pod_info(struct expo *w, const struct gpu_device *d, const struct mig_instance *mig,
                           const struct gpu_pod_set *pods)
{
    for (size_t i = 0; i < pods->n; i++) {
        struct labelset ls;
        labelset_init(&ls);
        labelset_add(&ls, "gpu", d->index_s);
        labelset_add(&ls, "UUID", d->uuid);
        if (mig)
            labelset_add(&ls, "GPU_I_ID", mig->gi);
        labelset_add(&ls, "container", pods->pod[i].container);
        labelset_add(&ls, "namespace", pods->pod[i].ns);
        labelset_add(&ls, "pod", pods->pod[i].pod);
        expo_sample(expo_family(w, "jobtel_kubernetes_gpu_pod_info", METRIC_GAUGE,
                                "A pod container the kubelet assigned this GPU or MIG instance to (always 1)."),
                    &ls, 1);
    }
}

static void pods_lookup(struct gpu_state *st, const struct gpu_device *d, const struct mig_instance *mig,
                        struct gpu_pod_set *out)
{
    struct gpu_pod_key k = {d->index, d->uuid, d->minor_s, mig ? mig->gi : NULL, mig ? mig->uuid : NULL,
                            mig ? (int)mig->slot : -1};
    gpu_pods_lookup(&st->pods, &k, out);
}

/* Hands one GPU's or MIG instance's readings and owners to the JSON API (exporter/api.h). */
static void api_push(struct gpu_state *st, const struct gpu_device *d, const struct mig_instance *mig,
                     const struct gpu_readings *rd, const struct gpu_job_set *jobs, const struct gpu_pod_set *pods)
{
    if (!st->cfg->api)
        return;
    struct api_update u;
    memset(&u, 0, sizeof u);
    u.index = d->index;
    u.uuid = d->uuid;
    u.model = d->model;
    if (mig) {
        u.gi = mig->gi;
        u.mig_uuid = mig->uuid;
        u.mig_profile = mig->profile;
    }
    u.up = !d->lost;
    if (rd) {
        u.has_util = (rd->valid & READING_BIT(R_GPU_UTIL)) != 0;
        u.util_pct = rd->v[R_GPU_UTIL];
        u.has_mem_used = (rd->valid & READING_BIT(R_FB_USED)) != 0;
        u.mem_used_bytes = rd->v[R_FB_USED];
        u.has_mem_total = (rd->valid & READING_BIT(R_FB_TOTAL)) != 0;
        u.mem_total_bytes = rd->v[R_FB_TOTAL];
        u.has_power = (rd->valid & READING_BIT(R_POWER_MW)) != 0;
        u.power_w = rd->v[R_POWER_MW] / 1000.0;
    }
    for (size_t i = 0; jobs && i < jobs->n && u.njobs < API_MAX_OWNERS; i++)
        u.jobs[u.njobs++] = jobs->job[i].jobid;
    for (size_t i = 0; pods && i < pods->n && u.npods < API_MAX_OWNERS; i++) {
        u.pods[u.npods].ns = pods->pod[i].ns;
        u.pods[u.npods].pod = pods->pod[i].pod;
        u.pods[u.npods].container = pods->pod[i].container;
        u.npods++;
    }
    api_store_put(st->cfg->api, st->api_slot++, &u, mono_now());
}

static void collect_device(struct gpu_state *st, struct expo *w, struct gpu_device *d)
{
    if (d->lost)
        api_push(st, d, NULL, NULL, NULL, NULL);
    if (!d->lost) {
        struct gpu_readings rd;
        memset(&rd, 0, sizeof rd);
        struct read_ctx c = {st, d, &rd, false};
        read_device(&c, st->need);
        if (c.lost) {
            d->lost = true;
            d->last_error = NVML_ERROR_GPU_IS_LOST;
            log_error("GPU collector: GPU %s (%s, %s) is lost: it fell off the bus or needs a reset; "
                      "no longer querying it", d->index_s, d->uuid, d->pci);
        } else {
            struct gpu_job_set jobs;
            gpu_jobs_lookup(&st->jobs, d->index, NULL, d->uuid, &jobs);
            if (jobs.n == 0 && d->nmig == 0)
                jobs_from_processes(st, w, d, d->h, &jobs);
            struct gpu_pod_set pods;
            pods_lookup(st, d, NULL, &pods);
            write_pod_info(w, d, NULL, &pods);
            api_push(st, d, NULL, &rd, &jobs, &pods);
            if (st->cfg->gpu_dcgm_names)
                write_dcgm(st, w, d, NULL, &rd, &jobs, &pods);
            if (st->cfg->gpu_jobstats_names)
                write_jobstats(w, d, NULL, &rd, jobs.n ? &jobs.job[0] : NULL);
            for (size_t i = 0; i < d->nmig; i++) {
                struct mig_instance *m = &d->mig[i];
                struct gpu_readings mr;
                memset(&mr, 0, sizeof mr);
                struct read_ctx mc = {st, d, &mr, false};
                read_memory(&mc, m->h);
                struct gpu_job_set mjobs;
                gpu_jobs_lookup(&st->jobs, d->index, m->gi, m->uuid, &mjobs);
                struct gpu_pod_set mpods;
                pods_lookup(st, d, m, &mpods);
                write_pod_info(w, d, m, &mpods);
                api_push(st, d, m, &mr, &mjobs, &mpods);
                if (st->cfg->gpu_dcgm_names)
                    write_dcgm(st, w, d, m, &mr, &mjobs, &mpods);
                if (st->cfg->gpu_jobstats_names)
                    write_jobstats(w, d, m, &mr, mjobs.n ? &mjobs.job[0] : NULL);
            }
        }
    }
    write_status(st, w, d);
}

/* ---- the collector interface ------------------------------------------------------------------- */

static enum jt_err gpu_init(const struct exporter_config *cfg, void **state)
{
    struct gpu_state *st = calloc(1, sizeof *st);
    if (!st)
        return JT_ERR_NOMEM;
    st->cfg = cfg;
    pthread_mutex_init(&st->xid_mu, NULL);
    if (cfg->gpu_jobstats_names)
        st->need |= jobstats_need();
    enum jt_err rc = selection_load(cfg->counters_file, &st->sel, cfg->gpu_dcgm_names ? &st->need : &(uint64_t){0});
    if (rc != JT_OK) {
        pthread_mutex_destroy(&st->xid_mu);
        free(st);
        return rc;
    }
    if (cfg->api)
        st->need |= API_NEED;
    gpu_jobs_init(&st->jobs, cfg);
    gpu_pods_init(&st->pods, cfg);
    nvml_try_start(st);
    if (!st->inited)
        log_warn("GPU collector: NVML not available, no GPU metrics (%s); retrying every %.0f s", st->why,
                 GPU_NVML_RETRY_S);
    *state = st;
    return JT_OK;
}

static enum jt_err gpu_collect(void *state, struct expo *w)
{
    struct gpu_state *st = state;
    if (!st->inited && mono_now() >= st->next_retry) {
        nvml_try_start(st);
        if (st->inited)
            log_info("GPU collector: NVML is now available");
    }
    expo_sample(expo_family(w, "jobtel_gpu_nvml_available", METRIC_GAUGE,
                            "Whether the NVML library was loaded and initialised (1) or not (0)."),
                NULL, st->inited ? 1 : 0);
    if (!st->inited)
        return JT_OK; /* no GPU here is not an error */
    if (st->cfg->gpu_jobstats_names)
        expo_sample(expo_family(w, "nvidia_gpu_num_devices", METRIC_GAUGE, "Number of GPU devices."), NULL,
                    (double)st->ndev);
    gpu_jobs_refresh(&st->jobs, w);
    gpu_pods_refresh(&st->pods, w);
    st->api_slot = 0;
    for (size_t i = 0; i < st->ndev; i++)
        collect_device(st, w, &st->devs[i]);
    if (st->cfg->api)
        api_store_commit(st->cfg->api, st->api_slot, mono_now());
    return JT_OK;
}

static void gpu_reload(void *state)
{
    struct gpu_state *st = state;
    if (!st->cfg->counters_file)
        return;
    struct gpu_selection fresh;
    uint64_t need = st->cfg->gpu_jobstats_names ? jobstats_need() : 0;
    if (st->cfg->api)
        need |= API_NEED;
    /* The DCGM fields count only when their names are rendered (--no-collector.gpu.dcgm-names). */
    uint64_t dcgm_need = 0;
    if (selection_load(st->cfg->counters_file, &fresh, &dcgm_need) != JT_OK) {
        log_error("GPU collector: keeping the previous counters after a failed reload");
        return;
    }
    if (st->cfg->gpu_dcgm_names)
        need |= dcgm_need;
    selection_free(&st->sel);
    st->sel = fresh;
    st->need = need;
    log_info("GPU collector: reloaded %s: %zu metrics, %zu labels", st->cfg->counters_file, st->sel.nmetrics,
             st->sel.nlabels);
}

static void gpu_shutdown(void *state)
{
    struct gpu_state *st = state;
    if (!st)
        return;
    bool stuck = false;
    if (st->xid_running) {
        atomic_store(&st->xid_stop, true);
        double deadline = mono_now() + 2.0;
        while (!atomic_load(&st->xid_done) && mono_now() < deadline) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (atomic_load(&st->xid_done)) {
            pthread_join(st->xid_thread, NULL);
        } else {
            pthread_detach(st->xid_thread);
            stuck = true;
        }
    }
    if (stuck)
        return; /* the event thread still uses NVML and this state: leave both to process exit */
    if (st->evset_created)
        st->lib.EventSetFree(st->evset);
    if (st->inited)
        st->lib.Shutdown();
    if (st->loaded)
        nvml_lib_close(&st->lib);
    gpu_jobs_free(&st->jobs);
    gpu_pods_free(&st->pods);
    selection_free(&st->sel);
    pthread_mutex_destroy(&st->xid_mu);
    free(st);
}

const struct collector_ops collector_gpu = {
    .name = "gpu",
    .help = "GPU metrics from NVML (dcgm-exporter and Princeton names)",
    .enabled_by_default = true,
    .init = gpu_init,
    .collect = gpu_collect,
    .reload = gpu_reload,
    .shutdown = gpu_shutdown,
};
