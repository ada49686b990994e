/* config.c - command-line parsing for `jobtel exporter`.
 *
 * A table of flags (common/args.h), each with a kind and the field it sets, so --help and the parser
 * cannot drift apart; the collector switches are added from the registration table at run time.
 * Checks that span several flags (the interval's range, stale-after) follow the parse.
 */
#include "exporter/config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/collector.h"
#include "common/args.h"

#define OFF(field) offsetof(struct exporter_config, field)

static bool opt_no_hostname(void *base, const char *unused, const char **why)
{
    (void)unused;
    (void)why;
    ((struct exporter_config *)base)->hostname = NULL;
    return true;
}

_Static_assert(sizeof(enum log_level) == sizeof(int), "ARGS_CHOICE stores an int");

static const struct args_opt flags[] = {
    {.name = "web.listen-address", .aliases = "-a --address", .kind = ARGS_STRING, .offset = OFF(listen_address),
     .placeholder = "ADDR", .help = "Address to listen on, [host]:port (default \":9400\"; -a as in dcgm-exporter)"},
    {.name = "web.config.file", .aliases = "--web-config-file", .kind = ARGS_STRING, .offset = OFF(web_config_file),
     .placeholder = "FILE",
     .help = "exporter-toolkit web config: TLS, client certificates, basic auth, headers (re-read on SIGHUP)"},
    {.name = "web.telemetry-path", .kind = ARGS_STRING, .offset = OFF(telemetry_path), .placeholder = "PATH",
     .help = "Path under which to expose metrics (default /metrics)"},
    {.name = "collect.interval", .kind = ARGS_DURATION, .offset = OFF(collect_interval_s), .placeholder = "DURATION",
     .help = "How often collectors read their sources, e.g. 1s, 500ms (default 1s)"},
    {.name = "collect-interval", .aliases = "-c", .kind = ARGS_MILLIS, .offset = OFF(collect_interval_s),
     .placeholder = "MS", .min = 0, .max = 86400000, .help = "The same in milliseconds (dcgm-exporter's -c)"},
    {.name = "collect.stale-after", .kind = ARGS_DURATION, .offset = OFF(stale_after_s), .placeholder = "DURATION",
     .help = "A collector whose last result is older is reported stale and /health answers 503 (default 3x "
             "interval, at least 3s; at least 2x interval; scaled up for a collector with a longer interval)"},
    {.name = "collector.gpu.nvml-library", .kind = ARGS_STRING, .offset = OFF(nvml_library), .placeholder = "PATH",
     .help = "NVML library to load (default libnvidia-ml.so.1)"},
    {.name = "collectors", .aliases = "-f", .kind = ARGS_STRING, .offset = OFF(counters_file), .placeholder = "FILE",
     .help = "dcgm-exporter counters CSV selecting the DCGM_FI_* fields (default: built-in default counters)"},
    {.name = "collector.gpu.dcgm-names", .kind = ARGS_BOOL, .offset = OFF(gpu_dcgm_names),
     .help = "Export dcgm-exporter metric names (default on)"},
    {.name = "collector.gpu.jobstats-names", .kind = ARGS_BOOL, .offset = OFF(gpu_jobstats_names),
     .help = "Export Princeton nvidia_gpu_* metric names (default on)"},
    {.name = "collector.gpu.xid-events", .kind = ARGS_BOOL, .offset = OFF(gpu_xid_events),
     .help = "Watch NVML XID events (default on)"},
    {.name = "hostname", .kind = ARGS_STRING, .offset = OFF(hostname), .placeholder = "NAME",
     .help = "Value of the hostname label (default $NODE_NAME, else the host name)"},
    {.name = "no-hostname", .aliases = "-n", .kind = ARGS_CALL, .call = opt_no_hostname,
     .help = "Omit the hostname label"},
    {.name = "replace-blanks-in-model-name", .aliases = "-rbmn", .kind = ARGS_BOOL,
     .offset = OFF(replace_blanks_in_model_name), .help = "Replace spaces in the modelName label with dashes"},
    {.name = "hpc-job-mapping-dir", .kind = ARGS_STRING, .offset = OFF(hpc_job_mapping_dir), .placeholder = "DIR",
     .help = "dcgm-exporter HPC job mapping directory (default /run/dcgm-job-map; empty disables)"},
    {.name = "slurm.gpustat-dir", .kind = ARGS_STRING, .offset = OFF(gpustat_dir), .placeholder = "DIR",
     .help = "Princeton GPU ownership directory (default /run/gpustat; empty disables)"},
    {.name = "kubernetes", .aliases = "-k", .kind = ARGS_BOOL, .offset = OFF(kubernetes),
     .help = "Label GPUs with the pod, namespace and container using them, from the kubelet (dcgm-exporter's -k)"},
    {.name = "kubernetes.pod-resources-socket", .kind = ARGS_STRING, .offset = OFF(pod_resources_socket),
     .placeholder = "PATH", .help = "kubelet pod-resources socket (default /var/lib/kubelet/pod-resources/kubelet.sock)"},
    {.name = "kubernetes.resource-names", .kind = ARGS_STRING, .offset = OFF(kubernetes_resource_names),
     .placeholder = "LIST", .help = "Comma list of extra GPU resource names, besides nvidia.com/gpu and nvidia.com/mig-*"},
    {.name = "path.procfs", .kind = ARGS_STRING, .offset = OFF(path_procfs), .placeholder = "DIR",
     .help = "procfs mount point (default /proc)"},
    {.name = "path.sysfs", .kind = ARGS_DEPRECATED, .placeholder = "DIR",
     .help = "Deprecated, no effect: nothing is read from sysfs but the cgroup tree (--path.cgroupfs)"},
    {.name = "path.cgroupfs", .kind = ARGS_STRING, .offset = OFF(path_cgroupfs), .placeholder = "DIR",
     .help = "cgroup filesystem root (default /sys/fs/cgroup)"},
    {.name = "collector.cgroup.version", .kind = ARGS_INT, .offset = OFF(cgroup_version), .placeholder = "N",
     .min = 0, .max = 1000000, .help = "Force cgroup version 1 or 2 (default: detect)"},
    {.name = "log.level", .kind = ARGS_CHOICE, .offset = OFF(log_level), .choices = log_level_words,
     .values = log_level_values, .placeholder = "LEVEL", .help = "One of error, warn, info, debug (default info)"},
    {.name = "help", .aliases = "-h", .kind = ARGS_HELP, .help = "Show this help"},
    {.name = "version", .kind = ARGS_VERSION, .help = "Show the version"},
    {.kind = ARGS_END},
};

/* --[no-]collector.<name> and --collector.<name>.interval for each collector of the registration table,
 * built at run time from it (so a new collector gets its flags and its lines in --help by being
 * registered). */
struct collector_flags {
    struct args_opt opts[2 * CONFIG_MAX_COLLECTORS + 2];
    char names[CONFIG_MAX_COLLECTORS][2][80];
    char helps[CONFIG_MAX_COLLECTORS][2][200];
};

static void collector_flags_build(struct collector_flags *cf)
{
    memset(cf, 0, sizeof *cf);
    size_t k = 0;
    cf->opts[k++] = (struct args_opt){.kind = ARGS_GROUP,
                                      .help = "Collectors (--[no-]collector.<name>, --collector.<name>.interval):"};
    for (size_t i = 0; collector_table[i] && i < CONFIG_MAX_COLLECTORS; i++) {
        const struct collector_ops *c = collector_table[i];
        char every[48];
        if (c->default_interval > 0)
            snprintf(every, sizeof every, "every %gs", c->default_interval);
        else
            snprintf(every, sizeof every, "every --collect.interval");
        snprintf(cf->names[i][0], sizeof cf->names[i][0], "collector.%s", c->name);
        snprintf(cf->helps[i][0], sizeof cf->helps[i][0], "%s (default %s, %s)", c->help,
                 c->enabled_by_default ? "on" : "off", every);
        cf->opts[k++] = (struct args_opt){.name = cf->names[i][0], .kind = ARGS_SWITCH,
                                          .offset = OFF(collector_enabled) + i * sizeof(int), .help = cf->helps[i][0]};
        snprintf(cf->names[i][1], sizeof cf->names[i][1], "collector.%s.interval", c->name);
        snprintf(cf->helps[i][1], sizeof cf->helps[i][1], "How often %s runs, from 10ms to 1h (default %s)", c->name,
                 every);
        cf->opts[k++] = (struct args_opt){.name = cf->names[i][1], .kind = ARGS_DURATION,
                                          .offset = OFF(collector_interval_s) + i * sizeof(double),
                                          .placeholder = "DURATION", .min = 0.01, .max = 3600,
                                          .help = cf->helps[i][1]};
    }
    cf->opts[k] = (struct args_opt){.kind = ARGS_END};
}

static void exporter_spec(struct args_spec *spec, const struct collector_flags *cf)
{
    *spec = (struct args_spec){
        .prog = "jobtel exporter",
        .usage = "jobtel exporter [options]",
        .description = "Serves GPU (NVML) and Slurm job metrics for Prometheus.",
        .opts = flags,
        .more_opts = cf->opts,
        .epilogue = "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP re-reads the counters file and the web config.\n"
                    "Exit codes: 0 clean stop, 1 runtime failure (e.g. cannot listen), 2 usage error.",
    };
}

void config_defaults(struct exporter_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_address = ":9400";
    cfg->telemetry_path = "/metrics";
    cfg->collect_interval_s = 1.0;
    cfg->stale_after_s = 0; /* derived from the interval after parsing */
    for (size_t i = 0; i < CONFIG_MAX_COLLECTORS; i++)
        cfg->collector_enabled[i] = -1;
    cfg->nvml_library = "libnvidia-ml.so.1";
    cfg->gpu_dcgm_names = true;
    cfg->gpu_jobstats_names = true;
    cfg->gpu_xid_events = true;
    cfg->hpc_job_mapping_dir = "/run/dcgm-job-map";
    cfg->gpustat_dir = "/run/gpustat";
    cfg->pod_resources_socket = "/var/lib/kubelet/pod-resources/kubelet.sock";
    cfg->path_procfs = "/proc";
    cfg->path_cgroupfs = "/sys/fs/cgroup";
    cfg->log_level = LOG_LVL_INFO;
    static char host[256];
    const char *node = getenv("NODE_NAME");
    if (node && *node) {
        cfg->hostname = node;
    } else if (gethostname(host, sizeof host - 1) == 0) {
        host[sizeof host - 1] = '\0';
        cfg->hostname = host;
    }
}


void config_usage(FILE *out)
{
    struct collector_flags cf;
    struct args_spec spec;
    collector_flags_build(&cf);
    exporter_spec(&spec, &cf);
    args_help(&spec, out);
}

enum jt_err config_parse(struct exporter_config *cfg, int argc, char **argv, bool *exit_now)
{
    *exit_now = false;
    struct collector_flags cf;
    struct args_spec spec;
    collector_flags_build(&cf);
    exporter_spec(&spec, &cf);
    struct args_error err;
    switch (args_parse(&spec, cfg, argc, argv, NULL, NULL, &err)) {
    case ARGS_OK:
        break;
    case ARGS_EXIT:
        *exit_now = true;
        return JT_OK;
    case ARGS_USAGE:
        args_print_error(&spec, &err);
        return JT_ERR_USAGE;
    }
    if (cfg->collect_interval_s < 0.01 || cfg->collect_interval_s > 3600) {
        fprintf(stderr, "jobtel exporter: collection interval must be between 10ms and 1h\n");
        return JT_ERR_USAGE;
    }
    if (cfg->stale_after_s == 0) {
        cfg->stale_after_s = 3 * cfg->collect_interval_s;
        if (cfg->stale_after_s < 3)
            cfg->stale_after_s = 3;
    } else if (cfg->stale_after_s < 2 * cfg->collect_interval_s) {
        /* A limit below the interval made every collector stale between two collections: /health
         * answered 503 for good. */
        fprintf(stderr, "jobtel exporter: --collect.stale-after (%gs) must be at least twice --collect.interval (%gs)\n",
                cfg->stale_after_s, cfg->collect_interval_s);
        return JT_ERR_USAGE;
    }
    if (cfg->cgroup_version != 0 && cfg->cgroup_version != 1 && cfg->cgroup_version != 2) {
        fprintf(stderr, "jobtel exporter: --collector.cgroup.version must be 1 or 2\n");
        return JT_ERR_USAGE;
    }
    /* -k/--kubernetes is the kubernetes attribution stage: either spelling turns on both. */
    int kube = collector_find("kubernetes");
    if (kube >= 0 && kube < CONFIG_MAX_COLLECTORS) {
        if (cfg->kubernetes && cfg->collector_enabled[kube] < 0)
            cfg->collector_enabled[kube] = 1;
        cfg->kubernetes = cfg->collector_enabled[kube] == 1;
    }
    if (cfg->hpc_job_mapping_dir && !*cfg->hpc_job_mapping_dir)
        cfg->hpc_job_mapping_dir = NULL;
    if (cfg->gpustat_dir && !*cfg->gpustat_dir)
        cfg->gpustat_dir = NULL;
    if (cfg->web_config_file && !*cfg->web_config_file)
        cfg->web_config_file = NULL;
    if (cfg->telemetry_path[0] != '/') {
        fprintf(stderr, "jobtel exporter: --web.telemetry-path must start with '/'\n");
        return JT_ERR_USAGE;
    }
    return JT_OK;
}

double config_interval(const struct exporter_config *cfg, size_t idx)
{
    if (idx < CONFIG_MAX_COLLECTORS && cfg->collector_interval_s[idx] > 0)
        return cfg->collector_interval_s[idx];
    if (idx < collector_count() && collector_table[idx]->default_interval > 0)
        return collector_table[idx]->default_interval;
    return cfg->collect_interval_s;
}

double config_stale_after(const struct exporter_config *cfg, size_t idx)
{
    double ratio = config_interval(cfg, idx) / cfg->collect_interval_s;
    return cfg->stale_after_s * (ratio > 1 ? ratio : 1);
}
