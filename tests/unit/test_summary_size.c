/* test_summary_size.c - the size of a job's stored summary (AdminComment) with the exact figures and
 * the per-GPU timelines, for 1-hour, 1-day and 7-day 8-GPU jobs: the daemon's integrator is driven by a
 * synthetic clock (1 s collections, noisy readings as a real training job gives), its record goes
 * through the records directory into a Princeton-style summary, which is encoded as stored (JS1 gzip +
 * base64, and the js1b32 spelling of Slurms that lowercase). The summaries must fit the budget
 * `jobtel summary` keeps (16000 bytes, under what jobstats reads back and far under Slurm's 65535)
 * with their full timelines. bench/bench_summary_size.sh prints the table for docs/accounting.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounting/job_accounting.h"
#include "jobstats/js1.h"
#include "summary/records.h"

#define NGPU 8
#define BUDGET 16000u

static char dir[64];

static double rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s % 1000000) / 1e6;
}

/* Princeton's part of an 8-GPU one-node summary (what jobstats_collect stores). */
static json_t *princeton(double seconds)
{
    json_t *tot = json_object(), *used = json_object(), *util = json_object();
    for (int g = 0; g < NGPU; g++) {
        char k[4];
        snprintf(k, sizeof k, "%d", g);
        json_object_set_new(tot, k, json_integer(85899345920LL));
        json_object_set_new(used, k, json_integer(71000000000LL + g * 123456789LL));
        json_object_set_new(util, k, json_real(83.1 + g * 0.7));
    }
    return json_pack("{s:i, s:{s:{s:i, s:o, s:o, s:o, s:I, s:f, s:I}}, s:I}", "gpus", NGPU, "nodes", "gpu-a017", "cpus",
                     64, "gpu_total_memory", tot, "gpu_used_memory", used, "gpu_utilization", util, "total_memory",
                     (json_int_t)549755813888LL, "total_time", seconds * 41.3, "used_memory", (json_int_t)210000000000LL,
                     "total_time", (json_int_t)seconds);
}

struct sizes {
    size_t princeton_b64, b64, b32, json, points;
};

/* Drives the integrator for `seconds` of an 8-GPU job, folds its record, encodes the summary. */
static void measure(int seconds, const char *jobid, struct sizes *out)
{
    struct job_acct *a = job_acct_new(NULL, 5, 86400 * 30, 64);
    const char *const jobs[] = {jobid};
    uint64_t seed = 0x2545f4914f6cdd1dull;
    double util[NGPU], clock[NGPU];
    for (int g = 0; g < NGPU; g++)
        util[g] = 85, clock[g] = 1980;
    for (int t = 0; t <= seconds; t++) {
        job_acct_begin(a);
        for (int g = 0; g < NGPU; g++) {
            char gpu[4];
            snprintf(gpu, sizeof gpu, "%d", g);
            /* a training job: high utilization with noise, a data-loading dip every 20 minutes,
             * power following utilization, clocks dropping when the power cap bites */
            util[g] += (rnd(&seed) - 0.5) * 6;
            util[g] = util[g] < 40 ? 40 : util[g] > 100 ? 100 : util[g];
            double u = (t % 1200) < 45 ? 5 + 10 * rnd(&seed) : util[g];
            bool capped = u > 95 && rnd(&seed) < 0.5;
            clock[g] = capped ? 1600 + 200 * rnd(&seed) : 1980;
            struct acct_sample s = {.gpu = gpu, .up = true, .has_util = true, .has_power = true, .has_mem = true,
                                    .has_reasons = true, .has_sm = true, .has_clock = true, .jobs = jobs, .njobs = 1};
            s.util_pct = u;
            s.power_mw = (90 + 5.6 * u + 20 * rnd(&seed)) * 1000;
            s.mem_used_bytes = (60 + g + 0.002 * (t % 3600)) * 1073741824.0;
            s.clock_reasons = capped ? 0x4 : 0;
            s.sm_active = u / 100 * (0.7 + 0.1 * rnd(&seed));
            s.sm_clock_mhz = clock[g];
            job_acct_add(a, &s, t, 1.7e9 + t);
        }
        job_acct_end(a, t, 1.7e9 + t);
    }
    struct buf rec;
    buf_init(&rec, 1 << 22);
    assert_int_equal(job_acct_job_json(a, jobid, &rec), JT_OK);
    out->points = (size_t)a->rec[0].tl.n;
    job_acct_free(a);
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, jobid);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/%s/gpu-a017.json", dir, jobid);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fwrite(rec.data, 1, rec.len, f);
    fclose(f);
    buf_free(&rec);

    json_t *summary = princeton(seconds);
    struct buf c;
    buf_init(&c, JS1_JSON_MAX);
    assert_int_equal(js1_encode_comment(summary, JS1_ENC_BASE64, &c), JT_OK);
    out->princeton_b64 = c.len;
    struct records_sum sum;
    assert_int_equal(records_fold(dir, jobid, summary, &sum), 1);
    buf_reset(&c);
    assert_int_equal(js1_encode_comment(summary, JS1_ENC_BASE64, &c), JT_OK);
    out->b64 = c.len;
    buf_reset(&c);
    assert_int_equal(js1_encode_comment(summary, JS1_ENC_BASE32, &c), JT_OK);
    out->b32 = c.len;
    char *text = json_dumps(summary, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    out->json = strlen(text);
    free(text);
    /* every GPU's timeline made it into the summary */
    const json_t *node = json_object_get(json_object_get(json_object_get(summary, "jobtel"), "nodes"), "gpu-a017");
    assert_int_equal(json_object_size(node), NGPU);
    const char *k;
    const json_t *g;
    json_object_foreach((json_t *)node, k, g) {
        assert_int_equal(json_array_size(json_object_get(json_object_get(g, "tl"), "pts")), out->points);
    }
    buf_free(&c);
    json_decref(summary);
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *name, *jobid;
        int seconds;
    } jobs[] = {{"1 hour", "9001", 3600}, {"1 day", "9002", 86400}, {"7 days", "9003", 7 * 86400}};
    printf("| 8-GPU job | points per GPU | summary JSON | AdminComment JS1 (base64) | js1b32 | Princeton's part alone (JS1) |\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
        struct sizes s;
        measure(jobs[i].seconds, jobs[i].jobid, &s);
        printf("| %s | %zu | %zu B | %zu B | %zu B | %zu B |\n", jobs[i].name, s.points, s.json, s.b64, s.b32,
               s.princeton_b64);
        assert_true(s.points <= TL_MAX_POINTS);
        /* the full timelines fit what jobtel summary stores, in either spelling */
        assert_true(s.b64 <= BUDGET);
        assert_true(s.b32 <= BUDGET);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/jt_size_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sizes)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
