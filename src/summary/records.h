/* records.h - the nodes' exact accounting records folded into a job's summary (see records.c). */
#ifndef JOBTEL_RECORDS_H
#define JOBTEL_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct records_sum {
    double alloc_s, busy_s, busy_alloc_s, sm_s, sm_alloc_s, energy_j;
    bool has_energy;
};

/* Reads the NODE.json files of DIR/JOBID and sets summary["jobtel"]; returns how many node records were folded (0: none,
 * summary unchanged). Malformed or unsafe files are skipped and logged. */
size_t records_fold(const char *dir, const char *jobid, json_t *summary, struct records_sum *sum);

/* Slurm runs EpilogSlurmctld while the nodes' epilogs may still be writing their records: waits until
 * DIR/JOBID holds `nodes` records or `max_wait_s` passed (polling at 0.1, 0.2, ... 1 s); returns how
 * many there are. No wait when DIR itself does not exist (the site does not run job-record). */
size_t records_wait(const char *dir, const char *jobid, size_t nodes, double max_wait_s);

/* Halves every timeline in summary["jobtel"] (pairwise merges, the middle of each first); once every
 * timeline is down to a few points, removes them. false when there was nothing left to remove: the
 * caller's size budget cannot be met by thinning. */
bool records_thin(json_t *summary);

#endif
