/* render_api.c - hands each GPU collection's readings and owners to the JSON API's store
 * (exporter/api.h), which copies what it keeps (latest values, utilization rings). */
#include <string.h>

#include "collectors/gpu_render.h"
#include "common/log.h"
#include "exporter/api.h"

static void put(struct api_store *store, size_t slot, const struct gpu_entity *e, const struct gpu_entity_owners *o,
                double now)
{
    struct api_update u;
    memset(&u, 0, sizeof u);
    u.index = e->index;
    u.uuid = e->uuid;
    u.model = e->model;
    if (e->is_mig) {
        u.gi = e->gi;
        u.mig_uuid = e->mig_uuid;
        u.mig_profile = e->profile;
    }
    u.up = e->up;
    if (e->up) {
        const struct gpu_readings *rd = &e->rd;
        u.has_util = reading_valid(rd, R_GPU_UTIL);
        u.util_pct = rd->v[R_GPU_UTIL];
        u.has_mem_used = reading_valid(rd, R_FB_USED);
        u.mem_used_bytes = rd->v[R_FB_USED];
        u.has_mem_total = reading_valid(rd, R_FB_TOTAL);
        u.mem_total_bytes = rd->v[R_FB_TOTAL];
        u.has_power = reading_valid(rd, R_POWER_MW);
        u.power_w = rd->v[R_POWER_MW] / 1000.0;
        for (size_t i = 0; o && i < o->jobs.n && u.njobs < API_MAX_OWNERS; i++)
            u.jobs[u.njobs++] = o->jobs.job[i].jobid;
        for (size_t i = 0; o && i < o->pods.n && u.npods < API_MAX_OWNERS; i++) {
            u.pods[u.npods].ns = o->pods.pod[i].ns;
            u.pods[u.npods].pod = o->pods.pod[i].pod;
            u.pods[u.npods].container = o->pods.pod[i].container;
            u.npods++;
        }
    }
    api_store_put(store, slot, &u, now);
}

static void consume(const struct gpu_render_input *in, struct expo *w)
{
    (void)w;
    if (!in->c->nvml_available)
        return; /* the store stays without data: the API answers 503 */
    size_t slot = 0;
    for (size_t i = 0; i < in->c->n && slot < API_MAX_ENTRIES; i++)
        put(in->cfg->api, slot++, &in->c->e[i], in->owners ? &in->owners[i] : NULL, in->mono);
    api_store_commit(in->cfg->api, slot, in->mono);
}

static bool enabled(const struct exporter_config *cfg)
{
    return cfg->api != NULL;
}

const struct gpu_readings_consumer render_api = {"api", enabled, consume};
