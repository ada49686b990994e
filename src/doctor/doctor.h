/* doctor.h - `jobtel doctor`: one line per check of what this node's role needs, each with its fix.
 *
 * The checks read local state (NVML, mapping directories, cgroups, slurm.conf, the summary spool) and
 * ask the two daemons (the exporter's /metrics, Prometheus' query API) over plain HTTP. Every root
 * path and address is an option, so tests point them at fixture trees and throwaway daemons. A check
 * never aborts the run: it records ok, warn or fail with a message and a fix, and the exit code is the
 * number of failed checks (docs/troubleshooting.md).
 */
#ifndef JOBTEL_DOCTOR_H
#define JOBTEL_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

enum doctor_status { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };
enum doctor_role { DOCTOR_ROLE_GPU, DOCTOR_ROLE_CONTROLLER, DOCTOR_ROLE_LOGIN };

struct doctor_opts {
    enum doctor_role role;
    const char *nvml_library;   /* path or soname */
    const char *hpc_dir;        /* NULL or "": not used at this site */
    const char *gpustat_dir;
    const char *cgroupfs;
    const char *slurm_conf;
    const char *bcm_slurm_dir;  /* BCM's prologs/ and epilogs/ live here */
    const char *exporter_url;   /* http://host:port/path of /metrics */
    const char *prometheus_url; /* http://host:port[/prefix] */
    const char *prometheus_job; /* scrape job of the exporters */
    const char *instance;       /* this node's `instance` label value (without port) */
    const char *spool_dir;
    double timeout_s;           /* per network request and for NVML */
    double spool_max_age_s;     /* an entry older than this means the spool is not draining */
    bool json;
};

#define DOCTOR_MAX_CHECKS 16
#define DOCTOR_TEXT_MAX 640

struct doctor_result {
    const char *check; /* static name: "nvml", "mapping-dirs", ... */
    enum doctor_status status;
    char msg[DOCTOR_TEXT_MAX];
    char fix[DOCTOR_TEXT_MAX]; /* "" when nothing to do */
};

struct doctor_report {
    struct doctor_result r[DOCTOR_MAX_CHECKS];
    size_t n;
};

/* Records one result; msg and fix are printf formats (fix may be NULL). */
void doctor_add(struct doctor_report *rep, const char *check, enum doctor_status st, const char *fix,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The checks (doctor_checks.c, doctor_net.c). Each adds exactly one result. */
void doctor_check_nvml(const struct doctor_opts *o, struct doctor_report *rep);
void doctor_check_mapping(const struct doctor_opts *o, struct doctor_report *rep);
void doctor_check_cgroup(const struct doctor_opts *o, struct doctor_report *rep);
void doctor_check_slurm_conf(const struct doctor_opts *o, struct doctor_report *rep);
void doctor_check_spool(const struct doctor_opts *o, struct doctor_report *rep);
void doctor_check_exporter(const struct doctor_opts *o, struct doctor_report *rep);
void doctor_check_prometheus(const struct doctor_opts *o, struct doctor_report *rep);

/* slurm.conf: the value of `key` (case-insensitive, as slurmctld reads it; the last line wins), copied
 * to out. False when the key is absent. Comments and blanks are ignored. Exposed for the unit test. */
bool doctor_slurm_conf_value(const char *text, const char *key, char *out, size_t outsz);

/* Exporter body: appends the names of collectors whose jobtel_scrape_collector_success is 0 to
 * `failed` (comma-separated) and returns how many collectors were reported at all. */
int doctor_parse_collectors(const char *body, struct buf *failed);

/* A plain HTTP/1.0 GET of an http:// URL within timeout_s. On JT_OK *status holds the HTTP status and
 * body the answer's body (capped at max bytes). Errors: JT_ERR_USAGE (not an http:// URL),
 * JT_ERR_NOT_FOUND (name does not resolve), JT_ERR_IO (refused, reset; errno text in why),
 * JT_ERR_TIMEOUT, JT_ERR_LIMIT, JT_ERR_PARSE (not HTTP). */
enum jt_err doctor_http_get(const char *url, double timeout_s, size_t max, int *status, struct buf *body,
                            char *why, size_t whylen);

/* main of `jobtel-doctor` / `jobtel doctor`. */
int cmd_doctor(int argc, char **argv);

#endif
