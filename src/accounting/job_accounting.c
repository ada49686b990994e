/* job_accounting.c - the per-job GPU integrator, its counters and its persisted state (see
 * job_accounting.h for the rules).
 *
 * Records live in one flat array searched linearly: a node has at most a few hundred (job, GPU) pairs
 * alive, so a collection costs O(pairs x records) comparisons of short strings, far below NVML's own
 * cost; max_records bounds both memory and that cost whatever the job churn.
 */
#include "accounting/job_accounting.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/strparse.h"

/* Clock-event reasons that mean the GPU was slowed down (not idle, not application clocks, not a
 * display setting): SW power cap, HW slowdown, SW thermal, HW thermal, HW power brake. */
#define ACCT_THROTTLE_MASK (UINT64_C(0x4) | UINT64_C(0x8) | UINT64_C(0x20) | UINT64_C(0x40) | UINT64_C(0x80))

struct job_acct *job_acct_new(const char *dir, double max_gap_s, double retention_s, size_t max_records)
{
    struct job_acct *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (dir && *dir) {
        a->dir = strdup(dir);
        if (!a->dir) {
            free(a);
            return NULL;
        }
    }
    pthread_mutex_init(&a->mu, NULL);
    a->lock_fd = -1;
    a->max_gap_s = max_gap_s;
    a->retention_s = retention_s;
    a->max_records = max_records ? max_records : 1;
    a->save_every_s = 10;
    return a;
}

void job_acct_free(struct job_acct *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->mu);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    for (size_t i = 0; i < a->n; i++)
        tl_free(&a->rec[i].tl);
    for (size_t i = 0; i < a->ncpu; i++)
        tl_free(&a->cpu[i].tl);
    free(a->rec);
    free(a->cpu);
    free(a->base);
    free(a->dir);
    free(a);
}

double acct_share(const double *weights, size_t njobs, size_t j)
{
    if (njobs == 0 || j >= njobs)
        return 0;
    if (weights) {
        double sum = 0;
        for (size_t i = 0; i < njobs; i++)
            sum += weights[i] > 0 ? weights[i] : 0;
        /* No process was busy: nothing tells the jobs apart, so the even split. */
        if (sum > 0)
            return (weights[j] > 0 ? weights[j] : 0) / sum;
    }
    return 1.0 / (double)njobs;
}

/* ---- records ------------------------------------------------------------------------------------- */

static struct acct_record *find_record(struct job_acct *a, const char *jobid, const char *gpu, const char *gi)
{
    for (size_t i = 0; i < a->n; i++) {
        struct acct_record *r = &a->rec[i];
        if (strcmp(r->jobid, jobid) == 0 && strcmp(r->gpu, gpu) == 0 && strcmp(r->gi, gi) == 0)
            return r;
    }
    return NULL;
}

static void remove_record(struct job_acct *a, size_t i)
{
    tl_free(&a->rec[i].tl);
    a->rec[i] = a->rec[a->n - 1];
    a->n--;
}

/* Frees one slot by evicting the ended record seen longest ago. false if every record is a live job. */
static bool evict_oldest_ended(struct job_acct *a)
{
    size_t best = a->n;
    for (size_t i = 0; i < a->n; i++) {
        if (a->rec[i].ended && (best == a->n || a->rec[i].last_wall < a->rec[best].last_wall))
            best = i;
    }
    if (best == a->n)
        return false;
    remove_record(a, best);
    a->evicted++;
    return true;
}

static struct acct_record *add_record(struct job_acct *a, const char *jobid, const char *gpu, const char *gi,
                                      double wall)
{
    if (a->n >= a->max_records && !evict_oldest_ended(a)) {
        a->dropped++;
        return NULL;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        if (cap > a->max_records)
            cap = a->max_records;
        struct acct_record *r = realloc(a->rec, cap * sizeof *r);
        if (!r) {
            a->dropped++;
            return NULL;
        }
        a->rec = r;
        a->cap = cap;
    }
    struct acct_record *r = &a->rec[a->n];
    memset(r, 0, sizeof *r);
    if (!str_copy(r->jobid, sizeof r->jobid, jobid, strlen(jobid)) || !str_copy(r->gpu, sizeof r->gpu, gpu, strlen(gpu)) ||
        !str_copy(r->gi, sizeof r->gi, gi, strlen(gi))) {
        a->dropped++;
        return NULL;
    }
    r->first_wall = r->last_wall = wall;
    tl_init(&r->tl);
    a->n++;
    return r;
}

/* ---- per-GPU baselines --------------------------------------------------------------------------- */

static struct acct_gpu_base *find_base(struct job_acct *a, const char *key, bool *fresh)
{
    *fresh = false;
    for (size_t i = 0; i < a->nbase; i++) {
        if (strcmp(a->base[i].key, key) == 0)
            return &a->base[i];
    }
    if (a->nbase == a->capbase) {
        size_t cap = a->capbase ? a->capbase * 2 : 8;
        struct acct_gpu_base *b = realloc(a->base, cap * sizeof *b);
        if (!b)
            return NULL;
        a->base = b;
        a->capbase = cap;
    }
    struct acct_gpu_base *b = &a->base[a->nbase++];
    memset(b, 0, sizeof *b);
    snprintf(b->key, sizeof b->key, "%s", key);
    *fresh = true;
    return b;
}

/* ---- one collection ------------------------------------------------------------------------------ */

void job_acct_begin(struct job_acct *a)
{
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n; i++)
        a->rec[i].seen = false;
    for (size_t i = 0; i < a->nbase; i++)
        a->base[i].used = false;
}

void job_acct_add(struct job_acct *a, const struct acct_sample *s, double mono, double wall)
{
    const char *gi = s->gi ? s->gi : "";
    char key[32];
    snprintf(key, sizeof key, "%s%s%s", s->gpu, *gi ? "." : "", gi);
    bool fresh;
    struct acct_gpu_base *b = find_base(a, key, &fresh);
    if (!b)
        return;
    b->used = true;
    /* The interval since this GPU's previous good collection, if it is one we may integrate. */
    double dt = fresh ? 0 : mono - b->mono;
    if (!s->up) {
        /* A lost GPU: nothing read, nothing integrated; the next good collection starts a new interval. */
        b->mono = -1;
        b->energy_valid = false;
        return;
    }
    bool integrate = !fresh && b->mono >= 0 && dt > 0 && dt <= a->max_gap_s;
    if (!fresh && b->mono >= 0) {
        if (integrate)
            a->intervals++;
        else
            a->gaps++;
    }
    double energy_j = 0;
    bool have_energy = false;
    if (integrate) {
        if (s->has_energy && b->energy_valid && s->energy_mj >= b->energy_mj) {
            energy_j = (s->energy_mj - b->energy_mj) / 1000.0;
            have_energy = true;
        } else if (s->has_power) {
            energy_j = s->power_mw / 1000.0 * dt;
            have_energy = true;
        }
    }
    /* The interval's means for the timelines: tv[0] the GPU's, tv[1] scaled to job j's share (set in
     * the loop). Utilization, power and SM-active are the job's share, as its totals are; memory,
     * clock and throttling are the GPU's. */
    struct tl_values tv[2];
    memset(tv, 0, sizeof tv);
    if (integrate) {
        if (s->has_util) {
            tv[0].v[TL_UTIL] = s->util_pct < 0 ? 0 : s->util_pct > 100 ? 100 : s->util_pct;
            tv[0].valid |= 1u << TL_UTIL;
        }
        if (have_energy) {
            tv[0].v[TL_POWER] = energy_j / dt; /* the interval's mean power, consistent with the joules */
            tv[0].valid |= 1u << TL_POWER;
        }
        if (s->has_mem) {
            tv[0].v[TL_MEM] = s->mem_used_bytes / 1073741824.0;
            tv[0].valid |= 1u << TL_MEM;
        }
        if (s->has_sm) {
            tv[0].v[TL_SM] = s->sm_active * 100;
            tv[0].valid |= 1u << TL_SM;
        }
        if (s->has_clock) {
            tv[0].v[TL_CLOCK] = s->sm_clock_mhz;
            tv[0].valid |= 1u << TL_CLOCK;
        }
        if (s->has_reasons) {
            tv[0].v[TL_THROTTLE] = (s->clock_reasons & ACCT_THROTTLE_MASK) ? 100 : 0;
            tv[0].valid |= 1u << TL_THROTTLE;
        }
    }
    uint64_t new_xids = s->xid_total >= b->xid_total ? s->xid_total - b->xid_total : 0;
    if (fresh)
        new_xids = 0; /* events before the daemon's first look belong to no job we can name */
    for (size_t j = 0; j < s->njobs; j++) {
        struct acct_record *r = find_record(a, s->jobs[j], s->gpu, gi);
        if (!r)
            r = add_record(a, s->jobs[j], s->gpu, gi, wall);
        if (!r)
            continue;
        bool was_ended = r->ended;
        r->seen = true;
        r->ended = false;
        r->last_wall = wall;
        if (s->has_mem) {
            if (!(r->have & ACCT_HAVE_MEM) || s->mem_used_bytes > r->mem_peak_bytes)
                r->mem_peak_bytes = s->mem_used_bytes;
            r->have |= ACCT_HAVE_MEM;
        }
        r->xids += new_xids;
        /* A job that reappears after an absence: its absence is not its time. */
        if (!integrate || was_ended)
            continue;
        double share = acct_share(s->weights, s->njobs, j);
        tv[1] = tv[0];
        tv[1].v[TL_UTIL] *= share;
        tv[1].v[TL_POWER] *= share;
        tv[1].v[TL_SM] *= share;
        r->allocated_s += dt;
        if (s->has_util) {
            double u = s->util_pct < 0 ? 0 : s->util_pct > 100 ? 100 : s->util_pct;
            r->busy_s += u / 100.0 * dt * share;
            r->have |= ACCT_HAVE_BUSY;
        }
        if (have_energy) {
            r->energy_j += energy_j * share;
            r->have |= ACCT_HAVE_ENERGY;
        }
        if (s->has_sm) {
            r->sm_active_s += s->sm_active * dt * share;
            r->have |= ACCT_HAVE_SM;
        }
        if (s->has_tensor) {
            r->tensor_active_s += s->tensor_active * dt * share;
            r->have |= ACCT_HAVE_TENSOR;
        }
        if (s->has_reasons) {
            if (s->clock_reasons & ACCT_THROTTLE_MASK)
                r->throttle_s += dt;
            r->have |= ACCT_HAVE_THROTTLE;
        }
        tl_add(&r->tl, mono, wall, dt, &tv[1]);
    }
    b->mono = mono;
    b->energy_valid = s->has_energy;
    b->energy_mj = s->energy_mj;
    b->xid_total = s->xid_total;
}

void job_acct_end(struct job_acct *a, double mono, double wall)
{
    (void)mono;
    if (a->n)
        a->dirty = true;
    size_t i = 0;
    while (i < a->n) {
        struct acct_record *r = &a->rec[i];
        if (!r->seen && !r->ended) {
            r->ended = true;
            tl_trim(&r->tl); /* kept for the epilog and restarts: no room for points that will not come */
        }
        if (r->ended && wall - r->last_wall > a->retention_s) {
            remove_record(a, i);
            a->dirty = true;
            continue;
        }
        i++;
    }
    /* A GPU no longer reported (hot-unplugged, MIG instance destroyed) loses its baseline. */
    i = 0;
    while (i < a->nbase) {
        if (!a->base[i].used) {
            a->base[i] = a->base[a->nbase - 1];
            a->nbase--;
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&a->mu);
}

/* ---- the jobs' CPU timelines -------------------------------------------------------------------- */

static struct acct_cpu_record *find_cpu(struct job_acct *a, const char *jobid)
{
    for (size_t i = 0; i < a->ncpu; i++) {
        if (strcmp(a->cpu[i].jobid, jobid) == 0)
            return &a->cpu[i];
    }
    return NULL;
}

static void remove_cpu(struct job_acct *a, size_t i)
{
    tl_free(&a->cpu[i].tl);
    a->cpu[i] = a->cpu[a->ncpu - 1];
    a->ncpu--;
}

/* A new job's CPU record (its slot freed from the ended job seen longest ago when full), or NULL. */
static struct acct_cpu_record *add_cpu(struct job_acct *a, const char *jobid, double wall)
{
    if (a->ncpu >= a->max_records) {
        size_t best = a->ncpu;
        for (size_t i = 0; i < a->ncpu; i++) {
            if (a->cpu[i].ended && (best == a->ncpu || a->cpu[i].last_wall < a->cpu[best].last_wall))
                best = i;
        }
        if (best == a->ncpu) {
            a->dropped++;
            return NULL;
        }
        remove_cpu(a, best);
        a->evicted++;
    }
    if (a->ncpu == a->capcpu) {
        size_t cap = a->capcpu ? a->capcpu * 2 : 16;
        if (cap > a->max_records)
            cap = a->max_records;
        struct acct_cpu_record *r = realloc(a->cpu, cap * sizeof *r);
        if (!r) {
            a->dropped++;
            return NULL;
        }
        a->cpu = r;
        a->capcpu = cap;
    }
    struct acct_cpu_record *r = &a->cpu[a->ncpu];
    memset(r, 0, sizeof *r);
    if (!str_copy(r->jobid, sizeof r->jobid, jobid, strlen(jobid))) {
        a->dropped++;
        return NULL;
    }
    r->first_wall = r->last_wall = wall;
    r->base_mono = -1;
    tl_init(&r->tl);
    a->ncpu++;
    return r;
}

void job_acct_cpu(struct job_acct *a, const struct acct_cpu_sample *s, size_t n, double mono, double wall,
                  double max_gap_s)
{
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->ncpu; i++)
        a->cpu[i].seen = false;
    for (size_t k = 0; k < n; k++) {
        struct acct_cpu_record *r = find_cpu(a, s[k].jobid);
        if (!r && !(r = add_cpu(a, s[k].jobid, wall)))
            continue;
        bool was_ended = r->ended;
        r->seen = true;
        r->ended = false;
        r->last_wall = wall;
        double dt = mono - r->base_mono;
        /* The first reading after the job appeared (or returned, or a restart) is only a baseline. */
        bool integrate = r->base_mono >= 0 && !was_ended && dt > 0 && dt <= max_gap_s;
        struct tl_values v = {{0}, 0};
        if (integrate && s[k].has_cpu && r->base_cpu_valid && s[k].cpu_s >= r->base_cpu_s) {
            v.v[TL_CPU_CORES] = (s[k].cpu_s - r->base_cpu_s) / dt;
            v.valid |= 1u << TL_CPU_CORES;
        }
        if (integrate && s[k].has_mem) {
            v.v[TL_CPU_MEM] = s[k].mem_bytes / 1073741824.0;
            v.valid |= 1u << TL_CPU_MEM;
        }
        if (integrate)
            tl_add(&r->tl, mono, wall, dt, &v);
        if (s[k].has_used && !r->mem_peak_lost && (!r->has_mem_peak || s[k].used_bytes > r->mem_peak_bytes)) {
            r->mem_peak_bytes = s[k].used_bytes;
            r->has_mem_peak = true;
        }
        r->base_mono = mono;
        r->base_cpu_valid = s[k].has_cpu;
        r->base_cpu_s = s[k].cpu_s;
    }
    size_t i = 0;
    while (i < a->ncpu) {
        struct acct_cpu_record *r = &a->cpu[i];
        if (!r->seen && !r->ended) {
            r->ended = true;
            r->base_mono = -1;
            tl_trim(&r->tl);
        }
        if (r->ended && wall - r->last_wall > a->retention_s) {
            remove_cpu(a, i);
            continue;
        }
        i++;
    }
    if (a->ncpu)
        a->dirty = true;
    pthread_mutex_unlock(&a->mu);
}

/* ---- counters ------------------------------------------------------------------------------------ */

void job_acct_render(struct job_acct *a, struct expo *w, const char *hostname, double wall)
{
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n; i++) {
        const struct acct_record *r = &a->rec[i];
        if (r->ended && !(wall - r->last_wall < a->export_ended_s))
            continue;
        struct labelset ls;
        labelset_init(&ls);
        labelset_add(&ls, "jobid", r->jobid);
        labelset_add(&ls, "gpu", r->gpu);
        if (r->gi[0])
            labelset_add(&ls, "GPU_I_ID", r->gi);
        if (hostname)
            labelset_add(&ls, "hostname", hostname);
        /* One literal family per total (scripts/gen-metrics-doc.py reads them); a total never fed by a
         * valid reading is left out. */
        expo_sample(expo_family(w, "jobtel_job_gpu_allocated_seconds_total", METRIC_COUNTER,
                                "Seconds the job held the GPU, over intervals between two good collections."),
                    &ls, r->allocated_s);
        if (r->have & ACCT_HAVE_BUSY)
            expo_sample(expo_family(w, "jobtel_job_gpu_busy_seconds_total", METRIC_COUNTER,
                                    "Utilization integral of the job on the GPU, in seconds at 100 % (split on shared GPUs)."),
                        &ls, r->busy_s);
        if (r->have & ACCT_HAVE_SM)
            expo_sample(expo_family(w, "jobtel_job_gpu_sm_active_seconds_total", METRIC_COUNTER,
                                    "SM-active integral of the job on the GPU, in seconds (GPM/DCGM)."),
                        &ls, r->sm_active_s);
        if (r->have & ACCT_HAVE_TENSOR)
            expo_sample(expo_family(w, "jobtel_job_gpu_tensor_active_seconds_total", METRIC_COUNTER,
                                    "Tensor-active integral of the job on the GPU, in seconds (GPM/DCGM)."),
                        &ls, r->tensor_active_s);
        if (r->have & ACCT_HAVE_ENERGY)
            expo_sample(expo_family(w, "jobtel_job_gpu_energy_joules_total", METRIC_COUNTER,
                                    "Energy of the job on the GPU in joules (NVML energy counter deltas, else power x time)."),
                        &ls, r->energy_j);
        if (r->have & ACCT_HAVE_THROTTLE)
            expo_sample(expo_family(w, "jobtel_job_gpu_throttle_seconds_total", METRIC_COUNTER,
                                    "Seconds the GPU was slowed by power or thermal limits while the job held it."),
                        &ls, r->throttle_s);
        expo_sample_u64(expo_family(w, "jobtel_job_gpu_xid_errors_total", METRIC_COUNTER,
                                    "XID events on the GPU while the job held it."),
                        &ls, r->xids);
        if (r->have & ACCT_HAVE_MEM)
            expo_sample(expo_family(w, "jobtel_job_gpu_memory_peak_bytes", METRIC_GAUGE,
                                    "Peak framebuffer use of the GPU while the job held it, in bytes."),
                        &ls, r->mem_peak_bytes);
        expo_sample(expo_family(w, "jobtel_job_gpu_active", METRIC_GAUGE,
                                "Whether the job held the GPU at the latest collection (1) or has ended (0)."),
                    &ls, r->ended ? 0 : 1);
    }
    struct labelset none;
    labelset_init(&none);
    expo_sample(expo_family(w, "jobtel_job_accounting_records", METRIC_GAUGE,
                            "(job, GPU) records the daemon keeps, live and recently ended."),
                &none, (double)a->n);
    expo_sample_u64(expo_family(w, "jobtel_job_accounting_evictions_total", METRIC_COUNTER,
                                "Ended job records evicted before their retention because the record cap was reached."),
                    &none, a->evicted);
    expo_sample_u64(expo_family(w, "jobtel_job_accounting_dropped_total", METRIC_COUNTER,
                                "(job, GPU) pairs not accounted because every record slot held a live job."),
                    &none, a->dropped);
    expo_sample_u64(expo_family(w, "jobtel_job_accounting_gaps_total", METRIC_COUNTER,
                                "GPU intervals not integrated: longer than the gap limit, or after a failed collection."),
                    &none, a->gaps);
    expo_sample_u64(expo_family(w, "jobtel_job_accounting_save_errors_total", METRIC_COUNTER,
                                "Failed writes of the accounting state file."),
                    &none, a->save_errors);
    pthread_mutex_unlock(&a->mu);
}

void job_acct_render_cpu(struct job_acct *a, struct expo *w, const char *hostname, double wall)
{
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->ncpu; i++) {
        const struct acct_cpu_record *r = &a->cpu[i];
        if (!r->has_mem_peak || (r->ended && !(wall - r->last_wall < a->export_ended_s)))
            continue;
        struct labelset ls;
        labelset_init(&ls);
        labelset_add(&ls, "jobid", r->jobid);
        if (hostname)
            labelset_add(&ls, "hostname", hostname);
        expo_sample(expo_family(w, "jobtel_job_memory_peak_bytes", METRIC_GAUGE,
                                "Peak RSS + shmem of the job's cgroup on this node over every cgroup collection, in bytes."),
                    &ls, r->mem_peak_bytes);
    }
    pthread_mutex_unlock(&a->mu);
}

/* ---- persistence --------------------------------------------------------------------------------- */

/* One line per record: jobid gpu gi(- for none) have ended allocated busy sm tensor energy throttle
 * mem_peak xids first_wall last_wall, then (version 2) its timeline's "tl" and "p" lines, if any; then
 * (version 3) one line per job's CPU timeline: "cpu" jobid ended first_wall last_wall, (version 4) its
 * memory peak or "-" (none kept), and its "tl", "p".
 * %.17g keeps doubles exact across a restart (%.9g the timeline's floats). */
static enum jt_err format_state(struct job_acct *a, struct buf *out)
{
    buf_printf(out, "jobtel-job-accounting %d\n", ACCT_STATE_VERSION);
    for (size_t i = 0; i < a->n; i++) {
        const struct acct_record *r = &a->rec[i];
        buf_printf(out, "%s %s %s %u %d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %llu %.17g %.17g\n", r->jobid, r->gpu,
                   r->gi[0] ? r->gi : "-", r->have, r->ended ? 1 : 0, r->allocated_s, r->busy_s, r->sm_active_s,
                   r->tensor_active_s, r->energy_j, r->throttle_s, r->mem_peak_bytes, (unsigned long long)r->xids,
                   r->first_wall, r->last_wall);
        tl_format(&r->tl, &tl_gpu_layout, out);
    }
    for (size_t i = 0; i < a->ncpu; i++) {
        const struct acct_cpu_record *r = &a->cpu[i];
        buf_printf(out, "cpu %s %d %.17g %.17g ", r->jobid, r->ended ? 1 : 0, r->first_wall, r->last_wall);
        if (r->has_mem_peak)
            buf_printf(out, "%.17g\n", r->mem_peak_bytes);
        else
            buf_puts(out, "-\n");
        tl_format(&r->tl, &tl_cpu_layout, out);
    }
    buf_puts(out, "end\n");
    return out->err;
}

static bool token_ok(const char *t, size_t n, size_t max)
{
    if (n == 0 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= ' ' || c >= 0x7f)
            return false;
    }
    return true;
}

static bool next_double(struct cursor *c, double *v)
{
    const char *t;
    cur_skip_space(c);
    size_t n = cur_token(c, " ", &t);
    return n > 0 && str_to_double(t, n, v) && *v >= 0;
}

static bool parse_line(const char *line, size_t len, struct acct_record *r)
{
    struct cursor c;
    cur_init(&c, line, len);
    const char *t;
    size_t n;
    memset(r, 0, sizeof *r);
    n = cur_token(&c, " ", &t);
    if (!token_ok(t, n, sizeof r->jobid) || !str_copy(r->jobid, sizeof r->jobid, t, n))
        return false;
    cur_skip_space(&c);
    n = cur_token(&c, " ", &t);
    if (!token_ok(t, n, sizeof r->gpu) || !str_copy(r->gpu, sizeof r->gpu, t, n))
        return false;
    cur_skip_space(&c);
    n = cur_token(&c, " ", &t);
    if (!token_ok(t, n, sizeof r->gi))
        return false;
    if (!(n == 1 && t[0] == '-') && !str_copy(r->gi, sizeof r->gi, t, n))
        return false;
    uint64_t have, ended, xids;
    cur_skip_space(&c);
    n = cur_token(&c, " ", &t);
    if (!str_to_u64(t, n, &have) || have > 0xff)
        return false;
    cur_skip_space(&c);
    n = cur_token(&c, " ", &t);
    if (!str_to_u64(t, n, &ended) || ended > 1)
        return false;
    r->have = (unsigned)have;
    r->ended = ended == 1;
    double *d[] = {&r->allocated_s, &r->busy_s, &r->sm_active_s, &r->tensor_active_s, &r->energy_j, &r->throttle_s,
                   &r->mem_peak_bytes};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        if (!next_double(&c, d[i]))
            return false;
    }
    cur_skip_space(&c);
    n = cur_token(&c, " ", &t);
    if (!str_to_u64(t, n, &xids))
        return false;
    r->xids = xids;
    if (!next_double(&c, &r->first_wall) || !next_double(&c, &r->last_wall))
        return false;
    cur_skip_space(&c);
    return cur_eof(&c);
}

/* "cpu <jobid> <ended> <first_wall> <last_wall>" and, from version 4, "<mem_peak>|-" (after the keyword)
 * into r. Without a peak (version 3, or "-") none is kept for the job: the peak of before the restart is
 * unknown. */
static bool parse_cpu_line(const char *line, size_t len, int version, struct acct_cpu_record *r)
{
    struct cursor c;
    cur_init(&c, line, len);
    const char *t;
    uint64_t ended;
    memset(r, 0, sizeof *r);
    cur_skip_space(&c);
    size_t n = cur_token(&c, " ", &t);
    if (!token_ok(t, n, sizeof r->jobid) || !str_copy(r->jobid, sizeof r->jobid, t, n))
        return false;
    cur_skip_space(&c);
    n = cur_token(&c, " ", &t);
    if (!str_to_u64(t, n, &ended) || ended > 1)
        return false;
    r->ended = ended == 1;
    if (!next_double(&c, &r->first_wall) || !next_double(&c, &r->last_wall))
        return false;
    r->mem_peak_lost = true;
    if (version >= 4) {
        cur_skip_space(&c);
        n = cur_token(&c, " ", &t);
        double v;
        if (n == 1 && t[0] == '-')
            ; /* none kept */
        else if (n > 0 && str_to_double(t, n, &v) && v >= 0) {
            r->mem_peak_bytes = v;
            r->has_mem_peak = true;
            r->mem_peak_lost = false;
        } else
            return false;
    }
    cur_skip_space(&c);
    return cur_eof(&c);
}

static void state_path(const struct job_acct *a, char *out, size_t n, const char *suffix)
{
    snprintf(out, n, "%s/%s%s", a->dir, ACCT_STATE_FILE, suffix);
}

enum jt_err job_acct_load(struct job_acct *a)
{
    if (!a->dir)
        return JT_OK;
    char path[4096], bad[4112];
    /* The directory is ours (root, 0700); a second daemon on it keeps its totals in memory only. */
    if (mkdir(a->dir, 0700) != 0 && errno != EEXIST)
        log_warn("accounting: cannot create %s: %s", a->dir, strerror(errno));
    state_path(a, path, sizeof path, ".lock");
    a->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (a->lock_fd < 0 || flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        log_error("accounting: %s is %s; per-job totals will not survive a restart", path,
                  a->lock_fd < 0 ? "not usable" : "held by another daemon");
        if (a->lock_fd >= 0)
            close(a->lock_fd);
        a->lock_fd = -1;
        free(a->dir);
        a->dir = NULL;
        return JT_ERR_UNSAFE;
    }
    state_path(a, path, sizeof path, "");
    /* No symlink, no FIFO: O_NONBLOCK so opening a FIFO never waits for a writer, then fstat. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return JT_OK; /* first start */
        log_error("accounting: cannot open %s: %s; starting empty", path, strerror(errno));
        return errno == ELOOP ? JT_ERR_UNSAFE : JT_ERR_IO;
    }
    struct stat st;
    enum jt_err rc = JT_OK;
    struct buf b;
    buf_init(&b, ACCT_STATE_MAX_BYTES);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_error("accounting: %s is not a regular file; refused, starting empty", path);
        close(fd);
        buf_free(&b);
        return JT_ERR_UNSAFE;
    }
    if (st.st_size > (off_t)ACCT_STATE_MAX_BYTES) {
        rc = JT_ERR_LIMIT;
    } else {
        char chunk[65536];
        for (;;) {
            ssize_t got = read(fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                rc = JT_ERR_IO;
                break;
            }
            if (got == 0)
                break;
            if (buf_append(&b, chunk, (size_t)got) != JT_OK) {
                rc = JT_ERR_LIMIT;
                break;
            }
        }
    }
    close(fd);
    size_t loaded = 0;
    if (rc == JT_OK) {
        struct cursor c;
        cur_init(&c, b.data ? b.data : "", b.len);
        const char *line;
        size_t len;
        bool ended_ok = false;
        int version = 0;
        static const char head[] = "jobtel-job-accounting ";
        if (cur_line(&c, &line, &len) && len == sizeof head && memcmp(line, head, sizeof head - 1) == 0 &&
            line[len - 1] >= '1' && line[len - 1] <= '0' + ACCT_STATE_VERSION)
            version = line[len - 1] - '0';
        if (version == 0) {
            rc = JT_ERR_PARSE;
            log_error("accounting: %s is not a job accounting state of version 1 to %d", path, ACCT_STATE_VERSION);
        } else {
            struct acct_timeline *last = NULL;     /* the timeline a "tl" line belongs to */
            const struct tl_layout *lay = NULL;    /* and its columns */
            unsigned tl_points = 0;                /* the points its "tl" line announced */
            bool in_cpu = false;                   /* the CPU records come after every GPU record */
            while (cur_line(&c, &line, &len)) {
                struct cursor lc;
                if (version >= 2 && len > 3 && memcmp(line, "tl ", 3) == 0) {
                    cur_init(&lc, line + 3, len - 3);
                    if (!last || last->t0 > 0 || !tl_parse_head(&lc, last, &tl_points)) {
                        rc = JT_ERR_PARSE;
                        break;
                    }
                    continue;
                }
                if (version >= 2 && len > 2 && memcmp(line, "p ", 2) == 0) {
                    cur_init(&lc, line + 2, len - 2);
                    if (!last || !(last->t0 > 0) || last->n >= tl_points || !tl_parse_point(&lc, last, lay)) {
                        rc = JT_ERR_PARSE;
                        break;
                    }
                    continue;
                }
                if (last && last->t0 > 0 && !tl_check(last, tl_points)) {
                    rc = JT_ERR_PARSE;
                    break;
                }
                last = NULL;
                if (len == 3 && memcmp(line, "end", 3) == 0) {
                    ended_ok = cur_eof(&c);
                    break;
                }
                if (version >= 3 && len > 4 && memcmp(line, "cpu ", 4) == 0) {
                    struct acct_cpu_record r;
                    in_cpu = true;
                    if (!parse_cpu_line(line + 4, len - 4, version, &r) || find_cpu(a, r.jobid) || a->ncpu >= a->max_records) {
                        rc = a->ncpu >= a->max_records ? JT_ERR_LIMIT : JT_ERR_PARSE;
                        break;
                    }
                    struct acct_cpu_record *dst = add_cpu(a, r.jobid, r.first_wall);
                    if (!dst) {
                        rc = JT_ERR_NOMEM;
                        break;
                    }
                    /* ended or not, a restart lost its baseline: the next reading starts a new interval */
                    dst->ended = r.ended;
                    dst->last_wall = r.last_wall;
                    dst->has_mem_peak = r.has_mem_peak;
                    dst->mem_peak_lost = r.mem_peak_lost;
                    dst->mem_peak_bytes = r.mem_peak_bytes;
                    last = &dst->tl;
                    lay = &tl_cpu_layout;
                    continue;
                }
                if (in_cpu) {
                    rc = JT_ERR_PARSE;
                    break;
                }
                struct acct_record r;
                if (!parse_line(line, len, &r) || loaded >= a->max_records) {
                    rc = loaded >= a->max_records ? JT_ERR_LIMIT : JT_ERR_PARSE;
                    break;
                }
                struct acct_record *dst = add_record(a, r.jobid, r.gpu, r.gi, r.first_wall);
                if (!dst) {
                    rc = JT_ERR_NOMEM;
                    break;
                }
                *dst = r;
                dst->seen = false;
                tl_init(&dst->tl);
                last = &dst->tl;
                lay = &tl_gpu_layout;
                loaded++;
            }
            if (rc == JT_OK && !ended_ok)
                rc = JT_ERR_PARSE; /* truncated: no "end" line */
        }
    }
    buf_free(&b);
    if (rc != JT_OK) {
        for (size_t i = 0; i < a->n; i++)
            tl_free(&a->rec[i].tl);
        a->n = 0;
        for (size_t i = 0; i < a->ncpu; i++)
            tl_free(&a->cpu[i].tl);
        a->ncpu = 0;
        state_path(a, bad, sizeof bad, ".bad");
        log_error("accounting: %s refused (%s); kept as %s, starting empty", path, jt_strerror(rc), bad);
        if (rename(path, bad) != 0)
            log_error("accounting: cannot rename %s: %s", path, strerror(errno));
        return rc;
    }
    a->loaded = true;
    log_info("accounting: %zu job records restored from %s (and %zu CPU timelines)", loaded, path, a->ncpu);
    return JT_OK;
}

static enum jt_err save_locked(struct job_acct *a)
{
    char path[4096], tmp[4112];
    state_path(a, path, sizeof path, "");
    state_path(a, tmp, sizeof tmp, ".tmp");
    struct buf b;
    buf_init(&b, ACCT_STATE_MAX_BYTES);
    enum jt_err rc = format_state(a, &b);
    if (rc != JT_OK)
        goto out;
    if (mkdir(a->dir, 0700) != 0 && errno != EEXIST) {
        rc = JT_ERR_IO;
        goto out;
    }
    (void)unlink(tmp); /* a stale temporary from a killed daemon is ours to replace */
    rc = file_write_atomic(path, tmp, b.data, b.len, 0600);
out:
    buf_free(&b);
    if (rc != JT_OK) {
        a->save_errors++;
        log_error("accounting: cannot save %s: %s", path, jt_strerror(rc));
    }
    return rc;
}

enum jt_err job_acct_save(struct job_acct *a)
{
    if (!a->dir)
        return JT_OK;
    pthread_mutex_lock(&a->mu);
    enum jt_err rc = JT_OK;
    if (a->dirty) {
        rc = save_locked(a);
        if (rc == JT_OK)
            a->dirty = false;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void job_acct_maybe_save(struct job_acct *a, double mono)
{
    if (!a->dir)
        return;
    /* Called from the GPU and the cgroup collectors' threads: the due check under the lock too. */
    pthread_mutex_lock(&a->mu);
    bool due = !(a->last_save_mono > 0 && mono - a->last_save_mono < a->save_every_s);
    if (due)
        a->last_save_mono = mono;
    pthread_mutex_unlock(&a->mu);
    if (due)
        job_acct_save(a);
}

/* ---- one job's record ---------------------------------------------------------------------------- */

enum jt_err job_acct_job_json(struct job_acct *a, const char *jobid, struct buf *out)
{
    pthread_mutex_lock(&a->mu);
    size_t found = 0;
    buf_printf(out, "{\"version\":%d,\"jobid\":\"%s\",\"gpus\":[", ACCT_RECORD_VERSION, jobid);
    for (size_t i = 0; i < a->n; i++) {
        const struct acct_record *r = &a->rec[i];
        if (strcmp(r->jobid, jobid) != 0)
            continue;
        buf_printf(out, "%s{\"gpu\":\"%s\",\"gi\":\"%s\",\"allocated_s\":%.6f,\"ended\":%s,\"first\":%.3f,\"last\":%.3f,\"xids\":%llu",
                   found ? "," : "", r->gpu, r->gi, r->allocated_s, r->ended ? "true" : "false", r->first_wall,
                   r->last_wall, (unsigned long long)r->xids);
        if (r->have & ACCT_HAVE_BUSY)
            buf_printf(out, ",\"busy_s\":%.6f", r->busy_s);
        if (r->have & ACCT_HAVE_SM)
            buf_printf(out, ",\"sm_active_s\":%.6f", r->sm_active_s);
        if (r->have & ACCT_HAVE_TENSOR)
            buf_printf(out, ",\"tensor_active_s\":%.6f", r->tensor_active_s);
        if (r->have & ACCT_HAVE_ENERGY)
            buf_printf(out, ",\"energy_j\":%.6f", r->energy_j);
        if (r->have & ACCT_HAVE_THROTTLE)
            buf_printf(out, ",\"throttle_s\":%.6f", r->throttle_s);
        if (r->have & ACCT_HAVE_MEM)
            buf_printf(out, ",\"mem_peak_bytes\":%.0f", r->mem_peak_bytes);
        tl_json(&r->tl, &tl_gpu_layout, "tl", out);
        buf_puts(out, "}");
        found++;
    }
    buf_puts(out, "]");
    const struct acct_cpu_record *cr = find_cpu(a, jobid);
    if (cr && cr->tl.n) {
        tl_json(&cr->tl, &tl_cpu_layout, "cpu_tl", out);
        found++;
    }
    buf_puts(out, "}\n");
    pthread_mutex_unlock(&a->mu);
    if (out->err != JT_OK)
        return out->err;
    return found ? JT_OK : JT_ERR_NOT_FOUND;
}
