/* gpu_jobs.c - Slurm job attribution for GPUs (see gpu_jobs.h).
 *
 * The directories are read into sorted tables once per collection; lookups are then binary searches
 * (common/jobmap.c). A malformed mapping file is skipped, reported in a gauge and logged at most once
 * a minute per directory: it must not take the other GPUs' labels with it.
 */
#include "attribution/gpu_jobs.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/strparse.h"
#include "slurm/cgpath.h"

void gpu_jobs_init(struct gpu_jobs *j, const struct exporter_config *cfg)
{
    memset(j, 0, sizeof *j);
    j->hpc_dir = cfg->hpc_job_mapping_dir;
    j->gpustat_dir = cfg->gpustat_dir;
    j->procfs = cfg->path_procfs;
}

static void read_one(const char *dir, enum jobmap_format fmt, struct jobmap *m, bool *ok, struct ratelimit *rl,
                     const char *what)
{
    *ok = false;
    if (!dir)
        return;
    enum jt_err rc = jobmap_read_dir(dir, fmt, m);
    if (rc == JT_ERR_NOT_FOUND)
        return; /* no prolog has run yet */
    uint64_t suppressed = 0;
    if (rc != JT_OK) {
        if (ratelimit_allow(rl, 60, &suppressed))
            log_warn("job mapping: cannot read %s directory %s: %s", what, dir, jt_strerror(rc));
        return;
    }
    *ok = true;
    if (m->stats.malformed && ratelimit_allow(rl, 60, &suppressed))
        log_warn("job mapping: skipped %u malformed file(s) in %s (first: %s: %s)%s", m->stats.malformed, dir,
                 m->stats.first_malformed, jt_strerror(m->stats.first_malformed_err),
                 suppressed ? " (repeats suppressed)" : "");
}

static void write_stats(struct expo *w, const char *format, const struct jobmap *m, bool ok)
{
    struct labelset ls;
    labelset_init(&ls);
    labelset_add(&ls, "format", format);
    expo_sample(expo_family(w, "jobtel_gpu_job_mapping_readable", METRIC_GAUGE,
                            "Whether the GPU-to-job mapping directory could be read in the last collection (1) or was absent or unreadable (0)."),
                &ls, ok ? 1 : 0);
    if (!ok)
        return;
    expo_sample(expo_family(w, "jobtel_gpu_job_mapping_files", METRIC_GAUGE,
                            "Mapping files read from the GPU-to-job mapping directory in the last collection."),
                &ls, m->stats.files);
    expo_sample(expo_family(w, "jobtel_gpu_job_mapping_malformed_files", METRIC_GAUGE,
                            "Mapping files skipped as malformed in the last collection."),
                &ls, m->stats.malformed);
}

void gpu_jobs_refresh(struct gpu_jobs *j, struct expo *w)
{
    read_one(j->hpc_dir, JOBMAP_HPC, &j->hpc, &j->hpc_ok, &j->rl_hpc, "HPC job mapping");
    read_one(j->gpustat_dir, JOBMAP_GPUSTAT, &j->gpustat, &j->gpustat_ok, &j->rl_gpustat, "gpustat");
    if (j->hpc_dir)
        write_stats(w, "hpc", &j->hpc, j->hpc_ok);
    if (j->gpustat_dir)
        write_stats(w, "gpustat", &j->gpustat, j->gpustat_ok);
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

void gpu_jobs_lookup(const struct gpu_jobs *j, unsigned index, const char *gi, const char *uuid,
                     struct gpu_job_set *out)
{
    memset(out, 0, sizeof *out);
    int32_t inst = -1;
    if (gi) {
        uint64_t v;
        if (!cstr_to_u64(gi, &v) || v > INT32_MAX)
            return;
        inst = (int32_t)v;
    }
    if (j->gpustat_ok) {
        /* Princeton's exporter looks up the UUID first, then the index. */
        const struct jobmap_key *k = uuid && uuid[0] ? jobmap_find_uuid(&j->gpustat, uuid) : NULL;
        if (!k)
            k = jobmap_find_index(&j->gpustat, index, inst);
        add_key(out, &j->gpustat, k);
    }
    if (j->hpc_ok)
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

void gpu_jobs_add_process(const struct gpu_jobs *j, unsigned pid, struct gpu_job_set *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%u/cgroup", j->procfs, pid);
    struct buf b;
    buf_init(&b, 64 * 1024);
    if (file_read(path, 64 * 1024, &b) == JT_OK) {
        char jobid[24], uid[16];
        if (slurm_job_from_cgroup(buf_str(&b), b.len, jobid, sizeof jobid, uid, sizeof uid)) {
            uint64_t uv = 0;
            bool has_uid = uid[0] && cstr_to_u64(uid, &uv);
            set_add_id(out, jobid, has_uid, (uint32_t)uv); /* a decimal job id or a SLUID */
        }
    }
    buf_free(&b);
}

void gpu_jobs_free(struct gpu_jobs *j)
{
    jobmap_free(&j->hpc);
    jobmap_free(&j->gpustat);
}
