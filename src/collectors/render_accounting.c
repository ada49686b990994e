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

/* Each job's weight on a shared GPU: the summed SM utilization of its processes (NVML's per-process
 * samples, joined to jobs through the process stage's table). Only when every job on the GPU has a
 * process found there; else NULL and the split is even (a job whose processes we cannot see must not
 * get nothing). */
static const double *process_weights(const struct gpu_render_input *in, const struct gpu_entity *e,
                                     const struct gpu_entity_owners *o, double *w)
{
    if (o->jobs.n < 2 || !e->pid_sm_valid || !in->procs)
        return NULL;
    bool found[GPU_JOBS_MAX_PER_GPU] = {false};
    for (size_t j = 0; j < o->jobs.n; j++)
        w[j] = 0;
    for (size_t p = 0; p < e->npids; p++) {
        struct gpu_job_set one;
        one.n = 0;
        gpu_jobs_add_process(in->procs, in->c->pids[e->pid_off + p], &one);
        double sm = in->c->pid_sm[e->pid_off + p];
        for (size_t k = 0; k < one.n; k++) {
            for (size_t j = 0; j < o->jobs.n; j++) {
                if (strcmp(one.job[k].jobid, o->jobs.job[j].jobid) != 0)
                    continue;
                found[j] = true;
                if (sm == sm) /* not NAN */
                    w[j] += sm;
            }
        }
    }
    for (size_t j = 0; j < o->jobs.n; j++) {
        if (!found[j])
            return NULL;
    }
    return w;
}

static void sample_of(const struct gpu_render_input *in, const struct gpu_entity *e, const struct gpu_entity_owners *o,
                      const char **jobs, double *w, struct acct_sample *s)
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
        if ((s->has_clock = reading_valid(rd, R_SM_CLOCK)))
            s->sm_clock_mhz = rd->v[R_SM_CLOCK];
        if ((s->has_reasons = reading_valid(rd, R_CLOCK_REASONS)))
            s->clock_reasons = (uint64_t)rd->v[R_CLOCK_REASONS];
        /* SM- and tensor-active from the GPM producer, when it read them (never asked for here: GPM
         * sampling is the GPM options' choice); percent -> ratio */
        if ((s->has_sm = reading_valid(rd, R_GPM_SM_ACTIVE)))
            s->sm_active = rd->v[R_GPM_SM_ACTIVE] / 100.0;
        if ((s->has_tensor = reading_valid(rd, R_GPM_TENSOR_ACTIVE)))
            s->tensor_active = rd->v[R_GPM_TENSOR_ACTIVE] / 100.0;
    }
    for (size_t k = 0; k < e->nxids; k++)
        s->xid_total += e->xids[k].count;
    for (size_t j = 0; j < o->jobs.n; j++)
        jobs[j] = o->jobs.job[j].jobid;
    s->jobs = jobs;
    s->njobs = o->jobs.n;
    s->weights = process_weights(in, e, o, w);
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
            double weights[GPU_JOBS_MAX_PER_GPU];
            struct acct_sample s;
            sample_of(in, e, &in->owners[i], jobs, weights, &s);
            job_acct_add(a, &s, in->mono, wall);
        }
        job_acct_end(a, in->mono, wall);
        job_acct_maybe_save(a, in->mono);
    }
    job_acct_render(a, w, in->cfg->hostname, wall);
}

static bool enabled(const struct exporter_config *cfg)
{
    return cfg->acct != NULL;
}

const struct gpu_readings_consumer render_accounting = {"accounting", enabled, consume};
