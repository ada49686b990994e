/* scheduler.h - runs every enabled collector on its own thread and assembles the served snapshot.
 *
 * Each collector thread wakes every interval, collects into a private writer and publishes its
 * rendered fragment. An assembler thread joins the fresh fragments with the self metrics
 * (jobtel_scrape_collector_*) into one snapshot. A collector whose last result is older than
 * stale_after (a hung NVML call) is reported failed and its old values are dropped rather than
 * served as if current; /health then answers 503 and says why.
 */
#ifndef JOBTEL_SCHEDULER_H
#define JOBTEL_SCHEDULER_H

#include <stdbool.h>

#include "collectors/collector.h"
#include "exporter/config.h"
#include "exporter/snapshot.h"

struct scheduler;

/* Runs every enabled collector's init (in table order) and starts the threads. On a collector init
 * failure returns that error after logging which one, with nothing left running. */
enum jt_err scheduler_start(const struct exporter_config *cfg, struct snapshot_slot *out, struct scheduler **sched);

/* Asks every collector to re-read its configuration before its next collection (SIGHUP). */
void scheduler_request_reload(struct scheduler *s);

/* Stops the threads (waiting at most `grace_s` for a collector stuck in a library call) and frees
 * everything it can. A collector still stuck is abandoned, not freed: the process is exiting. Returns
 * false in that case, so the caller also keeps what the stuck collector may still touch. */
bool scheduler_stop(struct scheduler *s, double grace_s);

/* Liveness of the daemon's own work, not of the collectors: true if the snapshot assembler finished
 * a round within max_age_s (it runs at least every second, whatever the collectors do). *age_s, if
 * not NULL, gets how long ago. Thread-safe. */
bool scheduler_alive(struct scheduler *s, double max_age_s, double *age_s);

/* True if a collector has been inside one collect call for longer than limit_s: not slow but wedged
 * (a driver call that never returns). *name and *age_s (if not NULL) say which and for how long.
 * Thread-safe. The exporter stops petting the systemd watchdog then (SCHED_WEDGED_AFTER_S), so
 * systemd restarts the daemon; liveness (/-/healthy) does not look at it. */
#define SCHED_WEDGED_AFTER_S 60.0
bool scheduler_wedged(struct scheduler *s, double limit_s, const char **name, double *age_s);

/* Max bytes of exposition one collector may produce per collection. */
#define SCHED_FRAGMENT_MAX (16u << 20)

#endif
