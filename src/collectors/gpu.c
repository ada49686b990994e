/* gpu.c - the GPU collector: one collection is produce (NVML readings) -> join (owners from the
 * attribution stages' latest tables) -> consume (renderers, JSON API), on the collector's own thread.
 *
 * This file only wires the pipeline (see gpu_readings.h): reading is gpu_nvml.c, naming is render_*.c,
 * attribution is src/attribution/. A new source of readings (GPM, DCGM) is one more entry in
 * `producers`; a new reader of them (per-job accumulators) one more in `consumers`.
 */
#include <stdlib.h>
#include <string.h>

#include "attribution/gpu_jobs.h"
#include "attribution/gpu_pods.h"
#include "attribution/owners.h"
#include "collectors/collector.h"
#include "collectors/gpu_dcgm.h"
#include "collectors/gpu_exp.h"
#include "collectors/gpu_gpm.h"
#include "collectors/gpu_nvml.h"
#include "collectors/gpu_render.h"
#include "collectors/profiling_pause.h"
#include "common/buf.h"
#include "common/log.h"
#include "exporter/api.h"

/* Sources of readings, in order: NVML first (it sets the identity every later producer adds to), then GPM,
 * which adds the profiling readings through NVML's handles. */
static const struct gpu_readings_producer producer_nvml = {"nvml", gpu_nvml_read};
static const struct gpu_readings_producer producer_gpm = {"gpm", gpu_gpm_read};
static const struct gpu_readings_producer producer_dcgm = {"dcgm", gpu_dcgm_read};

static const struct gpu_readings_consumer *const consumers[] = {
    &render_jobtel, &render_dcgm, &render_jobstats, &render_api, &render_accounting,
};

struct gpu_state {
    const struct exporter_config *cfg;
    struct gpu_nvml *nvml;
    struct gpu_gpm *gpm;
    struct gpu_dcgm *dcgm;            /* --collector.gpu.dcgm: the profiling readings come from DCGM, not GPM */
    struct dcgm_selection sel;
    uint64_t need;                   /* readings some consumer uses */
    struct gpu_collection c;
    struct gpu_entity_owners *owners; /* c.n entries */
    size_t owners_cap;
    struct gpu_pid_table *pids_published; /* the last pid table handed to the process stage (a reference) */
    bool prof_checked;               /* the profiling fields no source serves were listed */
    struct profiling_pause pause;    /* GPUs a job profiles itself: no GPM sampling there */
    struct gpu_exp *exp;             /* DCGM_EXP_CLOCK_EVENTS_COUNT's history */
};

/* Whether a DCGM_EXP_* metric is rendered. */
static bool exp_on(const struct gpu_state *st, enum dcgm_exp x)
{
    return st->cfg->gpu_dcgm_names && st->sel.exp[x].help;
}

/* Tells the producers which synthesised metrics are selected (at start and after a reload). */
static void exp_select(struct gpu_state *st)
{
    gpu_dcgm_set_health(st->dcgm, exp_on(st, DCGM_EXP_HEALTH));
    if (exp_on(st, DCGM_EXP_HEALTH) && !st->dcgm)
        log_info("GPU collector: DCGM_EXP_GPU_HEALTH_STATUS comes from DCGM's health checks: absent without "
                 "--collector.gpu.dcgm");
}

static bool gpu_paused(void *arg, const struct gpu_entity *e)
{
    const struct gpu_state *st = arg;
    return profiling_pause_covers(&st->pause, e);
}

/* ---- the readings every enabled consumer needs -------------------------------------------------- */

static uint64_t base_need(const struct exporter_config *cfg)
{
    uint64_t need = cfg->gpu_jobstats_names ? jobstats_need() : 0;
    if (cfg->api)
        need |= API_NEED;
    if (cfg->acct)
        need |= ACCT_NEED;
    return need;
}

/* Lists once, after the first collection, the selected profiling fields that neither GPM nor DCGM serves here
 * (they stay in the selection: GPM may appear after a MIG reconfiguration, and then they are served). */
static void note_unserved_profiling(struct gpu_state *st)
{
    if (st->prof_checked || !st->c.nvml_available)
        return;
    st->prof_checked = true;
    if (st->dcgm || gpu_gpm_any_supported(st->gpm) || !st->cfg->gpu_dcgm_names)
        return;
    struct buf names;
    buf_init(&names, 4096);
    for (size_t i = 0; i < st->sel.nmetrics; i++)
        if (READING_BIT(st->sel.metrics[i].def->reading) & READINGS_GPM)
            buf_printf(&names, "%s%s", names.len ? ", " : "", st->sel.metrics[i].name);
    if (names.len)
        log_info("GPU collector: skipped (needs DCGM): %s (%s, and DCGM is not in use)", buf_str(&names),
                 st->gpm ? "no GPU here has NVML GPM" : "--no-collector.gpu.gpm");
    buf_free(&names);
}

/* -d g:0,1 (dcgm-exporter's device selection): only those GPUs, with their MIG instances, go on. */
static void select_devices(struct gpu_state *st)
{
    unsigned long long mask = st->cfg->device_mask;
    if (mask == ~0ULL || mask == 0)
        return;
    size_t j = 0, gpus = 0;
    for (size_t i = 0; i < st->c.n; i++) {
        const struct gpu_entity *e = &st->c.e[i];
        if (e->index >= 64 || !(mask & (1ULL << e->index)))
            continue;
        if (j != i)
            st->c.e[j] = *e;
        gpus += !e->is_mig;
        j++;
    }
    st->c.n = j;
    st->c.ngpus = gpus;
}

/* ---- pids for the process stage ---------------------------------------------------------------- */

static int pid_cmp(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* Publishes the pids on the GPUs when they changed (attribution/slurm_process.c maps them to jobs). */
static void publish_pids(struct gpu_state *st)
{
    if (!st->cfg->owners)
        return;
    size_t n = st->c.npids;
    struct gpu_pid_table *t = gpu_pid_table_new(n);
    if (!t)
        return;
    if (n)
        memcpy(t->pid, st->c.pids, n * sizeof t->pid[0]);
    qsort(t->pid, n, sizeof t->pid[0], pid_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || t->pid[u - 1] != t->pid[i])
            t->pid[u++] = t->pid[i];
    }
    t->n = u;
    struct gpu_pid_table *old = st->pids_published;
    if (old && old->n == t->n && memcmp(old->pid, t->pid, t->n * sizeof t->pid[0]) == 0) {
        owner_unref(&t->base); /* unchanged: the process stage keeps mapping the same pids */
        return;
    }
    owner_ref(&t->base);
    owners_publish(st->cfg->owners, OWN_GPU_PIDS, &t->base);
    owner_unref(old ? &old->base : NULL);
    st->pids_published = t;
}

/* ---- join: each entity's owners from the latest attribution tables ------------------------------ */

static void join_owners(struct gpu_state *st, const struct slurm_mapping_table *map, const struct proc_job_table *procs,
                        const struct pod_table *pods)
{
    for (size_t i = 0; i < st->c.n; i++) {
        const struct gpu_entity *e = &st->c.e[i];
        struct gpu_entity_owners *o = &st->owners[i];
        gpu_jobs_lookup(map, e->index, e->is_mig ? e->gi : NULL, e->uuid, &o->jobs);
        /* A GPU no mapping file names: its compute processes' jobs (not for MIG parents: a process
         * there runs on one instance, which the mapping files name). */
        if (o->jobs.n == 0 && !e->is_mig && e->nmig == 0 && procs) {
            for (size_t p = 0; p < e->npids; p++)
                gpu_jobs_add_process(procs, st->c.pids[e->pid_off + p], &o->jobs);
            o->jobs.from_processes = o->jobs.n > 0;
        }
        struct gpu_pod_key k = {e->index, e->uuid, e->minor_s, e->is_mig ? e->gi : NULL,
                                e->is_mig ? e->mig_uuid : NULL, e->is_mig ? e->mig_slot : -1};
        gpu_pods_lookup(pods, &k, &o->pods);
    }
}

/* ---- the collector interface ------------------------------------------------------------------- */

static void gpu_shutdown(void *state);

static enum jt_err gpu_init(const struct exporter_config *cfg, void **state)
{
    struct gpu_state *st = calloc(1, sizeof *st);
    if (!st)
        return JT_ERR_NOMEM;
    st->cfg = cfg;
    st->need = base_need(cfg);
    uint64_t dcgm_need = 0;
    enum jt_err rc = dcgm_selection_for(cfg, &st->sel, &dcgm_need);
    if (rc != JT_OK) {
        free(st);
        return rc;
    }
    if (cfg->gpu_dcgm_names)
        st->need |= dcgm_need;
    st->nvml = gpu_nvml_new(cfg);
    if (st->nvml && cfg->gpu_gpm)
        st->gpm = gpu_gpm_new(st->nvml, (struct gpm_pause_fn){gpu_paused, st});
    if (cfg->gpu_dcgm && !(st->dcgm = gpu_dcgm_new(cfg, (struct gpm_pause_fn){gpu_paused, st}))) {
        gpu_shutdown(st);
        return JT_ERR_NOMEM;
    }
    st->pause.dir = cfg->profiling_pause_dir;
    st->exp = gpu_exp_new();
    exp_select(st);
    if (!st->nvml || (cfg->gpu_gpm && !st->gpm) || !st->exp) {
        gpu_shutdown(st);
        return JT_ERR_NOMEM;
    }
    int idx = collector_find("gpu");
    if (cfg->api && idx >= 0)
        api_store_set_stale_after(cfg->api, config_stale_after(cfg, (size_t)idx));
    if (cfg->owners) {
        /* A first read of the process lists, so the process stage's first table is ready before the
         * first collection renders (the scheduler starts the attribution stages first). */
        gpu_nvml_read(st->nvml, 0, &st->c);
        publish_pids(st);
    }
    *state = st;
    return JT_OK;
}

static enum jt_err gpu_collect(void *state, struct expo *w)
{
    struct gpu_state *st = state;
    /* produce */
    producer_nvml.produce(st->nvml, st->need, &st->c);
    select_devices(st);
    profiling_pause_load(&st->pause);
    /* One profiling source at a time: DCGM's engine samples GPM itself on Hopper, and two owners of the
     * profiling counters would disturb each other. */
    if (st->dcgm)
        producer_dcgm.produce(st->dcgm, st->need, &st->c);
    else if (st->gpm)
        producer_gpm.produce(st->gpm, st->need, &st->c);
    note_unserved_profiling(st);
    if (exp_on(st, DCGM_EXP_CLOCK))
        gpu_exp_clock_update(st->exp, &st->c, mono_now(), st->cfg->clock_events_window_s);
    if (exp_on(st, DCGM_EXP_P2P))
        gpu_exp_p2p_update(st->exp, st->nvml, &st->c, mono_now());
    publish_pids(st);
    /* join */
    if (st->c.n > st->owners_cap) {
        struct gpu_entity_owners *o = realloc(st->owners, st->c.n * sizeof *o);
        if (!o)
            return JT_ERR_NOMEM;
        st->owners = o;
        st->owners_cap = st->c.n;
    }
    double now = mono_now();
    struct owner_table *map = NULL, *procs = NULL, *pods = NULL;
    if (st->cfg->owners) {
        map = owners_get(st->cfg->owners, OWN_SLURM_MAPPING, now);
        procs = owners_get(st->cfg->owners, OWN_SLURM_PROCESS, now);
        pods = owners_get(st->cfg->owners, OWN_KUBERNETES, now);
    }
    join_owners(st, (const struct slurm_mapping_table *)map, (const struct proc_job_table *)procs,
                (const struct pod_table *)pods);
    /* consume (the owners' strings are borrowed from the tables held until here) */
    struct gpu_render_input in = {st->cfg, &st->sel, &st->c, st->owners, now, (const struct proc_job_table *)procs};
    for (size_t i = 0; i < sizeof consumers / sizeof consumers[0]; i++) {
        if (consumers[i]->enabled(st->cfg))
            consumers[i]->consume(&in, w);
    }
    owner_unref(map);
    owner_unref(procs);
    owner_unref(pods);
    return JT_OK;
}

static void gpu_reload(void *state)
{
    struct gpu_state *st = state;
    if (!st->cfg->counters_file)
        return;
    struct dcgm_selection fresh;
    uint64_t need = base_need(st->cfg);
    /* The DCGM fields count only when their names are rendered (--no-collector.gpu.dcgm-names). */
    uint64_t dcgm_need = 0;
    if (dcgm_selection_for(st->cfg, &fresh, &dcgm_need) != JT_OK) {
        log_error("GPU collector: keeping the previous counters after a failed reload");
        return;
    }
    if (st->cfg->gpu_dcgm_names)
        need |= dcgm_need;
    dcgm_selection_free(&st->sel);
    st->sel = fresh;
    st->need = need;
    exp_select(st);
    log_info("GPU collector: reloaded %s: %zu metrics, %zu labels", st->cfg->counters_file, st->sel.nmetrics,
             st->sel.nlabels);
}

static void gpu_shutdown(void *state)
{
    struct gpu_state *st = state;
    if (!st)
        return;
    gpu_dcgm_free(st->dcgm);
    gpu_exp_free(st->exp);
    gpu_gpm_free(st->gpm); /* its samples go back before NVML shuts down */
    if (st->nvml)
        gpu_nvml_free(st->nvml);
    dcgm_selection_free(&st->sel);
    gpu_collection_free(&st->c);
    free(st->owners);
    owner_unref(st->pids_published ? &st->pids_published->base : NULL);
    free(st);
}

const struct collector_ops collector_gpu = {
    .name = "gpu",
    .help = "GPU metrics from NVML (dcgm-exporter and Princeton names)",
    .enabled_by_default = true,
    .init = gpu_init,
    .collect = gpu_collect,
    .reload = gpu_reload,
    .shutdown = gpu_shutdown,
};
