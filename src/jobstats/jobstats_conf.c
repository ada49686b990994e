/* jobstats_conf.c - the jobstats config file and the notes rule language (see jobstats_conf.h). */
#include "jobstats/jobstats_conf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/strparse.h"

#define JS_CONF_MAX_BYTES (1u << 20)

static const char *const var_names[JV_COUNT] = {
    [JV_CPU_EFF] = "cpu_eff", [JV_CPU_MEM_EFF] = "cpu_mem_eff", [JV_GPU_UTIL] = "gpu_util",
    [JV_GPU_MEM_EFF] = "gpu_mem_eff", [JV_GPUS] = "gpus", [JV_CPUS] = "cpus", [JV_NODES] = "nodes",
    [JV_RUNTIME] = "runtime", [JV_TIME_EFF] = "time_eff", [JV_ZERO_GPUS] = "zero_gpus",
    [JV_ZERO_CPU_NODES] = "zero_cpu_nodes", [JV_OOM] = "oom", [JV_TIMEOUT] = "timeout",
    [JV_COMPLETED] = "completed", [JV_RUNNING] = "running", [JV_MEM_ALLOC_GB] = "mem_alloc_gb",
    [JV_MEM_USED_GB] = "mem_used_gb", [JV_SUGGESTED_MEM_GB] = "suggested_mem_gb",
    [JV_CORES_PER_GPU] = "cores_per_gpu", [JV_CPU_MEM_PER_GPU_GB] = "cpu_mem_per_gpu_gb",
    [JV_INTERACTIVE] = "interactive",
    [JV_GPU_UTIL_RED] = "gpu_util_red", [JV_GPU_UTIL_BLACK] = "gpu_util_black",
    [JV_CPU_UTIL_RED] = "cpu_util_red", [JV_CPU_UTIL_BLACK] = "cpu_util_black",
    [JV_TIME_EFF_RED] = "time_efficiency_red", [JV_TIME_EFF_BLACK] = "time_efficiency_black",
    [JV_MIN_MEMORY_USAGE] = "min_memory_usage", [JV_MIN_RUNTIME] = "min_runtime",
    [JV_CPU_MEM_UTIL_RED] = "cpu_mem_util_red", [JV_GPU_MEM_UTIL_RED] = "gpu_mem_util_red",
    [JV_CO2_KG_PER_KWH] = "co2_kg_per_kwh",
};

/* The notes used when the config file has none. Our own wording; same rule language as the file. */
static const char default_notes[] =
    "note = gpus > 0 and zero_gpus > 0 and running == 0 | bold-red | {zero_gpus} of the {gpus} allocated GPUs "
    "had 0% utilization. Make sure the code uses every GPU it asks for, or request fewer GPUs.\n"
    "note = nodes > 1 and zero_cpu_nodes > 0 | bold-red | {zero_cpu_nodes} of the {nodes} allocated nodes did "
    "not use their CPUs. Request only as many nodes as the code can use.\n"
    "note = gpus > 0 and gpu_util < gpu_util_red and runtime >= min_runtime | bold-red | The overall GPU "
    "utilization of this job is only {gpu_util}%. Check that the code is GPU-bound (profilers such as "
    "nsys help), or run it on CPUs.\n"
    "note = gpus > 0 and gpu_util >= gpu_util_red and gpu_util < gpu_util_black and runtime >= min_runtime "
    "| normal | The overall GPU utilization of this job is somewhat low ({gpu_util}%).\n"
    "note = gpus == 0 and cpus > 1 and cpu_eff < cpu_util_red and runtime >= min_runtime | bold-red | The "
    "CPU utilization of this job ({cpu_eff}%) is low for {cpus} cores. Request fewer cores or make the code "
    "use all of them.\n"
    "note = gpus == 0 and cpus > 1 and cpu_eff >= cpu_util_red and cpu_eff < cpu_util_black and runtime >= "
    "min_runtime | normal | The CPU utilization of this job ({cpu_eff}%) is somewhat low.\n"
    "note = oom == 1 | bold-red | This job ran out of CPU memory. Request more, for example "
    "--mem={suggested_mem_gb}G, after checking how much the code needs.\n"
    "note = timeout == 1 | bold-red | This job reached its time limit. Request more time, or use "
    "checkpoints so the work can continue in a new job.\n"
    "note = completed == 1 and time_eff < time_efficiency_red and runtime >= min_runtime | bold-red | This job "
    "used only {time_eff}% of its time limit. A closer time limit gets jobs started sooner.\n"
    "note = completed == 1 and time_eff >= time_efficiency_red and time_eff < time_efficiency_black and "
    "runtime >= min_runtime | normal | This job used {time_eff}% of its time limit. A closer time limit gets "
    "jobs started sooner.\n"
    "note = cpu_mem_eff < min_memory_usage and mem_alloc_gb > 4 and runtime >= min_runtime and oom == 0 | "
    "normal | This job used {cpu_mem_eff}% of the {mem_alloc_gb}GB of allocated CPU memory. Next time "
    "consider --mem={suggested_mem_gb}G.\n"
    "note = gpus > 0 and cores_per_gpu > 12 | normal | This job used {cores_per_gpu} CPU cores per GPU. Most "
    "GPU codes need only a few.\n";

const char *js_var_name(enum js_var v) { return (unsigned)v < JV_COUNT ? var_names[v] : "?"; }

static bool var_lookup(const char *s, size_t n, enum js_var *out)
{
    for (int i = 0; i < JV_COUNT; i++) {
        if (strlen(var_names[i]) == n && memcmp(var_names[i], s, n) == 0) {
            *out = (enum js_var)i;
            return true;
        }
    }
    return false;
}

static void notes_free(struct js_conf *c)
{
    for (size_t i = 0; i < c->nnotes; i++)
        free(c->notes[i].text);
    c->nnotes = 0;
}

void js_conf_free(struct js_conf *c) { notes_free(c); }

void js_conf_defaults(struct js_conf *c)
{
    memset(c, 0, sizeof *c);
    str_copy(c->prom_url, sizeof c->prom_url, "http://localhost:9090", 21);
    c->cluster_label = true;
    c->fast_queries = true;
    c->exact_counters = true;
    c->sampling_period = 30;
    c->connect_timeout = 3;
    c->timeout = 30;
    c->max_jobname_len = 64;
    str_copy(c->sacct, sizeof c->sacct, "/usr/bin/sacct", 14);
    str_copy(c->sacctmgr, sizeof c->sacctmgr, "/usr/bin/sacctmgr", 17);
    c->cmd_timeout = 30;
    str_copy(c->spool_dir, sizeof c->spool_dir, "/var/spool/jobtel/summaries", 27);
    str_copy(c->seff, sizeof c->seff, "/usr/bin/seff", 13);
    c->settings[JV_GPU_UTIL_RED] = 15;
    c->settings[JV_GPU_UTIL_BLACK] = 25;
    c->settings[JV_CPU_UTIL_RED] = 65;
    c->settings[JV_CPU_UTIL_BLACK] = 80;
    c->settings[JV_TIME_EFF_RED] = 10;
    c->settings[JV_TIME_EFF_BLACK] = 60;
    c->settings[JV_MIN_MEMORY_USAGE] = 70;
    c->settings[JV_MIN_RUNTIME] = 300;
    c->settings[JV_CPU_MEM_UTIL_RED] = 0;
    c->settings[JV_GPU_MEM_UTIL_RED] = 0;
    c->settings[JV_CO2_KG_PER_KWH] = 0;
    char err[128];
    if (js_conf_parse(c, "<built-in>", default_notes, sizeof default_notes - 1, err, sizeof err) != JT_OK)
        abort(); /* the built-in notes are tested; failing here is a bug */
}

static bool word_eq(const char *s, size_t n, const char *w) { return strlen(w) == n && memcmp(s, w, n) == 0; }

/* One "a OP b" comparison. */
static bool parse_term(const char *s, size_t n, struct js_term *t)
{
    struct cursor c;
    cur_init(&c, s, n);
    cur_skip_space(&c);
    const char *tok;
    size_t len = cur_token(&c, " \t<>=!", &tok);
    if (!var_lookup(tok, len, &t->var))
        return false;
    cur_skip_space(&c);
    const char *op;
    size_t oplen = cur_token(&c, " \t", &op);
    if (word_eq(op, oplen, "<")) t->op = JOP_LT;
    else if (word_eq(op, oplen, "<=")) t->op = JOP_LE;
    else if (word_eq(op, oplen, ">")) t->op = JOP_GT;
    else if (word_eq(op, oplen, ">=")) t->op = JOP_GE;
    else if (word_eq(op, oplen, "==")) t->op = JOP_EQ;
    else if (word_eq(op, oplen, "!=")) t->op = JOP_NE;
    else return false;
    cur_skip_space(&c);
    const char *rhs = c.p;
    size_t rlen = (size_t)(c.end - c.p);
    str_trim(&rhs, &rlen);
    t->rhs_is_var = var_lookup(rhs, rlen, &t->rhs_var);
    if (!t->rhs_is_var && !str_to_double(rhs, rlen, &t->rhs))
        return false;
    return true;
}

static bool check_placeholders(const char *text, size_t n, char *bad, size_t badsz)
{
    for (size_t i = 0; i < n; i++) {
        if (text[i] != '{')
            continue;
        const char *close = memchr(text + i, '}', n - i);
        enum js_var v;
        size_t len = close ? (size_t)(close - text - i - 1) : n - i - 1;
        if (!close || !var_lookup(text + i + 1, len, &v)) {
            str_copy(bad, badsz, text + i, close ? len + 2 : n - i);
            return false;
        }
        i += len + 1;
    }
    return true;
}

static enum jt_err parse_note(struct js_note *note, const char *v, size_t n, char *why, size_t whysz)
{
    const char *bar1 = memchr(v, '|', n);
    const char *bar2 = bar1 ? memchr(bar1 + 1, '|', (size_t)(v + n - bar1 - 1)) : NULL;
    if (!bar2) {
        snprintf(why, whysz, "a note is CONDITION | STYLE | TEXT");
        return JT_ERR_USAGE;
    }
    memset(note, 0, sizeof *note);
    /* Condition: terms separated by the word "and". */
    const char *p = v, *cend = bar1;
    while (p < cend) {
        const char *sep = NULL;
        for (const char *q = p; q + 5 <= cend; q++)
            if (memcmp(q, " and ", 5) == 0) {
                sep = q;
                break;
            }
        const char *tend = sep ? sep : cend;
        if (note->nterms == JS_MAX_TERMS) {
            snprintf(why, whysz, "more than %d comparisons in one condition", JS_MAX_TERMS);
            return JT_ERR_USAGE;
        }
        if (!parse_term(p, (size_t)(tend - p), &note->terms[note->nterms])) {
            snprintf(why, whysz, "bad comparison '%.*s' (want VARIABLE OP NUMBER|VARIABLE)", (int)(tend - p), p);
            return JT_ERR_USAGE;
        }
        note->nterms++;
        p = sep ? sep + 5 : cend;
    }
    if (note->nterms == 0) {
        snprintf(why, whysz, "empty condition");
        return JT_ERR_USAGE;
    }
    const char *st = bar1 + 1;
    size_t stl = (size_t)(bar2 - st);
    str_trim(&st, &stl);
    if (word_eq(st, stl, "normal")) note->style = JS_STYLE_NORMAL;
    else if (word_eq(st, stl, "bold")) note->style = JS_STYLE_BOLD;
    else if (word_eq(st, stl, "bold-red")) note->style = JS_STYLE_BOLD_RED;
    else {
        snprintf(why, whysz, "style must be normal, bold or bold-red");
        return JT_ERR_USAGE;
    }
    const char *tx = bar2 + 1;
    size_t txl = (size_t)(v + n - tx);
    str_trim(&tx, &txl);
    char bad[64];
    if (txl == 0 || !check_placeholders(tx, txl, bad, sizeof bad)) {
        snprintf(why, whysz, txl ? "unknown placeholder %s" : "empty note text", bad);
        return JT_ERR_USAGE;
    }
    note->text = strndup(tx, txl);
    return note->text ? JT_OK : JT_ERR_NOMEM;
}

static bool parse_number(const char *v, size_t n, double lo, double hi, double *out)
{
    double d;
    if (!str_to_double(v, n, &d) || d < lo || d > hi)
        return false;
    *out = d;
    return true;
}

enum jt_err js_conf_parse(struct js_conf *c, const char *name, const char *text, size_t n, char *err,
                          size_t errsz)
{
    struct cursor cur;
    const char *line;
    size_t len;
    unsigned lineno = 0;
    bool file_notes = false;
    char why[256];
    cur_init(&cur, text, n);
    while (cur_line(&cur, &line, &len)) {
        lineno++;
        str_trim(&line, &len);
        if (len == 0 || line[0] == '#')
            continue;
        const char *eq = memchr(line, '=', len);
        if (!eq) {
            snprintf(err, errsz, "%s:%u: expected KEY = VALUE", name, lineno);
            return JT_ERR_USAGE;
        }
        const char *k = line, *v = eq + 1;
        size_t kl = (size_t)(eq - line), vl = len - kl - 1;
        str_trim(&k, &kl);
        str_trim(&v, &vl);
        enum js_var sv;
        why[0] = '\0';
        bool ok = true;
        double d;
        if (word_eq(k, kl, "note")) {
            if (!file_notes) { /* notes in a file replace the built-in ones */
                notes_free(c);
                file_notes = true;
            }
            if (c->nnotes == JS_MAX_NOTES) {
                snprintf(err, errsz, "%s:%u: more than %d notes", name, lineno, JS_MAX_NOTES);
                return JT_ERR_USAGE;
            }
            enum jt_err e = parse_note(&c->notes[c->nnotes], v, vl, why, sizeof why);
            if (e == JT_ERR_NOMEM)
                return e;
            if (e == JT_OK)
                c->nnotes++;
            ok = e == JT_OK;
        } else if (word_eq(k, kl, "prometheus_url")) {
            ok = vl > 0 && str_copy(c->prom_url, sizeof c->prom_url, v, vl);
            while (ok && vl > 0 && c->prom_url[vl - 1] == '/') /* we add the API path ourselves */
                c->prom_url[--vl] = '\0';
        } else if (word_eq(k, kl, "cluster")) {
            ok = str_copy(c->cluster, sizeof c->cluster, v, vl) && !memchr(v, '\'', vl) && !memchr(v, '\\', vl);
        } else if (word_eq(k, kl, "cluster_label")) {
            ok = word_eq(v, vl, "true") || word_eq(v, vl, "false");
            c->cluster_label = word_eq(v, vl, "true");
        } else if (word_eq(k, kl, "sluid")) {
            ok = word_eq(v, vl, "auto") || word_eq(v, vl, "true") || word_eq(v, vl, "false");
            c->sluid = word_eq(v, vl, "true") ? JS_SLUID_YES : word_eq(v, vl, "false") ? JS_SLUID_NO : JS_SLUID_AUTO;
        } else if (word_eq(k, kl, "fast_queries")) {
            ok = word_eq(v, vl, "true") || word_eq(v, vl, "false");
            c->fast_queries = word_eq(v, vl, "true");
        } else if (word_eq(k, kl, "exact_counters")) {
            ok = word_eq(v, vl, "true") || word_eq(v, vl, "false");
            c->exact_counters = word_eq(v, vl, "true");
        } else if (word_eq(k, kl, "sampling_period")) {
            ok = parse_number(v, vl, 1, 3600, &c->sampling_period);
        } else if (word_eq(k, kl, "connect_timeout")) {
            ok = parse_number(v, vl, 0.1, 600, &c->connect_timeout);
        } else if (word_eq(k, kl, "timeout")) {
            ok = parse_number(v, vl, 0.1, 3600, &c->timeout);
        } else if (word_eq(k, kl, "command_timeout")) {
            ok = parse_number(v, vl, 0.1, 3600, &c->cmd_timeout);
        } else if (word_eq(k, kl, "max_jobname_len")) {
            ok = parse_number(v, vl, 8, 255, &d);
            c->max_jobname_len = ok ? (unsigned)d : c->max_jobname_len;
        } else if (word_eq(k, kl, "sacct") || word_eq(k, kl, "sacctmgr") || word_eq(k, kl, "spool_dir") ||
                   word_eq(k, kl, "seff")) {
            char *dst = word_eq(k, kl, "sacct") ? c->sacct : word_eq(k, kl, "sacctmgr") ? c->sacctmgr
                        : word_eq(k, kl, "seff") ? c->seff : c->spool_dir;
            ok = vl > 0 && v[0] == '/' && str_copy(dst, 256, v, vl);
            if (!ok)
                snprintf(why, sizeof why, "%.*s must be an absolute path", (int)kl, k);
        } else if (word_eq(k, kl, "mig_nodes")) {
            /* Princeton's MIG_NODES_1/2: hosts whose GPUs are MIG slices (comma-separated, no spaces) */
            ok = str_copy(c->mig_nodes, sizeof c->mig_nodes, v, vl) && !memchr(v, ' ', vl);
        } else if (var_lookup(k, kl, &sv) && sv >= JV_GPU_UTIL_RED) {
            ok = parse_number(v, vl, 0, 1e9, &c->settings[sv]);
        } else {
            snprintf(err, errsz, "%s:%u: unknown key '%.*s'", name, lineno, (int)kl, k);
            return JT_ERR_USAGE;
        }
        if (!ok) {
            if (why[0])
                snprintf(err, errsz, "%s:%u: %s", name, lineno, why);
            else
                snprintf(err, errsz, "%s:%u: bad value for %.*s", name, lineno, (int)kl, k);
            return JT_ERR_USAGE;
        }
    }
    return JT_OK;
}

enum jt_err js_conf_load(struct js_conf *c, const char *path, bool must_exist, char *err, size_t errsz)
{
    struct buf b;
    buf_init(&b, JS_CONF_MAX_BYTES);
    enum jt_err e = file_read(path, JS_CONF_MAX_BYTES, &b);
    if (e == JT_ERR_NOT_FOUND && !must_exist) {
        e = JT_OK;
        goto out;
    }
    if (e != JT_OK) {
        snprintf(err, errsz, "%s: %s", path, jt_strerror(e));
        e = JT_ERR_USAGE;
        goto out;
    }
    e = js_conf_parse(c, path, buf_str(&b), b.len, err, errsz);
out:
    buf_free(&b);
    return e;
}

void js_vars_set(struct js_vars *vs, enum js_var v, double val)
{
    if (isfinite(val)) {
        vs->v[v] = val;
        vs->valid[v] = true;
    }
}

void js_vars_settings(struct js_vars *vs, const struct js_conf *c)
{
    for (int i = JV_GPU_UTIL_RED; i < JV_COUNT; i++)
        js_vars_set(vs, (enum js_var)i, c->settings[i]);
}

bool js_note_applies(const struct js_note *note, const struct js_vars *vs)
{
    for (size_t i = 0; i < note->nterms; i++) {
        const struct js_term *t = &note->terms[i];
        if (!vs->valid[t->var] || (t->rhs_is_var && !vs->valid[t->rhs_var]))
            return false;
        double a = vs->v[t->var], b = t->rhs_is_var ? vs->v[t->rhs_var] : t->rhs;
        bool r;
        switch (t->op) {
        case JOP_LT: r = a < b; break;
        case JOP_LE: r = a <= b; break;
        case JOP_GT: r = a > b; break;
        case JOP_GE: r = a >= b; break;
        case JOP_EQ: r = a == b; break;
        case JOP_NE: r = a != b; break;
        default: r = false; break;
        }
        if (!r)
            return false;
    }
    return true;
}

enum jt_err js_note_expand(const struct js_note *note, const struct js_vars *vs, struct buf *out)
{
    const char *s = note->text;
    while (*s) {
        const char *open = strchr(s, '{');
        if (!open) {
            buf_puts(out, s);
            break;
        }
        buf_append(out, s, (size_t)(open - s));
        const char *close = strchr(open, '}');
        enum js_var v;
        if (!close || !var_lookup(open + 1, (size_t)(close - open - 1), &v))
            return JT_ERR_INTERNAL; /* checked at parse time */
        if (!vs->valid[v])
            buf_puts(out, "?");
        else if (fabs(vs->v[v] - round(vs->v[v])) < 1e-9)
            buf_printf(out, "%.0f", vs->v[v]);
        else
            buf_printf(out, "%.1f", vs->v[v]);
        s = close + 1;
    }
    return out->err;
}
