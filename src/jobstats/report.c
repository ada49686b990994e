/* report.c - the jobstats text report (see report.h).
 *
 * Two passes: first every figure is checked and summed into a `figures` table with Princeton's error
 * code per section (nodes in the summary's order, GPUs by their minor number as text, stopping at the
 * first node that lacks a value, as Princeton does), then the report prints only what that table
 * says is known. Where Princeton's Python would raise (a division by zero cores, a missing field in
 * a detail line) we print "unknown" instead.
 */
#include "jobstats/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobstats/jobstats.h"
#include "jobstats/jobstats_fmt.h"
#include "common/strparse.h"

#define WIDTH 80
#define GIB (1024.0 * 1024.0 * 1024.0)
#define VALUE_MAX 9007199254740992.0 /* 2^53: past it a summary value is garbage, not a figure */

/* A figure from the summary: ok only when it is a JSON number in [0, max]. */
struct fig {
    bool ok, is_int;
    double v;
};

static struct fig fig_get(json_t *v, double max)
{
    struct fig f = {false, false, 0};
    if (!json_is_number(v))
        return f;
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0 || x > max || x >= VALUE_MAX)
        return f;
    f.ok = true;
    f.is_int = json_is_integer(v);
    f.v = x;
    return f;
}

struct cpu_row {
    const char *node;
    struct fig used, cores;
};
struct mem_row {
    const char *node;
    struct fig used, alloc, cores;
};
struct gpu_row {
    const char *node;
    char gpu[32]; /* the minor number as the summary spells it, made safe to print */
    struct fig a, b; /* utilization; or used and total memory */
    bool mig;        /* utilization unknown on a MIG node */
};

struct figures {
    char *names; /* node names made safe to print, NUL-separated (summaries are user-reachable input) */
    struct cpu_row *cpu;
    struct mem_row *mem;
    struct gpu_row *util, *gmem;
    size_t ncpu, nmem, nutil, ngmem;
    int cpu_err, mem_err, util_err, gmem_err; /* 0, or Princeton's 1 missing, 2 > 100 %, 3 zero */
    double cpu_used, cpu_alloc, cpu_cores;
    double mem_used, mem_alloc, mem_cores;
    bool mem_cores_int;
    double util_sum;
    unsigned util_count, util_zero;
    double gmem_used, gmem_total;
    unsigned zero_cpu_nodes;
    bool mig_job;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The keys of a JSON object sorted as strings (Python's sort of the minor numbers). Caller frees. */
static const char **sorted_keys(json_t *o, size_t *n)
{
    *n = json_object_size(o);
    const char **k = calloc(*n ? *n : 1, sizeof *k);
    if (!k)
        return NULL;
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) k[i++] = key;
    qsort(k, *n, sizeof *k, cmp_str);
    return k;
}

static bool is_mig_node(const struct js_conf *conf, const char *node)
{
    size_t n = strlen(node);
    for (const char *p = conf->mig_nodes; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && memcmp(p, node, n) == 0)
            return true;
        p += l;
        if (*p == ',')
            p++;
    }
    return false;
}

static void figures_free(struct figures *t)
{
    free(t->names);
    free(t->cpu);
    free(t->mem);
    free(t->util);
    free(t->gmem);
}

static struct gpu_row gpu_row(const char *node, const char *gpu, struct fig a, struct fig b, bool mig)
{
    struct gpu_row r = {node, "", a, b, mig};
    fmt_clean(r.gpu, sizeof r.gpu, gpu, false);
    return r;
}

/* Appends one GPU row, growing the array (gpu rows are few: a handful per node). */
static bool gpu_push(struct gpu_row **rows, size_t *n, size_t *cap, struct gpu_row r)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        struct gpu_row *p = realloc(*rows, nc * sizeof *p);
        if (!p)
            return false;
        *rows = p;
        *cap = nc;
    }
    (*rows)[(*n)++] = r;
    return true;
}

static bool figures_sections(struct figures *t, const struct sacct_job *job, json_t *nodes, int64_t diff,
                             const char **names);

static bool figures_compute(struct figures *t, const struct js_conf *conf, const struct sacct_job *job,
                            json_t *nodes, int64_t diff)
{
    memset(t, 0, sizeof *t);
    size_t nn = json_object_size(nodes);
    t->cpu = calloc(nn ? nn : 1, sizeof *t->cpu);
    t->mem = calloc(nn ? nn : 1, sizeof *t->mem);
    const char *key;
    json_t *n;
    size_t total = 1;
    json_object_foreach(nodes, key, n) total += strlen(key) + 1;
    t->names = malloc(total); /* a cleaned name is never longer than the name */
    const char **name_at = calloc(nn ? nn : 1, sizeof *name_at);
    if (!t->cpu || !t->mem || !t->names || !name_at) {
        free(name_at);
        return false;
    }
    size_t k = 0, off = 0;
    json_object_foreach(nodes, key, n) {
        if (is_mig_node(conf, key))
            t->mig_job = true;
        fmt_clean(t->names + off, strlen(key) + 1, key, false);
        name_at[k++] = t->names + off;
        off += strlen(key) + 1;
    }
    bool ok = figures_sections(t, job, nodes, diff, name_at);
    free(name_at);
    return ok;
}

/* The four sections' rows and codes, node by node in the summary's order (names[i] for the i-th node). */
static bool figures_sections(struct figures *t, const struct sacct_job *job, json_t *nodes, int64_t diff,
                             const char **names)
{
    const char *key, *name;
    json_t *n;
    size_t k = 0;
    t->mem_cores_int = true;
    json_object_foreach(nodes, key, n) {
        name = names[k++];
        struct cpu_row r = {name, fig_get(json_object_get(n, "total_time"), VALUE_MAX),
                            fig_get(json_object_get(n, "cpus"), VALUE_MAX)};
        t->cpu[t->ncpu++] = r;
        if (!r.used.ok || !r.cores.ok) {
            t->cpu_err = 1;
            break;
        }
        t->cpu_used += r.used.v;
        t->cpu_alloc += (double)diff * r.cores.v;
        t->cpu_cores += r.cores.v;
        if (r.used.v == 0)
            t->zero_cpu_nodes++;
    }
    if (!t->cpu_err) {
        if (t->cpu_used > t->cpu_alloc)
            t->cpu_err = 2;
        if (t->cpu_alloc == 0)
            t->cpu_err = 3;
    }
    k = 0;
    json_object_foreach(nodes, key, n) {
        name = names[k++];
        struct mem_row r = {name, fig_get(json_object_get(n, "used_memory"), VALUE_MAX),
                            fig_get(json_object_get(n, "total_memory"), VALUE_MAX),
                            fig_get(json_object_get(n, "cpus"), VALUE_MAX)};
        t->mem[t->nmem++] = r;
        if (!r.used.ok || !r.alloc.ok || !r.cores.ok) {
            t->mem_err = 1;
            break;
        }
        t->mem_used += r.used.v;
        t->mem_alloc += r.alloc.v;
        t->mem_cores += r.cores.v;
        t->mem_cores_int = t->mem_cores_int && r.cores.is_int;
    }
    if (!t->mem_err) {
        if (t->mem_used > t->mem_alloc)
            t->mem_err = 2;
        if (t->mem_alloc == 0)
            t->mem_err = 3;
    }
    if (job->gpus == 0)
        return true;
    size_t cap_u = 0, cap_m = 0;
    k = 0;
    json_object_foreach(nodes, key, n) {
        name = names[k++];
        json_t *util = json_object_get(n, "gpu_utilization");
        if (!json_is_object(util)) {
            if (t->mig_job) {
                if (!gpu_push(&t->util, &t->nutil, &cap_u, gpu_row(name, "#", (struct fig){0}, (struct fig){0}, true)))
                    return false;
                continue;
            }
            t->util_err = 1;
            break;
        }
        size_t ng;
        const char **g = sorted_keys(util, &ng);
        if (!g)
            return false;
        for (size_t i = 0; i < ng && !t->util_err; i++) {
            struct fig u = fig_get(json_object_get(util, g[i]), 100.0);
            if (!u.ok) {
                t->util_err = 1;
                break;
            }
            if (!gpu_push(&t->util, &t->nutil, &cap_u, gpu_row(name, g[i], u, (struct fig){0}, false))) {
                free(g);
                return false;
            }
            t->util_sum += u.v;
            t->util_count++;
            if (u.v == 0)
                t->util_zero++;
        }
        free(g);
        if (t->util_err)
            break;
    }
    k = 0;
    json_object_foreach(nodes, key, n) {
        name = names[k++];
        json_t *used = json_object_get(n, "gpu_used_memory"), *total = json_object_get(n, "gpu_total_memory");
        if (!json_is_object(used) || !json_is_object(total)) {
            t->gmem_err = 1;
            break;
        }
        size_t ng;
        const char **g = sorted_keys(total, &ng);
        if (!g)
            return false;
        for (size_t i = 0; i < ng; i++) {
            struct fig u = fig_get(json_object_get(used, g[i]), VALUE_MAX);
            struct fig tot = fig_get(json_object_get(total, g[i]), VALUE_MAX);
            if (!u.ok || !tot.ok) {
                t->gmem_err = 1;
                break;
            }
            if (!gpu_push(&t->gmem, &t->ngmem, &cap_m, gpu_row(name, g[i], u, tot, false))) {
                free(g);
                return false;
            }
            t->gmem_used += u.v;
            t->gmem_total += tot.v;
        }
        free(g);
        if (t->gmem_err)
            break;
    }
    /* Princeton never sets code 2 here (jobstats.md §1.4: a `==` for `=`), so GPU memory over 100 %
     * shows as such; a zero total would make its Python divide by zero: code 3. */
    if (!t->gmem_err && t->gmem_total == 0)
        t->gmem_err = 3;
    return true;
}

/* ---- printing ---------------------------------------------------------------------------------------- */

static const char *on(const struct report_opts *o, enum js_style s)
{
    if (!o->color)
        return "";
    return s == JS_STYLE_BOLD_RED ? "\033[1;31m" : s == JS_STYLE_BOLD ? "\033[1m" : "";
}

static const char *off(const struct report_opts *o, enum js_style s)
{
    return o->color && s != JS_STYLE_NORMAL ? "\033[0m" : "";
}

static void rule(FILE *f)
{
    for (int i = 0; i < WIDTH; i++)
        fputc('=', f);
    fputc('\n', f);
}

static void heading(FILE *f, const char *title)
{
    char c[WIDTH + 64];
    fmt_center(c, sizeof c, title, WIDTH);
    fprintf(f, "%s\n", c);
    rule(f);
}

static void meter_line(FILE *f, const struct report_opts *o, const char *label, int pct, bool red)
{
    char m[64];
    fmt_meter(m, sizeof m, pct);
    fprintf(f, "  %-16s %s%s%s\n", label, red ? on(o, JS_STYLE_BOLD_RED) : "", m, red ? off(o, JS_STYLE_BOLD_RED) : "");
}

/* The meter's text for an error code, as Princeton words it per figure. */
static void error_line(FILE *f, const char *label, int code, const char *zero_text, bool gpu_util)
{
    const char *why = code == 1 ? (gpu_util ? "Value is unknown" : "JSON is malformed")
                      : code == 2 ? "Value was erroneously found to be >100%"
                      : code == 3 ? zero_text : "Something went wrong";
    fprintf(f, "  %-16s (%s)\n", label, why);
}

static void fmt_bytes_or_unknown(char *dst, size_t dstsz, bool ok, double v, bool alloc)
{
    if (!ok)
        snprintf(dst, dstsz, "unknown");
    else if (alloc)
        fmt_bytes_alloc(dst, dstsz, v);
    else
        fmt_bytes(dst, dstsz, v);
}

/* Rounds a memory suggestion up to a value people type: whole GB, then fives, tens, hundreds
 * (Princeton's rounded_memory_with_safety). */
static double nice_mem_gb(double used_gb)
{
    double g = ceil(1.2 * used_gb);
    double step = g > 1000 ? 100 : g > 100 ? 10 : g > 30 ? 10 : 0;
    if (step == 0)
        return g < 1 ? 1 : g;
    double r = fmt_round0(g / step) * step;
    if (r < g)
        r += g > 100 ? step : 5;
    return r;
}

/* Writes one note, wrapped at 78 columns, URLs on their own line, then a blank line. */
static void print_note(FILE *f, const struct report_opts *o, enum js_style s, const char *text)
{
    int col = 0;
    fprintf(f, "%s  *", on(o, s));
    col = 3;
    const char *p = text;
    bool first = true, ends_with_url = false;
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
        ends_with_url = own_line;
        first = false;
        p += wl;
    }
    fprintf(f, "%s\n%s", off(o, s), ends_with_url ? "" : "\n");
}

static void print_header(FILE *f, const struct js_conf *conf, const struct sacct_job *job, int64_t diff,
                         int time_eff, const struct report_opts *o)
{
    char a[128], u[sizeof job->user], acc[sizeof job->account], name[sizeof job->jobname], state[sizeof job->state];
    char qos[sizeof job->qos], part[sizeof job->partition], cl[sizeof job->cluster], rm[sizeof job->reqmem];
    fmt_clean(u, sizeof u, job->user, false);
    fmt_clean(acc, sizeof acc, job->account, false);
    fmt_clean(name, sizeof name, job->jobname, false);
    fmt_clean(state, sizeof state, job->state, false);
    fmt_clean(qos, sizeof qos, job->qos, false);
    fmt_clean(part, sizeof part, job->partition, false);
    fmt_clean(cl, sizeof cl, job->cluster, false);
    fmt_clean(rm, sizeof rm, job->reqmem, false);
    fputc('\n', f);
    rule(f);
    heading(f, "Slurm Job Statistics");
    fprintf(f, "         Job ID: %s%s%s\n", on(o, JS_STYLE_BOLD), o->jobid ? o->jobid : job->jobid, off(o, JS_STYLE_BOLD));
    fprintf(f, "   User/Account: %s/%s\n", u, acc);
    if (strlen(job->jobname) > conf->max_jobname_len) /* Princeton counts characters of the raw name */
        fprintf(f, "       Job Name: %.*s...\n", (int)conf->max_jobname_len, name);
    else
        fprintf(f, "       Job Name: %s\n", name);
    bool bad_state = strcmp(job->state, "OUT_OF_MEMORY") == 0 || strcmp(job->state, "TIMEOUT") == 0;
    fprintf(f, "          State: %s%s%s\n", bad_state ? on(o, JS_STYLE_BOLD_RED) : "", state,
            bad_state ? off(o, JS_STYLE_BOLD_RED) : "");
    fprintf(f, "          Nodes: %u\n", job->nnodes);
    fprintf(f, "      CPU Cores: %u\n", job->ncpus);
    fmt_reqmem_header(a, sizeof a, rm, job->ncpus);
    fprintf(f, "     CPU Memory: %s\n", a);
    if (job->gpus > 0)
        fprintf(f, "           GPUs: %u\n", job->gpus);
    fprintf(f, "  QOS/Partition: %s/%s\n", qos, part);
    fprintf(f, "        Cluster: %s\n", cl);
    fmt_start_time(a, sizeof a, job->start);
    fprintf(f, "     Start Time: %s\n", a);
    fmt_duration(a, sizeof a, (double)diff);
    fprintf(f, "       Run Time: %s%s\n", a, strcmp(job->state, "RUNNING") == 0 ? " (in progress)" : "");
    fmt_time_limit(a, sizeof a, job->timelimit_min);
    bool tl_red = time_eff >= 0 && time_eff < conf->settings[JV_TIME_EFF_RED] &&
                  time_eff < conf->settings[JV_TIME_EFF_BLACK] && diff > 3 * conf->settings[JV_MIN_RUNTIME];
    fprintf(f, "     Time Limit: %s%s%s\n", tl_red ? on(o, JS_STYLE_BOLD_RED) : "", a, tl_red ? off(o, JS_STYLE_BOLD_RED) : "");
}

static void print_overall(FILE *f, const struct js_conf *conf, const struct sacct_job *job,
                          const struct figures *t, double cpu_eff, double mem_eff, double gpu_util, double gmem_eff,
                          const struct report_opts *o)
{
    fputc('\n', f);
    heading(f, "Overall Utilization");
    if (t->cpu_err) {
        error_line(f, "CPU utilization", t->cpu_err, "Total CPU time was found to be zero", false);
    } else {
        int pct = (int)cpu_eff; /* Princeton: int() of the one-decimal figure */
        meter_line(f, o, "CPU utilization", pct, job->gpus == 0 && pct < conf->settings[JV_CPU_UTIL_RED]);
    }
    if (t->mem_err)
        error_line(f, "CPU memory usage", t->mem_err, "Allocated memory was found to be zero", false);
    else
        meter_line(f, o, "CPU memory usage", (int)mem_eff, mem_eff < conf->settings[JV_CPU_MEM_UTIL_RED]);
    if (job->gpus == 0)
        return;
    if (t->util_err) {
        error_line(f, "GPU utilization", t->util_err, "", true);
    } else if (t->mig_job) {
        fprintf(f, "  GPU utilization  [     GPU utilization is unknown for MIG jobs      ]\n");
    } else if (t->util_count == 0) {
        fprintf(f, "  GPU utilization  [            GPU utilization is unknown            ]\n");
    } else {
        int pct = (int)fmt_round0(gpu_util);
        meter_line(f, o, "GPU utilization", pct, pct < conf->settings[JV_GPU_UTIL_RED]);
    }
    if (t->gmem_err)
        error_line(f, "GPU memory usage", t->gmem_err, "Allocated memory was found to be zero", false);
    else
        meter_line(f, o, "GPU memory usage", (int)gmem_eff, gmem_eff < conf->settings[JV_GPU_MEM_UTIL_RED]);
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The daemon's exact totals (summary key "jobtel", from the nodes' records): exact GPU utilization,
 * SM-active, energy in kWh (and CO2e with the site's factor), and the spread across the job's GPUs. */
static void print_exact(FILE *f, const struct js_conf *conf, json_t *summary, const struct report_opts *o)
{
    const json_t *jt = json_object_get(summary, "jobtel");
    const json_t *nodes = json_object_get(jt, "nodes");
    if (!json_is_object(nodes) || json_object_size(nodes) == 0)
        return;
    fputc('\n', f);
    heading(f, "Exact GPU Accounting (jobtel, every collection)");
    struct fig u = fig_get(json_object_get(jt, "gpu_util_exact"), 100.0);
    struct fig sm = fig_get(json_object_get(jt, "sm_active"), 100.0);
    if (u.ok)
        fprintf(f, "  GPU utilization (exact)  %.1f%%\n", u.v);
    if (sm.ok)
        fprintf(f, "  SM active (exact)        %.1f%%\n", sm.v);
    struct fig ej = fig_get(json_object_get(jt, "energy_j"), VALUE_MAX);
    if (ej.ok) {
        double kwh = ej.v / 3.6e6;
        fprintf(f, "  GPU energy               %.3f kWh", kwh);
        if (conf->settings[JV_CO2_KG_PER_KWH] > 0)
            fprintf(f, " (%.2f kg CO2e at %.3f kg/kWh)", kwh * conf->settings[JV_CO2_KG_PER_KWH],
                    conf->settings[JV_CO2_KG_PER_KWH]);
        fputc('\n', f);
    }
    double util[512];
    size_t n = 0;
    const char *node_name;
    const json_t *node;
    json_object_foreach((json_t *)nodes, node_name, node) {
        const char *gpu;
        const json_t *g;
        char nn[128], gn[32]; /* node and GPU names come from records and labels: made safe to print */
        fmt_clean(nn, sizeof nn, node_name, false);
        if (!json_is_object(node))
            continue;
        json_object_foreach((json_t *)node, gpu, g) {
            if (!json_is_object(g) || strcmp(gpu, "cpu_tl") == 0)
                continue; /* the node's CPU timeline, not a GPU */
            struct fig a = fig_get(json_object_get(g, "alloc"), VALUE_MAX), b = fig_get(json_object_get(g, "busy"), VALUE_MAX);
            struct fig e = fig_get(json_object_get(g, "energy"), VALUE_MAX);
            char line[256];
            fmt_clean(gn, sizeof gn, gpu, false);
            int off = snprintf(line, sizeof line, "      %s GPU %s:", nn, gn);
            if (a.ok && b.ok && a.v > 0 && b.v <= a.v) {
                double pct = 100 * b.v / a.v;
                off += snprintf(line + off, sizeof line - (size_t)off, " %.1f%%", pct);
                if (n < sizeof util / sizeof util[0])
                    util[n++] = pct;
            }
            if (e.ok && off > 0 && (size_t)off < sizeof line)
                snprintf(line + off, sizeof line - (size_t)off, " %.3f kWh", e.v / 3.6e6);
            fprintf(f, "%s\n", line);
        }
    }
    if (n >= 2) {
        qsort(util, n, sizeof util[0], dbl_cmp);
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++)
            mean += util[i];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++)
            var += (util[i] - mean) * (util[i] - mean);
        double cv = mean > 0 ? sqrt(var / (double)n) / mean : 0;
        double med = n % 2 ? util[n / 2] : (util[n / 2 - 1] + util[n / 2]) / 2;
        fprintf(f, "  Imbalance across %zu GPUs: min %.1f%% / median %.1f%% / max %.1f%%, CV %.2f\n", n, util[0], med,
                util[n - 1], cv);
        if (util[0] < 5 && util[n - 1] >= 30)
            print_note(f, o, JS_STYLE_BOLD_RED,
                       "At least one GPU of this job was idle while others worked. Check that the code spreads its "
                       "work over every GPU it asks for.");
    }
}

static void print_details(FILE *f, const struct sacct_job *job, const struct figures *t, int64_t diff,
                          const struct report_opts *o)
{
    char a[64], b[64], c[64], d[64], e[64];
    fputc('\n', f);
    heading(f, "Detailed Utilization");
    fprintf(f, "  CPU utilization per node (CPU time used/run time)\n");
    if (t->cpu_err == 0) {
        for (size_t i = 0; i < t->ncpu; i++) {
            const struct cpu_row *r = &t->cpu[i];
            double alloc = (double)diff * r->cores.v;
            fmt_duration(a, sizeof a, r->used.v);
            fmt_duration(b, sizeof b, alloc);
            if (alloc > 0)
                snprintf(c, sizeof c, "%.1f%%", 100.0 * r->used.v / alloc);
            else
                snprintf(c, sizeof c, "unknown");
            if (r->used.v == 0)
                fprintf(f, "      %s: %s/%s (efficiency=%s) %s<-- CPU node was not used%s\n", r->node, a, b, c,
                        on(o, JS_STYLE_BOLD_RED), off(o, JS_STYLE_BOLD_RED));
            else
                fprintf(f, "      %s: %s/%s (efficiency=%s)\n", r->node, a, b, c);
        }
        if (job->nnodes != 1) {
            fmt_duration(a, sizeof a, t->cpu_used);
            fmt_duration(b, sizeof b, t->cpu_alloc);
            fprintf(f, "  Total used/runtime: %s/%s, efficiency=%.1f%%\n", a, b, 100.0 * t->cpu_used / t->cpu_alloc);
        }
    } else {
        fprintf(f, "      An error was encountered (%d)\n", t->cpu_err);
    }

    fprintf(f, "\n  CPU memory usage per node - used/allocated\n");
    for (size_t i = 0; i < t->nmem; i++) {
        const struct mem_row *r = &t->mem[i];
        bool per = r->cores.ok && r->cores.v > 0;
        fmt_bytes_or_unknown(a, sizeof a, r->used.ok, r->used.v, false);
        fmt_bytes_or_unknown(b, sizeof b, r->alloc.ok, r->alloc.v, true);
        fprintf(f, "      %s: %s/%s ", r->node, a, b);
        if (job->ncpus == 1) {
            fputc('\n', f);
            continue;
        }
        fmt_bytes_or_unknown(c, sizeof c, r->used.ok && per, per ? r->used.v / r->cores.v : 0, false);
        fmt_bytes_or_unknown(d, sizeof d, r->alloc.ok && per, per ? r->alloc.v / r->cores.v : 0, true);
        if (r->cores.ok)
            fmt_py_number(e, sizeof e, r->cores.v, r->cores.is_int);
        else
            snprintf(e, sizeof e, "unknown");
        fprintf(f, "(%s/%s per core of %s)\n", c, d, e);
    }
    if (job->nnodes != 1) {
        bool ok = t->mem_err != 1, per = ok && t->mem_cores > 0;
        fmt_bytes_or_unknown(a, sizeof a, ok, t->mem_used, false);
        fmt_bytes_or_unknown(b, sizeof b, ok, t->mem_alloc, false);
        fmt_bytes_or_unknown(c, sizeof c, per, per ? t->mem_used / t->mem_cores : 0, false);
        fmt_bytes_or_unknown(d, sizeof d, per, per ? t->mem_alloc / t->mem_cores : 0, true);
        if (ok)
            fmt_py_number(e, sizeof e, t->mem_cores, t->mem_cores_int);
        else
            snprintf(e, sizeof e, "unknown");
        fprintf(f, "  Total used/allocated: %s/%s (%s/%s per core of %s)\n", a, b, c, d, e);
    }
    if (job->gpus == 0)
        return;

    fprintf(f, "\n  GPU utilization per node\n");
    if (t->util_err == 0) {
        for (size_t i = 0; i < t->nutil; i++) {
            const struct gpu_row *r = &t->util[i];
            if (r->mig)
                fprintf(f, "      %s (GPU %s): GPU utilization is unknown for MIG jobs\n", r->node, r->gpu);
            else if (r->a.v == 0)
                fprintf(f, "      %s (GPU %s): 0%% %s<-- GPU was not used%s\n", r->node, r->gpu,
                        on(o, JS_STYLE_BOLD_RED), off(o, JS_STYLE_BOLD_RED));
            else {
                fmt_py_number(a, sizeof a, r->a.v, r->a.is_int);
                fprintf(f, "      %s (GPU %s): %s%%\n", r->node, r->gpu, a);
            }
        }
    } else {
        fprintf(f, "      An error was encountered (%d)\n", t->util_err);
    }
    fprintf(f, "\n  GPU memory usage per node - maximum used/total\n");
    if (t->gmem_err == 0) {
        for (size_t i = 0; i < t->ngmem; i++) {
            const struct gpu_row *r = &t->gmem[i];
            fmt_bytes(a, sizeof a, r->a.v);
            fmt_bytes_alloc(b, sizeof b, r->b.v);
            if (r->b.v > 0)
                snprintf(c, sizeof c, "%.1f%%", 100.0 * r->a.v / r->b.v);
            else
                snprintf(c, sizeof c, "unknown");
            fprintf(f, "      %s (GPU %s): %s/%s (%s)\n", r->node, r->gpu, a, b, c);
        }
    } else {
        fprintf(f, "      An error was encountered (%d)\n", t->gmem_err);
    }
}

static void print_notes(FILE *f, const struct js_conf *conf, const struct sacct_job *job, const struct figures *t,
                        int64_t diff, int time_eff, double cpu_eff, double mem_eff, double gpu_util, double gmem_eff,
                        const struct report_opts *o)
{
    bool gpu_errors = job->gpus > 0 && (t->util_err || t->gmem_err);
    if (t->cpu_err || t->mem_err || gpu_errors) {
        fputc('\n', f);
        heading(f, "Notes");
        if (t->cpu_err)
            fprintf(f, "  * The CPU utilization could not be determined.\n");
        if (t->mem_err)
            fprintf(f, "  * The CPU memory usage could not be determined. Try the grafana dashboard.\n");
        if (job->gpus > 0 && t->util_err)
            fprintf(f, "  * The GPU utilization could not be determined.\n");
        if (job->gpus > 0 && t->gmem_err)
            fprintf(f, "  * The GPU memory usage could not be determined.\n");
        fprintf(f, "  * No other notes will be shown.\n\n");
        return;
    }
    fputc('\n', f);
    struct js_vars vs;
    memset(&vs, 0, sizeof vs);
    js_vars_settings(&vs, conf);
    js_vars_set(&vs, JV_CPU_EFF, cpu_eff);
    js_vars_set(&vs, JV_CPU_MEM_EFF, mem_eff);
    if (job->gpus > 0)
        js_vars_set(&vs, JV_GPU_UTIL, t->mig_job || t->util_count == 0 ? 100 : gpu_util);
    if (job->gpus > 0)
        js_vars_set(&vs, JV_GPU_MEM_EFF, gmem_eff);
    js_vars_set(&vs, JV_GPUS, job->gpus);
    js_vars_set(&vs, JV_CPUS, job->ncpus);
    js_vars_set(&vs, JV_NODES, job->nnodes);
    js_vars_set(&vs, JV_RUNTIME, (double)diff);
    if (time_eff >= 0)
        js_vars_set(&vs, JV_TIME_EFF, time_eff);
    js_vars_set(&vs, JV_ZERO_GPUS, t->util_zero);
    js_vars_set(&vs, JV_ZERO_CPU_NODES, t->zero_cpu_nodes);
    js_vars_set(&vs, JV_OOM, strcmp(job->state, "OUT_OF_MEMORY") == 0);
    js_vars_set(&vs, JV_TIMEOUT, strcmp(job->state, "TIMEOUT") == 0);
    js_vars_set(&vs, JV_COMPLETED, strcmp(job->state, "COMPLETED") == 0);
    js_vars_set(&vs, JV_RUNNING, strcmp(job->state, "RUNNING") == 0);
    js_vars_set(&vs, JV_MEM_ALLOC_GB, fmt_round0(t->mem_alloc / GIB));
    js_vars_set(&vs, JV_MEM_USED_GB, fmt_round1(t->mem_used / GIB));
    js_vars_set(&vs, JV_SUGGESTED_MEM_GB, nice_mem_gb(t->mem_used / GIB));
    if (job->gpus > 0) {
        js_vars_set(&vs, JV_CORES_PER_GPU, (double)job->ncpus / job->gpus);
        js_vars_set(&vs, JV_CPU_MEM_PER_GPU_GB, fmt_round0(t->mem_alloc / GIB / job->gpus));
    }
    js_vars_set(&vs, JV_INTERACTIVE, strcmp(job->jobname, "interactive") == 0 ||
                                         strncmp(job->jobname, "sys/dashboard/sys/", 18) == 0);
    struct buf note;
    buf_init(&note, 64 * 1024);
    bool any = false;
    for (size_t i = 0; i < conf->nnotes; i++) {
        if (!js_note_applies(&conf->notes[i], &vs))
            continue;
        buf_reset(&note);
        if (js_note_expand(&conf->notes[i], &vs, &note) != JT_OK)
            continue;
        if (!any)
            heading(f, "Notes");
        any = true;
        print_note(f, o, conf->notes[i].style, buf_str(&note));
    }
    buf_free(&note);
}

void jobstats_report(FILE *f, const struct js_conf *conf, const struct sacct_job *job, json_t *summary,
                     int64_t now, const struct report_opts *o)
{
    int64_t diff;
    if (!jobstats_runtime(job, now, &diff))
        return;
    struct figures t;
    if (!figures_compute(&t, conf, job, json_object_get(summary, "nodes"), diff)) {
        figures_free(&t);
        fprintf(f, "(out of memory while preparing the report)\n");
        return;
    }
    int time_eff = -1;
    if (strcmp(job->state, "COMPLETED") == 0 && job->timelimit_min > 0) {
        time_eff = (int)fmt_round0(100.0 * (double)diff / (60.0 * (double)job->timelimit_min));
        if (time_eff > 100)
            time_eff = 100;
    }
    double cpu_eff = t.cpu_err ? 0 : fmt_round1(100.0 * t.cpu_used / t.cpu_alloc);
    double mem_eff = t.mem_err ? 0 : fmt_round0(100.0 * t.mem_used / t.mem_alloc);
    double gpu_util = t.util_count ? t.util_sum / t.util_count : 0;
    double gmem_eff = t.gmem_err ? 0 : fmt_round0(100.0 * t.gmem_used / t.gmem_total);

    print_header(f, conf, job, diff, time_eff, o);
    print_overall(f, conf, job, &t, cpu_eff, mem_eff, gpu_util, gmem_eff, o);
    if (job->gpus > 0)
        print_exact(f, conf, summary, o);
    print_details(f, job, &t, diff, o);
    if (o->batch_script) {
        fputc('\n', f);
        heading(f, "Batch Script");
        fmt_print_clean(f, o->batch_script, true);
        if (o->batch_script[0] && o->batch_script[strlen(o->batch_script) - 1] != '\n')
            fputc('\n', f);
    }
    print_notes(f, conf, job, &t, diff, time_eff, cpu_eff, mem_eff, gpu_util, gmem_eff, o);
    figures_free(&t);
}
