/* jobmap.h - GPU -> Slurm job mapping directories: safe updates (prolog/epilog) and reading (exporter).
 *
 * Two formats, both "one small file per GPU in a directory", which is what sites and peers already use:
 *
 *   JOBMAP_HPC      dcgm-exporter's --hpc-job-mapping-dir: file "<index>" or "<index>.<gi>" (MIG GPU
 *                   instance), one job id per line.
 *   JOBMAP_GPUSTAT  Princeton jobstats' /run/gpustat: files "<index>"/"<index>.<gi>" and "GPU-…"/"MIG-…"
 *                   (UUID), each line "<jobid> <uid>" (a bare "<jobid>" is accepted when reading).
 *
 * Several jobs can share a GPU, so a file holds one line per job; the prolog adds its line and the
 * epilog removes only its own. Writers serialise on flock() of a lock file in the directory and
 * replace a file by writing a temporary file and rename()ing it over, so a reader never takes a lock
 * and never sees a half-written file. Readers skip names that are not mapping names, which includes
 * the lock file and temporary files (they start with '.').
 *
 * A burst of job starts and ends must lose nothing, so a writer waits for the lock in the kernel
 * (blocking flock, bounded by a timer) rather than polling, which starved slow pollers, and holds it
 * only for the few reads and renames of its own files. Prolog and epilog of one job can still reach
 * the lock in the wrong order (a job cancelled while its prolog waits): the epilog leaves a
 * tombstone, "job J ended at T", in the lock file, and a prolog that started before T adds nothing.
 * Tombstones are kept JOBMAP_TOMBSTONE_TTL_S, longer than any prolog may wait for the lock, so a
 * requeued job (same id, a prolog that starts after its epilog) is mapped again.
 *
 * A hook failure (a lock time-out, a full disk, a bad GPU list) leaves the job unmapped or a line
 * stale, while slurmd wants exit 0: besides the log line, the hook counts it in the directory, one
 * file ".jobtel-hook-errors.<hook>.<reason>" per cause whose size is the count. Growing a sparse
 * file needs no free block, so a full filesystem can still record that it is full; the exporter
 * reads the sizes (jobmap_read_dir's stats) and exports them as a counter.
 *
 * The writer runs as root from slurmd: the directory must not be a symlink, must be owned by the
 * caller and not writable by group or others; files are opened with O_NOFOLLOW and must be regular.
 * Nothing here logs: results and counts go back to the caller, which knows the job id and how often
 * it may log.
 */
#ifndef JOBTEL_JOBMAP_H
#define JOBTEL_JOBMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define JOBMAP_NAME_MAX 96           /* bytes incl. NUL of a mapping file name */
#define JOBMAP_FILE_MAX 65536        /* a larger mapping file is malformed */
#define JOBMAP_JOBS_PER_FILE_MAX 256 /* jobs sharing one GPU; the writer refuses one more */
/* Mapping files one read keeps; the rest are counted in stats.dropped_files. A node has about a
 * thousand real names at most (64 GPUs x (index + UUID) x 8 MIG instances), so only junk reaches this. */
#define JOBMAP_FILES_MAX 16384
#define JOBMAP_LOCK_NAME ".jobtel.lock"
#define JOBMAP_HOOK_ERRORS_PREFIX ".jobtel-hook-errors." /* + "<hook>.<reason>" */
#define JOBMAP_LOCK_TIMEOUT_MAX_S 300.0 /* longest lock wait a caller may ask for */
#define JOBMAP_TOMBSTONE_TTL_S 600      /* > JOBMAP_LOCK_TIMEOUT_MAX_S: outlives every waiting prolog */
/* Ended jobs a compaction keeps, newest first: a prolog waits at most 300 s, and no node ends a
 * thousand jobs in that time. Between compactions up to ~3,000 accumulate. */
#define JOBMAP_TOMBSTONES_MAX 1024

/* Which hook failed, and why: the labels of jobtel_slurm_hook_errors_total. Append only. */
enum jobmap_hook { JOBMAP_HOOK_PROLOG, JOBMAP_HOOK_EPILOG, JOBMAP_HOOK_N };
enum jobmap_reason {
    JOBMAP_REASON_LOCK_TIMEOUT, /* the directory lock was not ours in time (JT_ERR_TIMEOUT) */
    JOBMAP_REASON_NO_SPACE,     /* ENOSPC / EDQUOT */
    JOBMAP_REASON_IO,           /* any other read/write/rename failure */
    JOBMAP_REASON_UNSAFE,       /* a symlink, FIFO, wrong owner or mode where a file or dir should be */
    JOBMAP_REASON_PERMISSION,   /* EACCES, EPERM, EROFS */
    JOBMAP_REASON_LIMIT,        /* a file at its job or size cap */
    JOBMAP_REASON_BAD_INPUT,    /* SLURM_JOB_ID, SLURM_JOB_UID or the GPU list unusable */
    JOBMAP_REASON_NOMEM,
    JOBMAP_REASON_OTHER,
    JOBMAP_REASON_N
};

enum jobmap_format { JOBMAP_HPC, JOBMAP_GPUSTAT };

/* True if `name` is a mapping file name in `fmt` (index, index.gi, and for GPUSTAT also UUIDs). */
bool jobmap_name_valid(enum jobmap_format fmt, const char *name);

/* --- reader (exporter) ----------------------------------------------------------------------- */

struct jobmap_job {
    uint64_t jobid; /* > 0 */
    uint32_t uid;   /* valid only if has_uid (GPUSTAT lines with two fields) */
    bool has_uid;
};

enum jobmap_key_kind { JOBMAP_KEY_INDEX, JOBMAP_KEY_UUID };

/* One mapping file that names at least one job. */
struct jobmap_key {
    char name[JOBMAP_NAME_MAX]; /* the file name: "3", "3.1", "GPU-…", "MIG-…" */
    enum jobmap_key_kind kind;
    uint32_t gpu;               /* JOBMAP_KEY_INDEX: GPU index (NVML / DCGM GPU id) */
    int32_t gpu_instance;       /* JOBMAP_KEY_INDEX: MIG GPU instance id; -1 for the whole GPU */
    size_t first;               /* its jobs are jobs[first .. first + count) of the map */
    size_t count;               /* >= 1, in file order */
};

/* What a read saw besides the data; for a rate-limited log line and a metric. */
struct jobmap_stats {
    unsigned files;                         /* mapping files read (empty ones included) */
    unsigned malformed;                     /* mapping files skipped: bad line, too large, not a regular file, unreadable */
    unsigned ignored;                       /* other names, not counting '.'-names and sub-directories */
    unsigned dropped;                       /* dropped_files + dropped_jobs */
    unsigned dropped_files;                 /* mapping files left out at JOBMAP_FILES_MAX */
    unsigned dropped_jobs;                  /* files whose jobs past JOBMAP_JOBS_PER_FILE_MAX were left out */
    /* The hooks' failure counts kept in the directory (see above); has_hook_errors is false when the
     * directory could not be listed. A missing count file is a true zero. */
    bool has_hook_errors;
    uint64_t hook_errors[JOBMAP_HOOK_N][JOBMAP_REASON_N];
    char first_malformed[JOBMAP_NAME_MAX];  /* name of the first skipped file, "" if none */
    enum jt_err first_malformed_err;        /* and why: JT_ERR_PARSE, JT_ERR_LIMIT, JT_ERR_UNSAFE, JT_ERR_IO, ... */
};

/* A directory's mapping. Owns keys and jobs; free with jobmap_free. Zero-initialise before the first read. */
struct jobmap {
    struct jobmap_key *keys; /* sorted: index keys by (gpu, gpu_instance), then UUID keys by name */
    size_t nkeys;
    struct jobmap_job *jobs;
    size_t njobs;
    struct jobmap_stats stats;
};

/* One mapping file's text, parsed: the reader's and writer's line parser, for tests and the fuzz target. */
struct jobmap_parsed {
    size_t n;                                     /* valid lines kept */
    unsigned bad;                                 /* lines that did not parse */
    bool too_many;                                /* valid lines beyond the cap were left out */
    struct jobmap_job jobs[JOBMAP_JOBS_PER_FILE_MAX];
};
void jobmap_parse_text(enum jobmap_format fmt, const char *text, size_t len, struct jobmap_parsed *pf);

/* Read a whole directory in `fmt`. Any previous content of *out is freed first. Returns JT_OK (with
 * malformed files skipped and counted in out->stats), JT_ERR_NOT_FOUND if the directory does not
 * exist (no prolog has run yet: not an error for the caller), JT_ERR_UNSAFE if `dir` (or a parent) is not
 * a directory, JT_ERR_IO/JT_ERR_PERMISSION if it cannot be listed, JT_ERR_NOMEM. On error *out is empty but its stats are valid. A file that disappears
 * between listing and opening (an epilog ran) is neither an error nor counted. */
enum jt_err jobmap_read_dir(const char *dir, enum jobmap_format fmt, struct jobmap *out);

/* The same with the format fixed, as the exporter's two flags name them. */
enum jt_err jobmap_read_hpc_dir(const char *dir, struct jobmap *out);
enum jt_err jobmap_read_gpustat_dir(const char *dir, struct jobmap *out);

void jobmap_free(struct jobmap *m);

/* Label values for jobtel_slurm_hook_errors_total{hook,reason}: "prolog"/"epilog", "lock_timeout", ... */
const char *jobmap_hook_name(enum jobmap_hook hook);
const char *jobmap_reason_name(enum jobmap_reason reason);

/* Lookups; NULL when the GPU has no file (or an empty one). gpu_instance -1 = the whole GPU. */
const struct jobmap_key *jobmap_find_index(const struct jobmap *m, uint32_t gpu, int32_t gpu_instance);
const struct jobmap_key *jobmap_find_uuid(const struct jobmap *m, const char *uuid); /* case-insensitive */

/* The jobs of a key (key->count of them). */
static inline const struct jobmap_job *jobmap_key_jobs(const struct jobmap *m, const struct jobmap_key *k)
{
    return m->jobs + k->first;
}

/* --- writer (prolog/epilog) ------------------------------------------------------------------ */

/* An open, checked mapping directory. Zero-initialise is not enough: use jobmap_dir_open. */
struct jobmap_dir {
    int fd;     /* the directory, O_NOFOLLOW-opened */
    int lockfd; /* >= 0 while locked */
    enum jobmap_format fmt;
};

/* Opens the directory `path` (absolute) for writing. With `create`, missing directories are made
 * (mode 0755, whatever the umask). JT_ERR_UNSAFE if `path` is a symlink or not a directory, is owned
 * by another user or is writable by group or others; JT_ERR_NOT_FOUND if missing and !create;
 * JT_ERR_USAGE if not absolute. */
enum jt_err jobmap_dir_open(struct jobmap_dir *d, const char *path, enum jobmap_format fmt, bool create);

/* Takes the directory's lock, giving up after timeout_s (at most JOBMAP_LOCK_TIMEOUT_MAX_S;
 * JT_ERR_TIMEOUT): a stuck holder must not hang slurmd's prolog until Slurm drains the node. The wait
 * is a blocking flock() interrupted by a SIGALRM interval timer, whose handler and timer are restored
 * afterwards: for single-threaded callers (the hooks), not for the daemon. */
enum jt_err jobmap_dir_lock(struct jobmap_dir *d, double timeout_s);

/* The clock of tombstones and prolog start times: CLOCK_BOOTTIME in ms, one clock for every process
 * on the node and steady across wall-clock changes. */
int64_t jobmap_clock_ms(void);

/* Under the lock (epilog): remember that `jobid` ended now; drops tombstones older than
 * JOBMAP_TOMBSTONE_TTL_S. */
enum jt_err jobmap_mark_ended(struct jobmap_dir *d, uint64_t jobid);

/* Under the lock (prolog): *ended is set when an epilog of `jobid` took the lock after
 * `started_ms` (jobmap_clock_ms() when the prolog started): the job is over, do not map it. */
enum jt_err jobmap_ended_since(struct jobmap_dir *d, uint64_t jobid, int64_t started_ms, bool *ended);

/* Counts one failure of `hook` in directory `dir` (see above). Needs no directory lock (the count
 * file has its own, held for one ftruncate) and no free block. The directory is not created: with no
 * directory there is nobody to tell. JT_ERR_NOT_FOUND if `dir` is missing, JT_ERR_UNSAFE as for
 * jobmap_dir_open. */
enum jt_err jobmap_hook_error_record(const char *dir, enum jobmap_hook hook, enum jobmap_reason reason);

/* The reason a hook failure with `err` is counted under. */
enum jobmap_reason jobmap_reason_of(enum jt_err err);

/* Reads the counts of `dir` alone (jobmap_read_dir reads them too). JT_ERR_NOT_FOUND if no dir. */
enum jt_err jobmap_hook_errors_read(const char *dir, uint64_t counts[JOBMAP_HOOK_N][JOBMAP_REASON_N]);

/* Unlocks if locked and closes. Safe to call twice. */
void jobmap_dir_close(struct jobmap_dir *d);

/* Under the lock: make `jobid` appear once in file `name`, keeping other jobs' lines. In GPUSTAT the
 * line is "<jobid> <uid>" (replacing an older line of the same job); in HPC `uid` is not used.
 * *dropped (may be NULL) gets the number of malformed lines that were removed while rewriting.
 * JT_ERR_LIMIT if the file already holds JOBMAP_JOBS_PER_FILE_MAX other jobs or is too large;
 * JT_ERR_UNSAFE if `name` exists but is not a regular file (or is a symlink); JT_ERR_USAGE if `name`
 * is not a mapping name in the directory's format. */
enum jt_err jobmap_add(struct jobmap_dir *d, const char *name, uint64_t jobid, uint32_t uid, unsigned *dropped);

/* Under the lock: remove `jobid`'s line from file `name`; the file is deleted when no line is left.
 * *changed (may be NULL) tells whether the file was touched. A missing file is JT_OK. */
enum jt_err jobmap_remove(struct jobmap_dir *d, const char *name, uint64_t jobid, bool *changed, unsigned *dropped);

/* Under the lock: jobmap_remove from every mapping file of the directory. The epilog uses this rather
 * than its GPU list so that a changed list or a lost environment cannot leave a stale line behind.
 * *files_changed (may be NULL) counts files touched. Errors on single files do not stop the sweep;
 * the first one is returned. */
enum jt_err jobmap_remove_everywhere(struct jobmap_dir *d, uint64_t jobid, unsigned *files_changed);

#endif
