/* gpu_jobs.c - Slurm job attribution for GPUs (see gpu_jobs.h). Placeholder until the mapping
 * readers land. */
#include "gpu_jobs.h"

#include <string.h>

void gpu_jobs_init(struct gpu_jobs *j, const struct exporter_config *cfg)
{
    memset(j, 0, sizeof *j);
    j->hpc_dir = cfg->hpc_job_mapping_dir;
    j->gpustat_dir = cfg->gpustat_dir;
}

void gpu_jobs_refresh(struct gpu_jobs *j, struct expo *w)
{
    (void)j;
    (void)w;
}

const struct gpu_job_set *gpu_jobs_for(const struct gpu_jobs *j, unsigned index, const char *gi, const char *uuid)
{
    (void)j;
    (void)index;
    (void)gi;
    (void)uuid;
    return NULL;
}

void gpu_jobs_free(struct gpu_jobs *j)
{
    memset(j, 0, sizeof *j);
}
