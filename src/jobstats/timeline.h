/* timeline.h - a job's metrics over time on a fixed grid, for `jobstats --timeline` and `--html`.
 *
 * Two sources give the same grid: Prometheus while it still has the job (query_range over the job's
 * window, a step that gives about 80 points), and the downsampled timeline `jobtel summary` stores in
 * the summary ("jobtel" key: per node and GPU {"tl": {"t0", "cols", "pts"}}, per node "cpu_tl"), which
 * outlives Prometheus' retention. Both are resampled onto `cols` equal columns over the job's window,
 * each column the time-weighted mean of what covers it (the maximum for memory). A column nothing
 * covers, or covered only by nulls, is unknown (NaN): drawn as a gap, never as zero.
 */
#ifndef JOBTEL_TIMELINE_H
#define JOBTEL_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "jobstats/jobstats_conf.h"
#include "jobstats/sacct_parse.h"
#include "common/error.h"

enum tl_metric {
    TL_UTIL,     /* GPU utilization, % */
    TL_POWER,    /* GPU power, W */
    TL_MEM,      /* GPU memory used, GiB (column: maximum) */
    TL_SM,       /* SM active, % */
    TL_CLOCK,    /* SM clock, MHz */
    TL_THROTTLE, /* time throttled by power or thermal limits, % */
    TL_CPU,      /* CPU utilization of the node's allocation, % */
    TL_CPUMEM,   /* CPU memory used, GiB (column: maximum) */
    TL_METRICS
};

#define TL_COLS_MAX 200

struct tl_series {
    char node[128]; /* printable (fmt_clean'ed) */
    char gpu[32];   /* "" for the node's CPU series */
    enum tl_metric metric;
    double sum[TL_COLS_MAX], weight[TL_COLS_MAX], peak[TL_COLS_MAX];
};

struct tl_grid {
    int64_t start, end; /* the job's window, unix seconds */
    int cols;
    const char *source; /* "Prometheus" or "stored summary" */
    struct tl_series *s;
    size_t n, cap;
};

/* The column's value, NaN when unknown. */
double tl_value(const struct tl_series *s, int col);
/* The metric's name ("util", ...: the stored timeline's column names), title and unit. */
const char *tl_metric_key(enum tl_metric m);
const char *tl_metric_title(enum tl_metric m);
const char *tl_metric_unit(enum tl_metric m);
/* The largest known value of the metric over every series (NaN when none), and its fixed scale
 * (100 for percentages, else NaN: scaled to the largest value). */
double tl_metric_max(const struct tl_grid *g, enum tl_metric m);
double tl_metric_scale(const struct tl_grid *g, enum tl_metric m);
/* Time-weighted mean of a series over every known column (NaN when none). */
double tl_series_mean(const struct tl_series *s);

void tl_init(struct tl_grid *g, int64_t start, int64_t end, int cols);
void tl_free(struct tl_grid *g);
/* Series are kept sorted by metric, node, GPU (numerically when both are numbers). */
void tl_sort(struct tl_grid *g);

/* From the summary's "jobtel" key; returns how many series were found (0: no stored timeline).
 * Malformed points are skipped. */
/* `one_node_cpus`: the job's allocated cores when it ran on one node (sacct), else 0; a CPU timeline's
 * cores are drawn as % of the node's cores, Princeton's "cpus" key of the summary first, else this. */
size_t tl_from_summary(struct tl_grid *g, json_t *summary, double one_node_cpus);

/* From Prometheus (query_range, all queries at once). JT_OK with g->n == 0: Prometheus has no data for
 * the job. Errors name the URL in err. */
enum jt_err tl_from_prometheus(struct tl_grid *g, const struct js_conf *conf, const struct sacct_job *job,
                               bool debug, char *err, size_t errsz);

/* The terminal view: per metric, one sparkline per GPU (and per node for CPU). utf8: block characters
 * and '·' for gaps; else ASCII "_.-:=+*#" and ' ' for gaps. */
void tl_print(FILE *f, const struct tl_grid *g, const char *jobid, bool utf8);

/* True when the locale's character set is UTF-8 (LC_CTYPE from the environment). */
bool tl_locale_utf8(void);

#endif
