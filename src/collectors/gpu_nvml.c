/* gpu_nvml.c - the GPU collector's reader: per-GPU readings through NVML, and nothing else.
 *
 * Shape: gpu_nvml_new loads NVML (dlopen, path from --collector.gpu.nvml-library), enumerates the GPUs
 * once and caches their identity (the labels); each gpu_nvml_read fills a gpu_collection
 * (gpu_readings.h) with the quantities some consumer needs, looping over the reading table
 * (gpu_fields.h, reading_defs), each value with a valid bit, plus each GPU's compute processes (pids)
 * and XID counts. Naming, labels, jobs and pods are the renderers' business (render_*.c), wired in
 * gpu.c. A GPU that answers GPU_IS_LOST is flagged (up = false, its readings absent, never zeros) and
 * looked for again with a back-off (1 s doubling to 60 s): a GPU that falls off the bus can come back after
 * a reset or a driver reload, with new handles (the old ones stay lost), so it is found again by UUID, then
 * by index. The same board gets its labels back; another board in its slot is a new GPU with labels of its
 * own. The others carry on meanwhile. XID errors arrive as NVML events on a thread of their own. No NVML at all is not an error: the
 * collection says nvml_available = false and the library is retried now and then.
 */
#include "collectors/gpu_nvml.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/strparse.h"
#include "nvml/nvml_loader.h"
#include "nvml/nvml_procs.h"

#define GPU_NVML_RETRY_S 30.0
#define GPU_LOST_RETRY_MIN_S 1.0  /* first look for a lost GPU after this long, then twice as long ... */
#define GPU_LOST_RETRY_MAX_S 60.0 /* ... up to this */
#define GPU_XID_RING 128 /* events remembered per GPU for DCGM_EXP_XID_ERRORS_COUNT */

struct mig_instance {
    nvmlDevice_t h;
    char gi[12];          /* GPU instance id, decimal */
    char ci[12];
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    char profile[32];     /* e.g. "1g.10gb", from the MIG device name */
    unsigned slot;        /* index for nvmlDeviceGetMigDeviceHandleByIndex (device plugin "<gpu>:<slot>" ids) */
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
    double lost_retry_at;   /* when to look for the lost GPU next (mono_now) */
    double lost_backoff;    /* seconds until the look after that */
    nvmlReturn_t last_error; /* last non-NOT_SUPPORTED failure, NVML_SUCCESS if none */
    struct mig_instance mig[GPU_MAX_MIG];
    size_t nmig;
    /* Written by the XID thread, read by the reader; guarded by gpu_nvml.xid_mu. */
    bool xid_registered;
    unsigned long long last_xid;
    struct gpu_xid_count xids[GPU_MAX_XID_KINDS];
    size_t nxids;
    /* The latest XID events with their time, for windowed counts (a ring; older ones fall off). */
    struct { double at; unsigned long long xid; } xid_ring[GPU_XID_RING];
    size_t xid_ring_n, xid_ring_next;
    unsigned long long util_seen_us; /* newest process utilization sample read (its CPU timestamp) */
};

/* Process utilization samples read per GPU and collection at most (NVML keeps a short ring per process). */
#define GPU_PROC_SAMPLES_MAX 4096

struct gpu_nvml {
    const struct exporter_config *cfg;
    struct nvml_lib lib;
    bool loaded;                  /* lib is open */
    bool inited;                  /* Init succeeded and devices are enumerated */
    double next_retry;
    char why[512];                /* why NVML is unavailable */
    char driver_version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    char nvml_version[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
    struct gpu_device devs[GPU_MAX_DEVICES];
    size_t ndev;
    unsigned pidbuf[NVML_PROCS_MAX]; /* one GPU's pids, before they join the collection */
    nvmlProcessUtilizationSample_t usbuf[GPU_PROC_SAMPLES_MAX]; /* one GPU's process utilization samples */
    /* XID events */
    pthread_mutex_t xid_mu;
    pthread_t xid_thread;
    bool xid_running;
    atomic_bool xid_stop;
    atomic_bool xid_done;
    nvmlEventSet_t evset;
    bool evset_created;
};

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

static void enumerate_mig(struct gpu_nvml *st, struct gpu_device *d)
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

/* The labels of a GPU but its index and UUID: minor number, name, model, PCI bus id ("" where NVML
 * cannot tell). */
static void read_identity(struct gpu_nvml *st, struct gpu_device *d)
{
    const struct nvml_lib *L = &st->lib;
    unsigned minor;
    d->minor_s[0] = '\0';
    if (L->DeviceGetMinorNumber && L->DeviceGetMinorNumber(d->h, &minor) == NVML_SUCCESS)
        snprintf(d->minor_s, sizeof d->minor_s, "%u", minor);
    if (L->DeviceGetName(d->h, d->name, sizeof d->name) != NVML_SUCCESS)
        d->name[0] = '\0';
    copy_model(d->model, sizeof d->model, d->name, st->cfg->replace_blanks_in_model_name);
    nvmlPciInfo_t pci;
    memset(&pci, 0, sizeof pci);
    d->pci[0] = '\0';
    if (L->DeviceGetPciInfo && L->DeviceGetPciInfo(d->h, &pci) == NVML_SUCCESS)
        str_copy(d->pci, sizeof d->pci, pci.busId, strnlen(pci.busId, sizeof pci.busId));
}

static void mark_lost(struct gpu_device *d)
{
    d->lost = true;
    d->last_error = NVML_ERROR_GPU_IS_LOST;
    d->lost_backoff = GPU_LOST_RETRY_MIN_S;
    d->lost_retry_at = mono_now() + GPU_LOST_RETRY_MIN_S;
}

static enum jt_err enumerate(struct gpu_nvml *st)
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
        r = L->DeviceGetUUID(d->h, d->uuid, sizeof d->uuid);
        if (r == NVML_ERROR_GPU_IS_LOST)
            d->lost = true;
        else if (r != NVML_SUCCESS)
            d->uuid[0] = '\0';
        read_identity(st, d);
        if (d->lost) {
            log_error("GPU collector: GPU %u is lost (fell off the bus)", i);
            mark_lost(d);
        } else {
            enumerate_mig(st, d);
        }
        st->ndev++;
    }
    return JT_OK;
}

static void *xid_thread_main(void *arg);

/* Registers handle h for XID events on the event set; false if the GPU cannot deliver them. */
static bool xid_register(struct gpu_nvml *st, nvmlDevice_t h)
{
    const struct nvml_lib *L = &st->lib;
    unsigned long long supported = nvmlEventTypeXidCriticalError;
    if (L->DeviceGetSupportedEventTypes && L->DeviceGetSupportedEventTypes(h, &supported) != NVML_SUCCESS)
        supported = 0;
    /* One unsupported bit fails the whole registration, so ask only for what is supported. */
    unsigned long long want = nvmlEventTypeXidCriticalError & supported;
    return want && L->DeviceRegisterEvents(h, want, st->evset) == NVML_SUCCESS;
}

static void xid_start(struct gpu_nvml *st)
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
        if (!d->lost && xid_register(st, d->h)) {
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

static void nvml_try_start(struct gpu_nvml *st)
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
    struct gpu_nvml *st = arg;
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
            d->xid_ring[d->xid_ring_next].at = mono_now();
            d->xid_ring[d->xid_ring_next].xid = ev.eventData;
            d->xid_ring_next = (d->xid_ring_next + 1) % GPU_XID_RING;
            if (d->xid_ring_n < GPU_XID_RING)
                d->xid_ring_n++;
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
    struct gpu_nvml *st;
    struct gpu_device *d;
    struct gpu_readings *rd;
    bool lost;
    bool no_ecc;          /* the first ECC counter said NOT_SUPPORTED: the other three would too */
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

/* Reads the needed SRC_FIELD rows of the reading table in one nvmlDeviceGetFieldValues call: NVML
 * serves ids that share a driver query together. */
static void read_fields(struct read_ctx *c, nvmlDevice_t h, uint64_t need)
{
    const struct nvml_lib *L = &c->st->lib;
    if (!L->DeviceGetFieldValues)
        return;
    nvmlFieldValue_t fv[R_COUNT];
    enum gpu_reading which[R_COUNT];
    int n = 0;
    memset(fv, 0, sizeof fv);
    for (size_t i = 0; i < R_COUNT; i++) {
        const struct reading_def *def = &reading_defs[i];
        if (def->src != SRC_FIELD || !(need & READING_BIT(def->r)))
            continue;
        fv[n].fieldId = (unsigned)def->arg;
        fv[n].scopeId = 0;
        which[n] = def->r;
        n++;
    }
    if (n == 0)
        return;
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

/* Reads one row of the reading table (and the readings the same call fills). */
static void read_one(struct read_ctx *c, const struct reading_def *def, nvmlDevice_t h)
{
    const struct nvml_lib *L = &c->st->lib;
    struct gpu_readings *rd = c->rd;
    unsigned u, u2;
    unsigned long long ull;
    nvmlReturn_t r;
    switch (def->src) {
    case SRC_UTIL:
        if (L->DeviceGetUtilizationRates) {
            nvmlUtilization_t ut;
            if (ok(c, L->DeviceGetUtilizationRates(h, &ut))) {
                set(rd, R_GPU_UTIL, ut.gpu);
                set(rd, R_MEM_UTIL, ut.memory);
            }
        }
        return;
    case SRC_ENC_UTIL:
        if (L->DeviceGetEncoderUtilization && ok(c, L->DeviceGetEncoderUtilization(h, &u, &u2)))
            set(rd, def->r, u);
        return;
    case SRC_DEC_UTIL:
        if (L->DeviceGetDecoderUtilization && ok(c, L->DeviceGetDecoderUtilization(h, &u, &u2)))
            set(rd, def->r, u);
        return;
    case SRC_CLOCK:
        if (L->DeviceGetClockInfo && ok(c, L->DeviceGetClockInfo(h, (nvmlClockType_t)def->arg, &u)))
            set(rd, def->r, u);
        return;
    case SRC_TEMP:
        if (L->DeviceGetTemperature && ok(c, L->DeviceGetTemperature(h, NVML_TEMPERATURE_GPU, &u)))
            set(rd, def->r, u);
        return;
    case SRC_POWER:
        if (L->DeviceGetPowerUsage && ok(c, L->DeviceGetPowerUsage(h, &u)))
            set(rd, def->r, u);
        return;
    case SRC_POWER_LIMIT:
        if (L->DeviceGetEnforcedPowerLimit && ok(c, L->DeviceGetEnforcedPowerLimit(h, &u)))
            set(rd, def->r, u);
        return;
    case SRC_ENERGY:
        if (L->DeviceGetTotalEnergyConsumption && ok(c, L->DeviceGetTotalEnergyConsumption(h, &ull)))
            set(rd, def->r, (double)ull);
        return;
    case SRC_MEMORY:
        read_memory(c, h);
        return;
    case SRC_FAN:
        if (L->DeviceGetFanSpeed && ok(c, L->DeviceGetFanSpeed(h, &u)))
            set(rd, def->r, u);
        return;
    case SRC_PSTATE:
        if (L->DeviceGetPerformanceState) {
            nvmlPstates_t ps;
            if (ok(c, L->DeviceGetPerformanceState(h, &ps)) && ps != NVML_PSTATE_UNKNOWN)
                set(rd, def->r, ps);
        }
        return;
    case SRC_CLOCK_REASONS:
        if (L->DeviceGetCurrentClocksEventReasons && ok(c, L->DeviceGetCurrentClocksEventReasons(h, &ull)))
            set(rd, def->r, (double)ull);
        return;
    case SRC_PCIE:
        if (L->DeviceGetPcieThroughput && ok(c, L->DeviceGetPcieThroughput(h, (nvmlPcieUtilCounter_t)def->arg, &u)))
            set(rd, def->r, u);
        return;
    case SRC_ECC:
        if (!L->DeviceGetTotalEccErrors || c->no_ecc)
            return;
        r = L->DeviceGetTotalEccErrors(h, (nvmlMemoryErrorType_t)def->arg, (nvmlEccCounterType_t)def->arg2, &ull);
        if (ok(c, r))
            set(rd, def->r, (double)ull);
        c->no_ecc = r == NVML_ERROR_NOT_SUPPORTED; /* no ECC on this board: the others say the same */
        return;
    case SRC_RETIRED:
        if (L->DeviceGetRetiredPages) {
            unsigned pages = 0; /* 0 asks for the count only */
            r = L->DeviceGetRetiredPages(h, (nvmlPageRetirementCause_t)def->arg, &pages, NULL);
            if (r == NVML_SUCCESS || r == NVML_ERROR_INSUFFICIENT_SIZE)
                set(rd, def->r, pages);
            else
                ok(c, r);
        }
        return;
    case SRC_RETIRED_PENDING:
        if (L->DeviceGetRetiredPagesPendingStatus) {
            nvmlEnableState_t pend;
            if (ok(c, L->DeviceGetRetiredPagesPendingStatus(h, &pend)))
                set(rd, def->r, pend == NVML_FEATURE_ENABLED ? 1 : 0);
        }
        return;
    case SRC_REMAP:
        if (L->DeviceGetRemappedRows) {
            unsigned cor, unc, pend, fail;
            if (ok(c, L->DeviceGetRemappedRows(h, &cor, &unc, &pend, &fail))) {
                set(rd, R_REMAP_COR, cor);
                set(rd, R_REMAP_UNC, unc);
                set(rd, R_REMAP_PENDING, pend);
                set(rd, R_REMAP_FAILED, fail);
            }
        }
        return;
    case SRC_FIELD: /* batched: read_fields */
        return;
    case SRC_GPM: /* gpu_gpm.c, after this producer */
        return;
    case SRC_XID:
        pthread_mutex_lock(&c->st->xid_mu);
        if (c->d->xid_registered)
            set(rd, def->r, (double)c->d->last_xid);
        pthread_mutex_unlock(&c->st->xid_mu);
        return;
    }
}

/* One GPU: every needed row of the reading table, in table order, then the field-values batch. A lost
 * GPU stops the loop at once (every further call would time out the same way). */
static void read_device(struct read_ctx *c, uint64_t need)
{
    uint64_t done = 0;
    for (size_t i = 0; i < R_COUNT; i++) {
        const struct reading_def *def = &reading_defs[i];
        uint64_t bits = READING_BIT(def->r) | def->also;
        if (!(need & READING_BIT(def->r)) || (done & READING_BIT(def->r)))
            continue;
        done |= bits;
        read_one(c, def, c->d->h);
        if (c->lost)
            return;
    }
    read_fields(c, c->d->h, need);
}

/* The GPU's compute processes (pids), for process attribution (attribution/slurm_process.c). The
 * record size differs between driver branches (early R535): nvml_procs reads it right. */
static void read_processes(struct gpu_nvml *st, nvmlDevice_t h, struct gpu_collection *c, struct gpu_entity *e)
{
    size_t n = 0;
    enum jt_err rc = nvml_procs_pids(&st->lib, h, NVML_PROCS_COMPUTE, st->pidbuf, NVML_PROCS_MAX, &n);
    e->pids_valid = (rc == JT_OK || rc == JT_ERR_LIMIT) && gpu_collection_add_pids(c, e, st->pidbuf, n);
}

/* Each process's mean SM utilization over the samples NVML took since the previous collection, for
 * splitting a shared GPU's busy time and energy between jobs (accounting/job_accounting.h). Optional:
 * without the call, or without a sample (NOT_FOUND), the accounting splits evenly. */
static void read_process_utilization(struct gpu_nvml *st, struct gpu_device *d, struct gpu_collection *c,
                                     struct gpu_entity *e)
{
    if (!st->lib.DeviceGetProcessUtilization || !e->pids_valid || e->npids == 0)
        return;
    unsigned count = GPU_PROC_SAMPLES_MAX;
    nvmlReturn_t r = st->lib.DeviceGetProcessUtilization(d->h, st->usbuf, &count, d->util_seen_us);
    if (r != NVML_SUCCESS || count > GPU_PROC_SAMPLES_MAX)
        return; /* NOT_FOUND (no sample yet), NOT_SUPPORTED, or more samples than we take: even split */
    for (size_t p = 0; p < e->npids; p++) {
        unsigned pid = c->pids[e->pid_off + p];
        double sum = 0;
        unsigned n = 0;
        for (unsigned k = 0; k < count; k++) {
            if (st->usbuf[k].pid != pid || st->usbuf[k].smUtil > 100)
                continue;
            sum += st->usbuf[k].smUtil;
            n++;
        }
        c->pid_sm[e->pid_off + p] = n ? sum / n : 0; /* listed, but no sample: idle in this interval */
    }
    for (unsigned k = 0; k < count; k++) {
        if (st->usbuf[k].timeStamp > d->util_seen_us)
            d->util_seen_us = st->usbuf[k].timeStamp;
    }
    e->pid_sm_valid = true;
}

/* ---- one collection -------------------------------------------------------------------------------- */

static void identity(const struct gpu_device *d, struct gpu_entity *e)
{
    memset(e, 0, sizeof *e);
    e->index = d->index;
    snprintf(e->index_s, sizeof e->index_s, "%s", d->index_s);
    snprintf(e->minor_s, sizeof e->minor_s, "%s", d->minor_s);
    snprintf(e->device_s, sizeof e->device_s, "%s", d->device_s);
    snprintf(e->uuid, sizeof e->uuid, "%s", d->uuid);
    snprintf(e->name, sizeof e->name, "%s", d->name);
    snprintf(e->model, sizeof e->model, "%s", d->model);
    snprintf(e->pci, sizeof e->pci, "%s", d->pci);
    e->mig_slot = -1;
}

/* Looks for a lost GPU again, once its back-off has passed. Its old handle stays lost whatever happens:
 * the board is asked for by UUID (the same board, wherever it is now), else whatever answers at its index
 * (nvmlDeviceGetCount first: the slot may be gone). The same UUID keeps the labels, XID counts and
 * process sampling mark; another UUID is a new GPU: its own identity, counts from zero. */
static void try_return(struct gpu_nvml *st, struct gpu_device *d)
{
    const struct nvml_lib *L = &st->lib;
    double now = mono_now();
    if (now < d->lost_retry_at)
        return;
    d->lost_backoff = d->lost_backoff * 2 < GPU_LOST_RETRY_MAX_S ? d->lost_backoff * 2 : GPU_LOST_RETRY_MAX_S;
    d->lost_retry_at = now + d->lost_backoff;
    nvmlDevice_t h;
    nvmlReturn_t r = NVML_ERROR_NOT_FOUND;
    if (d->uuid[0] && L->DeviceGetHandleByUUID)
        r = L->DeviceGetHandleByUUID(d->uuid, &h);
    if (r != NVML_SUCCESS && r != NVML_ERROR_GPU_IS_LOST) {
        unsigned count = 0;
        if (L->DeviceGetCount(&count) != NVML_SUCCESS || d->index >= count)
            return;
        r = L->DeviceGetHandleByIndex(d->index, &h);
    }
    char uuid[sizeof d->uuid];
    if (r != NVML_SUCCESS || L->DeviceGetUUID(h, uuid, sizeof uuid) != NVML_SUCCESS)
        return; /* still lost */
    bool same = strcmp(uuid, d->uuid) == 0;
    bool xid = st->evset_created && xid_register(st, h);
    pthread_mutex_lock(&st->xid_mu);
    d->h = h;
    d->xid_registered = xid;
    if (!same) {
        d->last_xid = 0;
        d->nxids = 0;
        d->xid_ring_n = d->xid_ring_next = 0;
    }
    pthread_mutex_unlock(&st->xid_mu);
    if (same) {
        log_info("GPU collector: GPU %s (%s, %s) is back", d->index_s, d->uuid, d->pci);
    } else {
        log_warn("GPU collector: GPU %s (%s) is back as another board, %s: exported as a new GPU", d->index_s,
                 d->uuid[0] ? d->uuid : "UUID unknown", uuid);
        str_copy(d->uuid, sizeof d->uuid, uuid, strlen(uuid));
        read_identity(st, d);
        d->util_seen_us = 0;
        d->last_error = NVML_SUCCESS;
    }
    d->lost = false;
    enumerate_mig(st, d);
}

static void read_gpu(struct gpu_nvml *st, struct gpu_device *d, uint64_t need, struct gpu_collection *c)
{
    struct gpu_entity *e = &c->e[c->n++];
    identity(d, e);
    if (!d->lost) {
        struct read_ctx rc = {st, d, &e->rd, false, false};
        read_device(&rc, need);
        if (rc.lost) {
            mark_lost(d);
            log_error("GPU collector: GPU %s (%s, %s) is lost: it fell off the bus or needs a reset; "
                      "looking for it again from time to time", d->index_s, d->uuid, d->pci);
        } else if (d->nmig == 0) {
            read_processes(st, d->h, c, e);
            if (st->cfg->gpu_accounting)
                read_process_utilization(st, d, c, e);
        }
    }
    e->up = !d->lost;
    e->last_error = (int)d->last_error;
    pthread_mutex_lock(&st->xid_mu);
    e->nxids = d->nxids;
    memcpy(e->xids, d->xids, d->nxids * sizeof d->xids[0]);
    e->xid_recent_valid = d->xid_registered;
    double since = mono_now() - st->cfg->xid_count_window_s;
    for (size_t k = 0; k < d->xid_ring_n; k++) {
        if (d->xid_ring[k].at < since)
            continue;
        size_t j = 0;
        while (j < e->nxid_recent && e->xid_recent[j].xid != d->xid_ring[k].xid)
            j++;
        if (j == e->nxid_recent) {
            if (j == GPU_MAX_XID_KINDS)
                continue;
            e->xid_recent[j].xid = d->xid_ring[k].xid;
            e->xid_recent[j].count = 0;
            e->nxid_recent++;
        }
        e->xid_recent[j].count++;
    }
    pthread_mutex_unlock(&st->xid_mu);
    if (d->lost)
        return; /* a lost GPU's MIG instances are not read (nor exported) */
    e->nmig = d->nmig;
    for (size_t i = 0; i < d->nmig; i++) {
        const struct mig_instance *m = &d->mig[i];
        struct gpu_entity *me = &c->e[c->n++];
        identity(d, me);
        me->is_mig = true;
        snprintf(me->gi, sizeof me->gi, "%s", m->gi);
        snprintf(me->ci, sizeof me->ci, "%s", m->ci);
        snprintf(me->mig_uuid, sizeof me->mig_uuid, "%s", m->uuid);
        snprintf(me->mig_name, sizeof me->mig_name, "%s", m->name);
        snprintf(me->profile, sizeof me->profile, "%s", m->profile);
        me->mig_slot = (int)m->slot;
        me->up = true;
        struct read_ctx mc = {st, d, &me->rd, false, false};
        read_memory(&mc, m->h);
        e->last_error = (int)d->last_error;
    }
}

struct gpu_nvml *gpu_nvml_new(const struct exporter_config *cfg)
{
    struct gpu_nvml *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->cfg = cfg;
    pthread_mutex_init(&st->xid_mu, NULL);
    nvml_try_start(st);
    if (!st->inited)
        log_warn("GPU collector: NVML not available, no GPU metrics (%s); retrying every %.0f s", st->why,
                 GPU_NVML_RETRY_S);
    return st;
}

void gpu_nvml_read(void *state, uint64_t need, struct gpu_collection *c)
{
    struct gpu_nvml *st = state;
    if (!st->inited && mono_now() >= st->next_retry) {
        nvml_try_start(st);
        if (st->inited)
            log_info("GPU collector: NVML is now available");
    }
    c->n = 0;
    c->ngpus = 0;
    c->nvml_available = st->inited;
    if (!st->inited)
        return;
    snprintf(c->driver_version, sizeof c->driver_version, "%s", st->driver_version);
    snprintf(c->nvml_version, sizeof c->nvml_version, "%s", st->nvml_version);
    size_t total = 0;
    for (size_t i = 0; i < st->ndev; i++) {
        if (st->devs[i].lost)
            try_return(st, &st->devs[i]); /* before counting: a GPU that is back may bring MIG instances */
        total += 1 + st->devs[i].nmig;
    }
    if (!gpu_collection_reserve(c, total)) {
        c->nvml_available = false;
        return;
    }
    for (size_t i = 0; i < st->ndev; i++)
        read_gpu(st, &st->devs[i], need, c);
    c->ngpus = st->ndev;
}

void gpu_nvml_free(struct gpu_nvml *st)
{
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
    pthread_mutex_destroy(&st->xid_mu);
    free(st);
}


const struct nvml_lib *gpu_nvml_lib(const struct gpu_nvml *st)
{
    return st && st->inited ? &st->lib : NULL;
}

bool gpu_nvml_entity_handle(const struct gpu_nvml *st, const struct gpu_entity *e, nvmlDevice_t *h)
{
    if (!st || !st->inited)
        return false;
    for (size_t i = 0; i < st->ndev; i++) {
        const struct gpu_device *d = &st->devs[i];
        if (d->index != e->index || d->lost)
            continue;
        if (!e->is_mig) {
            *h = d->h;
            return true;
        }
        for (size_t k = 0; k < d->nmig; k++) {
            if ((int)d->mig[k].slot == e->mig_slot) {
                *h = d->mig[k].h;
                return true;
            }
        }
        return false;
    }
    return false;
}
