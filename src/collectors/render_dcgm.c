/* render_dcgm.c - the DCGM_FI_* series, as dcgm-exporter names and labels them, from a GPU collection
 * (see gpu_render.h), and the counters CSV selection that says which fields.
 *
 * Labels follow dcgm-exporter (../shared/reference/dcgm-exporter.md): gpu, UUID, pci_bus_id, device,
 * modelName, [GPU_I_PROFILE, GPU_I_ID,] hostname, the label fields of the CSV sorted by name, then per
 * owner container, hpc_job, namespace, pod. One series per job and per pod sharing the GPU; with
 * --collector.gpu.job-labels=info none of the owner labels, and one series per GPU (the owners are on
 * jobtel_gpu_job_info and jobtel_kubernetes_gpu_pod_info instead, render_jobtel.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/gpu_dcgm.h"
#include "collectors/gpu_exp.h"
#include "collectors/gpu_render.h"
#include "common/buf.h"
#include "common/log.h"
#include "exporter/config.h"

/* ---- selection: which DCGM fields, from the counters CSV ---------------------------------------- */

/* dcgm-exporter's synthesised metrics: the name, and what it is (for docs/metrics.md; the type and HELP
 * served are the counters file's, as dcgm-exporter serves them). */
static const struct {
    const char *name;
    const char *doc;
} exp_defs[DCGM_EXP_N] = {
    [DCGM_EXP_XID] = {"DCGM_EXP_XID_ERRORS_COUNT",
                      "XID events per GPU and xid within the last -x milliseconds (labels window_size_in_ms, xid)."},
    [DCGM_EXP_CLOCK] = {"DCGM_EXP_CLOCK_EVENTS_COUNT",
                        "Collections within --clock-events-count-window-size in which each clock event reason held "
                        "(labels clock_event, window_size_in_ms)."},
    [DCGM_EXP_HEALTH] = {"DCGM_EXP_GPU_HEALTH_STATUS",
                         "DCGM health check result per watch: 0 pass, 10 warn, 20 fail (labels health_error_code, "
                         "health_watch); needs the DCGM backend."},
    [DCGM_EXP_P2P] = {"DCGM_EXP_P2P_STATUS",
                      "NVLink P2P status towards each peer GPU, 0 OK to 6 Unknown (labels link_status, peer_gpu)."},
};

static enum dcgm_exp exp_lookup(const char *field)
{
    for (int i = 0; i < DCGM_EXP_N; i++)
        if (strcmp(field, exp_defs[i].name) == 0)
            return (enum dcgm_exp)i;
    return DCGM_EXP_N;
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dcgm_label *)a)->name, ((const struct dcgm_label *)b)->name);
}

void dcgm_selection_free(struct dcgm_selection *s)
{
    counters_free(&s->counters);
    free(s->metrics);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* --collector.gpu.fields=minimal without -f: the fields the shipped recording rules, alerts and dashboards read
 * (deploy/), plus the tensor field of dcgm-exporter's Grafana dashboard 12239. docs/scaling.md lists them. */
static const char dcgm_minimal_counters_csv[] =
    "# Format: DCGM field, Prometheus metric type, help message\n"
    "DCGM_FI_DEV_SM_CLOCK, gauge, SM clock frequency (in MHz).\n"
    "DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).\n"
    "DCGM_FI_DEV_GPU_TEMP, gauge, GPU temperature (in C).\n"
    "DCGM_FI_DEV_POWER_USAGE, gauge, Power draw (in W).\n"
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).\n"
    "DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).\n"
    "DCGM_FI_DEV_XID_ERRORS, gauge, Value of the last XID error encountered.\n"
    "DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).\n"
    "DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).\n"
    "DCGM_FI_DEV_ROW_REMAP_FAILURE, gauge, Whether remapping of rows has failed\n"
    "DCGM_FI_DRIVER_VERSION, label, Driver Version\n"
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.\n";

/* From the file `name` (text NULL) or the built-in list `text` called `name` (NULL: the default list). */
static enum jt_err dcgm_selection_parse(const char *name, const char *text, struct dcgm_selection *out, uint64_t *need)
{
    char why[512];
    struct dcgm_selection s;
    memset(&s, 0, sizeof s);
    enum jt_err rc = !text ? counters_load(name, &s.counters, why, sizeof why)
                           : counters_parse(name ? name : "built-in default counters", text, strlen(text),
                                            &s.counters, why, sizeof why);
    if (rc != JT_OK) {
        log_error("counters file: %s", why);
        return rc;
    }
    s.metrics = calloc(s.counters.n ? s.counters.n : 1, sizeof *s.metrics);
    s.labels = calloc(s.counters.n ? s.counters.n : 1, sizeof *s.labels);
    if (!s.metrics || !s.labels) {
        dcgm_selection_free(&s);
        return JT_ERR_NOMEM;
    }
    struct buf skipped;
    buf_init(&skipped, 8192);
    uint64_t mask = 0;
    enum dcgm_exp x;
    for (size_t i = 0; i < s.counters.n; i++) {
        const struct counter_entry *e = &s.counters.e[i];
        if (e->type == CT_LABEL) {
            enum dcgm_label_field k = dcgm_label_lookup(e->field);
            if (k != DLF_NONE) {
                s.labels[s.nlabels].name = e->field;
                s.labels[s.nlabels].kind = k;
                s.nlabels++;
                continue;
            }
        } else if ((x = exp_lookup(e->field)) != DCGM_EXP_N) {
            s.exp[x].help = e->help;
            s.exp[x].type = e->type == CT_COUNTER ? CT_COUNTER : CT_GAUGE;
            if (x == DCGM_EXP_CLOCK)
                mask |= READING_BIT(R_CLOCK_REASONS);
            continue;
        } else {
            const struct dcgm_field_def *def = dcgm_field_lookup(e->field);
            if (def) {
                s.metrics[s.nmetrics].def = def;
                s.metrics[s.nmetrics].type = e->type == CT_COUNTER ? CT_COUNTER : CT_GAUGE;
                s.metrics[s.nmetrics].name = e->field;
                s.metrics[s.nmetrics].help = e->help;
                s.nmetrics++;
                mask |= READING_BIT(def->reading);
                continue;
            }
        }
        buf_printf(&skipped, "%s%s", skipped.len ? ", " : "", e->field);
    }
    if (skipped.len)
        log_info("GPU collector: skipped (needs DCGM): %s", buf_str(&skipped));
    buf_free(&skipped);
    qsort(s.labels, s.nlabels, sizeof *s.labels, label_cmp);
    *out = s;
    *need |= mask;
    return JT_OK;
}

enum jt_err dcgm_selection_for(const struct exporter_config *cfg, struct dcgm_selection *out, uint64_t *need)
{
    if (cfg->counters_file || cfg->gpu_fields != GPU_FIELDS_MINIMAL)
        return dcgm_selection_load(cfg->counters_file, out, need);
    return dcgm_selection_parse("built-in minimal counters", dcgm_minimal_counters_csv, out, need);
}

enum jt_err dcgm_selection_load(const char *path, struct dcgm_selection *out, uint64_t *need)
{
    return dcgm_selection_parse(path, path ? NULL : dcgm_default_counters_csv, out, need);
}

/* ---- rendering -------------------------------------------------------------------------------- */

/* The GPU's identity as dcgm-exporter labels it, in its order: gpu, UUID, pci_bus_id, device, modelName. */
void gpu_identity_labels(const struct gpu_entity *d, struct labelset *ls)
{
    labelset_init(ls);
    labelset_add(ls, "gpu", d->index_s);
    labelset_add(ls, "UUID", d->uuid);
    labelset_add(ls, "pci_bus_id", d->pci);
    labelset_add(ls, "device", d->device_s);
    labelset_add(ls, "modelName", d->model);
}

static void dcgm_labels(const struct gpu_render_input *in, const struct gpu_entity *e, struct labelset *ls)
{
    gpu_identity_labels(e, ls);
    if (e->is_mig) {
        labelset_add(ls, "GPU_I_PROFILE", e->profile);
        labelset_add(ls, "GPU_I_ID", e->gi);
    }
    if (in->cfg->hostname)
        labelset_add(ls, "hostname", in->cfg->hostname);
    for (size_t i = 0; i < in->sel->nlabels; i++) {
        const char *v = in->sel->labels[i].kind == DLF_DRIVER_VERSION ? in->c->driver_version : in->c->nvml_version;
        labelset_add(ls, in->sel->labels[i].name, v[0] ? v : NULL);
    }
}

static double dcgm_value(const struct dcgm_field_def *def, double raw)
{
    double v = reading_scaled(raw, def->scale);
    if (def->floor_value)
        v = (double)(unsigned long long)v;
    return v;
}

/* Writes one dcgm metric for one entity, once per job (dcgm-exporter's hpc_job) and once per pod sharing
 * the GPU. The attribute labels follow dcgm-exporter's sorted order: container, hpc_job, namespace, pod. */
static void write_dcgm_series(struct expo_family *f, const struct labelset *base, const struct gpu_job_set *jobs,
                              const struct gpu_pod_set *pods, double v)
{
    size_t nj = jobs && jobs->n ? jobs->n : 1;
    size_t np = pods && pods->n ? pods->n : 1;
    for (size_t j = 0; j < nj; j++) {
        for (size_t p = 0; p < np; p++) {
            const struct gpu_job *job = jobs && jobs->n ? &jobs->job[j] : NULL;
            const struct gpu_pod *pod = pods && pods->n ? &pods->pod[p] : NULL;
            struct labelset ls;
            labelset_copy(&ls, base);
            if (pod)
                labelset_add(&ls, "container", pod->container);
            if (job)
                labelset_add(&ls, "hpc_job", job->jobid);
            if (pod) {
                labelset_add(&ls, "namespace", pod->ns);
                labelset_add(&ls, "pod", pod->pod);
            }
            expo_sample(f, &ls, v);
        }
    }
}

static void write_dcgm(const struct gpu_render_input *in, struct expo *w, const struct gpu_entity *e,
                       const struct gpu_job_set *jobs, const struct gpu_pod_set *pods)
{
    const struct gpu_readings *rd = &e->rd;
    struct labelset base;
    dcgm_labels(in, e, &base);
    for (size_t i = 0; i < in->sel->nmetrics; i++) {
        const struct dcgm_metric *m = &in->sel->metrics[i];
        if (e->is_mig && !m->def->per_mig_instance)
            continue;
        if (!(rd->valid & READING_BIT(m->def->reading)))
            continue;
        struct expo_family *f = expo_family(w, m->name, m->type == CT_COUNTER ? METRIC_COUNTER : METRIC_GAUGE,
                                            m->help);
        write_dcgm_series(f, &base, jobs, pods, dcgm_value(m->def, rd->v[m->def->reading]));
    }
}

/* The family of a selected DCGM_EXP_* metric (its type and help from the counters file). */
static struct expo_family *exp_family(const struct gpu_render_input *in, struct expo *w, enum dcgm_exp x)
{
    return expo_family(w, exp_defs[x].name, in->sel->exp[x].type == CT_COUNTER ? METRIC_COUNTER : METRIC_GAUGE,
                       in->sel->exp[x].help);
}

/* One DCGM_EXP_* series: the entity's labels plus up to two of its own (sorted by name, as dcgm-exporter's
 * attribute labels are), once per owner. k2 may be NULL. */
static void write_exp_series(struct expo_family *f, const struct labelset *base, const char *k1, const char *v1,
                             const char *k2, const char *v2, const struct gpu_job_set *jobs,
                             const struct gpu_pod_set *pods, double v)
{
    struct labelset ls;
    labelset_copy(&ls, base);
    if (k1)
        labelset_add(&ls, k1, v1);
    if (k2)
        labelset_add(&ls, k2, v2);
    write_dcgm_series(f, &ls, jobs, pods, v);
}

/* DCGM_EXP_XID_ERRORS_COUNT: per GPU and XID, the events of the last window, with dcgm-exporter's extra labels
 * window_size_in_ms and xid. A GPU whose XID events are not watched has none (not a zero). */
static void write_exp_xid(const struct gpu_render_input *in, struct expo *w, const struct gpu_entity *e,
                          const struct labelset *base, const struct gpu_job_set *jobs, const struct gpu_pod_set *pods)
{
    if (!in->sel->exp[DCGM_EXP_XID].help || !e->xid_recent_valid || e->nxid_recent == 0)
        return;
    char window[24];
    snprintf(window, sizeof window, "%.0f", in->cfg->xid_count_window_s * 1000);
    struct expo_family *f = exp_family(in, w, DCGM_EXP_XID);
    for (size_t k = 0; k < e->nxid_recent; k++) {
        char xid[24];
        snprintf(xid, sizeof xid, "%llu", e->xid_recent[k].xid);
        write_exp_series(f, base, "window_size_in_ms", window, "xid", xid, jobs, pods, (double)e->xid_recent[k].count);
    }
}

/* DCGM_EXP_CLOCK_EVENTS_COUNT: per GPU and clock event reason, the collections of the last window during which
 * it held (labels clock_event, window_size_in_ms). As dcgm-exporter does, a GPU with no event in the window has
 * one series, 0, without clock_event; one whose reasons were not read in the window has none. */
static void write_exp_clock(const struct gpu_render_input *in, struct expo *w, const struct gpu_entity *e,
                            const struct labelset *base, const struct gpu_job_set *jobs, const struct gpu_pod_set *pods)
{
    if (!in->sel->exp[DCGM_EXP_CLOCK].help || !e->clock_events_valid)
        return;
    char window[24];
    snprintf(window, sizeof window, "%.0f", in->cfg->clock_events_window_s * 1000);
    struct expo_family *f = exp_family(in, w, DCGM_EXP_CLOCK);
    bool any = false;
    for (size_t k = 0; k < GPU_CLOCK_EVENT_KINDS; k++) {
        if (e->clock_events[k] == 0)
            continue;
        any = true;
        write_exp_series(f, base, "clock_event", gpu_clock_events[k].name, "window_size_in_ms", window, jobs, pods,
                         (double)e->clock_events[k]);
    }
    if (!any)
        write_exp_series(f, base, "window_size_in_ms", window, NULL, NULL, jobs, pods, 0);
}

/* DCGM_EXP_GPU_HEALTH_STATUS: per GPU and DCGM health watch, the result of DCGM's health check (0 pass, 10 warn,
 * 20 fail) with health_error_code (DCGM_FR_*) and health_watch. Only with the DCGM backend. */
static void write_exp_health(const struct gpu_render_input *in, struct expo *w, const struct gpu_entity *e,
                             const struct labelset *base, const struct gpu_job_set *jobs, const struct gpu_pod_set *pods)
{
    if (!in->sel->exp[DCGM_EXP_HEALTH].help || !e->health_valid)
        return;
    struct expo_family *f = exp_family(in, w, DCGM_EXP_HEALTH);
    for (size_t k = 0; k < GPU_HEALTH_SYSTEMS; k++) {
        char code[32];
        const char *name = dcgm_error_name(e->health_code[k]);
        if (!name) {
            snprintf(code, sizeof code, "%u", e->health_code[k]); /* newer than our table: the number */
            name = code;
        }
        write_exp_series(f, base, "health_error_code", name, "health_watch", gpu_health_watches[k].name, jobs, pods,
                         (double)e->health[k]);
    }
}

/* DCGM_EXP_P2P_STATUS: per GPU and peer GPU, the NVLink P2P status (nvmlGpuP2PStatus_t: 0 OK ... 6 Unknown),
 * labels link_status and peer_gpu. */
static void write_exp_p2p(const struct gpu_render_input *in, struct expo *w, const struct gpu_entity *e,
                          const struct labelset *base, const struct gpu_job_set *jobs, const struct gpu_pod_set *pods)
{
    static const char *const status[] = {"OK", "ChipsetNotSupported", "GPUNotSupported", "TopologyNotSupported",
                                         "DisabledByRegKey", "NotSupported", "Unknown"};
    if (!in->sel->exp[DCGM_EXP_P2P].help || !e->p2p_valid)
        return;
    struct expo_family *f = exp_family(in, w, DCGM_EXP_P2P);
    for (unsigned peer = 0; peer < GPU_MAX_DEVICES; peer++) {
        if (!(e->p2p_valid & (1ULL << peer)))
            continue;
        unsigned st = e->p2p[peer] < 7 ? e->p2p[peer] : 6;
        char peer_s[12];
        snprintf(peer_s, sizeof peer_s, "%u", peer);
        write_exp_series(f, base, "link_status", status[st], "peer_gpu", peer_s, jobs, pods, (double)e->p2p[peer]);
    }
}

static void write_exp(const struct gpu_render_input *in, struct expo *w, const struct gpu_entity *e,
                      const struct gpu_job_set *jobs, const struct gpu_pod_set *pods)
{
    if (e->is_mig)
        return;
    struct labelset base;
    dcgm_labels(in, e, &base);
    write_exp_xid(in, w, e, &base, jobs, pods);
    write_exp_clock(in, w, e, &base, jobs, pods);
    write_exp_health(in, w, e, &base, jobs, pods);
    write_exp_p2p(in, w, e, &base, jobs, pods);
}

static void consume(const struct gpu_render_input *in, struct expo *w)
{
    if (!in->sel)
        return;
    for (size_t i = 0; i < in->c->n; i++) {
        const struct gpu_entity *e = &in->c->e[i];
        if (!e->up)
            continue;
        /* job-labels=info: one series per GPU whoever uses it; the owners are on the info series */
        const struct gpu_entity_owners *o =
            in->owners && in->cfg->gpu_job_labels != GPU_JOB_LABELS_INFO ? &in->owners[i] : NULL;
        write_dcgm(in, w, e, o ? &o->jobs : NULL, o ? &o->pods : NULL);
        write_exp(in, w, e, o ? &o->jobs : NULL, o ? &o->pods : NULL);
    }
}

static bool enabled(const struct exporter_config *cfg)
{
    return cfg->gpu_dcgm_names;
}

const struct gpu_readings_consumer render_dcgm = {"dcgm", enabled, consume};
