/* test_job_timeline.c - the per-(job, GPU) downsampled timeline (accounting/job_timeline.c) as the
 * integrator feeds it: bounded points whatever the job's length, the first and last minutes dense,
 * bucket means equal to the mean of what was fed over the bucket, gaps and lost GPUs not averaged in,
 * a series never fed is null, the record's JSON format, and the timeline across a daemon restart
 * (state version 2; version 1 still read; malformed timeline lines refused).
 *
 * Collections are driven by a scripted clock, never the wall clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounting/job_accounting.h"

#define WALL0 1.7e9

static const char *const job_a[] = {"101"};
static const char *const jobs_ab[] = {"101", "202"};
static char dir[64];

static struct acct_record *rec(struct job_acct *a, const char *job)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->rec[i].jobid, job) == 0)
            return &a->rec[i];
    }
    return NULL;
}

static void collect1(struct job_acct *a, double t, const struct acct_sample *s)
{
    job_acct_begin(a);
    job_acct_add(a, s, t, WALL0 + t);
    job_acct_end(a, t, WALL0 + t);
}

/* The job's record JSON, parsed; the GPU object of its first record. */
static json_t *record_json(struct job_acct *a, const char *job, const json_t **gpu)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(job_acct_job_json(a, job, &b), JT_OK);
    json_error_t e;
    json_t *j = json_loadb(b.data, b.len, 0, &e);
    if (!j)
        fail_msg("record is not JSON: %s: %.200s", e.text, b.data);
    buf_free(&b);
    *gpu = json_array_get(json_object_get(j, "gpus"), 0);
    return j;
}

/* A utilization that changes every 7 s, a power that follows it: nothing lines up with bucket edges. */
static double util_at(int i)
{
    return (double)((i / 7) * 37 % 101);
}

/* The integer points in time order and non-overlapping; returns how many. */
static size_t check_points(const json_t *tl, long long *first_off, long long *last_end)
{
    const json_t *pts = json_object_get(tl, "pts");
    assert_true(json_is_array(pts));
    long long prev_end = 0;
    size_t i;
    const json_t *p;
    json_array_foreach(pts, i, p) {
        assert_int_equal(json_array_size(p), 8);
        long long off = json_integer_value(json_array_get(p, 0)), dur = json_integer_value(json_array_get(p, 1));
        assert_true(json_is_integer(json_array_get(p, 0)) && json_is_integer(json_array_get(p, 1)));
        assert_true(off >= prev_end && dur >= 0);
        if (i == 0)
            *first_off = off;
        prev_end = off + dur;
    }
    *last_end = prev_end;
    return json_array_size(pts);
}

static void test_bounded_dense_ends_exact_means(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 86400 * 30, 64);
    struct acct_sample s = {.gpu = "0", .up = true, .has_util = true, .has_power = true, .has_mem = true,
                            .has_clock = true, .has_reasons = true, .jobs = job_a, .njobs = 1};
    /* 3 days of 1 s collections; fed[i] is what stands for the interval (i-1, i] */
    enum { N = 3 * 86400 };
    double *fed = calloc(N + 1, sizeof *fed);
    assert_non_null(fed);
    size_t most = 0;
    for (int i = 0; i <= N; i++) {
        s.util_pct = util_at(i);
        s.power_mw = 100000 + 2000 * s.util_pct;
        s.mem_used_bytes = 2.5 * 1073741824.0;
        s.sm_clock_mhz = 1410;
        s.clock_reasons = (i % 10) < 3 ? 0x4 : 0; /* SW power cap 3 s in 10 */
        fed[i] = s.util_pct;
        collect1(a, i, &s);
        struct acct_record *r = rec(a, "101");
        if (r->tl.n > most)
            most = r->tl.n;
        assert_true(r->tl.cap <= TL_MAX_POINTS);
    }
    assert_true(most <= TL_MAX_POINTS);
    const json_t *g;
    json_t *j = record_json(a, "101", &g);
    const json_t *tl = json_object_get(g, "tl");
    assert_non_null(tl);
    /* t0: the first interval's start (the first collection only sets the baseline) */
    assert_int_equal(json_integer_value(json_object_get(tl, "t0")), (json_int_t)WALL0);
    const json_t *cols = json_object_get(tl, "cols");
    const char *want_cols[] = {"util", "power", "mem", "sm", "clock", "throttle"};
    assert_int_equal(json_array_size(cols), 6);
    for (size_t c = 0; c < 6; c++)
        assert_string_equal(json_string_value(json_array_get(cols, c)), want_cols[c]);
    long long first, last;
    size_t n = check_points(tl, &first, &last);
    printf("3-day job: %zu points (at most %zu during the job)\n", n, most);
    assert_true(n >= 60 && n <= TL_MAX_POINTS);
    assert_int_equal(first, 0);
    assert_int_equal(last, N);
    const json_t *pts = json_object_get(tl, "pts");
    size_t i;
    const json_t *p;
    long long covered = 0;
    json_array_foreach(pts, i, p) {
        long long off = json_integer_value(json_array_get(p, 0)), dur = json_integer_value(json_array_get(p, 1));
        covered += dur;
        /* the first and last 2 minutes dense: at most 5 s a point */
        if (off < 120 || off + dur > N - 120)
            assert_true(dur <= 5);
        /* each mean is the mean of what was fed over the bucket */
        double sum = 0;
        for (long long k = off + 1; k <= off + dur; k++)
            sum += fed[k];
        double util = sum / (double)dur;
        assert_true(fabs((double)json_integer_value(json_array_get(p, 2)) - util) <= 0.5 + 1e-3);
        assert_true(fabs((double)json_integer_value(json_array_get(p, 3)) - (100 + 2 * util)) <= 0.5 + 1e-3);
        assert_true(fabs(json_real_value(json_array_get(p, 4)) - 2.5) < 1e-9);
        assert_true(json_is_null(json_array_get(p, 5))); /* no SM-active reading ever: null, not 0 */
        assert_int_equal(json_integer_value(json_array_get(p, 6)), 1410);
        if (dur >= 10 && off % 10 == 0 && dur % 10 == 0)
            assert_int_equal(json_integer_value(json_array_get(p, 7)), 30);
    }
    assert_int_equal(covered, N); /* no gap: the points tile the job */
    /* the dense ends are there: 24 points of 5 s at each end */
    assert_int_equal(json_integer_value(json_array_get(json_array_get(pts, 23), 0)), 115);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(pts, n - 24), 0)), N - 120);
    json_decref(j);
    free(fed);
    job_acct_free(a);
}

/* A gap (a missed collection, a lost GPU) inside a bucket is not averaged in: a GPU at 60 % all along
 * reads 60 % in every bucket, never less; and a value never read is null. */
static void test_gaps_not_averaged(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 86400, 64);
    struct acct_sample s = {.gpu = "0", .up = true, .has_util = true, .jobs = job_a, .njobs = 1};
    s.util_pct = 60;
    int t = 0;
    for (; t <= 4000; t++) {
        if (t % 500 == 100) {
            t += 40; /* 40 s without a collection: a gap */
        }
        if (t % 700 == 300) {
            struct acct_sample lost = s;
            lost.up = false;
            collect1(a, t, &lost);
            continue;
        }
        collect1(a, t, &s);
    }
    const json_t *g;
    json_t *j = record_json(a, "101", &g);
    const json_t *pts = json_object_get(json_object_get(g, "tl"), "pts");
    size_t i;
    const json_t *p;
    long long covered = 0;
    json_array_foreach(pts, i, p) {
        covered += json_integer_value(json_array_get(p, 1));
        assert_int_equal(json_integer_value(json_array_get(p, 2)), 60);
        for (size_t c = 3; c < 8; c++)
            assert_true(json_is_null(json_array_get(p, c)));
    }
    /* the allocated seconds are the seconds integrated; buckets that span a gap are longer */
    assert_true((double)covered >= rec(a, "101")->allocated_s);
    json_decref(j);
    job_acct_free(a);
}

/* On a shared GPU a job's utilization and power are its share, as its totals are. */
static void test_shared_share(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 86400, 64);
    struct acct_sample s = {.gpu = "1", .up = true, .has_util = true, .has_power = true, .has_mem = true,
                            .jobs = jobs_ab, .njobs = 2};
    double w[] = {60, 20};
    s.weights = w;
    s.util_pct = 80;
    s.power_mw = 200000;
    s.mem_used_bytes = 1073741824.0 * 10.04;
    for (int t = 0; t <= 30; t++)
        collect1(a, t, &s);
    const json_t *g;
    json_t *j = record_json(a, "202", &g);
    const json_t *p = json_array_get(json_object_get(json_object_get(g, "tl"), "pts"), 1);
    assert_int_equal(json_integer_value(json_array_get(p, 2)), 20);  /* 80 % x 1/4 */
    assert_int_equal(json_integer_value(json_array_get(p, 3)), 50);  /* 200 W x 1/4 */
    assert_true(fabs(json_real_value(json_array_get(p, 4)) - 10.0) < 1e-9); /* the GPU's, 1 decimal */
    json_decref(j);
    job_acct_free(a);
}

/* Memory follows the points: a short job's ended record keeps room for its few points only, and the
 * room comes back if the job returns. */
static void test_memory_follows_points(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(NULL, 5, 86400, 64);
    struct acct_sample s = {.gpu = "0", .up = true, .has_util = true, .jobs = job_a, .njobs = 1};
    s.util_pct = 10;
    for (int t = 0; t <= 12; t++)
        collect1(a, t, &s);
    struct acct_record *r = rec(a, "101");
    assert_int_equal(r->tl.n, 3);
    assert_true(r->tl.cap >= 3 && r->tl.cap <= 4);
    struct acct_sample none = s;
    none.njobs = 0;
    collect1(a, 13, &none); /* the job has ended */
    r = rec(a, "101");
    assert_true(r->ended);
    assert_int_equal(r->tl.cap, r->tl.n);
    for (int t = 14; t <= 40; t++)
        collect1(a, t, &s); /* it returns: points again */
    r = rec(a, "101");
    assert_true(r->tl.n > 3 && r->tl.cap >= r->tl.n && r->tl.cap <= TL_MAX_POINTS);
    job_acct_free(a);
}

static char *job_text(struct job_acct *a)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(job_acct_job_json(a, "101", &b), JT_OK);
    char *t = strdup(buf_str(&b));
    buf_free(&b);
    return t;
}

static void write_state(const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, ACCT_STATE_FILE);
    unlink(p);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_restart_keeps_timeline(void **state)
{
    (void)state;
    struct job_acct *a = job_acct_new(dir, 5, 86400, 64);
    struct acct_sample s = {.gpu = "0", .up = true, .has_util = true, .has_power = true, .jobs = job_a, .njobs = 1};
    /* intervals of 1.0003 s from an odd origin: offsets that are no round numbers, written as floats */
    for (int t = 0; t <= 2000; t++) {
        s.util_pct = util_at(t);
        s.power_mw = 150000;
        double m = 0.377 + t * 1.0003;
        job_acct_begin(a);
        job_acct_add(a, &s, m, WALL0 + m);
        job_acct_end(a, m, WALL0 + m);
    }
    char *before = job_text(a);
    assert_int_equal(job_acct_save(a), JT_OK);
    job_acct_free(a);
    /* a restart: the same record and timeline */
    struct job_acct *b = job_acct_new(dir, 5, 86400, 64);
    assert_int_equal(job_acct_load(b), JT_OK);
    char *after = job_text(b);
    assert_string_equal(before, after);
    free(after);
    /* the job goes on 30 s later (a new monotonic origin): placed by the wall clock, after the gap */
    for (int t = 0; t <= 10; t++)
        job_acct_begin(b), job_acct_add(b, &s, 5 + t, WALL0 + 2031 + t), job_acct_end(b, 5 + t, WALL0 + 2031 + t);
    const json_t *g;
    json_t *j = record_json(b, "101", &g);
    long long first, last;
    check_points(json_object_get(g, "tl"), &first, &last);
    assert_int_equal(last, 2041); /* the wall clock: 2031 + 10 s after the start, rounded from t0 */
    json_decref(j);
    job_acct_free(b);
    free(before);

    /* version 1 (no timelines) is still read: totals restored, the timeline starts afresh */
    write_state("jobtel-job-accounting 1\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\nend\n");
    struct job_acct *c = job_acct_new(dir, 5, 86400, 4);
    assert_int_equal(job_acct_load(c), JT_OK);
    assert_int_equal(c->n, 1);
    assert_true(c->rec[0].busy_s == 2 && c->rec[0].tl.n == 0);
    job_acct_free(c);
    /* malformed timelines are refused, the store starts empty */
    static const char *const bad[] = {
        /* a point without its "tl" line */
        "jobtel-job-accounting 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\np 0 1 0 0 0 0 0 0 0 0 0 0 0 0\nend\n",
        /* fewer points than announced */
        "jobtel-job-accounting 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ntl 1.7e9 5 1 0 2\np 0 1 0 0 0 0 0 0 0 0 0 0 0 0\nend\n",
        /* overlapping points */
        "jobtel-job-accounting 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ntl 1.7e9 5 0 0 2\np 0 5 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 4 6 0 0 0 0 0 0 0 0 0 0 0 0\nend\n",
        /* more points than a timeline holds */
        "jobtel-job-accounting 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ntl 1.7e9 5 0 0 101\nend\n",
        /* a negative, a NaN */
        "jobtel-job-accounting 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ntl 1.7e9 5 0 0 1\np 0 1 -1 0 0 0 0 0 0 0 0 0 0 0\nend\n",
        "jobtel-job-accounting 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ntl 1.7e9 5 0 0 1\np 0 1 nan 0 0 0 0 0 0 0 0 0 0 0\nend\n",
        /* a tail longer than the tail */
        "jobtel-job-accounting 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ntl 1.7e9 5 0 0 25\n"
        "p 0 1 0 0 0 0 0 0 0 0 0 0 0 0\np 1 2 0 0 0 0 0 0 0 0 0 0 0 0\np 2 3 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 3 4 0 0 0 0 0 0 0 0 0 0 0 0\np 4 5 0 0 0 0 0 0 0 0 0 0 0 0\np 5 6 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 6 7 0 0 0 0 0 0 0 0 0 0 0 0\np 7 8 0 0 0 0 0 0 0 0 0 0 0 0\np 8 9 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 9 10 0 0 0 0 0 0 0 0 0 0 0 0\np 10 11 0 0 0 0 0 0 0 0 0 0 0 0\np 11 12 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 12 13 0 0 0 0 0 0 0 0 0 0 0 0\np 13 14 0 0 0 0 0 0 0 0 0 0 0 0\np 14 15 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 15 16 0 0 0 0 0 0 0 0 0 0 0 0\np 16 17 0 0 0 0 0 0 0 0 0 0 0 0\np 17 18 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 18 19 0 0 0 0 0 0 0 0 0 0 0 0\np 19 20 0 0 0 0 0 0 0 0 0 0 0 0\np 20 21 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 21 22 0 0 0 0 0 0 0 0 0 0 0 0\np 22 23 0 0 0 0 0 0 0 0 0 0 0 0\np 23 24 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "p 24 25 0 0 0 0 0 0 0 0 0 0 0 0\nend\n",
        /* a timeline in a version 1 file */
        "jobtel-job-accounting 1\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ntl 1.7e9 5 0 0 1\np 0 1 0 0 0 0 0 0 0 0 0 0 0 0\nend\n",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_state(bad[k]);
        struct job_acct *d = job_acct_new(dir, 5, 86400, 4);
        if (job_acct_load(d) != JT_ERR_PARSE || d->n != 0)
            fail_msg("malformed state %zu accepted", k);
        job_acct_free(d);
    }
    /* the well-formed counterpart loads */
    write_state("jobtel-job-accounting 2\n1 0 - 3 0 1 2 0 0 5 0 7 0 1 2\ntl 1.7e9 5 1 0 2\np 0 1 50 1 0 0 0 0 0 0 0 0 0 0\n"
                "p 5 6 70 1 0 0 0 0 0 0 0 0 0 0\nend\n");
    struct job_acct *e = job_acct_new(dir, 5, 86400, 4);
    assert_int_equal(job_acct_load(e), JT_OK);
    assert_int_equal(e->rec[0].tl.n, 2);
    job_acct_free(e);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/jt_tl_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_dense_ends_exact_means),
        cmocka_unit_test(test_gaps_not_averaged),
        cmocka_unit_test(test_shared_share),
        cmocka_unit_test(test_memory_follows_points),
        cmocka_unit_test(test_restart_keeps_timeline),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
