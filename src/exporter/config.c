/* config.c - command-line parsing for `jobtel exporter`.
 *
 * A table of flags (common/args.h), each with a kind and the field it sets, so --help and the parser
 * cannot drift apart; the collector switches are added from the registration table at run time.
 * Checks that span several flags (the interval's range, stale-after) follow the parse.
 */
#include "exporter/config.h"
#include "exporter/webconfig.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/collector.h"
#include "common/args.h"
#include "common/strparse.h"

#define OFF(field) offsetof(struct exporter_config, field)

#define DCGM_EXPORTER_DEFAULT_COUNTERS "/etc/dcgm-exporter/default-counters.csv"

/* dcgm-exporter's environment variables (dcgm-exporter.md §1), read in drop-in mode before the command line,
 * which wins. Each names the option it stands for. */
static const struct {
    const char *env;
    const char *opt;
} dcgm_env[] = {
    {"DCGM_EXPORTER_COLLECTORS", "--collectors"},
    {"DCGM_EXPORTER_LISTEN", "--web.listen-address"},
    {"DCGM_EXPORTER_INTERVAL", "--collect-interval"},
    {"DCGM_EXPORTER_KUBERNETES", "--kubernetes"},
    {"DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE", "--kubernetes-gpu-id-type"},
    {"DCGM_HPC_JOB_MAPPING_DIR", "--hpc-job-mapping-dir"},
    {"DCGM_REMOTE_HOSTENGINE_INFO", "--remote-hostengine-info"},
    {"DCGM_EXPORTER_DEVICES_STR", "--devices"},
    {"DCGM_EXPORTER_NO_HOSTNAME", "--no-hostname"},
    {"DCGM_EXPORTER_XID_COUNT_WINDOW_SIZE", "--xid-count-window-size"},
    {"DCGM_EXPORTER_CLOCK_EVENTS_COUNT_WINDOW_SIZE", "--clock-events-count-window-size"},
    {"DCGM_EXPORTER_WEB_CONFIG_FILE", "--web-config-file"},
    {"DCGM_EXPORTER_REPLACE_BLANKS_IN_MODEL_NAME", "--replace-blanks-in-model-name"},
    {"DCGM_POD_RESOURCES_KUBELET_SOCKET", "--kubernetes.pod-resources-socket"},
};
#define DCGM_ENV_N (sizeof dcgm_env / sizeof dcgm_env[0])

static bool opt_no_hostname(void *base, const char *unused, const char **why)
{
    (void)unused;
    (void)why;
    ((struct exporter_config *)base)->hostname = NULL;
    return true;
}

_Static_assert(sizeof(enum log_level) == sizeof(int), "ARGS_CHOICE stores an int");

/* The series budget switches (docs/scaling.md): where job labels go, and how many fields. */
static const char *const job_labels_words[] = {"all", "info", NULL};
static const int job_labels_values[] = {GPU_JOB_LABELS_ALL, GPU_JOB_LABELS_INFO};
static const char *const fields_words[] = {"full", "minimal", NULL};
static const int fields_values[] = {GPU_FIELDS_FULL, GPU_FIELDS_MINIMAL};

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
    {.name = "collector.gpu.job-labels", .kind = ARGS_CHOICE, .offset = OFF(gpu_job_labels),
     .choices = job_labels_words, .values = job_labels_values, .placeholder = "all|info",
     .help = "all: job and pod labels on every GPU series (dcgm-exporter, Princeton); info: only on one info "
             "series per GPU and job (jobtel_gpu_job_info, nvidia_gpu_jobId), so a job's end creates and removes "
             "few series (default all; see docs/scaling.md)"},
    {.name = "collector.gpu.fields", .kind = ARGS_CHOICE, .offset = OFF(gpu_fields), .choices = fields_words,
     .values = fields_values, .placeholder = "full|minimal",
     .help = "full: dcgm-exporter's default fields (or -f) and every Princeton name; minimal: only what the shipped "
             "rules, dashboards and jobstats read (-f still selects the DCGM fields) (default full)"},
    {.name = "collector.cgroup.steps", .kind = ARGS_BOOL, .offset = OFF(cgroup_steps),
     .help = "cgroup_* series for each job step and task too, not only for the job (step=\"\", task=\"\") that "
             "jobstats reads (default on)"},
    {.name = "collector.gpu.xid-events", .kind = ARGS_BOOL, .offset = OFF(gpu_xid_events),
     .help = "Watch NVML XID events (default on)"},
    {.name = "xid-count-window-size", .aliases = "-x", .kind = ARGS_MILLIS, .offset = OFF(xid_count_window_s),
     .placeholder = "MS", .min = 1, .max = 86400000,
     .help = "Window of DCGM_EXP_XID_ERRORS_COUNT, in milliseconds (dcgm-exporter's -x; default 300000)"},
    {.name = "clock-events-count-window-size", .kind = ARGS_MILLIS, .offset = OFF(clock_events_window_s),
     .placeholder = "MS", .min = 1, .max = 86400000,
     .help = "Window of DCGM_EXP_CLOCK_EVENTS_COUNT, in milliseconds (as dcgm-exporter; default 300000)"},
    {.name = "collector.gpu.gpm", .kind = ARGS_BOOL, .offset = OFF(gpu_gpm),
     .help = "Profiling fields (DCGM_FI_PROF_*) from NVML GPM on Hopper and newer (default on; "
             "--no-collector.gpu.gpm: no GPM sampling at all)"},
    {.name = "collector.gpu.dcgm", .kind = ARGS_BOOL, .offset = OFF(gpu_dcgm),
     .help = "Profiling fields from DCGM (embedded engine; -r for a host engine) instead of NVML GPM (default off; "
             "-r turns it on)"},
    {.name = "collector.gpu.dcgm-library", .kind = ARGS_STRING, .offset = OFF(dcgm_library), .placeholder = "PATH",
     .help = "DCGM library to load (default libdcgm.so.4, then libdcgm.so.3)"},
    {.name = "remote-hostengine-info", .aliases = "-r", .kind = ARGS_STRING, .offset = OFF(remote_hostengine),
     .placeholder = "HOST:PORT",
     .help = "DCGM host engine, host:port or a unix socket path (dcgm-exporter's -r); turns --collector.gpu.dcgm on"},
    {.name = "collector.gpu.profiling-pause-dir", .kind = ARGS_STRING, .offset = OFF(profiling_pause_dir),
     .placeholder = "DIR",
     .help = "A file here named after a GPU (index or UUID) pauses GPM/DCGM profiling sampling on it, for a job "
             "running Nsight/CUPTI (default /run/jobtel/profiling-pause; empty disables)"},
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
    {.name = "collector.gpu.accounting", .kind = ARGS_BOOL, .offset = OFF(gpu_accounting),
     .help = "Keep exact per-job GPU totals (busy seconds, energy, ...) as jobtel_job_gpu_*_total counters (default on)"},
    {.name = "path.accounting", .kind = ARGS_STRING, .offset = OFF(accounting_path), .placeholder = "DIR",
     .help = "Directory of the per-job accounting state, kept across restarts (default /run/jobtel; empty: not kept)"},
    {.name = "accounting.retention", .kind = ARGS_DURATION, .offset = OFF(accounting_retention_s),
     .placeholder = "DURATION", .help = "How long an ended job's totals are kept and exported (default 24h)"},
    {.name = "accounting.export-ended", .kind = ARGS_DURATION, .offset = OFF(accounting_export_ended_s),
     .placeholder = "DURATION", .help = "How long an ended job's jobtel_job_gpu_* series stay in /metrics, so a slow "
                                        "scraper sees the final totals (default 0: they go with the job's labels)"},
    {.name = "accounting.max-records", .kind = ARGS_INT, .offset = OFF(accounting_max_records), .placeholder = "N",
     .min = 1, .max = 1000000, .help = "(job, GPU) records kept at most; the oldest ended job is evicted first (default 4096)"},
    {.name = "accounting.socket", .kind = ARGS_STRING, .offset = OFF(accounting_socket), .placeholder = "PATH",
     .help = "Root-only unix socket where the node epilog gets a finished job's record (default "
             "<path.accounting>/accounting.sock; empty: off)"},
    {.name = "path.procfs", .kind = ARGS_STRING, .offset = OFF(path_procfs), .placeholder = "DIR",
     .help = "procfs mount point (default /proc)"},
    {.name = "path.sysfs", .kind = ARGS_DEPRECATED, .placeholder = "DIR",
     .help = "Deprecated, no effect: nothing is read from sysfs but the cgroup tree (--path.cgroupfs)"},
    {.name = "path.cgroupfs", .kind = ARGS_STRING, .offset = OFF(path_cgroupfs), .placeholder = "DIR",
     .help = "cgroup filesystem root (default /sys/fs/cgroup)"},
    {.name = "collector.cgroup.version", .kind = ARGS_INT, .offset = OFF(cgroup_version), .placeholder = "N",
     .min = 0, .max = 1000000, .help = "Force cgroup version 1 or 2 (default: detect)"},
    {.name = "dcgm-exporter-compat", .kind = ARGS_BOOL, .offset = OFF(dcgm_compat),
     .help = "Behave as dcgm-exporter (also when started as `dcgm-exporter`): its DCGM_EXPORTER_* variables, its "
             "default counters file, no Princeton names unless asked for"},
    {.name = "devices", .aliases = "-d", .kind = ARGS_STRING, .offset = OFF(devices), .placeholder = "SPEC",
     .help = "GPUs to export, dcgm-exporter's syntax: f (all), g[:0,1,2-4] or i[:...] (default f)"},
    {.name = "kubernetes-gpu-id-type", .kind = ARGS_STRING, .offset = OFF(kubernetes_gpu_id_type),
     .placeholder = "TYPE",
     .help = "uid or device-name (dcgm-exporter's; jobtel matches the kubelet's device ids in either form)"},
    /* privileges (exporter/privdrop.c) */
    {.name = "run-as-user", .aliases = "--user", .kind = ARGS_STRING, .offset = OFF(run_as_user), .placeholder = "USER",
     .help = "Started as root, become USER (name or uid, e.g. jobtel) once the port is bound and NVML is open, "
             "with no capability left (default: stay uid 0 but without any capability; root: stay root)"},
    {.name = "path.devfs", .kind = ARGS_STRING, .offset = OFF(path_devfs), .placeholder = "DIR",
     .help = "Where the GPU device nodes are: their groups are kept by --run-as-user when they are not open to all "
             "(default /dev)"},
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
    cfg->gpu_job_labels = GPU_JOB_LABELS_ALL;
    cfg->gpu_fields = GPU_FIELDS_FULL;
    cfg->cgroup_steps = true;
    cfg->gpu_xid_events = true;
    cfg->gpu_gpm = true;
    cfg->xid_count_window_s = 300.0;
    cfg->clock_events_window_s = 300.0;
    cfg->device_mask = ~0ULL;
    cfg->profiling_pause_dir = "/run/jobtel/profiling-pause";
    cfg->hpc_job_mapping_dir = "/run/dcgm-job-map";
    cfg->gpustat_dir = "/run/gpustat";
    cfg->pod_resources_socket = "/var/lib/kubelet/pod-resources/kubelet.sock";
    cfg->gpu_accounting = true;
    cfg->accounting_path = "/run/jobtel";
    cfg->accounting_retention_s = 86400;
    cfg->accounting_max_records = 4096;
    cfg->accounting_socket = NULL; /* derived from --path.accounting after parsing */
    cfg->path_procfs = "/proc";
    cfg->path_cgroupfs = "/sys/fs/cgroup";
    cfg->path_devfs = "/dev";
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


bool config_is_dcgm_exporter_name(const char *argv0)
{
    if (!argv0)
        return false;
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    return strcmp(base, "dcgm-exporter") == 0;
}

/* -d: "f", "g" or "i", optionally ":" and a comma list of indices and ranges. Fills *mask. */
static bool parse_devices(const char *s, unsigned long long *mask)
{
    if ((s[0] != 'f' && s[0] != 'g' && s[0] != 'i') || (s[1] != '\0' && s[1] != ':'))
        return false;
    *mask = ~0ULL;
    if (s[1] == '\0')
        return true;
    if (s[0] == 'f' || s[2] == '\0')
        return false; /* flex takes no list; "g:" names no GPU */
    unsigned long long m = 0;
    const char *p = s + 2;
    while (*p) {
        size_t n = strcspn(p, ",");
        char tok[32];
        if (n == 0 || !str_copy(tok, sizeof tok, p, n))
            return false;
        char *dash = strchr(tok, '-');
        uint64_t lo, hi;
        if (dash) {
            *dash = '\0';
            if (!cstr_to_u64(tok, &lo) || !cstr_to_u64(dash + 1, &hi))
                return false;
        } else if (!cstr_to_u64(tok, &lo)) {
            return false;
        } else {
            hi = lo;
        }
        if (lo > hi || hi >= 64)
            return false;
        for (uint64_t i = lo; i <= hi; i++)
            m |= 1ULL << i;
        p += n;
        if (*p == ',' && *++p == '\0')
            return false;
    }
    *mask = m;
    return true;
}

/* A bad web config is a configuration error found before anything starts (exit 2), as a bad counters
 * file is; the HTTP front loads it again when it starts (and on SIGHUP). */
static bool web_config_valid(const char *path)
{
    char err[512] = "";
    struct webconfig *wc = NULL;
    struct webconfig_tls *tls = NULL;
    enum jt_err rc = webconfig_load(path, &wc, err, sizeof err);
    if (rc == JT_OK && wc->tls)
        rc = webconfig_tls_load(wc, &tls, err, sizeof err);
    if (rc != JT_OK)
        fprintf(stderr, "jobtel exporter: web config: %s\n", err[0] ? err : jt_strerror(rc));
    webconfig_tls_free(tls);
    webconfig_free(wc);
    return rc == JT_OK;
}

/* Drop-in mode: dcgm-exporter's variables, parsed as the options they stand for before the command line (which
 * wins, being parsed after). The values point into the environment, which outlives the configuration. */
static enum jt_err apply_dcgm_env(const struct args_spec *spec, struct exporter_config *cfg)
{
    char *argv[2 * DCGM_ENV_N + 1];
    int argc = 0;
    argv[argc++] = (char *)"dcgm-exporter-environment";
    for (size_t i = 0; i < DCGM_ENV_N; i++) {
        const char *v = getenv(dcgm_env[i].env);
        if (!v || !*v)
            continue;
        bool is_bool = strcmp(dcgm_env[i].opt, "--kubernetes") == 0 ||
                       strcmp(dcgm_env[i].opt, "--replace-blanks-in-model-name") == 0;
        bool yes = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
        if (strcmp(dcgm_env[i].opt, "--no-hostname") == 0) {
            if (yes)
                argv[argc++] = (char *)"--no-hostname";
            continue;
        }
        if (is_bool) {
            argv[argc++] = (char *)(yes ? dcgm_env[i].opt : strcmp(dcgm_env[i].opt, "--kubernetes") == 0
                                                               ? "--no-kubernetes"
                                                               : "--no-replace-blanks-in-model-name");
            continue;
        }
        argv[argc++] = (char *)dcgm_env[i].opt;
        argv[argc++] = (char *)v;
    }
    struct args_error err;
    if (args_parse(spec, cfg, argc, argv, NULL, NULL, &err) != ARGS_OK) {
        fprintf(stderr, "jobtel exporter: dcgm-exporter's environment variables: %s: %s\n", err.arg ? err.arg : "",
                err.why);
        return JT_ERR_USAGE;
    }
    return JT_OK;
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
    /* Drop-in mode is decided before anything else: its variables are overridden by the command line. */
    bool compat = argc > 0 && config_is_dcgm_exporter_name(argv[0]);
    for (int i = 1; i < argc && !compat; i++)
        compat = strcmp(argv[i], "--dcgm-exporter-compat") == 0 || strcmp(argv[i], "--dcgm-exporter-compat=true") == 0;
    if (compat) {
        cfg->dcgm_compat = true;
        cfg->gpu_jobstats_names = false;
        if (access(DCGM_EXPORTER_DEFAULT_COUNTERS, R_OK) == 0)
            cfg->counters_file = DCGM_EXPORTER_DEFAULT_COUNTERS;
        enum jt_err rc = apply_dcgm_env(&spec, cfg);
        if (rc != JT_OK)
            return rc;
    }
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
    if (cfg->profiling_pause_dir && !*cfg->profiling_pause_dir)
        cfg->profiling_pause_dir = NULL;
    if (cfg->remote_hostengine && !*cfg->remote_hostengine)
        cfg->remote_hostengine = NULL;
    if (cfg->remote_hostengine)
        cfg->gpu_dcgm = true; /* as in dcgm-exporter: -r means a host engine */
    if (cfg->devices && !parse_devices(cfg->devices, &cfg->device_mask)) {
        fprintf(stderr, "jobtel exporter: -d/--devices '%s': expected f, g[:list] or i[:list] (list: 0,1,2-4)\n",
                cfg->devices);
        return JT_ERR_USAGE;
    }
    if (cfg->kubernetes_gpu_id_type && strcmp(cfg->kubernetes_gpu_id_type, "uid") != 0 &&
        strcmp(cfg->kubernetes_gpu_id_type, "device-name") != 0) {
        fprintf(stderr, "jobtel exporter: --kubernetes-gpu-id-type must be uid or device-name\n");
        return JT_ERR_USAGE;
    }
    if (cfg->web_config_file && !*cfg->web_config_file)
        cfg->web_config_file = NULL;
    if (cfg->web_config_file && !web_config_valid(cfg->web_config_file))
        return JT_ERR_USAGE;
    if (cfg->accounting_path && !*cfg->accounting_path)
        cfg->accounting_path = NULL;
    if (!cfg->accounting_socket && cfg->accounting_path) {
        int n = snprintf(cfg->accounting_socket_buf, sizeof cfg->accounting_socket_buf, "%s/accounting.sock",
                         cfg->accounting_path);
        if (n > 0 && (size_t)n < sizeof cfg->accounting_socket_buf)
            cfg->accounting_socket = cfg->accounting_socket_buf;
    } else if (cfg->accounting_socket && !*cfg->accounting_socket) {
        cfg->accounting_socket = NULL;
    }
    /* The accumulators are fed by the GPU collector: without it there is nothing to keep. */
    int gpu = collector_find("gpu");
    if (gpu >= 0 && gpu < CONFIG_MAX_COLLECTORS && cfg->collector_enabled[gpu] == 0)
        cfg->gpu_accounting = false;
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
