/* gpu_nvml.h - the GPU collector's NVML reader: the producer of readings (gpu_readings.h). */
#ifndef JOBTEL_GPU_NVML_H
#define JOBTEL_GPU_NVML_H

#include <stdint.h>

#include "collectors/gpu_readings.h"
#include "exporter/config.h"
#include "nvml/nvml_loader.h"

struct gpu_nvml;

/* Loads NVML and enumerates the GPUs. No NVML is not an error (collections then say
 * nvml_available = false and the library is retried every 30 s). NULL only on allocation failure. */
struct gpu_nvml *gpu_nvml_new(const struct exporter_config *cfg);
/* Fills *c with one collection: identity, the readings in `need`, pids and XID counts of every GPU and
 * MIG instance (a gpu_readings_producer). */
void gpu_nvml_read(void *state, uint64_t need, struct gpu_collection *c);
void gpu_nvml_free(struct gpu_nvml *g);

/* For the producers that run after this one on the same thread (GPM): the loaded library, NULL while NVML is
 * unavailable; and the NVML handle of an entity of the last collection (a whole GPU, or a MIG instance by
 * its slot). Both stay valid until the next gpu_nvml_read or gpu_nvml_free. */
const struct nvml_lib *gpu_nvml_lib(const struct gpu_nvml *g);
bool gpu_nvml_entity_handle(const struct gpu_nvml *g, const struct gpu_entity *e, nvmlDevice_t *h);

#endif
