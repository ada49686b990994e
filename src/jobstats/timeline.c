/* timeline.c - a job's metrics over time on a fixed grid, and the terminal sparklines (see timeline.h).
 *
 * Everything is resampled to the grid first, so both sources, the text view and the HTML view agree on
 * what a column means, and a gap stays a gap all the way to the screen. The stored timeline is hostile
 * input like the rest of the summary: columns are looked up by name, every point is checked (numbers,
 * non-negative offsets and durations, the value count), and a bad point is skipped, never guessed.
 */
#include "jobstats/timeline.h"

#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobstats/http_get.h"
#include "jobstats/jobstats.h"
#include "jobstats/jobstats_fmt.h"
#include "jobstats/promq.h"

#define TL_SERIES_MAX 4096
#define TL_POINTS_MAX 100000 /* per stored series: the daemon keeps about 100 */
#define TL_ANSWER_MAX (16u << 20)
#define GIB 1073741824.0

static const struct {
    const char *key, *title, *unit;
    bool pct, peak;
} metrics[TL_METRICS] = {
    [TL_UTIL] = {"util", "GPU utilization", "%", true, false},
    [TL_POWER] = {"power", "GPU power", "W", false, false},
    [TL_MEM] = {"mem", "GPU memory used", "GiB", false, true},
    [TL_SM] = {"sm", "SM active", "%", true, false},
    [TL_CLOCK] = {"clock", "SM clock", "MHz", false, false},
    [TL_THROTTLE] = {"throttle", "Throttled (power/thermal)", "%", true, false},
    [TL_CPU] = {"cpu", "CPU utilization", "%", true, false},
    [TL_CPUMEM] = {"mem", "CPU memory used", "GiB", false, true},
};

const char *tl_metric_key(enum tl_metric m) { return metrics[m].key; }
const char *tl_metric_title(enum tl_metric m) { return metrics[m].title; }
const char *tl_metric_unit(enum tl_metric m) { return metrics[m].unit; }

double tl_value(const struct tl_series *s, int col)
{
    if (s->weight[col] <= 0)
        return NAN;
    return metrics[s->metric].peak ? s->peak[col] : s->sum[col] / s->weight[col];
}

double tl_series_mean(const struct tl_series *s)
{
    double sum = 0, w = 0;
    for (int c = 0; c < TL_COLS_MAX; c++) {
        sum += s->sum[c];
        w += s->weight[c];
    }
    return w > 0 ? sum / w : NAN;
}

double tl_metric_max(const struct tl_grid *g, enum tl_metric m)
{
    double mx = NAN;
    for (size_t i = 0; i < g->n; i++) {
        if (g->s[i].metric != m)
            continue;
        for (int c = 0; c < g->cols; c++) {
            double v = tl_value(&g->s[i], c);
            if (!isnan(v) && (isnan(mx) || v > mx))
                mx = v;
        }
    }
    return mx;
}

double tl_metric_scale(const struct tl_grid *g, enum tl_metric m)
{
    if (metrics[m].pct)
        return 100;
    return tl_metric_max(g, m);
}

void tl_init(struct tl_grid *g, int64_t start, int64_t end, int cols)
{
    memset(g, 0, sizeof *g);
    g->start = start;
    g->end = end > start ? end : start + 1;
    g->cols = cols < 1 ? 1 : cols > TL_COLS_MAX ? TL_COLS_MAX : cols;
}

void tl_free(struct tl_grid *g)
{
    free(g->s);
    g->s = NULL;
    g->n = g->cap = 0;
}

static struct tl_series *series(struct tl_grid *g, const char *node, const char *gpu, enum tl_metric m)
{
    char nn[128], gn[32];
    fmt_clean(nn, sizeof nn, node, false);
    fmt_clean(gn, sizeof gn, gpu, false);
    for (size_t i = 0; i < g->n; i++)
        if (g->s[i].metric == m && strcmp(g->s[i].node, nn) == 0 && strcmp(g->s[i].gpu, gn) == 0)
            return &g->s[i];
    if (g->n == TL_SERIES_MAX)
        return NULL;
    if (g->n == g->cap) {
        size_t nc = g->cap ? 2 * g->cap : 16;
        struct tl_series *p = realloc(g->s, nc * sizeof *p);
        if (!p)
            return NULL;
        g->s = p;
        g->cap = nc;
    }
    struct tl_series *s = &g->s[g->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->node, sizeof s->node, "%s", nn);
    snprintf(s->gpu, sizeof s->gpu, "%s", gn);
    s->metric = m;
    return s;
}

/* Adds value v over [a, b) (unix seconds) to every column it overlaps. */
static void accumulate(const struct tl_grid *g, struct tl_series *s, double a, double b, double v)
{
    double width = (double)(g->end - g->start) / g->cols;
    if (!(b > a) || !isfinite(v))
        return;
    int c0 = (int)floor((a - (double)g->start) / width), c1 = (int)ceil((b - (double)g->start) / width);
    if (c0 < 0)
        c0 = 0;
    if (c1 > g->cols)
        c1 = g->cols;
    for (int c = c0; c < c1; c++) {
        double cs = (double)g->start + c * width, ce = cs + width;
        double ov = fmin(b, ce) - fmax(a, cs);
        if (ov <= 0)
            continue;
        if (s->weight[c] <= 0 || v > s->peak[c])
            s->peak[c] = v;
        s->sum[c] += v * ov;
        s->weight[c] += ov;
    }
}

static int cmp_key(const char *a, const char *b)
{
    char *ea, *eb;
    long x = strtol(a, &ea, 10), y = strtol(b, &eb, 10);
    if (*a && *b && *ea == '\0' && *eb == '\0' && x != y)
        return x < y ? -1 : 1;
    return strcmp(a, b);
}

static int cmp_series(const void *pa, const void *pb)
{
    const struct tl_series *a = pa, *b = pb;
    if (a->metric != b->metric)
        return a->metric < b->metric ? -1 : 1;
    int c = strcmp(a->node, b->node);
    return c ? c : cmp_key(a->gpu, b->gpu);
}

void tl_sort(struct tl_grid *g)
{
    if (g->n > 1)
        qsort(g->s, g->n, sizeof *g->s, cmp_series);
}

/* ---- the stored timeline ------------------------------------------------------------------------- */

static bool whole(const json_t *j, double *v)
{
    if (!json_is_number(j))
        return false;
    *v = json_number_value(j);
    return isfinite(*v) && *v >= 0 && *v < 9007199254740992.0;
}

/* One {"t0", "cols", "pts"} object; metric_of maps a column name to a metric (TL_METRICS: ignored).
 * `cpus` (a CPU timeline only): the node's allocated cores, to draw the stored cores used as the % of
 * them Prometheus' query gives; 0 when unknown, and then the CPU column is left out, not guessed. */
static size_t fold_tl(struct tl_grid *g, const json_t *tl, const char *node, const char *gpu, bool cpu,
                      double cpus)
{
    double t0;
    const json_t *cols = json_object_get(tl, "cols"), *pts = json_object_get(tl, "pts");
    if (!whole(json_object_get(tl, "t0"), &t0) || !json_is_array(cols) || !json_is_array(pts) ||
        json_array_size(pts) > TL_POINTS_MAX || json_array_size(cols) > 32)
        return 0;
    size_t ncols = json_array_size(cols), found = 0;
    /* Indices, not pointers: adding a series may move the array. */
    size_t col_series[32];
    bool col_known[32] = {false};
    for (size_t c = 0; c < ncols; c++) {
        const char *name = json_string_value(json_array_get(cols, c));
        if (!name)
            continue;
        enum tl_metric m = TL_METRICS;
        if (cpu)
            m = strcmp(name, "cpu") == 0 ? TL_CPU : strcmp(name, "mem") == 0 ? TL_CPUMEM : TL_METRICS;
        else
            for (int k = 0; k < TL_CPU; k++)
                if (strcmp(name, metrics[k].key) == 0)
                    m = (enum tl_metric)k;
        if (m == TL_METRICS)
            continue; /* a column this jobstats does not know: a newer daemon's, left out */
        if (m == TL_CPU && !(cpus > 0))
            continue; /* cores used, but of how many: no percentage to draw */
        const struct tl_series *ts = series(g, node, cpu ? "" : gpu, m);
        if (ts) {
            col_series[c] = (size_t)(ts - g->s);
            col_known[c] = true;
            found++;
        }
    }
    size_t i;
    const json_t *p;
    json_array_foreach(pts, i, p) {
        double off, dur;
        if (!json_is_array(p) || json_array_size(p) != 2 + ncols || !whole(json_array_get(p, 0), &off) ||
            !whole(json_array_get(p, 1), &dur) || dur <= 0)
            continue;
        bool ok = true; /* a value that is neither a sane number nor null makes the whole point suspect */
        for (size_t c = 0; c < ncols && ok; c++) {
            double v;
            const json_t *jv = json_array_get(p, 2 + c);
            ok = json_is_null(jv) || whole(jv, &v);
        }
        if (!ok)
            continue;
        for (size_t c = 0; c < ncols; c++) {
            double v;
            if (col_known[c] && whole(json_array_get(p, 2 + c), &v)) {
                if (g->s[col_series[c]].metric == TL_CPU)
                    v = 100 * v / cpus; /* stored as cores used */
                accumulate(g, &g->s[col_series[c]], t0 + off, t0 + off + dur, v);
            }
        }
    }
    return found;
}

size_t tl_from_summary(struct tl_grid *g, json_t *summary, double one_node_cpus)
{
    const json_t *nodes = json_object_get(json_object_get(summary, "jobtel"), "nodes");
    const char *node, *gpu;
    const json_t *n, *gr;
    size_t found = 0;
    g->source = "stored summary";
    if (!json_is_object(nodes))
        return 0;
    json_object_foreach((json_t *)nodes, node, n) {
        if (!json_is_object(n))
            continue;
        json_object_foreach((json_t *)n, gpu, gr) {
            if (strcmp(gpu, "cpu_tl") == 0) {
                /* The node's allocated cores: Princeton's "nodes" key of the same summary, else the job's
                 * own when it ran on this one node (the summary may have been stored without Prometheus). */
                const json_t *jc = json_object_get(json_object_get(json_object_get(summary, "nodes"), node), "cpus");
                double cpus = json_is_number(jc) ? json_number_value(jc)
                              : json_object_size(nodes) == 1 ? one_node_cpus : 0;
                found += fold_tl(g, gr, node, "", true, cpus > 0 && cpus < 1e6 ? cpus : 0);
            } else if (json_is_object(json_object_get(gr, "tl")))
                found += fold_tl(g, json_object_get(gr, "tl"), node, gpu, false, 0);
        }
    }
    tl_sort(g);
    return found;
}

/* ---- Prometheus ------------------------------------------------------------------------------------ */

/* The query of each metric over the selectors (GPU series, cgroup series) and a window of `step` seconds
 * (`rstep` for rate(), which needs two samples in its window). */
static enum jt_err tl_query(enum tl_metric m, const char *sel, const char *cgsel, long long step, long long rstep,
                            struct buf *q)
{
    switch (m) {
    case TL_UTIL:
        return buf_printf(q, "avg_over_time(nvidia_gpu_duty_cycle{%s}[%llds])", sel, step);
    case TL_POWER:
        return buf_printf(q, "avg_over_time(nvidia_gpu_power_usage_milliwatts{%s}[%llds]) / 1000", sel, step);
    case TL_MEM:
        return buf_printf(q, "max_over_time(nvidia_gpu_memory_used_bytes{%s}[%llds]) / 1073741824", sel, step);
    case TL_SM:
        return buf_printf(q, "avg_over_time(nvidia_gpu_sm_util_percent{%s}[%llds]) * 100", sel, step);
    case TL_CLOCK:
        return buf_printf(q, "avg_over_time(nvidia_gpu_clock{%s,type='sm'}[%llds])", sel, step);
    case TL_THROTTLE:
        return buf_printf(q, "100 * rate(jobtel_job_gpu_throttle_seconds_total{%s}[%llds])", sel, rstep);
    case TL_CPU:
        return buf_printf(q, "100 * rate(cgroup_cpu_total_seconds{%s}[%llds]) / cgroup_cpus{%s}", cgsel, rstep, cgsel);
    case TL_CPUMEM:
        return buf_printf(q, "max_over_time(cgroup_memory_rss_bytes{%s}[%llds]) / 1073741824", cgsel, step);
    case TL_METRICS:
        break;
    }
    return JT_ERR_INTERNAL;
}

/* One matrix answer into the grid: each point (t, v) stands for (t - step, t]. */
static enum jt_err fold_matrix(struct tl_grid *g, enum tl_metric m, const struct buf *body, double step, char *err,
                               size_t errsz)
{
    json_t *root, *result;
    enum jt_err rc = promq_load_result(buf_str(body), body->len, "matrix", &root, &result, err, errsz);
    if (rc != JT_OK)
        return rc;
    size_t i, j;
    json_t *s, *p;
    json_array_foreach(result, i, s) {
        json_t *metric = json_object_get(s, "metric");
        char host[256];
        const char *gpu = json_string_value(json_object_get(metric, m == TL_THROTTLE ? "gpu" : "ordinal"));
        if (!gpu && m != TL_THROTTLE)
            gpu = json_string_value(json_object_get(metric, "minor_number"));
        if (!promq_instance_host(json_string_value(json_object_get(metric, "instance")), host, sizeof host))
            continue;
        bool cpu = m == TL_CPU || m == TL_CPUMEM;
        if (!cpu && (!gpu || !gpu[0]))
            continue;
        struct tl_series *ts = series(g, host, cpu ? "" : gpu, m);
        if (!ts)
            break;
        json_array_foreach(json_object_get(s, "values"), j, p) {
            double t, v;
            if (!json_is_number(json_array_get(p, 0)) || !promq_sample_value(json_array_get(p, 1), &v))
                continue; /* NaN (0/0) and the like: unknown, a gap */
            t = json_number_value(json_array_get(p, 0));
            accumulate(g, ts, t - step, t, v);
        }
    }
    json_decref(root);
    return JT_OK;
}

enum jt_err tl_from_prometheus(struct tl_grid *g, const struct js_conf *conf, const struct sacct_job *job,
                               bool debug, char *err, size_t errsz)
{
    const char *cluster = !conf->cluster_label ? "" : conf->cluster[0] ? conf->cluster : job->cluster;
    g->source = "Prometheus";
    if (errsz > 0)
        err[0] = '\0';
    char sel[256], cgsel[300];
    if (promq_job_selector(cluster, job->jobid, 1, sel, sizeof sel) != JT_OK) {
        snprintf(err, errsz, "job id or cluster name not usable in a query");
        return JT_ERR_USAGE;
    }
    snprintf(cgsel, sizeof cgsel, "%s,step='',task=''", sel);
    /* About 80 points over the job: one step per column of the text view's resolution or finer. */
    int64_t span = g->end - g->start;
    long long step = (long long)((span + 79) / 80);
    if (step < 1)
        step = 1;
    /* Each point looks back over its step, but at least one sampling period (two for rate()), so a step
     * shorter than the scrape interval still finds samples: neighbouring points then overlap. */
    long long sp = (long long)ceil(conf->sampling_period);
    long long win = step > sp ? step : sp, rwin = step > 2 * sp ? step : 2 * sp;
    char qstart[32], qend[32], qstep[32];
    snprintf(qstart, sizeof qstart, "%lld", (long long)g->start + step);
    snprintf(qend, sizeof qend, "%lld", (long long)g->end);
    snprintf(qstep, sizeof qstep, "%lld", step);
    struct buf url, q, qurl[TL_METRICS], body[TL_METRICS];
    struct http_request reqs[TL_METRICS];
    buf_init(&url, 1024);
    buf_init(&q, 4096);
    for (int m = 0; m < TL_METRICS; m++) {
        buf_init(&qurl[m], 1u << 16);
        buf_init(&body[m], TL_ANSWER_MAX);
    }
    enum jt_err rc = buf_printf(&url, "%s/api/v1/query_range", conf->prom_url);
    for (int m = 0; m < TL_METRICS && rc == JT_OK; m++) {
        buf_reset(&q);
        rc = tl_query((enum tl_metric)m, sel, cgsel, win, rwin, &q);
        struct http_param p[4] = {{"query", buf_str(&q)}, {"start", qstart}, {"end", qend}, {"step", qstep}};
        if (rc == JT_OK)
            rc = http_build_url(buf_str(&url), p, 4, &qurl[m]);
        if (debug)
            fprintf(stderr, "DEBUG: query_range: %s start=%s end=%s step=%s\n", buf_str(&q), qstart, qend, qstep);
        reqs[m] = (struct http_request){buf_str(&qurl[m]), &body[m], JT_OK, 0, ""};
    }
    if (rc == JT_OK)
        rc = http_get_all(reqs, TL_METRICS, conf->connect_timeout, conf->timeout);
    for (int m = 0; m < TL_METRICS && rc == JT_OK; m++) {
        if (reqs[m].rc != JT_OK) {
            snprintf(err, errsz, "Prometheus at %s: %s", conf->prom_url, reqs[m].err);
            rc = reqs[m].rc;
        } else if (reqs[m].status != 200) {
            char why[300] = "";
            fold_matrix(g, (enum tl_metric)m, &body[m], (double)step, why, sizeof why);
            snprintf(err, errsz, "Prometheus at %s (HTTP %ld): %s", conf->prom_url, reqs[m].status, why);
            rc = JT_ERR_IO;
        } else {
            char why[300] = "";
            rc = fold_matrix(g, (enum tl_metric)m, &body[m], (double)step, why, sizeof why);
            if (rc != JT_OK)
                snprintf(err, errsz, "Prometheus at %s: %s", conf->prom_url, why);
        }
    }
    buf_free(&url);
    buf_free(&q);
    for (int m = 0; m < TL_METRICS; m++) {
        buf_free(&qurl[m]);
        buf_free(&body[m]);
    }
    if (rc != JT_OK)
        tl_free(g);
    tl_sort(g);
    return rc;
}

/* ---- the terminal view ------------------------------------------------------------------------------ */

bool tl_locale_utf8(void)
{
    const char *old = setlocale(LC_CTYPE, NULL);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", old ? old : "C");
    bool utf8 = false;
    if (setlocale(LC_CTYPE, "")) {
        const char *cs = nl_langinfo(CODESET);
        utf8 = cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
    }
    setlocale(LC_CTYPE, saved);
    return utf8;
}

static const char *const blocks[8] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
static const char ascii_ramp[] = "_.-:=+*#";

void tl_print(FILE *f, const struct tl_grid *g, const char *jobid, bool utf8)
{
    char span[64], width[64], when[64];
    fmt_duration(span, sizeof span, (double)(g->end - g->start));
    fmt_duration(width, sizeof width, (double)(g->end - g->start) / g->cols);
    fmt_start_time(when, sizeof when, g->start);
    fprintf(f, "Timeline of job %s (%s): %s from %s\n", jobid, g->source ? g->source : "?", span, when);
    fprintf(f, "%d columns of %s each; '%s' no data\n", g->cols, width, utf8 ? "\u00b7" : " ");
    int lw = 0;
    for (size_t i = 0; i < g->n; i++) {
        int l = (int)strlen(g->s[i].node) + (g->s[i].gpu[0] ? 5 + (int)strlen(g->s[i].gpu) : 0);
        lw = l > lw ? l : lw;
    }
    for (int m = 0; m < TL_METRICS; m++) {
        double scale = tl_metric_scale(g, (enum tl_metric)m);
        bool any = false;
        for (size_t i = 0; i < g->n; i++) {
            const struct tl_series *s = &g->s[i];
            if (s->metric != (enum tl_metric)m)
                continue;
            if (!any) {
                if (isnan(scale))
                    fprintf(f, "\n%s (%s), no data\n", metrics[m].title, metrics[m].unit);
                else
                    fprintf(f, "\n%s (%s), scale 0-%.*f\n", metrics[m].title, metrics[m].unit, scale == floor(scale) ? 0 : 1, scale);
                any = true;
            }
            char label[200];
            if (s->gpu[0])
                snprintf(label, sizeof label, "%s GPU %s", s->node, s->gpu);
            else
                snprintf(label, sizeof label, "%s", s->node);
            fprintf(f, "  %-*s |", lw, label);
            double mx = NAN;
            for (int c = 0; c < g->cols; c++) {
                double v = tl_value(s, c);
                if (isnan(v)) {
                    fputs(utf8 ? "\u00b7" : " ", f);
                    continue;
                }
                mx = isnan(mx) || v > mx ? v : mx;
                int lv = scale > 0 ? (int)(v / scale * 8) : 0;
                lv = lv < 0 ? 0 : lv > 7 ? 7 : lv;
                if (utf8)
                    fputs(blocks[lv], f);
                else
                    fputc(ascii_ramp[lv], f);
            }
            /* Memory: the peak says what to request; a mean of peaks says little. */
            double mean = tl_series_mean(s);
            if (isnan(mx))
                fprintf(f, "| no data\n");
            else if (metrics[m].peak)
                fprintf(f, "| max %.1f\n", mx);
            else
                fprintf(f, "| mean %.1f max %.1f\n", mean, mx);
        }
    }
}
