/* gpu_nvml.h - the GPU collector's NVML reader: the producer of readings (gpu_readings.h). */
#ifndef JOBTEL_GPU_NVML_H
#define JOBTEL_GPU_NVML_H

#include <stdint.h>

#include "collectors/gpu_readings.h"
#include "exporter/config.h"

struct gpu_nvml;

/* Loads NVML and enumerates the GPUs. No NVML is not an error (collections then say
 * nvml_available = false and the library is retried every 30 s). NULL only on allocation failure. */
struct gpu_nvml *gpu_nvml_new(const struct exporter_config *cfg);
/* Fills *c with one collection: identity, the readings in `need`, pids and XID counts of every GPU and
 * MIG instance (a gpu_readings_producer). */
void gpu_nvml_read(void *state, uint64_t need, struct gpu_collection *c);
void gpu_nvml_free(struct gpu_nvml *g);

#endif
