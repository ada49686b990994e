/* promq.h - the Prometheus side of jobstats: the exact queries, and their answers into a summary.
 *
 * The queries are Princeton's (jobstats.md §1.3) so the same Prometheus data gives the same numbers:
 * instant queries at the job's end over a range equal to its run time. Answers are parsed with jansson
 * into the summary schema ({"nodes": {host: {key: value | {minor: value}}}}); anything unexpected in an
 * answer is an error with a message, never a crash or a silent zero.
 */
#ifndef JOBTEL_PROMQ_H
#define JOBTEL_PROMQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/error.h"

enum promq_key {
    PQ_TOTAL_MEMORY, PQ_USED_MEMORY, PQ_TOTAL_TIME, PQ_CPUS, /* every job */
    PQ_GPU_TOTAL_MEMORY, PQ_GPU_USED_MEMORY, PQ_GPU_UTILIZATION, /* GPU jobs */
    PQ_COUNT
};

/* The summary key a query fills ("total_memory", "gpu_utilization", ...). */
const char *promq_key_name(enum promq_key k);

/* Builds the PromQL for key k. cluster may be NULL/"" for no cluster matcher. Jobid must be digits,
 * '_' or '.'; cluster must not contain quotes or backslashes (checked: JT_ERR_USAGE). */
enum jt_err promq_build(enum promq_key k, const char *cluster, const char *jobid, int64_t range_s,
                        struct buf *out);

/* promq_build, and on Slurm >= 26.05 (sluid not empty) the four cgroup queries as Princeton's:
 * "Q(jobid) or Q(sluid)", since 26.05 cgroup directories (and so the exporters' jobid label) may carry the
 * SLUID instead of the job id. */
enum jt_err promq_build_job(enum promq_key k, const char *cluster, const char *jobid, const char *sluid,
                            int64_t range_s, struct buf *out);

/* The matcher of a job's series into sel: "cluster='C',jobid='J'" (no cluster matcher when cluster is
 * NULL or ""). JT_ERR_USAGE for a jobid that is not a Slurm job id, a cluster with a quote, backslash or
 * newline, or range_s < 1. */
enum jt_err promq_job_selector(const char *cluster, const char *jobid, int64_t range_s, char *sel, size_t selsz);

/* GPU utilization without the graphics_util_percent branch: avg_over_time(nvidia_gpu_duty_cycle{..}[Ds:]).
 * Equal to PQ_GPU_UTILIZATION's answer whenever promq_build_gpm_probe counts no sample. */
enum jt_err promq_build_util_fast(const char *cluster, const char *jobid, int64_t range_s, struct buf *out);
/* count(count_over_time(nvidia_gpu_graphics_util_percent{..}[D+PROMQ_PROBE_MARGIN_S s])): any sample a
 * subquery step of the full query could see, with a lookback of up to the margin. */
#define PROMQ_PROBE_MARGIN_S 3600
enum jt_err promq_build_gpm_probe(const char *cluster, const char *jobid, int64_t range_s, struct buf *out);
/* Used memory (PQ_USED_MEMORY) as two queries whose per-series maximum is Princeton's answer: part 0
 * max_over_time((rss + shmem)[Ds:]) (the steps where both exist), part 1 max_over_time((rss unless
 * shmem)[Ds:]) (the steps where rss is alone). Princeton's `(rss + shmem) or 1*rss` builds, at each step,
 * the one or the other for a series, and the maximum over all steps is the larger of the two maxima;
 * Prometheus evaluates the two without the `or` at a third of the cost, and in parallel. With a SLUID
 * the same part for it follows after " or ", as in promq_build_job. */
enum jt_err promq_build_used_memory_part(int part, const char *cluster, const char *jobid, const char *sluid,
                                         int64_t range_s, struct buf *out);
/* Used memory from jobtel's per-job peak (docs/accounting.md): max_over_time(jobtel_job_memory_peak_bytes
 * {job-level cgroup matcher}[window_s]), with the SLUID's after " or " as in promq_build_job. The peak
 * only grows while the job runs, so its last sample is the job's peak: a window holding the job's last
 * minutes is enough, one sample per node instead of Princeton's subquery over the run. Parsed as
 * PQ_USED_MEMORY. */
enum jt_err promq_build_mem_peak(const char *cluster, const char *jobid, const char *sluid, int64_t window_s,
                                 struct buf *out);
/* Merges the answers of parts 0 and 1 (per series: the larger value; NaN as absent) into nodes as
 * promq_parse_answer(PQ_USED_MEMORY) does with Princeton's answer. *ambiguous is set, and nodes left
 * alone, when two series share a node: Princeton's answer then keeps whichever comes last in its order,
 * which two answers cannot reproduce, so the caller asks Princeton's expression instead. */
enum jt_err promq_parse_used_memory_parts(const char *b0, size_t l0, const char *b1, size_t l1, json_t *nodes,
                                          bool *ambiguous, char *err, size_t errsz);
/* The single value of a count() answer (0 when the result is empty). */
enum jt_err promq_parse_count(const char *body, size_t len, double *count, char *err, size_t errsz);

/* Loads an answer whose data.resultType is `type` ("vector" or "matrix"): *root (caller json_decrefs)
 * and *result (borrowed from root). Any other answer is JT_ERR_PARSE with a one-line reason in err. */
enum jt_err promq_load_result(const char *body, size_t len, const char *type, json_t **root, json_t **result,
                              char *err, size_t errsz);
/* A sample value as Prometheus writes it ("12.5"): false for NaN, infinities, negatives and values past
 * 2^53, which no figure of a job can have. */
bool promq_sample_value(const json_t *s, double *v);
/* The host part of an instance label ("gn1:9400" -> "gn1") into dst; false when empty or too long. */
bool promq_instance_host(const char *inst, char *dst, size_t dstsz);

/* Merges one /api/v1/query answer for key k into nodes (a JSON object, created by the caller).
 * On failure writes a one-line reason into err. */
enum jt_err promq_parse_answer(enum promq_key k, const char *body, size_t len, json_t *nodes, char *err,
                               size_t errsz);

#endif
