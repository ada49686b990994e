/* jobstats.c - `jobstats JOBID...` / `jobtel stats`: the job efficiency report from sacct + Prometheus.
 *
 * The flow is Princeton's (jobstats.md §1): sacct gives the job's metadata; a summary stored in
 * AdminComment is used when there is one (so finished jobs report without Prometheus); otherwise
 * seven instant queries over the job's run time fill the same summary JSON. The report, -j and -b are
 * three views of that JSON. Each outside call has a deadline and fails with a message naming what
 * failed (the sacct path, the Prometheus URL), since users see these messages on login nodes.
 */
#include "jobstats/jobstats.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "jobstats/cmd_run.h"
#include "jobstats/http_get.h"
#include "jobstats/jobstats_fmt.h"
#include "jobstats/js1.h"
#include "jobstats/promq.h"
#include "common/log.h"
#include "common/strparse.h"

#define SACCT_OUT_MAX (1u << 20)
#define PROM_ANSWER_MAX (16u << 20)
#define GIB (1024.0 * 1024.0 * 1024.0)

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

enum jt_err jobstats_sacct(const struct js_conf *conf, const char *jobid, const char *cluster_opt,
                           struct sacct_job *job, bool debug, char *err, size_t errsz)
{
    struct buf out, eout;
    buf_init(&out, SACCT_OUT_MAX);
    buf_init(&eout, 64 * 1024);
    enum jt_err rc;
    if (!jobstats_valid_jobid(jobid)) {
        snprintf(err, errsz, "'%s' is not a job id", jobid);
        return JT_ERR_USAGE;
    }
    char *argv[12];
    int a = 0;
    argv[a++] = (char *)conf->sacct;
    argv[a++] = "-P";
    argv[a++] = "-X";
    argv[a++] = "-n";
    argv[a++] = "-o";
    argv[a++] = SACCT_FIELDS;
    argv[a++] = "-j";
    argv[a++] = (char *)jobid;
    if (cluster_opt && cluster_opt[0]) {
        argv[a++] = "-M";
        argv[a++] = (char *)cluster_opt;
    }
    argv[a] = NULL;
    setenv("SLURM_TIME_FORMAT", "%s", 1);
    int st;
    rc = cmd_run(argv, conf->cmd_timeout, &out, &eout, &st);
    if (rc != JT_OK) {
        snprintf(err, errsz, "%s: %s", conf->sacct,
                 rc == JT_ERR_TIMEOUT ? "did not answer in time (is slurmdbd up?)" : "could not be run");
        goto out;
    }
    debug_line(debug, "sacct exit %d, output: %s", st, buf_str(&out));
    if (st != 0 || out.err != JT_OK) {
        const char *e = buf_str(&eout);
        size_t el = strcspn(e, "\n");
        snprintf(err, errsz, "%s failed (exit %d): %.*s", conf->sacct, st, (int)el, e);
        rc = JT_ERR_IO;
        goto out;
    }
    struct cursor c;
    const char *line;
    size_t len;
    cur_init(&c, buf_str(&out), out.len);
    rc = JT_ERR_NOT_FOUND;
    while (cur_line(&c, &line, &len)) {
        if (len == 0)
            continue;
        rc = sacct_parse_line(line, len, job);
        if (rc != JT_OK) {
            snprintf(err, errsz, "cannot parse the sacct output line '%.*s'", (int)(len > 200 ? 200 : len), line);
            goto out;
        }
        break;
    }
    if (rc == JT_ERR_NOT_FOUND)
        snprintf(err, errsz, "Failed to lookup job %s: sacct knows no such job%s", jobid,
                 cluster_opt && cluster_opt[0] ? " on that cluster" : " (for another cluster use -c, e.g. $ jobstats 1234567 -c NAME)");
out:
    buf_free(&out);
    buf_free(&eout);
    return rc;
}

int64_t jobstats_runtime(const struct sacct_job *job, int64_t now)
{
    if (!job->has_start)
        return 0;
    int64_t end = job->has_end ? job->end : now;
    return end > job->start ? end - job->start : 0;
}

enum jt_err jobstats_collect(const struct js_conf *conf, const struct sacct_job *job, int64_t now, bool debug,
                             json_t **summary, char *err, size_t errsz)
{
    enum jt_err rc = JT_OK;
    struct buf q, url;
    buf_init(&q, 64 * 1024);
    buf_init(&url, 1024);
    *summary = NULL;
    json_t *root = json_object(), *nodes = json_object();
    if (!root || !nodes) {
        json_decref(nodes);
        rc = JT_ERR_NOMEM;
        goto out;
    }
    json_object_set_new(root, "nodes", nodes);
    int64_t diff = jobstats_runtime(job, now);
    int64_t end = job->has_end ? job->end : now;
    const char *cluster = !conf->cluster_label ? "" : conf->cluster[0] ? conf->cluster : job->cluster;
    buf_printf(&url, "%s/api/v1/query", conf->prom_url);
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%lld", (long long)end);
    int nkeys = job->gpus > 0 ? PQ_COUNT : PQ_GPU_TOTAL_MEMORY;
    /* Build every query, send them all at once, then read the answers in order (so the first failing
     * query is the one reported, as before). */
    struct buf qurl[PQ_COUNT], answer[PQ_COUNT];
    struct http_request reqs[PQ_COUNT];
    for (int k = 0; k < PQ_COUNT; k++) {
        buf_init(&qurl[k], 1u << 20);
        buf_init(&answer[k], PROM_ANSWER_MAX);
    }
    for (int k = 0; k < nkeys && rc == JT_OK; k++) {
        buf_reset(&q);
        rc = promq_build((enum promq_key)k, cluster, job->jobid, diff < 1 ? 1 : diff, &q);
        if (rc != JT_OK) {
            snprintf(err, errsz, "cannot build a query for job %s (cluster '%s')", job->jobid, cluster);
            break;
        }
        struct http_param p[2] = {{"query", buf_str(&q)}, {"time", tbuf}};
        debug_line(debug, "query: %s time=%s", buf_str(&q), tbuf);
        rc = http_build_url(buf_str(&url), p, 2, &qurl[k]);
        reqs[k] = (struct http_request){buf_str(&qurl[k]), &answer[k], JT_OK, 0, ""};
    }
    if (rc == JT_OK)
        rc = http_get_all(reqs, (size_t)nkeys, conf->connect_timeout, conf->timeout);
    for (int k = 0; k < nkeys && rc == JT_OK; k++) {
        char why[512];
        long status = reqs[k].status;
        if (reqs[k].rc != JT_OK) {
            snprintf(err, errsz, "Prometheus at %s: %s", conf->prom_url, reqs[k].err);
            rc = reqs[k].rc;
            break;
        }
        debug_line(debug, "answer (HTTP %ld): %.2000s", status, buf_str(&answer[k]));
        rc = promq_parse_answer((enum promq_key)k, buf_str(&answer[k]), answer[k].len, nodes, why, sizeof why);
        if (rc != JT_OK) {
            snprintf(err, errsz, "Prometheus at %s (HTTP %ld): %s", conf->prom_url, status, why);
            break;
        }
        if (status != 200) {
            snprintf(err, errsz, "Prometheus at %s answered HTTP %ld", conf->prom_url, status);
            rc = JT_ERR_IO;
            break;
        }
    }
    for (int k = 0; k < PQ_COUNT; k++) {
        buf_free(&qurl[k]);
        buf_free(&answer[k]);
    }
    if (rc != JT_OK)
        goto out;
    json_object_set_new(root, "total_time", json_integer((json_int_t)diff));
    json_object_set_new(root, "gpus", json_integer((json_int_t)job->gpus));
    *summary = root;
    root = NULL;
out:
    json_decref(root);
    buf_free(&q);
    buf_free(&url);
    return rc;
}

enum jt_err jobstats_base64(const struct js_conf *conf, const struct sacct_job *job, int64_t now, bool debug,
                            struct buf *out, char *err, size_t errsz)
{
    int64_t diff = jobstats_runtime(job, now);
    if ((double)diff < 2 * conf->sampling_period)
        return buf_puts(out, "Short");
    json_t *s;
    enum jt_err rc = jobstats_collect(conf, job, now, debug, &s, err, errsz);
    if (rc != JT_OK)
        return rc;
    if (json_object_size(json_object_get(s, "nodes")) == 0)
        rc = buf_puts(out, "None");
    else
        rc = js1_encode(s, JS1_ENC_BASE64, out);
    json_decref(s);
    return rc;
}

/* ---- the report ------------------------------------------------------------------------------------ */

struct style {
    bool color;
};

static const char *on(const struct style *st, enum js_style s)
{
    if (!st->color)
        return "";
    return s == JS_STYLE_BOLD_RED ? "\033[1;31m" : s == JS_STYLE_BOLD ? "\033[1m" : "";
}

static const char *off(const struct style *st, enum js_style s)
{
    return st->color && s != JS_STYLE_NORMAL ? "\033[0m" : "";
}

static void rule(FILE *f) { fputs("================================================================================\n", f); }

static void centered(FILE *f, const char *title)
{
    int pad = (80 - (int)strlen(title)) / 2;
    fprintf(f, "%*s%s\n", pad > 0 ? pad : 0, "", title);
}

static double num(json_t *o, const char *key, bool *ok)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) {
        *ok = false;
        return 0;
    }
    return json_number_value(v);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int cmp_minor(const void *a, const void *b)
{
    uint64_t x = 0, y = 0;
    const char *s = *(const char *const *)a, *t = *(const char *const *)b;
    if (cstr_to_u64(s, &x) && cstr_to_u64(t, &y) && x != y)
        return x < y ? -1 : 1;
    return strcmp(s, t);
}

/* The keys of a JSON object, sorted (node names by name, GPU minors by number). Caller frees. */
static const char **sorted_keys(json_t *o, size_t *n, bool numeric)
{
    *n = json_object_size(o);
    const char **k = calloc(*n ? *n : 1, sizeof *k);
    if (!k)
        return NULL;
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) k[i++] = key;
    qsort(k, *n, sizeof *k, numeric ? cmp_minor : cmp_str);
    return k;
}

/* Rounds a memory suggestion up to a value people type: whole GB, then tens, then hundreds. */
static double nice_mem_gb(double used_gb)
{
    double g = ceil(1.2 * used_gb);
    if (g < 1)
        g = 1;
    if (g > 1000)
        return ceil(g / 100) * 100;
    if (g > 30)
        return ceil(g / 10) * 10;
    return g;
}

/* Writes one note, wrapped at 78 columns, URLs on their own line. */
static void print_note(FILE *f, const struct style *st, enum js_style s, const char *text)
{
    int col = 0;
    fprintf(f, "%s  *", on(st, s));
    col = 3;
    const char *p = text;
    bool first = true;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t wl = strcspn(p, " ");
        if (wl == 0)
            break;
        bool own_line = (wl >= 4 && (strncmp(p, "http", 4) == 0 || strncmp(p, "ftp", 3) == 0));
        if (own_line) {
            fprintf(f, "\n      %.*s", (int)wl, p);
            col = 78; /* next word starts a new line */
        } else if (!first && col + 1 + (int)wl > 78) {
            fprintf(f, "\n    %.*s", (int)wl, p);
            col = 4 + (int)wl;
        } else {
            fprintf(f, " %.*s", (int)wl, p);
            col += 1 + (int)wl;
        }
        first = false;
        p += wl;
    }
    fprintf(f, "%s\n", off(st, s));
}

struct report_totals {
    double cpu_used, cpu_alloc; /* CPU seconds */
    double mem_used, mem_alloc; /* bytes */
    double gpu_util_sum;
    unsigned gpu_count, gpu_zero;
    double gmem_used, gmem_total;
    unsigned zero_cpu_nodes;
    int cpu_err, mem_err, gpu_err; /* Princeton's codes: 1 missing, 2 > 100 %, 3 zero */
};

static void meter_line(FILE *f, const struct style *st, const char *label, int pct, bool red)
{
    char m[64];
    fmt_meter(m, sizeof m, pct);
    fprintf(f, "  %-16s %s%s%s\n", label, red ? on(st, JS_STYLE_BOLD_RED) : "", m, red ? off(st, JS_STYLE_BOLD_RED) : "");
}

static void print_report(FILE *f, const struct js_conf *conf, const struct sacct_job *job, json_t *summary,
                         int64_t now, bool from_summary, const char *batch_script, const struct style *st)
{
    char a[64], b[64], c[64], d[64];
    int64_t diff = jobstats_runtime(job, now);
    bool running = !job->has_end;
    json_t *nodes = json_object_get(summary, "nodes");
    size_t nn = 0;
    const char **names = sorted_keys(nodes, &nn, false);
    if (!names)
        return;

    rule(f);
    centered(f, "Slurm Job Statistics");
    rule(f);
    fprintf(f, "         Job ID: %s\n", job->jobid);
    fprintf(f, "   User/Account: %s/%s\n", job->user, job->account);
    if (strlen(job->jobname) > conf->max_jobname_len)
        fprintf(f, "       Job Name: %.*s...\n", (int)conf->max_jobname_len, job->jobname);
    else
        fprintf(f, "       Job Name: %s\n", job->jobname);
    bool bad_state = strcmp(job->state, "OUT_OF_MEMORY") == 0 || strcmp(job->state, "TIMEOUT") == 0;
    fprintf(f, "          State: %s%s%s\n", bad_state ? on(st, JS_STYLE_BOLD_RED) : "", job->state,
            bad_state ? off(st, JS_STYLE_BOLD_RED) : "");
    fprintf(f, "          Nodes: %u\n", job->nnodes);
    fprintf(f, "      CPU Cores: %u\n", job->ncpus);
    if (job->reqmem_bytes > 0) {
        fmt_bytes_short(a, sizeof a, job->reqmem_bytes);
        double per = job->ncpus ? job->reqmem_bytes / job->ncpus : 0;
        fmt_bytes(b, sizeof b, per);
        fprintf(f, "     CPU Memory: %s (%s per CPU-core)\n", a, b);
    }
    if (job->gpus > 0)
        fprintf(f, "           GPUs: %u\n", job->gpus);
    fprintf(f, "  QOS/Partition: %s/%s\n", job->qos, job->partition);
    fprintf(f, "        Cluster: %s\n", job->cluster);
    fmt_start_time(a, sizeof a, job->start);
    fprintf(f, "     Start Time: %s\n", a);
    fmt_duration(a, sizeof a, (double)diff);
    fprintf(f, "       Run Time: %s%s\n", a, running ? " (in progress)" : "");
    int time_eff = -1;
    if (job->timelimit_min > 0) {
        time_eff = (int)lround(100.0 * (double)diff / (60.0 * (double)job->timelimit_min));
        if (time_eff > 100)
            time_eff = 100;
    }
    fmt_time_limit(a, sizeof a, job->timelimit_min);
    bool tl_red = strcmp(job->state, "COMPLETED") == 0 && time_eff >= 0 && time_eff < conf->settings[JV_TIME_EFF_RED];
    fprintf(f, "     Time Limit: %s%s%s\n", tl_red ? on(st, JS_STYLE_BOLD_RED) : "", a, tl_red ? off(st, JS_STYLE_BOLD_RED) : "");
    if (from_summary)
        fprintf(f, "         Source: summary stored at job end\n");

    struct report_totals t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < nn; i++) {
        json_t *n = json_object_get(nodes, names[i]);
        bool ok = true;
        double cpus = num(n, "cpus", &ok), used = num(n, "total_time", &ok);
        if (!ok)
            t.cpu_err = 1;
        t.cpu_used += used;
        t.cpu_alloc += (double)diff * cpus;
        if (ok && used == 0)
            t.zero_cpu_nodes++;
        ok = true;
        t.mem_used += num(n, "used_memory", &ok);
        t.mem_alloc += num(n, "total_memory", &ok);
        if (!ok)
            t.mem_err = 1;
        if (job->gpus > 0) {
            json_t *util = json_object_get(n, "gpu_utilization"), *gu = json_object_get(n, "gpu_used_memory"),
                   *gt = json_object_get(n, "gpu_total_memory");
            const char *k;
            json_t *v;
            json_object_foreach(util, k, v) {
                t.gpu_util_sum += json_number_value(v);
                t.gpu_count++;
                if (json_number_value(v) == 0)
                    t.gpu_zero++;
            }
            json_object_foreach(gu, k, v) t.gmem_used += json_number_value(v);
            json_object_foreach(gt, k, v) t.gmem_total += json_number_value(v);
        }
    }
    if (!t.cpu_err && t.cpu_used > t.cpu_alloc * 1.0001)
        t.cpu_err = 2;
    if (!t.cpu_err && t.cpu_alloc == 0)
        t.cpu_err = 3;
    if (!t.mem_err && t.mem_used > t.mem_alloc)
        t.mem_err = 2;
    if (!t.mem_err && t.mem_alloc == 0)
        t.mem_err = 3;
    if (job->gpus > 0 && t.gpu_count == 0)
        t.gpu_err = 1;
    double cpu_eff = t.cpu_err ? 0 : round(1000.0 * t.cpu_used / t.cpu_alloc) / 10.0;
    int mem_eff = t.mem_err ? 0 : (int)lround(100.0 * t.mem_used / t.mem_alloc);
    double gpu_util = t.gpu_count ? round(10.0 * t.gpu_util_sum / t.gpu_count) / 10.0 : 0;
    int gmem_eff = t.gmem_total > 0 ? (int)lround(100.0 * t.gmem_used / t.gmem_total) : 0;

    fputc('\n', f);
    centered(f, "Overall Utilization");
    rule(f);
    if (t.cpu_err)
        fprintf(f, "  CPU utilization  [not available]\n");
    else
        meter_line(f, st, "CPU utilization", (int)lround(cpu_eff), job->gpus == 0 && cpu_eff < conf->settings[JV_CPU_UTIL_RED]);
    if (t.mem_err)
        fprintf(f, "  CPU memory usage [not available]\n");
    else
        meter_line(f, st, "CPU memory usage", mem_eff, mem_eff < conf->settings[JV_CPU_MEM_UTIL_RED]);
    if (job->gpus > 0) {
        if (t.gpu_err)
            fprintf(f, "  GPU utilization  [not available]\n");
        else
            meter_line(f, st, "GPU utilization", (int)lround(gpu_util), gpu_util < conf->settings[JV_GPU_UTIL_RED]);
        if (t.gmem_total > 0)
            meter_line(f, st, "GPU memory usage", gmem_eff, gmem_eff < conf->settings[JV_GPU_MEM_UTIL_RED]);
    }

    fputc('\n', f);
    centered(f, "Detailed Utilization");
    rule(f);
    fprintf(f, "  CPU utilization per node (CPU time used/run time)\n");
    for (size_t i = 0; i < nn; i++) {
        json_t *n = json_object_get(nodes, names[i]);
        bool ok = true;
        double cpus = num(n, "cpus", &ok), used = num(n, "total_time", &ok);
        double alloc = (double)diff * cpus;
        fmt_duration(a, sizeof a, used);
        fmt_duration(b, sizeof b, alloc);
        if (ok && used == 0)
            fprintf(f, "      %s: %s/%s (efficiency=0.0%%) %s<-- CPU node was not used%s\n", names[i], a, b,
                    on(st, JS_STYLE_BOLD_RED), off(st, JS_STYLE_BOLD_RED));
        else
            fprintf(f, "      %s: %s/%s (efficiency=%.1f%%)\n", names[i], a, b, alloc > 0 ? 100.0 * used / alloc : 0.0);
    }
    if (nn > 1 && !t.cpu_err) {
        fmt_duration(a, sizeof a, t.cpu_used);
        fmt_duration(b, sizeof b, t.cpu_alloc);
        fprintf(f, "  Total used/runtime: %s/%s, efficiency=%.1f%%\n", a, b, cpu_eff);
    }
    fprintf(f, "\n  CPU memory usage per node - used/allocated\n");
    double total_cpus = 0;
    for (size_t i = 0; i < nn; i++) {
        json_t *n = json_object_get(nodes, names[i]);
        bool ok = true;
        double cpus = num(n, "cpus", &ok), used = num(n, "used_memory", &ok), alloc = num(n, "total_memory", &ok);
        total_cpus += cpus;
        fmt_bytes(a, sizeof a, used);
        fmt_bytes(b, sizeof b, alloc);
        fmt_bytes(c, sizeof c, cpus > 0 ? used / cpus : 0);
        fmt_bytes(d, sizeof d, cpus > 0 ? alloc / cpus : 0);
        fprintf(f, "      %s: %s/%s (%s/%s per core of %.0f)\n", names[i], a, b, c, d, cpus);
    }
    if (nn > 1) {
        fmt_bytes(a, sizeof a, t.mem_used);
        fmt_bytes(b, sizeof b, t.mem_alloc);
        fmt_bytes(c, sizeof c, total_cpus > 0 ? t.mem_used / total_cpus : 0);
        fmt_bytes(d, sizeof d, total_cpus > 0 ? t.mem_alloc / total_cpus : 0);
        fprintf(f, "  Total used/allocated: %s/%s (%s/%s per core of %.0f)\n", a, b, c, d, total_cpus);
    }
    if (job->gpus > 0) {
        fprintf(f, "\n  GPU utilization per node\n");
        for (size_t i = 0; i < nn; i++) {
            json_t *util = json_object_get(json_object_get(nodes, names[i]), "gpu_utilization");
            size_t ng = 0;
            const char **g = sorted_keys(util, &ng, true);
            for (size_t j = 0; g && j < ng; j++) {
                double u = json_number_value(json_object_get(util, g[j]));
                if (u == 0)
                    fprintf(f, "      %s (GPU %s): %s0%% <-- GPU was not used%s\n", names[i], g[j],
                            on(st, JS_STYLE_BOLD_RED), off(st, JS_STYLE_BOLD_RED));
                else
                    fprintf(f, "      %s (GPU %s): %.1f%%\n", names[i], g[j], u);
            }
            free(g);
        }
        fprintf(f, "\n  GPU memory usage per node - maximum used/total\n");
        for (size_t i = 0; i < nn; i++) {
            json_t *n = json_object_get(nodes, names[i]);
            json_t *gu = json_object_get(n, "gpu_used_memory"), *gt = json_object_get(n, "gpu_total_memory");
            size_t ng = 0;
            const char **g = sorted_keys(gt, &ng, true);
            for (size_t j = 0; g && j < ng; j++) {
                double used = json_number_value(json_object_get(gu, g[j]));
                double total = json_number_value(json_object_get(gt, g[j]));
                fmt_bytes(a, sizeof a, used);
                fmt_bytes(b, sizeof b, total);
                fprintf(f, "      %s (GPU %s): %s/%s (%.1f%%)\n", names[i], g[j], a, b, total > 0 ? 100.0 * used / total : 0.0);
            }
            free(g);
        }
    }
    if (batch_script) {
        fputc('\n', f);
        centered(f, "Batch Script");
        rule(f);
        fputs(batch_script, f);
        if (batch_script[0] && batch_script[strlen(batch_script) - 1] != '\n')
            fputc('\n', f);
    }

    fputc('\n', f);
    centered(f, "Notes");
    rule(f);
    if (t.cpu_err || t.mem_err || t.gpu_err) {
        static const char *const why[] = {"", "the data is incomplete", "a value was over 100%", "the allocation was zero"};
        if (t.cpu_err)
            fprintf(f, "  * The CPU utilization could not be determined (%s).\n", why[t.cpu_err]);
        if (t.mem_err)
            fprintf(f, "  * The CPU memory usage could not be determined (%s).\n", why[t.mem_err]);
        if (t.gpu_err)
            fprintf(f, "  * The GPU utilization could not be determined (%s).\n", why[t.gpu_err]);
        fprintf(f, "  * No other notes will be shown.\n");
    } else {
        struct js_vars vs;
        memset(&vs, 0, sizeof vs);
        js_vars_settings(&vs, conf);
        js_vars_set(&vs, JV_CPU_EFF, cpu_eff);
        js_vars_set(&vs, JV_CPU_MEM_EFF, mem_eff);
        if (job->gpus > 0 && t.gpu_count > 0)
            js_vars_set(&vs, JV_GPU_UTIL, gpu_util);
        if (t.gmem_total > 0)
            js_vars_set(&vs, JV_GPU_MEM_EFF, gmem_eff);
        js_vars_set(&vs, JV_GPUS, job->gpus);
        js_vars_set(&vs, JV_CPUS, job->ncpus);
        js_vars_set(&vs, JV_NODES, (double)nn);
        js_vars_set(&vs, JV_RUNTIME, (double)diff);
        if (time_eff >= 0)
            js_vars_set(&vs, JV_TIME_EFF, time_eff);
        js_vars_set(&vs, JV_ZERO_GPUS, t.gpu_zero);
        js_vars_set(&vs, JV_ZERO_CPU_NODES, t.zero_cpu_nodes);
        js_vars_set(&vs, JV_OOM, strcmp(job->state, "OUT_OF_MEMORY") == 0);
        js_vars_set(&vs, JV_TIMEOUT, strcmp(job->state, "TIMEOUT") == 0);
        js_vars_set(&vs, JV_COMPLETED, strcmp(job->state, "COMPLETED") == 0);
        js_vars_set(&vs, JV_RUNNING, running);
        js_vars_set(&vs, JV_MEM_ALLOC_GB, round(t.mem_alloc / GIB));
        js_vars_set(&vs, JV_MEM_USED_GB, round(10 * t.mem_used / GIB) / 10);
        js_vars_set(&vs, JV_SUGGESTED_MEM_GB, nice_mem_gb(t.mem_used / GIB));
        if (job->gpus > 0) {
            js_vars_set(&vs, JV_CORES_PER_GPU, (double)job->ncpus / job->gpus);
            js_vars_set(&vs, JV_CPU_MEM_PER_GPU_GB, round(t.mem_alloc / GIB / job->gpus));
        }
        js_vars_set(&vs, JV_INTERACTIVE, strcmp(job->jobname, "interactive") == 0 ||
                                              strncmp(job->jobname, "sys/dashboard", 13) == 0);
        struct buf note;
        buf_init(&note, 64 * 1024);
        for (size_t i = 0; i < conf->nnotes; i++) {
            if (!js_note_applies(&conf->notes[i], &vs))
                continue;
            buf_reset(&note);
            if (js_note_expand(&conf->notes[i], &vs, &note) == JT_OK)
                print_note(f, st, conf->notes[i].style, buf_str(&note));
        }
        buf_free(&note);
    }
    fputc('\n', f);
    free(names);
}

/* ---- the command ----------------------------------------------------------------------------------- */

struct stats_opts {
    const char *cluster, *config, *prom_url;
    bool json, base64, force, no_color, debug, syslog, batch_script;
    const char **jobids;
    int njobids;
};

static void stats_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [options] JOBID...\n\n"
            "The efficiency report of a Slurm job: CPU and GPU utilization, memory, per node and per GPU,\n"
            "from sacct and Prometheus, or from the summary stored at job end.\n\n"
            "Options:\n"
            "  -c, --cluster NAME     cluster for sacct (-M) and the Prometheus cluster label\n"
            "  -j, --json             print the job's data as JSON instead of the report\n"
            "  -b, --base64           print the data as gzip+base64 (the JS1 summary payload)\n"
            "  -f, --force            ignore a stored summary and query Prometheus\n"
            "  -n, --no-color         no colour even on a terminal\n"
            "  -d, --debug            print sacct output, each query and each answer\n"
            "  -S, --syslog           send errors and debug lines to syslog as well\n"
            "  -B, --batch-script     append the job's batch script\n"
            "      --prometheus URL   Prometheus base URL (overrides the config file)\n"
            "      --config FILE      config file (default " JS_CONF_DEFAULT_PATH ")\n"
            "  -h, --help             this help\n\n"
            "Exit codes: 0 report printed, 1 runtime failure (unknown or pending job, Prometheus or\n"
            "sacct unreachable, bad answer), 2 usage or config error.\n",
            prog);
}

static int parse_stats_opts(int argc, char **argv, struct stats_opts *o, const char *prog)
{
    memset(o, 0, sizeof *o);
    o->jobids = calloc((size_t)argc + 1, sizeof *o->jobids);
    if (!o->jobids)
        return CLI_EXIT_FAILURE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            stats_usage(stdout, prog);
            return -1;
        } else if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "-b") == 0 || strcmp(a, "--base64") == 0) {
            o->base64 = true;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--force") == 0) {
            o->force = true;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--no-color") == 0) {
            o->no_color = true;
        } else if (strcmp(a, "-d") == 0 || strcmp(a, "--debug") == 0) {
            o->debug = true;
        } else if (strcmp(a, "-S") == 0 || strcmp(a, "--syslog") == 0) {
            o->syslog = true;
        } else if (strcmp(a, "-B") == 0 || strcmp(a, "--batch-script") == 0) {
            o->batch_script = true;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--cluster") == 0) {
            val = &o->cluster;
        } else if (strcmp(a, "--prometheus") == 0) {
            val = &o->prom_url;
        } else if (strcmp(a, "--config") == 0) {
            val = &o->config;
        } else if (strncmp(a, "--cluster=", 10) == 0) {
            o->cluster = a + 10;
        } else if (strncmp(a, "--prometheus=", 13) == 0) {
            o->prom_url = a + 13;
        } else if (strncmp(a, "--config=", 9) == 0) {
            o->config = a + 9;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
            return CLI_EXIT_USAGE;
        } else {
            o->jobids[o->njobids++] = a;
        }
        if (val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value\n", prog, a);
                return CLI_EXIT_USAGE;
            }
            *val = argv[++i];
        }
    }
    if (o->njobids == 0) {
        stats_usage(stderr, prog);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Loads the config file (an explicit --config must exist) and applies overrides. */
int jobstats_load_conf(struct js_conf *conf, const char *path, const char *prom_url, const char *prog)
{
    char err[512];
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

static int stats_one(const struct js_conf *conf, const struct stats_opts *o, const char *jobid, const char *prog)
{
    char err[1024];
    int rc = CLI_EXIT_FAILURE;
    json_t *summary = NULL;
    char *script = NULL;
    struct buf b64;
    buf_init(&b64, JS1_JSON_MAX);
    struct sacct_job *job = calloc(1, sizeof *job);
    if (!job)
        goto out;
    enum jt_err e = jobstats_sacct(conf, jobid, o->cluster, job, o->debug, err, sizeof err);
    if (e != JT_OK) {
        fprintf(stderr, "%s: %s\n", prog, err);
        if (o->syslog)
            log_error("%s", err);
        rc = e == JT_ERR_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        goto out;
    }
    if (strcmp(job->state, "PENDING") == 0 || !job->has_start) {
        fprintf(stderr, "%s: Failed to get details for job %s since it is a PENDING job.\n", prog, jobid);
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    int64_t diff = jobstats_runtime(job, now);
    bool from_summary = false;
    if (!o->force && !o->base64) {
        enum js1_kind kind;
        e = js1_decode_comment(job->admin_comment, &kind, &summary);
        if (e != JT_OK)
            fprintf(stderr, "%s: job %s: the stored summary is corrupt; querying Prometheus instead\n", prog, jobid);
        from_summary = kind == JS1_DATA;
        debug_line(o->debug, "stored summary: %s", from_summary ? "used" : "none");
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
    if (!summary) {
        if ((double)diff < 2 * conf->sampling_period && !o->json) {
            char t[32];
            fmt_duration(t, sizeof t, (double)diff);
            printf("Job %s ran for %s, shorter than two Prometheus sampling periods (%.0f s): there is no data "
                   "to report.\n", jobid, t, 2 * conf->sampling_period);
            rc = CLI_EXIT_OK;
            goto out;
        }
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
    if (json_object_size(json_object_get(summary, "nodes")) == 0) {
        fprintf(stderr,
                "%s: No data was found for job %s in Prometheus at %s. It may be too old (expired from the "
                "database), or the exporters do not label this job.\n", prog, jobid, conf->prom_url);
        goto out;
    }
    if (o->batch_script)
        script = batch_script_text(conf, job->jobid);
    struct style st = {.color = !o->no_color && isatty(STDOUT_FILENO)};
    print_report(stdout, conf, job, summary, now, from_summary, script, &st);
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
