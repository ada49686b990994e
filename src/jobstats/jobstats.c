/* jobstats.c - `jobstats JOBID...` / `jobtel stats`: the job efficiency report from sacct + Prometheus.
 *
 * The flow is Princeton's (jobstats.md §1): sacct gives the job's metadata; a summary stored in
 * AdminComment is used when there is one (so finished jobs report without Prometheus); otherwise
 * seven instant queries over the job's run time fill the same summary JSON. The report, -j and -b are
 * three views of that JSON. Each outside call has a deadline and fails with a message naming what
 * failed (the sacct path, the Prometheus URL), since users see these messages on login nodes.
 */
#include "jobstats/jobstats.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/args.h"
#include "common/cli.h"
#include "common/cmd_run.h"
#include "jobstats/exact.h"
#include "jobstats/html.h"
#include "jobstats/http_get.h"
#include "jobstats/jobstats_fmt.h"
#include "jobstats/js1.h"
#include "jobstats/promq.h"
#include "jobstats/report.h"
#include "jobstats/timeline.h"
#include "common/log.h"
#include "common/strparse.h"

#define SACCT_OUT_MAX (1u << 20)
#define PROM_ANSWER_MAX (16u << 20)

static void debug_line(bool debug, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void debug_line(bool debug, const char *fmt, ...)
{
    if (!debug)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("DEBUG: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool jobstats_valid_jobid(const char *s)
{
    if (s[0] < '0' || s[0] > '9' || strlen(s) > 30)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == '_' || *s == '.'))
            return false;
    return true;
}

bool jobstats_runtime(const struct sacct_job *job, int64_t now, int64_t *diff)
{
    *diff = 0;
    if (!job->has_start)
        return true;
    int64_t end = job->has_end ? job->end : now;
    if (job->start < 0 || job->start > JOBSTATS_EPOCH_MAX || end < 0 || end > JOBSTATS_EPOCH_MAX)
        return false;
    int64_t d;
    if (__builtin_sub_overflow(end, job->start, &d))
        return false;
    *diff = d > 0 ? d : 0;
    return true;
}

void jobstats_bad_times(const struct sacct_job *job, char *err, size_t errsz)
{
    char e[32] = "running";
    if (job->has_end)
        snprintf(e, sizeof e, "%lld", (long long)job->end);
    snprintf(err, errsz, "job %s: sacct gives impossible times (start %lld, end %s): no report", job->jobid,
             (long long)job->start, e);
}

/* Sets err to the generic message for rc when a failing path left it empty, so no caller ever prints
 * an unset buffer. */
static enum jt_err err_fallback(enum jt_err rc, char *err, size_t errsz)
{
    if (rc != JT_OK && errsz > 0 && err[0] == '\0')
        snprintf(err, errsz, "%s", jt_strerror(rc));
    return rc;
}

/* The end of the sacct error message: what the program said, or why its output was refused. */
static void cmd_failure(char *err, size_t errsz, const char *prog, int st, const struct buf *out,
                        const struct buf *eout)
{
    if (out->err == JT_ERR_LIMIT) {
        snprintf(err, errsz, "%s: its output is larger than the %zu-byte cap (exit %d); the answer was not used",
                 prog, out->max, st);
        return;
    }
    const char *e = buf_str(eout);
    size_t el = strcspn(e, "\n");
    if (out->err != JT_OK)
        snprintf(err, errsz, "%s: its output could not be kept (%s)", prog, jt_strerror(out->err));
    else if (el == 0)
        snprintf(err, errsz, "%s failed (exit %d) with no message", prog, st);
    else
        snprintf(err, errsz, "%s failed (exit %d): %.*s", prog, st, (int)(el > 300 ? 300 : el), e);
}

/* Slurm >= 26.05 has SLUIDs: Princeton asks `sacct -V` and compares the major version with 25. A sacct
 * that fails or prints something else is taken as older. */
static bool sacct_version_has_sluid(const struct cmd *v, bool debug)
{
    unsigned major = 0;
    bool yes = v->rc == JT_OK && v->exit_status == 0 && sacct_version_major(buf_str(v->out), &major) && major > 25;
    debug_line(debug, "sacct -V: %.80s -> %s", buf_str(v->out), yes ? "SLUID" : "no SLUID");
    return yes;
}

/* Runs the job's sacct query (argv, its field list at argv[fields_at]) into *q. With sluid = auto,
 * `sacct -V` runs beside the query without SLUIDs, whose answer is kept unless the version has them
 * (Slurm >= 26.05: the query is asked again with them): on today's Slurm one round of processes. */
static bool sacct_query(const struct js_conf *conf, char **argv, int fields_at, struct cmd *q, bool debug)
{
    bool with_sluid = conf->sluid == JS_SLUID_YES;
    argv[fields_at] = with_sluid ? SACCT_FIELDS_SLUID : SACCT_FIELDS;
    if (conf->sluid != JS_SLUID_AUTO) {
        cmd_run_many(1, q, conf->cmd_timeout);
        return with_sluid;
    }
    struct buf vout, veout;
    buf_init(&vout, 4096);
    buf_init(&veout, 4096);
    char *vargv[] = {(char *)conf->sacct, "-V", NULL};
    struct cmd both[2] = {*q, {vargv, &vout, &veout, -1, JT_OK}};
    cmd_run_many(2, both, conf->cmd_timeout);
    *q = both[0];
    with_sluid = sacct_version_has_sluid(&both[1], debug);
    buf_free(&vout);
    buf_free(&veout);
    if (with_sluid) {
        argv[fields_at] = SACCT_FIELDS_SLUID;
        buf_reset(q->out);
        buf_reset(q->errout);
        cmd_run_many(1, q, conf->cmd_timeout);
    }
    return with_sluid;
}

enum jt_err jobstats_sacct(const struct js_conf *conf, const char *jobid, const char *cluster_opt,
                           struct sacct_job *job, bool debug, char *err, size_t errsz)
{
    struct buf out, eout;
    buf_init(&out, SACCT_OUT_MAX);
    buf_init(&eout, 64 * 1024);
    enum jt_err rc;
    if (errsz > 0)
        err[0] = '\0';
    if (!jobstats_valid_jobid(jobid)) {
        snprintf(err, errsz, "'%.40s' is not a job id", jobid);
        return JT_ERR_USAGE;
    }
    char *argv[12];
    int a = 0;
    argv[a++] = (char *)conf->sacct;
    argv[a++] = "-P";
    argv[a++] = "-X";
    argv[a++] = "-n";
    argv[a++] = "-o";
    int fields_at = a;
    argv[a++] = SACCT_FIELDS;
    argv[a++] = "-j";
    argv[a++] = (char *)jobid;
    if (cluster_opt && cluster_opt[0]) {
        argv[a++] = "-M";
        argv[a++] = (char *)cluster_opt;
    }
    argv[a] = NULL;
    setenv("SLURM_TIME_FORMAT", "%s", 1);
    struct cmd q = {argv, &out, &eout, -1, JT_OK};
    bool with_sluid = sacct_query(conf, argv, fields_at, &q, debug);
    int st = q.exit_status;
    rc = q.rc;
    if (rc != JT_OK) {
        snprintf(err, errsz, "%s: %s", conf->sacct,
                 rc == JT_ERR_TIMEOUT ? "did not answer in time (is slurmdbd up?)" : "could not be run");
        goto out;
    }
    debug_line(debug, "sacct exit %d, output: %.2000s", st, buf_str(&out));
    if (st != 0 || out.err != JT_OK) {
        cmd_failure(err, errsz, conf->sacct, st, &out, &eout);
        rc = out.err == JT_ERR_LIMIT ? JT_ERR_LIMIT : JT_ERR_IO;
        goto out;
    }
    struct cursor c;
    const char *line;
    size_t len;
    cur_init(&c, buf_str(&out), out.len);
    rc = JT_ERR_NOT_FOUND;
    /* `sacct -j ID` of an array job lists every task: the line whose JobIDRaw is ID is the job asked
     * for; otherwise (ID_TASK, a heterogeneous job) the first line. */
    bool found = false;
    struct sacct_job *cand = calloc(1, sizeof *cand);
    if (!cand) {
        rc = JT_ERR_NOMEM;
        goto out;
    }
    while (cur_line(&c, &line, &len)) {
        if (len == 0)
            continue;
        enum jt_err prc = sacct_parse_line_ex(line, len, with_sluid, cand);
        if (prc != JT_OK) {
            char raw[201], shown[201]; /* the line holds a user's job name: no escapes to the terminal */
            str_copy(raw, sizeof raw, line, len > 200 ? 200 : len);
            fmt_clean(shown, sizeof shown, raw, false);
            snprintf(err, errsz, "cannot parse the sacct output line '%s'", shown);
            rc = prc;
            break;
        }
        bool exact = strcmp(cand->jobid, jobid) == 0;
        if (!found || exact)
            *job = *cand;
        found = true;
        rc = JT_OK;
        if (exact)
            break;
    }
    free(cand);
    if (rc != JT_OK && rc != JT_ERR_NOT_FOUND)
        goto out;
    if (rc == JT_ERR_NOT_FOUND)
        snprintf(err, errsz, "Failed to lookup job %s: sacct knows no such job%s", jobid,
                 cluster_opt && cluster_opt[0] ? " on that cluster" : " (for another cluster use -c, e.g. $ jobstats 1234567 -c NAME)");
out:
    buf_free(&out);
    buf_free(&eout);
    return err_fallback(rc, err, errsz);
}

/* The Prometheus queries of one report, sent at once (see http_get_all). */
#define BATCH_MAX (PQ_COUNT + 3)
struct query_batch {
    struct buf qurl[BATCH_MAX], answer[BATCH_MAX];
    struct http_request reqs[BATCH_MAX];
    size_t n;
};

static void batch_init(struct query_batch *b)
{
    b->n = 0;
    for (size_t k = 0; k < BATCH_MAX; k++) {
        buf_init(&b->qurl[k], 1u << 20);
        buf_init(&b->answer[k], PROM_ANSWER_MAX);
    }
}

static void batch_free(struct query_batch *b)
{
    for (size_t k = 0; k < BATCH_MAX; k++) {
        buf_free(&b->qurl[k]);
        buf_free(&b->answer[k]);
    }
}

/* step: the resolution of the `[D:]` subqueries. Prometheus ignores it on an instant query and uses its
 * evaluation_interval; VictoriaMetrics (single-node and vmselect) takes it, 5m when absent, which
 * misses a one-sample memory peak and skews a mean (docs/scaling.md, MetricsQL differences). */
static enum jt_err batch_add(struct query_batch *b, const char *url, const char *query, const char *time_s,
                             double step_s, bool debug)
{
    if (b->n == BATCH_MAX)
        return JT_ERR_INTERNAL;
    char step[32];
    snprintf(step, sizeof step, "%gs", step_s);
    struct http_param p[3] = {{"query", query}, {"time", time_s}, {"step", step}};
    debug_line(debug, "query: %s time=%s step=%s", query, time_s, step);
    enum jt_err rc = http_build_url(url, p, 3, &b->qurl[b->n]);
    if (rc != JT_OK)
        return rc;
    b->reqs[b->n] = (struct http_request){buf_str(&b->qurl[b->n]), &b->answer[b->n], JT_OK, 0, ""};
    b->n++;
    return JT_OK;
}

/* Sends the batch; the first request that failed (transport or HTTP status) is the one reported. */
static enum jt_err batch_run(struct query_batch *b, const struct js_conf *conf, bool debug, char *err, size_t errsz)
{
    enum jt_err rc = http_get_all(b->reqs, b->n, conf->connect_timeout, conf->timeout);
    if (rc != JT_OK) {
        snprintf(err, errsz, "Prometheus at %s: the requests could not be set up (%s)", conf->prom_url, jt_strerror(rc));
        return rc;
    }
    for (size_t k = 0; k < b->n; k++) {
        if (b->reqs[k].rc != JT_OK) {
            snprintf(err, errsz, "Prometheus at %s: %s", conf->prom_url, b->reqs[k].err);
            return b->reqs[k].rc;
        }
        debug_line(debug, "answer (HTTP %ld): %.2000s", b->reqs[k].status, buf_str(&b->answer[k]));
        if (b->reqs[k].status != 200) {
            char why[512] = "";
            /* An error answer's own message says more than its status (e.g. a bad query). */
            if (promq_parse_count(buf_str(&b->answer[k]), b->answer[k].len, &(double){0}, why, sizeof why) != JT_OK)
                snprintf(err, errsz, "Prometheus at %s (HTTP %ld): %s", conf->prom_url, b->reqs[k].status, why);
            else
                snprintf(err, errsz, "Prometheus at %s answered HTTP %ld", conf->prom_url, b->reqs[k].status);
            return JT_ERR_IO;
        }
    }
    return JT_OK;
}

/* What one round of queries needs: the job, where to ask, and which of Princeton's keys. */
struct round {
    const struct js_conf *conf;
    const struct sacct_job *job;
    const char *url, *cluster, *tbuf;
    int64_t range;
    bool debug;
    json_t *root, *nodes;
};

static bool is_cgroup_key(const char *key)
{
    for (int k = 0; k <= PQ_CPUS; k++)
        if (strcmp(key, promq_key_name((enum promq_key)k)) == 0)
            return true;
    return false;
}

/* Whether the cgroup keys read from the last exact_window seconds stand for the whole run: jobtel's
 * memory peak answered for at least every node sacct gives the job, and every node with a cgroup key
 * has it. CPU seconds only grow, and a job's CPU count and memory limit do not change while it runs, so
 * their last values are their maxima over the run; the peak is the largest RSS + shmem of any
 * collection. A node whose exporter stopped before the window, or a site without jobtel's accounting,
 * fails this, and the caller asks Princeton's queries over the whole run. */
static bool cgroup_keys_recent_ok(json_t *nodes, uint32_t nnodes)
{
    size_t with_peak = 0;
    const char *host;
    json_t *n;
    json_object_foreach(nodes, host, n) {
        bool any = false;
        for (int k = 0; k <= PQ_CPUS; k++)
            any = any || json_object_get(n, promq_key_name((enum promq_key)k));
        if (!any)
            continue;
        if (!json_object_get(n, promq_key_name(PQ_USED_MEMORY)))
            return false;
        with_peak++;
    }
    return with_peak > 0 && with_peak >= nnodes;
}

/* Removes the cgroup keys from every node (before they are asked again over the whole run), and nodes
 * left empty. */
static void drop_cgroup_keys(json_t *nodes)
{
    const char *host, *key;
    json_t *n, *v;
    void *t1, *t2;
    json_object_foreach_safe(nodes, t1, host, n) {
        json_object_foreach_safe(n, t2, key, v) {
            if (is_cgroup_key(key))
                json_object_del(n, key);
        }
        if (json_object_size(n) == 0)
            json_object_del(nodes, host);
    }
}

/* One round of queries sent at once: Princeton's keys [k_from, k_to) and, with exact, the exact totals
 * and the GPU inventory over the last exact_window seconds (exact.h). *gpu_keys_done says whether the exact totals filled Princeton's GPU
 * keys (so no second round is needed). With exact and the cgroup keys in the round, those are asked over
 * the same last exact_window seconds, used memory from jobtel's memory peak; *cgroup_done says whether
 * that stands for the whole run (cgroup_keys_recent_ok), else they are left out of the nodes and must be
 * asked again over the run. */
static enum jt_err query_round(const struct round *r, int k_from, int k_to, int64_t exact_window, bool *gpu_keys_done,
                               bool *incomplete, bool *cgroup_done, char *err, size_t errsz)
{
    bool exact = exact_window > 0;
    const struct js_conf *conf = r->conf;
    enum jt_err rc = JT_OK;
    struct buf q;
    buf_init(&q, 64 * 1024);
    *gpu_keys_done = *incomplete = false;
    bool recent_cg = exact && k_from == 0 && k_to > PQ_CPUS;
    *cgroup_done = !recent_cg;
    /* With fast_queries, GPU utilization is first asked without Princeton's `or (graphics_util_percent
     * * 100)` branch, which costs Prometheus most of a report's work at every subquery step, together
     * with a cheap probe for any graphics_util_percent sample of the job. Only when the probe finds
     * one is Princeton's full expression asked (a second round trip, MIG/GPM jobs only); when it finds
     * none, the `or` adds nothing at any step, so the answer is the same series with the same values. */
    bool probe = k_to > PQ_GPU_UTILIZATION && conf->fast_queries;
    /* With fast_queries, used memory is asked as two queries without Princeton's `or`, whose larger value
     * per series is Princeton's answer (promq_build_used_memory_part); the second is sent last. */
    bool split = conf->fast_queries && !recent_cg && k_from <= PQ_USED_MEMORY && PQ_USED_MEMORY < k_to;
    struct query_batch b;
    batch_init(&b);
    for (int k = k_from; k < k_to && rc == JT_OK; k++) {
        buf_reset(&q);
        if (probe && k == PQ_GPU_UTILIZATION)
            rc = promq_build_util_fast(r->cluster, r->job->jobid, r->range, &q);
        else if (recent_cg && k == PQ_USED_MEMORY)
            rc = promq_build_mem_peak(r->cluster, r->job->jobid, r->job->sluid, exact_window, &q);
        else if (recent_cg && k <= PQ_CPUS)
            rc = promq_build_job((enum promq_key)k, r->cluster, r->job->jobid, r->job->sluid, exact_window, &q);
        else if (split && k == PQ_USED_MEMORY)
            rc = promq_build_used_memory_part(0, r->cluster, r->job->jobid, r->job->sluid, r->range, &q);
        else
            rc = promq_build_job((enum promq_key)k, r->cluster, r->job->jobid, r->job->sluid, r->range, &q);
        if (rc == JT_OK)
            rc = batch_add(&b, r->url, buf_str(&q), r->tbuf, r->conf->sampling_period, r->debug);
    }
    size_t ex_at = b.n;
    if (rc == JT_OK && exact) {
        buf_reset(&q);
        rc = exact_build_totals(r->cluster, r->job->jobid, exact_window, &q);
        if (rc == JT_OK)
            rc = batch_add(&b, r->url, buf_str(&q), r->tbuf, r->conf->sampling_period, r->debug);
        buf_reset(&q);
        if (rc == JT_OK)
            rc = exact_build_inventory(r->cluster, r->job->jobid, exact_window, &q);
        if (rc == JT_OK)
            rc = batch_add(&b, r->url, buf_str(&q), r->tbuf, r->conf->sampling_period, r->debug);
    }
    size_t probe_at = b.n;
    if (rc == JT_OK && probe) {
        buf_reset(&q);
        rc = promq_build_gpm_probe(r->cluster, r->job->jobid, r->range, &q);
        if (rc == JT_OK)
            rc = batch_add(&b, r->url, buf_str(&q), r->tbuf, r->conf->sampling_period, r->debug);
    }
    size_t mem_at = b.n;
    if (rc == JT_OK && split) {
        buf_reset(&q);
        rc = promq_build_used_memory_part(1, r->cluster, r->job->jobid, r->job->sluid, r->range, &q);
        if (rc == JT_OK)
            rc = batch_add(&b, r->url, buf_str(&q), r->tbuf, r->conf->sampling_period, r->debug);
    }
    if (rc != JT_OK)
        snprintf(err, errsz, "cannot build the queries for job %s (cluster '%s', %s)", r->job->jobid, r->cluster,
                 conf->prom_url);
    if (rc == JT_OK)
        rc = batch_run(&b, conf, r->debug, err, errsz);
    bool gpm = false;
    if (rc == JT_OK && probe) {
        char why[512] = "";
        double n = 0;
        const struct buf *a = &b.answer[probe_at];
        rc = promq_parse_count(buf_str(a), a->len, &n, why, sizeof why);
        if (rc != JT_OK)
            snprintf(err, errsz, "Prometheus at %s: %s", conf->prom_url, why);
        gpm = n > 0;
        debug_line(r->debug, "graphics_util_percent samples: %s", gpm ? "yes, full query" : "none");
    }
    bool mem_again = false;
    for (int k = k_from; k < k_to && rc == JT_OK; k++) {
        if (gpm && k == PQ_GPU_UTILIZATION)
            continue;
        char why[512] = "";
        size_t i = (size_t)(k - k_from);
        if (split && k == PQ_USED_MEMORY) {
            rc = promq_parse_used_memory_parts(buf_str(&b.answer[i]), b.answer[i].len, buf_str(&b.answer[mem_at]),
                                               b.answer[mem_at].len, r->nodes, &mem_again, why, sizeof why);
            debug_line(r->debug, "used memory: %s", mem_again ? "two series on one node, Princeton's query" : "two parts merged");
        } else {
            rc = promq_parse_answer((enum promq_key)k, buf_str(&b.answer[i]), b.answer[i].len, r->nodes, why, sizeof why);
        }
        if (rc != JT_OK)
            snprintf(err, errsz, "Prometheus at %s (HTTP %ld): %s", conf->prom_url, b.reqs[i].status, why);
    }
    if (rc == JT_OK && recent_cg) {
        *cgroup_done = cgroup_keys_recent_ok(r->nodes, r->job->nnodes);
        debug_line(r->debug, "cgroup keys: %s", *cgroup_done ? "from the last window, jobtel's memory peak on every node"
                                                              : "no jobtel memory peak on some node; Princeton's queries over the run");
        if (!*cgroup_done)
            drop_cgroup_keys(r->nodes);
    }
    if (rc == JT_OK && exact) {
        char why[512] = "";
        /* Over a window shorter than the run, the inventory must list every GPU sacct gave the job. */
        size_t want = exact_window < r->range ? r->job->gpus : 0;
        rc = exact_fold(buf_str(&b.answer[ex_at]), b.answer[ex_at].len, buf_str(&b.answer[ex_at + 1]),
                        b.answer[ex_at + 1].len, want, r->root, gpu_keys_done, incomplete, why, sizeof why);
        if (rc != JT_OK)
            snprintf(err, errsz, "Prometheus at %s: %s", conf->prom_url, why);
        debug_line(r->debug, "exact counters: %s", *gpu_keys_done ? "every GPU, Princeton's GPU queries not needed"
                                                   : json_object_get(r->root, "jobtel") ? "some, Princeton's GPU queries too"
                                                                                        : "none, Princeton's GPU queries");
    }
    batch_free(&b);
    /* A second round trip, rare: Princeton's full expression for a key the cheaper queries could not
     * answer exactly (GPM series for GPU utilization, two series on one node for used memory). */
    const enum promq_key again[2] = {PQ_GPU_UTILIZATION, PQ_USED_MEMORY};
    const bool need[2] = {gpm, mem_again};
    for (int a = 0; a < 2 && rc == JT_OK; a++) {
        if (!need[a])
            continue;
        batch_init(&b);
        buf_reset(&q);
        rc = promq_build_job(again[a], r->cluster, r->job->jobid, r->job->sluid, r->range, &q);
        if (rc == JT_OK)
            rc = batch_add(&b, r->url, buf_str(&q), r->tbuf, r->conf->sampling_period, r->debug);
        if (rc == JT_OK)
            rc = batch_run(&b, conf, r->debug, err, errsz);
        char why[512] = "";
        if (rc == JT_OK) {
            rc = promq_parse_answer(again[a], buf_str(&b.answer[0]), b.answer[0].len, r->nodes, why, sizeof why);
            if (rc != JT_OK)
                snprintf(err, errsz, "Prometheus at %s (HTTP %ld): %s", conf->prom_url, b.reqs[0].status, why);
        }
        batch_free(&b);
    }
    buf_free(&q);
    return rc;
}

enum jt_err jobstats_collect(const struct js_conf *conf, const struct sacct_job *job, int64_t now, bool debug,
                             json_t **summary, char *err, size_t errsz)
{
    enum jt_err rc = JT_OK;
    struct buf url;
    buf_init(&url, 1024);
    *summary = NULL;
    if (errsz > 0)
        err[0] = '\0';
    json_t *root = json_object(), *nodes = json_object();
    if (!root || !nodes) {
        json_decref(nodes);
        rc = JT_ERR_NOMEM;
        goto out;
    }
    json_object_set_new(root, "nodes", nodes);
    int64_t diff;
    if (!jobstats_runtime(job, now, &diff)) {
        jobstats_bad_times(job, err, errsz);
        rc = JT_ERR_RANGE;
        goto out;
    }
    int64_t end = job->has_end ? job->end : now;
    const char *cluster = !conf->cluster_label ? "" : conf->cluster[0] ? conf->cluster : job->cluster;
    buf_printf(&url, "%s/api/v1/query", conf->prom_url);
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%lld", (long long)end);
    struct round r = {conf, job, buf_str(&url), cluster, tbuf, diff < 1 ? 1 : diff, debug, root, nodes};
    /* A GPU job whose GPUs all have jobtel's exact counters needs none of Princeton's GPU queries (the
     * costly subqueries): the first round asks the cgroup keys with the exact totals, and Princeton's
     * GPU keys are asked in a second round only when some GPU lacks them. */
    bool exact = job->gpus > 0 && conf->exact_counters, done = false, incomplete = false, cg_done = false, unused;
    int k_to = job->gpus == 0 || exact ? PQ_GPU_TOTAL_MEMORY : PQ_COUNT;
    int64_t recent = r.range < EXACT_RECENT_S ? r.range : EXACT_RECENT_S;
    rc = query_round(&r, 0, k_to, exact ? recent : 0, &done, &incomplete, &cg_done, err, errsz);
    /* Some GPU without totals or inventory in the last hour while others have them: its node's series
     * stopped earlier (an exporter that died mid-job), so the whole run time is asked. A job with no
     * totals at all in the last hour goes to Princeton's queries directly (a site without the
     * accounting). */
    if (rc == JT_OK && exact && !done && incomplete && recent < r.range && json_object_get(root, "jobtel")) {
        debug_line(debug, "exact counters: some GPU has none in the last %llds; asking the whole run time", (long long)recent);
        rc = query_round(&r, 0, 0, r.range, &done, &incomplete, &unused, err, errsz);
    }
    /* What the first round could not answer, in one more: the cgroup keys over the whole run when the
     * last window does not stand for it, Princeton's GPU keys when some GPU lacks exact totals. */
    int k_from2 = cg_done ? PQ_GPU_TOTAL_MEMORY : 0, k_to2 = done || !exact ? PQ_GPU_TOTAL_MEMORY : PQ_COUNT;
    if (rc == JT_OK && k_from2 < k_to2)
        rc = query_round(&r, k_from2, k_to2, 0, &done, &incomplete, &unused, err, errsz);
    if (rc != JT_OK)
        goto out;
    json_t *jt = json_incref(json_object_get(root, "jobtel")); /* after Princeton's keys, as stored summaries have it */
    json_object_del(root, "jobtel");
    json_object_set_new(root, "total_time", json_integer((json_int_t)diff));
    json_object_set_new(root, "gpus", json_integer((json_int_t)job->gpus));
    if (jt)
        json_object_set_new(root, "jobtel", jt);
    *summary = root;
    root = NULL;
out:
    json_decref(root);
    buf_free(&url);
    return err_fallback(rc, err, errsz);
}

enum jt_err jobstats_base64(const struct js_conf *conf, const struct sacct_job *job, int64_t now, bool debug,
                            struct buf *out, char *err, size_t errsz)
{
    int64_t diff;
    if (errsz > 0)
        err[0] = '\0';
    if (!jobstats_runtime(job, now, &diff)) {
        jobstats_bad_times(job, err, errsz);
        return JT_ERR_RANGE;
    }
    if ((double)diff < 2 * conf->sampling_period)
        return err_fallback(buf_puts(out, "Short"), err, errsz);
    json_t *s;
    enum jt_err rc = jobstats_collect(conf, job, now, debug, &s, err, errsz);
    if (rc != JT_OK)
        return rc;
    if (json_object_size(json_object_get(s, "nodes")) == 0)
        rc = buf_puts(out, "None");
    else
        rc = js1_encode(s, JS1_ENC_BASE64, out);
    json_decref(s);
    if (rc != JT_OK)
        snprintf(err, errsz, "cannot encode the summary of job %s: %s", job->jobid, jt_strerror(rc));
    return rc;
}

/* ---- the command ----------------------------------------------------------------------------------- */

struct stats_opts {
    const char *cluster, *config, *prom_url;
    const char *html;
    bool json, base64, force, no_color, debug, syslog, batch_script, timeline, ascii;
    const char **jobids;
    int njobids;
};

#define SOFF(f) offsetof(struct stats_opts, f)

static const struct args_opt stats_opts_table[] = {
    {.name = "cluster", .aliases = "-c", .kind = ARGS_STRING, .offset = SOFF(cluster), .placeholder = "NAME",
     .help = "cluster for sacct (-M) and the Prometheus cluster label"},
    {.name = "json", .aliases = "-j", .kind = ARGS_FLAG, .offset = SOFF(json),
     .help = "print the job's data as JSON instead of the report"},
    {.name = "base64", .aliases = "-b", .kind = ARGS_FLAG, .offset = SOFF(base64),
     .help = "print the data as gzip+base64 (the JS1 summary payload)"},
    {.name = "force", .aliases = "-f", .kind = ARGS_FLAG, .offset = SOFF(force),
     .help = "ignore a stored summary and query Prometheus"},
    {.name = "no-color", .aliases = "-n", .kind = ARGS_FLAG, .offset = SOFF(no_color),
     .help = "no colour even on a terminal"},
    {.name = "debug", .aliases = "-d", .kind = ARGS_FLAG, .offset = SOFF(debug),
     .help = "print sacct output, each query and each answer"},
    {.name = "syslog", .aliases = "-S", .kind = ARGS_FLAG, .offset = SOFF(syslog),
     .help = "send errors and debug lines to syslog as well"},
    {.name = "batch-script", .aliases = "-B", .kind = ARGS_FLAG, .offset = SOFF(batch_script),
     .help = "append the job's batch script"},
    {.name = "timeline", .kind = ARGS_FLAG, .offset = SOFF(timeline),
     .help = "per-GPU and CPU sparklines over the job (Prometheus, else the stored timeline)"},
    {.name = "ascii", .kind = ARGS_FLAG, .offset = SOFF(ascii),
     .help = "--timeline in plain ASCII (the default when the locale is not UTF-8)"},
    {.name = "html", .kind = ARGS_STRING, .offset = SOFF(html), .placeholder = "FILE",
     .help = "write a self-contained HTML report (charts and figures) to FILE"},
    {.name = "prometheus", .kind = ARGS_STRING, .offset = SOFF(prom_url), .placeholder = "URL",
     .help = "Prometheus base URL (overrides the config file)"},
    {.name = "config", .kind = ARGS_STRING, .offset = SOFF(config), .placeholder = "FILE",
     .help = "config file (default " JS_CONF_DEFAULT_PATH ")"},
    {.name = "help", .aliases = "-h", .kind = ARGS_HELP, .help = "this help"},
    {.kind = ARGS_END},
};

/* `prog` is "jobstats" or "jobtel stats": the name the user typed, in the usage line and errors. */
static void stats_spec(struct args_spec *spec, const char *prog, char *usage, size_t usagesz)
{
    snprintf(usage, usagesz, "%s [options] JOBID...", prog);
    *spec = (struct args_spec){
        .prog = prog,
        .usage = usage,
        .description = "The efficiency report of a Slurm job: CPU and GPU utilization, memory, per node and per "
                       "GPU, from sacct and Prometheus, or from the summary stored at job end.",
        .opts = stats_opts_table,
        .epilogue = "Exit codes: 0 report printed, 1 runtime failure (unknown or pending job, Prometheus or\n"
                    "sacct unreachable, bad answer), 2 usage or config error.",
        .positional = true,
    };
}

static int parse_stats_opts(int argc, char **argv, struct stats_opts *o, const char *prog)
{
    memset(o, 0, sizeof *o);
    o->jobids = calloc((size_t)argc + 1, sizeof *o->jobids);
    if (!o->jobids)
        return CLI_EXIT_FAILURE;
    struct args_spec spec;
    char usage[64];
    stats_spec(&spec, prog, usage, sizeof usage);
    struct args_error err;
    switch (args_parse(&spec, o, argc, argv, o->jobids, &o->njobids, &err)) {
    case ARGS_OK:
        break;
    case ARGS_EXIT:
        return -1;
    case ARGS_USAGE:
        args_print_error(&spec, &err);
        return CLI_EXIT_USAGE;
    }
    if (o->njobids == 0) {
        args_help(&spec, stderr);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Loads the config file (an explicit --config must exist) and applies overrides. */
int jobstats_load_conf(struct js_conf *conf, const char *path, const char *prom_url, const char *prog)
{
    char err[512] = "";
    js_conf_defaults(conf);
    if (js_conf_load(conf, path ? path : JS_CONF_DEFAULT_PATH, path != NULL, err, sizeof err) != JT_OK) {
        fprintf(stderr, "%s: config: %s\n", prog, err);
        return CLI_EXIT_USAGE;
    }
    if (prom_url) {
        size_t n = strlen(prom_url);
        while (n > 0 && prom_url[n - 1] == '/')
            n--;
        if (n == 0 || !str_copy(conf->prom_url, sizeof conf->prom_url, prom_url, n)) {
            fprintf(stderr, "%s: bad --prometheus URL\n", prog);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

static char *batch_script_text(const struct js_conf *conf, const char *jobid)
{
    struct buf out, eout;
    buf_init(&out, SACCT_OUT_MAX);
    buf_init(&eout, 4096);
    char *argv[] = {(char *)conf->sacct, "-j", (char *)jobid, "-B", NULL};
    int st;
    char *r = NULL;
    if (cmd_run(argv, conf->cmd_timeout, &out, &eout, &st) == JT_OK && st == 0)
        r = strdup(buf_str(&out));
    buf_free(&out);
    buf_free(&eout);
    return r ? r : strdup("(the batch script could not be read)\n");
}

/* Princeton's answer when there is nothing to report (jobstats.md §1.4): seff's report for a job
 * shorter than one sampling period, else the "too old or expired" message. Both exit 1, as Princeton's. */
static void no_data(const struct js_conf *conf, const struct sacct_job *job, int64_t diff, bool syslog_too)
{
    if ((double)diff < conf->sampling_period) {
        struct buf out, eout;
        buf_init(&out, SACCT_OUT_MAX);
        buf_init(&eout, 4096);
        char *argv[] = {(char *)conf->seff, (char *)job->jobid, NULL};
        int st = -1;
        enum jt_err rc = cmd_run(argv, conf->cmd_timeout, &out, &eout, &st);
        if (rc == JT_OK && st == 0 && out.err == JT_OK) {
            printf("\nRun time is very short so only providing seff output:\n\n");
            fmt_print_clean(stdout, buf_str(&out), true);
            fputc('\n', stdout);
        } else {
            char why[300] = "";
            cmd_failure(why, sizeof why, conf->seff, st, &out, &eout);
            fprintf(stderr, "No job statistics are available (%s).\n", rc == JT_OK ? why : jt_strerror(rc));
        }
        buf_free(&out);
        buf_free(&eout);
        return;
    }
    fprintf(stderr,
            "No data was found for job %s. This is probably because it is too old\n"
            "or it expired from Jobstats database. If you are not running this command on the\n"
            "cluster where the job was run then use the -c option to specify the cluster.\n"
            "If the run time was very short then try running \"seff %s\".\n",
            job->jobid, job->jobid);
    if (syslog_too)
        log_error("no data for job %s", job->jobid);
}

/* The job's timeline on a grid of `cols` columns: from Prometheus while it has the job's series, else
 * from the timeline stored in the summary. False (err set) when neither has one. */
static bool views_timeline(const struct js_conf *conf, const struct stats_opts *o, const struct sacct_job *job,
                           json_t *summary, int64_t now, int cols, struct tl_grid *g, char *err, size_t errsz)
{
    int64_t end = job->has_end ? job->end : now;
    tl_init(g, job->start, end, cols);
    char why[1024] = "";
    enum jt_err e = tl_from_prometheus(g, conf, job, o->debug, why, sizeof why);
    if (e == JT_OK && g->n > 0) {
        debug_line(o->debug, "timeline: from Prometheus (%zu series)", g->n);
        return true;
    }
    debug_line(o->debug, "timeline: %s; the stored timeline instead", e == JT_OK ? "Prometheus has no series of the job" : why);
    tl_free(g);
    tl_init(g, job->start, end, cols);
    if (summary && tl_from_summary(g, summary, job->nnodes == 1 ? (double)job->ncpus : 0) > 0)
        return true;
    if (e != JT_OK)
        snprintf(err, errsz, "no timeline for job %s: %s, and no timeline is stored in its summary", job->jobid, why);
    else
        snprintf(err, errsz, "no timeline for job %s: Prometheus has no data for it and no timeline is stored in its "
                             "summary", job->jobid);
    tl_free(g);
    return false;
}

/* --timeline and --html. The HTML page works from the stored summary alone; without one, its figures
 * come from Prometheus as the report's do. */
static int stats_views(const struct js_conf *conf, const struct stats_opts *o, const struct sacct_job *job,
                       json_t *summary, int64_t now, const char *prog)
{
    char err[2048] = "";
    struct tl_grid g;
    int rc = CLI_EXIT_FAILURE;
    json_t *own = NULL;
    char *text = NULL;
    size_t textlen = 0;
    if (o->timeline) {
        if (!views_timeline(conf, o, job, summary, now, 60, &g, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return CLI_EXIT_FAILURE;
        }
        tl_print(stdout, &g, job->jobid, !o->ascii && tl_locale_utf8());
        tl_free(&g);
        if (!o->html)
            return CLI_EXIT_OK;
    }
    if (!summary) {
        if (jobstats_collect(conf, job, now, o->debug, &own, err, sizeof err) != JT_OK) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return CLI_EXIT_FAILURE;
        }
        summary = own;
    }
    bool have_timeline = views_timeline(conf, o, job, summary, now, 100, &g, err, sizeof err);
    if (!have_timeline) {
        debug_line(o->debug, "%s", err);
        tl_init(&g, job->start, job->has_end ? job->end : now, 100);
    }
    if (json_object_size(json_object_get(summary, "nodes")) > 0) {
        FILE *mf = open_memstream(&text, &textlen);
        if (mf) {
            struct report_opts ro = {.color = false, .jobid = job->jobid};
            jobstats_report(mf, conf, job, summary, now, &ro);
            fclose(mf);
        }
    }
    if (g.n == 0 && !text) {
        fprintf(stderr, "%s: job %s: nothing to show (no figures and no timeline)\n", prog, job->jobid);
        goto out;
    }
    /* Written next to the destination and renamed, so a reader never sees half a page. */
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", o->html) >= sizeof tmp) {
        fprintf(stderr, "%s: --html: path too long\n", prog);
        goto out;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "%s: --html: cannot write %s: %s\n", prog, tmp, strerror(errno));
        goto out;
    }
    html_write(f, job->jobid, &g, text);
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, o->html) != 0) {
        fprintf(stderr, "%s: --html: cannot write %s: %s\n", prog, o->html, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    tl_free(&g);
    free(text);
    json_decref(own);
    return rc;
}

static int stats_one(const struct js_conf *conf, const struct stats_opts *o, const char *jobid, const char *prog)
{
    char err[1024] = "";
    int rc = CLI_EXIT_FAILURE;
    json_t *summary = NULL;
    char *script = NULL;
    struct buf b64;
    buf_init(&b64, JS1_JSON_MAX);
    struct sacct_job *job = calloc(1, sizeof *job);
    if (!job)
        goto out;
    enum jt_err e = jobstats_sacct(conf, jobid, o->cluster, job, o->debug, err, sizeof err);
    if (e == JT_ERR_NOT_FOUND) { /* Princeton's words, which users and scripts know */
        if (o->cluster && o->cluster[0])
            fprintf(stderr, "Failed to lookup job %s on %s.\n", jobid, o->cluster);
        else
            fprintf(stderr, "\nFailed to lookup job %s. Make sure the cluster is correct by\n"
                            "specifying the -c option (e.g., $ jobstats 1234567 -c frontier).\n\n", jobid);
        if (o->syslog)
            log_error("%s", err);
        goto out;
    }
    if (e != JT_OK) {
        fprintf(stderr, "%s: %s\n", prog, err);
        if (o->syslog)
            log_error("%s", err);
        rc = e == JT_ERR_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        goto out;
    }
    if (strcmp(job->state, "PENDING") == 0 || !job->has_start) {
        fprintf(stderr, "Failed to get details for job %s since it is a PENDING job.\n", jobid);
        goto out;
    }
    int64_t now = (int64_t)time(NULL), diff;
    if (!jobstats_runtime(job, now, &diff)) {
        jobstats_bad_times(job, err, sizeof err);
        fprintf(stderr, "%s: %s\n", prog, err);
        goto out;
    }
    bool from_summary = false;
    if (!o->force && !o->base64) {
        enum js1_kind kind;
        e = js1_decode_comment(job->admin_comment, &kind, &summary);
        if (e != JT_OK)
            fprintf(stderr, "%s: job %s: the stored summary is corrupt; querying Prometheus instead\n", prog, jobid);
        from_summary = kind == JS1_DATA;
        debug_line(o->debug, "stored summary: %s", from_summary ? "used (summary stored at job end)" : "none");
    }
    if ((o->timeline || o->html) && !o->base64 && !o->json) {
        rc = stats_views(conf, o, job, summary, now, prog);
        goto out;
    }
    if (o->base64) {
        e = jobstats_base64(conf, job, now, o->debug, &b64, err, sizeof err);
        if (e != JT_OK) {
            fprintf(stderr, "%s: %s\n", prog, err);
            goto out;
        }
        printf("%s\n", buf_str(&b64));
        rc = CLI_EXIT_OK;
        goto out;
    }
    if (!summary && ((double)diff >= 2 * conf->sampling_period || o->json)) {
        e = jobstats_collect(conf, job, now, o->debug, &summary, err, sizeof err);
        if (e != JT_OK) {
            fprintf(stderr, "%s: %s\n", prog, err);
            if (o->syslog)
                log_error("%s", err);
            goto out;
        }
    }
    if (o->json) {
        json_dumpf(summary, stdout, JSON_INDENT(4) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
        fputc('\n', stdout);
        rc = CLI_EXIT_OK;
        goto out;
    }
    if (!summary || json_object_size(json_object_get(summary, "nodes")) == 0) {
        no_data(conf, job, diff, o->syslog);
        goto out;
    }
    if (o->batch_script)
        script = batch_script_text(conf, job->jobid);
    struct report_opts ro = {.color = !o->no_color && isatty(STDOUT_FILENO), .from_summary = from_summary,
                             .batch_script = script, .jobid = jobid};
    jobstats_report(stdout, conf, job, summary, now, &ro);
    fputc('\n', stdout); /* Princeton print()s the report, which ends in a newline already */
    rc = CLI_EXIT_OK;
out:
    json_decref(summary);
    free(script);
    free(job);
    buf_free(&b64);
    return rc;
}

int cmd_jobstats(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (strcmp(prog, "stats") == 0)
        prog = "jobtel stats";
    struct stats_opts o;
    struct js_conf *conf = NULL;
    int rc = parse_stats_opts(argc, argv, &o, prog);
    if (rc != 0) {
        rc = rc < 0 ? CLI_EXIT_OK : rc;
        goto out;
    }
    log_setup(o.debug ? LOG_LVL_DEBUG : LOG_LVL_ERROR, "jobstats", o.syslog);
    conf = calloc(1, sizeof *conf);
    if (!conf) {
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    rc = jobstats_load_conf(conf, o.config, o.prom_url, prog);
    if (rc != 0)
        goto out;
    for (int i = 0; i < o.njobids; i++) {
        int r = stats_one(conf, &o, o.jobids[i], prog);
        if (r > rc)
            rc = r;
    }
out:
    if (conf)
        js_conf_free(conf);
    free(conf);
    free(o.jobids);
    return rc;
}
