/* test_job_accounting.c - the per-job integrator (accounting/job_accounting.c): exact busy time of a
 * bursty job against Princeton's sampled average, energy from the counter and from power, shared-GPU
 * splits, gaps, lost GPUs, restart without double counting, hostile state files, bounded memory.
 *
 * Collections are driven by a scripted clock with jittered intervals (a loaded machine), never the
 * wall clock: the figures depend only on the script.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounting/job_accounting.h"
#include "exporter/expo.h"

/* ---- helpers ------------------------------------------------------------------------------------ */

/* A deterministic jitter in [lo, hi) (xorshift), so a "loaded machine" is the same on every run. */
static double jitter(uint64_t *s, double lo, double hi)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return lo + (hi - lo) * (double)(*s % 1000000) / 1e6;
}

static struct acct_record *rec(struct job_acct *a, const char *job, const char *gpu)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->rec[i].jobid, job) == 0 && strcmp(a->rec[i].gpu, gpu) == 0)
            return &a->rec[i];
    }
    return NULL;
}

/* One collection of one GPU holding `njobs` jobs. */
static void collect1(struct job_acct *a, double t, const struct acct_sample *s)
{
    job_acct_begin(a);
    job_acct_add(a, s, t, 1.7e9 + t);
    job_acct_end(a, t, 1.7e9 + t);
}

static const char *const job_a[] = {"101"};
static const char *const jobs_ab[] = {"101", "202"};

/* 100 % for 3 s, 0 % for 27 s, repeated: the bursty job. */
static double bursty(double t)
{
    return fmod(t, 30.0) < 3.0 ? 100.0 : 0.0;
}

/* ---- bursty job ----------------------------------------------------------------------------------- */

static void test_bursty_exact_vs_princeton(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 3600, 64);
    assert_non_null(a);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    double t = 0.37;
    /* 30 minutes of collections every ~1 s, 0.6 .. 1.6 s apart. The reading at a collection is the
     * GPU's utilization over the interval just ended (NVML's definition): the busy share of it. */
    double prev = t;
    struct acct_sample s = {.gpu = "0", .up = true, .has_util = true, .jobs = job_a, .njobs = 1};
    collect1(a, t, &s);
    while (t < 1800) {
        t += jitter(&seed, 0.6, 1.6);
        /* busy fraction of (prev, t] of the bursty timeline, in 1 ms steps */
        double busy = 0;
        int steps = 0;
        for (double x = prev; x < t; x += 0.001, steps++)
            busy += bursty(x);
        s.util_pct = steps ? busy / steps : 0;
        collect1(a, t, &s);
        prev = t;
    }
    struct acct_record *r = rec(a, "101", "0");
    assert_non_null(r);
    double exact = 100.0 * r->busy_s / r->allocated_s;
    /* Princeton: avg_over_time of the 30 s utilization gauge, for every scrape phase in 1 s steps. The
     * gauge a scrape reads is the latest 1 s sample: 100 if the scrape falls in a burst, else 0. */
    double worst = 0, worst_phase = 0, worst_val = 0;
    for (int phase = 0; phase < 30; phase++) {
        double sum = 0;
        int n = 0;
        for (double x = phase + 0.5; x < 1800; x += 30, n++)
            sum += bursty(x);
        double pr = sum / n;
        if (fabs(pr - 10.0) > worst) {
            worst = fabs(pr - 10.0);
            worst_phase = phase;
            worst_val = pr;
        }
    }
    printf("bursty job: jobtel exact %.2f %% (busy %.1f s / allocated %.1f s); Princeton avg_over_time %.1f %% at "
           "scrape phase %.0f s (off by %.1f pp)\n",
           exact, r->busy_s, r->allocated_s, worst_val, worst_phase, worst);
    assert_true(fabs(exact - 10.0) <= 1.0);
    assert_true(worst >= 10.0);
    job_acct_free(a);
}

/* ---- energy --------------------------------------------------------------------------------------- */

/* Power ramps 100 W -> 400 W over 600 s then holds 250 W for 600 s: integral 150 kJ + 150 kJ. */
static double power_w(double t)
{
    return t < 600 ? 100 + 300 * t / 600 : 250;
}

static double energy_integral_j(double t)
{
    if (t < 600)
        return 100 * t + 150 * t * t / 600;
    return 150000 + 250 * (t - 600);
}

static void run_energy(bool counter, double *got, double *want)
{
    struct job_acct *a = job_acct_new(NULL, 5, 3600, 64);
    assert_non_null(a);
    uint64_t seed = 42;
    double t = 0, t0 = 0;
    struct acct_sample s = {.gpu = "3", .up = true, .has_power = true, .has_energy = counter, .jobs = job_a, .njobs = 1};
    s.power_mw = power_w(t) * 1000;
    s.energy_mj = 5e10 + energy_integral_j(t) * 1000;
    collect1(a, t, &s);
    while (t < 1200) {
        t += jitter(&seed, 0.5, 1.5);
        s.power_mw = power_w(t) * 1000;
        s.energy_mj = 5e10 + energy_integral_j(t) * 1000;
        collect1(a, t, &s);
    }
    *got = rec(a, "101", "3")->energy_j;
    *want = energy_integral_j(t) - energy_integral_j(t0);
    job_acct_free(a);
}

static void test_energy_counter_and_power_fallback(void **state)
{
    (void)state;
    double got, want;
    run_energy(true, &got, &want);
    printf("energy from the counter: %.1f J, true %.1f J\n", got, want);
    assert_true(fabs(got - want) <= 0.01 * want);
    assert_true(fabs(got - want) <= 1e-3); /* counter deltas telescope: exact */
    run_energy(false, &got, &want);
    printf("energy from power x time: %.1f J, true %.1f J (%.3f %%)\n", got, want, 100 * (got - want) / want);
    assert_true(fabs(got - want) <= 0.01 * want);
}

static void test_energy_counter_reset_uses_power(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 3600, 64);
    struct acct_sample s = {.gpu = "0", .up = true, .has_power = true, .has_energy = true, .jobs = job_a, .njobs = 1};
    s.power_mw = 200000;
    s.energy_mj = 9e9;
    collect1(a, 0, &s);
    s.energy_mj = 9e9 + 200000; /* 200 J in 1 s */
    collect1(a, 1, &s);
    s.energy_mj = 1000; /* driver reloaded: the counter starts over */
    collect1(a, 2, &s);
    s.energy_mj = 1000 + 200000;
    collect1(a, 3, &s);
    assert_true(fabs(rec(a, "101", "0")->energy_j - 600) < 1e-6);
    job_acct_free(a);
}

/* ---- shared GPU ---------------------------------------------------------------------------------- */

static void test_shared_gpu_split(void **state)
{
    (void)state;
    /* Without process utilization: even. */
    struct job_acct *a = job_acct_new(NULL, 5, 3600, 64);
    struct acct_sample s = {.gpu = "1", .up = true, .has_util = true, .has_energy = true, .jobs = jobs_ab, .njobs = 2};
    s.util_pct = 80;
    for (int i = 0; i <= 100; i++) {
        s.energy_mj = 1e6 + i * 300000.0; /* 300 W */
        collect1(a, i, &s);
    }
    struct acct_record *ra = rec(a, "101", "1"), *rb = rec(a, "202", "1");
    assert_true(fabs(ra->allocated_s - 100) < 1e-9 && fabs(rb->allocated_s - 100) < 1e-9);
    assert_true(fabs(ra->busy_s - 40) < 1e-9 && fabs(rb->busy_s - 40) < 1e-9);
    assert_true(fabs(ra->energy_j - 15000) < 1e-6 && fabs(rb->energy_j - 15000) < 1e-6);
    job_acct_free(a);
    /* With process utilization 60 % and 20 %: 3:1. */
    a = job_acct_new(NULL, 5, 3600, 64);
    double w[] = {60, 20};
    s.weights = w;
    for (int i = 0; i <= 100; i++) {
        s.energy_mj = 1e6 + i * 300000.0;
        collect1(a, i, &s);
    }
    ra = rec(a, "101", "1");
    rb = rec(a, "202", "1");
    assert_true(fabs(ra->busy_s - 60) < 1e-9 && fabs(rb->busy_s - 20) < 1e-9);
    assert_true(fabs(ra->energy_j - 22500) < 1e-6 && fabs(rb->energy_j - 7500) < 1e-6);
    assert_true(fabs(ra->busy_s + rb->busy_s - 80) < 1e-9); /* the GPU's busy time, no more */
    job_acct_free(a);
    /* Processes all idle: nothing tells the jobs apart, even split. */
    double z[] = {0, 0};
    assert_true(fabs(acct_share(z, 2, 0) - 0.5) < 1e-12);
    assert_true(fabs(acct_share(NULL, 4, 3) - 0.25) < 1e-12);
}

/* ---- gaps and lost GPUs ------------------------------------------------------------------------- */

static void test_gap_is_not_busy(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 3600, 64);
    struct acct_sample s = {.gpu = "0", .up = true, .has_util = true, .has_power = true, .jobs = job_a, .njobs = 1};
    s.util_pct = 100;
    s.power_mw = 100000;
    for (int i = 0; i <= 10; i++)
        collect1(a, i, &s);
    /* missed collections: the next one comes 60 s later */
    collect1(a, 70, &s);
    collect1(a, 71, &s);
    /* lost GPU for two collections */
    s.up = false;
    collect1(a, 72, &s);
    collect1(a, 73, &s);
    s.up = true;
    collect1(a, 74, &s);
    collect1(a, 75, &s);
    struct acct_record *r = rec(a, "101", "0");
    assert_true(fabs(r->allocated_s - 12) < 1e-9);
    assert_true(fabs(r->busy_s - 12) < 1e-9);
    assert_true(fabs(r->energy_j - 1200) < 1e-9);
    assert_int_equal(a->gaps, 1);
    /* invalid readings feed nothing */
    struct job_acct *b = job_acct_new(NULL, 5, 3600, 64);
    struct acct_sample u = {.gpu = "0", .up = true, .jobs = job_a, .njobs = 1};
    collect1(b, 0, &u);
    collect1(b, 1, &u);
    struct expo w;
    expo_init(&w, 1 << 20);
    job_acct_render(b, &w, NULL, 1.7e9 + 1);
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(expo_render(&w, &out), JT_OK);
    assert_non_null(strstr(out.data, "jobtel_job_gpu_allocated_seconds_total{jobid=\"101\",gpu=\"0\"} 1\n"));
    assert_null(strstr(out.data, "busy_seconds_total{"));
    assert_null(strstr(out.data, "energy_joules_total{"));
    buf_free(&out);
    expo_free(&w);
    job_acct_free(a);
    job_acct_free(b);
}

/* ---- job end, retention, bounded memory --------------------------------------------------------- */

static void test_retention_and_eviction(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 100, 3);
    const char *ids[] = {"1", "2", "3", "4", "5"};
    /* five jobs one after the other on GPU 0, each 10 s */
    for (int j = 0; j < 5; j++) {
        const char *one[] = {ids[j]};
        struct acct_sample s = {.gpu = "0", .up = true, .jobs = one, .njobs = 1};
        for (int i = 0; i < 10; i++)
            collect1(a, j * 10 + i, &s);
    }
    assert_true(a->n <= 3);
    assert_int_equal(a->evicted, 2);
    assert_null(rec(a, "1", "0"));
    assert_non_null(rec(a, "5", "0"));
    assert_true(rec(a, "4", "0")->ended);
    /* live jobs are never evicted: a fourth live one is dropped and counted */
    const char *live[] = {"7", "8", "9", "10"};
    struct acct_sample s = {.gpu = "0", .up = true, .jobs = live, .njobs = 4};
    collect1(a, 60, &s);
    assert_true(a->n == 3);
    assert_true(a->dropped >= 1);
    /* an ended job's series leave /metrics at once by default, or after export_ended_s */
    {
        struct expo w;
        struct buf out;
        expo_init(&w, 1 << 20);
        buf_init(&out, 1 << 20);
        job_acct_render(a, &w, NULL, 1.7e9 + 60);
        assert_int_equal(expo_render(&w, &out), JT_OK);
        assert_null(strstr(out.data, "jobid=\"5\""));
        assert_non_null(strstr(out.data, "jobid=\"7\""));
        expo_free(&w);
        buf_reset(&out);
        a->export_ended_s = 30;
        expo_init(&w, 1 << 20);
        job_acct_render(a, &w, NULL, 1.7e9 + 60);
        assert_int_equal(expo_render(&w, &out), JT_OK);
        assert_non_null(strstr(out.data, "jobtel_job_gpu_active{jobid=\"5\",gpu=\"0\"} 0\n"));
        expo_free(&w);
        buf_free(&out);
        a->export_ended_s = 0;
    }
    /* retention: an ended job goes 100 s after it was last seen */
    struct acct_sample none = {.gpu = "0", .up = true, .njobs = 0};
    collect1(a, 61, &none);
    assert_int_equal(a->n, 3);
    collect1(a, 162, &none);
    assert_int_equal(a->n, 0);
    job_acct_free(a);
}

/* ---- restart ------------------------------------------------------------------------------------ */

static char dir[64];

static void state_file(char *out, size_t n, const char *suffix)
{
    snprintf(out, n, "%s/%s%s", dir, ACCT_STATE_FILE, suffix);
}

static void test_restart_continues_without_double_counting(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(dir, 5, 3600, 64);
    struct acct_sample s = {.gpu = "0", .up = true, .has_util = true, .has_energy = true, .jobs = job_a, .njobs = 1};
    s.util_pct = 50;
    for (int i = 0; i <= 100; i++) {
        s.energy_mj = 7e9 + i * 100000.0;
        collect1(a, i, &s);
    }
    assert_int_equal(job_acct_save(a), JT_OK);
    job_acct_free(a);
    /* The daemon restarts 3 s later (new monotonic origin). The job continues on the GPU. */
    struct job_acct *b = job_acct_new(dir, 5, 3600, 64);
    assert_int_equal(job_acct_load(b), JT_OK);
    struct acct_record *r = rec(b, "101", "0");
    assert_non_null(r);
    assert_true(fabs(r->allocated_s - 100) < 1e-9 && fabs(r->busy_s - 50) < 1e-9 && fabs(r->energy_j - 10000) < 1e-6);
    for (int i = 0; i <= 50; i++) {
        s.energy_mj = 7e9 + (103 + i) * 100000.0;
        collect1(b, 2 + i, &s);
    }
    r = rec(b, "101", "0");
    /* 100 s before + 50 s after; the 3 s of the restart itself are in no interval */
    assert_true(fabs(r->allocated_s - 150) < 1e-9);
    assert_true(fabs(r->busy_s - 75) < 1e-9);
    assert_true(fabs(r->energy_j - 15000) < 1e-6);
    /* a second daemon on the same directory does not touch the first one's state */
    struct job_acct *twin = job_acct_new(dir, 5, 3600, 64);
    assert_int_equal(job_acct_load(twin), JT_ERR_UNSAFE);
    assert_int_equal(twin->n, 0);
    assert_null(twin->dir);
    job_acct_free(twin);
    /* a saved state round-trips exactly */
    assert_int_equal(job_acct_save(b), JT_OK);
    double busy = r->busy_s, energy = r->energy_j;
    job_acct_free(b);
    struct job_acct *c = job_acct_new(dir, 5, 3600, 64);
    assert_int_equal(job_acct_load(c), JT_OK);
    assert_true(rec(c, "101", "0")->busy_s == busy);
    assert_true(rec(c, "101", "0")->energy_j == energy);
    job_acct_free(c);
}

static void write_state(const char *text)
{
    char p[256];
    state_file(p, sizeof p, "");
    unlink(p);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_refused(enum jt_err want)
{
    char bad[256];
    state_file(bad, sizeof bad, ".bad");
    unlink(bad);
    struct job_acct *a = job_acct_new(dir, 5, 3600, 4);
    assert_int_equal(job_acct_load(a), want);
    assert_int_equal(a->n, 0);
    job_acct_free(a);
}

static void test_hostile_state_files(void **state)
{
    (void)state;
    char p[256], bad[256];
    state_file(p, sizeof p, "");
    state_file(bad, sizeof bad, ".bad");
    /* a FIFO where the file should be: refused at once, never blocks */
    unlink(p);
    assert_int_equal(mkfifo(p, 0600), 0);
    expect_refused(JT_ERR_UNSAFE);
    unlink(p);
    /* a symlink: refused */
    assert_int_equal(symlink("/etc/passwd", p), 0);
    expect_refused(JT_ERR_UNSAFE);
    unlink(p);
    /* a directory */
    assert_int_equal(mkdir(p, 0700), 0);
    expect_refused(JT_ERR_UNSAFE);
    rmdir(p);
    /* wrong version, malformed numbers, negative totals, truncated, too many records */
    write_state("jobtel-job-accounting 4\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 0\nend\n");
    expect_refused(JT_ERR_PARSE);
    assert_int_equal(access(bad, F_OK), 0); /* kept aside for the admin, not lost */
    write_state("jobtel-job-accounting 1\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2 x\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 1\n1 0 - 3 0 -1 2 0 0 5 0 7 0 1 2\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 1\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 1\n1 0 - 3 0 nan 2 0 0 5 0 7 0 1 2\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 1\n"
                "1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\n2 0 - 3 0 1 2 0 0 5 0 7 0 1 2\n3 0 - 3 0 1 2 0 0 5 0 7 0 1 2\n"
                "4 0 - 3 0 1 2 0 0 5 0 7 0 1 2\n5 0 - 3 0 1 2 0 0 5 0 7 0 1 2\nend\n");
    expect_refused(JT_ERR_LIMIT);
    /* a good one loads */
    write_state("jobtel-job-accounting 1\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\nend\n");
    struct job_acct *a = job_acct_new(dir, 5, 3600, 4);
    assert_int_equal(job_acct_load(a), JT_OK);
    assert_int_equal(a->n, 1);
    assert_true(a->rec[0].busy_s == 2 && a->rec[0].energy_j == 5);
    job_acct_free(a);
    /* a state directory that cannot be written: counted, the store keeps working */
    struct job_acct *ro = job_acct_new("/proc/nonexistent/jobtel", 5, 3600, 4);
    struct acct_sample s = {.gpu = "0", .up = true, .jobs = job_a, .njobs = 1};
    collect1(ro, 0, &s);
    assert_int_not_equal(job_acct_save(ro), JT_OK);
    assert_int_equal(ro->save_errors, 1);
    job_acct_free(ro);
}

static void test_job_record_json(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 3600, 64);
    struct acct_sample s = {.gpu = "2", .up = true, .has_util = true, .has_sm = true, .jobs = job_a, .njobs = 1};
    s.util_pct = 25;
    s.sm_active = 0.5;
    for (int i = 0; i <= 4; i++)
        collect1(a, i, &s);
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(job_acct_job_json(a, "101", &b), JT_OK);
    assert_non_null(strstr(b.data, "\"gpu\":\"2\""));
    assert_non_null(strstr(b.data, "\"busy_s\":1.000000"));
    assert_non_null(strstr(b.data, "\"sm_active_s\":2.000000"));
    assert_null(strstr(b.data, "tensor_active_s"));
    assert_null(strstr(b.data, "energy_j"));
    buf_reset(&b);
    assert_int_equal(job_acct_job_json(a, "999", &b), JT_ERR_NOT_FOUND);
    buf_free(&b);
    job_acct_free(a);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/jt_acct_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bursty_exact_vs_princeton),
        cmocka_unit_test(test_energy_counter_and_power_fallback),
        cmocka_unit_test(test_energy_counter_reset_uses_power),
        cmocka_unit_test(test_shared_gpu_split),
        cmocka_unit_test(test_gap_is_not_busy),
        cmocka_unit_test(test_retention_and_eviction),
        cmocka_unit_test(test_restart_continues_without_double_counting),
        cmocka_unit_test(test_hostile_state_files),
        cmocka_unit_test(test_job_record_json),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
