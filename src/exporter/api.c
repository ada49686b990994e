/* api.c - the JSON API's store and answers (see api.h).
 *
 * Each entry owns its strings in fixed-size arrays, so a put never allocates after the first one for
 * a slot and the memory is bounded by API_MAX_ENTRIES. Rings are allocated on a slot's first
 * utilization sample only: MIG instances (no NVML utilization) never pay for one. JSON is built with
 * jansson, which escapes every string.
 */
#include "exporter/api.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/strparse.h"

struct api_sample {
    double t;
    double util;
};

struct api_pod {
    char ns[64], pod[254], container[64];
};

struct api_entry {
    bool used;
    unsigned index;
    char uuid[96], model[96], gi[12], mig_uuid[96], mig_profile[32];
    bool is_mig, up;
    bool has_util, has_mem_used, has_mem_total, has_power;
    double util_pct, mem_used_bytes, mem_total_bytes, power_w;
    char jobs[API_MAX_OWNERS][24];
    size_t njobs;
    struct api_pod pods[API_MAX_OWNERS];
    size_t npods;
    struct api_sample *ring; /* API_RING_SAMPLES, allocated on first use */
    size_t head, count;      /* next write position, samples held */
};

struct api_store {
    pthread_mutex_t mu;
    struct api_entry e[API_MAX_ENTRIES];
    size_t n;
    double committed; /* monotonic time of the last commit; 0 = never */
    double stale_after; /* the GPU collector's own limit (api_store_set_stale_after); 0 = the caller's */
};

struct api_store *api_store_new(void)
{
    struct api_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void api_store_set_stale_after(struct api_store *s, double seconds)
{
    pthread_mutex_lock(&s->mu);
    s->stale_after = seconds;
    pthread_mutex_unlock(&s->mu);
}

void api_store_free(struct api_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < API_MAX_ENTRIES; i++)
        free(s->e[i].ring);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void copy(char *dst, size_t n, const char *src)
{
    str_copy(dst, n, src ? src : "", src ? strlen(src) : 0);
}

void api_store_put(struct api_store *s, size_t slot, const struct api_update *u, double now)
{
    if (!s || slot >= API_MAX_ENTRIES)
        return;
    pthread_mutex_lock(&s->mu);
    struct api_entry *e = &s->e[slot];
    bool same = e->used && strcmp(e->uuid, u->uuid ? u->uuid : "") == 0 && e->is_mig == (u->gi != NULL) &&
                (!u->gi || strcmp(e->gi, u->gi) == 0);
    if (!same)
        e->head = e->count = 0;
    e->used = true;
    e->index = u->index;
    copy(e->uuid, sizeof e->uuid, u->uuid);
    copy(e->model, sizeof e->model, u->model);
    e->is_mig = u->gi != NULL;
    copy(e->gi, sizeof e->gi, u->gi);
    copy(e->mig_uuid, sizeof e->mig_uuid, u->mig_uuid);
    copy(e->mig_profile, sizeof e->mig_profile, u->mig_profile);
    e->up = u->up;
    e->has_util = u->has_util;
    e->has_mem_used = u->has_mem_used;
    e->has_mem_total = u->has_mem_total;
    e->has_power = u->has_power;
    e->util_pct = u->util_pct;
    e->mem_used_bytes = u->mem_used_bytes;
    e->mem_total_bytes = u->mem_total_bytes;
    e->power_w = u->power_w;
    e->njobs = u->njobs < API_MAX_OWNERS ? u->njobs : API_MAX_OWNERS;
    for (size_t i = 0; i < e->njobs; i++)
        copy(e->jobs[i], sizeof e->jobs[i], u->jobs[i]);
    e->npods = u->npods < API_MAX_OWNERS ? u->npods : API_MAX_OWNERS;
    for (size_t i = 0; i < e->npods; i++) {
        copy(e->pods[i].ns, sizeof e->pods[i].ns, u->pods[i].ns);
        copy(e->pods[i].pod, sizeof e->pods[i].pod, u->pods[i].pod);
        copy(e->pods[i].container, sizeof e->pods[i].container, u->pods[i].container);
    }
    if (u->has_util) {
        if (!e->ring)
            e->ring = calloc(API_RING_SAMPLES, sizeof *e->ring);
        if (e->ring) {
            e->ring[e->head].t = now;
            e->ring[e->head].util = u->util_pct;
            e->head = (e->head + 1) % API_RING_SAMPLES;
            if (e->count < API_RING_SAMPLES)
                e->count++;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void api_store_commit(struct api_store *s, size_t nslots, double now)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    size_t n = nslots < API_MAX_ENTRIES ? nslots : API_MAX_ENTRIES;
    /* Only the slots the last collection used: the rest were never touched, and touching them would
     * make the whole table resident. */
    for (size_t i = n; i < s->n; i++) {
        s->e[i].used = false;
        s->e[i].head = s->e[i].count = 0;
    }
    s->n = n;
    s->committed = now;
    pthread_mutex_unlock(&s->mu);
}

bool api_parse_window(const char *s, double *out)
{
    double v;
    if (!str_to_duration(s, &v) || !(v > 0) || v > API_MAX_WINDOW_S)
        return false;
    *out = v;
    return true;
}

/* ---- answers ------------------------------------------------------------------------------------- */

static unsigned finish(json_t *doc, unsigned status, char **body, size_t *len)
{
    *body = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(doc);
    *len = *body ? strlen(*body) : 0;
    if (*body && *len > API_MAX_BODY) {
        free(*body);
        *body = NULL;
        *len = 0;
    }
    if (!*body)
        return 500;
    return status;
}

static unsigned error_answer(unsigned status, const char *msg, char **body, size_t *len)
{
    return finish(json_pack("{s:s, s:I}", "error", msg, "status", (json_int_t)status), status, body, len);
}

static void set_num(json_t *o, const char *key, bool valid, double v)
{
    json_object_set_new(o, key, valid ? json_real(v) : json_null());
}

static json_t *entry_identity(const struct api_entry *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(e->index));
    json_object_set_new(o, "uuid", json_string(e->uuid));
    json_object_set_new(o, "model", json_string(e->model));
    if (e->is_mig)
        json_object_set_new(o, "mig", json_pack("{s:s, s:s, s:s}", "gpu_instance_id", e->gi, "uuid", e->mig_uuid,
                                                "profile", e->mig_profile));
    else
        json_object_set_new(o, "mig", json_null());
    json_object_set_new(o, "up", json_boolean(e->up));
    return o;
}

static void entry_readings(json_t *o, const struct api_entry *e)
{
    set_num(o, "utilization_percent", e->has_util, e->util_pct);
    set_num(o, "memory_used_bytes", e->has_mem_used, e->mem_used_bytes);
    set_num(o, "memory_total_bytes", e->has_mem_total, e->mem_total_bytes);
    set_num(o, "power_watts", e->has_power, e->power_w);
}

static json_t *pod_object(const struct api_pod *p)
{
    return json_pack("{s:s, s:s, s:s}", "namespace", p->ns, "pod", p->pod, "container", p->container);
}

static unsigned answer_gpus(struct api_store *s, double age, char **body, size_t *len)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const struct api_entry *e = &s->e[i];
        if (!e->used)
            continue;
        json_t *o = entry_identity(e);
        entry_readings(o, e);
        json_t *jobs = json_array(), *pods = json_array();
        for (size_t j = 0; j < e->njobs; j++)
            json_array_append_new(jobs, json_string(e->jobs[j]));
        for (size_t j = 0; j < e->npods; j++)
            json_array_append_new(pods, pod_object(&e->pods[j]));
        json_object_set_new(o, "jobs", jobs);
        json_object_set_new(o, "pods", pods);
        json_array_append_new(arr, o);
    }
    return finish(json_pack("{s:f, s:o}", "age_seconds", age, "gpus", arr), 200, body, len);
}

/* Mean of the ring's samples no older than `window`; false if there are none. */
static bool ring_mean(const struct api_entry *e, double now, double window, double *mean, size_t *n,
                      double *covered)
{
    double sum = 0, oldest = now;
    *n = 0;
    for (size_t k = 0; k < e->count; k++) {
        size_t pos = (e->head + API_RING_SAMPLES - 1 - k) % API_RING_SAMPLES;
        if (now - e->ring[pos].t > window)
            break; /* newest first: everything after is older */
        sum += e->ring[pos].util;
        oldest = e->ring[pos].t;
        (*n)++;
    }
    *covered = now - oldest;
    if (*n == 0)
        return false;
    *mean = sum / (double)*n;
    return true;
}

static unsigned answer_pod(struct api_store *s, const char *ns, const char *pod, double window, double now,
                           double age, char **body, size_t *len)
{
    json_t *arr = json_array();
    double total = 0;
    size_t with_mean = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct api_entry *e = &s->e[i];
        if (!e->used)
            continue;
        for (size_t j = 0; j < e->npods; j++) {
            const struct api_pod *p = &e->pods[j];
            if (strcmp(p->ns, ns) != 0 || strcmp(p->pod, pod) != 0)
                continue;
            json_t *o = entry_identity(e);
            json_object_set_new(o, "container", json_string(p->container));
            entry_readings(o, e);
            double mean = 0, covered = 0;
            size_t n = 0;
            bool have = e->ring && ring_mean(e, now, window, &mean, &n, &covered);
            set_num(o, "utilization_percent_mean", have, mean);
            json_object_set_new(o, "samples", json_integer((json_int_t)n));
            set_num(o, "covered_seconds", have, covered);
            if (have) {
                total += mean;
                with_mean++;
            }
            json_array_append_new(arr, o);
            break; /* one entry per GPU even if two of the pod's containers share it */
        }
    }
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return error_answer(404, "no GPU on this node is assigned to this pod", body, len);
    }
    json_t *doc = json_pack("{s:s, s:s, s:f, s:f, s:o}", "namespace", ns, "pod", pod, "window_seconds", window,
                            "age_seconds", age, "gpus", arr);
    set_num(doc, "utilization_percent_mean", with_mean > 0, with_mean ? total / (double)with_mean : 0);
    return finish(doc, 200, body, len);
}

/* Splits "ns/pod" (no further slash, neither empty, each bounded) into the two buffers. */
static bool split_pod(const char *rest, char *ns, size_t nsn, char *pod, size_t podn)
{
    const char *sl = strchr(rest, '/');
    if (!sl || sl == rest || !sl[1] || strchr(sl + 1, '/'))
        return false;
    return str_copy(ns, nsn, rest, (size_t)(sl - rest)) && str_copy(pod, podn, sl + 1, strlen(sl + 1));
}

unsigned api_answer(struct api_store *s, double stale_after_s, bool kubernetes, const char *path,
                    const char *window, double now, char **body, size_t *len)
{
    static const char pods_prefix[] = "/api/v1/pods/";
    bool gpus = strcmp(path, "/api/v1/gpus") == 0;
    bool pods = strncmp(path, pods_prefix, sizeof pods_prefix - 1) == 0;
    if (!gpus && !pods)
        return error_answer(404, "unknown API path; see /api/v1/gpus and /api/v1/pods/{namespace}/{pod}", body,
                            len);
    char ns[64], pod[254];
    double w = API_DEFAULT_WINDOW_S;
    if (pods) {
        if (!split_pod(path + sizeof pods_prefix - 1, ns, sizeof ns, pod, sizeof pod))
            return error_answer(400, "want /api/v1/pods/{namespace}/{pod}", body, len);
        if (window && !api_parse_window(window, &w))
            return error_answer(400, "bad window: want e.g. 60s, 500ms, 5m (at most 24h)", body, len);
        if (!kubernetes)
            return error_answer(404, "pod attribution is off (start the exporter with --kubernetes)", body, len);
    }
    if (!s)
        return error_answer(503, "no GPU data: the GPU collector is not running", body, len);
    pthread_mutex_lock(&s->mu);
    unsigned status;
    double age = now - s->committed;
    if (s->committed == 0) {
        status = error_answer(503, "no GPU data yet (NVML unavailable or no collection finished)", body, len);
    } else if (age > (s->stale_after > 0 ? s->stale_after : stale_after_s)) {
        char msg[128];
        snprintf(msg, sizeof msg, "GPU data is stale: the last collection finished %.1f s ago", age);
        status = error_answer(503, msg, body, len);
    } else if (gpus) {
        status = answer_gpus(s, age, body, len);
    } else {
        status = answer_pod(s, ns, pod, w, now, age, body, len);
    }
    pthread_mutex_unlock(&s->mu);
    return status;
}
