/* summary.c - `jobtel summary`: store a job's JS1 summary at job end, and retry what could not be stored.
 *
 * slurmctld runs `jobtel summary --store JOBID` as EpilogSlurmctld (no PATH, no SLURM_CONF unless the
 * wrapper exports it). The summary is the same data as `jobstats -b`, written into the job's
 * AdminComment with sacctmgr (scontrol refuses once a job has finished). Slurm 22.05's sacctmgr
 * lowercases the value, which breaks base64, so every write is read back with sacct: if it did not
 * round-trip, the case-proof "js1b32:" spelling is written instead, and that choice is remembered in
 * the spool directory so later jobs need one write (see docs/jobstats.md). When Prometheus, sacct or
 * slurmdbd fail, the job id goes into the spool directory and `--retry-spool` (a systemd timer)
 * stores it later, so a summary is never lost to a short outage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/args.h"
#include "common/cli.h"
#include "common/cmd_run.h"
#include "common/fileio.h"
#include "jobstats/jobstats.h"
#include "jobstats/js1.h"
#include "common/log.h"
#include "common/strparse.h"
#include "summary/records.h"

#define ENCODING_MARK ".encoding-js1b32" /* in the spool dir: this Slurm lowercases AdminComment */
/* slurmdbd may record the job's end a moment after the epilog starts. It is asked again after 0.5, 1
 * and 2 s, then given up on (the job is spooled): at most SETTLE_QUERIES queries per job end, spaced
 * out, because slurmdbd lags exactly when many jobs end at once. */
#define SETTLE_QUERIES 4
#define SETTLE_FIRST_WAIT_S 0.5
#define SPOOL_MAX_AGE_DEFAULT_S (7 * 86400)
#define SPOOL_ENTRY_MAX 512
/* The largest AdminComment stored. Slurm keeps admin_comment in a MySQL text column (65535 bytes);
 * jobstats reads at most SACCT_ADMIN_COMMENT_MAX (16384) of it. Only the timelines can make a summary
 * this large (many nodes); they are thinned first (docs/accounting.md). */
#define SUMMARY_COMMENT_BUDGET 16000u
/* How long --store waits for a GPU job's node records (a node without jobtel never writes one). */
#define RECORDS_WAIT_S 5.0
_Static_assert(SUMMARY_COMMENT_BUDGET < SACCT_ADMIN_COMMENT_MAX, "jobstats must read back what is stored");

/* One spooled job: what --retry-spool needs without the epilog's environment. */
struct spool_entry {
    char jobid[32];               /* SLURM_JOB_ID, the raw job id */
    char array_job[32], array_task[32]; /* SLURM_ARRAY_JOB_ID / _TASK_ID, "" when not an array task */
    int64_t spooled_at;           /* epoch s, 0 when unknown (an old one-line entry: the file's mtime) */
};

enum summary_mode { MODE_NONE, MODE_STORE, MODE_RETRY };
enum enc_choice { ENC_AUTO, ENC_JS1, ENC_JS1B32 };

struct summary_opts {
    enum summary_mode mode;
    const char *jobid;
    const char *config, *prom_url, *spool_dir;
    const char *records_dir; /* the nodes' accounting records (jobtel job-record); "" = none */
    enum enc_choice enc;
    int64_t spool_max_age; /* seconds */
    bool debug;
};

static bool opt_store(void *base, const char *jobid, const char **why)
{
    (void)why;
    struct summary_opts *o = base;
    o->mode = MODE_STORE;
    o->jobid = jobid;
    return true;
}

static bool opt_retry(void *base, const char *unused, const char **why)
{
    (void)unused;
    (void)why;
    ((struct summary_opts *)base)->mode = MODE_RETRY;
    return true;
}

/* "3600", "90m", "12h", "7d" into seconds; false if malformed, zero or absurd. */
static bool parse_age(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    int64_t mult = 1;
    if (n > 0) {
        switch (s[n - 1]) {
        case 's': mult = 1; n--; break;
        case 'm': mult = 60; n--; break;
        case 'h': mult = 3600; n--; break;
        case 'd': mult = 86400; n--; break;
        default: break;
        }
    }
    uint64_t v;
    int64_t r;
    if (!str_to_u64(s, n, &v) || v == 0 || v > (uint64_t)INT32_MAX || __builtin_mul_overflow((int64_t)v, mult, &r))
        return false;
    *out = r;
    return true;
}

static bool opt_spool_max_age(void *base, const char *value, const char **why)
{
    if (!parse_age(value, &((struct summary_opts *)base)->spool_max_age)) {
        *why = "a positive age such as 86400, 12h or 7d";
        return false;
    }
    return true;
}

#define MOFF(f) offsetof(struct summary_opts, f)
_Static_assert(sizeof(enum enc_choice) == sizeof(int), "ARGS_CHOICE stores an int");

static const char *const enc_words[] = {"auto", "js1", "js1b32", NULL};
static const int enc_values[] = {ENC_AUTO, ENC_JS1, ENC_JS1B32};

static const struct args_opt summary_opts_table[] = {
    {.name = "store", .kind = ARGS_CALL, .placeholder = "JOBID", .call = opt_store,
     .help = "store this finished job's summary (from EpilogSlurmctld)"},
    {.name = "retry-spool", .kind = ARGS_CALL, .call = opt_retry, .help = "store every spooled job (from a timer)"},
    {.name = "config", .kind = ARGS_STRING, .offset = MOFF(config), .placeholder = "FILE",
     .help = "config file (default " JS_CONF_DEFAULT_PATH ")"},
    {.name = "prometheus", .kind = ARGS_STRING, .offset = MOFF(prom_url), .placeholder = "URL",
     .help = "Prometheus base URL (overrides the config file)"},
    {.name = "spool-dir", .kind = ARGS_STRING, .offset = MOFF(spool_dir), .placeholder = "DIR",
     .help = "spool directory (default: spool_dir in the config, /var/spool/jobtel/summaries)"},
    {.name = "records-dir", .kind = ARGS_STRING, .offset = MOFF(records_dir), .placeholder = "DIR",
     .help = "the nodes' exact accounting records, written by `jobtel job-record` in the node epilog "
             "(default /var/spool/jobtel/records; empty: none)"},
    {.name = "encoding", .kind = ARGS_CHOICE, .offset = MOFF(enc), .choices = enc_words, .values = enc_values,
     .help = "auto (default): JS1 base64, js1b32 where Slurm lowercases"},
    {.name = "spool-max-age", .kind = ARGS_CALL, .placeholder = "AGE", .call = opt_spool_max_age,
     .help = "--retry-spool drops (and logs) jobs spooled longer ago than AGE (seconds, or with a suffix s, m, "
             "h, d; default 7d)"},
    {.name = "debug", .aliases = "-d", .kind = ARGS_FLAG, .offset = MOFF(debug), .help = "debug output"},
    {.name = "help", .aliases = "-h", .kind = ARGS_HELP, .help = "this help"},
    {.kind = ARGS_END},
};

static const struct args_spec summary_spec = {
    .prog = "jobtel summary",
    .usage = "jobtel summary --store JOBID [options]\n       jobtel summary --retry-spool [options]",
    .description = "Stores a finished job's summary (the data of `jobstats -b`) in its AdminComment, so the "
                   "report still works after Prometheus has dropped the data. Run --store from slurmctld's "
                   "EpilogSlurmctld; run --retry-spool from a timer. A job that cannot be stored now "
                   "(Prometheus or slurmdbd down) is spooled and stored by the next --retry-spool.",
    .opts = summary_opts_table,
    .epilogue = "Exit codes: 0 stored (or spooled, with --store), 1 failure (--retry-spool: some jobs are\n"
                "still spooled), 2 usage error.",
};

static int parse_opts(int argc, char **argv, struct summary_opts *o)
{
    memset(o, 0, sizeof *o);
    o->spool_max_age = SPOOL_MAX_AGE_DEFAULT_S;
    o->records_dir = "/var/spool/jobtel/records";
    struct args_error err;
    switch (args_parse(&summary_spec, o, argc, argv, NULL, NULL, &err)) {
    case ARGS_OK:
        break;
    case ARGS_EXIT:
        return -1;
    case ARGS_USAGE:
        args_print_error(&summary_spec, &err);
        return CLI_EXIT_USAGE;
    }
    if (o->mode == MODE_NONE) {
        args_help(&summary_spec, stderr);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* The entry for jobid from the epilog's environment: the array ids only when they describe this job. */
static void entry_from_env(const char *jobid, struct spool_entry *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->jobid, sizeof e->jobid, "%s", jobid);
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID");
    const char *self = getenv("SLURM_JOB_ID");
    uint64_t x;
    if (aj && at && self && strcmp(self, jobid) == 0 && cstr_to_u64(aj, &x) && cstr_to_u64(at, &x) &&
        strlen(aj) < sizeof e->array_job && strlen(at) < sizeof e->array_task) {
        snprintf(e->array_job, sizeof e->array_job, "%s", aj);
        snprintf(e->array_task, sizeof e->array_task, "%s", at);
    }
    e->spooled_at = (int64_t)time(NULL);
}

/* The id sacct and sacctmgr must name: for an array task whose raw id is also the array's id,
 * "ARRAY_TASK", or the array's own record would be overwritten and `sacct -j` would list every task
 * (Princeton's slurmctldepilog.sh does the same); any other job by its raw id. */
static void db_jobid(const struct spool_entry *e, char *out, size_t outsz)
{
    if (e->array_job[0] && e->array_task[0] && strcmp(e->array_job, e->jobid) == 0)
        snprintf(out, outsz, "%s_%s", e->jobid, e->array_task);
    else
        snprintf(out, outsz, "%s", e->jobid);
}

static enum jt_err sacctmgr_set(const struct js_conf *conf, const char *dbid, const char *value, char *err,
                                size_t errsz)
{
    struct buf out, eout, arg;
    buf_init(&out, 1 << 16);
    buf_init(&eout, 1 << 16);
    buf_init(&arg, JS1_JSON_MAX);
    char where[96];
    snprintf(where, sizeof where, "jobid=%s", dbid);
    buf_printf(&arg, "AdminComment=%s", value);
    char *argv[] = {(char *)conf->sacctmgr, "-i", "modify", "job", "where", where, "set", (char *)buf_str(&arg), NULL};
    int st;
    enum jt_err rc = cmd_run(argv, conf->cmd_timeout, &out, &eout, &st);
    if (rc == JT_OK && st != 0) {
        const char *e = buf_str(&eout);
        size_t el = strcspn(e, "\n");
        if (el == 0)
            snprintf(err, errsz, "%s failed (exit %d) with no message", conf->sacctmgr, st);
        else
            snprintf(err, errsz, "%s failed (exit %d): %.*s", conf->sacctmgr, st, (int)(el > 300 ? 300 : el), e);
        rc = JT_ERR_IO;
    } else if (rc != JT_OK) {
        snprintf(err, errsz, "%s: %s", conf->sacctmgr, rc == JT_ERR_TIMEOUT ? "timed out" : "could not be run");
    }
    buf_free(&out);
    buf_free(&eout);
    buf_free(&arg);
    return rc;
}

/* Writes value and reads it back: JT_ERR_PARSE when the store changed it (lowercasing). */
static enum jt_err store_verified(const struct js_conf *conf, const char *dbid, const char *value,
                                  struct sacct_job *job, bool debug, char *err, size_t errsz)
{
    enum jt_err rc = sacctmgr_set(conf, dbid, value, err, errsz);
    if (rc != JT_OK)
        return rc;
    rc = jobstats_sacct(conf, dbid, NULL, job, debug, err, errsz);
    if (rc != JT_OK)
        return rc;
    if (strcmp(job->admin_comment, value) != 0) {
        snprintf(err, errsz, "AdminComment did not round-trip (stored as '%.24s...')", job->admin_comment);
        return JT_ERR_PARSE;
    }
    return JT_OK;
}

static bool mark_exists(const char *spool)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", spool, ENCODING_MARK);
    return access(p, F_OK) == 0;
}

/* mkdir -p: parents 0755 (like /var/spool), the spool itself 0750; each level must end up a real
 * directory, not a symlink someone planted. */
static enum jt_err mkdir_p(const char *path)
{
    char p[512];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof p || path[0] != '/')
        return JT_ERR_USAGE;
    memcpy(p, path, n + 1);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        bool leaf = i == n;
        if (mkdir(p, leaf ? 0750 : 0755) != 0 && errno != EEXIST) {
            p[i] = saved;
            return JT_ERR_IO;
        }
        struct stat sb;
        if (lstat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            p[i] = saved;
            errno = ENOTDIR;
            return JT_ERR_UNSAFE;
        }
        p[i] = saved;
    }
    return JT_OK;
}

static void mark_set(const char *spool)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", spool, ENCODING_MARK);
    if (mkdir_p(spool) != JT_OK) {
        log_warn("cannot create the spool directory %s: %s", spool, strerror(errno));
        return;
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd >= 0)
        close(fd);
}

/* Computes and stores one job's summary. JT_OK when stored; anything else is worth a retry. */
static enum jt_err store_job(const struct js_conf *conf, const struct summary_opts *o, const struct spool_entry *e,
                             char *err, size_t errsz)
{
    struct sacct_job *job = calloc(1, sizeof *job);
    struct buf comment;
    buf_init(&comment, JS1_JSON_MAX);
    json_t *summary = NULL;
    enum jt_err rc = JT_ERR_NOMEM;
    char dbid[80];
    db_jobid(e, dbid, sizeof dbid);
    if (!job)
        goto out;
    double wait_s = SETTLE_FIRST_WAIT_S;
    for (int q = 1;; q++) {
        rc = jobstats_sacct(conf, dbid, NULL, job, o->debug, err, errsz);
        if (rc != JT_OK || job->has_end)
            break;
        if (q == SETTLE_QUERIES) {
            snprintf(err, errsz, "slurmdbd has not recorded the end of job %s after %d queries", dbid, q);
            rc = JT_ERR_TIMEOUT;
            break;
        }
        usleep((useconds_t)(wait_s * 1e6));
        wait_s *= 2;
    }
    if (rc != JT_OK)
        goto out;
    if (!job->has_start) {
        snprintf(err, errsz, "job %s never started: nothing to store", dbid);
        log_info("%s", err);
        rc = JT_OK; /* nothing to retry either */
        goto out;
    }
    int64_t now = (int64_t)time(NULL), runtime;
    if (!jobstats_runtime(job, now, &runtime)) {
        jobstats_bad_times(job, err, errsz);
        log_warn("%s; no summary stored", err);
        rc = JT_OK; /* sacct's own data is broken: retrying cannot help */
        goto out;
    }
    bool is_short = (double)runtime < 2 * conf->sampling_period;
    if (!is_short) {
        rc = jobstats_collect(conf, job, now, o->debug, &summary, err, errsz);
        if (rc != JT_OK)
            goto out;
    }
    bool has_data = summary && json_object_size(json_object_get(summary, "nodes")) > 0;
    if (has_data) {
        /* A GPU job that just ended: its node records may still be on their way (the node epilogs run
         * beside this one). A spooled job's are long there, or will never be. */
        if (o->mode == MODE_STORE && job->gpus > 0 && o->records_dir && *o->records_dir) {
            size_t nodes = job->nnodes ? job->nnodes : 1;
            size_t have = records_wait(o->records_dir, e->jobid, nodes, RECORDS_WAIT_S);
            if (have < nodes)
                log_info("job %s: %zu of %zu node record(s) after %.0f s; storing without the others", dbid, have,
                         nodes, RECORDS_WAIT_S);
        }
        struct records_sum sum;
        size_t n = records_fold(o->records_dir, e->jobid, summary, &sum);
        if (n)
            log_info("job %s: exact accounting records of %zu node(s) folded in", dbid, n);
    }
    const char *word = is_short ? "Short" : "None";
    bool base32 = o->enc == ENC_JS1B32 || (o->enc == ENC_AUTO && mark_exists(conf->spool_dir));
    for (int attempt = 0; attempt < 2; attempt++) {
        buf_reset(&comment);
        if (has_data) {
            rc = js1_encode_comment(summary, base32 ? JS1_ENC_BASE32 : JS1_ENC_BASE64, &comment);
            /* Too large for the readers: the timelines are thinned (then dropped) until it fits. */
            while (rc == JT_OK && comment.len > SUMMARY_COMMENT_BUDGET && records_thin(summary)) {
                buf_reset(&comment);
                rc = js1_encode_comment(summary, base32 ? JS1_ENC_BASE32 : JS1_ENC_BASE64, &comment);
                log_info("job %s: summary over %u bytes: timelines thinned to %zu bytes", dbid,
                         SUMMARY_COMMENT_BUDGET, comment.len);
            }
        } else
            rc = buf_printf(&comment, "%s%s", base32 ? "js1b32:" : "JS1:", base32 ? (is_short ? "short" : "none") : word);
        if (rc != JT_OK)
            goto out;
        rc = store_verified(conf, dbid, buf_str(&comment), job, o->debug, err, errsz);
        if (rc != JT_ERR_PARSE || base32 || o->enc != ENC_AUTO)
            break;
        /* This Slurm changed the value (22.05 lowercases it): use the case-proof spelling from now on. */
        log_warn("job %s: %s; storing the js1b32 spelling instead", dbid, err);
        mark_set(conf->spool_dir);
        base32 = true;
    }
    if (rc == JT_OK)
        log_info("job %s: summary stored (%zu bytes, %s)", dbid, comment.len, base32 ? "js1b32" : "JS1");
out:
    json_decref(summary);
    buf_free(&comment);
    free(job);
    return rc;
}

/* Atomically creates <spool>/<jobid>: "jobid=", "array_job_id=", "array_task_id=", "spooled_at=" lines.
 * The parent directories are created on a fresh install. */
static enum jt_err spool_add(const char *spool, const struct spool_entry *e)
{
    char tmp[512], fin[512];
    enum jt_err rc = mkdir_p(spool);
    if (rc != JT_OK)
        return rc;
    snprintf(tmp, sizeof tmp, "%s/.tmp.%s.%ld", spool, e->jobid, (long)getpid());
    snprintf(fin, sizeof fin, "%s/%s", spool, e->jobid);
    char text[SPOOL_ENTRY_MAX];
    int n = snprintf(text, sizeof text, "jobid=%s\narray_job_id=%s\narray_task_id=%s\nspooled_at=%lld\n", e->jobid,
                     e->array_job, e->array_task, (long long)e->spooled_at);
    if (n < 0 || (size_t)n >= sizeof text)
        return JT_ERR_INTERNAL;
    rc = file_write_atomic(fin, tmp, text, (size_t)n, 0640);
    return rc == JT_OK ? JT_OK : JT_ERR_IO;
}

/* Reads <spool>/<name>. Old entries hold only the job id; their age is the file's mtime. JT_ERR_PARSE
 * for an entry that names another job or has bad ids (it is then dropped, with a log line). */
static enum jt_err spool_read(const char *spool, const char *name, struct spool_entry *e)
{
    char p[512], text[SPOOL_ENTRY_MAX];
    memset(e, 0, sizeof *e);
    snprintf(p, sizeof p, "%s/%s", spool, name);
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return JT_ERR_IO;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return JT_ERR_UNSAFE;
    }
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n < 0)
        return JT_ERR_IO;
    text[n] = '\0';
    e->spooled_at = (int64_t)sb.st_mtime;
    struct cursor c;
    const char *line;
    size_t len;
    cur_init(&c, text, (size_t)n);
    bool keyed = false;
    while (cur_line(&c, &line, &len)) {
        const char *eq = memchr(line, '=', len);
        if (!eq) {
            if (!keyed && !e->jobid[0] && !str_copy(e->jobid, sizeof e->jobid, line, len))
                return JT_ERR_PARSE;
            continue;
        }
        keyed = true;
        size_t kl = (size_t)(eq - line), vl = len - kl - 1;
        const char *v = eq + 1;
        int64_t t;
        bool ok = true;
        if (kl == 5 && memcmp(line, "jobid", 5) == 0)
            ok = str_copy(e->jobid, sizeof e->jobid, v, vl);
        else if (kl == 12 && memcmp(line, "array_job_id", 12) == 0)
            ok = str_copy(e->array_job, sizeof e->array_job, v, vl);
        else if (kl == 13 && memcmp(line, "array_task_id", 13) == 0)
            ok = str_copy(e->array_task, sizeof e->array_task, v, vl);
        else if (kl == 10 && memcmp(line, "spooled_at", 10) == 0 && str_to_i64(v, vl, &t) && t > 0)
            e->spooled_at = t;
        if (!ok)
            return JT_ERR_PARSE;
    }
    uint64_t x;
    if (strcmp(e->jobid, name) != 0 || (e->array_job[0] && !cstr_to_u64(e->array_job, &x)) ||
        (e->array_task[0] && !cstr_to_u64(e->array_task, &x)))
        return JT_ERR_PARSE;
    return JT_OK;
}

static int retry_spool(const struct js_conf *conf, const struct summary_opts *o)
{
    DIR *d = opendir(conf->spool_dir);
    if (!d) {
        if (errno == ENOENT)
            return CLI_EXIT_OK; /* nothing was ever spooled */
        log_error("cannot open the spool directory %s: %s", conf->spool_dir, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    int rc = CLI_EXIT_OK;
    unsigned stored = 0, left = 0, dropped = 0;
    int64_t now = (int64_t)time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!jobstats_valid_jobid(de->d_name))
            continue; /* ".", "..", the encoding mark, temporary files: none starts with a digit */
        char err[1024] = "", p[512];
        snprintf(p, sizeof p, "%s/%s", conf->spool_dir, de->d_name);
        struct spool_entry e;
        enum jt_err r = spool_read(conf->spool_dir, de->d_name, &e);
        if (r == JT_ERR_IO) {
            log_warn("job %s: cannot read the spool entry %s: %s; left for the next run", de->d_name, p, strerror(errno));
            left++;
            rc = CLI_EXIT_FAILURE;
            continue;
        }
        if (r != JT_OK) {
            log_warn("job %s: spool entry %s is malformed or not a regular file (%s); dropped", de->d_name, p,
                     jt_strerror(r));
            unlink(p);
            dropped++;
            continue;
        }
        if (now - e.spooled_at > o->spool_max_age) {
            log_warn("job %s: spooled %lld s ago, longer than --spool-max-age %lld s; dropped without a summary",
                     e.jobid, (long long)(now - e.spooled_at), (long long)o->spool_max_age);
            unlink(p);
            dropped++;
            continue;
        }
        if (store_job(conf, o, &e, err, sizeof err) == JT_OK) {
            unlink(p);
            stored++;
        } else {
            log_warn("job %s: still not stored: %s", de->d_name, err);
            left++;
            rc = CLI_EXIT_FAILURE;
        }
    }
    closedir(d);
    log_info("spool %s: %u stored, %u left, %u dropped", conf->spool_dir, stored, left, dropped);
    return rc;
}

int cmd_summary(int argc, char **argv)
{
    struct summary_opts o;
    struct js_conf *conf = NULL;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0) {
        rc = rc < 0 ? CLI_EXIT_OK : rc;
        goto out;
    }
    log_setup(o.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO, "jobtel-summary", true);
    conf = calloc(1, sizeof *conf);
    if (!conf) {
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    rc = jobstats_load_conf(conf, o.config, o.prom_url, "jobtel summary");
    if (rc != 0)
        goto out;
    if (o.spool_dir && (o.spool_dir[0] != '/' || !str_copy(conf->spool_dir, sizeof conf->spool_dir, o.spool_dir, strlen(o.spool_dir)))) {
        fprintf(stderr, "jobtel summary: --spool-dir must be an absolute path\n");
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (o.mode == MODE_RETRY) {
        rc = retry_spool(conf, &o);
        goto out;
    }
    if (!jobstats_valid_jobid(o.jobid)) {
        fprintf(stderr, "jobtel summary: '%s' is not a job id\n", o.jobid);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    char err[1024] = "";
    struct spool_entry e;
    entry_from_env(o.jobid, &e);
    if (store_job(conf, &o, &e, err, sizeof err) == JT_OK) {
        rc = CLI_EXIT_OK;
        goto out;
    }
    if (spool_add(conf->spool_dir, &e) == JT_OK) {
        log_warn("job %s: summary not stored (%s); spooled in %s for --retry-spool", o.jobid, err, conf->spool_dir);
        rc = CLI_EXIT_OK;
    } else {
        log_error("job %s: summary not stored (%s) and could not be spooled in %s: %s", o.jobid, err,
                  conf->spool_dir, strerror(errno));
        rc = CLI_EXIT_FAILURE;
    }
out:
    if (conf)
        js_conf_free(conf);
    free(conf);
    return rc;
}
