/* owners.h - the latest table of each attribution source, swapped atomically, for the GPU renderers.
 *
 * Attribution runs as its own stage: each source (Slurm mapping directories, process cgroups, the
 * kubelet) is a collector on its own thread and cadence that builds an immutable, reference-counted
 * table and publishes it here. The GPU collector's renderers take a reference to the latest table of
 * each source when they render, like a scrape takes the latest snapshot, so a slow source (a hung
 * kubelet) never delays a GPU reading: the renderers use the last table it finished, or none once that
 * is older than the source's staleness limit.
 *
 * The GPU collector publishes one table of its own here: the compute processes (pids) it saw on each
 * GPU, which the process stage maps to Slurm jobs through /proc.
 */
#ifndef JOBTEL_OWNERS_H
#define JOBTEL_OWNERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum owner_source {
    OWN_SLURM_MAPPING, /* struct slurm_mapping_table (attribution/gpu_jobs.h) */
    OWN_SLURM_PROCESS, /* struct proc_job_table (attribution/gpu_jobs.h) */
    OWN_KUBERNETES,    /* struct pod_table (attribution/gpu_pods.h) */
    OWN_GPU_PIDS,      /* struct gpu_pid_table (below), written by the GPU collector */
    OWN_COUNT
};

/* The header every published table starts with. */
struct owner_table {
    atomic_uint refs;
    double built_mono;                        /* when the source finished building it */
    void (*destroy)(struct owner_table *t);   /* frees the whole table */
};

struct owners {
    pthread_mutex_t mu;                /* held only to swap or take a pointer */
    struct owner_table *cur[OWN_COUNT]; /* one reference each, owned by the hub */
    double stale_after[OWN_COUNT];     /* a table older than this is not used; 0 = no limit */
    atomic_bool first[OWN_COUNT];      /* a table was published at least once */
};

/* The compute processes on each GPU (whole GPUs only: a MIG instance's jobs come from mapping files). */
struct gpu_pid_table {
    struct owner_table base;
    size_t n;
    unsigned pid[];                    /* sorted, unique */
};

void owners_init(struct owners *o);
void owners_destroy(struct owners *o);
/* Sets the staleness limit of a source (its collector's, see config_stale_after). */
void owners_set_stale_after(struct owners *o, enum owner_source s, double seconds);
/* Replaces the source's table; takes over the caller's reference. t may be NULL (no table). */
void owners_publish(struct owners *o, enum owner_source s, struct owner_table *t);
/* A new reference to the source's latest table if it is fresh at monotonic time `now`, else NULL. */
struct owner_table *owners_get(struct owners *o, enum owner_source s, double now);
/* Whether the source has published at least once. */
bool owners_published(struct owners *o, enum owner_source s);

void owner_table_init(struct owner_table *t, void (*destroy)(struct owner_table *t));
void owner_ref(struct owner_table *t);
void owner_unref(struct owner_table *t);

/* A pid table of `n` pids (caller fills pid[] sorted and sets n), or NULL. One reference. */
struct gpu_pid_table *gpu_pid_table_new(size_t n);
bool gpu_pid_table_has(const struct gpu_pid_table *t, unsigned pid);

#endif
