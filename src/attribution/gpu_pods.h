/* gpu_pods.h - which Kubernetes pod uses which GPU, for the GPU renderers' labels (`-k`).
 *
 * The kubelet's pod-resources List (kube/podresources.c) is called once per collection of the
 * kubernetes attribution stage (attribution/kubernetes.c, its own thread and cadence), never per scrape
 * (the kubelet rate-limits the socket at 100 QPS), and the answer published as an immutable table
 * (struct pod_table, attribution/owners.h) that the GPU renderers join. Devices are kept when their resource is
 * nvidia.com/gpu, nvidia.com/mig-*, or one of --kubernetes.resource-names. Device ids come in the
 * device plugin's forms and are matched to GPUs here (gpu_pods_match):
 *   GPU-<uuid>, an NVML index "0", a device name "nvidia<minor>"  → that GPU
 *   MIG-<uuid>, MIG-GPU-<uuid>/<gi>/<ci>, "nvidia<minor>/gi<gi>",
 *   "<gpu index>:<MIG slot>" (deviceIDStrategy=index)              → that MIG instance
 * (device names use the /dev/nvidia<minor> number, which is the NVML index unless NVML cannot tell)
 *   any of these with a sharing suffix "::<n>" or "/vgpu<n>" → the same device, one pod per replica
 * Several pods may share a device (time-slicing, MPS): each gets its own series, like hpc_job.
 * When the kubelet cannot be asked, GPUs lose their pod labels and jobtel_kubernetes_* says why;
 * only a rate-limit answer (RESOURCE_EXHAUSTED) keeps the previous mapping, for up to stale_after.
 */
#ifndef JOBTEL_GPU_PODS_H
#define JOBTEL_GPU_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "exporter/config.h"
#include "exporter/expo.h"
#include "kube/podresources.h"
#include "attribution/owners.h"

#define GPU_PODS_MAX_PER_GPU 16
#define GPU_PODS_MAX_NAMES 16
#define GPU_PODS_GRPC_CODES 17

/* One pod's container on a device. Strings are borrowed from a pod_table: valid while the caller holds
 * its reference. */
struct gpu_pod {
    const char *ns, *pod, *container;
};

struct gpu_pod_set {
    struct gpu_pod pod[GPU_PODS_MAX_PER_GPU];
    size_t n;
};

/* A GPU or MIG instance as the lookup sees it. */
struct gpu_pod_key {
    unsigned index;          /* NVML index of the (parent) GPU */
    const char *uuid;        /* GPU UUID */
    const char *minor;       /* /dev/nvidia<minor> number (decimal), "" or NULL if unknown */
    const char *gi;          /* MIG: GPU instance id (decimal), else NULL */
    const char *mig_uuid;    /* MIG: the instance's UUID, else NULL */
    int mig_slot;            /* MIG: its nvmlDeviceGetMigDeviceHandleByIndex index, else -1 */
};

/* One successful List answer, filtered at lookup to the GPU resources. Immutable once published. */
struct pod_table {
    struct owner_table base;
    struct podres_list list;
    char names[GPU_PODS_MAX_NAMES][128]; /* the extra resource names, copied from the stage */
    size_t nnames;
};

/* The kubernetes stage's state. */
struct gpu_pods {
    bool enabled;
    const char *socket;
    double keep_s;           /* how long a rate-limited refresh keeps the last mapping */
    char names[GPU_PODS_MAX_NAMES][128];
    size_t nnames;
    struct pod_table *cur;   /* the mapping in use (one reference), NULL if none */
    struct podres_list scratch;
    bool up;                 /* the last call succeeded */
    uint64_t errors[GPU_PODS_GRPC_CODES + 1]; /* by gRPC code; the last slot: transport/decode */
    double last_duration_s;
    struct ratelimit rl;
};

/* Reads the flags; enabled only with --kubernetes. */
void gpu_pods_init(struct gpu_pods *p, const struct exporter_config *cfg);
/* Calls the kubelet. Returns JT_OK when the call succeeded. p->cur is then the new mapping; after a failure it is NULL, or the previous mapping while
 * a rate-limit answer lets it be kept. */
enum jt_err gpu_pods_refresh(struct gpu_pods *p);
/* Writes the jobtel_kubernetes_* self-metrics: how the last call went, whatever its outcome. */
void gpu_pods_write_metrics(const struct gpu_pods *p, struct expo *w);
/* Fills *out with the pods on the GPU or MIG instance `k` from table `t` (NULL: none); out->n == 0 if
 * none. */
void gpu_pods_lookup(const struct pod_table *t, const struct gpu_pod_key *k, struct gpu_pod_set *out);
void gpu_pods_free(struct gpu_pods *p);

/* True when resource name `res` is one the collector maps (GPU and MIG resources, extra names). */
bool gpu_pods_resource_wanted(const struct gpu_pods *p, const char *res);
/* True when device id `id` names the GPU or MIG instance `k` (the forms listed above). */
bool gpu_pods_match(const char *id, const struct gpu_pod_key *k);
/* Parses a comma list of extra resource names into p->names. false on a name too long or too many. */
bool gpu_pods_parse_names(struct gpu_pods *p, const char *list);

#endif
