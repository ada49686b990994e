/* gpu_gpm.c - the GPU collector's second producer: profiling readings (SM, tensor, DRAM activity, PCIe and
 * NVLink rates) from NVML GPM, on Hopper and newer GPUs and on their MIG instances.
 *
 * GPM gives rates and ratios only between two samples (gpu-apis.md addendum A.4), so each entity (a GPU, or a
 * MIG instance sampled through its own handle) keeps two samples, ping-pong: every collection samples into the
 * older one and asks nvmlGpmMetricsGet for (older, newer). The collector's own interval is the window, so
 * scrapers cannot shorten it; a collection that comes less than GPM_MIN_WINDOW_S after the last sample reuses
 * the last values instead. The first collection of an entity has no values (absent, not zero). A failed sample
 * (NO_PERMISSION can be transient: DCGM#214) gives that collection no values and keeps the last good sample as
 * the baseline, so the next success covers the whole gap and nothing is made up. Support is asked once per
 * entity, and the start-up log says once why an entity has no GPM. It runs after gpu_nvml.c on the same thread
 * and borrows its library and handles (gpu_nvml.h).
 */
#include "collectors/gpu_gpm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define GPM_MIN_WINDOW_S 0.2   /* the header asks for more than 100 ms between samples */
#define GPM_MAX_WINDOW_S 600.0 /* an older baseline (a long pause) is dropped: reseed */

enum gpm_support { GPM_UNKNOWN, GPM_YES, GPM_NO };

struct gpm_entity {
    bool used;
    bool seen;               /* in the current collection */
    unsigned index;          /* NVML index of the (parent) GPU */
    int mig_slot;            /* -1: the whole GPU */
    char uuid[96];           /* the GPU's, or the MIG instance's: a reconfigured slot is a new entity */
    enum gpm_support support;
    nvmlGpmSample_t s[2];
    bool allocated;
    int newest;              /* index into s of the newest good sample, -1 if none */
    double newest_at;
    double last[R_COUNT];    /* the last computed values, for collections inside GPM_MIN_WINDOW_S */
    uint64_t last_valid;
    unsigned long long errors;
    struct ratelimit rl;
};

struct gpu_gpm {
    struct gpu_nvml *nvml;
    struct gpm_pause_fn pause;
    nvmlGpmMetricsGet_t *mg;  /* one request buffer (13 KiB), reused */
    struct gpm_entity *ent;
    size_t nent, cap;
    bool no_api_logged;
};

struct gpu_gpm *gpu_gpm_new(struct gpu_nvml *nvml, struct gpm_pause_fn pause)
{
    struct gpu_gpm *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->mg = calloc(1, sizeof *g->mg);
    if (!g->mg) {
        free(g);
        return NULL;
    }
    g->nvml = nvml;
    g->pause = pause;
    return g;
}

static void entity_release(const struct nvml_lib *L, struct gpm_entity *ge)
{
    if (ge->allocated && L) {
        L->GpmSampleFree(ge->s[0]);
        L->GpmSampleFree(ge->s[1]);
    }
    memset(ge, 0, sizeof *ge);
}

void gpu_gpm_free(struct gpu_gpm *g)
{
    if (!g)
        return;
    const struct nvml_lib *L = gpu_nvml_lib(g->nvml);
    for (size_t i = 0; i < g->nent; i++)
        entity_release(L && nvml_lib_has_gpm(L) ? L : NULL, &g->ent[i]);
    free(g->ent);
    free(g->mg);
    free(g);
}

static const char *entity_uuid(const struct gpu_entity *e)
{
    return e->is_mig ? e->mig_uuid : e->uuid;
}

static struct gpm_entity *entity_find(struct gpu_gpm *g, const struct gpu_entity *e)
{
    struct gpm_entity *free_slot = NULL;
    for (size_t i = 0; i < g->nent; i++) {
        struct gpm_entity *ge = &g->ent[i];
        if (!ge->used) {
            if (!free_slot)
                free_slot = ge;
            continue;
        }
        if (ge->index == e->index && ge->mig_slot == e->mig_slot && strcmp(ge->uuid, entity_uuid(e)) == 0)
            return ge;
    }
    if (!free_slot) {
        if (g->nent == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 16;
            struct gpm_entity *n = realloc(g->ent, cap * sizeof *n);
            if (!n)
                return NULL;
            memset(n + g->cap, 0, (cap - g->cap) * sizeof *n);
            g->ent = n;
            g->cap = cap;
        }
        free_slot = &g->ent[g->nent++];
    }
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = true;
    free_slot->index = e->index;
    free_slot->mig_slot = e->mig_slot;
    snprintf(free_slot->uuid, sizeof free_slot->uuid, "%s", entity_uuid(e));
    free_slot->newest = -1;
    return free_slot;
}

static const char *entity_name(const struct gpu_entity *e, char *buf, size_t n)
{
    if (e->is_mig)
        snprintf(buf, n, "GPU %s MIG instance %s/%s (%s)", e->index_s, e->gi, e->ci, e->mig_uuid);
    else
        snprintf(buf, n, "GPU %s (%s)", e->index_s, e->uuid);
    return buf;
}

/* Asks once whether the entity supports GPM, and allocates its two samples. Logs why not, once. */
static void entity_setup(const struct nvml_lib *L, struct gpm_entity *ge, const struct gpu_entity *e, nvmlDevice_t h)
{
    char name[160];
    nvmlGpmSupport_t sup = {NVML_GPM_SUPPORT_VERSION, 0};
    nvmlReturn_t r = L->GpmQueryDeviceSupport(h, &sup);
    if (r == NVML_ERROR_GPU_IS_LOST)
        return; /* the NVML reader reports the loss (once); support stays unknown */
    if (r != NVML_SUCCESS || !sup.isSupportedDevice) {
        ge->support = GPM_NO;
        if (r != NVML_SUCCESS)
            log_info("GPU collector: %s: no profiling metrics: nvmlGpmQueryDeviceSupport: %s",
                     entity_name(e, name, sizeof name), nvml_lib_strerror(L, r));
        else
            log_info("GPU collector: %s: no profiling metrics: the GPU has no GPM (Hopper or newer needed)",
                     entity_name(e, name, sizeof name));
        return;
    }
    if (L->GpmSampleAlloc(&ge->s[0]) != NVML_SUCCESS)
        return; /* support stays unknown: asked again next time */
    if (L->GpmSampleAlloc(&ge->s[1]) != NVML_SUCCESS) {
        L->GpmSampleFree(ge->s[0]);
        return;
    }
    ge->allocated = true;
    ge->support = GPM_YES;
}

/* The metric ids the needed readings ask for; returns how many. */
static unsigned build_request(nvmlGpmMetricsGet_t *mg, uint64_t need, enum gpu_reading *which)
{
    unsigned n = 0;
    for (size_t r = 0; r < R_COUNT && n < NVML_GPM_METRIC_MAX_OLDEST; r++) {
        if (reading_defs[r].src != SRC_GPM || !(need & READING_BIT(r)))
            continue;
        memset(&mg->metrics[n], 0, sizeof mg->metrics[n]);
        mg->metrics[n].metricId = (unsigned)reading_defs[r].arg;
        which[n++] = (enum gpu_reading)r;
    }
    return n;
}

static void sample_entity(struct gpu_gpm *g, const struct nvml_lib *L, struct gpm_entity *ge, struct gpu_entity *e,
                          nvmlDevice_t h, uint64_t need, double now)
{
    char name[160];
    if (ge->newest >= 0 && now - ge->newest_at < GPM_MIN_WINDOW_S) {
        /* Too soon for a meaningful window: the last values stand. */
        for (size_t r = 0; r < R_COUNT; r++)
            if (ge->last_valid & need & READING_BIT(r))
                reading_set(&e->rd, (enum gpu_reading)r, ge->last[r]);
        return;
    }
    if (ge->newest >= 0 && now - ge->newest_at > GPM_MAX_WINDOW_S)
        ge->newest = -1;
    int slot = ge->newest < 0 ? 0 : 1 - ge->newest;
    nvmlReturn_t r = L->GpmSampleGet(h, ge->s[slot]);
    if (r == NVML_ERROR_GPU_IS_LOST) {
        ge->last_valid = 0; /* the NVML reader flags the GPU lost and reports it, once */
        return;
    }
    if (r != NVML_SUCCESS) {
        /* Keep the last good sample as the baseline: the next success covers the whole gap. */
        ge->errors++;
        ge->last_valid = 0;
        uint64_t suppressed = 0;
        if (ratelimit_allow(&ge->rl, 300.0, &suppressed))
            log_warn("GPU collector: %s: nvmlGpmSampleGet: %s%s; profiling metrics absent until it works again",
                     entity_name(e, name, sizeof name), nvml_lib_strerror(L, r),
                     r == NVML_ERROR_NO_PERMISSION ? " (needs CAP_SYS_ADMIN; can be transient)" : "");
        return;
    }
    int older = ge->newest;
    ge->newest = slot;
    ge->newest_at = now;
    ge->last_valid = 0;
    if (older < 0)
        return; /* the first sample: no window yet */
    enum gpu_reading which[NVML_GPM_METRIC_MAX_OLDEST];
    nvmlGpmMetricsGet_t *mg = g->mg;
    mg->version = NVML_GPM_METRICS_GET_VERSION;
    mg->numMetrics = build_request(mg, need, which);
    mg->sample1 = ge->s[older];
    mg->sample2 = ge->s[slot];
    if (mg->numMetrics == 0)
        return;
    r = L->GpmMetricsGet(mg);
    if (r != NVML_SUCCESS) {
        ge->errors++;
        uint64_t suppressed = 0;
        if (ratelimit_allow(&ge->rl, 300.0, &suppressed))
            log_warn("GPU collector: %s: nvmlGpmMetricsGet: %s", entity_name(e, name, sizeof name),
                     nvml_lib_strerror(L, r));
        return;
    }
    for (unsigned i = 0; i < mg->numMetrics; i++) {
        const nvmlGpmMetric_t *m = &mg->metrics[i];
        if (m->nvmlReturn != NVML_SUCCESS || !isfinite(m->value) || m->value < 0)
            continue;
        reading_set(&e->rd, which[i], m->value);
        ge->last[which[i]] = m->value;
        ge->last_valid |= READING_BIT(which[i]);
    }
}

void gpu_gpm_read(void *state, uint64_t need, struct gpu_collection *c)
{
    struct gpu_gpm *g = state;
    need &= READINGS_GPM;
    const struct nvml_lib *L = gpu_nvml_lib(g->nvml);
    if (!need || !L || !c->nvml_available)
        return;
    if (!nvml_lib_has_gpm(L)) {
        if (!g->no_api_logged)
            log_info("GPU collector: no profiling metrics: the NVML library has no GPM entry points (driver "
                     "older than R520)");
        g->no_api_logged = true;
        return;
    }
    for (size_t i = 0; i < g->nent; i++)
        g->ent[i].seen = false;
    double now = mono_now();
    for (size_t i = 0; i < c->n; i++) {
        struct gpu_entity *e = &c->e[i];
        nvmlDevice_t h;
        if (!e->up || !gpu_nvml_entity_handle(g->nvml, e, &h))
            continue;
        struct gpm_entity *ge = entity_find(g, e);
        if (!ge)
            continue;
        ge->seen = true;
        if (ge->support == GPM_UNKNOWN)
            entity_setup(L, ge, e, h);
        if (ge->support != GPM_YES)
            continue;
        if (g->pause.fn && g->pause.fn(g->pause.arg, e)) {
            /* A job profiles this GPU itself: no sampling at all, and a fresh baseline afterwards. */
            ge->newest = -1;
            ge->last_valid = 0;
            continue;
        }
        sample_entity(g, L, ge, e, h, need, now);
    }
    /* Entities gone (lost GPU, MIG reconfiguration): their samples go back. */
    for (size_t i = 0; i < g->nent; i++)
        if (g->ent[i].used && !g->ent[i].seen)
            entity_release(L, &g->ent[i]);
}

unsigned long long gpu_gpm_errors(const struct gpu_gpm *g)
{
    unsigned long long n = 0;
    for (size_t i = 0; g && i < g->nent; i++)
        n += g->ent[i].errors;
    return n;
}

bool gpu_gpm_any_supported(const struct gpu_gpm *g)
{
    for (size_t i = 0; g && i < g->nent; i++)
        if (g->ent[i].used && g->ent[i].support == GPM_YES)
            return true;
    return false;
}
