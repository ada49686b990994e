/* render_accounting.c - feeds each GPU collection, joined with its owners, to the per-job accumulators
 * (accounting/job_accounting.h) and writes their counters.
 *
 * This file only translates: a gpu_entity's valid readings become an acct_sample (a reading whose bit
 * is clear is passed as absent, never as zero); the integration rules live in job_accounting.c so the
 * unit tests drive them without NVML. A later source of SM-/tensor-active readings (GPM, DCGM) only
 * needs its readings named in `sm_reading`/`tensor_reading` below.
 */
#include <string.h>

#include "accounting/job_accounting.h"
#include "collectors/gpu_render.h"
#include "common/log.h"

static void sample_of(const struct gpu_entity *e, const struct gpu_entity_owners *o, const char **jobs,
                      struct acct_sample *s)
{
    memset(s, 0, sizeof *s);
    s->gpu = e->index_s;
    s->gi = e->is_mig ? e->gi : "";
    s->up = e->up;
    const struct gpu_readings *rd = &e->rd;
    if (e->up) {
        if ((s->has_util = reading_valid(rd, R_GPU_UTIL)))
            s->util_pct = rd->v[R_GPU_UTIL];
        if ((s->has_energy = reading_valid(rd, R_ENERGY_MJ)))
            s->energy_mj = rd->v[R_ENERGY_MJ];
        if ((s->has_power = reading_valid(rd, R_POWER_MW)))
            s->power_mw = rd->v[R_POWER_MW];
        if ((s->has_mem = reading_valid(rd, R_FB_USED_V1)))
            s->mem_used_bytes = rd->v[R_FB_USED_V1];
        if ((s->has_reasons = reading_valid(rd, R_CLOCK_REASONS)))
            s->clock_reasons = (uint64_t)rd->v[R_CLOCK_REASONS];
        /* hook: SM-active and tensor-active ratios, once a producer (GPM, DCGM) adds those readings:
         * if ((s->has_sm = reading_valid(rd, R_SM_ACTIVE))) s->sm_active = rd->v[R_SM_ACTIVE]; */
    }
    for (size_t k = 0; k < e->nxids; k++)
        s->xid_total += e->xids[k].count;
    for (size_t j = 0; j < o->jobs.n; j++)
        jobs[j] = o->jobs.job[j].jobid;
    s->jobs = jobs;
    s->njobs = o->jobs.n;
    s->weights = NULL; /* even split until NVML's per-process utilization is joined */
}

static void consume(const struct gpu_render_input *in, struct expo *w)
{
    struct job_acct *a = in->cfg->acct;
    double wall = wall_now();
    if (in->c->nvml_available && in->owners) {
        job_acct_begin(a);
        for (size_t i = 0; i < in->c->n; i++) {
            const struct gpu_entity *e = &in->c->e[i];
            const char *jobs[GPU_JOBS_MAX_PER_GPU];
            struct acct_sample s;
            sample_of(e, &in->owners[i], jobs, &s);
            job_acct_add(a, &s, in->mono, wall);
        }
        job_acct_end(a, in->mono, wall);
        job_acct_maybe_save(a, in->mono);
    }
    job_acct_render(a, w, in->cfg->hostname);
}

static bool enabled(const struct exporter_config *cfg)
{
    return cfg->acct != NULL;
}

const struct gpu_readings_consumer render_accounting = {"accounting", enabled, consume};
