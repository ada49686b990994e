/* collector.h - the one interface every collector implements, and the registration table.
 *
 * A collector reads one source (NVML, cgroups, ...) into an exposition writer. Each enabled collector
 * runs on its own thread every collection interval (see exporter/scheduler.c), so a collector may
 * block (a hung NVML call) without stalling the others or any scrape. Collectors keep all their state
 * in the pointer their init returns: no globals, so two instances never trip over each other.
 */
#ifndef JOBTEL_COLLECTOR_H
#define JOBTEL_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "exporter/config.h"
#include "exporter/expo.h"

struct collector_ops {
    const char *name;       /* used in --[no-]collector.<name> and the `collector` label */
    const char *help;       /* one line for --help */
    bool enabled_by_default;
    /* Seconds between collections when --collector.<name>.interval is not given; 0 = --collect.interval.
     * A source of cumulative counters may run less often than the GPU's 1 s. */
    double default_interval;
    /* An attribution stage whose tables the GPU renderers join: at start-up its first result is
     * awaited (at most its staleness limit) before the collectors after it in the table start, so
     * the first snapshot already carries job and pod labels. */
    bool feeds_gpu;
    /* Sets *state. A source that is absent here (no GPU, no Slurm) is not an error: init succeeds
     * and collect reports the absence. An error stops the daemon at start-up (bad config). */
    enum jt_err (*init)(const struct exporter_config *cfg, void **state);
    /* Writes this collection's samples. A non-OK return marks the collection failed
     * (jobtel_scrape_collector_success 0) and nothing it wrote is served: the last good collection's
     * samples stay while they are fresh, then go. */
    enum jt_err (*collect)(void *state, struct expo *w);
    /* Optional: writes the collector's own status series (how its source answered: up, errors,
     * durations), called after every collect whatever its outcome and always served while fresh. */
    void (*status)(void *state, struct expo *w);
    /* Optional: re-read configuration files (SIGHUP). Called on the collector's own thread. */
    void (*reload)(void *state);
    void (*shutdown)(void *state);
};

/* All collectors in a fixed order; NULL-terminated. */
extern const struct collector_ops *const collector_table[];

/* Index in collector_table, or -1. */
int collector_find(const char *name);
size_t collector_count(void);

#endif
