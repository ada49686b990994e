/* slurm_mapping.c - the slurm_mapping attribution stage: reads the GPU-to-job mapping directories
 * (dcgm-exporter's --hpc-job-mapping-dir, Princeton's --slurm.gpustat-dir) on its own thread and
 * cadence into an immutable table the GPU renderers join (attribution/owners.h).
 *
 * Its own collector, so a slow or unreadable directory shows as
 * jobtel_scrape_collector_success{collector="slurm_mapping"} and never delays a GPU reading.
 */
#include <stdlib.h>

#include "attribution/gpu_jobs.h"
#include "attribution/owners.h"
#include "collectors/collector.h"

struct mapping_state {
    const struct exporter_config *cfg;
    struct ratelimit rl_hpc, rl_gpustat;
};

static enum jt_err mapping_init(const struct exporter_config *cfg, void **state)
{
    struct mapping_state *s = calloc(1, sizeof *s);
    if (!s)
        return JT_ERR_NOMEM;
    s->cfg = cfg;
    if (cfg->owners)
        owners_set_stale_after(cfg->owners, OWN_SLURM_MAPPING, config_stale_after(cfg, (size_t)collector_find("slurm_mapping")));
    *state = s;
    return JT_OK;
}

static enum jt_err mapping_collect(void *state, struct expo *w)
{
    struct mapping_state *s = state;
    struct slurm_mapping_table *t =
        slurm_mapping_read(s->cfg->hpc_job_mapping_dir, s->cfg->gpustat_dir, &s->rl_hpc, &s->rl_gpustat);
    if (!t)
        return JT_ERR_NOMEM;
    slurm_mapping_write_stats(t, s->cfg->hpc_job_mapping_dir != NULL, s->cfg->gpustat_dir != NULL, w);
    if (s->cfg->owners)
        owners_publish(s->cfg->owners, OWN_SLURM_MAPPING, &t->base);
    else
        owner_unref(&t->base);
    return JT_OK;
}

static void mapping_shutdown(void *state)
{
    free(state);
}

const struct collector_ops collector_slurm_mapping = {
    .name = "slurm_mapping",
    .help = "GPU-to-job attribution from the Slurm mapping directories (--hpc-job-mapping-dir, --slurm.gpustat-dir)",
    .enabled_by_default = true,
    .feeds_gpu = true,
    .init = mapping_init,
    .collect = mapping_collect,
    .shutdown = mapping_shutdown,
};
