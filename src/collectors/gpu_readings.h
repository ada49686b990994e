/* gpu_readings.h - one GPU collection as data: typed readings per GPU and per MIG instance, each
 * value with a valid bit, plus the hooks through which sources produce them and renderers consume them.
 *
 * The pipeline of one GPU collection (collectors/gpu.c):
 *   producers  fill a gpu_collection: NVML today (gpu_nvml.c); GPM or DCGM later add their fields
 *   join       each entity's owners from the latest attribution tables (attribution/owners.h)
 *   consumers  read it: the dcgm-exporter names (render_dcgm.c), the Princeton names
 *              (render_jobstats.c), jobtel's own series (render_jobtel.c), the JSON API (render_api.c);
 *              later, per-job accumulators.
 * Everything runs on the GPU collector's thread, one collection at a time. A consumer gets a const
 * pointer valid for the call only: one that keeps data (the API's rings) copies it.
 * A value is meaningful only when its valid bit is set; a consumer never writes an invalid one.
 */
#ifndef JOBTEL_GPU_READINGS_H
#define JOBTEL_GPU_READINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attribution/gpu_jobs.h"
#include "attribution/gpu_pods.h"
#include "collectors/gpu_fields.h"
#include "exporter/config.h"
#include "exporter/expo.h"

struct dcgm_selection;

#define GPU_MAX_DEVICES 64
#define GPU_MAX_MIG 16
#define GPU_MAX_XID_KINDS 32
#define GPU_CLOCK_EVENT_KINDS 9   /* the clock event reasons DCGM_EXP_CLOCK_EVENTS_COUNT names (gpu_exp.h) */
#define GPU_HEALTH_SYSTEMS 10     /* the DCGM health watches DCGM_EXP_GPU_HEALTH_STATUS reports (gpu_dcgm.h) */

struct gpu_xid_count {
    unsigned long long xid;
    unsigned long long count;
};

/* One whole GPU, or one MIG instance of the GPU before it in gpu_collection.e. */
struct gpu_entity {
    /* identity: the labels (a MIG instance repeats its parent GPU's) */
    unsigned index;           /* NVML index of the (parent) GPU */
    char index_s[12];
    char minor_s[12];         /* "" if NVML could not tell */
    char device_s[24];        /* nvidia<index> */
    char uuid[96];            /* the GPU's UUID */
    char name[96];            /* the GPU's product name */
    char model[96];           /* modelName label (blanks optionally replaced) */
    char pci[32];
    bool is_mig;
    char gi[12], ci[12];      /* MIG: GPU and compute instance ids, decimal */
    char mig_uuid[96];
    char mig_name[96];
    char profile[32];         /* MIG: e.g. "1g.10gb" */
    int mig_slot;             /* MIG: nvmlDeviceGetMigDeviceHandleByIndex index, else -1 */
    size_t nmig;              /* whole GPU: how many MIG instances follow it */
    /* state */
    bool up;                  /* false: the GPU was lost (fell off the bus) */
    int last_error;           /* last NVML failure other than NOT_SUPPORTED, 0 if none */
    struct gpu_readings rd;
    /* whole GPU only: its compute processes (NVML) and XID events seen since start */
    bool pids_valid;
    size_t pid_off, npids;    /* its pids: gpu_collection.pids[pid_off .. pid_off + npids) */
    bool pid_sm_valid;        /* gpu_collection.pid_sm has NVML's per-process utilization for its pids */
    struct gpu_xid_count xids[GPU_MAX_XID_KINDS];
    size_t nxids;
    /* XIDs seen within the last --xid-count-window-size (DCGM_EXP_XID_ERRORS_COUNT); valid when the event
     * thread watches this GPU */
    bool xid_recent_valid;
    struct gpu_xid_count xid_recent[GPU_MAX_XID_KINDS];
    size_t nxid_recent;
    /* The synthesised DCGM_EXP_* values, whole GPUs only (zeroed by the NVML producer, set by later ones):
     * collections within --clock-events-count-window-size in which each clock event reason was active
     * (gpu_exp.c; valid when the reasons were read in the window) */
    bool clock_events_valid;
    unsigned clock_events[GPU_CLOCK_EVENT_KINDS];
    /* DCGM's health check per watched system (gpu_dcgm.c): DCGM_HEALTH_RESULT_* and the incident's DCGM_FR_* */
    bool health_valid;
    unsigned health[GPU_HEALTH_SYSTEMS];
    unsigned health_code[GPU_HEALTH_SYSTEMS];
    /* NVLink P2P status towards each other GPU, by index (nvmlGpuP2PStatus_t); p2p_valid bit per peer */
    uint64_t p2p_valid;
    unsigned char p2p[GPU_MAX_DEVICES];
};

struct gpu_collection {
    bool nvml_available;
    char driver_version[96];
    char nvml_version[96];
    size_t ngpus;             /* whole GPUs */
    size_t n;                 /* entities: each GPU followed by its MIG instances */
    size_t cap;
    struct gpu_entity *e;     /* owned */
    unsigned *pids;           /* owned: every GPU's compute processes, each GPU's in one run */
    double *pid_sm;           /* owned, parallel to pids: the process's mean SM utilization (%) since the
                                 previous collection (nvmlDeviceGetProcessUtilization), NAN if no sample */
    size_t npids, pids_cap;
    /* the DCGM producer's state (gpu_dcgm.c), when it is on */
    bool dcgm_enabled;
    bool dcgm_connected;
    unsigned long long dcgm_reconnects;
};

/* The owners the join found for one entity (strings borrowed from the attribution tables the
 * pipeline holds for the duration of the consumers' calls). */
struct gpu_entity_owners {
    struct gpu_job_set jobs;  /* jobs.from_processes: found through process cgroups */
    struct gpu_pod_set pods;
};

/* What a consumer reads. */
struct gpu_render_input {
    const struct exporter_config *cfg;
    const struct dcgm_selection *sel;       /* the counters file's selection (render_dcgm.h) */
    const struct gpu_collection *c;
    const struct gpu_entity_owners *owners; /* c->n entries, or NULL: no attribution */
    double mono;                            /* when the collection ended */
    const struct proc_job_table *procs;     /* pid -> job for the GPUs' processes, or NULL */
};

/* A source of readings: fills or adds to `c`, reading only what `need` asks for (a mask of readings). */
struct gpu_readings_producer {
    const char *name;
    void (*produce)(void *state, uint64_t need, struct gpu_collection *c);
};

/* A reader of a collection: renders it into `w`, or hands it elsewhere (the API store). */
struct gpu_readings_consumer {
    const char *name;
    bool (*enabled)(const struct exporter_config *cfg);
    void (*consume)(const struct gpu_render_input *in, struct expo *w);
};

/* Makes room for `n` entities (keeping none, and no pids). false on allocation failure. */
bool gpu_collection_reserve(struct gpu_collection *c, size_t n);
/* Appends `n` pids for entity `e` (which must be the last one added). false on allocation failure. */
bool gpu_collection_add_pids(struct gpu_collection *c, struct gpu_entity *e, const unsigned *pids, size_t n);
void gpu_collection_free(struct gpu_collection *c);

static inline bool reading_valid(const struct gpu_readings *rd, enum gpu_reading r)
{
    return (rd->valid & READING_BIT(r)) != 0;
}

static inline void reading_set(struct gpu_readings *rd, enum gpu_reading r, double v)
{
    rd->v[r] = v;
    rd->valid |= READING_BIT(r);
}

#endif
