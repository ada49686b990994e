/* cgroup_accounting.c - feeds each cgroup collection's per-job figures to the jobs' CPU timelines
 * (accounting/job_accounting.h).
 *
 * This file only translates: CPU time (ns) to seconds, the job's anonymous memory (RSS, the figure
 * jobstats' Prometheus timeline draws too, so both sources of `jobstats --timeline` agree) to bytes, and
 * RSS + shmem (Princeton's used memory, for the job's memory peak); a figure whose bit is clear is passed
 * as absent. The cores-used rule lives in job_accounting.c.
 */
#include <stdlib.h>

#include "accounting/job_accounting.h"
#include "collectors/cgroup_readings.h"
#include "common/log.h"

static bool enabled(const struct exporter_config *cfg)
{
    return cfg->acct != NULL;
}

static void consume(const struct cgroup_readings *in)
{
    struct job_acct *a = in->cfg->acct;
    enum { ON_STACK = 64 };
    struct acct_cpu_sample stack[ON_STACK] = {{0}};
    struct acct_cpu_sample *s = in->n <= ON_STACK ? stack : calloc(in->n, sizeof *s);
    if (!s)
        return; /* out of memory: this collection is a gap in the timelines, as a missed one would be */
    for (size_t i = 0; i < in->n; i++) {
        const struct cg_stats *st = in->jobs[i].st;
        s[i] = (struct acct_cpu_sample){.jobid = in->jobs[i].jobid};
        if ((s[i].has_cpu = cg_has(st, CG_CPU_TOTAL_NS)))
            s[i].cpu_s = (double)st->v[CG_CPU_TOTAL_NS] / 1e9;
        if ((s[i].has_mem = cg_has(st, CG_MEM_RSS)))
            s[i].mem_bytes = (double)st->v[CG_MEM_RSS];
        /* Princeton's used memory, `(rss + shmem) or rss`, as the cgroup series carry it. */
        if ((s[i].has_used = s[i].has_mem))
            s[i].used_bytes = s[i].mem_bytes + (cg_has(st, CG_MEM_SHMEM) ? (double)st->v[CG_MEM_SHMEM] : 0);
    }
    /* A gap longer than three collections (at least 5 s) is not integrated, as for the GPU. */
    double gap = 3 * in->interval_s < 5 ? 5 : 3 * in->interval_s;
    job_acct_cpu(a, s, in->n, in->mono, in->wall, gap);
    job_acct_maybe_save(a, in->mono);
    if (s != stack)
        free(s);
}

static void render(const struct exporter_config *cfg, struct expo *w)
{
    job_acct_render_cpu(cfg->acct, w, cfg->hostname, wall_now());
}

const struct cgroup_readings_consumer cgroup_accounting = {"accounting", enabled, consume, render};
