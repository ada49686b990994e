/* gpu_nvml.c - placeholder */
#include "collectors/collector.h"
static enum jt_err g_init(const struct exporter_config *cfg, void **state) { (void)cfg; *state = NULL; return JT_OK; }
static enum jt_err g_collect(void *state, struct expo *w) { (void)state; (void)w; return JT_OK; }
static void g_shutdown(void *state) { (void)state; }
const struct collector_ops collector_gpu = {
    .name = "gpu", .help = "GPU metrics from NVML", .enabled_by_default = true,
    .init = g_init, .collect = g_collect, .shutdown = g_shutdown,
};
