/* test_jobstats_sacct.c - job lookup through a sacct stand-in: the output cap, array listings, and run
 * times from impossible start/end values (checked arithmetic, a message instead of a number). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobstats/jobstats.h"

static char dir[64];

static void write_sacct(struct js_conf *c, const char *body)
{
    snprintf(c->sacct, sizeof c->sacct, "%s/sacct", dir);
    FILE *f = fopen(c->sacct, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(c->sacct, 0755), 0);
}

static void test_output_cap(void **state)
{
    (void)state;
    struct js_conf *c = calloc(1, sizeof *c);
    js_conf_defaults(c);
    /* a 3 MiB answer that exits 0: said to be over the cap, with the cap, never "failed (exit 0)" */
    write_sacct(c, "head -c 3145728 /dev/zero | tr '\\0' 'x'; exit 0");
    struct sacct_job *job = calloc(1, sizeof *job);
    char err[512];
    memset(err, 0x55, sizeof err); /* whatever was there must not be printed */
    err[sizeof err - 1] = '\0';
    assert_int_not_equal(jobstats_sacct(c, "123", NULL, job, false, err, sizeof err), JT_OK);
    if (!strstr(err, "larger than the 1048576-byte cap"))
        fail_msg("message: %s", err);
    assert_null(strstr(err, "failed (exit 0)"));
    /* a malformed line is quoted in the message, its terminal escapes neutralised */
    write_sacct(c, "printf '123|x\\033[2J|bad\\n'");
    assert_int_not_equal(jobstats_sacct(c, "123", NULL, job, false, err, sizeof err), JT_OK);
    assert_non_null(strstr(err, "cannot parse the sacct output line '123|x?[2J|bad'"));
    assert_null(strchr(err, '\033'));
    /* a failing sacct without a message still gives a readable one */
    write_sacct(c, "exit 1");
    assert_int_not_equal(jobstats_sacct(c, "123", NULL, job, false, err, sizeof err), JT_OK);
    assert_non_null(strstr(err, "failed (exit 1) with no message"));
    free(job);
    js_conf_free(c);
    free(c);
}

static void test_array_listing(void **state)
{
    (void)state;
    struct js_conf *c = calloc(1, sizeof *c);
    js_conf_defaults(c);
    /* `sacct -j 500` of an array lists its tasks; the one whose JobIDRaw is 500 is the job asked for */
    write_sacct(c, "echo '501|10|20|c|cpu=1||u|a|COMPLETED|1|1|1G|q|p|60|task1'\n"
                   "echo '500|10|30|c|cpu=1||u|a|COMPLETED|1|1|1G|q|p|60|task2'");
    struct sacct_job *job = calloc(1, sizeof *job);
    char err[512] = "";
    assert_int_equal(jobstats_sacct(c, "500", NULL, job, false, err, sizeof err), JT_OK);
    assert_string_equal(job->jobid, "500");
    assert_string_equal(job->jobname, "task2");
    assert_int_equal(jobstats_sacct(c, "500_2", NULL, job, false, err, sizeof err), JT_OK);
    assert_string_equal(job->jobid, "501"); /* no exact match: the first line */
    free(job);
    js_conf_free(c);
    free(c);
}

static void test_sluid(void **state)
{
    (void)state;
    struct js_conf *c = calloc(1, sizeof *c);
    js_conf_defaults(c);
    /* Slurm 26.05: `sacct -V` says so, the sluid field is asked for (before the name) and parsed */
    write_sacct(c, "[ \"$1\" = -V ] && { echo 'slurm 26.05.1'; exit 0; }\n"
                   "case \"$*\" in *timelimitraw,sluid,jobname*) ;; *) echo 'no sluid asked' >&2; exit 1 ;; esac\n"
                   "echo '600|10|30|c|cpu=1||u|a|COMPLETED|1|1|1G|q|p|60|abc123XYZ|na|me'");
    struct sacct_job *job = calloc(1, sizeof *job);
    char err[512] = "";
    assert_int_equal(jobstats_sacct(c, "600", NULL, job, false, err, sizeof err), JT_OK);
    assert_string_equal(job->sluid, "abc123XYZ");
    assert_string_equal(job->jobname, "na|me");
    /* Slurm 25.11: no sluid field; the job is asked beside `sacct -V`, not after it: each waits for the
     * other to have started (one after the other, both would wait until the deadline and fail) */
    char mq[300], mv[300], script[2048];
    snprintf(mq, sizeof mq, "%s/sacct.q", dir);
    snprintf(mv, sizeof mv, "%s/sacct.v", dir);
    unlink(mq);
    unlink(mv);
    snprintf(script, sizeof script,
             "if [ \"$1\" = -V ]; then while [ ! -e %s ]; do sleep 0.01; done; touch %s; echo 'slurm 25.11.0'; exit 0; fi\n"
             "case \"$*\" in *sluid*) echo 'sluid asked' >&2; exit 1 ;; esac\n"
             "touch %s; while [ ! -e %s ]; do sleep 0.01; done\n"
             "echo '600|10|30|c|cpu=1||u|a|COMPLETED|1|1|1G|q|p|60|name'",
             mq, mv, mq, mv);
    write_sacct(c, script);
    c->cmd_timeout = 10; /* ends the test of a sacct asked after -V */
    assert_int_equal(jobstats_sacct(c, "600", NULL, job, false, err, sizeof err), JT_OK);
    assert_string_equal(job->sluid, "");
    c->cmd_timeout = 30;
    unlink(mq);
    unlink(mv);
    /* a SLUID that could break out of a PromQL string is refused with the line */
    write_sacct(c, "[ \"$1\" = -V ] && { echo 'slurm 26.05.1'; exit 0; }\n"
                   "echo \"600|10|30|c|cpu=1||u|a|COMPLETED|1|1|1G|q|p|60|x'} or up{a='|name\"");
    assert_int_not_equal(jobstats_sacct(c, "600", NULL, job, false, err, sizeof err), JT_OK);
    free(job);
    js_conf_free(c);
    free(c);
}

static void test_runtime_extremes(void **state)
{
    (void)state;
    struct sacct_job j;
    memset(&j, 0, sizeof j);
    int64_t d = -1;
    j.has_start = j.has_end = true;
    j.start = INT64_MIN;
    j.end = INT64_MAX;
    assert_false(jobstats_runtime(&j, 0, &d)); /* end - start overflows int64: refused, not wrapped */
    assert_int_equal(d, 0);
    j.start = 0;
    assert_false(jobstats_runtime(&j, 0, &d));
    j.start = INT64_MAX;
    j.end = 100;
    assert_false(jobstats_runtime(&j, 0, &d));
    j.has_end = false; /* running, "now" at the extreme */
    j.start = 100;
    assert_false(jobstats_runtime(&j, INT64_MIN, &d));
    assert_true(jobstats_runtime(&j, 160, &d));
    assert_int_equal(d, 60);
    j.has_end = true;
    j.end = 50; /* end before start: 0, as Princeton never prints a negative run time */
    assert_true(jobstats_runtime(&j, 0, &d));
    assert_int_equal(d, 0);
    char err[256] = "";
    j.start = INT64_MIN;
    snprintf(j.jobid, sizeof j.jobid, "7");
    jobstats_bad_times(&j, err, sizeof err);
    assert_non_null(strstr(err, "impossible times"));
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/jobtel-sacct.XXXXXX");
    assert_non_null(mkdtemp(dir));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_cap), cmocka_unit_test(test_array_listing),
        cmocka_unit_test(test_runtime_extremes), cmocka_unit_test(test_sluid),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char p[128];
    snprintf(p, sizeof p, "%s/sacct", dir);
    unlink(p);
    rmdir(dir);
    return rc;
}
