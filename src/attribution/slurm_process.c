/* slurm_process.c - the slurm_process attribution stage: maps the compute processes the GPU collector
 * last saw on each GPU (its OWN_GPU_PIDS table) to Slurm jobs through <procfs>/<pid>/cgroup, on its own
 * thread and cadence, into a pid -> job table the GPU renderers join for GPUs no mapping file names.
 *
 * Why the pids travel as a table: only the GPU collector may call NVML (a hung call must hold up one
 * thread only), and only this stage reads /proc, so each side runs at its own pace. A process is
 * attributed at most two intervals after it appears.
 */
#include <stdlib.h>

#include "attribution/gpu_jobs.h"
#include "attribution/owners.h"
#include "collectors/collector.h"
#include "common/log.h"

struct process_state {
    const struct exporter_config *cfg;
};

static enum jt_err process_init(const struct exporter_config *cfg, void **state)
{
    struct process_state *s = calloc(1, sizeof *s);
    if (!s)
        return JT_ERR_NOMEM;
    s->cfg = cfg;
    if (cfg->owners)
        owners_set_stale_after(cfg->owners, OWN_SLURM_PROCESS, config_stale_after(cfg, (size_t)collector_find("slurm_process")));
    *state = s;
    return JT_OK;
}

static enum jt_err process_collect(void *state, struct expo *w)
{
    (void)w;
    struct process_state *s = state;
    if (!s->cfg->owners)
        return JT_OK;
    struct gpu_pid_table *pids = (struct gpu_pid_table *)owners_get(s->cfg->owners, OWN_GPU_PIDS, mono_now());
    struct proc_job_table *t =
        proc_job_table_build(s->cfg->path_procfs, pids ? pids->pid : NULL, pids ? pids->n : 0);
    owner_unref(pids ? &pids->base : NULL);
    if (!t)
        return JT_ERR_NOMEM;
    owners_publish(s->cfg->owners, OWN_SLURM_PROCESS, &t->base);
    return JT_OK;
}

static void process_shutdown(void *state)
{
    free(state);
}

const struct collector_ops collector_slurm_process = {
    .name = "slurm_process",
    .help = "GPU-to-job attribution through the GPU's compute processes and their Slurm cgroups",
    .enabled_by_default = true,
    .feeds_gpu = true,
    .init = process_init,
    .collect = process_collect,
    .shutdown = process_shutdown,
};
