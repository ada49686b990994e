/* prolog.c - `jobtel prolog` / `jobtel epilog`: record which GPUs a Slurm job holds, for the exporter.
 *
 * slurmd runs these as root, for every job, with a bare environment (no PATH) and drains the node when
 * one exits non-zero. So they parse only numbers and UUIDs out of the environment, never run another
 * program, touch only files in two checked directories, and exit 0 on any runtime failure unless
 * --strict asks otherwise; every failure is logged (stderr and syslog) with the job id so it is seen.
 * The prolog adds the job to the files of the GPUs it got; the epilog removes the job's lines from
 * every file, which also cleans up after a prolog that saw a different GPU list, and leaves a
 * tombstone so that a prolog of the same job still waiting for the lock adds nothing.
 * Every failure is also counted in the directory it concerns (jobmap_hook_error_record), where the
 * exporter reads it: exit 0 must not mean that nobody learns of a lost line.
 * slurmd waits for the hooks of every job start, so the common case is kept cheap: the driver's GPU
 * table in procfs is read only when a UUID file, a UUID in the list or minor numbering needs it.
 * The file formats and the locking live in slurm/jobmap.c, list parsing in slurm/gpulist.c.
 *
 * A job that runs its own profiler (Nsight, CUPTI) asks for a profiling pause with the word
 * "jobtel:profiling-pause" in its comment (sbatch --comment): slurmd hands the comment to the Prolog and
 * the Epilog as SLURM_JOB_COMMENT, so neither a SPANK plugin nor a node feature is needed. The prolog then
 * also names the job's GPUs in the exporter's pause directory, in the HPC format ("<index>[.<gi>]", one
 * job id per line, the same locking and tombstones); the epilog removes the job's lines there whatever
 * the comment says by then (`scontrol update` can change it while the job runs).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/args.h"
#include "common/cli.h"
#include "slurm/gpulist.h"
#include "slurm/jobmap.h"
#include "common/log.h"
#include "common/strparse.h"

#define PROLOG_LOCK_TIMEOUT_S 30.0 /* default: a burst drains in well under a second; a stuck holder does not */
#define SLURM_JOB_ID_MAX 0xfffffffeu /* Slurm job ids are uint32; NO_VAL is reserved */
#define SLURM_UID_MAX 0xfffffffeu    /* (uid_t)-1 is "no uid" */

struct prolog_opts {
    bool is_prolog;
    const char *hpc_dir;      /* "" disables the format */
    const char *gpustat_dir;  /* "" disables the format */
    const char *pause_dir;    /* the exporter's profiling pause directory; "" disables */
    const char *procfs;
    const char *gpus;         /* overrides the environment when set */
    enum gpulist_numbering numbering;
    bool strict;
    bool use_syslog;
    enum log_level level;
    double lock_timeout_s;
    int64_t started_ms;       /* jobmap_clock_ms() when the hook started: tombstones newer than this win */
};

#define POFF(f) offsetof(struct prolog_opts, f)
/* ARGS_CHOICE stores an int. */
_Static_assert(sizeof(enum gpulist_numbering) == sizeof(int) && sizeof(enum log_level) == sizeof(int),
               "enum options are int-sized");

static const int numbering_values[] = {GPULIST_NUMBER_INDEX, GPULIST_NUMBER_MINOR};
static const char *const numbering_words[] = {"index", "minor", NULL};

static const struct args_opt opts[] = {
    {.name = "hpc-dir", .aliases = "--hpc-job-mapping-dir", .kind = ARGS_STRING, .offset = POFF(hpc_dir),
     .placeholder = "DIR", .help = "dcgm-exporter HPC job mapping directory (default /run/dcgm-job-map; \"\" disables)"},
    {.name = "gpustat-dir", .aliases = "--slurm.gpustat-dir", .kind = ARGS_STRING, .offset = POFF(gpustat_dir),
     .placeholder = "DIR", .help = "Princeton jobstats GPU ownership directory (default /run/gpustat; \"\" disables)"},
    {.name = "profiling-pause-dir", .aliases = "--collector.gpu.profiling-pause-dir", .kind = ARGS_STRING,
     .offset = POFF(pause_dir), .placeholder = "DIR",
     .help = "The exporter's profiling pause directory, for jobs whose comment holds jobtel:profiling-pause "
             "(default /run/jobtel/profiling-pause; \"\" disables)"},
    {.name = "path.procfs", .kind = ARGS_STRING, .offset = POFF(procfs), .placeholder = "DIR",
     .help = "procfs root for driver/nvidia/gpus/*/information, the index<->UUID table (default /proc)"},
    {.name = "gpus", .kind = ARGS_STRING, .offset = POFF(gpus), .placeholder = "LIST",
     .help = "GPU list to use instead of SLURM_JOB_GPUS / CUDA_VISIBLE_DEVICES (prolog)"},
    {.name = "gpu-numbering", .kind = ARGS_CHOICE, .offset = POFF(numbering), .choices = numbering_words,
     .values = numbering_values,
     .help = "index: list numbers are NVML indices (default); minor: they are /dev/nvidiaN minor numbers"},
    {.name = "lock-timeout", .kind = ARGS_DURATION, .offset = POFF(lock_timeout_s), .placeholder = "SECONDS",
     .min = 0.001, .max = JOBMAP_LOCK_TIMEOUT_MAX_S,
     .help = "Seconds to wait for a mapping directory's lock, 0.001-300 (default 30); a time-out is logged and counted"},
    {.name = "strict", .kind = ARGS_FLAG, .offset = POFF(strict),
     .help = "Exit 1 on a runtime failure and 2 on a usage error (default: exit 0)"},
    {.name = "syslog", .kind = ARGS_BOOL, .offset = POFF(use_syslog),
     .help = "Log to syslog as well as stderr (default); --no-syslog: to stderr only"},
    {.name = "log.level", .kind = ARGS_CHOICE, .offset = POFF(level), .choices = log_level_words,
     .values = log_level_values, .placeholder = "LEVEL", .help = "One of error, warn, info, debug (default warn)"},
    {.name = "help", .aliases = "-h", .kind = ARGS_HELP, .help = "Show this help"},
    {.name = "version", .kind = ARGS_VERSION, .help = "Show the version"},
    {.kind = ARGS_END},
};

#define EXIT_CODES                                                                                          \
    "Exit codes: 0 success, or any failure without --strict (logged to stderr and syslog);\n"               \
    "with --strict: 1 runtime failure, 2 usage error. A job without GPUs is a success."

static const struct args_spec prolog_spec = {
    .prog = "jobtel prolog",
    .usage = "jobtel prolog [options]",
    .description = "Slurm Prolog: adds the job to the mapping file of each GPU it was given.\n"
                   "Reads SLURM_JOB_ID, SLURM_JOB_UID and SLURM_JOB_GPUS (else CUDA_VISIBLE_DEVICES):\n"
                   "indices, ranges (0-3,5), <index>.<gpu-instance>, GPU-/MIG- UUIDs. A job whose\n"
                   "SLURM_JOB_COMMENT holds the word jobtel:profiling-pause (sbatch --comment) also gets its\n"
                   "GPUs named in the profiling pause directory.",
    .opts = opts,
    .epilogue = EXIT_CODES,
};

static const struct args_spec epilog_spec = {
    .prog = "jobtel epilog",
    .usage = "jobtel epilog [options]",
    .description = "Slurm Epilog: removes the job's lines from every mapping file and from the profiling\n"
                   "pause directory. Reads SLURM_JOB_ID.",
    .opts = opts,
    .epilogue = EXIT_CODES,
};

/* The job id as a log prefix; set once the environment is read, sanitised since it is untrusted. */
static char job_label[48] = "?";

/* Copies untrusted text for a log line: printable ASCII only (no quotes or backslashes, which the
 * logfmt line would have to escape), bounded, visibly truncated. */
static void sanitize(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0'; i++) {
        if (o + 4 >= outsz) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        char c = in[i];
        out[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '\\') ? c : '?';
    }
    out[o] = '\0';
}

/* A numeric environment value in [1 or 0, max]. */
static bool env_number(const char *name, uint64_t min, uint64_t max, uint64_t *out, const char **raw)
{
    const char *v = getenv(name);
    *raw = v;
    return v && cstr_to_u64(v, out) && *out >= min && *out <= max;
}

/* Returns JT_OK (with *exit_now after --help/--version), or JT_ERR_USAGE with *bad set to the
 * offending argument and *why to the reason (in `err`). */
static enum jt_err parse_args(struct prolog_opts *o, int argc, char **argv, bool *exit_now, const char **bad,
                              const char **why, struct args_error *err)
{
    *exit_now = false;
    switch (args_parse(o->is_prolog ? &prolog_spec : &epilog_spec, o, argc, argv, NULL, NULL, err)) {
    case ARGS_OK:
        break;
    case ARGS_EXIT:
        *exit_now = true;
        return JT_OK;
    case ARGS_USAGE:
        *bad = err->arg;
        *why = err->why;
        return JT_ERR_USAGE;
    }
    if (o->hpc_dir[0] && o->gpustat_dir[0] && strcmp(o->hpc_dir, o->gpustat_dir) == 0) {
        *bad = o->gpustat_dir; /* both formats name files "0", "1", ...: they cannot share a directory */
        *why = "--hpc-dir and --gpustat-dir must differ";
        return JT_ERR_USAGE;
    }
    if (o->pause_dir[0] && ((o->hpc_dir[0] && strcmp(o->pause_dir, o->hpc_dir) == 0) ||
                            (o->gpustat_dir[0] && strcmp(o->pause_dir, o->gpustat_dir) == 0))) {
        *bad = o->pause_dir; /* a pause file would read as a mapping, and the reverse */
        *why = "--profiling-pause-dir must differ from --hpc-dir and --gpustat-dir";
        return JT_ERR_USAGE;
    }
    return JT_OK;
}

/* File names for one format: "<index>[.<gi>]" for both, UUIDs for GPUSTAT only. */
struct names {
    size_t n;
    char name[2 * GPULIST_MAX][JOBMAP_NAME_MAX];
};

/* Adds "<index>[.<gi>]" when uuid is NULL, else the UUID; skips duplicates ("0" and GPU-… of GPU 0). */
static void names_add(struct names *ns, uint32_t index, int32_t gi, const char *uuid)
{
    if (ns->n >= sizeof ns->name / sizeof ns->name[0])
        return;
    char *dst = ns->name[ns->n];
    if (uuid)
        str_copy(dst, JOBMAP_NAME_MAX, uuid, strlen(uuid));
    else if (gi >= 0)
        snprintf(dst, JOBMAP_NAME_MAX, "%u.%d", index, gi);
    else
        snprintf(dst, JOBMAP_NAME_MAX, "%u", index);
    for (size_t i = 0; i < ns->n; i++) {
        if (strcmp(ns->name[i], dst) == 0)
            return;
    }
    ns->n++;
}

/* Counts a failure of this hook in `dir`, or in every enabled directory when dir is NULL (a failure
 * before any file was touched loses the job in both). Logs when even that is impossible. */
static void count_failure(const struct prolog_opts *o, const char *dir, enum jt_err err)
{
    enum jobmap_hook hook = o->is_prolog ? JOBMAP_HOOK_PROLOG : JOBMAP_HOOK_EPILOG;
    enum jobmap_reason reason = jobmap_reason_of(err);
    const char *dirs[2] = {dir ? dir : o->hpc_dir, dir ? "" : o->gpustat_dir};
    for (size_t i = 0; i < 2; i++) {
        if (!dirs[i][0])
            continue;
        enum jt_err e = jobmap_hook_error_record(dirs[i], hook, reason);
        if (e != JT_OK && e != JT_ERR_NOT_FOUND && !(e == JT_ERR_UNSAFE && err == JT_ERR_UNSAFE)) /* said already */
            log_error("job=%s %s: cannot count the failure (%s): %s", job_label, dirs[i], jobmap_reason_name(reason),
                      jt_strerror(e));
    }
}

/* Opens, locks and updates one directory. Returns the number of failures (each logged and counted).
 * must_exist: an epilog with no directory there has nothing to do (the pause directory: see do_epilog). */
static unsigned update_dir(const struct prolog_opts *o, const char *what, const char *path, enum jobmap_format fmt,
                           const struct names *ns, uint64_t jobid, uint32_t uid, bool must_exist)
{
    bool add = o->is_prolog;
    unsigned failures = 0;
    struct jobmap_dir d;
    /* The epilog creates the directory too: its tombstone must be there for a prolog still waiting. */
    enum jt_err err = jobmap_dir_open(&d, path, fmt, !must_exist);
    if (err == JT_ERR_NOT_FOUND && must_exist) {
        jobmap_dir_close(&d);
        return 0;
    }
    if (err == JT_OK)
        err = jobmap_dir_lock(&d, o->lock_timeout_s);
    if (err != JT_OK) {
        log_error("job=%s %s dir %s: %s%s; job %s", job_label, what, path, jt_strerror(err),
                  err == JT_ERR_UNSAFE ? " (a symlink, not a directory, not ours, or group/other-writable)" : "",
                  add ? "not mapped" : "left mapped");
        jobmap_dir_close(&d);
        count_failure(o, path, err);
        return 1;
    }
    if (add) {
        bool ended = false;
        err = jobmap_ended_since(&d, jobid, o->started_ms, &ended);
        if (err != JT_OK) { /* then map it: a stale line is the lesser loss than a running job unmapped */
            log_error("job=%s %s %s: reading tombstones: %s", job_label, what, path, jt_strerror(err));
            count_failure(o, path, err);
            failures++;
        }
        if (ended) {
            log_info("job=%s %s %s: the job's epilog ran first; not mapped", job_label, what, path);
            jobmap_dir_close(&d);
            return failures;
        }
        for (size_t i = 0; i < ns->n; i++) {
            unsigned dropped = 0;
            err = jobmap_add(&d, ns->name[i], jobid, uid, &dropped);
            if (err != JT_OK) {
                log_error("job=%s %s %s/%s: %s", job_label, what, path, ns->name[i], jt_strerror(err));
                count_failure(o, path, err);
                failures++;
            }
            if (dropped)
                log_warn("job=%s %s %s/%s: removed %u malformed line(s)", job_label, what, path, ns->name[i], dropped);
        }
        log_info("job=%s %s %s: added to %zu file(s)", job_label, what, path, ns->n);
    } else {
        unsigned changed = 0;
        err = jobmap_mark_ended(&d, jobid);
        if (err != JT_OK) {
            log_error("job=%s %s %s: writing its tombstone: %s", job_label, what, path, jt_strerror(err));
            count_failure(o, path, err);
            failures++;
        }
        err = jobmap_remove_everywhere(&d, jobid, &changed);
        if (err != JT_OK) {
            log_error("job=%s %s %s: %s; a line may be left", job_label, what, path, jt_strerror(err));
            count_failure(o, path, err);
            failures++;
        }
        log_info("job=%s %s %s: removed from %u file(s)", job_label, what, path, changed);
    }
    jobmap_dir_close(&d);
    return failures;
}

/* The list to use and the name of where it came from, or NULL when the job has no GPUs. */
static const char *gpu_list_source(const struct prolog_opts *o, const char **from)
{
    static const char *vars[] = {"SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES"};
    if (o->gpus) {
        *from = "--gpus";
        return o->gpus;
    }
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            *from = vars[i];
            return v;
        }
    }
    return NULL;
}

#define PAUSE_WORD "jobtel:profiling-pause"

/* True when the job's comment holds PAUSE_WORD as a word of its own (words are separated by blanks, commas
 * or semicolons, so the request can sit beside whatever else a site keeps in comments; case is ignored). */
static bool comment_asks_pause(const char *comment)
{
    static const char seps[] = " \t\r\n,;";
    const size_t wlen = sizeof PAUSE_WORD - 1;
    for (const char *p = comment; p && *p;) {
        p += strspn(p, seps);
        size_t n = strcspn(p, seps);
        if (n == wlen) {
            bool same = true;
            for (size_t i = 0; i < n && same; i++) {
                char c = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') : p[i];
                same = c == PAUSE_WORD[i];
            }
            if (same)
                return true;
        }
        p += n;
    }
    return false;
}

static unsigned do_prolog(const struct prolog_opts *o, uint64_t jobid)
{
    unsigned failures = 0;
    char shown[64];

    const char *from = NULL;
    const char *text = gpu_list_source(o, &from);
    if (!text) {
        log_debug("job=%s has no GPUs", job_label);
        return failures;
    }
    /* Large (GPULIST_MAX entries), so not on the stack; freed at the end. */
    struct gpulist *list = malloc(sizeof *list);
    struct gpulist_devices *devs = malloc(sizeof *devs);
    struct names *hpc = calloc(1, sizeof *hpc);
    struct names *gst = calloc(1, sizeof *gst);
    if (!list || !devs || !hpc || !gst) {
        log_error("job=%s out of memory", job_label);
        count_failure(o, NULL, JT_ERR_NOMEM);
        failures++;
        goto out;
    }
    size_t errpos;
    enum jt_err err = gpulist_parse(text, list, &errpos);
    if (err != JT_OK) {
        sanitize(text + (err == JT_ERR_LIMIT ? 0 : errpos), shown, sizeof shown);
        log_error("job=%s %s: %s at '%s'; nothing written", job_label, from, jt_strerror(err), shown);
        count_failure(o, NULL, JT_ERR_PARSE);
        failures++;
        goto out;
    }
    if (list->n == 0)
        goto out; /* "NoDevFiles" */

    uint64_t uid = 0;
    const char *raw;
    bool uid_ok = env_number("SLURM_JOB_UID", 0, SLURM_UID_MAX, &uid, &raw);
    if (!uid_ok && o->gpustat_dir[0]) {
        sanitize(raw ? raw : "(unset)", shown, sizeof shown);
        log_error("job=%s SLURM_JOB_UID '%s' is not a uid; gpustat files not written", job_label, shown);
        count_failure(o, o->gpustat_dir, JT_ERR_PARSE);
        failures++;
    }
    /* The driver's table turns indices into UUIDs (gpustat's UUID files), UUIDs into indices and
     * minor numbers into indices; a list of plain indices for the HPC directory alone needs none. */
    bool need_devs = o->numbering == GPULIST_NUMBER_MINOR || (o->gpustat_dir[0] && uid_ok);
    for (size_t i = 0; i < list->n && !need_devs; i++)
        need_devs = list->e[i].kind != GPULIST_INDEX;
    devs->n = 0;
    if (need_devs) {
        err = gpulist_devices_load(o->procfs, devs);
        if (err != JT_OK && err != JT_ERR_NOT_FOUND)
            log_warn("job=%s reading %s/driver/nvidia/gpus: %s", job_label, o->procfs, jt_strerror(err));
    }

    for (size_t i = 0; i < list->n; i++) {
        const struct gpulist_entry *e = &list->e[i];
        struct gpulist_target t;
        err = gpulist_resolve(e, devs, o->numbering, &t);
        if (err != JT_OK) {
            log_error("job=%s GPU %u: no device with that minor number", job_label, e->index);
            count_failure(o, NULL, JT_ERR_NOT_FOUND);
            failures++;
            continue;
        }
        if (t.has_index) {
            names_add(hpc, t.index, t.gpu_instance, NULL);
            names_add(gst, t.index, t.gpu_instance, NULL);
        } else if (e->kind == GPULIST_GPU_UUID && o->hpc_dir[0]) {
            log_error("job=%s %s is not in %s/driver/nvidia/gpus; no index file", job_label, e->uuid, o->procfs);
            count_failure(o, o->hpc_dir, JT_ERR_NOT_FOUND);
            failures++;
        } else {
            /* A R470+ MIG UUID does not say which GPU/instance it is without NVML. */
            log_info("job=%s %s: index unknown, UUID file only", job_label, e->uuid);
        }
        if (t.uuid[0])
            names_add(gst, 0, -1, t.uuid);
    }
    if (o->hpc_dir[0] && hpc->n)
        failures += update_dir(o, "hpc", o->hpc_dir, JOBMAP_HPC, hpc, jobid, 0, false);
    if (o->gpustat_dir[0] && uid_ok && gst->n)
        failures += update_dir(o, "gpustat", o->gpustat_dir, JOBMAP_GPUSTAT, gst, jobid, (uint32_t)uid, false);
    if (o->pause_dir[0] && comment_asks_pause(getenv("SLURM_JOB_COMMENT"))) {
        /* The exporter matches these names against its GPUs' indices and MIG instances' "<index>.<gi>". */
        if (hpc->n)
            failures += update_dir(o, "profiling-pause", o->pause_dir, JOBMAP_HPC, hpc, jobid, 0, false);
        else
            log_warn("job=%s asked for a profiling pause, but none of its GPUs has a known index", job_label);
    }
out:
    free(list);
    free(devs);
    free(hpc);
    free(gst);
    return failures;
}

static unsigned do_epilog(const struct prolog_opts *o, uint64_t jobid)
{
    unsigned failures = 0;
    if (o->hpc_dir[0])
        failures += update_dir(o, "hpc", o->hpc_dir, JOBMAP_HPC, NULL, jobid, 0, false);
    if (o->gpustat_dir[0])
        failures += update_dir(o, "gpustat", o->gpustat_dir, JOBMAP_GPUSTAT, NULL, jobid, 0, false);
    /* Whether or not the job asked: its comment may have changed since the prolog, and the tombstone stops
     * a prolog of this job still waiting for the lock from pausing its GPUs after the job ended. A missing
     * directory means no job asked since boot (/run): then the epilog of every job does not pay for a third
     * lock. The prolog of a job that asks creates it before it waits for the lock, so an epilog that runs
     * while that prolog waits finds it and leaves its tombstone. */
    if (o->pause_dir[0])
        failures += update_dir(o, "profiling-pause", o->pause_dir, JOBMAP_HPC, NULL, jobid, 0, true);
    return failures;
}

static bool has_strict(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--strict") == 0)
            return true;
    }
    return false;
}

static int run(bool is_prolog, int argc, char **argv)
{
    struct prolog_opts o = {
        .is_prolog = is_prolog,
        .hpc_dir = "/run/dcgm-job-map",
        .gpustat_dir = "/run/gpustat",
        .pause_dir = "/run/jobtel/profiling-pause",
        .procfs = "/proc",
        .numbering = GPULIST_NUMBER_INDEX,
        .use_syslog = true,
        .level = LOG_LVL_WARN,
        .lock_timeout_s = PROLOG_LOCK_TIMEOUT_S,
        .started_ms = jobmap_clock_ms(), /* first: a tombstone written after this instant wins */
    };
    const char *ident = is_prolog ? "jobtel-prolog" : "jobtel-epilog";
    bool exit_now;
    const char *bad = NULL, *why = NULL;
    struct args_error err;
    snprintf(job_label, sizeof job_label, "?");
    umask(022);

    if (parse_args(&o, argc, argv, &exit_now, &bad, &why, &err) != JT_OK) {
        /* A typo in slurm.conf must not drain every node, unless the site asked for that. */
        bool strict = has_strict(argc, argv);
        char shown[64];
        sanitize(bad ? bad : "", shown, sizeof shown);
        log_setup(LOG_LVL_WARN, ident, o.use_syslog);
        log_error("job=? usage error at '%s': %s (see jobtel %s --help)", shown, why, is_prolog ? "prolog" : "epilog");
        return strict ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (exit_now)
        return CLI_EXIT_OK;
    log_setup(o.level, ident, o.use_syslog);

    uint64_t jobid;
    const char *raw;
    if (!env_number("SLURM_JOB_ID", 1, SLURM_JOB_ID_MAX, &jobid, &raw)) {
        char shown[64];
        sanitize(raw ? raw : "(unset)", shown, sizeof shown);
        log_error("job=? SLURM_JOB_ID '%s' is not a job id; nothing done", shown);
        count_failure(&o, NULL, JT_ERR_PARSE);
        return o.strict ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    }
    snprintf(job_label, sizeof job_label, "%llu", (unsigned long long)jobid);

    unsigned failures = is_prolog ? do_prolog(&o, jobid) : do_epilog(&o, jobid);
    return failures && o.strict ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int cmd_prolog(int argc, char **argv)
{
    return run(true, argc, argv);
}

int cmd_epilog(int argc, char **argv)
{
    return run(false, argc, argv);
}
