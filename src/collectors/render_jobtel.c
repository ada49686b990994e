/* render_jobtel.c - jobtel's own GPU series from a GPU collection (see gpu_render.h): whether NVML is
 * there, whether each GPU answers, XID counts, and the attribution info gauges that join owners to GPUs
 * where a compatibility schema has no room for them. */
#include <stdio.h>

#include "collectors/gpu_render.h"
#include "exporter/config.h"

/* The GPU or MIG instance an info series is about: gpu, UUID, and GPU_I_ID for a MIG instance. */
static void owner_labels(const struct gpu_entity *e, struct labelset *ls)
{
    labelset_init(ls);
    labelset_add(ls, "gpu", e->index_s);
    labelset_add(ls, "UUID", e->uuid);
    if (e->is_mig)
        labelset_add(ls, "GPU_I_ID", e->gi);
}

/* The Princeton names have a fixed label schema without pods, so pods are joined through this gauge
 * (on UUID, or gpu + GPU_I_ID for MIG) rather than added to nvidia_gpu_* series. */
static void write_pod_info(struct expo *w, const struct gpu_entity *e, const struct gpu_pod_set *pods)
{
    for (size_t i = 0; i < pods->n; i++) {
        struct labelset ls;
        owner_labels(e, &ls);
        labelset_add(&ls, "container", pods->pod[i].container);
        labelset_add(&ls, "namespace", pods->pod[i].ns);
        labelset_add(&ls, "pod", pods->pod[i].pod);
        expo_sample(expo_family(w, "jobtel_kubernetes_gpu_pod_info", METRIC_GAUGE,
                                "A pod container the kubelet assigned this GPU or MIG instance to (always 1)."),
                    &ls, 1);
    }
}

static void write_process_jobs(struct expo *w, const struct gpu_entity *e, const struct gpu_job_set *jobs)
{
    if (!jobs->from_processes)
        return;
    for (size_t i = 0; i < jobs->n; i++) {
        struct labelset ls;
        labelset_init(&ls);
        labelset_add(&ls, "gpu", e->index_s);
        labelset_add(&ls, "UUID", e->uuid);
        labelset_add(&ls, "jobid", jobs->job[i].jobid);
        expo_sample(expo_family(w, "jobtel_gpu_process_job_info", METRIC_GAUGE,
                                "A Slurm job found running on the GPU through its processes' cgroups (no mapping file names the GPU)."),
                    &ls, 1);
    }
}

/* --collector.gpu.job-labels=info: the one series per (GPU or MIG instance, job) that carries the job, so the
 * GPU series need not (docs/scaling.md). Labels as jobtel_kubernetes_gpu_pod_info's, for joins on
 * (instance, gpu, GPU_I_ID) with the DCGM_FI_* series; userid when the mapping names the owner. */
static void write_job_info(struct expo *w, const struct gpu_entity *e, const struct gpu_job_set *jobs)
{
    for (size_t i = 0; i < jobs->n; i++) {
        struct labelset ls;
        owner_labels(e, &ls);
        labelset_add(&ls, "jobid", jobs->job[i].jobid);
        labelset_add(&ls, "userid", jobs->job[i].uid[0] ? jobs->job[i].uid : NULL);
        expo_sample(expo_family(w, "jobtel_gpu_job_info", METRIC_GAUGE,
                                "A Slurm job using this GPU or MIG instance (always 1; with --collector.gpu.job-labels=info)."),
                    &ls, 1);
    }
}

static void write_status(struct expo *w, const struct gpu_entity *e)
{
    struct labelset ls;
    gpu_identity_labels(e, &ls);
    expo_sample(expo_family(w, "jobtel_gpu_up", METRIC_GAUGE,
                            "Whether the GPU answers NVML (1) or was lost, e.g. fell off the bus (0)."),
                &ls, e->up ? 1 : 0);
    /* XID counts since the exporter started (DCGM_FI_DEV_XID_ERRORS only holds the last one). */
    for (size_t k = 0; k < e->nxids; k++) {
        char xid[24];
        snprintf(xid, sizeof xid, "%llu", e->xids[k].xid);
        struct labelset xl;
        labelset_copy(&xl, &ls);
        labelset_add(&xl, "xid", xid);
        expo_sample_u64(expo_family(w, "jobtel_gpu_xid_errors_total", METRIC_COUNTER,
                                    "XID errors reported by NVML events since the exporter started, by XID."),
                        &xl, e->xids[k].count);
    }
}

static void consume(const struct gpu_render_input *in, struct expo *w)
{
    expo_sample(expo_family(w, "jobtel_gpu_nvml_available", METRIC_GAUGE,
                            "Whether the NVML library was loaded and initialised (1) or not (0)."),
                NULL, in->c->nvml_available ? 1 : 0);
    if (in->c->dcgm_enabled) {
        expo_sample(expo_family(w, "jobtel_dcgm_connected", METRIC_GAUGE,
                                "Whether the DCGM engine (embedded or host engine) answers (1) or not (0)."),
                    NULL, in->c->dcgm_connected ? 1 : 0);
        expo_sample(expo_family(w, "jobtel_dcgm_reconnects_total", METRIC_COUNTER,
                                "Reconnections to the DCGM engine after it was lost."),
                    NULL, (double)in->c->dcgm_reconnects);
    }
    for (size_t i = 0; i < in->c->n; i++) {
        const struct gpu_entity *e = &in->c->e[i];
        const struct gpu_entity_owners *o = in->owners ? &in->owners[i] : NULL;
        if (e->up && o) {
            write_pod_info(w, e, &o->pods);
            write_process_jobs(w, e, &o->jobs);
            if (in->cfg->gpu_job_labels == GPU_JOB_LABELS_INFO)
                write_job_info(w, e, &o->jobs);
        }
        if (!e->is_mig)
            write_status(w, e);
    }
}

static bool enabled(const struct exporter_config *cfg)
{
    (void)cfg;
    return true;
}

const struct gpu_readings_consumer render_jobtel = {"jobtel", enabled, consume};
