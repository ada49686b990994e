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
    char future[64];
    snprintf(future, sizeof future, "jobtel-job-accounting %d\nend\n", ACCT_STATE_VERSION + 1);
    write_state(future);
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

/* ---- the jobs' CPU timelines ---------------------------------------------------------------------- */

static struct acct_cpu_record *cpu_rec(struct job_acct *a, const char *job)
{
    for (size_t i = 0; i < a->ncpu; i++) {
        if (strcmp(a->cpu[i].jobid, job) == 0)
            return &a->cpu[i];
    }
    return NULL;
}

/* One cgroup collection at scripted time t (unix 1.7e9 + t) finding the jobs in s[0..n). */
static void cpu_collect(struct job_acct *a, double t, const struct acct_cpu_sample *s, size_t n)
{
    job_acct_cpu(a, s, n, t, 1.7e9 + t, 30);
}

/* A CPU-only job over 10 s collections with jitter: every point is one interval whose cores are the CPU
 * seconds' delta over its length and whose memory is the reading at its end; the counter going back
 * (recreated cgroup) leaves that interval's cores null; a gap is no point; the job's end trims the
 * timeline, and its record (no GPU) carries "cpu_tl" in the documented units. */
static void test_cpu_timeline(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(dir, 5, 3600, 8);
    uint64_t seed = 0x5eed;
    double t = 100, cpu = 12.5; /* the job had used 12.5 CPU s before the daemon first saw it */
    struct acct_cpu_sample s = {.jobid = "77", .has_cpu = true, .has_mem = true, .cpu_s = cpu, .mem_bytes = 0};
    cpu_collect(a, t, &s, 1); /* a baseline only */
    struct acct_cpu_record *r = cpu_rec(a, "77");
    assert_non_null(r);
    assert_int_equal(r->tl.n, 0);
    double cores[20], mem[20], total = 0;
    for (int k = 0; k < 20; k++) {
        double dt = jitter(&seed, 9, 11);
        cores[k] = k < 6 ? 2.0 : 0.25 + 0.01 * k;
        mem[k] = (1.0 + 0.5 * k) * 1073741824.0;
        t += dt;
        cpu += cores[k] * dt;
        total += cores[k] * dt;
        s.cpu_s = cpu;
        s.mem_bytes = mem[k];
        cpu_collect(a, t, &s, 1);
    }
    r = cpu_rec(a, "77");
    assert_int_equal(r->tl.n, 20);
    double sum = 0;
    for (int k = 0; k < 20; k++) {
        const struct tl_point *p = &r->tl.p[k];
        assert_true(fabs(p->sum[TL_CPU_CORES] / p->w[TL_CPU_CORES] - cores[k]) < 1e-4);
        assert_true(fabs(p->sum[TL_CPU_MEM] / p->w[TL_CPU_MEM] - mem[k] / 1073741824.0) < 1e-4);
        sum += p->sum[TL_CPU_CORES];
    }
    /* the points' integral is the counter's own delta over the intervals seen */
    assert_true(fabs(sum - total) < 1e-3);
    /* the counter went back: memory still drawn, cores unknown (null), never negative */
    t += 10;
    s.cpu_s = 1;
    cpu_collect(a, t, &s, 1);
    r = cpu_rec(a, "77");
    assert_int_equal(r->tl.n, 21);
    assert_true(r->tl.p[20].w[TL_CPU_CORES] == 0 && r->tl.p[20].w[TL_CPU_MEM] > 0);
    /* a gap longer than the limit: no point for it */
    t += 100;
    s.cpu_s = 5;
    cpu_collect(a, t, &s, 1);
    assert_int_equal(cpu_rec(a, "77")->tl.n, 21);
    /* the job ends: it is kept (ended) for the epilog, its points trimmed */
    t += 10;
    cpu_collect(a, t, NULL, 0);
    r = cpu_rec(a, "77");
    assert_true(r->ended);
    assert_int_equal(r->tl.cap, r->tl.n);
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(job_acct_job_json(a, "77", &b), JT_OK);
    assert_non_null(strstr(b.data, "\"gpus\":[],\"cpu_tl\":{\"t0\":1700000100,\"cols\":[\"cpu\",\"mem\"],\"pts\":[[0,"));
    char want[64];
    snprintf(want, sizeof want, ",2.00,1.0],[");
    assert_non_null(strstr(b.data, want));
    assert_non_null(strstr(b.data, ",null,10.5]]}}"));
    /* persisted: the timeline comes back exactly after a restart */
    assert_int_equal(job_acct_save(a), JT_OK);
    struct buf before;
    buf_init(&before, 1 << 16);
    buf_append(&before, b.data, b.len);
    job_acct_free(a);
    a = job_acct_new(dir, 5, 3600, 8);
    assert_int_equal(job_acct_load(a), JT_OK);
    buf_reset(&b);
    assert_int_equal(job_acct_job_json(a, "77", &b), JT_OK);
    assert_string_equal(b.data, before.data);
    assert_true(cpu_rec(a, "77")->ended);
    /* unknown job: not found; a job whose cgroup was seen once has no point yet: not found either */
    s.jobid = "78";
    cpu_collect(a, t + 10, &s, 1);
    buf_reset(&b);
    assert_int_equal(job_acct_job_json(a, "78", &b), JT_ERR_NOT_FOUND);
    /* retention: the ended job goes retention_s after it was last seen */
    cpu_collect(a, t + 3700, &s, 1);
    assert_null(cpu_rec(a, "77"));
    buf_free(&before);
    buf_free(&b);
    job_acct_free(a);
    char p[256];
    state_file(p, sizeof p, "");
    unlink(p);
}

/* Bounded: max_records CPU timelines; a new job evicts the ended job seen longest ago, and is dropped
 * (counted) when every slot holds a live job. */
static void test_cpu_timeline_bounded(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 3600, 2);
    struct acct_cpu_sample s[3] = {{.jobid = "1", .has_cpu = true}, {.jobid = "2", .has_cpu = true},
                                   {.jobid = "3", .has_cpu = true}};
    cpu_collect(a, 0, s, 3);
    assert_int_equal(a->ncpu, 2);
    assert_int_equal(a->dropped, 1);
    cpu_collect(a, 10, &s[1], 1); /* job 1 ended */
    cpu_collect(a, 20, &s[1], 2); /* job 3 takes its slot */
    assert_int_equal(a->ncpu, 2);
    assert_int_equal(a->evicted, 1);
    assert_null(cpu_rec(a, "1"));
    assert_non_null(cpu_rec(a, "3"));
    job_acct_free(a);
}

/* Hostile CPU lines in a state file: refused whole, like any other malformed state. */
static void test_cpu_state_hostile(void **state)
{
    (void)state;
    /* a CPU line in a version that has none */
    write_state("jobtel-job-accounting 2\ncpu 5 0 1 2\nend\n");
    expect_refused(JT_ERR_PARSE);
    /* a point with the GPU's six columns under a CPU timeline */
    write_state("jobtel-job-accounting 3\ncpu 5 0 1 2\ntl 1700000000 5 1 0 1\n"
                "p 0 5 1 5 1 5 1 5 1 5 1 5 1 5\nend\n");
    expect_refused(JT_ERR_PARSE);
    /* a GPU record after the CPU ones, a duplicate job, a negative time, junk after the fields */
    write_state("jobtel-job-accounting 3\ncpu 5 0 1 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 3\ncpu 5 0 1 2\ncpu 5 0 1 2\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 3\ncpu 5 0 -1 2\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 3\ncpu 5 2 1 2\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 3\ncpu 5 0 1 2 x\nend\n");
    expect_refused(JT_ERR_PARSE);
    /* numbers no timeline holds (found by fuzz_acct_state: printing them overflowed a cast): a mean of
     * 8.9e23, a start time of 1e20, a point ending 1e20 s in */
    write_state("jobtel-job-accounting 3\ncpu 5 0 1 2\ntl 1700000000 5 1 0 1\np 0 5 888888888888888888888896 1 20 5\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 3\ncpu 5 0 1 2\ntl 100000000000000000000 5 1 0 1\np 0 5 10 5 20 5\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 3\ncpu 5 0 1 2\ntl 1700000000 5 1 0 1\np 0 100000000000000000000 10 5 20 5\nend\n");
    expect_refused(JT_ERR_PARSE);
    /* a good one loads */
    write_state("jobtel-job-accounting 3\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ncpu 5 1 1 2\ntl 1700000000 5 1 0 1\n"
                "p 0 5 10 5 20 5\nend\n");
    struct job_acct *a = job_acct_new(dir, 5, 1e12, 4);
    assert_int_equal(job_acct_load(a), JT_OK);
    assert_int_equal(a->n, 1);
    assert_int_equal(a->ncpu, 1);
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(job_acct_job_json(a, "5", &b), JT_OK);
    assert_non_null(strstr(b.data, "\"cpu_tl\":{\"t0\":1700000000,\"cols\":[\"cpu\",\"mem\"],\"pts\":[[0,5,2.00,4.0]]}"));
    buf_free(&b);
    job_acct_free(a);
}

/* The series the cgroup collector's render writes at unix time 1.7e9 + t (NULL hostname). */
static void render_at(struct job_acct *a, double t, struct buf *out)
{
    struct expo w;
    expo_init(&w, 1 << 20);
    job_acct_render_cpu(a, &w, NULL, 1.7e9 + t);
    buf_reset(out);
    assert_int_equal(expo_render(&w, out), JT_OK);
    expo_free(&w);
}

/* The job's memory peak: the largest RSS + shmem of any collection (a short spike between two readings
 * that a 30 s scrape would miss is kept), exported while the job runs, persisted exactly across a
 * restart; a record restored from a version-3 state (no peak) exports none for the rest of the job, as
 * does a version-4 "-": the peak of before the restart is unknown, and a lower figure would be made up. */
static void test_cpu_memory_peak(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(dir, 5, 3600, 8);
    struct buf out;
    buf_init(&out, 1 << 20);
    struct acct_cpu_sample s = {.jobid = "77", .has_cpu = true, .has_mem = true, .cpu_s = 1};
    cpu_collect(a, 100, &s, 1); /* no memory reading yet: no peak */
    render_at(a, 100, &out);
    assert_null(strstr(buf_str(&out), "jobtel_job_memory_peak_bytes{"));
    const double used[] = {2e9, 5e9, 3e9, 1e9};
    for (int k = 0; k < 4; k++) {
        s.has_used = true;
        s.used_bytes = used[k];
        cpu_collect(a, 110 + 10 * k, &s, 1);
    }
    render_at(a, 140, &out);
    assert_non_null(strstr(buf_str(&out), "jobtel_job_memory_peak_bytes{jobid=\"77\"} 5000000000\n"));
    /* a restart keeps it, and it goes on growing */
    assert_int_equal(job_acct_save(a), JT_OK);
    job_acct_free(a);
    a = job_acct_new(dir, 5, 3600, 8);
    assert_int_equal(job_acct_load(a), JT_OK);
    render_at(a, 145, &out);
    assert_non_null(strstr(buf_str(&out), "jobtel_job_memory_peak_bytes{jobid=\"77\"} 5000000000\n"));
    s.used_bytes = 6.5e9;
    cpu_collect(a, 150, &s, 1);
    render_at(a, 150, &out);
    assert_non_null(strstr(buf_str(&out), "jobtel_job_memory_peak_bytes{jobid=\"77\"} 6500000000\n"));
    /* the job ends: its series goes (export_ended_s is 0 here) */
    cpu_collect(a, 160, NULL, 0);
    render_at(a, 160, &out);
    assert_null(strstr(buf_str(&out), "jobtel_job_memory_peak_bytes{"));
    job_acct_free(a);
    /* version 3 (no peak) and version 4 "-": none, even after new readings */
    const char *const states[] = {"jobtel-job-accounting 3\ncpu 78 0 1 2\nend\n",
                                  "jobtel-job-accounting 4\ncpu 78 0 1 2 -\nend\n"};
    for (int v = 0; v < 2; v++) {
        write_state(states[v]);
        a = job_acct_new(dir, 5, 3600, 8);
        assert_int_equal(job_acct_load(a), JT_OK);
        s.jobid = "78";
        cpu_collect(a, 200, &s, 1);
        render_at(a, 200, &out);
        assert_null(strstr(buf_str(&out), "jobtel_job_memory_peak_bytes{"));
        assert_int_equal(job_acct_save(a), JT_OK); /* and it stays "-" in the next state */
        job_acct_free(a);
        a = job_acct_new(dir, 5, 3600, 8);
        assert_int_equal(job_acct_load(a), JT_OK);
        cpu_collect(a, 210, &s, 1);
        render_at(a, 210, &out);
        assert_null(strstr(buf_str(&out), "jobtel_job_memory_peak_bytes{"));
        job_acct_free(a);
    }
    /* a malformed or negative peak refuses the state */
    write_state("jobtel-job-accounting 4\ncpu 78 0 1 2 x\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 4\ncpu 78 0 1 2 -5\nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 4\ncpu 78 0 1 2 -- \nend\n");
    expect_refused(JT_ERR_PARSE);
    write_state("jobtel-job-accounting 4\ncpu 78 0 1 2 5 6\nend\n");
    expect_refused(JT_ERR_PARSE);
    buf_free(&out);
    char p[256];
    state_file(p, sizeof p, "");
    unlink(p);
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
        cmocka_unit_test(test_cpu_timeline),
        cmocka_unit_test(test_cpu_timeline_bounded),
        cmocka_unit_test(test_cpu_state_hostile),
        cmocka_unit_test(test_cpu_memory_peak),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
