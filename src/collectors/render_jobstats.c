/* render_jobstats.c - the nvidia_gpu_* series, as Princeton's nvidia_gpu_prometheus_exporter names and
 * labels them (../shared/reference/jobstats.md §5), from a GPU collection (see gpu_render.h).
 *
 * The label schema is fixed (minor_number, name, ordinal, uuid, jobid, userid, [GPU_I_ID]): the first
 * job on a GPU names it, and pods are joined through jobtel_kubernetes_gpu_pod_info instead. With
 * --collector.gpu.job-labels=info the series carry no jobid/userid, and nvidia_gpu_jobId/jobUid (the job
 * in the value, the GPU's labels otherwise) are the join, as in Princeton's exporter before v0.2.2.
 */
#include <stdio.h>
#include <string.h>

#include "collectors/gpu_render.h"
#include "common/strparse.h"
#include "exporter/config.h"

/* --collector.gpu.fields=minimal: what Princeton's jobstats (memory, duty cycle, and the GPM graphics
 * activity it falls back to on MIG), gpudash (duty cycle and the job gauges, always written) and the
 * Single Job Stats dashboard (power, temperature) read. */
static const char *const jobstats_minimal_names[] = {
    "nvidia_gpu_duty_cycle", "nvidia_gpu_memory_used_bytes", "nvidia_gpu_memory_total_bytes",
    "nvidia_gpu_power_usage_milliwatts", "nvidia_gpu_temperature_celsius", "nvidia_gpu_graphics_util_percent",
};

static bool in_minimal(const char *name)
{
    for (size_t i = 0; i < sizeof jobstats_minimal_names / sizeof jobstats_minimal_names[0]; i++) {
        if (strcmp(name, jobstats_minimal_names[i]) == 0)
            return true;
    }
    return false;
}

uint64_t jobstats_need(void)
{
    uint64_t mask = READING_BIT(R_CLOCK_REASONS);
    for (size_t i = 0; i < jobstats_metrics_count; i++)
        mask |= READING_BIT(jobstats_metrics[i].reading);
    return mask;
}

/* Princeton's labels, sorted by name as client_golang writes them. */
static void jobstats_labels(const struct gpu_entity *e, const struct gpu_job *job, struct labelset *ls)
{
    labelset_init(ls);
    if (e->is_mig)
        labelset_add(ls, "GPU_I_ID", e->gi);
    labelset_add(ls, "jobid", job ? job->jobid : NULL);
    labelset_add(ls, "minor_number", e->minor_s[0] ? e->minor_s : NULL);
    labelset_add(ls, "name", e->is_mig ? e->mig_name : e->name);
    labelset_add(ls, "ordinal", e->index_s);
    labelset_add(ls, "userid", job && job->uid[0] ? job->uid : NULL);
    labelset_add(ls, "uuid", e->is_mig ? e->mig_uuid : e->uuid);
}

/* Adds extra labels to a Princeton label set, keeping names sorted. */
static void labels_insert_sorted(struct labelset *ls, const char *name, const char *value)
{
    if (ls->n >= LABELSET_MAX) {
        ls->overflow = 1;
        return;
    }
    size_t pos = ls->n;
    while (pos > 0 && strcmp(ls->l[pos - 1].name, name) > 0)
        pos--;
    memmove(&ls->l[pos + 1], &ls->l[pos], (ls->n - pos) * sizeof ls->l[0]);
    ls->l[pos].name = name;
    ls->l[pos].value = value;
    ls->n++;
}

/* The job goes into the labels with job-labels=all only; it is the value of nvidia_gpu_jobId/jobUid in either mode. */
static void write_jobstats(struct expo *w, const struct exporter_config *cfg, const struct gpu_entity *e,
                           const struct gpu_job *job)
{
    const struct gpu_readings *rd = &e->rd;
    bool mig = e->is_mig;
    bool minimal = cfg->gpu_fields == GPU_FIELDS_MINIMAL;
    struct labelset base;
    jobstats_labels(e, cfg->gpu_job_labels == GPU_JOB_LABELS_INFO ? NULL : job, &base);
    for (size_t i = 0; i < jobstats_metrics_count; i++) {
        const struct jobstats_metric_def *m = &jobstats_metrics[i];
        if (mig && !m->per_mig_instance)
            continue;
        if (minimal && !in_minimal(m->name))
            continue;
        if (!(rd->valid & READING_BIT(m->reading)))
            continue;
        struct labelset ls;
        labelset_copy(&ls, &base);
        if (m->label_name)
            labels_insert_sorted(&ls, m->label_name, m->label_value);
        if (m->label2_name)
            labels_insert_sorted(&ls, m->label2_name, m->label2_value);
        expo_sample(expo_family(w, m->name, METRIC_GAUGE, m->help), &ls, reading_scaled(rd->v[m->reading], m->scale));
    }
    if (mig)
        return;
    if (!minimal && (rd->valid & READING_BIT(R_CLOCK_REASONS))) {
        char reasons[256];
        jobstats_clock_reasons((uint64_t)rd->v[R_CLOCK_REASONS], reasons, sizeof reasons);
        struct labelset ls;
        labelset_copy(&ls, &base);
        labels_insert_sorted(&ls, "reason", reasons);
        expo_sample(expo_family(w, "nvidia_gpu_clock_event_reason", METRIC_GAUGE,
                                "Clock event reasons of the GPU device as a bitmask, named in the reason label."),
                    &ls, rd->v[R_CLOCK_REASONS]);
    }
    if (job) {
        uint64_t jid, uid;
        if (cstr_to_u64(job->jobid, &jid))
            expo_sample(expo_family(w, "nvidia_gpu_jobId", METRIC_GAUGE, "JobId number of a job currently using this GPU."),
                        &base, (double)jid);
        if (job->uid[0] && cstr_to_u64(job->uid, &uid))
            expo_sample(expo_family(w, "nvidia_gpu_jobUid", METRIC_GAUGE, "Uid number of user running jobs on this GPU."),
                        &base, (double)uid);
    }
}

static void write_last_error(struct expo *w, const struct gpu_entity *e)
{
    if (e->last_error == 0)
        return;
    struct labelset pl;
    jobstats_labels(e, NULL, &pl);
    expo_sample(expo_family(w, "nvidia_gpu_last_error", METRIC_GAUGE,
                            "Last NVML error code returned for the GPU device (0 = none)."),
                &pl, e->last_error);
}

static void consume(const struct gpu_render_input *in, struct expo *w)
{
    if (!in->c->nvml_available)
        return;
    expo_sample(expo_family(w, "nvidia_gpu_num_devices", METRIC_GAUGE, "Number of GPU devices."), NULL,
                (double)in->c->ngpus);
    for (size_t i = 0; i < in->c->n; i++) {
        const struct gpu_entity *e = &in->c->e[i];
        const struct gpu_entity_owners *o = in->owners ? &in->owners[i] : NULL;
        if (e->up)
            write_jobstats(w, in->cfg, e, o && o->jobs.n ? &o->jobs.job[0] : NULL);
        if (!e->is_mig)
            write_last_error(w, e);
    }
}

static bool enabled(const struct exporter_config *cfg)
{
    return cfg->gpu_jobstats_names;
}

const struct gpu_readings_consumer render_jobstats = {"jobstats", enabled, consume};
