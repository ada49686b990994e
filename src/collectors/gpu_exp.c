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
 */
#include "collectors/gpu_exp.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define CLOCK_RING 4096 /* 300 s at 0.1 s, or an hour at 1 s */

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
