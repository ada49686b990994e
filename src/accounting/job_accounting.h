/* job_accounting.h - exact per-job GPU totals kept by the node daemon: allocated and busy seconds,
 * energy, peak memory, XIDs and throttle time per (job, GPU), integrated at every GPU collection.
 *
 * Why in the daemon: a Prometheus report averages samples taken every 30 s (avg_over_time), so a job
 * with short bursts reads anywhere from 0 % to 100 % depending on where the scrapes fall. The daemon
 * sees every collection (1 s) and knows which job holds which GPU, so it integrates once and exports
 * counters: increase() over the job's window is then exact at any scrape interval.
 *
 * The rules (docs/accounting.md):
 *  - Time is the collections' own monotonic clock. An interval between two collections of one GPU is
 *    integrated only when both succeeded and it is at most `max_gap_s` long; a longer or failed interval
 *    counts for nothing (a gap is not busy, and not allocated either, so busy/allocated stays a ratio of
 *    covered time).
 *  - The reading at the end of an interval stands for the whole interval (NVML's utilization is the
 *    busy share of its own last sample period).
 *  - Energy: the delta of NVML's total-energy counter (mJ) over the interval; when the counter is not
 *    valid at both ends or went backwards (driver reload), power x time.
 *  - Shared GPU (several jobs on one GPU): each job gets the full allocated seconds; busy seconds and
 *    energy are split by the jobs' weights (their processes' utilization when NVML reports it), else
 *    evenly. XIDs and throttle seconds go to every job on the GPU, whole.
 *  - Memory: the GPU's peak framebuffer use while the job held it (whole device: NVML has no reliable
 *    per-process figure on every driver).
 * Each record also keeps a downsampled timeline of per-interval means (job_timeline.h), fed by the same
 * integrated intervals, so a gap is never averaged in.
 * Once a job ends its series leave /metrics (as every GPU series drops its labels), unless `export_ended_s`
 * keeps them a little longer so a slow scraper still sees the final totals; its record is kept
 * `retention_s` after the job was last seen, at most `max_records` of them: when full,
 * the oldest ended job is evicted (counted); a new record that still finds no room is dropped (counted).
 * State is persisted under a directory (atomic rename, versioned text, refused if not a regular file).
 * One mutex guards everything: the GPU thread writes, the record socket reads.
 */
#ifndef JOBTEL_JOB_ACCOUNTING_H
#define JOBTEL_JOB_ACCOUNTING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "accounting/job_timeline.h"
#include "exporter/expo.h"

/* 2: + each record's timeline; 3: + the jobs' CPU timelines ("cpu" lines); 4: + each job's memory peak on
 * its "cpu" line. Older versions are still read. */
#define ACCT_STATE_VERSION 4
/* The epilog's record JSON: additions (the timeline "tl") keep version 1, readers skip unknown keys. */
#define ACCT_RECORD_VERSION 1
#define ACCT_STATE_FILE "job_accounting.state"
#define ACCT_STATE_MAX_BYTES (96u << 20) /* 4096 records with full timelines: about 50 MB */
#define ACCT_MAX_WEIGHTS 16

/* Which totals of a record have ever had a valid reading (a total never fed is not exported). */
enum acct_have {
    ACCT_HAVE_BUSY = 1u << 0,
    ACCT_HAVE_ENERGY = 1u << 1,
    ACCT_HAVE_MEM = 1u << 2,
    ACCT_HAVE_SM = 1u << 3,
    ACCT_HAVE_TENSOR = 1u << 4,
    ACCT_HAVE_THROTTLE = 1u << 5,
};

/* One (job, GPU) record. */
struct acct_record {
    char jobid[24];
    char gpu[12];             /* NVML index of the (parent) GPU */
    char gi[12];              /* MIG GPU instance id, "" for a whole GPU */
    double allocated_s;
    double busy_s;            /* utilization integral: seconds at 100 % */
    double sm_active_s;       /* GPM/DCGM SM-active integral */
    double tensor_active_s;   /* GPM/DCGM tensor-active integral */
    double energy_j;
    double throttle_s;
    double mem_peak_bytes;
    uint64_t xids;
    unsigned have;            /* enum acct_have */
    double first_wall, last_wall; /* unix seconds: first and last collection that saw the job here */
    bool ended;               /* not seen in the latest collection */
    bool seen;                /* scratch: seen in the current collection */
    struct acct_timeline tl;  /* downsampled per-interval means (job_timeline.h), points owned */
};

/* One job's CPU timeline (from its Slurm cgroup, every step summed), kept like a GPU record: ended when a
 * cgroup collection no longer finds the job, removed retention_s later, at most max_records of them.
 * It also keeps the job's memory peak: the largest RSS + shmem (Princeton's "used memory") of any cgroup
 * collection, so a report can read one recent sample instead of a subquery over the whole run. It is
 * exported only when it covers every collection since the record began (has_mem_peak): a record
 * restored from a version-3 state file lacks the peak of before the restart, so it has none. */
struct acct_cpu_record {
    char jobid[24];
    double first_wall, last_wall; /* unix seconds: first and last cgroup collection that saw the job */
    bool ended;
    bool has_mem_peak;        /* mem_peak_bytes holds the peak of every collection of this record */
    bool mem_peak_lost;       /* restored without a peak: none is kept (or exported) for this job */
    double mem_peak_bytes;    /* largest RSS + shmem seen, bytes */
    bool seen;                /* scratch: seen in the current collection */
    double base_mono;         /* not persisted: the previous reading's time (-1: none) and CPU seconds */
    double base_cpu_s;
    bool base_cpu_valid;
    struct acct_timeline tl;  /* tl_cpu_layout: cores used, memory in use (GiB); points owned */
};

/* What one cgroup collection read for one job: its CPU seconds counter and memory in use. */
struct acct_cpu_sample {
    const char *jobid;
    bool has_cpu, has_mem, has_used;
    double cpu_s;             /* CPU time used since the cgroup was created, seconds */
    double mem_bytes;         /* memory charged to it now (RSS: the timeline's figure) */
    double used_bytes;        /* RSS + shmem (Princeton's used memory; RSS alone without shmem) */
};

/* What one collection read on one GPU (or MIG instance), in NVML's units; has_* say what was valid. */
struct acct_sample {
    const char *gpu, *gi;     /* gi "" or NULL for a whole GPU */
    bool up;
    bool has_util, has_energy, has_power, has_mem, has_reasons, has_sm, has_tensor, has_clock;
    double util_pct;          /* 0..100 */
    double energy_mj;         /* total since driver load */
    double power_mw;
    double mem_used_bytes;
    uint64_t clock_reasons;
    double sm_active, tensor_active; /* ratios 0..1 */
    double sm_clock_mhz;      /* for the timeline only */
    uint64_t xid_total;       /* XID events seen on the GPU since the daemon started */
    /* the jobs on it and their weights for busy time and energy (NULL weights: even split) */
    const char *const *jobs;
    const double *weights;
    size_t njobs;
};

/* The per-GPU baseline between two collections (the integrator's memory of the previous one). */
struct acct_gpu_base {
    char key[32];             /* "<gpu>" or "<gpu>.<gi>" */
    double mono;
    bool energy_valid;
    double energy_mj;
    uint64_t xid_total;
    bool used;                /* scratch: seen in the current collection */
};

struct job_acct {
    pthread_mutex_t mu;
    double max_gap_s;
    double retention_s;
    double export_ended_s;    /* an ended job's series are exported this long after it was last seen (0: not) */
    size_t max_records;
    char *dir;                /* owned; NULL: no persistence */
    double save_every_s;
    double last_save_mono;
    struct acct_record *rec;  /* owned */
    size_t n, cap;
    struct acct_cpu_record *cpu; /* owned: the jobs' CPU timelines */
    size_t ncpu, capcpu;
    struct acct_gpu_base *base; /* owned */
    size_t nbase, capbase;
    uint64_t evicted, dropped, save_errors, intervals, gaps;
    bool loaded;              /* state was read from disk at start */
    bool dirty;               /* changed since the last save or load */
    int lock_fd;              /* flock on <dir>/job_accounting.lock, -1 if none */
};

/* Creates the accounting store. `dir` may be NULL (no persistence). NULL on allocation failure. */
struct job_acct *job_acct_new(const char *dir, double max_gap_s, double retention_s, size_t max_records);
void job_acct_free(struct job_acct *a);

/* Starts a collection; then one acct_add per GPU entity; then acct_end_collection. Under the store's
 * lock (taken by begin, released by end). */
void job_acct_begin(struct job_acct *a);
void job_acct_add(struct job_acct *a, const struct acct_sample *s, double mono, double wall);
void job_acct_end(struct job_acct *a, double mono, double wall);

/* One cgroup collection: every job it found (n of them, at monotonic `mono`, unix `wall`). The CPU
 * cores of an interval are the CPU seconds' delta over its length, integrated only when the interval is
 * at most `max_gap_s` long and the counter did not go back; memory is the reading at its end. A job not
 * in the list has ended. Takes the lock. */
void job_acct_cpu(struct job_acct *a, const struct acct_cpu_sample *s, size_t n, double mono, double wall,
                  double max_gap_s);

/* The even split, or the weights normalised; the busy seconds and joules of one job in one interval. */
double acct_share(const double *weights, size_t njobs, size_t j);

/* Writes the jobtel_job_gpu_* counters of live jobs (and of ended ones for export_ended_s after they were
 * last seen, at wall time `wall`) and the store's own metrics. Takes the lock. An ended job's record stays
 * in memory (for the epilog's socket, restarts) for retention_s either way. */
void job_acct_render(struct job_acct *a, struct expo *w, const char *hostname, double wall);
/* Writes each job's memory peak (jobtel_job_memory_peak_bytes) for live jobs and, as above, recently
 * ended ones: from the cgroup collector, after each walk, so it comes and goes with the job's cgroup
 * series. Takes the lock. */
void job_acct_render_cpu(struct job_acct *a, struct expo *w, const char *hostname, double wall);

/* Persistence: load at start takes an exclusive lock on the directory first: a second daemon on the
 * same directory runs without persistence (logged) instead of clobbering the first one's state. Load
 * refuses non-regular, oversized, unversioned or malformed files; a refused
 * file is renamed to *.bad and the store starts empty), save atomically (tmp + fsync + rename). */
enum jt_err job_acct_load(struct job_acct *a);
enum jt_err job_acct_save(struct job_acct *a);
/* Saves when `save_every_s` passed since the last save (call after a collection). */
void job_acct_maybe_save(struct job_acct *a, double mono);

/* One job's records as JSON (for the epilog's record request): its GPUs' and its CPU timeline ("cpu_tl").
 * JT_ERR_NOT_FOUND if it has neither. */
enum jt_err job_acct_job_json(struct job_acct *a, const char *jobid, struct buf *out);

#endif
