/* gpu_dcgm.h - the GPU collector's optional DCGM producer (profiling readings from a DCGM host engine). */
#ifndef JOBTEL_GPU_DCGM_H
#define JOBTEL_GPU_DCGM_H

#include <stdint.h>

#include "collectors/gpu_gpm.h"
#include "collectors/gpu_readings.h"
#include "exporter/config.h"

struct gpu_dcgm;

/* Nothing is loaded until the first collection. NULL only on allocation failure. */
struct gpu_dcgm *gpu_dcgm_new(const struct exporter_config *cfg, struct gpm_pause_fn pause);
/* Adds the profiling readings in `need` from DCGM (a gpu_readings_producer); connects, and reconnects with
 * back-off after a loss, as needed. Sets the collection's dcgm_* status. */
void gpu_dcgm_read(void *state, uint64_t need, struct gpu_collection *c);
void gpu_dcgm_free(struct gpu_dcgm *d);

#endif
