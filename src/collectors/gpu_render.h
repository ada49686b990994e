/* gpu_render.h - the consumers of a GPU collection (gpu_readings.h): one per name set, plus the JSON API.
 *
 *   render_dcgm.c      DCGM_FI_* series as dcgm-exporter names and labels them, for the fields the
 *                      counters CSV selects (the selection lives here too)
 *   render_jobstats.c  nvidia_gpu_* series as Princeton's exporter names and labels them
 *   render_jobtel.c    jobtel's own GPU series: jobtel_gpu_up, XID counts, NVML availability, and
 *                      the attribution info gauges (pods, process-found jobs)
 *   render_api.c       hands the readings and owners to the JSON API's store (exporter/api.h)
 *   render_accounting.c  feeds the per-job accumulators (accounting/job_accounting.h), writes their counters
 * Each reads only the collection and the owners joined for it, never NVML: the unit tests feed them a
 * fixture (tests/unit/test_gpu_render.c).
 */
#ifndef JOBTEL_GPU_RENDER_H
#define JOBTEL_GPU_RENDER_H

#include <stdint.h>

#include "collectors/counters_csv.h"
#include "collectors/gpu_readings.h"

/* One selected DCGM metric (from the counters CSV). */
struct dcgm_metric {
    const struct dcgm_field_def *def;
    enum counter_type type;
    const char *name;  /* borrowed from counters */
    const char *help;  /* borrowed from counters */
};

struct dcgm_label {
    const char *name;  /* borrowed from counters */
    enum dcgm_label_field kind;
};

/* dcgm-exporter's synthesised metrics (DCGM_EXP_*), in the order of their pseudo field ids 9001-9004. */
enum dcgm_exp { DCGM_EXP_XID, DCGM_EXP_CLOCK, DCGM_EXP_HEALTH, DCGM_EXP_P2P, DCGM_EXP_N };

/* What the counters CSV selects. */
struct dcgm_selection {
    struct counter_list counters; /* owns the strings the arrays below borrow */
    struct dcgm_metric *metrics;
    size_t nmetrics;
    struct dcgm_label *labels;    /* sorted by name, as dcgm-exporter orders them */
    size_t nlabels;
    /* the DCGM_EXP_* metrics selected: help borrowed from counters, NULL when not selected */
    struct {
        const char *help;
        enum counter_type type;
    } exp[DCGM_EXP_N];
};

/* Builds the selection from the CSV at `path` (NULL: dcgm-exporter's default list). Fields jobtel cannot
 * serve from NVML are listed once in the log and skipped; a malformed file is an error naming file:line.
 * ORs the readings the selection needs into *need. */
enum jt_err dcgm_selection_load(const char *path, struct dcgm_selection *out, uint64_t *need);
/* The selection the configuration asks for: the counters file when given, else the built-in default list,
 * or with --collector.gpu.fields=minimal the fields the shipped rules and dashboards read. */
enum jt_err dcgm_selection_for(const struct exporter_config *cfg, struct dcgm_selection *out, uint64_t *need);
void dcgm_selection_free(struct dcgm_selection *s);

/* The readings the Princeton names and the API need. */
uint64_t jobstats_need(void);
#define ACCT_NEED (READING_BIT(R_GPU_UTIL) | READING_BIT(R_ENERGY_MJ) | READING_BIT(R_POWER_MW) | \
                   READING_BIT(R_FB_USED_V1) | READING_BIT(R_CLOCK_REASONS) | READING_BIT(R_SM_CLOCK))
#define API_NEED (READING_BIT(R_GPU_UTIL) | READING_BIT(R_FB_USED) | READING_BIT(R_FB_TOTAL) | READING_BIT(R_POWER_MW))

/* The GPU's identity as dcgm-exporter labels it, in its order: gpu, UUID, pci_bus_id, device, modelName. */
void gpu_identity_labels(const struct gpu_entity *e, struct labelset *ls);

extern const struct gpu_readings_consumer render_dcgm;
extern const struct gpu_readings_consumer render_jobstats;
extern const struct gpu_readings_consumer render_jobtel;
extern const struct gpu_readings_consumer render_api;
extern const struct gpu_readings_consumer render_accounting;

#endif
