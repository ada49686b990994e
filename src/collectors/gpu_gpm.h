/* gpu_gpm.h - the GPU collector's GPM producer: profiling readings (R_GPM_*) through NVML GPM. */
#ifndef JOBTEL_GPU_GPM_H
#define JOBTEL_GPU_GPM_H

#include <stdbool.h>
#include <stdint.h>

#include "collectors/gpu_nvml.h"
#include "collectors/gpu_readings.h"

struct gpu_gpm;

/* Asked before each entity is sampled: true while profiling sampling must stay off on it (a job runs its
 * own profiler there). fn NULL: never paused. */
struct gpm_pause_fn {
    bool (*fn)(void *arg, const struct gpu_entity *e);
    void *arg;
};

/* A GPM producer that borrows `nvml`'s library and handles (it must outlive the producer). NULL only on
 * allocation failure. */
struct gpu_gpm *gpu_gpm_new(struct gpu_nvml *nvml, struct gpm_pause_fn pause);
/* Adds the GPM readings in `need` to the collection gpu_nvml_read just filled (a gpu_readings_producer). */
void gpu_gpm_read(void *state, uint64_t need, struct gpu_collection *c);
/* Failed sample or metric calls since start, all entities. */
unsigned long long gpu_gpm_errors(const struct gpu_gpm *g);
/* True when some GPU or MIG instance of the last collection supports GPM. */
bool gpu_gpm_any_supported(const struct gpu_gpm *g);
/* Frees the samples (call before NVML shuts down). */
void gpu_gpm_free(struct gpu_gpm *g);

#endif
