/* kubernetes.c - the kubernetes attribution stage (`-k`): asks the kubelet's pod-resources socket which
 * pod uses which GPU, on its own thread and cadence, and publishes the answer as an immutable table the
 * GPU renderers join (attribution/owners.h, gpu_pods.h).
 *
 * Why a stage of its own: the call may take up to its 2 s timeout when the kubelet hangs. Here that
 * costs one failed collection of this stage (jobtel_scrape_collector_success{collector="kubernetes"} 0);
 * the GPU collector keeps its cadence and renders without pod labels. Enabled by -k/--kubernetes
 * (which is the same as --collector.kubernetes).
 */
#include <stdlib.h>

#include "attribution/gpu_pods.h"
#include "attribution/owners.h"
#include "collectors/collector.h"

struct kube_state {
    const struct exporter_config *cfg;
    struct gpu_pods pods;
};

static enum jt_err kube_init(const struct exporter_config *cfg, void **state)
{
    struct kube_state *s = calloc(1, sizeof *s);
    if (!s)
        return JT_ERR_NOMEM;
    s->cfg = cfg;
    gpu_pods_init(&s->pods, cfg);
    s->pods.enabled = true; /* the collector runs only when enabled (-k) */
    double stale = config_stale_after(cfg, (size_t)collector_find("kubernetes"));
    s->pods.keep_s = stale;
    if (cfg->owners)
        owners_set_stale_after(cfg->owners, OWN_KUBERNETES, stale);
    *state = s;
    return JT_OK;
}

static enum jt_err kube_collect(void *state, struct expo *w)
{
    (void)w;
    struct kube_state *s = state;
    enum jt_err rc = gpu_pods_refresh(&s->pods);
    if (s->cfg->owners && (rc == JT_OK || !s->pods.cur)) {
        /* A kept mapping (rate limited) stays published as it was, and ages out by staleness. */
        if (s->pods.cur)
            owner_ref(&s->pods.cur->base);
        owners_publish(s->cfg->owners, OWN_KUBERNETES, s->pods.cur ? &s->pods.cur->base : NULL);
    }
    return rc;
}

static void kube_status(void *state, struct expo *w)
{
    struct kube_state *s = state;
    gpu_pods_write_metrics(&s->pods, w);
}

static void kube_shutdown(void *state)
{
    struct kube_state *s = state;
    if (!s)
        return;
    gpu_pods_free(&s->pods);
    free(s);
}

const struct collector_ops collector_kubernetes = {
    .name = "kubernetes",
    .help = "GPU-to-pod attribution from the kubelet's pod-resources socket (on with -k)",
    .enabled_by_default = false,
    .feeds_gpu = true,
    .init = kube_init,
    .collect = kube_collect,
    .status = kube_status,
    .shutdown = kube_shutdown,
};
