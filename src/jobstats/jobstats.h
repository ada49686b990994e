/* jobstats.h - the parts of `jobstats` that `jobtel summary` shares: job lookup, data collection.
 *
 * Both commands need the same JSON for a job (the summary schema of jobstats.md §2.3): the report
 * prints it, `-b` and `summary --store` encode it. Errors come back as a message for the caller to
 * print, so the epilog path can log and spool instead of exiting.
 */
#ifndef JOBTEL_JOBSTATS_H
#define JOBTEL_JOBSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jobstats/jobstats_conf.h"
#include "jobstats/sacct_parse.h"
#include "common/error.h"

/* A Slurm job id as jobstats accepts it: starts with a digit; digits, '_' (array) and '.' (step);
 * at most 30 characters. Also what keeps spool file names and PromQL label values safe. */
bool jobstats_valid_jobid(const char *s);

/* Looks the job up with sacct. JT_ERR_NOT_FOUND for an unknown job (err says so). */
enum jt_err jobstats_sacct(const struct js_conf *conf, const char *jobid, const char *cluster_opt,
                           struct sacct_job *job, bool debug, char *err, size_t errsz);

/* Latest time a job may start or end: 9999-12-31. Later (or negative) times from sacct are garbage. */
#define JOBSTATS_EPOCH_MAX INT64_C(253402300799)

/* The job's run time in seconds into *diff: end (or now) minus start, 0 if that is negative or the job
 * has not started. False, with *diff = 0, when a time is outside [0, JOBSTATS_EPOCH_MAX]: the caller
 * reports it (jobstats_bad_times), never a number. */
bool jobstats_runtime(const struct sacct_job *job, int64_t now, int64_t *diff);

/* The message for a job whose times jobstats_runtime refused. */
void jobstats_bad_times(const struct sacct_job *job, char *err, size_t errsz);

/* Queries Prometheus and returns a new summary {"nodes", "total_time", "gpus"} (caller json_decrefs).
 * A summary with no nodes means Prometheus had no data. Errors name the URL. */
enum jt_err jobstats_collect(const struct js_conf *conf, const struct sacct_job *job, int64_t now, bool debug,
                             json_t **summary, char *err, size_t errsz);

/* What `jobstats -b` prints for a job: "Short", "None" or base64; into out (no "JS1:" prefix). */
enum jt_err jobstats_base64(const struct js_conf *conf, const struct sacct_job *job, int64_t now, bool debug,
                            struct buf *out, char *err, size_t errsz);

/* Defaults, then the config file (an explicit path must exist), then --prometheus. Returns a CLI
 * exit code (0 = fine) after printing the problem. */
int jobstats_load_conf(struct js_conf *conf, const char *path, const char *prom_url, const char *prog);

#endif
