/* gpu_exp.h - the state behind dcgm-exporter's synthesised DCGM_EXP_CLOCK_EVENTS_COUNT and DCGM_EXP_P2P_STATUS
 * (see gpu_exp.c). */
#ifndef JOBTEL_GPU_EXP_H
#define JOBTEL_GPU_EXP_H

#include <stdint.h>

#include "collectors/gpu_nvml.h"
#include "collectors/gpu_readings.h"

/* The clock event reasons dcgm-exporter counts, in its order: the NVML/DCGM bit and its clock_event label. */
struct gpu_clock_event {
    uint64_t bit;
    const char *name;
};
extern const struct gpu_clock_event gpu_clock_events[GPU_CLOCK_EVENT_KINDS];

struct gpu_exp;

/* NULL only on allocation failure. */
struct gpu_exp *gpu_exp_new(void);
/* Records each whole GPU's clock event reasons of this collection (when read) and sets every whole GPU's
 * clock_events from the collections of the last window_s seconds. `now` is mono_now(). */
void gpu_exp_clock_update(struct gpu_exp *x, struct gpu_collection *c, double now, double window_s);
/* Sets every whole GPU's p2p[] (NVLink P2P status towards each other GPU) through nvml's library and handles;
 * asked again every few minutes and when the GPUs change. */
void gpu_exp_p2p_update(struct gpu_exp *x, const struct gpu_nvml *nvml, struct gpu_collection *c, double now);
void gpu_exp_free(struct gpu_exp *x);

#endif
