/* cgroup_readings.h - what one cgroup collection hands to its consumers besides its own series: each
 * job's figures (its job-level cgroup, every step included), so the per-job CPU timeline
 * (accounting/job_accounting.h) is fed by the collector that already reads them, without a second walk.
 *
 * The data flow stays one way, as for the GPU (gpu_readings.h): the collector reads, a consumer
 * translates. A consumer is called on the cgroup collector's thread, only after a complete walk (a
 * failed one would make every job it missed look ended), with borrowed pointers valid for the call.
 */
#ifndef JOBTEL_CGROUP_READINGS_H
#define JOBTEL_CGROUP_READINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "collectors/cgroup_parse.h"
#include "exporter/config.h"
#include "exporter/expo.h"

struct cgroup_job_reading {
    const char *jobid;
    const struct cg_stats *st; /* a field counts only when its valid bit is set */
};

struct cgroup_readings {
    const struct exporter_config *cfg;
    const struct cgroup_job_reading *jobs; /* every job found on the node */
    size_t n;
    double mono, wall;                     /* when the walk ended */
    double interval_s;                     /* the cgroup collector's interval */
};

/* consume() takes a complete walk's readings; render(), when not NULL, writes the consumer's own series
 * into the cgroup collector's snapshot after every walk, so they appear and go with the cgroup series
 * they come from. */
struct cgroup_readings_consumer {
    const char *name;
    bool (*enabled)(const struct exporter_config *cfg);
    void (*consume)(const struct cgroup_readings *in);
    void (*render)(const struct exporter_config *cfg, struct expo *w);
};

/* The jobs' CPU timelines and memory peaks (cgroup_accounting.c). */
extern const struct cgroup_readings_consumer cgroup_accounting;

#endif
