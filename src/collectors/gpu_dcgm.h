/* gpu_dcgm.h - the GPU collector's optional DCGM producer (profiling readings from a DCGM host engine). */
#ifndef JOBTEL_GPU_DCGM_H
#define JOBTEL_GPU_DCGM_H

#include <stdbool.h>
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
/* Turns DCGM's health checks on or off (DCGM_EXP_GPU_HEALTH_STATUS selected): when on, each collection sets
 * the whole GPUs' health[] from dcgmHealthCheck. */
void gpu_dcgm_set_health(struct gpu_dcgm *d, bool on);

/* The health watches DCGM_EXP_GPU_HEALTH_STATUS reports, in dcgm-exporter's order: DCGM_HEALTH_WATCH_* bit and
 * its health_watch label. */
struct gpu_health_watch {
    unsigned bit;
    const char *name;
};
extern const struct gpu_health_watch gpu_health_watches[GPU_HEALTH_SYSTEMS];
/* "DCGM_FR_..." for a DCGM health/diagnostic error code, NULL for one newer than jobtel knows. */
const char *dcgm_error_name(unsigned code);

#endif
