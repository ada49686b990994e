/* api.h - the JSON API for autoscalers: /api/v1/gpus and /api/v1/pods/{namespace}/{pod}.
 *
 * An autoscaler wants "how busy are this pod's GPUs" without parsing /metrics, and must learn
 * plainly when there is no answer. The GPU collector hands each collection's per-GPU readings and
 * owners (jobs, pods) to an api_store, which keeps the latest values plus a bounded ring of recent
 * utilization samples per GPU for windowed means. The store is created by exporter.c, reached
 * through exporter_config.api (no globals), written by the collector thread and read by the HTTP
 * thread under one mutex held only to copy or render a few KiB. The answer builder is independent
 * of libmicrohttpd so unit tests call it directly.
 */
#ifndef JOBTEL_API_H
#define JOBTEL_API_H

#include <stdbool.h>
#include <stddef.h>

#define API_RING_SAMPLES 600 /* per GPU: 10 min at the default 1 s interval */
#define API_MAX_ENTRIES 256  /* GPUs + MIG instances */
#define API_MAX_OWNERS 16    /* jobs or pods listed per GPU */
#define API_MAX_WINDOW_S 86400.0
#define API_DEFAULT_WINDOW_S 60.0
#define API_MAX_BODY (4u << 20)

struct api_store;

struct api_pod_ref {
    const char *ns, *pod, *container;
};

/* One GPU (gi == NULL) or MIG instance, as read in one collection. Strings are copied. */
struct api_update {
    unsigned index;
    const char *uuid;
    const char *model;
    const char *gi, *mig_uuid, *mig_profile; /* MIG only */
    bool up;
    bool has_util, has_mem_used, has_mem_total, has_power;
    double util_pct, mem_used_bytes, mem_total_bytes, power_w;
    const char *jobs[API_MAX_OWNERS];
    size_t njobs;
    struct api_pod_ref pods[API_MAX_OWNERS];
    size_t npods;
};

/* NULL on allocation failure. */
struct api_store *api_store_new(void);
void api_store_free(struct api_store *s);
/* The staleness limit of the collector that writes the store (its own interval, see config_stale_after);
 * api_answer then uses it instead of the limit it is given. */
void api_store_set_stale_after(struct api_store *s, double seconds);

/* Stores entry `slot` (0..API_MAX_ENTRIES-1, stable from one collection to the next) at monotonic
 * time `now`. A utilization reading is also pushed into the slot's ring. A slot whose UUID or GPU
 * instance changed starts a fresh ring. */
void api_store_put(struct api_store *s, size_t slot, const struct api_update *u, double now);
/* Ends a collection that stored `nslots` entries: later slots are dropped, the data is fresh. */
void api_store_commit(struct api_store *s, size_t nslots, double now);

/* Answers GET `path` (query parameter `window`, NULL if absent) at monotonic time `now`. Returns the
 * HTTP status and sets *body (malloc'd JSON, caller frees; NULL only on allocation failure) and
 * *len. Data older than `stale_after_s` gives 503. */
unsigned api_answer(struct api_store *s, double stale_after_s, bool kubernetes, const char *path,
                    const char *window, double now, char **body, size_t *len);

/* Parses a window "60s", "500ms", "2m", "1h" or bare seconds, 0 < w <= API_MAX_WINDOW_S. */
bool api_parse_window(const char *s, double *out);

#endif
