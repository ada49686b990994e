/* gpu_jobs.c - Slurm job attribution for GPUs (see gpu_jobs.h).
 *
 * The directories are read into sorted tables once per collection of the slurm_mapping stage;
 * lookups are then binary searches (slurm/jobmap.c). Process attribution maps the pids the GPU
 * collector saw to jobs through one call, proc_slurm_job. A malformed mapping file is skipped, reported in a gauge and logged at most once
 * a minute per directory: it must not take the other GPUs' labels with it.
 */
#include "attribution/gpu_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/strparse.h"
#include "slurm/cgpath.h"

static void read_one(const char *dir, enum jobmap_format fmt, struct jobmap *m, enum mapping_dir_state *state,
                     struct ratelimit *rl, const char *what)
{
    *state = MAPPING_DIR_ABSENT;
    if (!dir)
        return;
    enum jt_err rc = jobmap_read_dir(dir, fmt, m);
    if (rc == JT_ERR_NOT_FOUND)
        return; /* no prolog has run yet */
    uint64_t suppressed = 0;
    if (rc != JT_OK) {
        *state = MAPPING_DIR_UNREADABLE;
        if (ratelimit_allow(rl, 60, &suppressed))
            log_warn("job mapping: cannot read %s directory %s: %s", what, dir, jt_strerror(rc));
        return;
    }
    *state = MAPPING_DIR_OK;
    if (m->stats.malformed && ratelimit_allow(rl, 60, &suppressed))
        log_warn("job mapping: skipped %u malformed file(s) in %s (first: %s: %s)%s", m->stats.malformed, dir,
                 m->stats.first_malformed, jt_strerror(m->stats.first_malformed_err),
                 suppressed ? " (repeats suppressed)" : "");
}

static void write_stats(struct expo *w, const char *format, const struct jobmap *m, enum mapping_dir_state state)
{
    static const char *const state_names[MAPPING_DIR_STATE_N] = {"absent", "unreadable", "ok"};
    struct labelset ls;
    labelset_init(&ls);
    labelset_add(&ls, "format", format);
    expo_sample(expo_family(w, "jobtel_gpu_job_mapping_readable", METRIC_GAUGE,
                            "Whether the GPU-to-job mapping directory could be read in the last collection (1) or was absent or unreadable (0)."),
                &ls, state == MAPPING_DIR_OK ? 1 : 0);
    /* A state set: an absent directory (no GPU job since boot) is no fault, an unreadable one is. */
    struct expo_family *sf = expo_family(w, "jobtel_gpu_job_mapping_dir_state", METRIC_GAUGE,
                                        "What the last collection found at the GPU-to-job mapping directory: 1 for the state that holds (ok, absent: no prolog has created it yet, unreadable: permissions, not a directory or an I/O error), 0 for the others.");
    for (unsigned i = 0; i < MAPPING_DIR_STATE_N; i++) {
        struct labelset sl;
        labelset_init(&sl);
        labelset_add(&sl, "format", format);
        labelset_add(&sl, "state", state_names[i]);
        expo_sample(sf, &sl, state == (enum mapping_dir_state)i ? 1 : 0);
    }
    if (state != MAPPING_DIR_OK)
        return;
    expo_sample(expo_family(w, "jobtel_gpu_job_mapping_files", METRIC_GAUGE,
                            "Mapping files read from the GPU-to-job mapping directory in the last collection."),
                &ls, m->stats.files);
    expo_sample(expo_family(w, "jobtel_gpu_job_mapping_malformed_files", METRIC_GAUGE,
                            "Mapping files skipped as malformed in the last collection."),
                &ls, m->stats.malformed);
    expo_sample(expo_family(w, "jobtel_gpu_job_mapping_dropped_files", METRIC_GAUGE,
                            "Mapping files left out of the last collection because the directory held more than 16384."),
                &ls, m->stats.dropped_files);
    if (!m->stats.has_hook_errors)
        return;
    struct expo_family *f = expo_family(w, "jobtel_slurm_hook_errors_total", METRIC_COUNTER,
                                        "Slurm prolog/epilog failures counted in the mapping directory, by hook and reason.");
    for (unsigned h = 0; h < JOBMAP_HOOK_N; h++) {
        for (unsigned r = 0; r < JOBMAP_REASON_N; r++) {
            struct labelset hl;
            labelset_init(&hl);
            labelset_add(&hl, "format", format);
            labelset_add(&hl, "hook", jobmap_hook_name((enum jobmap_hook)h));
            labelset_add(&hl, "reason", jobmap_reason_name((enum jobmap_reason)r));
            expo_sample_u64(f, &hl, m->stats.hook_errors[h][r]);
        }
    }
}

static void mapping_destroy(struct owner_table *base)
{
    struct slurm_mapping_table *t = (struct slurm_mapping_table *)base;
    jobmap_free(&t->hpc);
    jobmap_free(&t->gpustat);
    free(t);
}

struct slurm_mapping_table *slurm_mapping_read(const char *hpc_dir, const char *gpustat_dir, struct ratelimit *rl_hpc,
                                               struct ratelimit *rl_gpustat)
{
    struct slurm_mapping_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    read_one(hpc_dir, JOBMAP_HPC, &t->hpc, &t->hpc_state, rl_hpc, "HPC job mapping");
    read_one(gpustat_dir, JOBMAP_GPUSTAT, &t->gpustat, &t->gpustat_state, rl_gpustat, "gpustat");
    owner_table_init(&t->base, mapping_destroy);
    return t;
}

void slurm_mapping_write_stats(const struct slurm_mapping_table *t, bool hpc_on, bool gpustat_on, struct expo *w)
{
    if (hpc_on)
        write_stats(w, "hpc", &t->hpc, t->hpc_state);
    if (gpustat_on)
        write_stats(w, "gpustat", &t->gpustat, t->gpustat_state);
}

static void set_add_id(struct gpu_job_set *out, const char *id, bool has_uid, uint32_t uid)
{
    for (size_t i = 0; i < out->n; i++) {
        if (strcmp(out->job[i].jobid, id) == 0) {
            if (has_uid && !out->job[i].uid[0])
                snprintf(out->job[i].uid, sizeof out->job[i].uid, "%u", uid);
            return;
        }
    }
    if (out->n == GPU_JOBS_MAX_PER_GPU)
        return;
    struct gpu_job *g = &out->job[out->n++];
    snprintf(g->jobid, sizeof g->jobid, "%s", id);
    g->uid[0] = '\0';
    if (has_uid)
        snprintf(g->uid, sizeof g->uid, "%u", uid);
}

static void set_add(struct gpu_job_set *out, uint64_t jobid, bool has_uid, uint32_t uid)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)jobid);
    set_add_id(out, id, has_uid, uid);
}

static void add_key(struct gpu_job_set *out, const struct jobmap *m, const struct jobmap_key *k)
{
    if (!k)
        return;
    const struct jobmap_job *jobs = jobmap_key_jobs(m, k);
    for (size_t i = 0; i < k->count; i++)
        set_add(out, jobs[i].jobid, jobs[i].has_uid, jobs[i].uid);
}

void gpu_jobs_lookup(const struct slurm_mapping_table *j, unsigned index, const char *gi, const char *uuid,
                     struct gpu_job_set *out)
{
    memset(out, 0, sizeof *out);
    if (!j)
        return;
    int32_t inst = -1;
    if (gi) {
        uint64_t v;
        if (!cstr_to_u64(gi, &v) || v > INT32_MAX)
            return;
        inst = (int32_t)v;
    }
    if (j->gpustat_state == MAPPING_DIR_OK) {
        /* Princeton's exporter looks up the UUID first, then the index. */
        const struct jobmap_key *k = uuid && uuid[0] ? jobmap_find_uuid(&j->gpustat, uuid) : NULL;
        if (!k)
            k = jobmap_find_index(&j->gpustat, index, inst);
        add_key(out, &j->gpustat, k);
    }
    if (j->hpc_state == MAPPING_DIR_OK)
        add_key(out, &j->hpc, jobmap_find_index(&j->hpc, index, inst));
}

/* The one Slurm cgroup-path parser (slurm/cgpath.c) decides, as it does for the cgroup collector. */
bool slurm_job_from_cgroup(const char *text, size_t n, char *jobid, size_t jlen, char *uid, size_t ulen)
{
    struct cgpath_job job;
    if (!cgpath_from_proc_cgroup(text, n, &job))
        return false;
    snprintf(jobid, jlen, "%s", job.jobid);
    if (job.has_uid)
        snprintf(uid, ulen, "%u", job.uid);
    else
        snprintf(uid, ulen, "%s", "");
    return true;
}

bool proc_slurm_job(const char *procfs, unsigned pid, char *jobid, size_t jlen, char *uid, size_t ulen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%u/cgroup", procfs, pid);
    struct buf b;
    buf_init(&b, 64 * 1024);
    bool found = file_read(path, 64 * 1024, &b) == JT_OK &&
                 slurm_job_from_cgroup(buf_str(&b), b.len, jobid, jlen, uid, ulen);
    buf_free(&b);
    return found;
}

static void proc_table_destroy(struct owner_table *t)
{
    free(t);
}

struct proc_job_table *proc_job_table_build(const char *procfs, const unsigned *pids, size_t n)
{
    struct proc_job_table *t = malloc(sizeof *t + n * sizeof t->e[0]);
    if (!t)
        return NULL;
    t->n = 0;
    for (size_t i = 0; i < n; i++) {
        struct proc_job *e = &t->e[t->n];
        if (!proc_slurm_job(procfs, pids[i], e->jobid, sizeof e->jobid, e->uid, sizeof e->uid))
            continue;
        e->pid = pids[i];
        t->n++;
    }
    owner_table_init(&t->base, proc_table_destroy);
    return t;
}

void gpu_jobs_add_process(const struct proc_job_table *t, unsigned pid, struct gpu_job_set *out)
{
    if (!t)
        return;
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->e[mid].pid == pid) {
            uint64_t uv = 0;
            bool has_uid = t->e[mid].uid[0] && cstr_to_u64(t->e[mid].uid, &uv) && uv <= UINT32_MAX;
            set_add_id(out, t->e[mid].jobid, has_uid, (uint32_t)uv); /* a decimal job id or a SLUID */
            return;
        }
        if (t->e[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
}
