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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "jobstats/cmd_run.h"
#include "jobstats/jobstats.h"
#include "jobstats/js1.h"
#include "common/log.h"
#include "common/strparse.h"

#define ENCODING_MARK ".encoding-js1b32" /* in the spool dir: this Slurm lowercases AdminComment */
#define SACCT_SETTLE_S 10.0               /* how long to wait for slurmdbd to record the job's end */

enum summary_mode { MODE_NONE, MODE_STORE, MODE_RETRY };
enum enc_choice { ENC_AUTO, ENC_JS1, ENC_JS1B32 };

struct summary_opts {
    enum summary_mode mode;
    const char *jobid;
    const char *config, *prom_url, *spool_dir;
    enum enc_choice enc;
    bool debug;
};

static void summary_usage(FILE *out)
{
    fprintf(out,
            "Usage: jobtel summary --store JOBID [options]\n"
            "       jobtel summary --retry-spool [options]\n\n"
            "Stores a finished job's summary (the data of `jobstats -b`) in its AdminComment, so the\n"
            "report still works after Prometheus has dropped the data. Run --store from slurmctld's\n"
            "EpilogSlurmctld; run --retry-spool from a timer. A job that cannot be stored now (Prometheus\n"
            "or slurmdbd down) is spooled and stored by the next --retry-spool.\n\n"
            "Options:\n"
            "  --config FILE          config file (default " JS_CONF_DEFAULT_PATH ")\n"
            "  --prometheus URL       Prometheus base URL (overrides the config file)\n"
            "  --spool-dir DIR        spool directory (default: spool_dir in the config,\n"
            "                         /var/spool/jobtel/summaries)\n"
            "  --encoding auto|js1|js1b32  auto (default): JS1 base64, js1b32 where Slurm lowercases\n"
            "  -d, --debug            debug output\n"
            "  -h, --help             this help\n\n"
            "Exit codes: 0 stored (or spooled, with --store), 1 failure (--retry-spool: some jobs are\n"
            "still spooled), 2 usage error.\n");
}

static int parse_opts(int argc, char **argv, struct summary_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (strcmp(a, "--store") == 0) {
            o->mode = MODE_STORE;
            val = &o->jobid;
        } else if (strcmp(a, "--retry-spool") == 0) {
            o->mode = MODE_RETRY;
        } else if (strcmp(a, "--config") == 0) {
            val = &o->config;
        } else if (strcmp(a, "--prometheus") == 0) {
            val = &o->prom_url;
        } else if (strcmp(a, "--spool-dir") == 0) {
            val = &o->spool_dir;
        } else if (strcmp(a, "--encoding") == 0) {
            if (i + 1 >= argc)
                goto missing;
            const char *e = argv[++i];
            if (strcmp(e, "auto") == 0) o->enc = ENC_AUTO;
            else if (strcmp(e, "js1") == 0) o->enc = ENC_JS1;
            else if (strcmp(e, "js1b32") == 0) o->enc = ENC_JS1B32;
            else {
                fprintf(stderr, "jobtel summary: --encoding is auto, js1 or js1b32\n");
                return CLI_EXIT_USAGE;
            }
        } else if (strcmp(a, "-d") == 0 || strcmp(a, "--debug") == 0) {
            o->debug = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            summary_usage(stdout);
            return -1;
        } else {
            fprintf(stderr, "jobtel summary: unknown argument '%s'\n", a);
            return CLI_EXIT_USAGE;
        }
        if (val) {
            if (i + 1 >= argc)
                goto missing;
            *val = argv[++i];
        }
    }
    if (o->mode == MODE_NONE) {
        summary_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return 0;
missing:
    fprintf(stderr, "jobtel summary: %s needs a value\n", argv[argc - 1]);
    return CLI_EXIT_USAGE;
}

/* The id sacctmgr must name: for an array task whose id is also the array's id, "ARRAY_TASK", or the
 * array's own record would be overwritten (Princeton's slurmctldepilog.sh does the same). */
static void db_jobid(const char *jobid, char *out, size_t outsz)
{
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID");
    const char *self = getenv("SLURM_JOB_ID");
    uint64_t x;
    if (aj && at && self && strcmp(aj, jobid) == 0 && strcmp(self, jobid) == 0 && cstr_to_u64(at, &x))
        snprintf(out, outsz, "%s_%s", jobid, at);
    else
        snprintf(out, outsz, "%s", jobid);
}

static enum jt_err sacctmgr_set(const struct js_conf *conf, const char *jobid, const char *value, char *err,
                                size_t errsz)
{
    struct buf out, eout, arg;
    buf_init(&out, 1 << 16);
    buf_init(&eout, 1 << 16);
    buf_init(&arg, JS1_JSON_MAX);
    char where[64];
    char dbid[48];
    db_jobid(jobid, dbid, sizeof dbid);
    snprintf(where, sizeof where, "jobid=%s", dbid);
    buf_printf(&arg, "AdminComment=%s", value);
    char *argv[] = {(char *)conf->sacctmgr, "-i", "modify", "job", "where", where, "set", (char *)buf_str(&arg), NULL};
    int st;
    enum jt_err rc = cmd_run(argv, conf->cmd_timeout, &out, &eout, &st);
    if (rc == JT_OK && st != 0) {
        const char *e = buf_str(&eout);
        snprintf(err, errsz, "%s failed (exit %d): %.*s", conf->sacctmgr, st, (int)strcspn(e, "\n"), e);
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
static enum jt_err store_verified(const struct js_conf *conf, const char *jobid, const char *value,
                                  struct sacct_job *job, bool debug, char *err, size_t errsz)
{
    enum jt_err rc = sacctmgr_set(conf, jobid, value, err, errsz);
    if (rc != JT_OK)
        return rc;
    rc = jobstats_sacct(conf, jobid, NULL, job, debug, err, errsz);
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

static void mark_set(const char *spool)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", spool, ENCODING_MARK);
    mkdir(spool, 0750);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd >= 0)
        close(fd);
}

/* Computes and stores one job's summary. JT_OK when stored; anything else is worth a retry. */
static enum jt_err store_job(const struct js_conf *conf, const struct summary_opts *o, const char *jobid, char *err,
                             size_t errsz)
{
    struct sacct_job *job = calloc(1, sizeof *job);
    struct buf comment;
    buf_init(&comment, JS1_JSON_MAX);
    json_t *summary = NULL;
    enum jt_err rc = JT_ERR_NOMEM;
    if (!job)
        goto out;
    /* slurmdbd may record the end a moment after the epilog starts. */
    double deadline = mono_now() + SACCT_SETTLE_S;
    for (;;) {
        rc = jobstats_sacct(conf, jobid, NULL, job, o->debug, err, errsz);
        if (rc != JT_OK || job->has_end || mono_now() > deadline)
            break;
        usleep(500 * 1000);
    }
    if (rc != JT_OK)
        goto out;
    if (!job->has_start) {
        snprintf(err, errsz, "job %s never started: nothing to store", jobid);
        rc = JT_OK; /* nothing to retry either */
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    bool is_short = (double)jobstats_runtime(job, now) < 2 * conf->sampling_period;
    if (!is_short) {
        rc = jobstats_collect(conf, job, now, o->debug, &summary, err, errsz);
        if (rc != JT_OK)
            goto out;
    }
    bool has_data = summary && json_object_size(json_object_get(summary, "nodes")) > 0;
    const char *word = is_short ? "Short" : "None";
    bool base32 = o->enc == ENC_JS1B32 || (o->enc == ENC_AUTO && mark_exists(conf->spool_dir));
    for (int attempt = 0; attempt < 2; attempt++) {
        buf_reset(&comment);
        if (has_data)
            rc = js1_encode_comment(summary, base32 ? JS1_ENC_BASE32 : JS1_ENC_BASE64, &comment);
        else
            rc = buf_printf(&comment, "%s%s", base32 ? "js1b32:" : "JS1:", base32 ? (is_short ? "short" : "none") : word);
        if (rc != JT_OK)
            goto out;
        rc = store_verified(conf, jobid, buf_str(&comment), job, o->debug, err, errsz);
        if (rc != JT_ERR_PARSE || base32 || o->enc != ENC_AUTO)
            break;
        /* This Slurm changed the value (22.05 lowercases it): use the case-proof spelling from now on. */
        log_warn("job %s: %s; storing the js1b32 spelling instead", jobid, err);
        mark_set(conf->spool_dir);
        base32 = true;
    }
    if (rc == JT_OK)
        log_info("job %s: summary stored (%zu bytes, %s)", jobid, comment.len, base32 ? "js1b32" : "JS1");
out:
    json_decref(summary);
    buf_free(&comment);
    free(job);
    return rc;
}

/* Atomically creates <spool>/<jobid> (content: the id). */
static enum jt_err spool_add(const char *spool, const char *jobid)
{
    char tmp[512], fin[512];
    if (mkdir(spool, 0750) != 0 && errno != EEXIST)
        return JT_ERR_IO;
    snprintf(tmp, sizeof tmp, "%s/.tmp.%s.%ld", spool, jobid, (long)getpid());
    snprintf(fin, sizeof fin, "%s/%s", spool, jobid);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return JT_ERR_IO;
    size_t n = strlen(jobid);
    bool ok = write(fd, jobid, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, fin) != 0) {
        unlink(tmp);
        return JT_ERR_IO;
    }
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
    unsigned stored = 0, left = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!jobstats_valid_jobid(de->d_name))
            continue; /* ".", "..", the encoding mark, temporary files: none starts with a digit */
        char err[1024] = "";
        if (store_job(conf, o, de->d_name, err, sizeof err) == JT_OK) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", conf->spool_dir, de->d_name);
            unlink(p);
            stored++;
        } else {
            log_warn("job %s: still not stored: %s", de->d_name, err);
            left++;
            rc = CLI_EXIT_FAILURE;
        }
    }
    closedir(d);
    log_info("spool %s: %u stored, %u left", conf->spool_dir, stored, left);
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
    if (store_job(conf, &o, o.jobid, err, sizeof err) == JT_OK) {
        rc = CLI_EXIT_OK;
        goto out;
    }
    if (spool_add(conf->spool_dir, o.jobid) == JT_OK) {
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
