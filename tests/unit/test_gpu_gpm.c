/* test_gpu_gpm.c - the GPM producer (collectors/gpu_gpm.c) against the fake NVML and its GPM scenario.
 *
 * Each test runs whole collections (gpu_nvml_read, then gpu_gpm_read) and checks the readings against what
 * the scenario defines over the window the fake recorded: FAKE_NVML_GPM_LOG has the scenario time of every
 * sample call, so an average over a step timeline is checked against the samples really taken, never against
 * what the clock should have allowed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "collectors/gpu_gpm.h"
#include "collectors/gpu_nvml.h"
#include "common/log.h"
#include "exporter/config.h"

struct ctx {
    struct exporter_config cfg;
    struct gpu_nvml *nvml;
    struct gpu_gpm *gpm;
    struct gpu_collection c;
    char dir[64];
    char scenario[128];
    char log[128];
};

#define NEED (READINGS_GPM | READING_BIT(R_FB_USED) | READING_BIT(R_FB_TOTAL))

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

/* Writes the shipped gpm.json to the test's directory, with `extra` (top-level keys, each followed by a comma)
 * inserted after the opening brace. */
static void write_scenario(struct ctx *x, const char *extra)
{
    const char *fx = getenv("FIXTURES");
    assert_non_null(fx);
    char src[512];
    snprintf(src, sizeof src, "%s/../fake_nvml/scenarios/gpm.json", fx);
    char *text = slurp(src);
    assert_non_null(text);
    char *brace = strchr(text, '{');
    assert_non_null(brace);
    FILE *f = fopen(x->scenario, "w");
    assert_non_null(f);
    fprintf(f, "{%s%s", extra, brace + 1);
    fclose(f);
    free(text);
}

static void start(struct ctx *x, const char *extra)
{
    memset(x, 0, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/jobtel-gpm.XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->scenario, sizeof x->scenario, "%s/scenario.json", x->dir);
    snprintf(x->log, sizeof x->log, "%s/gpm.log", x->dir);
    write_scenario(x, extra);
    setenv("FAKE_NVML_SCENARIO", x->scenario, 1);
    setenv("FAKE_NVML_GPM_LOG", x->log, 1);
    x->cfg.nvml_library = getenv("FAKE_NVML_LIB");
    assert_non_null(x->cfg.nvml_library);
    x->nvml = gpu_nvml_new(&x->cfg);
    assert_non_null(x->nvml);
    x->gpm = gpu_gpm_new(x->nvml, (struct gpm_pause_fn){NULL, NULL});
    assert_non_null(x->gpm);
}

static void stop(struct ctx *x)
{
    gpu_gpm_free(x->gpm);
    gpu_nvml_free(x->nvml);
    gpu_collection_free(&x->c);
    unlink(x->scenario);
    unlink(x->log);
    rmdir(x->dir);
    unsetenv("FAKE_NVML_GPM_LOG");
}

/* One collection, at least the producer's minimum window after the previous one (a window, not a wait for
 * another thread). */
static void collect(struct ctx *x)
{
    static double last;
    double now = mono_now();
    if (last > 0 && now - last < 0.25) {
        double d = 0.25 - (now - last);
        struct timespec ts = {0, (long)(d * 1e9)};
        nanosleep(&ts, NULL);
    }
    gpu_nvml_read(x->nvml, NEED, &x->c);
    gpu_gpm_read(x->gpm, NEED, &x->c);
    last = mono_now();
}

static const struct gpu_entity *entity(const struct ctx *x, unsigned index, int mig_slot)
{
    for (size_t i = 0; i < x->c.n; i++)
        if (x->c.e[i].index == index && x->c.e[i].mig_slot == mig_slot)
            return &x->c.e[i];
    fail_msg("no entity %u/%d", index, mig_slot);
    return NULL;
}

/* The scenario times of the sample calls on (gpu, slot) that succeeded (ok) or all of them, in order. */
static size_t sample_times(const struct ctx *x, unsigned gpu, unsigned slot, bool ok_only, double *t, size_t max)
{
    FILE *f = fopen(x->log, "r");
    if (!f)
        return 0;
    size_t n = 0;
    unsigned g, s;
    double at;
    int r;
    while (n < max && fscanf(f, "%u %u %lf %d", &g, &s, &at, &r) == 4)
        if (g == gpu && s == slot && (!ok_only || r == 0))
            t[n++] = at;
    fclose(f);
    return n;
}

/* The mean of gpus[0]'s gpm_sm_util (20 until t = 30, then 80) over [a, b]. */
static double sm_mean(double a, double b)
{
    double lo = a < 30 ? (b < 30 ? b : 30) - a : 0;
    double hi = b > 30 ? b - (a > 30 ? a : 30) : 0;
    return (20 * lo + 80 * hi) / (b - a);
}

static void expect(const struct gpu_entity *e, enum gpu_reading r, double v)
{
    assert_true(reading_valid(&e->rd, r));
    if (e->rd.v[r] < v - 1e-9 || e->rd.v[r] > v + 1e-9)
        fail_msg("reading %d: %.9g, expected %.9g", (int)r, e->rd.v[r], v);
}

/* The values are the scenario's, in NVML's units (the renderers convert). The first collection has none. */
static void test_values_match_scenario(void **state)
{
    (void)state;
    struct ctx x;
    /* Scenario time 29.9 now: the window of the second collection straddles the step of gpm_sm_util at 30 s. */
    char epoch[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(epoch, sizeof epoch, "%.6f", (double)now.tv_sec + now.tv_nsec / 1e9 - 29.9);
    setenv("FAKE_NVML_START_EPOCH", epoch, 1);
    start(&x, "");
    collect(&x);
    for (size_t i = 0; i < x.c.n; i++)
        assert_int_equal(x.c.e[i].rd.valid & READINGS_GPM, 0); /* one sample: no window yet */
    collect(&x);
    const struct gpu_entity *g0 = entity(&x, 0, -1);
    expect(g0, R_GPM_GR_ACTIVE, 85);
    expect(g0, R_GPM_SM_OCCUPANCY, 40);
    expect(g0, R_GPM_INT_ACTIVE, 10);
    expect(g0, R_GPM_TENSOR_ACTIVE, 55);
    expect(g0, R_GPM_DRAM_ACTIVE, 33);
    expect(g0, R_GPM_FP64_ACTIVE, 1);
    expect(g0, R_GPM_FP32_ACTIVE, 20);
    expect(g0, R_GPM_FP16_ACTIVE, 12.5);
    expect(g0, R_GPM_PCIE_TX, 1500);
    expect(g0, R_GPM_PCIE_RX, 2500);
    expect(g0, R_GPM_NVLINK_TX, 300); /* TX is GPM id 61, RX 60: swapped ids would swap these */
    expect(g0, R_GPM_NVLINK_RX, 200);
    double t[8];
    assert_int_equal(sample_times(&x, 0, 0, true, t, 8), 2);
    double want = sm_mean(t[0], t[1]);
    /* The log keeps microseconds: allow for that rounding over a >= 0.2 s window. */
    assert_true(g0->rd.v[R_GPM_SM_ACTIVE] > want - 0.5 && g0->rd.v[R_GPM_SM_ACTIVE] < want + 0.5);
    assert_true(g0->rd.v[R_GPM_SM_ACTIVE] > 20 && g0->rd.v[R_GPM_SM_ACTIVE] < 80);
    /* An A100: no GPM, so no profiling reading at all, never a zero. */
    assert_int_equal(entity(&x, 2, -1)->rd.valid & READINGS_GPM, 0);
    /* A later collection: values keep coming. */
    collect(&x);
    expect(entity(&x, 0, -1), R_GPM_GR_ACTIVE, 85);
    stop(&x);
    unsetenv("FAKE_NVML_START_EPOCH");
}

/* MIG: each instance is sampled through its own handle and carries its own values; the whole GPU its own. */
static void test_mig_instances(void **state)
{
    (void)state;
    struct ctx x;
    start(&x, "");
    collect(&x);
    collect(&x);
    const struct gpu_entity *whole = entity(&x, 1, -1);
    const struct gpu_entity *big = entity(&x, 1, 0);
    const struct gpu_entity *small = entity(&x, 1, 1);
    expect(whole, R_GPM_GR_ACTIVE, 60);
    expect(whole, R_GPM_PCIE_TX, 64);
    expect(big, R_GPM_GR_ACTIVE, 90);
    expect(big, R_GPM_SM_ACTIVE, 70);
    expect(big, R_GPM_TENSOR_ACTIVE, 35);
    expect(big, R_GPM_DRAM_ACTIVE, 25);
    expect(small, R_GPM_GR_ACTIVE, 15);
    expect(small, R_GPM_SM_ACTIVE, 5);
    assert_false(reading_valid(&small->rd, R_GPM_TENSOR_ACTIVE)); /* the scenario sets none: absent */
    assert_false(reading_valid(&big->rd, R_GPM_PCIE_TX));
    double t[8];
    assert_int_equal(sample_times(&x, 1, 1, true, t, 8), 2); /* slot 0 is the fake's slot 1 */
    assert_int_equal(sample_times(&x, 1, 2, true, t, 8), 2);
    stop(&x);
}

/* A driver built with the oldest headers (NVML_GPM_METRIC_MAX 98) refuses a longer request: the producer must
 * keep numMetrics within it, and gets every value. */
static void test_oldest_metrics_array(void **state)
{
    (void)state;
    struct ctx x;
    start(&x, "\"gpm_metric_max\": 98,");
    collect(&x);
    collect(&x);
    const struct gpu_entity *g0 = entity(&x, 0, -1);
    expect(g0, R_GPM_GR_ACTIVE, 85);
    expect(g0, R_GPM_NVLINK_RX, 200);
    assert_int_equal(gpu_gpm_errors(x.gpm), 0);
    stop(&x);
}

/* NO_PERMISSION on one sample (DCGM#214: transient): that collection has no GPM value for the GPU (nothing
 * made up), the other GPUs keep theirs, and the next one has values again, averaged over the whole gap from the
 * last good sample. */
static void test_no_permission_on_one_sample(void **state)
{
    (void)state;
    struct ctx x;
    start(&x, "\"faults\": [{\"call\": \"nvmlGpmSampleGet\", \"gpu\": 0, \"return\": \"NO_PERMISSION\", "
              "\"skip\": 2, \"once\": true}],");
    collect(&x);
    collect(&x);
    expect(entity(&x, 0, -1), R_GPM_GR_ACTIVE, 85);
    collect(&x); /* the third sample of GPU 0 fails */
    assert_int_equal(entity(&x, 0, -1)->rd.valid & READINGS_GPM, 0);
    expect(entity(&x, 1, -1), R_GPM_GR_ACTIVE, 60);
    assert_int_equal(gpu_gpm_errors(x.gpm), 1);
    collect(&x); /* no gap beyond the failed sample */
    const struct gpu_entity *g0 = entity(&x, 0, -1);
    expect(g0, R_GPM_GR_ACTIVE, 85);
    expect(g0, R_GPM_PCIE_RX, 2500);
    double all[8], ok[8];
    assert_int_equal(sample_times(&x, 0, 0, false, all, 8), 4);
    assert_int_equal(sample_times(&x, 0, 0, true, ok, 8), 3);
    /* The value covers [second sample, fourth sample]: the baseline survived the failure. */
    double want = sm_mean(ok[1], ok[2]);
    assert_true(g0->rd.v[R_GPM_SM_ACTIVE] > want - 0.5 && g0->rd.v[R_GPM_SM_ACTIVE] < want + 0.5);
    stop(&x);
}

/* An R470 driver has no GPM entry points: no profiling readings, no failure, the other readings stay. */
static void test_driver_without_gpm(void **state)
{
    (void)state;
    struct ctx x;
    memset(&x, 0, sizeof x);
    const char *lib = getenv("FAKE_NVML_LIB");
    assert_non_null(lib);
    char r470[512];
    snprintf(r470, sizeof r470, "%.*s/r470/libnvidia-ml.so.1", (int)(strrchr(lib, '/') - lib), lib);
    snprintf(x.dir, sizeof x.dir, "/tmp/jobtel-gpm.XXXXXX");
    assert_non_null(mkdtemp(x.dir));
    snprintf(x.scenario, sizeof x.scenario, "%s/scenario.json", x.dir);
    snprintf(x.log, sizeof x.log, "%s/gpm.log", x.dir);
    write_scenario(&x, "\"driver_branch\": \"r470\",");
    setenv("FAKE_NVML_SCENARIO", x.scenario, 1);
    x.cfg.nvml_library = r470;
    x.nvml = gpu_nvml_new(&x.cfg);
    x.gpm = gpu_gpm_new(x.nvml, (struct gpm_pause_fn){NULL, NULL});
    collect(&x);
    collect(&x);
    assert_true(x.c.nvml_available);
    assert_int_equal(entity(&x, 0, -1)->rd.valid & READINGS_GPM, 0);
    assert_true(reading_valid(&entity(&x, 0, -1)->rd, R_FB_TOTAL));
    stop(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_match_scenario),
        cmocka_unit_test(test_mig_instances),
        cmocka_unit_test(test_oldest_metrics_array),
        cmocka_unit_test(test_no_permission_on_one_sample),
        cmocka_unit_test(test_driver_without_gpm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
