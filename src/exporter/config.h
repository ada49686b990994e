/* config.h - the exporter's settings, parsed from the command line.
 *
 * One plain struct, filled once at start-up and then read-only, handed to every collector's init.
 * Flag names follow node_exporter (`--web.listen-address`, `--[no-]collector.<name>`, `--path.*`),
 * with dcgm-exporter's short flags accepted where jobtel is its drop-in.
 */
#ifndef JOBTEL_CONFIG_H
#define JOBTEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "common/log.h"

#define CONFIG_MAX_COLLECTORS 16

/* --collector.gpu.job-labels and --collector.gpu.fields */
enum { GPU_JOB_LABELS_ALL, GPU_JOB_LABELS_INFO };
enum { GPU_FIELDS_FULL, GPU_FIELDS_MINIMAL };

struct api_store;
struct job_acct;
struct owners;

struct exporter_config {
    /* web */
    const char *listen_address;     /* "[host]:port", default ":9400" */
    const char *telemetry_path;     /* default "/metrics" */
    const char *web_config_file;    /* exporter-toolkit web config (TLS, basic auth), NULL = none */
    /* collection */
    double collect_interval_s;      /* default 1 s */
    double stale_after_s;           /* /health turns 503 when a collector's last result is older */
    /* collectors on/off; indexed like the registration table; -1 = default */
    int collector_enabled[CONFIG_MAX_COLLECTORS];
    /* --collector.<name>.interval, indexed like the registration table; 0 = the collector's own default
     * (collector_ops.default_interval), else collect_interval_s. Read through config_interval(). */
    double collector_interval_s[CONFIG_MAX_COLLECTORS];
    /* gpu collector */
    const char *nvml_library;       /* default "libnvidia-ml.so.1" */
    const char *counters_file;      /* dcgm-exporter counters CSV, NULL = built-in default list */
    bool gpu_dcgm_names;
    bool gpu_jobstats_names;
    /* series budget for large sites (docs/scaling.md) */
    int gpu_job_labels;             /* GPU_JOB_LABELS_ALL: job and pod labels on every GPU series; _INFO: only
                                     * on the info series (jobtel_gpu_job_info, nvidia_gpu_jobId) */
    int gpu_fields;                 /* GPU_FIELDS_FULL, or _MINIMAL: what the shipped rules, dashboards and
                                     * jobstats read */
    bool gpu_xid_events;
    bool gpu_gpm;                   /* --[no-]collector.gpu.gpm: the GPM producer (default on) */
    double xid_count_window_s;      /* -x: the window of DCGM_EXP_XID_ERRORS_COUNT, default 300 s */
    double clock_events_window_s;   /* the window of DCGM_EXP_CLOCK_EVENTS_COUNT, default 300 s */
    bool gpu_dcgm;                  /* profiling fields from DCGM (embedded, or -r remote) instead of GPM */
    const char *dcgm_library;       /* NULL: libdcgm.so.4, then libdcgm.so.3 */
    const char *profiling_pause_dir; /* GPUs named here get no GPM/DCGM profiling sampling; NULL = off */
    const char *hostname;           /* value of the `hostname` label; NULL = no label */
    bool replace_blanks_in_model_name;
    /* Slurm attribution */
    const char *hpc_job_mapping_dir; /* dcgm-exporter format; NULL = off */
    const char *gpustat_dir;         /* Princeton format; NULL = off */
    /* Kubernetes pod attribution */
    bool kubernetes;                 /* -k: ask the kubelet which pod uses which GPU */
    const char *pod_resources_socket; /* kubelet pod-resources socket */
    const char *kubernetes_resource_names; /* comma list of extra device-plugin resource names, or NULL */
    /* Not a flag: the GPU samples the JSON API serves, created by exporter.c before the collectors
     * start, written by the GPU collector and read by the HTTP thread (exporter/api.h). NULL = none. */
    struct api_store *api;
    /* Not a flag either: the latest table of each attribution stage (attribution/owners.h), created by
     * exporter.c, published by the attribution collectors, read by the GPU collector. NULL = none. */
    struct owners *owners;
    /* per-job accounting (accounting/job_accounting.h) */
    bool gpu_accounting;            /* --[no-]collector.gpu.accounting */
    const char *accounting_path;    /* --path.accounting: state directory, default /run/jobtel; "" = none */
    double accounting_retention_s;  /* how long an ended job's record is kept (default 24h) */
    double accounting_export_ended_s; /* how long an ended job's series stay in /metrics (default 0) */
    int accounting_max_records;     /* (job, GPU) records kept at most (default 4096) */
    const char *accounting_socket;  /* the epilog's record socket, default <accounting_path>/accounting.sock; NULL = off */
    char accounting_socket_buf[256]; /* the default, derived after parsing */
    /* Not a flag: the per-job totals, created by exporter.c, written by the GPU collector. NULL = off. */
    struct job_acct *acct;
    /* filesystem roots */
    const char *path_procfs;        /* default "/proc" */
    const char *path_cgroupfs;      /* default "/sys/fs/cgroup" */
    int cgroup_version;             /* 0 = detect, 1 or 2 = forced */
    bool cgroup_steps;              /* series for steps and tasks too (default), not only for jobs */
    /* logging */
    enum log_level log_level;
    /* dcgm-exporter drop-in (started as `dcgm-exporter`, or --dcgm-exporter-compat) */
    bool dcgm_compat;                /* DCGM_EXPORTER_* variables count; dcgm-exporter's defaults */
    const char *remote_hostengine;   /* -r host:port: a DCGM hostengine; NULL = embedded */
    const char *devices;             /* -d: "f", "g[:list]" or "i[:list]" */
    unsigned long long device_mask;  /* GPUs -d selects (bit = NVML index); all ones = every GPU */
    const char *kubernetes_gpu_id_type; /* "uid" or "device-name" */
    /* privileges (exporter/privdrop.h) */
    const char *run_as_user;         /* --run-as-user: NULL = uid 0 without capabilities, "root" = keep */
    const char *path_devfs;          /* where the GPU device nodes are, for their groups; default "/dev" */
};

void config_defaults(struct exporter_config *cfg);

/* True when argv[0] names dcgm-exporter (a symlink in its place): drop-in mode. */
bool config_is_dcgm_exporter_name(const char *argv0);

/* Parses argv (after the subcommand). Returns JT_OK, JT_ERR_USAGE after printing the reason, or
 * sets *exit_now (for --help/--version, already printed). */
enum jt_err config_parse(struct exporter_config *cfg, int argc, char **argv, bool *exit_now);

void config_usage(FILE *out);

/* How often collector `idx` (of the registration table) runs: its flag, else its own default, else
 * --collect.interval. */
double config_interval(const struct exporter_config *cfg, size_t idx);
/* When collector `idx`'s last result counts as stale: --collect.stale-after, scaled by how much slower
 * than --collect.interval the collector runs (a 10 s collector is not stale after 3 s). */
double config_stale_after(const struct exporter_config *cfg, size_t idx);

#endif
