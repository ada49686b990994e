/* test_scheduler.c - the scheduler against collectors of our own: a failed collection publishes
 * nothing it wrote (the last good values stay only while fresh), each collector runs at its own
 * interval, and staleness is judged against that interval.
 *
 * This program defines collector_table itself, so the registry (and the real collectors) are not
 * linked in. The fake collectors never assert: cmocka asserts only on the test's own thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

#include <cmocka.h>

#include "collectors/collector.h"
#include "exporter/config.h"
#include "exporter/scheduler.h"
#include "exporter/snapshot.h"

struct fake {
    atomic_int fail;      /* next collections fail after writing a partial fragment */
    atomic_int value;     /* value of fake_metric */
    atomic_int hang;      /* collections block until cleared (a wedged driver call) */
    atomic_uint collections;
    _Atomic double last_good_end;
};

static struct fake fakes[2];

static enum jt_err fake_init(const struct exporter_config *cfg, void **state, struct fake *f)
{
    (void)cfg;
    *state = f;
    return JT_OK;
}
static enum jt_err fast_init(const struct exporter_config *cfg, void **state) { return fake_init(cfg, state, &fakes[0]); }
static enum jt_err slow_init(const struct exporter_config *cfg, void **state) { return fake_init(cfg, state, &fakes[1]); }

static enum jt_err fake_collect(void *state, struct expo *w)
{
    struct fake *f = state;
    atomic_fetch_add(&f->collections, 1);
    while (atomic_load(&f->hang)) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    const char *name = f == &fakes[0] ? "fast_metric" : "slow_metric";
    if (atomic_load(&f->fail)) {
        /* Half a collection, then the source fails. */
        expo_sample(expo_family(w, name, METRIC_GAUGE, "A value."), NULL, -1);
        expo_sample(expo_family(w, "partial_metric", METRIC_GAUGE, "Written before the failure."), NULL, 1);
        return JT_ERR_IO;
    }
    expo_sample(expo_family(w, name, METRIC_GAUGE, "A value."), NULL, atomic_load(&f->value));
    atomic_store(&f->last_good_end, mono_now());
    return JT_OK;
}

static void fake_shutdown(void *state) { (void)state; }

static const struct collector_ops fast_ops = {
    .name = "fast", .help = "a fake", .enabled_by_default = true, .default_interval = 0,
    .init = fast_init, .collect = fake_collect, .shutdown = fake_shutdown,
};
static const struct collector_ops slow_ops = {
    .name = "slow", .help = "a fake with its own cadence", .enabled_by_default = true, .default_interval = 0.6,
    .init = slow_init, .collect = fake_collect, .shutdown = fake_shutdown,
};

const struct collector_ops *const collector_table[] = {&fast_ops, &slow_ops, NULL};

size_t collector_count(void)
{
    return 2;
}

int collector_find(const char *name)
{
    for (size_t i = 0; collector_table[i]; i++) {
        if (strcmp(collector_table[i]->name, name) == 0)
            return (int)i;
    }
    return -1;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* The current snapshot's body as a string (caller frees), and when it was built. */
static char *body(struct snapshot_slot *slot, double *built)
{
    struct snapshot *s = snapshot_slot_get(slot);
    if (!s)
        return NULL;
    char *b = strndup(s->body ? s->body : "", s->len);
    if (built)
        *built = s->built_mono;
    snapshot_unref(s);
    return b;
}

/* Polls (deadline 20 s) until the snapshot contains `want`; returns the body (caller frees). */
static char *wait_body(struct snapshot_slot *slot, const char *want, double *built)
{
    double deadline = mono_now() + 20;
    while (mono_now() < deadline) {
        char *b = body(slot, built);
        if (b && strstr(b, want))
            return b;
        free(b);
        sleep_s(0.01);
    }
    fail_msg("snapshot never contained '%s'", want);
    return NULL;
}

static void test_config_interval_and_staleness_per_collector(void **state)
{
    (void)state;
    struct exporter_config cfg;
    config_defaults(&cfg);
    char *argv[] = {"exporter", "--collect.interval=200ms", "--collector.fast.interval", "100ms", NULL};
    bool exit_now;
    assert_int_equal(config_parse(&cfg, 4, argv, &exit_now), JT_OK);
    assert_true(config_interval(&cfg, 0) > 0.099 && config_interval(&cfg, 0) < 0.101);
    assert_true(config_interval(&cfg, 1) > 0.599 && config_interval(&cfg, 1) < 0.601); /* its own default */
    /* Default stale-after: max(3 intervals, 3 s); scaled by 0.6/0.2 for the slow one, never below for the fast. */
    assert_true(config_stale_after(&cfg, 0) > 2.99 && config_stale_after(&cfg, 0) < 3.01);
    assert_true(config_stale_after(&cfg, 1) > 8.99 && config_stale_after(&cfg, 1) < 9.01);

    config_defaults(&cfg);
    char *argv2[] = {"exporter", "--collector.slow.interval=2s", NULL};
    assert_int_equal(config_parse(&cfg, 2, argv2, &exit_now), JT_OK);
    assert_true(config_interval(&cfg, 1) > 1.99 && config_interval(&cfg, 1) < 2.01);
    assert_true(config_interval(&cfg, 0) > 0.99 && config_interval(&cfg, 0) < 1.01);

    /* issue 9 item 10: a stale-after below the interval gave a permanent 503; now a usage error. */
    char *bad[][3] = {
        {"exporter", "--collect.interval=2s", "--collect.stale-after=1s"},
        {"exporter", "--collect.interval=2s", "--collect.stale-after=3s"},
        {"exporter", "--collector.fast.interval=0", "--collect.interval=1s"},
        {"exporter", "--collector.fast.interval=abc", "--collect.interval=1s"},
        {"exporter", "--collector.nosuch.interval=1s", "--collect.interval=1s"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_defaults(&cfg);
        assert_int_equal(config_parse(&cfg, 3, bad[i], &exit_now), JT_ERR_USAGE);
    }
    config_defaults(&cfg);
    char *ok[] = {"exporter", "--collect.interval=2s", "--collect.stale-after=4s", NULL};
    assert_int_equal(config_parse(&cfg, 3, ok, &exit_now), JT_OK);
}

/* issue 9 item 4: a failed collection's partial fragment is never served; the last good values stay
 * while they are fresh and are then dropped, with success 0 throughout. */
static void test_failed_collection_publishes_nothing_it_wrote(void **state)
{
    (void)state;
    memset(fakes, 0, sizeof fakes);
    atomic_store(&fakes[0].value, 7);
    atomic_store(&fakes[1].value, 8);
    struct exporter_config cfg;
    config_defaults(&cfg);
    char *argv[] = {"exporter", "--collect.interval=50ms", "--collect.stale-after=1s", NULL};
    bool exit_now;
    assert_int_equal(config_parse(&cfg, 3, argv, &exit_now), JT_OK);
    struct snapshot_slot slot;
    snapshot_slot_init(&slot);
    struct scheduler *sched = NULL;
    assert_int_equal(scheduler_start(&cfg, &slot, &sched), JT_OK);

    free(wait_body(&slot, "fast_metric 7\n", NULL));
    free(wait_body(&slot, "jobtel_scrape_collector_success{collector=\"fast\"} 1\n", NULL));
    atomic_store(&fakes[0].fail, 1);
    double built = 0;
    char *b = wait_body(&slot, "jobtel_scrape_collector_success{collector=\"fast\"} 0\n", &built);
    assert_null(strstr(b, "partial_metric"));
    assert_null(strstr(b, "fast_metric -1"));
    /* Kept while fresh: judged against when the last good collection ended, not the test's clock. */
    if (built - atomic_load(&fakes[0].last_good_end) < 1.0 - 0.1)
        assert_non_null(strstr(b, "fast_metric 7\n"));
    assert_non_null(strstr(b, "slow_metric 8\n")); /* the other collector is untouched */
    free(b);
    /* Then dropped: success 0 and no fast_metric at all, never the partial values. */
    double deadline = mono_now() + 20;
    bool dropped = false;
    while (!dropped && mono_now() < deadline) {
        b = body(&slot, &built);
        assert_non_null(b);
        assert_null(strstr(b, "partial_metric"));
        assert_null(strstr(b, "fast_metric -1"));
        dropped = strstr(b, "fast_metric") == NULL;
        if (dropped) {
            assert_true(built - atomic_load(&fakes[0].last_good_end) > 1.0);
            assert_non_null(strstr(b, "jobtel_scrape_collector_success{collector=\"fast\"} 0\n"));
        }
        free(b);
        sleep_s(0.01);
    }
    assert_true(dropped);
    /* Recovery. */
    atomic_store(&fakes[0].value, 9);
    atomic_store(&fakes[0].fail, 0);
    free(wait_body(&slot, "fast_metric 9\n", NULL));

    /* Cadence: the slow collector (0.6 s default, against 50 ms) ran far fewer times. Compared with
     * each other, not with the clock. */
    unsigned fast = atomic_load(&fakes[0].collections), slow = atomic_load(&fakes[1].collections);
    assert_true(slow >= 1);
    assert_true(fast > 3 * slow);
    assert_true(scheduler_stop(sched, 2));
    snapshot_slot_destroy(&slot);
}

/* jobtel_scrape_collector_collections_total counts every finished collection, failed ones included
 * (the soak test counts cycles with it). The fast collector fails, then blocks in its next call: the
 * counter then settles at the calls the fake saw minus the one in progress. */
static void test_collections_counted(void **state)
{
    (void)state;
    memset(fakes, 0, sizeof fakes);
    struct exporter_config cfg;
    config_defaults(&cfg);
    char *argv[] = {"exporter", "--collect.interval=20ms", "--collect.stale-after=30s", NULL};
    bool exit_now;
    assert_int_equal(config_parse(&cfg, 3, argv, &exit_now), JT_OK);
    struct snapshot_slot slot;
    snapshot_slot_init(&slot);
    struct scheduler *sched = NULL;
    atomic_store(&fakes[0].fail, 1);
    assert_int_equal(scheduler_start(&cfg, &slot, &sched), JT_OK);
    free(wait_body(&slot, "jobtel_scrape_collector_collections_total{collector=\"slow\"} ", NULL));
    double deadline = mono_now() + 20;
    while (atomic_load(&fakes[0].collections) < 5 && mono_now() < deadline)
        sleep_s(0.01);
    assert_true(atomic_load(&fakes[0].collections) >= 5);
    atomic_store(&fakes[0].hang, 1);
    bool seen = false;
    deadline = mono_now() + 20;
    while (!seen && mono_now() < deadline) {
        unsigned started = atomic_load(&fakes[0].collections);
        char want[128];
        snprintf(want, sizeof want, "jobtel_scrape_collector_collections_total{collector=\"fast\"} %u\n", started - 1);
        char *b = body(&slot, NULL);
        seen = b && strstr(b, want);
        free(b);
        if (!seen)
            sleep_s(0.02);
    }
    assert_true(seen);
    atomic_store(&fakes[0].hang, 0);
    assert_true(scheduler_stop(sched, 2));
    snapshot_slot_destroy(&slot);
}

/* Every collector stuck in a call: nothing finishes, yet the snapshot turns to success 0 once their
 * results pass the staleness limit (the assembler wakes for that deadline, not only when a collector
 * finishes). A call stuck past the wedge limit is reported by scheduler_wedged (the systemd watchdog
 * stops then), while the daemon's own liveness stays true. */
static void test_all_collectors_stuck_then_wedged(void **state)
{
    (void)state;
    memset(fakes, 0, sizeof fakes);
    struct exporter_config cfg;
    config_defaults(&cfg);
    char *argv[] = {"exporter", "--collect.interval=50ms", "--collect.stale-after=500ms",
                    "--collector.slow.interval=50ms", NULL};
    bool exit_now;
    assert_int_equal(config_parse(&cfg, 4, argv, &exit_now), JT_OK);
    struct snapshot_slot slot;
    snapshot_slot_init(&slot);
    struct scheduler *sched = NULL;
    assert_int_equal(scheduler_start(&cfg, &slot, &sched), JT_OK);
    free(wait_body(&slot, "jobtel_scrape_collector_success{collector=\"fast\"} 1\n", NULL));
    free(wait_body(&slot, "jobtel_scrape_collector_success{collector=\"slow\"} 1\n", NULL));
    assert_false(scheduler_wedged(sched, 60, NULL, NULL));

    atomic_store(&fakes[0].hang, 1);
    atomic_store(&fakes[1].hang, 1);
    char *b = wait_body(&slot, "jobtel_scrape_collector_success{collector=\"fast\"} 0\n", NULL);
    free(b);
    b = wait_body(&slot, "jobtel_scrape_collector_success{collector=\"slow\"} 0\n", NULL);
    assert_null(strstr(b, "fast_metric"));
    assert_null(strstr(b, "slow_metric"));
    free(b);

    /* Wedged: in one call for longer than the limit given (0.3 s here; the exporter uses 60 s). */
    const char *name = NULL;
    double age = 0;
    double deadline = mono_now() + 20;
    while (!scheduler_wedged(sched, 0.3, &name, &age) && mono_now() < deadline)
        sleep_s(0.01);
    assert_true(scheduler_wedged(sched, 0.3, &name, &age));
    assert_non_null(name);
    assert_true(strcmp(name, "fast") == 0 || strcmp(name, "slow") == 0);
    assert_true(age > 0.3);
    assert_false(scheduler_wedged(sched, 3600, NULL, NULL));
    assert_true(scheduler_alive(sched, 5, NULL)); /* the assembler itself keeps its beat */

    atomic_store(&fakes[0].hang, 0);
    atomic_store(&fakes[1].hang, 0);
    free(wait_body(&slot, "jobtel_scrape_collector_success{collector=\"fast\"} 1\n", NULL));
    deadline = mono_now() + 20;
    while (scheduler_wedged(sched, 0.3, NULL, NULL) && mono_now() < deadline)
        sleep_s(0.01);
    assert_false(scheduler_wedged(sched, 0.3, NULL, NULL));
    assert_true(scheduler_stop(sched, 2));
    snapshot_slot_destroy(&slot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_interval_and_staleness_per_collector),
        cmocka_unit_test(test_failed_collection_publishes_nothing_it_wrote),
        cmocka_unit_test(test_all_collectors_stuck_then_wedged),
        cmocka_unit_test(test_collections_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
