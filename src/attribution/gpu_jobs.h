/* gpu_jobs.h - which Slurm job uses which GPU, for the GPU renderers' labels.
 *
 * Sources, each read by its own attribution stage (slurm_mapping.c, slurm_process.c) on its own
 * cadence into an immutable table (attribution/owners.h), never per scrape; in order of authority:
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
#include "attribution/owners.h"

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

/* What one read found where a mapping directory should be: the state label of
 * jobtel_gpu_job_mapping_dir_state. Absent is normal on a fresh node (the prolog creates the directory at
 * the first GPU job); unreadable (permissions, a file where the directory belongs, an I/O error) is not. */
enum mapping_dir_state { MAPPING_DIR_ABSENT, MAPPING_DIR_UNREADABLE, MAPPING_DIR_OK, MAPPING_DIR_STATE_N };

/* The mapping directories as one collection of the slurm_mapping stage read them (owners.h). */
struct slurm_mapping_table {
    struct owner_table base;
    struct jobmap hpc;
    struct jobmap gpustat;
    enum mapping_dir_state hpc_state, gpustat_state;
};

/* pid -> Slurm job, for the compute processes the GPU collector last saw (slurm_process stage). */
struct proc_job {
    unsigned pid;
    char jobid[24];
    char uid[16];             /* "" if the cgroup path has none (v2) */
};

struct proc_job_table {
    struct owner_table base;
    size_t n;
    struct proc_job e[];      /* sorted by pid; only processes in a Slurm job */
};

/* Reads both directories into a new table (one reference), logging at most once a minute per directory
 * what it skipped. NULL on allocation failure. */
struct slurm_mapping_table *slurm_mapping_read(const char *hpc_dir, const char *gpustat_dir, struct ratelimit *rl_hpc,
                                               struct ratelimit *rl_gpustat);
/* Writes the jobtel_gpu_job_mapping_* self-metrics of a table. */
void slurm_mapping_write_stats(const struct slurm_mapping_table *t, bool hpc_on, bool gpustat_on, struct expo *w);

/* Fills *out with the jobs on GPU `index` (MIG: GPU instance id `gi`, else NULL) whose UUID is `uuid`
 * from the mapping table `t` (NULL: none); out->n == 0 if none. */
void gpu_jobs_lookup(const struct slurm_mapping_table *t, unsigned index, const char *gi, const char *uuid,
                     struct gpu_job_set *out);
/* Adds the Slurm job of process `pid` from the process table `t` (NULL: none) to *out, if it has one. */
void gpu_jobs_add_process(const struct proc_job_table *t, unsigned pid, struct gpu_job_set *out);

/* The Slurm job of process `pid` from <procfs>/<pid>/cgroup: the one place process attribution parses
 * a cgroup path. false if the process is in no Slurm job (or is gone). */
bool proc_slurm_job(const char *procfs, unsigned pid, char *jobid, size_t jlen, char *uid, size_t ulen);

/* Builds the process table for the pids in `pids` (sorted, n of them). One reference; NULL on
 * allocation failure. */
struct proc_job_table *proc_job_table_build(const char *procfs, const unsigned *pids, size_t n);

/* Parses a /proc/<pid>/cgroup text for a Slurm job, in every layout slurm/cgpath.h knows (v1 slurm[_<node>],
 * v2 [<node>_]slurmstepd.scope, SLUID directories). Writes the job id (decimal, or the SLUID) and the uid
 * when the path has one, else "". Returns false if the process is in no Slurm job. */
bool slurm_job_from_cgroup(const char *text, size_t n, char *jobid, size_t jlen, char *uid, size_t ulen);

#endif
