/* config.c - command-line parsing for `jobtel exporter`.
 *
 * A table of flags, each with a kind and the field it sets, so --help and the parser cannot drift
 * apart. Both `--flag=value` and `--flag value` are accepted; booleans also take `--no-flag`.
 */
#include "exporter/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/collector.h"
#include "common/strparse.h"

enum flag_kind { FK_STRING, FK_BOOL, FK_DURATION, FK_MILLIS, FK_INT, FK_LOGLEVEL, FK_HELP, FK_VERSION, FK_NOHOST, FK_NOOP };

struct flag {
    const char *name;  /* long name without the leading "--" */
    const char *alias; /* short or compatibility spellings with their dashes, ", "-separated, or NULL */
    enum flag_kind kind;
    size_t offset;     /* into struct exporter_config */
    const char *help;
};

#define OFF(field) offsetof(struct exporter_config, field)

static const struct flag flags[] = {
    {"web.listen-address", "-a, --address", FK_STRING, OFF(listen_address),
     "Address to listen on, [host]:port (default \":9400\"; dcgm-exporter's -a)"},
    {"web.telemetry-path", NULL, FK_STRING, OFF(telemetry_path), "Path under which to expose metrics (default /metrics)"},
    {"collect.interval", NULL, FK_DURATION, OFF(collect_interval_s),
     "How often collectors read their sources, e.g. 1s, 500ms (default 1s)"},
    {"collect-interval", "-c", FK_MILLIS, OFF(collect_interval_s), "The same in milliseconds (dcgm-exporter's -c)"},
    {"collect.stale-after", NULL, FK_DURATION, OFF(stale_after_s),
     "A collector whose last result is older is reported stale and /health answers 503 (default 3x interval, at least 3s; "
     "at least 2x interval; scaled up for a collector with a longer interval)"},
    {"collector.gpu.nvml-library", NULL, FK_STRING, OFF(nvml_library),
     "NVML library to load (default libnvidia-ml.so.1)"},
    {"collectors", "-f", FK_STRING, OFF(counters_file),
     "dcgm-exporter counters CSV selecting the DCGM_FI_* fields (default: built-in default counters)"},
    {"collector.gpu.dcgm-names", NULL, FK_BOOL, OFF(gpu_dcgm_names), "Export dcgm-exporter metric names (default on)"},
    {"collector.gpu.jobstats-names", NULL, FK_BOOL, OFF(gpu_jobstats_names),
     "Export Princeton nvidia_gpu_* metric names (default on)"},
    {"collector.gpu.xid-events", NULL, FK_BOOL, OFF(gpu_xid_events), "Watch NVML XID events (default on)"},
    {"hostname", NULL, FK_STRING, OFF(hostname), "Value of the hostname label (default $NODE_NAME, else the host name)"},
    {"no-hostname", "-n", FK_NOHOST, 0, "Omit the hostname label"},
    {"replace-blanks-in-model-name", "-rbmn", FK_BOOL, OFF(replace_blanks_in_model_name),
     "Replace spaces in the modelName label with dashes"},
    {"hpc-job-mapping-dir", NULL, FK_STRING, OFF(hpc_job_mapping_dir),
     "dcgm-exporter HPC job mapping directory (default /run/dcgm-job-map; empty disables)"},
    {"slurm.gpustat-dir", NULL, FK_STRING, OFF(gpustat_dir),
     "Princeton GPU ownership directory (default /run/gpustat; empty disables)"},
    {"kubernetes", "-k", FK_BOOL, OFF(kubernetes),
     "Label GPUs with the pod, namespace and container using them, from the kubelet (dcgm-exporter's -k)"},
    {"kubernetes.pod-resources-socket", NULL, FK_STRING, OFF(pod_resources_socket),
     "kubelet pod-resources socket (default /var/lib/kubelet/pod-resources/kubelet.sock)"},
    {"kubernetes.resource-names", NULL, FK_STRING, OFF(kubernetes_resource_names),
     "Comma list of extra GPU resource names, besides nvidia.com/gpu and nvidia.com/mig-*"},
    {"path.procfs", NULL, FK_STRING, OFF(path_procfs), "procfs mount point (default /proc)"},
    {"path.sysfs", NULL, FK_NOOP, 0,
     "Deprecated, no effect: nothing is read from sysfs but the cgroup tree (--path.cgroupfs)"},
    {"path.cgroupfs", NULL, FK_STRING, OFF(path_cgroupfs), "cgroup filesystem root (default /sys/fs/cgroup)"},
    {"collector.cgroup.version", NULL, FK_INT, OFF(cgroup_version), "Force cgroup version 1 or 2 (default: detect)"},
    {"log.level", NULL, FK_LOGLEVEL, OFF(log_level), "One of error, warn, info, debug (default info)"},
    {"help", "-h", FK_HELP, 0, "Show this help"},
    {"version", NULL, FK_VERSION, 0, "Show the version"},
};

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
    fprintf(out, "Usage: jobtel exporter [options]\n\n"
                 "Serves GPU (NVML) and Slurm job metrics for Prometheus.\n\nOptions:\n");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        const struct flag *f = &flags[i];
        char spelled[96];
        snprintf(spelled, sizeof spelled, "--%s%s%s%s", f->kind == FK_BOOL ? "[no-]" : "", f->name,
                 f->alias ? ", " : "", f->alias ? f->alias : "");
        fprintf(out, "  %-34s %s\n", spelled, f->help);
    }
    fprintf(out, "  %-34s %s\n", "--collector.<name>.interval=DUR",
            "How often collector <name> runs, e.g. 10s (default: as listed below)");
    fprintf(out, "\nCollectors (--[no-]collector.<name>, --collector.<name>.interval):\n");
    for (size_t i = 0; collector_table[i]; i++) {
        char every[48];
        if (collector_table[i]->default_interval > 0)
            snprintf(every, sizeof every, "every %gs", collector_table[i]->default_interval);
        else
            snprintf(every, sizeof every, "every --collect.interval");
        fprintf(out, "  %-34s %s (default %s, %s)\n", collector_table[i]->name, collector_table[i]->help,
                collector_table[i]->enabled_by_default ? "on" : "off", every);
    }
    fprintf(out, "\nSignals: SIGTERM/SIGINT stop gracefully; SIGHUP re-reads the counters file.\n"
                 "Exit codes: 0 clean stop, 1 runtime failure (e.g. cannot listen), 2 usage error.\n");
}

static const struct flag *flag_lookup(const char *name, size_t n, bool *negated)
{
    *negated = false;
    for (int pass = 0; pass < 2; pass++) {
        const char *nm = name;
        size_t nn = n;
        if (pass == 1) {
            if (nn < 3 || strncmp(nm, "no-", 3) != 0)
                break;
            nm += 3;
            nn -= 3;
        }
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
            if (strlen(flags[i].name) == nn && strncmp(flags[i].name, nm, nn) == 0) {
                if (pass == 1 && flags[i].kind != FK_BOOL)
                    return NULL;
                *negated = pass == 1;
                return &flags[i];
            }
        }
    }
    return NULL;
}

/* Finds the flag one of whose aliases is the first n bytes of arg. */
static const struct flag *alias_lookup_n(const char *arg, size_t n)
{
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        for (const char *a = flags[i].alias; a && *a;) {
            size_t al = strcspn(a, ",");
            if (al == n && strncmp(a, arg, n) == 0)
                return &flags[i];
            a += al;
            a += strspn(a, ", ");
        }
    }
    return NULL;
}

static const struct flag *alias_lookup(const char *arg)
{
    return alias_lookup_n(arg, strlen(arg));
}

static enum jt_err apply_flag(struct exporter_config *cfg, const struct flag *f, const char *val, bool *exit_now)
{
    char *base = (char *)cfg;
    switch (f->kind) {
    case FK_STRING:
        *(const char **)(base + f->offset) = val;
        return JT_OK;
    case FK_BOOL:
        if (strcmp(val, "true") == 0)
            *(bool *)(base + f->offset) = true;
        else if (strcmp(val, "false") == 0)
            *(bool *)(base + f->offset) = false;
        else
            return JT_ERR_USAGE;
        return JT_OK;
    case FK_DURATION: {
        double d;
        if (!str_to_duration(val, &d))
            return JT_ERR_USAGE;
        *(double *)(base + f->offset) = d;
        return JT_OK;
    }
    case FK_MILLIS: {
        uint64_t ms;
        if (!cstr_to_u64(val, &ms) || ms > 86400000u)
            return JT_ERR_USAGE;
        *(double *)(base + f->offset) = (double)ms / 1000.0;
        return JT_OK;
    }
    case FK_INT: {
        int64_t v;
        if (!cstr_to_i64(val, &v) || v < 0 || v > 1000000)
            return JT_ERR_USAGE;
        *(int *)(base + f->offset) = (int)v;
        return JT_OK;
    }
    case FK_LOGLEVEL:
        return log_parse_level(val, (enum log_level *)(base + f->offset)) ? JT_OK : JT_ERR_USAGE;
    case FK_HELP:
        config_usage(stdout);
        *exit_now = true;
        return JT_OK;
    case FK_VERSION:
        printf("jobtel exporter version %s\n", JOBTEL_VERSION);
        *exit_now = true;
        return JT_OK;
    case FK_NOHOST:
        cfg->hostname = NULL;
        return JT_OK;
    case FK_NOOP:
        /* Kept so existing unit files and manifests still start; said once so the admin can drop it. */
        fprintf(stderr, "jobtel exporter: warning: --%s is deprecated and has no effect\n", f->name);
        return JT_OK;
    }
    return JT_ERR_INTERNAL;
}

static bool takes_value(const struct flag *f)
{
    return f->kind != FK_BOOL && f->kind != FK_HELP && f->kind != FK_VERSION && f->kind != FK_NOHOST;
}

enum jt_err config_parse(struct exporter_config *cfg, int argc, char **argv, bool *exit_now)
{
    *exit_now = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const struct flag *f = NULL;
        const char *val = NULL;
        bool negated = false;
        if (strncmp(arg, "--", 2) == 0) {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            /* --[no-]collector.<name> switches a whole collector. */
            bool neg = strncmp(name, "no-", 3) == 0;
            const char *cn = name + (neg ? 3 : 0);
            size_t cnl = n - (neg ? 3 : 0);
            if (cnl > 10 && strncmp(cn, "collector.", 10) == 0 && !memchr(cn + 10, '.', cnl - 10) && !eq) {
                char cname[64];
                if (str_copy(cname, sizeof cname, cn + 10, cnl - 10)) {
                    int idx = collector_find(cname);
                    if (idx >= 0 && idx < CONFIG_MAX_COLLECTORS) {
                        cfg->collector_enabled[idx] = neg ? 0 : 1;
                        continue;
                    }
                }
            }
            /* --collector.<name>.interval=DURATION */
            if (cnl > 19 && !neg && strncmp(cn, "collector.", 10) == 0 &&
                strncmp(cn + cnl - 9, ".interval", 9) == 0) {
                char cname[64];
                int idx = -1;
                if (str_copy(cname, sizeof cname, cn + 10, cnl - 19))
                    idx = collector_find(cname);
                if (idx >= 0 && idx < CONFIG_MAX_COLLECTORS) {
                    const char *v = eq ? eq + 1 : NULL;
                    if (!v && i + 1 < argc)
                        v = argv[++i];
                    double d;
                    if (!v || !str_to_duration(v, &d) || d < 0.01 || d > 3600) {
                        fprintf(stderr, "jobtel exporter: invalid value '%s' for '%s' (a duration from 10ms to 1h)\n",
                                v ? v : "", arg);
                        return JT_ERR_USAGE;
                    }
                    cfg->collector_interval_s[idx] = d;
                    continue;
                }
            }
            f = flag_lookup(name, n, &negated);
            if (!f)
                f = alias_lookup(eq ? "" : arg); /* compatibility long spellings like --address */
            if (!f && eq) {
                char spelled[128];
                if (str_copy(spelled, sizeof spelled, arg, (size_t)(eq - arg)))
                    f = alias_lookup(spelled);
            }
            if (eq)
                val = eq + 1;
        } else if (arg[0] == '-') {
            /* dcgm-exporter's short flags, as "-a :9400" or "-a=:9400" */
            const char *eq = strchr(arg, '=');
            f = alias_lookup_n(arg, eq ? (size_t)(eq - arg) : strlen(arg));
            if (f && eq)
                val = eq + 1;
        }
        if (!f) {
            fprintf(stderr, "jobtel exporter: unknown option '%s' (see --help)\n", arg);
            return JT_ERR_USAGE;
        }
        if (f->kind == FK_BOOL) {
            if (!val)
                val = negated ? "false" : "true";
            else if (negated)
                val = strcmp(val, "true") == 0 ? "false" : strcmp(val, "false") == 0 ? "true" : val;
        } else if (takes_value(f) && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "jobtel exporter: option '%s' needs a value\n", arg);
                return JT_ERR_USAGE;
            }
            val = argv[++i];
        }
        if (apply_flag(cfg, f, val ? val : "", exit_now) != JT_OK) {
            fprintf(stderr, "jobtel exporter: invalid value '%s' for '%s'\n", val ? val : "", arg);
            return JT_ERR_USAGE;
        }
        if (*exit_now)
            return JT_OK;
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
