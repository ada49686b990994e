/* exact.c - a running job's exact GPU totals from Prometheus (see exact.h).
 *
 * Entries are keyed by (instance, gpu, MIG instance): the same GPU scraped through one target gives one
 * series per counter, and a repeated series (a relabelled duplicate target) keeps its largest value, as
 * max_over_time would. Nothing here makes up a figure: a counter without a series is absent from the
 * key, and Princeton's keys are filled only when every GPU of the job has what they need.
 */
#include "jobstats/exact.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobstats/promq.h"
#include "common/strparse.h"

enum { EX_ALLOC, EX_BUSY, EX_ENERGY, EX_SM, EX_MEM, EX_XIDS, EX_THROTTLE, EX_COUNT };

/* The summary key ("jobtel" record names, as records.c writes them) and the counter behind it. */
static const struct {
    const char *key, *metric;
} counters[EX_COUNT] = {
    [EX_ALLOC] = {"alloc", "jobtel_job_gpu_allocated_seconds_total"},
    [EX_BUSY] = {"busy", "jobtel_job_gpu_busy_seconds_total"},
    [EX_ENERGY] = {"energy", "jobtel_job_gpu_energy_joules_total"},
    [EX_SM] = {"sm", "jobtel_job_gpu_sm_active_seconds_total"},
    [EX_MEM] = {"mem_peak", "jobtel_job_gpu_memory_peak_bytes"},
    [EX_XIDS] = {"xids", "jobtel_job_gpu_xid_errors_total"},
    [EX_THROTTLE] = {"throttle", "jobtel_job_gpu_throttle_seconds_total"},
};

#define EX_GPUS_MAX 4096 /* (node, GPU) pairs of one job: far beyond any allocation */

struct ex_gpu {
    char host[256]; /* instance without the port: Princeton's node name */
    char node[256]; /* hostname label when there is one (the node's own name), else host */
    char gpu[32];   /* NVML index, ".GPU_I_ID" for a MIG instance */
    bool mig;
    double v[EX_COUNT];
    bool has[EX_COUNT];
};

enum jt_err exact_build_totals(const char *cluster, const char *jobid, int64_t range_s, struct buf *out)
{
    char sel[256];
    enum jt_err rc = promq_job_selector(cluster, jobid, range_s, sel, sizeof sel);
    for (int k = 0; k < EX_COUNT && rc == JT_OK; k++)
        rc = buf_printf(out, "%slabel_replace(max_over_time(%s{%s}[%llds]),'k','%s','','')", k ? " or " : "",
                        counters[k].metric, sel, (long long)range_s, counters[k].key);
    return rc;
}

enum jt_err exact_build_inventory(const char *cluster, const char *jobid, int64_t range_s, struct buf *out)
{
    char sel[256];
    enum jt_err rc = promq_job_selector(cluster, jobid, range_s, sel, sizeof sel);
    if (rc != JT_OK)
        return rc;
    return buf_printf(out, "max_over_time(nvidia_gpu_memory_total_bytes{%s}[%llds])", sel, (long long)range_s);
}

static const char *label(const json_t *metric, const char *name)
{
    return json_string_value(json_object_get(metric, name));
}

static bool small_label(const char *s, size_t max) { return s && s[0] && strlen(s) <= max; }

/* The entry for (host, gpu), appended when new; NULL when the table is full or out of memory. */
static struct ex_gpu *entry(struct ex_gpu **tab, size_t *n, size_t *cap, const char *host, const char *node,
                            const char *gpu, bool mig)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*tab)[i].host, host) == 0 && strcmp((*tab)[i].gpu, gpu) == 0)
            return &(*tab)[i];
    if (*n == EX_GPUS_MAX)
        return NULL;
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        struct ex_gpu *p = realloc(*tab, nc * sizeof *p);
        if (!p)
            return NULL;
        *tab = p;
        *cap = nc;
    }
    struct ex_gpu *e = &(*tab)[(*n)++];
    memset(e, 0, sizeof *e);
    snprintf(e->host, sizeof e->host, "%s", host);
    snprintf(e->node, sizeof e->node, "%s", node);
    snprintf(e->gpu, sizeof e->gpu, "%s", gpu);
    e->mig = mig;
    return e;
}

static enum jt_err read_totals(json_t *result, struct ex_gpu **tab, size_t *n, size_t *cap, char *err, size_t errsz)
{
    size_t i;
    json_t *s;
    json_array_foreach(result, i, s) {
        json_t *metric = json_object_get(s, "metric"), *value = json_object_get(s, "value");
        const char *k = label(metric, "k"), *gpu = label(metric, "gpu"), *gi = label(metric, "GPU_I_ID");
        const char *hn = label(metric, "hostname");
        char host[256], key[32];
        double v;
        if (!k || !small_label(gpu, 11) || (gi && !small_label(gi, 11)) || !promq_instance_host(label(metric, "instance"), host, sizeof host) ||
            (hn && strlen(hn) >= 256) || json_array_size(value) != 2) {
            snprintf(err, errsz, "exact totals: series %zu lacks its labels (k, gpu, instance) or value", i);
            return JT_ERR_PARSE;
        }
        if (!promq_sample_value(json_array_get(value, 1), &v)) {
            snprintf(err, errsz, "exact totals: series %zu has a bad value", i);
            return JT_ERR_PARSE;
        }
        int c = 0;
        while (c < EX_COUNT && strcmp(counters[c].key, k) != 0)
            c++;
        if (c == EX_COUNT)
            continue; /* not one of ours (a label k on a site's own series): ignored */
        snprintf(key, sizeof key, "%s%s%s", gpu, gi ? "." : "", gi ? gi : "");
        struct ex_gpu *e = entry(tab, n, cap, host, hn && hn[0] ? hn : host, key, gi != NULL);
        if (!e) {
            snprintf(err, errsz, "exact totals: too many GPUs or out of memory");
            return JT_ERR_NOMEM;
        }
        if (!e->has[c] || v > e->v[c])
            e->v[c] = v;
        e->has[c] = true;
    }
    return JT_OK;
}

/* Princeton's number rule (promq.c): whole numbers as integers, else one decimal. */
static json_t *princeton_number(double v)
{
    return v == floor(v) ? json_integer((json_int_t)v) : json_real(round(v * 10.0) / 10.0);
}

static json_t *obj_child(json_t *o, const char *key)
{
    json_t *c = json_object_get(o, key);
    if (!json_is_object(c)) {
        c = json_object();
        if (!c || json_object_set_new(o, key, c) != 0)
            return NULL;
    }
    return c;
}

/* Princeton's three GPU keys from the exact totals, into a new object (host -> keys) the caller merges;
 * NULL (no error) when some GPU of the inventory lacks exact totals or the join is not possible. */
static json_t *princeton_gpu_keys(json_t *inventory, const struct ex_gpu *tab, size_t n, bool *incomplete)
{
    json_t *nodes = json_object();
    size_t i, used = 0;
    json_t *s;
    if (!nodes || json_array_size(inventory) == 0)
        goto no;
    json_array_foreach(inventory, i, s) {
        json_t *metric = json_object_get(s, "metric");
        const char *ord = label(metric, "ordinal"), *minor = label(metric, "minor_number");
        char host[256];
        double total;
        if (!small_label(ord, 11) || !small_label(minor, 11) || !promq_instance_host(label(metric, "instance"), host, sizeof host) ||
            !promq_sample_value(json_array_get(json_object_get(s, "value"), 1), &total))
            goto no;
        const struct ex_gpu *e = NULL;
        for (size_t j = 0; j < n && !e; j++)
            if (strcmp(tab[j].host, host) == 0 && strcmp(tab[j].gpu, ord) == 0)
                e = &tab[j];
        if (!e || !e->has[EX_ALLOC])
            *incomplete = true;
        if (!e || e->mig || !e->has[EX_ALLOC] || !e->has[EX_BUSY] || !e->has[EX_MEM] || e->v[EX_ALLOC] <= 0)
            goto no;
        double util = 100.0 * e->v[EX_BUSY] / e->v[EX_ALLOC];
        json_t *node = obj_child(nodes, host);
        json_t *u = node ? obj_child(node, "gpu_utilization") : NULL, *m = node ? obj_child(node, "gpu_used_memory") : NULL;
        json_t *t = node ? obj_child(node, "gpu_total_memory") : NULL;
        if (!u || !m || !t || json_object_get(u, minor))
            goto no; /* a minor number twice on one node: not a join we can trust */
        json_object_set_new(u, minor, princeton_number(util > 100 ? 100 : util));
        json_object_set_new(m, minor, princeton_number(e->v[EX_MEM]));
        json_object_set_new(t, minor, princeton_number(total));
        used++;
    }
    /* Every exact GPU must be one the inventory lists, or a GPU would count in one view only. */
    size_t real = 0;
    for (size_t j = 0; j < n; j++)
        real += tab[j].has[EX_ALLOC];
    if (used != real)
        goto no;
    return nodes;
no:
    json_decref(nodes);
    return NULL;
}

static json_t *jobtel_key(const struct ex_gpu *tab, size_t n)
{
    json_t *jt = json_object(), *nodes = json_object();
    if (!jt || !nodes) {
        json_decref(jt);
        json_decref(nodes);
        return NULL;
    }
    double busy = 0, busy_alloc = 0, sm = 0, sm_alloc = 0, energy = 0;
    bool has_energy = false;
    for (size_t i = 0; i < n; i++) {
        const struct ex_gpu *e = &tab[i];
        if (!e->has[EX_ALLOC])
            continue; /* a GPU the job never held a whole interval: nothing to account */
        json_t *node = obj_child(nodes, e->node), *g = json_object();
        if (!node || !g || json_object_set_new(node, e->gpu, g) != 0)
            continue;
        for (int c = 0; c < EX_COUNT; c++)
            if (e->has[c])
                json_object_set_new(g, counters[c].key, c == EX_XIDS ? json_integer((json_int_t)e->v[c]) : json_real(e->v[c]));
        if (e->has[EX_BUSY]) {
            busy += e->v[EX_BUSY];
            busy_alloc += e->v[EX_ALLOC];
        }
        if (e->has[EX_SM]) {
            sm += e->v[EX_SM];
            sm_alloc += e->v[EX_ALLOC];
        }
        if (e->has[EX_ENERGY]) {
            energy += e->v[EX_ENERGY];
            has_energy = true;
        }
    }
    json_object_set_new(jt, "v", json_integer(1));
    json_object_set_new(jt, "source", json_string("prometheus"));
    if (busy_alloc > 0)
        json_object_set_new(jt, "gpu_util_exact", json_real(round(1000 * 100 * busy / busy_alloc) / 1000));
    if (sm_alloc > 0)
        json_object_set_new(jt, "sm_active", json_real(round(1000 * 100 * sm / sm_alloc) / 1000));
    if (has_energy)
        json_object_set_new(jt, "energy_j", json_real(round(energy)));
    json_object_set_new(jt, "nodes", nodes);
    return jt;
}

enum jt_err exact_fold(const char *totals, size_t totals_len, const char *inventory, size_t inventory_len,
                       size_t want_gpus, json_t *summary, bool *gpu_keys, bool *incomplete, char *err, size_t errsz)
{
    json_t *troot = NULL, *iroot = NULL, *tres, *ires, *pkeys = NULL;
    struct ex_gpu *tab = NULL;
    size_t n = 0, cap = 0;
    *gpu_keys = *incomplete = false;
    enum jt_err rc = promq_load_result(totals, totals_len, "vector", &troot, &tres, err, errsz);
    if (rc == JT_OK)
        rc = promq_load_result(inventory, inventory_len, "vector", &iroot, &ires, err, errsz);
    if (rc == JT_OK)
        rc = read_totals(tres, &tab, &n, &cap, err, errsz);
    if (rc == JT_OK && n == 0 && json_array_size(ires) > 0)
        *incomplete = true; /* GPUs, but no totals in the window asked */
    bool inventory_whole = rc != JT_OK || want_gpus == 0 || json_array_size(ires) == want_gpus;
    if (!inventory_whole)
        *incomplete = true; /* a GPU missing from a short window's inventory (or one too many) */
    if (rc != JT_OK || n == 0)
        goto out;
    json_t *jt = jobtel_key(tab, n);
    if (!jt) {
        rc = JT_ERR_NOMEM;
        goto out;
    }
    if (json_object_size(json_object_get(jt, "nodes")) == 0) {
        json_decref(jt); /* counters without an allocated total: nothing exact to say */
        goto out;
    }
    json_object_set_new(summary, "jobtel", jt);
    json_t *nodes = json_object_get(summary, "nodes");
    pkeys = json_is_object(nodes) && inventory_whole ? princeton_gpu_keys(ires, tab, n, incomplete) : NULL;
    if (pkeys) {
        const char *host;
        json_t *keys;
        json_object_foreach(pkeys, host, keys) {
            json_t *node = obj_child(nodes, host);
            if (!node) {
                rc = JT_ERR_NOMEM;
                goto out;
            }
            json_object_update(node, keys);
        }
        *gpu_keys = true;
    }
out:
    json_decref(pkeys);
    json_decref(troot);
    json_decref(iroot);
    free(tab);
    return rc;
}
