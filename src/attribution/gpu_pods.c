/* gpu_pods.c - Kubernetes pod attribution for GPUs (see gpu_pods.h).
 *
 * The List answer is kept whole and filtered at lookup: a node has a few dozen device assignments,
 * so a linear scan per GPU is cheaper than building an index, and it keeps one copy of the strings.
 */
#include "attribution/gpu_pods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strparse.h"

/* The call runs on the kubernetes stage's own thread; bounded well below the default stale-after (3 s)
 * so that a hung kubelet shows as a failed collection (success 0), not as a stale one. */
#define GPU_PODS_TIMEOUT_S 2.0

static const char *const grpc_code_names[GPU_PODS_GRPC_CODES + 1] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED", "transport",
};

bool gpu_pods_parse_names(struct gpu_pods *p, const char *list)
{
    p->nnames = 0;
    if (!list)
        return true;
    struct cursor c;
    cur_init(&c, list, strlen(list));
    while (!cur_eof(&c)) {
        const char *tok;
        size_t n = cur_token(&c, ",", &tok);
        cur_skip_char(&c, ',');
        str_trim(&tok, &n);
        if (n == 0)
            continue;
        if (p->nnames == GPU_PODS_MAX_NAMES || !str_copy(p->names[p->nnames], sizeof p->names[0], tok, n))
            return false;
        p->nnames++;
    }
    return true;
}

void gpu_pods_init(struct gpu_pods *p, const struct exporter_config *cfg)
{
    memset(p, 0, sizeof *p);
    podres_list_init(&p->scratch);
    p->enabled = cfg->kubernetes;
    p->socket = cfg->pod_resources_socket;
    p->keep_s = cfg->stale_after_s;
    if (!gpu_pods_parse_names(p, cfg->kubernetes_resource_names))
        log_warn("kubernetes: --kubernetes.resource-names: more than %d names or a name too long; "
                 "using the first %zu", GPU_PODS_MAX_NAMES, p->nnames);
    if (p->enabled)
        log_info("kubernetes: pod attribution from %s", p->socket);
}

static bool resource_wanted(const char (*names)[128], size_t nnames, const char *res)
{
    if (strcmp(res, "nvidia.com/gpu") == 0 || strncmp(res, "nvidia.com/mig-", 15) == 0)
        return true;
    for (size_t i = 0; i < nnames; i++) {
        if (strcmp(res, names[i]) == 0)
            return true;
    }
    return false;
}

bool gpu_pods_resource_wanted(const struct gpu_pods *p, const char *res)
{
    return resource_wanted(p->names, p->nnames, res);
}

static bool is_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* [s, s+n) is exactly the decimal `v` (no sign, no leading zeros beyond "0"). */
static bool eq_uint(const char *s, size_t n, unsigned v)
{
    char d[16];
    int len = snprintf(d, sizeof d, "%u", v);
    return len > 0 && (size_t)len == n && memcmp(s, d, n) == 0;
}

static bool eq_str(const char *s, size_t n, const char *t)
{
    return t && strlen(t) == n && memcmp(s, t, n) == 0;
}

/* [s, s+n) names the GPU's device node: its minor number, or its index when the minor is unknown. */
static bool eq_device(const char *s, size_t n, const struct gpu_pod_key *k)
{
    if (k->minor && k->minor[0])
        return eq_str(s, n, k->minor);
    return eq_uint(s, n, k->index);
}

bool gpu_pods_match(const char *id, const struct gpu_pod_key *k)
{
    size_t n = strlen(id);
    /* Sharing replicas: "<id>::<n>" (device plugin time-slicing/MPS) and "<id>/vgpu<n>" (GKE). */
    const char *cut = strstr(id, "::");
    if (cut)
        n = (size_t)(cut - id);
    cut = strstr(id, "/vgpu");
    if (cut && (size_t)(cut - id) < n)
        n = (size_t)(cut - id);
    if (n == 0)
        return false;
    if (!k->gi) {
        if (eq_str(id, n, k->uuid))
            return true;
        if (is_digits(id, n))
            return eq_uint(id, n, k->index);
        return n > 6 && memcmp(id, "nvidia", 6) == 0 && eq_device(id + 6, n - 6, k);
    }
    if (k->mig_uuid && k->mig_uuid[0] && eq_str(id, n, k->mig_uuid))
        return true;
    /* Pre-R470 MIG ids: "MIG-GPU-<uuid>/<gi>/<ci>". */
    if (n > 8 && memcmp(id, "MIG-GPU-", 8) == 0) {
        const char *s1 = memchr(id, '/', n);
        if (!s1)
            return false;
        const char *g = s1 + 1;
        const char *s2 = memchr(g, '/', n - (size_t)(g - id));
        size_t gl = s2 ? (size_t)(s2 - g) : n - (size_t)(g - id);
        return eq_str(id + 4, (size_t)(s1 - id - 4), k->uuid) && eq_str(g, gl, k->gi);
    }
    /* GKE: "nvidia<minor>/gi<gi>". */
    if (n > 6 && memcmp(id, "nvidia", 6) == 0) {
        const char *sl = memchr(id, '/', n);
        if (!sl || (size_t)(id + n - sl) < 4 || memcmp(sl, "/gi", 3) != 0)
            return false;
        return eq_device(id + 6, (size_t)(sl - id - 6), k) && eq_str(sl + 3, (size_t)(id + n - sl - 3), k->gi);
    }
    /* deviceIDStrategy=index: "<gpu index>:<MIG device index>", the slot NVML enumerates the instance at
     * (not its GI id). */
    const char *colon = memchr(id, ':', n);
    if (colon && k->mig_slot >= 0) {
        size_t il = (size_t)(colon - id), sl = n - il - 1;
        return is_digits(id, il) && eq_uint(id, il, k->index) && is_digits(colon + 1, sl) &&
               eq_uint(colon + 1, sl, (unsigned)k->mig_slot);
    }
    return false;
}

void gpu_pods_lookup(const struct pod_table *t, const struct gpu_pod_key *k, struct gpu_pod_set *out)
{
    out->n = 0;
    if (!t)
        return;
    const struct podres_list *l = &t->list;
    for (size_t i = 0; i < l->n; i++) {
        const struct podres_device *d = &l->dev[i];
        if (!resource_wanted(t->names, t->nnames, podres_str(l, d->resource)) || !gpu_pods_match(podres_str(l, d->id), k))
            continue;
        struct gpu_pod g = {podres_str(l, d->ns), podres_str(l, d->pod), podres_str(l, d->container)};
        bool dup = false;
        for (size_t j = 0; j < out->n && !dup; j++)
            dup = strcmp(out->pod[j].ns, g.ns) == 0 && strcmp(out->pod[j].pod, g.pod) == 0 &&
                  strcmp(out->pod[j].container, g.container) == 0;
        if (!dup && out->n < GPU_PODS_MAX_PER_GPU)
            out->pod[out->n++] = g;
    }
}

void gpu_pods_write_metrics(const struct gpu_pods *p, struct expo *w)
{
    expo_sample(expo_family(w, "jobtel_kubernetes_pod_resources_up", METRIC_GAUGE,
                            "Whether the last kubelet pod-resources List call succeeded (1) or not (0)."),
                NULL, p->up ? 1 : 0);
    expo_sample(expo_family(w, "jobtel_kubernetes_pod_resources_request_duration_seconds", METRIC_GAUGE,
                            "Duration of the last kubelet pod-resources List call in seconds."),
                NULL, p->last_duration_s);
    for (size_t i = 0; i <= GPU_PODS_GRPC_CODES; i++) {
        if (!p->errors[i])
            continue;
        struct labelset ls;
        labelset_init(&ls);
        labelset_add(&ls, "code", grpc_code_names[i]);
        expo_sample_u64(expo_family(w, "jobtel_kubernetes_pod_resources_errors_total", METRIC_COUNTER,
                                    "Failed kubelet pod-resources List calls since start, by gRPC status code or transport."),
                        &ls, p->errors[i]);
    }
    if (!p->cur)
        return;
    size_t gpus = 0;
    const struct podres_list *l = &p->cur->list;
    for (size_t i = 0; i < l->n; i++)
        gpus += gpu_pods_resource_wanted(p, podres_str(l, l->dev[i].resource));
    expo_sample(expo_family(w, "jobtel_kubernetes_pod_resources_gpu_devices", METRIC_GAUGE,
                            "GPU device assignments (container, device id) in the mapping in use."),
                NULL, (double)gpus);
    expo_sample(expo_family(w, "jobtel_kubernetes_pod_resources_mapping_age_seconds", METRIC_GAUGE,
                            "Age of the pod-to-GPU mapping in use in seconds."),
                NULL, mono_now() - p->cur->base.built_mono);
}

static void pod_table_destroy(struct owner_table *base)
{
    struct pod_table *t = (struct pod_table *)base;
    podres_list_free(&t->list);
    free(t);
}

enum jt_err gpu_pods_refresh(struct gpu_pods *p)
{
    if (!p->enabled)
        return JT_OK;
    struct podres_result r;
    double t0 = mono_now();
    podres_call_list(p->socket, GPU_PODS_TIMEOUT_S, &p->scratch, &r);
    double now = mono_now();
    p->last_duration_s = now - t0;
    struct pod_table *fresh = r.err == JT_OK ? calloc(1, sizeof *fresh) : NULL;
    if (r.err == JT_OK && !fresh)
        r.err = JT_ERR_NOMEM;
    if (r.err == JT_OK) {
        /* The table takes the answer; the next call decodes into a fresh scratch list. */
        podres_list_init(&fresh->list);
        podres_list_swap(&fresh->list, &p->scratch);
        memcpy(fresh->names, p->names, sizeof fresh->names);
        fresh->nnames = p->nnames;
        owner_table_init(&fresh->base, pod_table_destroy);
        fresh->base.built_mono = now;
        owner_unref(p->cur ? &p->cur->base : NULL);
        p->cur = fresh;
        bool was_failing = false;
        for (size_t i = 0; i <= GPU_PODS_GRPC_CODES; i++)
            was_failing |= p->errors[i] != 0;
        if (!p->up && was_failing)
            log_info("kubernetes: pod-resources List works again (%zu pods)", fresh->list.pods);
        p->up = true;
    } else {
        p->up = false;
        size_t slot = r.grpc_status > 0 && r.grpc_status < GPU_PODS_GRPC_CODES ? (size_t)r.grpc_status
                                                                                : GPU_PODS_GRPC_CODES;
        p->errors[slot]++;
        /* The kubelet's rate limiter says "later", not "nothing is assigned": keep the last answer
         * while it is fresh enough. Any other failure drops the labels at once. */
        bool keep = r.grpc_status == GRPC_RESOURCE_EXHAUSTED && p->cur && now - p->cur->base.built_mono <= p->keep_s;
        if (!keep) {
            owner_unref(p->cur ? &p->cur->base : NULL);
            p->cur = NULL;
        }
        uint64_t suppressed = 0;
        if (ratelimit_allow(&p->rl, 60, &suppressed))
            log_warn("kubernetes: pod-resources List on %s failed: %s; %s%s", p->socket, r.message,
                     keep ? "keeping the previous mapping" : "GPUs are exported without pod labels",
                     suppressed ? " (repeats suppressed)" : "");
    }
    return r.err;
}

void gpu_pods_free(struct gpu_pods *p)
{
    owner_unref(p->cur ? &p->cur->base : NULL);
    p->cur = NULL;
    podres_list_free(&p->scratch);
}
