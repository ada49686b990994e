/* exact.h - a running job's exact GPU totals from Prometheus: jobtel's per-job counters.
 *
 * The node daemon integrates every collection into counters (docs/accounting.md) that start at 0 with
 * the job and never reset, so a job's totals are their largest values over its window. One instant
 * query asks for all of them at once (a label per counter, `or` between them: plain range functions,
 * no subquery), so its cost does not grow with the GPUs or with a scrape interval. A second cheap
 * query lists the job's GPUs as Princeton's series name them (instance, NVML ordinal, minor number,
 * total memory), which joins the exact totals to Princeton's per-minor-number keys.
 */
#ifndef JOBTEL_EXACT_H
#define JOBTEL_EXACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/error.h"

/* The totals query: max_over_time of each jobtel_job_gpu_* counter over [range_s], one label "k" naming
 * which. cluster may be ""; jobid is checked as in promq_build (JT_ERR_USAGE). The counters only grow
 * (a restart restores them), so a window covering each series' last samples gives the same totals as
 * the whole job at a fraction of the samples read: jobstats asks the last EXACT_RECENT_S first, and the
 * whole run time only when some GPU of the inventory has no totals in that window. */
#define EXACT_RECENT_S 3600
enum jt_err exact_build_totals(const char *cluster, const char *jobid, int64_t range_s, struct buf *out);
/* The GPU inventory: max_over_time(nvidia_gpu_memory_total_bytes{..}[range_s]). jobstats asks it over
 * the same last EXACT_RECENT_S as the totals (a GPU's total memory does not change; reading three days
 * of it cost Prometheus more than the totals): a GPU whose series stopped before that window is
 * missing from it, which exact_fold's want_gpus check turns into a second round over the whole run. */
enum jt_err exact_build_inventory(const char *cluster, const char *jobid, int64_t range_s, struct buf *out);

/* Folds the two answers into summary (Princeton's {"nodes": ...}, created by the caller):
 * - summary["jobtel"] = {"v": 1, "source": "prometheus", "gpu_util_exact", "sm_active", "energy_j",
 *   "nodes": {NODE: {GPU: {"alloc", "busy", "energy", "sm", "mem_peak", "xids", "throttle"}}}}, the shape
 *   `jobtel summary` stores from the nodes' records, when any exact series exists;
 * - Princeton's gpu_utilization, gpu_used_memory and gpu_total_memory per node and minor number, from
 *   busy/allocated and the memory peak, when every GPU the inventory lists for the job has exact totals
 *   (and none is a MIG instance): then *gpu_keys = true and Princeton's GPU queries are not needed.
 * A malformed answer is an error (err says why) and changes nothing. */
enum jt_err exact_fold(const char *totals, size_t totals_len, const char *inventory, size_t inventory_len,
                       size_t want_gpus, json_t *summary, bool *gpu_keys, bool *incomplete, char *err, size_t errsz);
/* *incomplete: some GPU of the inventory has no exact totals in the answer (its counters stopped before
 * the window asked, or it has none), or want_gpus is not 0 and the inventory does not list exactly that
 * many GPUs (sacct's count: a GPU whose series stopped before a window shorter than the run, or a
 * duplicate series): then Princeton's GPU keys are not filled, and the caller asks the whole run. */

#endif
