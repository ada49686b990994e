/* test_sacct_parse.c - sacct lines: job names with '|', typed GPUs, running and pending jobs, ReqMem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobstats/sacct_parse.h"

static struct sacct_job job;

static enum jt_err parse(const char *s) { return sacct_parse_line(s, strlen(s), &job); }

static void test_full_line_and_pipe_in_name(void **state)
{
    (void)state;
    assert_int_equal(parse("39798795|1646376960|1646444276|della|billing=48,cpu=48,gres/gpu=4,mem=256G,node=2|"
                           "|aturing|math|COMPLETED|2|48|256G|della-gpu|gpu|5760|sys|logic|ordinals"),
                     JT_OK);
    assert_string_equal(job.jobid, "39798795");
    assert_true(job.has_start && job.has_end);
    assert_int_equal(job.start, 1646376960);
    assert_int_equal(job.end, 1646444276);
    assert_string_equal(job.cluster, "della");
    assert_int_equal(job.gpus, 4);
    assert_string_equal(job.admin_comment, "");
    assert_string_equal(job.user, "aturing");
    assert_string_equal(job.state, "COMPLETED");
    assert_int_equal(job.nnodes, 2);
    assert_int_equal(job.ncpus, 48);
    assert_true(job.reqmem_bytes == 256.0 * 1024 * 1024 * 1024);
    assert_string_equal(job.qos, "della-gpu");
    assert_int_equal(job.timelimit_min, 5760);
    assert_string_equal(job.jobname, "sys|logic|ordinals");
}

static void test_running_pending_cancelled(void **state)
{
    (void)state;
    assert_int_equal(parse("7|1700000000|Unknown|c|cpu=1,node=1|JS1:Short|u|a|RUNNING|1|1|4000M|q|p|UNLIMITED|x"), JT_OK);
    assert_true(job.has_start);
    assert_false(job.has_end);
    assert_int_equal(job.timelimit_min, -1);
    assert_string_equal(job.admin_comment, "JS1:Short");
    assert_true(job.reqmem_bytes == 4000.0 * 1024 * 1024);
    assert_int_equal(parse("8|Unknown|Unknown|c|||u|a|PENDING|1|1|1G|q|p|60|"), JT_OK);
    assert_false(job.has_start);
    assert_string_equal(job.jobname, "");
    assert_int_equal(parse("9|1|2|c|||u|a|CANCELLED by 1234|1|1||q|p|Partition_Limit|n"), JT_OK);
    assert_string_equal(job.state, "CANCELLED");
    assert_int_equal(job.timelimit_min, -1);
}

static void test_typed_gpus(void **state)
{
    (void)state;
    const char *t1 = "billing=8,cpu=8,gres/gpu:a100=2,gres/gpu:v100=1,mem=8G,node=1";
    assert_int_equal(sacct_tres_gpus(t1, strlen(t1)), 3);
    const char *t2 = "billing=8,cpu=8,gres/gpu:a100=2,gres/gpu=2,mem=8G,node=1"; /* both spellings: count once */
    assert_int_equal(sacct_tres_gpus(t2, strlen(t2)), 2);
    const char *t3 = "cpu=8,gres/gpu=0,mem=8G";
    assert_int_equal(sacct_tres_gpus(t3, strlen(t3)), 0);
    const char *t4 = "cpu=8,gres/gpumem=40G,gres/gpu=x";
    assert_int_equal(sacct_tres_gpus(t4, strlen(t4)), 0);
}

static void test_reqmem(void **state)
{
    (void)state;
    double b;
    assert_true(sacct_reqmem_bytes("2Gc", 3, 4, 1, &b));
    assert_true(b == 8.0 * 1024 * 1024 * 1024);
    assert_true(sacct_reqmem_bytes("16Gn", 4, 4, 2, &b));
    assert_true(b == 32.0 * 1024 * 1024 * 1024);
    assert_true(sacct_reqmem_bytes("500", 3, 1, 1, &b));
    assert_true(b == 500.0 * 1024 * 1024);
    assert_false(sacct_reqmem_bytes("G", 1, 1, 1, &b));
    assert_false(sacct_reqmem_bytes("12X", 3, 1, 1, &b));
}

static void test_malformed(void **state)
{
    (void)state;
    memcpy(job.jobid, "keep", 5);
    assert_int_equal(parse("1|2|3"), JT_ERR_PARSE);
    assert_int_equal(parse("1;rm|1|2|c|||u|a|COMPLETED|1|1|1G|q|p|60|n"), JT_ERR_PARSE);
    assert_int_equal(parse("1|x|2|c|||u|a|COMPLETED|1|1|1G|q|p|60|n"), JT_ERR_PARSE);
    assert_int_equal(parse("1|1|2|c|||u|a|COMPLETED|one|1|1G|q|p|60|n"), JT_ERR_PARSE);
    assert_int_equal(parse("1|1|2|c|||u|a|COMPLETED|1|1|1Q|q|p|60|n"), JT_ERR_PARSE);
    assert_string_equal(job.jobid, "keep"); /* untouched on failure */
}

static void test_sluid_and_version(void **state)
{
    (void)state;
    struct sacct_job j;
    const char *l = "7|1|2|c|cpu=1||u|a|RUNNING|1|1|1G|q|p|60|SL-01.x|job|name";
    assert_int_equal(sacct_parse_line_ex(l, strlen(l), true, &j), JT_OK);
    assert_string_equal(j.sluid, "SL-01.x");
    assert_string_equal(j.jobname, "job|name");
    assert_int_equal(sacct_parse_line_ex(l, strlen(l), false, &j), JT_OK);
    assert_string_equal(j.sluid, "");
    assert_string_equal(j.jobname, "SL-01.x|job|name");
    unsigned major = 0;
    assert_true(sacct_version_major("slurm 26.05.1\n", &major));
    assert_int_equal(major, 26);
    assert_true(sacct_version_major("slurm 22.05.8", &major));
    assert_int_equal(major, 22);
    assert_false(sacct_version_major("7|1|2|c|...", &major));
    assert_false(sacct_version_major("slurm x", &major));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sluid_and_version),
        cmocka_unit_test(test_full_line_and_pipe_in_name), cmocka_unit_test(test_running_pending_cancelled),
        cmocka_unit_test(test_typed_gpus), cmocka_unit_test(test_reqmem), cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
