/* gpu_jobs.h - which Slurm job uses which GPU, for the GPU collector's labels.
 *
 * Sources, read once per collection (never per scrape), in order of authority:
 *  1. Princeton's gpustat directory (--slurm.gpustat-dir): files named by GPU index, index.gi or UUID,
 *     "<jobid> <uid>" per line;
 *  2. dcgm-exporter's HPC mapping directory (--hpc-job-mapping-dir): files "<index>" or
 *     "<index>.<gi>", one job id per line;
 *  3. when neither names a GPU: the GPU's compute processes (NVML) mapped to their Slurm job through
 *     /proc/<pid>/cgroup (no peer does this; it needs no prolog).
 * Both directories are written by `jobtel prolog`; reading them is common/jobmap.c.
 */
#ifndef JOBTEL_GPU_JOBS_H
#define JOBTEL_GPU_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "slurm/jobmap.h"
#include "common/log.h"
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
    bool from_processes; /* found through process cgroups, not a mapping file */
};

struct gpu_jobs {
    const char *hpc_dir;     /* NULL = off */
    const char *gpustat_dir; /* NULL = off */
    const char *procfs;
    struct jobmap hpc;       /* this collection's reads */
    struct jobmap gpustat;
    bool hpc_ok, gpustat_ok;
    struct ratelimit rl_hpc, rl_gpustat;
};

void gpu_jobs_init(struct gpu_jobs *j, const struct exporter_config *cfg);
/* Re-reads the directories and writes the attribution self-metrics. */
void gpu_jobs_refresh(struct gpu_jobs *j, struct expo *w);
/* Fills *out with the jobs on GPU `index` (MIG: GPU instance id `gi`, else NULL) whose UUID is `uuid`
 * from the mapping directories; out->n == 0 if none. */
void gpu_jobs_lookup(const struct gpu_jobs *j, unsigned index, const char *gi, const char *uuid,
                     struct gpu_job_set *out);
/* Adds the Slurm job of process `pid` (from <procfs>/<pid>/cgroup) to *out, if it has one. */
void gpu_jobs_add_process(const struct gpu_jobs *j, unsigned pid, struct gpu_job_set *out);
void gpu_jobs_free(struct gpu_jobs *j);

/* Parses a /proc/<pid>/cgroup text for a Slurm job, in every layout slurm/cgpath.h knows (v1 slurm[_<node>],
 * v2 [<node>_]slurmstepd.scope, SLUID directories). Writes the job id (decimal, or the SLUID) and the uid
 * when the path has one, else "". Returns false if the process is in no Slurm job. */
bool slurm_job_from_cgroup(const char *text, size_t n, char *jobid, size_t jlen, char *uid, size_t ulen);

#endif
