/* gpu_exp.c - the state behind dcgm-exporter's synthesised DCGM_EXP_CLOCK_EVENTS_COUNT: per GPU, which clock
 * event reasons NVML reported at each collection of the last --clock-events-count-window-size.
 *
 * dcgm-exporter counts, per reason, the DCGM samples of DCGM_FI_DEV_CLOCKS_EVENT_REASONS in the window that
 * had the reason's bit set; DCGM samples that field at the exporter's collect interval. Here the samples are
 * the GPU collector's own readings of nvmlDeviceGetCurrentClocksEventReasons, one per collection, so the
 * counts mean the same: collections in the window during which the reason held. A collection where the
 * reasons could not be read counts for nothing (not as "no event"). Each GPU keeps a bounded ring of compact
 * samples (8 bytes each); with more collections in the window than the ring holds, the oldest are dropped
 * and the counts cover the newest CLOCK_RING collections (logged once).
 *
 * DCGM_EXP_P2P_STATUS: dcgm-exporter asks DCGM for the NVLink P2P status of every GPU pair; DCGM asks NVML,
 * and so does this file, directly (nvmlDeviceGetP2PStatus, caps index NVLINK), so no DCGM is needed. The
 * status is a property of the topology: it is asked every P2P_REFRESH_S and when the set of GPUs changes,
 * not per collection. A pair NVML does not answer for, or answers with a status outside its enum, has no
 * series.
 */
#include "collectors/gpu_exp.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define CLOCK_RING 4096 /* 300 s at 0.1 s, or an hour at 1 s */
#define P2P_REFRESH_S 300.0
#define P2P_CAPS_INDEX_NVLINK 2
#define P2P_STATUS_MAX 6    /* NVML_P2P_STATUS_UNKNOWN */

const struct gpu_clock_event gpu_clock_events[GPU_CLOCK_EVENT_KINDS] = {
    {0x001, "gpu_idle"},   {0x002, "clocks_setting"}, {0x004, "power_cap"},
    {0x008, "hw_slowdown"}, {0x010, "sync_boost"},    {0x020, "sw_thermal"},
    {0x040, "hw_thermal"}, {0x080, "hw_power_brake"}, {0x100, "display_clocks"},
};

struct clock_sample {
    uint32_t at_ms;  /* since gpu_exp_new */
    uint32_t mask;
};

struct clock_hist {
    char uuid[96];
    bool seen;
    bool ring_full_logged;
    size_t n, next;
    struct clock_sample *ring; /* CLOCK_RING entries, allocated at the first sample */
};

struct gpu_exp {
    double t0;
    struct clock_hist h[GPU_MAX_DEVICES];
    size_t n;
    /* P2P status by NVML index: valid bit per peer, status */
    double p2p_next;
    uint64_t p2p_sig;
    uint64_t p2p_valid[GPU_MAX_DEVICES];
    unsigned char p2p[GPU_MAX_DEVICES][GPU_MAX_DEVICES];
    bool p2p_logged;
};

struct gpu_exp *gpu_exp_new(void)
{
    struct gpu_exp *x = calloc(1, sizeof *x);
    if (x)
        x->t0 = mono_now();
    return x;
}

void gpu_exp_free(struct gpu_exp *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n; i++)
        free(x->h[i].ring);
    free(x);
}

/* The GPU's history (by UUID: a replaced board starts afresh), made if new; NULL when none can be. */
static struct clock_hist *hist_of(struct gpu_exp *x, const struct gpu_entity *e)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->h[i].uuid, e->uuid) == 0)
            return &x->h[i];
    if (x->n == GPU_MAX_DEVICES)
        return NULL;
    struct clock_hist *h = &x->h[x->n];
    memset(h, 0, sizeof *h);
    if (!(h->ring = malloc(CLOCK_RING * sizeof *h->ring)))
        return NULL;
    snprintf(h->uuid, sizeof h->uuid, "%s", e->uuid);
    x->n++;
    return h;
}

void gpu_exp_clock_update(struct gpu_exp *x, struct gpu_collection *c, double now, double window_s)
{
    uint32_t at = (uint32_t)((now - x->t0) * 1000.0);
    uint32_t span = window_s * 1000.0 >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)(window_s * 1000.0);
    for (size_t i = 0; i < x->n; i++)
        x->h[i].seen = false;
    for (size_t i = 0; i < c->n; i++) {
        struct gpu_entity *e = &c->e[i];
        if (e->is_mig || !e->uuid[0])
            continue;
        struct clock_hist *h = hist_of(x, e);
        if (!h)
            continue;
        h->seen = true;
        if (e->up && reading_valid(&e->rd, R_CLOCK_REASONS)) {
            if (h->n == CLOCK_RING && !h->ring_full_logged) {
                log_info("GPU collector: GPU %s: more than %d collections in the clock events window; "
                         "DCGM_EXP_CLOCK_EVENTS_COUNT counts the newest %d", e->index_s, CLOCK_RING, CLOCK_RING);
                h->ring_full_logged = true;
            }
            h->ring[h->next] = (struct clock_sample){at, (uint32_t)e->rd.v[R_CLOCK_REASONS]};
            h->next = (h->next + 1) % CLOCK_RING;
            if (h->n < CLOCK_RING)
                h->n++;
        }
        memset(e->clock_events, 0, sizeof e->clock_events);
        e->clock_events_valid = false;
        for (size_t k = 0; k < h->n; k++) {
            const struct clock_sample *s = &h->ring[k];
            if (at - s->at_ms > span)
                continue;
            e->clock_events_valid = true;
            for (size_t b = 0; b < GPU_CLOCK_EVENT_KINDS; b++)
                e->clock_events[b] += (s->mask & gpu_clock_events[b].bit) != 0;
        }
    }
    /* GPUs gone from the node: their history goes (compacting keeps the array dense). */
    size_t j = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (x->h[i].seen) {
            if (j != i)
                x->h[j] = x->h[i];
            j++;
        } else {
            free(x->h[i].ring);
        }
    }
    x->n = j;
}

/* A fingerprint of the whole GPUs that are up (index and UUID). */
static uint64_t gpu_set(const struct gpu_collection *c)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < c->n; i++) {
        const struct gpu_entity *e = &c->e[i];
        if (e->is_mig || !e->up)
            continue;
        h = (h ^ e->index) * 1099511628211ULL;
        for (const char *p = e->uuid; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    return h;
}

static void p2p_refresh(struct gpu_exp *x, const struct gpu_nvml *nvml, const struct nvml_lib *L,
                        const struct gpu_collection *c)
{
    memset(x->p2p_valid, 0, sizeof x->p2p_valid);
    unsigned ok = 0, asked = 0;
    nvmlReturn_t last = NVML_SUCCESS;
    for (size_t i = 0; i < c->n; i++) {
        const struct gpu_entity *a = &c->e[i];
        nvmlDevice_t ha, hb;
        if (a->is_mig || !a->up || a->index >= GPU_MAX_DEVICES || !gpu_nvml_entity_handle(nvml, a, &ha))
            continue;
        for (size_t j = 0; j < c->n; j++) {
            const struct gpu_entity *b = &c->e[j];
            if (j == i || b->is_mig || !b->up || b->index >= GPU_MAX_DEVICES || !gpu_nvml_entity_handle(nvml, b, &hb))
                continue;
            int st = -1;
            nvmlReturn_t r = L->DeviceGetP2PStatus(ha, hb, P2P_CAPS_INDEX_NVLINK, &st);
            asked++;
            if (r != NVML_SUCCESS) {
                last = r;
                continue;
            }
            if (st < 0 || st > P2P_STATUS_MAX)
                continue;
            x->p2p_valid[a->index] |= 1ULL << b->index;
            x->p2p[a->index][b->index] = (unsigned char)st;
            ok++;
        }
    }
    if (asked && !ok && !x->p2p_logged) {
        log_info("GPU collector: DCGM_EXP_P2P_STATUS absent: nvmlDeviceGetP2PStatus: %s", nvml_lib_strerror(L, last));
        x->p2p_logged = true;
    }
}

void gpu_exp_p2p_update(struct gpu_exp *x, const struct gpu_nvml *nvml, struct gpu_collection *c, double now)
{
    const struct nvml_lib *L = gpu_nvml_lib(nvml);
    if (!L || !c->nvml_available)
        return;
    if (!L->DeviceGetP2PStatus) {
        if (!x->p2p_logged)
            log_info("GPU collector: DCGM_EXP_P2P_STATUS absent: the NVML library has no nvmlDeviceGetP2PStatus");
        x->p2p_logged = true;
        return;
    }
    uint64_t sig = gpu_set(c);
    if (now >= x->p2p_next || sig != x->p2p_sig) {
        p2p_refresh(x, nvml, L, c);
        x->p2p_sig = sig;
        x->p2p_next = now + P2P_REFRESH_S;
    }
    for (size_t i = 0; i < c->n; i++) {
        struct gpu_entity *e = &c->e[i];
        if (e->is_mig || !e->up || e->index >= GPU_MAX_DEVICES)
            continue;
        e->p2p_valid = x->p2p_valid[e->index];
        memcpy(e->p2p, x->p2p[e->index], sizeof e->p2p);
    }
}
