/* doctor.c - `jobtel doctor`: options, which checks a role runs, and the report (text or JSON).
 *
 * A program of its own (`jobtel-doctor`, exec'd by the front like `jobtel exporter`): it dlopens NVML
 * and reads JSON, which the front, loaded by slurmd for every job's prolog, must not carry. The exit
 * code is the number of failed checks (warnings do not count), so 0 means healthy and a script can
 * test it; a usage error exits 64 (EX_USAGE), above any possible count of failures.
 */
#include "doctor/doctor.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/args.h"

#define DOCTOR_EXIT_USAGE 64

void doctor_add(struct doctor_report *rep, const char *check, enum doctor_status st, const char *fix,
                const char *fmt, ...)
{
    if (rep->n == DOCTOR_MAX_CHECKS)
        return;
    struct doctor_result *r = &rep->r[rep->n++];
    r->check = check;
    r->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    snprintf(r->fix, sizeof r->fix, "%s", fix && st != DOCTOR_OK ? fix : "");
}

static const char *status_name(enum doctor_status s)
{
    switch (s) {
    case DOCTOR_OK:
        return "ok";
    case DOCTOR_WARN:
        return "warn";
    case DOCTOR_FAIL:
        return "fail";
    }
    return "fail";
}

static const char *role_name(enum doctor_role r)
{
    switch (r) {
    case DOCTOR_ROLE_GPU:
        return "gpu";
    case DOCTOR_ROLE_CONTROLLER:
        return "controller";
    case DOCTOR_ROLE_LOGIN:
        return "login";
    }
    return "gpu";
}

static int print_report(const struct doctor_opts *o, const struct doctor_report *rep)
{
    int failed = 0;
    for (size_t i = 0; i < rep->n; i++)
        failed += rep->r[i].status == DOCTOR_FAIL;
    if (o->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < rep->n; i++) {
            const struct doctor_result *r = &rep->r[i];
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "check", r->check, "status",
                                                 status_name(r->status), "message", r->msg, "fix", r->fix));
        }
        json_t *root = json_pack("{s:s, s:i, s:o}", "role", role_name(o->role), "failed", failed, "checks", arr);
        char *s = root ? json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(root);
    } else {
        static const char *const tag[] = {"[ OK ]", "[WARN]", "[FAIL]"};
        for (size_t i = 0; i < rep->n; i++) {
            const struct doctor_result *r = &rep->r[i];
            printf("%s %s: %s%s%s\n", tag[r->status], r->check, r->msg, r->fix[0] ? " -- fix: " : "", r->fix);
        }
        printf("%d check(s) failed\n", failed);
    }
    fflush(stdout);
    return failed;
}

#define DOFF(f) offsetof(struct doctor_opts, f)
_Static_assert(sizeof(enum doctor_role) == sizeof(int), "ARGS_CHOICE stores an int");

static const char *const role_words[] = {"gpu", "controller", "login", NULL};
static const int role_values[] = {DOCTOR_ROLE_GPU, DOCTOR_ROLE_CONTROLLER, DOCTOR_ROLE_LOGIN};

static const struct args_opt doctor_opts_table[] = {
    {.name = "role", .kind = ARGS_CHOICE, .offset = DOFF(role), .placeholder = "ROLE", .choices = role_words,
     .values = role_values,
     .help = "gpu (default): NVML, mapping dirs, cgroups, slurm.conf Prolog/Epilog, exporter, Prometheus "
             "scraping this node; controller: slurm.conf EpilogSlurmctld, summary spool, Prometheus; "
             "login: Prometheus reachable"},
    {.name = "json", .kind = ARGS_FLAG, .offset = DOFF(json), .help = "one JSON document instead of lines"},
    {.name = "nvml-library", .aliases = "--collector.gpu.nvml-library", .kind = ARGS_STRING,
     .offset = DOFF(nvml_library), .placeholder = "PATH", .help = "NVML to load (default libnvidia-ml.so.1)"},
    {.name = "hpc-job-mapping-dir", .kind = ARGS_STRING, .offset = DOFF(hpc_dir), .placeholder = "DIR",
     .help = "(default /run/dcgm-job-map; empty: not used)"},
    {.name = "slurm.gpustat-dir", .kind = ARGS_STRING, .offset = DOFF(gpustat_dir), .placeholder = "DIR",
     .help = "(default /run/gpustat; empty: not used)"},
    {.name = "path.cgroupfs", .kind = ARGS_STRING, .offset = DOFF(cgroupfs), .placeholder = "DIR",
     .help = "(default /sys/fs/cgroup)"},
    {.name = "slurm-conf", .kind = ARGS_STRING, .offset = DOFF(slurm_conf), .placeholder = "FILE",
     .help = "(default $SLURM_CONF, else /etc/slurm/slurm.conf)"},
    {.name = "path.bcm-slurm", .kind = ARGS_STRING, .offset = DOFF(bcm_slurm_dir), .placeholder = "DIR",
     .help = "BCM's prologs/ and epilogs/ (default /cm/local/apps/slurm/var)"},
    {.name = "exporter.url", .kind = ARGS_STRING, .offset = DOFF(exporter_url), .placeholder = "URL",
     .help = "(default http://localhost:9400/metrics)"},
    {.name = "prometheus.url", .aliases = "--prometheus", .kind = ARGS_STRING, .offset = DOFF(prometheus_url),
     .placeholder = "URL", .help = "plain HTTP (default $JOBTEL_PROMETHEUS_URL, else http://localhost:9090)"},
    {.name = "prometheus.job", .kind = ARGS_STRING, .offset = DOFF(prometheus_job), .placeholder = "NAME",
     .help = "scrape job of the exporters (default jobtel)"},
    {.name = "instance", .kind = ARGS_STRING, .offset = DOFF(instance), .placeholder = "NAME",
     .help = "this node's instance label, without port (default: the short host name)"},
    {.name = "spool-dir", .kind = ARGS_STRING, .offset = DOFF(spool_dir), .placeholder = "DIR",
     .help = "summary spool (default /var/spool/jobtel/summaries)"},
    {.name = "spool-max-age", .kind = ARGS_DURATION, .offset = DOFF(spool_max_age_s), .placeholder = "AGE",
     .min = 1, .max = 365 * 86400.0,
     .help = "an older spooled job means the spool is not draining (default 1h)"},
    {.name = "timeout", .kind = ARGS_DURATION, .offset = DOFF(timeout_s), .placeholder = "AGE", .min = 0.1,
     .max = 600, .help = "per HTTP request and for NVML (default 5s)"},
    {.name = "help", .aliases = "-h", .kind = ARGS_HELP, .help = "this help"},
    {.name = "version", .kind = ARGS_VERSION, .help = "print the version"},
    {.kind = ARGS_END},
};

static const struct args_spec doctor_spec = {
    .prog = "jobtel doctor",
    .usage = "jobtel doctor [options]",
    .description = "Checks what this node's role needs and prints one line per check with the fix.",
    .opts = doctor_opts_table,
    .epilogue = "Exit code: the number of failed checks (0 = healthy); 64 on a usage error.",
};

int cmd_doctor(int argc, char **argv)
{
    static char host[256];
    const char *slurm_conf = getenv("SLURM_CONF"), *prom = getenv("JOBTEL_PROMETHEUS_URL");
    struct doctor_opts o = {
        .role = DOCTOR_ROLE_GPU,
        .nvml_library = "libnvidia-ml.so.1",
        .hpc_dir = "/run/dcgm-job-map",
        .gpustat_dir = "/run/gpustat",
        .cgroupfs = "/sys/fs/cgroup",
        .slurm_conf = slurm_conf && *slurm_conf ? slurm_conf : "/etc/slurm/slurm.conf",
        .bcm_slurm_dir = "/cm/local/apps/slurm/var",
        .exporter_url = "http://localhost:9400/metrics",
        .prometheus_url = prom && *prom ? prom : "http://localhost:9090",
        .prometheus_job = "jobtel",
        .instance = NULL,
        .spool_dir = "/var/spool/jobtel/summaries",
        .timeout_s = 5,
        .spool_max_age_s = 3600,
    };
    struct args_error err;
    switch (args_parse(&doctor_spec, &o, argc, argv, NULL, NULL, &err)) {
    case ARGS_OK:
        break;
    case ARGS_EXIT:
        return 0;
    case ARGS_USAGE:
        args_print_error(&doctor_spec, &err);
        return DOCTOR_EXIT_USAGE;
    }
    if (!o.instance) {
        if (gethostname(host, sizeof host - 1) != 0)
            snprintf(host, sizeof host, "localhost");
        host[strcspn(host, ".")] = '\0';
        o.instance = host;
    }

    struct doctor_report rep = {0};
    switch (o.role) {
    case DOCTOR_ROLE_GPU:
        doctor_check_nvml(&o, &rep);
        doctor_check_mapping(&o, &rep);
        doctor_check_cgroup(&o, &rep);
        doctor_check_slurm_conf(&o, &rep);
        doctor_check_exporter(&o, &rep);
        doctor_check_prometheus(&o, &rep);
        break;
    case DOCTOR_ROLE_CONTROLLER:
        doctor_check_slurm_conf(&o, &rep);
        doctor_check_spool(&o, &rep);
        doctor_check_prometheus(&o, &rep);
        break;
    case DOCTOR_ROLE_LOGIN:
        doctor_check_prometheus(&o, &rep);
        break;
    }
    return print_report(&o, &rep);
}
