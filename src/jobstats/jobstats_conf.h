/* jobstats_conf.h - /etc/jobtel/jobstats.conf: Prometheus, cluster, thresholds and the notes.
 *
 * Princeton keeps these in a Python file whose note conditions are eval()ed; we must never run code
 * from a config file, so a note is data: "note = CONDITION | STYLE | TEXT", where CONDITION is
 * comparisons joined by "and" (`gpu_util < gpu_util_red and runtime >= min_runtime`) over a fixed set
 * of variables, and TEXT may name the same variables in {braces}. Everything is checked when the file
 * is read, so a typo is an error naming file:line, not a note that silently never shows.
 */
#ifndef JOBTEL_JOBSTATS_CONF_H
#define JOBTEL_JOBSTATS_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

#define JS_CONF_DEFAULT_PATH "/etc/jobtel/jobstats.conf"
#define JS_MAX_NOTES 64
#define JS_MAX_TERMS 8

/* Note variables. The thresholds are variables too, so conditions can say `cpu_eff < cpu_util_red`. */
enum js_var {
    JV_CPU_EFF, JV_CPU_MEM_EFF, JV_GPU_UTIL, JV_GPU_MEM_EFF, JV_GPUS, JV_CPUS, JV_NODES, JV_RUNTIME,
    JV_TIME_EFF, JV_ZERO_GPUS, JV_ZERO_CPU_NODES, JV_OOM, JV_TIMEOUT, JV_COMPLETED, JV_RUNNING,
    JV_MEM_ALLOC_GB, JV_MEM_USED_GB, JV_SUGGESTED_MEM_GB, JV_CORES_PER_GPU, JV_CPU_MEM_PER_GPU_GB,
    JV_INTERACTIVE,
    /* settings */
    JV_GPU_UTIL_RED, JV_GPU_UTIL_BLACK, JV_CPU_UTIL_RED, JV_CPU_UTIL_BLACK, JV_TIME_EFF_RED,
    JV_TIME_EFF_BLACK, JV_MIN_MEMORY_USAGE, JV_MIN_RUNTIME, JV_CPU_MEM_UTIL_RED, JV_GPU_MEM_UTIL_RED,
    JV_CO2_KG_PER_KWH, /* the site's emission factor for CO2e in the energy line; 0 = none */
    JV_COUNT
};

enum { JS_SLUID_AUTO, JS_SLUID_YES, JS_SLUID_NO }; /* auto: `sacct -V` major > 25 */

enum js_op { JOP_LT, JOP_LE, JOP_GT, JOP_GE, JOP_EQ, JOP_NE };
enum js_style { JS_STYLE_NORMAL, JS_STYLE_BOLD, JS_STYLE_BOLD_RED };

struct js_term {
    enum js_var var;
    enum js_op op;
    bool rhs_is_var;
    enum js_var rhs_var;
    double rhs;
};

struct js_note {
    struct js_term terms[JS_MAX_TERMS];
    size_t nterms;
    enum js_style style;
    char *text; /* owned */
};

struct js_conf {
    char prom_url[512];
    char cluster[64];     /* value of the `cluster` label; "" = use sacct's cluster */
    bool cluster_label;   /* false: queries carry no cluster matcher (sites without the label) */
    int sluid;            /* JS_SLUID_*: ask sacct for the SLUID (Slurm >= 26.05) */
    bool fast_queries;    /* cheaper GPU utilization query, same figures (see jobstats_collect) */
    bool exact_counters;  /* GPU figures from jobtel's per-job counters when Prometheus has them */
    double sampling_period;
    double connect_timeout, timeout;
    unsigned max_jobname_len;
    char sacct[256], sacctmgr[256];
    char seff[256];       /* Princeton shows seff's report for jobs shorter than one sampling period */
    double cmd_timeout;
    char spool_dir[256];
    char mig_nodes[1024]; /* comma-separated host names with MIG GPUs ("" = none) */
    double settings[JV_COUNT]; /* only the settings part is used */
    struct js_note notes[JS_MAX_NOTES];
    size_t nnotes;
};

/* Values of note variables for one job; a variable without a value makes its comparisons false. */
struct js_vars {
    double v[JV_COUNT];
    bool valid[JV_COUNT];
};

void js_conf_defaults(struct js_conf *c);
void js_conf_free(struct js_conf *c);

/* Parses config text. On error returns JT_ERR_USAGE and writes "NAME:LINE: why" into err. */
enum jt_err js_conf_parse(struct js_conf *c, const char *name, const char *text, size_t n, char *err,
                          size_t errsz);
/* Reads and parses a file; a missing file is fine when !must_exist. */
enum jt_err js_conf_load(struct js_conf *c, const char *path, bool must_exist, char *err, size_t errsz);

const char *js_var_name(enum js_var v);
void js_vars_set(struct js_vars *vs, enum js_var v, double val);
/* Copies the settings of c into vs. */
void js_vars_settings(struct js_vars *vs, const struct js_conf *c);

bool js_note_applies(const struct js_note *note, const struct js_vars *vs);
/* Expands {var} placeholders (numbers: whole numbers without decimals, else one decimal). */
enum jt_err js_note_expand(const struct js_note *note, const struct js_vars *vs, struct buf *out);

#endif
