/* gpu_jobs.h - which Slurm job uses which GPU, for the GPU collector's labels.
 *
 * Sources, read once per collection (never per scrape): dcgm-exporter's HPC mapping directory
 * (`--hpc-job-mapping-dir`, a file per GPU index or <gpu>.<gpu-instance>, one job id per line) and
 * Princeton's gpustat directory (`--slurm.gpustat-dir`, files named by GPU index or UUID holding
 * "<jobid> <uid>"). Both are written by `jobtel prolog`.
 */
#ifndef JOBTEL_GPU_JOBS_H
#define JOBTEL_GPU_JOBS_H

#include <stddef.h>

#include "exporter/config.h"
#include "exporter/expo.h"

#define GPU_JOBS_MAX_PER_GPU 16

struct gpu_job {
    char jobid[24];
    char uid[16]; /* "" if unknown */
};

/* The jobs on one GPU (or MIG instance). job[0] is the one Princeton's single jobid label names. */
struct gpu_job_set {
    struct gpu_job job[GPU_JOBS_MAX_PER_GPU];
    size_t n;
};

struct gpu_jobs_entry;

struct gpu_jobs {
    const char *hpc_dir;     /* NULL = off */
    const char *gpustat_dir; /* NULL = off */
    struct gpu_jobs_entry *entries; /* owned; this collection's table */
    size_t nentries;
    unsigned long long parse_errors; /* malformed files seen, cumulative */
    double last_log;
};

void gpu_jobs_init(struct gpu_jobs *j, const struct exporter_config *cfg);
/* Re-reads the directories and writes the attribution self-metrics. */
void gpu_jobs_refresh(struct gpu_jobs *j, struct expo *w);
/* The jobs on GPU `index` (MIG: gpu instance id `gi`, else NULL) whose UUID is `uuid`; NULL if none. */
const struct gpu_job_set *gpu_jobs_for(const struct gpu_jobs *j, unsigned index, const char *gi, const char *uuid);
void gpu_jobs_free(struct gpu_jobs *j);

#endif
