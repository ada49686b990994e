/* profiling_pause.h - which GPUs a job is profiling itself (Nsight, CUPTI), so that GPM/DCGM profiling
 * sampling stays off on them while it runs.
 *
 * The interface is a directory (--collector.gpu.profiling-pause-dir, default /run/jobtel/profiling-pause):
 * a file named after a GPU (its NVML index "0" or its UUID "GPU-...") pauses profiling sampling on that GPU
 * and its MIG instances while the file exists; one named after a MIG instance ("<index>.<gi>" as in the HPC
 * job mapping, or its UUID "MIG-...") pauses that instance. `jobtel prolog` creates the files (one job id
 * per line) for a job whose comment asks, `jobtel epilog` removes them (docs/slurm.md). Only names count: the files are
 * never opened, so a hostile file (a FIFO, a huge one) cannot hold the collector up.
 */
#ifndef JOBTEL_PROFILING_PAUSE_H
#define JOBTEL_PROFILING_PAUSE_H

#include <stdbool.h>
#include <stddef.h>

#include "collectors/gpu_readings.h"

#define PROFILING_PAUSE_MAX 128

struct profiling_pause {
    const char *dir;                       /* NULL: no pausing */
    char names[PROFILING_PAUSE_MAX][96];
    size_t n;
    bool overflow_logged;
};

/* Re-reads the directory (a missing one pauses nothing). */
void profiling_pause_load(struct profiling_pause *p);
/* True when a file names e's GPU (index or UUID) or, for a MIG instance, its "<index>.<gi>" or UUID. */
bool profiling_pause_covers(const struct profiling_pause *p, const struct gpu_entity *e);

#endif
