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
#define JOBMAP_FILES_MAX 4096        /* mapping files one read keeps; the rest are counted as dropped */
#define JOBMAP_LOCK_NAME ".jobtel.lock"

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
    unsigned dropped;                       /* files or jobs left out at a cap */
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

/* Read a whole directory in `fmt`. Any previous content of *out is freed first. Returns JT_OK (with
 * malformed files skipped and counted in out->stats), JT_ERR_NOT_FOUND if the directory does not
 * exist (no prolog has run yet: not an error for the caller), JT_ERR_IO/JT_ERR_PERMISSION if it cannot
 * be listed, JT_ERR_NOMEM. On error *out is empty but its stats are valid. A file that disappears
 * between listing and opening (an epilog ran) is neither an error nor counted. */
enum jt_err jobmap_read_dir(const char *dir, enum jobmap_format fmt, struct jobmap *out);

/* The same with the format fixed, as the exporter's two flags name them. */
enum jt_err jobmap_read_hpc_dir(const char *dir, struct jobmap *out);
enum jt_err jobmap_read_gpustat_dir(const char *dir, struct jobmap *out);

void jobmap_free(struct jobmap *m);

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

/* Takes the directory's lock, giving up after timeout_s (JT_ERR_TIMEOUT): a stuck holder must not
 * hang slurmd's prolog until Slurm drains the node. */
enum jt_err jobmap_dir_lock(struct jobmap_dir *d, double timeout_s);

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
