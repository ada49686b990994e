/* promq.c - jobstats' Prometheus queries and answer parsing (see promq.h). */
#include "jobstats/promq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strparse.h"

static const char *const key_names[PQ_COUNT] = {
    [PQ_TOTAL_MEMORY] = "total_memory", [PQ_USED_MEMORY] = "used_memory", [PQ_TOTAL_TIME] = "total_time",
    [PQ_CPUS] = "cpus", [PQ_GPU_TOTAL_MEMORY] = "gpu_total_memory", [PQ_GPU_USED_MEMORY] = "gpu_used_memory",
    [PQ_GPU_UTILIZATION] = "gpu_utilization",
};

const char *promq_key_name(enum promq_key k) { return (unsigned)k < PQ_COUNT ? key_names[k] : "?"; }

static bool safe_label_value(const char *s, bool digits_only)
{
    for (; *s; s++) {
        if (digits_only ? !((*s >= '0' && *s <= '9') || *s == '_' || *s == '.') : (*s == '\'' || *s == '\\' || *s == '\n'))
            return false;
    }
    return true;
}

/* The matcher of a job's series: cluster (unless empty) and `id`, both checked by the caller. */
static void format_selector(const char *cluster, const char *id, char *sel, size_t selsz)
{
    if (cluster && cluster[0])
        snprintf(sel, selsz, "cluster='%s',jobid='%s'", cluster, id);
    else
        snprintf(sel, selsz, "jobid='%s'", id);
}

enum jt_err promq_job_selector(const char *cluster, const char *jobid, int64_t range_s, char *sel, size_t selsz)
{
    if (!jobid[0] || !safe_label_value(jobid, true) || (cluster && !safe_label_value(cluster, false)) || range_s < 1)
        return JT_ERR_USAGE;
    format_selector(cluster, jobid, sel, selsz);
    return JT_OK;
}

/* The job-level cgroup series of a job's matcher: those of no step and no task. */
static void cgroup_selector(const char *sel, char *cgsel, size_t cgselsz)
{
    snprintf(cgsel, cgselsz, "%s,step='',task=''", sel);
}

/* The four per-job cgroup queries over the selector cgsel (jobstats.md §1.3). */
static enum jt_err cgroup_query(enum promq_key k, const char *cgsel, long long d, struct buf *out)
{
    switch (k) {
    case PQ_TOTAL_MEMORY:
        return buf_printf(out, "max_over_time(cgroup_memory_total_bytes{%s}[%llds])", cgsel, d);
    case PQ_USED_MEMORY:
        return buf_printf(out,
                          "max_over_time(((cgroup_memory_rss_bytes{%s} + cgroup_memory_shmem_bytes{%s}) or "
                          "1*cgroup_memory_rss_bytes{%s})[%llds:])",
                          cgsel, cgsel, cgsel, d);
    case PQ_TOTAL_TIME:
        return buf_printf(out, "max_over_time(cgroup_cpu_total_seconds{%s}[%llds])", cgsel, d);
    case PQ_CPUS:
        return buf_printf(out, "max_over_time(cgroup_cpus{%s}[%llds])", cgsel, d);
    default:
        return JT_ERR_INTERNAL;
    }
}

enum jt_err promq_build(enum promq_key k, const char *cluster, const char *jobid, int64_t range_s,
                        struct buf *out)
{
    char sel[256], cgsel[300];
    enum jt_err rc = promq_job_selector(cluster, jobid, range_s, sel, sizeof sel);
    if (rc != JT_OK)
        return rc;
    cgroup_selector(sel, cgsel, sizeof cgsel);
    long long d = (long long)range_s;
    switch (k) {
    case PQ_TOTAL_MEMORY:
    case PQ_USED_MEMORY:
    case PQ_TOTAL_TIME:
    case PQ_CPUS:
        return cgroup_query(k, cgsel, d, out);
    case PQ_GPU_TOTAL_MEMORY:
        return buf_printf(out, "max_over_time(nvidia_gpu_memory_total_bytes{%s}[%llds:])", sel, d);
    case PQ_GPU_USED_MEMORY:
        return buf_printf(out, "max_over_time(nvidia_gpu_memory_used_bytes{%s}[%llds:])", sel, d);
    case PQ_GPU_UTILIZATION:
        return buf_printf(out,
                          "avg_over_time((nvidia_gpu_duty_cycle{%s} or (nvidia_gpu_graphics_util_percent{%s} * "
                          "100))[%llds:])",
                          sel, sel, d);
    case PQ_COUNT:
        break;
    }
    return JT_ERR_INTERNAL;
}

/* The cgroup matcher of a SLUID into cgsel, after " or " is appended to out; JT_ERR_USAGE unless the
 * SLUID is letters, digits, '_', '-' and '.' (promq_build checks the job id as a Slurm job id). */
static enum jt_err sluid_or(const char *cluster, const char *sluid, char *cgsel, size_t cgselsz, struct buf *out)
{
    for (const char *p = sluid; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              *p == '-' || *p == '.'))
            return JT_ERR_USAGE;
    char sel[256];
    format_selector(cluster, sluid, sel, sizeof sel);
    cgroup_selector(sel, cgsel, cgselsz);
    return buf_puts(out, " or ");
}

enum jt_err promq_build_job(enum promq_key k, const char *cluster, const char *jobid, const char *sluid,
                            int64_t range_s, struct buf *out)
{
    enum jt_err rc = promq_build(k, cluster, jobid, range_s, out);
    if (rc != JT_OK || !sluid || !sluid[0] || k > PQ_CPUS)
        return rc;
    char cgsel[300];
    if ((rc = sluid_or(cluster, sluid, cgsel, sizeof cgsel, out)) != JT_OK)
        return rc;
    return cgroup_query(k, cgsel, (long long)range_s, out);
}

static enum jt_err mem_peak_query(const char *cgsel, long long d, struct buf *out)
{
    return buf_printf(out, "max_over_time(jobtel_job_memory_peak_bytes{%s}[%llds])", cgsel, d);
}

enum jt_err promq_build_mem_peak(const char *cluster, const char *jobid, const char *sluid, int64_t window_s,
                                 struct buf *out)
{
    char sel[256], cgsel[300];
    enum jt_err rc = promq_job_selector(cluster, jobid, window_s, sel, sizeof sel);
    if (rc != JT_OK)
        return rc;
    cgroup_selector(sel, cgsel, sizeof cgsel);
    rc = mem_peak_query(cgsel, (long long)window_s, out);
    if (rc != JT_OK || !sluid || !sluid[0])
        return rc;
    if ((rc = sluid_or(cluster, sluid, cgsel, sizeof cgsel, out)) != JT_OK)
        return rc;
    return mem_peak_query(cgsel, (long long)window_s, out);
}

enum jt_err promq_build_util_fast(const char *cluster, const char *jobid, int64_t range_s, struct buf *out)
{
    char sel[256];
    enum jt_err rc = promq_job_selector(cluster, jobid, range_s, sel, sizeof sel);
    if (rc != JT_OK)
        return rc;
    return buf_printf(out, "avg_over_time(nvidia_gpu_duty_cycle{%s}[%llds:])", sel, (long long)range_s);
}

enum jt_err promq_build_gpm_probe(const char *cluster, const char *jobid, int64_t range_s, struct buf *out)
{
    char sel[256];
    enum jt_err rc = promq_job_selector(cluster, jobid, range_s, sel, sizeof sel);
    if (rc != JT_OK)
        return rc;
    return buf_printf(out, "count(count_over_time(nvidia_gpu_graphics_util_percent{%s}[%llds]))", sel,
                      (long long)range_s + PROMQ_PROBE_MARGIN_S);
}

static enum jt_err used_memory_part(int part, const char *cgsel, long long d, struct buf *out)
{
    return buf_printf(out, "max_over_time((cgroup_memory_rss_bytes{%s} %s cgroup_memory_shmem_bytes{%s})[%llds:])",
                      cgsel, part == 0 ? "+" : "unless", cgsel, d);
}

enum jt_err promq_build_used_memory_part(int part, const char *cluster, const char *jobid, const char *sluid,
                                         int64_t range_s, struct buf *out)
{
    char sel[256], cgsel[300];
    enum jt_err rc = promq_job_selector(cluster, jobid, range_s, sel, sizeof sel);
    if (rc != JT_OK)
        return rc;
    cgroup_selector(sel, cgsel, sizeof cgsel);
    rc = used_memory_part(part, cgsel, (long long)range_s, out);
    if (rc != JT_OK || !sluid || !sluid[0])
        return rc;
    if ((rc = sluid_or(cluster, sluid, cgsel, sizeof cgsel, out)) != JT_OK)
        return rc;
    return used_memory_part(part, cgsel, (long long)range_s, out);
}

/* Beyond 2^53 a double no longer holds every integer: no byte count, CPU time or percentage a job can
 * have comes near it, so such a value is a broken exporter or a hostile one, and is refused. */
#define PROMQ_VALUE_MAX 9007199254740992.0

/* Princeton stores whole numbers as integers and the rest rounded to one decimal. The caller has
 * checked |v| < PROMQ_VALUE_MAX, so neither the cast nor v * 10 can overflow. */
static json_t *number_value(double v)
{
    if (v == floor(v))
        return json_integer((json_int_t)v);
    return json_real(round(v * 10.0) / 10.0);
}

enum jt_err promq_parse_answer(enum promq_key k, const char *body, size_t len, json_t *nodes, char *err,
                               size_t errsz)
{
    json_error_t je;
    enum jt_err rc = JT_ERR_PARSE;
    if (errsz > 0)
        err[0] = '\0';
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        snprintf(err, errsz, "answer is not JSON (%s at line %d)", je.text, je.line);
        return JT_ERR_PARSE;
    }
    const char *status = json_string_value(json_object_get(root, "status"));
    if (!status) {
        snprintf(err, errsz, "answer has no \"status\"");
        goto out;
    }
    if (strcmp(status, "success") != 0) {
        const char *et = json_string_value(json_object_get(root, "errorType"));
        const char *em = json_string_value(json_object_get(root, "error"));
        snprintf(err, errsz, "Prometheus answered %s: %s%s%s", status, et ? et : "", et ? ": " : "",
                 em ? em : "(no message)");
        goto out;
    }
    json_t *data = json_object_get(root, "data");
    const char *rtype = json_string_value(json_object_get(data, "resultType"));
    json_t *result = json_object_get(data, "result");
    if (!rtype || strcmp(rtype, "vector") != 0 || !json_is_array(result)) {
        snprintf(err, errsz, "answer is not an instant vector");
        goto out;
    }
    size_t i;
    json_t *series;
    json_array_foreach(result, i, series) {
        json_t *metric = json_object_get(series, "metric");
        json_t *value = json_object_get(series, "value");
        const char *inst = json_string_value(json_object_get(metric, "instance"));
        const char *vstr = json_string_value(json_array_get(value, 1));
        if (!json_is_object(metric) || !inst || !vstr || json_array_size(value) != 2) {
            snprintf(err, errsz, "series %zu lacks instance or value", i);
            goto out;
        }
        double v;
        if (!cstr_to_double(vstr, &v)) {
            if (strcmp(vstr, "NaN") == 0) /* e.g. 0/0 in a subquery: no value, as absent */
                continue;
            snprintf(err, errsz, "series %zu has a bad value '%.32s'", i, vstr);
            goto out;
        }
        if (!(fabs(v) < PROMQ_VALUE_MAX)) {
            snprintf(err, errsz, "series %zu has an out-of-range value '%.32s' for %s", i, vstr, key_names[k]);
            goto out;
        }
        char host[256];
        const char *colon = strchr(inst, ':');
        size_t hl = colon ? (size_t)(colon - inst) : strlen(inst);
        if (hl == 0 || !str_copy(host, sizeof host, inst, hl)) {
            snprintf(err, errsz, "series %zu has a bad instance label", i);
            goto out;
        }
        json_t *node = json_object_get(nodes, host);
        if (!node) {
            node = json_object();
            if (!node || json_object_set_new(nodes, host, node) != 0) {
                snprintf(err, errsz, "out of memory");
                rc = JT_ERR_NOMEM;
                goto out;
            }
        }
        const char *minor = json_string_value(json_object_get(metric, "minor_number"));
        json_t *jv = number_value(v);
        if (!jv) {
            snprintf(err, errsz, "out of memory");
            rc = JT_ERR_NOMEM;
            goto out;
        }
        int set_rc;
        if (minor && minor[0]) {
            json_t *per = json_object_get(node, key_names[k]);
            if (!json_is_object(per)) {
                per = json_object();
                if (!per || json_object_set_new(node, key_names[k], per) != 0) {
                    json_decref(jv);
                    snprintf(err, errsz, "out of memory");
                    rc = JT_ERR_NOMEM;
                    goto out;
                }
            }
            set_rc = json_object_set_new(per, minor, jv);
        } else {
            set_rc = json_object_set_new(node, key_names[k], jv);
        }
        if (set_rc != 0) {
            snprintf(err, errsz, "series %zu: cannot store the value (bad label or out of memory)", i);
            rc = JT_ERR_NOMEM;
            goto out;
        }
    }
    rc = JT_OK;
out:
    json_decref(root);
    return rc;
}

enum jt_err promq_parse_count(const char *body, size_t len, double *count, char *err, size_t errsz)
{
    json_error_t je;
    if (errsz > 0)
        err[0] = '\0';
    *count = 0;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        snprintf(err, errsz, "answer is not JSON (%s at line %d)", je.text, je.line);
        return JT_ERR_PARSE;
    }
    enum jt_err rc = JT_ERR_PARSE;
    const char *status = json_string_value(json_object_get(root, "status"));
    json_t *result = json_object_get(json_object_get(root, "data"), "result");
    if (!status || strcmp(status, "success") != 0) {
        const char *em = json_string_value(json_object_get(root, "error"));
        snprintf(err, errsz, "Prometheus answered %s: %s", status ? status : "without a status", em ? em : "(no message)");
    } else if (!json_is_array(result) || json_array_size(result) > 1) {
        snprintf(err, errsz, "a count() answer is not one value");
    } else if (json_array_size(result) == 0) {
        rc = JT_OK;
    } else {
        const char *v = json_string_value(json_array_get(json_object_get(json_array_get(result, 0), "value"), 1));
        if (v && cstr_to_double(v, count) && *count >= 0)
            rc = JT_OK;
        else
            snprintf(err, errsz, "a count() answer has a bad value");
    }
    json_decref(root);
    return rc;
}

enum jt_err promq_load_result(const char *body, size_t len, const char *type, json_t **root, json_t **result,
                              char *err, size_t errsz)
{
    json_error_t je;
    *result = NULL;
    if (errsz > 0)
        err[0] = '\0';
    *root = json_loadb(body, len, 0, &je);
    if (!*root) {
        snprintf(err, errsz, "answer is not JSON (%s at line %d)", je.text, je.line);
        return JT_ERR_PARSE;
    }
    const char *status = json_string_value(json_object_get(*root, "status"));
    json_t *data = json_object_get(*root, "data");
    const char *rtype = json_string_value(json_object_get(data, "resultType"));
    json_t *r = json_object_get(data, "result");
    if (!status || strcmp(status, "success") != 0) {
        const char *em = json_string_value(json_object_get(*root, "error"));
        snprintf(err, errsz, "Prometheus answered %s: %s", status ? status : "without a status", em ? em : "(no message)");
    } else if (!rtype || strcmp(rtype, type) != 0 || !json_is_array(r)) {
        snprintf(err, errsz, "answer is not a%s %s", type[0] == 'm' ? "" : "n", type[0] == 'm' ? "range matrix" : "instant vector");
    } else {
        *result = r;
        return JT_OK;
    }
    json_decref(*root);
    *root = NULL;
    return JT_ERR_PARSE;
}

bool promq_sample_value(const json_t *s, double *v)
{
    const char *vs = json_string_value(s);
    return vs && cstr_to_double(vs, v) && isfinite(*v) && *v >= 0 && *v < PROMQ_VALUE_MAX;
}

bool promq_instance_host(const char *inst, char *dst, size_t dstsz)
{
    if (!inst)
        return false;
    const char *colon = strchr(inst, ':');
    size_t hl = colon ? (size_t)(colon - inst) : strlen(inst);
    return hl > 0 && str_copy(dst, dstsz, inst, hl);
}

/* One answer's series into merged (label set -> {"metric", "v"}), keeping the larger value per label set. */
static enum jt_err merge_parts(json_t *result, json_t *merged, char *err, size_t errsz)
{
    size_t i;
    json_t *series;
    json_array_foreach(result, i, series) {
        json_t *metric = json_object_get(series, "metric");
        const char *vstr = json_string_value(json_array_get(json_object_get(series, "value"), 1));
        if (!json_is_object(metric) || !vstr) {
            snprintf(err, errsz, "series %zu lacks instance or value", i);
            return JT_ERR_PARSE;
        }
        double v;
        if (!cstr_to_double(vstr, &v)) {
            if (strcmp(vstr, "NaN") == 0) /* as promq_parse_answer: no value; max_over_time skips NaN too */
                continue;
            snprintf(err, errsz, "series %zu has a bad value '%.32s'", i, vstr);
            return JT_ERR_PARSE;
        }
        char *key = json_dumps(metric, JSON_COMPACT | JSON_SORT_KEYS);
        if (!key) {
            snprintf(err, errsz, "out of memory");
            return JT_ERR_NOMEM;
        }
        json_t *e = json_object_get(merged, key);
        if (!e || v > json_real_value(json_object_get(e, "v"))) {
            if (json_object_set_new(merged, key, json_pack("{s:O,s:f}", "metric", metric, "v", v)) != 0) {
                free(key);
                snprintf(err, errsz, "out of memory");
                return JT_ERR_NOMEM;
            }
        }
        free(key);
    }
    return JT_OK;
}

enum jt_err promq_parse_used_memory_parts(const char *b0, size_t l0, const char *b1, size_t l1, json_t *nodes,
                                          bool *ambiguous, char *err, size_t errsz)
{
    json_t *r0 = NULL, *r1 = NULL, *res0, *res1, *merged = json_object(), *hosts = json_object(), *answer = NULL;
    *ambiguous = false;
    enum jt_err rc = merged && hosts ? JT_OK : JT_ERR_NOMEM;
    if (rc == JT_OK)
        rc = promq_load_result(b0, l0, "vector", &r0, &res0, err, errsz);
    if (rc == JT_OK)
        rc = promq_load_result(b1, l1, "vector", &r1, &res1, err, errsz);
    if (rc == JT_OK)
        rc = merge_parts(res0, merged, err, errsz);
    if (rc == JT_OK)
        rc = merge_parts(res1, merged, err, errsz);
    json_t *result = json_array();
    answer = json_pack("{s:s,s:{s:s,s:o}}", "status", "success", "data", "resultType", "vector", "result", result);
    if (rc == JT_OK && !answer)
        rc = JT_ERR_NOMEM;
    const char *key;
    json_t *e;
    json_object_foreach(merged, key, e) {
        if (rc != JT_OK)
            break;
        const char *inst = json_string_value(json_object_get(json_object_get(e, "metric"), "instance"));
        char host[256], val[64];
        if (!promq_instance_host(inst, host, sizeof host)) {
            snprintf(err, errsz, "a used-memory series has a bad instance label");
            rc = JT_ERR_PARSE;
            break;
        }
        if (json_object_get(hosts, host))
            *ambiguous = true;
        json_object_set_new(hosts, host, json_true());
        snprintf(val, sizeof val, "%.17g", json_real_value(json_object_get(e, "v")));
        if (json_array_append_new(result, json_pack("{s:O,s:[i,s]}", "metric", json_object_get(e, "metric"), "value", 0, val)) != 0)
            rc = JT_ERR_NOMEM;
    }
    if (rc == JT_OK && !*ambiguous) {
        char *body = json_dumps(answer, JSON_COMPACT);
        rc = body ? promq_parse_answer(PQ_USED_MEMORY, body, strlen(body), nodes, err, errsz) : JT_ERR_NOMEM;
        free(body);
    }
    if (rc == JT_ERR_NOMEM && errsz > 0 && !err[0])
        snprintf(err, errsz, "out of memory");
    json_decref(answer);
    json_decref(merged);
    json_decref(hosts);
    json_decref(r0);
    json_decref(r1);
    return rc;
}
