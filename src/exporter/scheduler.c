/* scheduler.c - collector threads and snapshot assembly (see scheduler.h).
 *
 * Locking: each run's mutex guards only its published results; the scheduler mutex + condition
 * variable wake the assembler and carry the stop flag. No lock is ever held across a collect call.
 */
#include "exporter/scheduler.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"

struct collector_run {
    const struct collector_ops *ops;
    void *state;
    struct scheduler *sched;
    pthread_t thread;
    bool thread_started;
    atomic_bool done;             /* thread has returned */
    atomic_bool reload_requested;
    atomic_uint_least64_t busy_since_us; /* mono time the running collect call began; 0 between calls */
    double interval;              /* seconds between collections (config_interval) */
    double stale_after;           /* older results are stale (config_stale_after) */
    struct ratelimit rl_fail;     /* collector thread only */
    pthread_mutex_t mu;           /* guards the fields below */
    char *fragment;               /* exposition of the last successful collection, owned */
    char *status;                 /* the collector's status series from its last collection, owned */
    size_t status_len;
    size_t fragment_len;
    double fragment_mono;         /* when that collection ended */
    bool have_result;
    bool last_ok;
    enum jt_err last_err;
    double last_duration;
    double last_end_mono;
    double last_end_wall;
    uint64_t collections;         /* collect calls finished, failed ones included (soak tests count these) */
};

struct scheduler {
    const struct exporter_config *cfg;
    struct snapshot_slot *out;
    struct collector_run *runs;
    size_t nruns;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    bool dirty;                   /* a collector finished since the last assembly */
    pthread_t assembler;
    bool assembler_started;
    double start_mono;
    double min_interval;          /* the fastest collector's interval */
    double max_stale_after;       /* the slowest collector's staleness limit */
    atomic_uint_least64_t assembler_beat_us; /* mono time of the assembler's last round (liveness) */
    double next_change;           /* assembler only: when staleness next changes what assemble() builds */
    size_t last_body_len;         /* assembler only: the size of the last snapshot, to size the next at once */
};

static struct timespec abs_deadline(double mono_target)
{
    struct timespec ts;
    /* Monotonic times are positive, so truncation is floor. */
    ts.tv_sec = (time_t)mono_target;
    double whole = (double)ts.tv_sec;
    ts.tv_nsec = (long)((mono_target - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Sleeps until mono_target or until stop; returns true if stopping. Caller holds s->mu. */
static bool wait_until(struct scheduler *s, double mono_target)
{
    struct timespec ts = abs_deadline(mono_target);
    while (!s->stopping && mono_now() < mono_target) {
        int rc = pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    return s->stopping;
}

static void run_collect_once(struct collector_run *r)
{
    if (atomic_exchange(&r->reload_requested, false) && r->ops->reload)
        r->ops->reload(r->state);

    struct expo w;
    expo_init(&w, SCHED_FRAGMENT_MAX);
    double t0 = mono_now();
    atomic_store(&r->busy_since_us, (uint64_t)(t0 * 1e6) | 1u); /* | 1: never 0 while busy */
    enum jt_err rc = r->ops->collect(r->state, &w);
    double t1 = mono_now();
    atomic_store(&r->busy_since_us, 0);
    struct buf text;
    buf_init(&text, SCHED_FRAGMENT_MAX + (1u << 20));
    expo_render(&w, &text);
    if (rc == JT_OK && w.err != JT_OK)
        rc = w.err;
    if (rc == JT_OK && text.err != JT_OK)
        rc = text.err;
    expo_free(&w);
    char *status = NULL;
    size_t status_len = 0;
    if (r->ops->status) {
        struct expo sw;
        expo_init(&sw, SCHED_FRAGMENT_MAX);
        r->ops->status(r->state, &sw);
        struct buf st;
        buf_init(&st, SCHED_FRAGMENT_MAX + (1u << 20));
        if (expo_render(&sw, &st) == JT_OK && sw.err == JT_OK)
            status = buf_detach(&st, &status_len);
        buf_free(&st);
        expo_free(&sw);
    }
    uint64_t suppressed = 0;
    if (rc != JT_OK && ratelimit_allow(&r->rl_fail, 60, &suppressed))
        log_warn("collector %s: collection failed: %s (%llu similar failures not logged)", r->ops->name,
                 jt_strerror(rc), (unsigned long long)suppressed);
    /* A failed collection publishes nothing of what it wrote: the previous good fragment stays only
     * while it is fresh (assemble drops it after stale_after), next to success 0. */
    size_t len = 0;
    char *frag = rc == JT_OK ? buf_detach(&text, &len) : NULL;
    buf_free(&text);

    pthread_mutex_lock(&r->mu);
    if (rc == JT_OK) {
        free(r->fragment);
        r->fragment = frag;
        r->fragment_len = len;
        r->fragment_mono = t1;
    }
    free(r->status);
    r->status = status;
    r->status_len = status_len;
    r->have_result = true;
    r->last_ok = rc == JT_OK;
    r->last_err = rc;
    r->last_duration = t1 - t0;
    r->last_end_mono = t1;
    r->last_end_wall = wall_now();
    r->collections++;
    pthread_mutex_unlock(&r->mu);
}

static void *collector_thread(void *arg)
{
    struct collector_run *r = arg;
    struct scheduler *s = r->sched;
    double interval = r->interval;
    double next = mono_now();
    for (;;) {
        run_collect_once(r);
        pthread_mutex_lock(&s->mu);
        s->dirty = true;
        pthread_cond_broadcast(&s->cond);
        double now = mono_now();
        next += interval;
        if (next < now) /* we overran (slow or hung source): skip the missed ticks */
            next = now + interval;
        bool stop = wait_until(s, next);
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
    }
    atomic_store(&r->done, true);
    return NULL;
}

/* Builds one snapshot from the runs' latest results. */
static void note_change(struct scheduler *s, double when, double now)
{
    if (when > now && when < s->next_change)
        s->next_change = when;
}

/* Builds one snapshot from the runs' latest results, and sets s->next_change to the earliest time a
 * result turns stale (the snapshot must then be rebuilt even if no collector finishes). */
static void assemble(struct scheduler *s)
{
    double now = mono_now();
    s->next_change = now + 3600;
    struct buf body, health;
    buf_init(&body, (size_t)s->nruns * (SCHED_FRAGMENT_MAX + (1u << 20)) + (1u << 20));
    buf_init(&health, 64u << 10);
    bool healthy = true;

    /* Until every collector has finished once, publish nothing (scrapes get 503) rather than a first
     * snapshot missing whole collectors; but not for longer than the staleness limit, so a source
     * hung from the start still shows up as a failed collector. */
    bool all_reported = true;
    for (size_t i = 0; i < s->nruns; i++) {
        pthread_mutex_lock(&s->runs[i].mu);
        all_reported &= s->runs[i].have_result;
        pthread_mutex_unlock(&s->runs[i].mu);
    }
    if (!all_reported && now - s->start_mono < s->max_stale_after) {
        note_change(s, s->start_mono + s->max_stale_after, now);
        buf_free(&body);
        buf_free(&health);
        return;
    }

    /* The collectors' fragments (over a megabyte with 1,000 job cgroups, rebuilt every second when the GPU
     * collector finishes) are copied once, straight into a body sized from the last one; the scheduler's
     * own families, known only once every collector has been looked at, follow them. */
    if (s->last_body_len < body.max / 2)
        buf_reserve(&body, s->last_body_len + (64u << 10));
    buf_puts(&body, "# HELP jobtel_build_info A metric with a constant '1' value labeled by version of jobtel.\n"
                    "# TYPE jobtel_build_info gauge\n");
    buf_printf(&body, "jobtel_build_info{version=\"%s\"} 1\n", JOBTEL_VERSION);

    struct buf success, duration, stamp, count;
    buf_init(&success, 1u << 20);
    buf_init(&duration, 1u << 20);
    buf_init(&stamp, 1u << 20);
    buf_init(&count, 1u << 20);
    for (size_t i = 0; i < s->nruns; i++) {
        struct collector_run *r = &s->runs[i];
        const char *name = r->ops->name;
        pthread_mutex_lock(&r->mu);
        double age = r->have_result ? now - r->last_end_mono : -1;
        bool stale = !r->have_result || age > r->stale_after;
        if (r->have_result) {
            note_change(s, r->last_end_mono + r->stale_after, now);
            note_change(s, r->fragment_mono + r->stale_after, now);
        }
        bool ok = r->have_result && r->last_ok && !stale;
        if (r->have_result) {
            buf_printf(&duration, "jobtel_scrape_collector_duration_seconds{collector=\"%s\"} %.6f\n", name,
                       r->last_duration);
            buf_printf(&stamp, "jobtel_last_collection_timestamp_seconds{collector=\"%s\"} %.3f\n", name,
                       r->last_end_wall);
            buf_printf(&count, "jobtel_scrape_collector_collections_total{collector=\"%s\"} %llu\n", name,
                       (unsigned long long)r->collections);
        }
        buf_printf(&success, "jobtel_scrape_collector_success{collector=\"%s\"} %d\n", name, ok ? 1 : 0);
        if (!stale && r->fragment && now - r->fragment_mono <= r->stale_after)
            buf_append(&body, r->fragment, r->fragment_len);
        if (!stale && r->status)
            buf_append(&body, r->status, r->status_len);
        if (!r->have_result) {
            healthy = false;
            buf_printf(&health, "collector %s: no collection has finished yet\n", name);
        } else if (stale) {
            healthy = false;
            buf_printf(&health, "collector %s: stale, last collection finished %.1f s ago (limit %.1f s); "
                                "its source may be hung\n", name, age, r->stale_after);
        } else if (!r->last_ok) {
            buf_printf(&health, "collector %s: last collection failed: %s\n", name, jt_strerror(r->last_err));
        } else {
            buf_printf(&health, "collector %s: ok (%.1f ms, %.1f s ago)\n", name, r->last_duration * 1e3, age);
        }
        pthread_mutex_unlock(&r->mu);
    }
    buf_puts(&body, "# HELP jobtel_scrape_collector_success Whether the collector's last collection succeeded and is fresh (1) or not (0).\n"
                    "# TYPE jobtel_scrape_collector_success gauge\n");
    buf_append(&body, success.data, success.len);
    if (duration.len) {
        buf_puts(&body, "# HELP jobtel_scrape_collector_duration_seconds How long the collector's last collection took, in seconds.\n"
                        "# TYPE jobtel_scrape_collector_duration_seconds gauge\n");
        buf_append(&body, duration.data, duration.len);
        buf_puts(&body, "# HELP jobtel_last_collection_timestamp_seconds When the collector's last collection finished, in seconds since the epoch.\n"
                        "# TYPE jobtel_last_collection_timestamp_seconds gauge\n");
        buf_append(&body, stamp.data, stamp.len);
        buf_puts(&body, "# HELP jobtel_scrape_collector_collections_total Collections the collector has finished, failed ones included.\n"
                        "# TYPE jobtel_scrape_collector_collections_total counter\n");
        buf_append(&body, count.data, count.len);
    }
    buf_free(&success);
    buf_free(&duration);
    buf_free(&stamp);
    buf_free(&count);

    if (body.err != JT_OK) {
        log_error("assembling the snapshot failed: %s; serving the previous one", jt_strerror(body.err));
        buf_free(&body);
        buf_free(&health);
        return;
    }
    size_t blen = 0, hlen = 0;
    char *b = buf_detach(&body, &blen);
    s->last_body_len = blen;
    char *h = buf_detach(&health, &hlen);
    struct snapshot *snap = snapshot_new(b, blen, h, healthy);
    if (snap)
        snapshot_slot_publish(s->out, snap);
}

/* Rebuilds the snapshot when a collector has finished, and when a result turns stale (so staleness
 * shows even when every collector is stuck), and at no other time: with 1,000 job cgroups a snapshot
 * is over a megabyte, and rebuilding it on a timer was most of the idle daemon's CPU. Collectors that
 * finish within ASSEMBLE_COALESCE_S of each other (they share a cadence) give one rebuild. The
 * assembler wakes at least every ASSEMBLE_BEAT_S to show it is alive (scheduler_alive). */
#define ASSEMBLE_COALESCE_S 0.02
#define ASSEMBLE_BEAT_S 1.0
static void *assembler_thread(void *arg)
{
    struct scheduler *s = arg;
    bool build = true;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        if (build) {
            if (s->dirty) /* let the other collectors of this tick finish too */
                wait_until(s, mono_now() + ASSEMBLE_COALESCE_S);
            s->dirty = false;
            pthread_mutex_unlock(&s->mu);
            assemble(s);
            pthread_mutex_lock(&s->mu);
        }
        double now = mono_now();
        atomic_store(&s->assembler_beat_us, (uint64_t)(now * 1e6));
        if (s->stopping)
            break;
        if (!s->dirty) {
            double wake = now + ASSEMBLE_BEAT_S;
            if (s->next_change < wake)
                wake = s->next_change + 0.001;
            struct timespec ts = abs_deadline(wake);
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        }
        build = s->dirty || mono_now() >= s->next_change;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Start-up only: waits (at most the collector's staleness limit) for an attribution stage's first
 * result, so that the GPU collector's first rendering already has its table. */
static void await_first_result(struct collector_run *r)
{
    double deadline = mono_now() + r->stale_after;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bool have = r->have_result;
        pthread_mutex_unlock(&r->mu);
        if (have || mono_now() >= deadline)
            return;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static bool collector_enabled(const struct exporter_config *cfg, size_t idx)
{
    int v = idx < CONFIG_MAX_COLLECTORS ? cfg->collector_enabled[idx] : -1;
    return v < 0 ? collector_table[idx]->enabled_by_default : v == 1;
}

/* Creates a thread whose clock-based waits use CLOCK_MONOTONIC. */
static int cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

enum jt_err scheduler_start(const struct exporter_config *cfg, struct snapshot_slot *out, struct scheduler **sched)
{
    *sched = NULL;
    struct scheduler *s = calloc(1, sizeof *s);
    size_t n = collector_count();
    if (!s)
        return JT_ERR_NOMEM;
    s->runs = calloc(n ? n : 1, sizeof *s->runs);
    if (!s->runs) {
        free(s);
        return JT_ERR_NOMEM;
    }
    s->cfg = cfg;
    s->out = out;
    s->start_mono = mono_now();
    atomic_store(&s->assembler_beat_us, (uint64_t)(s->start_mono * 1e6));
    pthread_mutex_init(&s->mu, NULL);
    cond_init_monotonic(&s->cond);

    enum jt_err rc = JT_OK;
    for (size_t i = 0; i < n; i++) {
        if (!collector_enabled(cfg, i))
            continue;
        struct collector_run *r = &s->runs[s->nruns];
        r->ops = collector_table[i];
        r->sched = s;
        r->interval = config_interval(cfg, i);
        r->stale_after = config_stale_after(cfg, i);
        if (s->nruns == 0 || r->interval < s->min_interval)
            s->min_interval = r->interval;
        if (r->stale_after > s->max_stale_after)
            s->max_stale_after = r->stale_after;
        pthread_mutex_init(&r->mu, NULL);
        rc = r->ops->init(cfg, &r->state);
        if (rc != JT_OK) {
            log_error("collector %s failed to start: %s", r->ops->name, jt_strerror(rc));
            pthread_mutex_destroy(&r->mu);
            break;
        }
        s->nruns++;
        log_info("collector %s enabled (every %g s)", r->ops->name, r->interval);
    }
    if (rc != JT_OK) {
        scheduler_stop(s, 0);
        return rc;
    }
    for (size_t i = 0; i < s->nruns; i++) {
        struct collector_run *r = &s->runs[i];
        if (pthread_create(&r->thread, NULL, collector_thread, r) != 0) {
            log_error("cannot start a thread for collector %s", r->ops->name);
            scheduler_stop(s, 1);
            return JT_ERR_NOMEM;
        }
        r->thread_started = true;
        if (r->ops->feeds_gpu)
            await_first_result(r);
    }
    if (pthread_create(&s->assembler, NULL, assembler_thread, s) != 0) {
        scheduler_stop(s, 1);
        return JT_ERR_NOMEM;
    }
    s->assembler_started = true;
    *sched = s;
    return JT_OK;
}

bool scheduler_alive(struct scheduler *s, double max_age_s, double *age_s)
{
    double age = s ? mono_now() - (double)atomic_load(&s->assembler_beat_us) / 1e6 : 0;
    if (age_s)
        *age_s = age;
    return s && age <= max_age_s;
}

bool scheduler_wedged(struct scheduler *s, double limit_s, const char **name, double *age_s)
{
    if (!s)
        return false;
    double now = mono_now();
    for (size_t i = 0; i < s->nruns; i++) {
        struct collector_run *r = &s->runs[i];
        uint64_t since = atomic_load(&r->busy_since_us);
        if (!since)
            continue;
        double age = now - (double)since / 1e6;
        if (age > limit_s) {
            if (name)
                *name = r->ops->name;
            if (age_s)
                *age_s = age;
            return true;
        }
    }
    return false;
}

void scheduler_request_reload(struct scheduler *s)
{
    for (size_t i = 0; i < s->nruns; i++)
        atomic_store(&s->runs[i].reload_requested, true);
}

bool scheduler_stop(struct scheduler *s, double grace_s)
{
    if (!s)
        return true;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (s->assembler_started)
        pthread_join(s->assembler, NULL);

    double deadline = mono_now() + grace_s;
    bool abandoned = false;
    for (size_t i = 0; i < s->nruns; i++) {
        struct collector_run *r = &s->runs[i];
        if (!r->thread_started)
            continue;
        while (!atomic_load(&r->done) && mono_now() < deadline) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (!atomic_load(&r->done)) {
            log_warn("collector %s is stuck in its source; exiting without waiting for it", r->ops->name);
            pthread_detach(r->thread);
            r->thread_started = false;
            abandoned = true;
            continue;
        }
        pthread_join(r->thread, NULL);
        r->thread_started = false;
    }
    if (abandoned)
        return false; /* a stuck thread still uses its state and the scheduler: leave them to process exit */
    for (size_t i = 0; i < s->nruns; i++) {
        struct collector_run *r = &s->runs[i];
        r->ops->shutdown(r->state);
        free(r->fragment);
        free(r->status);
        pthread_mutex_destroy(&r->mu);
    }
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s->runs);
    free(s);
    return true;
}
