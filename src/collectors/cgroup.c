/* cgroup.c - placeholder: per-job CPU and memory from Slurm cgroups (being written). */
#include <stdlib.h>

#include "collectors/collector.h"

static enum jt_err cg_init(const struct exporter_config *cfg, void **state)
{
    (void)cfg;
    *state = NULL;
    return JT_OK;
}

static enum jt_err cg_collect(void *state, struct expo *w)
{
    (void)state;
    (void)w;
    return JT_OK;
}

static void cg_shutdown(void *state) { (void)state; }

const struct collector_ops collector_cgroup = {
    .name = "cgroup",
    .help = "per-job CPU and memory from Slurm cgroups",
    .enabled_by_default = true,
    .init = cg_init,
    .collect = cg_collect,
    .shutdown = cg_shutdown,
};
