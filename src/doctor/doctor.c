/* doctor.c - `jobtel doctor`: options, which checks a role runs, and the report (text or JSON).
 *
 * A program of its own (`jobtel-doctor`, exec'd by the front like `jobtel exporter`): it dlopens NVML
 * and reads JSON, which the front, loaded by slurmd for every job's prolog, must not carry. The exit
 * code is the number of failed checks (warnings do not count), so 0 means healthy and a script can
 * test it; a usage error exits 64 (EX_USAGE), above any possible count of failures.
 */
#include "doctor/doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/cli.h"
#include "common/strparse.h"

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

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: jobtel doctor [options]\n\n"
            "Checks what this node's role needs and prints one line per check with the fix.\n"
            "Exit code: the number of failed checks (0 = healthy); 64 on a usage error.\n\n"
            "  --role ROLE                 gpu (default): NVML, mapping dirs, cgroups, slurm.conf Prolog/Epilog,\n"
            "                              exporter, Prometheus scraping this node;\n"
            "                              controller: slurm.conf EpilogSlurmctld, summary spool, Prometheus;\n"
            "                              login: Prometheus reachable\n"
            "  --json                      one JSON document instead of lines\n"
            "  --nvml-library PATH         NVML to load (default libnvidia-ml.so.1)\n"
            "  --hpc-job-mapping-dir DIR   (default /run/dcgm-job-map; empty: not used)\n"
            "  --slurm.gpustat-dir DIR     (default /run/gpustat; empty: not used)\n"
            "  --path.cgroupfs DIR         (default /sys/fs/cgroup)\n"
            "  --slurm-conf FILE           (default $SLURM_CONF, else /etc/slurm/slurm.conf)\n"
            "  --path.bcm-slurm DIR        BCM's prologs/ and epilogs/ (default /cm/local/apps/slurm/var)\n"
            "  --exporter.url URL          (default http://localhost:9400/metrics)\n"
            "  --prometheus.url URL        (default $JOBTEL_PROMETHEUS_URL, else http://localhost:9090)\n"
            "  --prometheus.job NAME       scrape job of the exporters (default jobtel)\n"
            "  --instance NAME             this node's instance label, without port (default: short host name)\n"
            "  --spool-dir DIR             summary spool (default /var/spool/jobtel/summaries)\n"
            "  --spool.max-age AGE         older entries mean the spool is not draining (default 1h)\n"
            "  --timeout AGE               per HTTP request and for NVML (default 5s)\n"
            "  --help, --version\n");
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

static bool parse_age(const char *s, double *out)
{
    double v;
    if (str_to_duration(s, &v) && v > 0) {
        *out = v;
        return true;
    }
    return false;
}

int cmd_doctor(int argc, char **argv)
{
    static char host[256];
    struct doctor_opts o = {
        .role = DOCTOR_ROLE_GPU,
        .nvml_library = "libnvidia-ml.so.1",
        .hpc_dir = "/run/dcgm-job-map",
        .gpustat_dir = "/run/gpustat",
        .cgroupfs = "/sys/fs/cgroup",
        .slurm_conf = getenv("SLURM_CONF") && *getenv("SLURM_CONF") ? getenv("SLURM_CONF") : "/etc/slurm/slurm.conf",
        .bcm_slurm_dir = "/cm/local/apps/slurm/var",
        .exporter_url = "http://localhost:9400/metrics",
        .prometheus_url = getenv("JOBTEL_PROMETHEUS_URL") && *getenv("JOBTEL_PROMETHEUS_URL")
                              ? getenv("JOBTEL_PROMETHEUS_URL")
                              : "http://localhost:9090",
        .prometheus_job = "jobtel",
        .instance = NULL,
        .spool_dir = "/var/spool/jobtel/summaries",
        .timeout_s = 5,
        .spool_max_age_s = 3600,
    };
    static const struct {
        const char *name;
        size_t off;
    } strflags[] = {
        {"--nvml-library", offsetof(struct doctor_opts, nvml_library)},
        {"--collector.gpu.nvml-library", offsetof(struct doctor_opts, nvml_library)},
        {"--hpc-job-mapping-dir", offsetof(struct doctor_opts, hpc_dir)},
        {"--slurm.gpustat-dir", offsetof(struct doctor_opts, gpustat_dir)},
        {"--path.cgroupfs", offsetof(struct doctor_opts, cgroupfs)},
        {"--slurm-conf", offsetof(struct doctor_opts, slurm_conf)},
        {"--path.bcm-slurm", offsetof(struct doctor_opts, bcm_slurm_dir)},
        {"--exporter.url", offsetof(struct doctor_opts, exporter_url)},
        {"--prometheus.url", offsetof(struct doctor_opts, prometheus_url)},
        {"--prometheus.job", offsetof(struct doctor_opts, prometheus_job)},
        {"--instance", offsetof(struct doctor_opts, instance)},
        {"--spool-dir", offsetof(struct doctor_opts, spool_dir)},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            cli_print_version("jobtel doctor");
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            o.json = true;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
        bool known = false;
        for (size_t f = 0; f < sizeof strflags / sizeof strflags[0]; f++) {
            if (strlen(strflags[f].name) == nl && strncmp(a, strflags[f].name, nl) == 0) {
                known = true;
                break;
            }
        }
        bool other = (nl == 6 && strncmp(a, "--role", 6) == 0) || (nl == 15 && strncmp(a, "--spool.max-age", 15) == 0) ||
                     (nl == 9 && strncmp(a, "--timeout", 9) == 0);
        if (!known && !other) {
            fprintf(stderr, "jobtel doctor: unknown option '%s' (see --help)\n", a);
            return DOCTOR_EXIT_USAGE;
        }
        if (!val) {
            fprintf(stderr, "jobtel doctor: %s needs a value\n", a);
            return DOCTOR_EXIT_USAGE;
        }
        if (!eq)
            i++;
        if (known) {
            for (size_t f = 0; f < sizeof strflags / sizeof strflags[0]; f++)
                if (strlen(strflags[f].name) == nl && strncmp(a, strflags[f].name, nl) == 0)
                    *(const char **)((char *)&o + strflags[f].off) = val;
        } else if (strncmp(a, "--role", nl) == 0) {
            if (strcmp(val, "gpu") == 0)
                o.role = DOCTOR_ROLE_GPU;
            else if (strcmp(val, "controller") == 0)
                o.role = DOCTOR_ROLE_CONTROLLER;
            else if (strcmp(val, "login") == 0)
                o.role = DOCTOR_ROLE_LOGIN;
            else {
                fprintf(stderr, "jobtel doctor: --role is gpu, controller or login\n");
                return DOCTOR_EXIT_USAGE;
            }
        } else if (!parse_age(val, strncmp(a, "--timeout", nl) == 0 ? &o.timeout_s : &o.spool_max_age_s)) {
            fprintf(stderr, "jobtel doctor: %.*s takes a positive duration such as 5s or 1h\n", (int)nl, a);
            return DOCTOR_EXIT_USAGE;
        }
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
