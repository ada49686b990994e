/* test_promq.c - the exact PromQL of jobstats.md §1.3, and Prometheus answers into the summary JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jobstats/promq.h"

static const char *build(enum promq_key k, const char *cluster)
{
    static struct buf b;
    buf_free(&b);
    buf_init(&b, 4096);
    assert_int_equal(promq_build(k, cluster, "123", 3600, &b), JT_OK);
    return buf_str(&b);
}

static void test_queries(void **state)
{
    (void)state;
    assert_string_equal(build(PQ_TOTAL_MEMORY, "della"),
                        "max_over_time(cgroup_memory_total_bytes{cluster='della',jobid='123',step='',task=''}[3600s])");
    assert_string_equal(build(PQ_USED_MEMORY, "della"),
                        "max_over_time(((cgroup_memory_rss_bytes{cluster='della',jobid='123',step='',task=''} + "
                        "cgroup_memory_shmem_bytes{cluster='della',jobid='123',step='',task=''}) or "
                        "1*cgroup_memory_rss_bytes{cluster='della',jobid='123',step='',task=''})[3600s:])");
    assert_string_equal(build(PQ_TOTAL_TIME, "della"),
                        "max_over_time(cgroup_cpu_total_seconds{cluster='della',jobid='123',step='',task=''}[3600s])");
    assert_string_equal(build(PQ_CPUS, "della"),
                        "max_over_time(cgroup_cpus{cluster='della',jobid='123',step='',task=''}[3600s])");
    assert_string_equal(build(PQ_GPU_TOTAL_MEMORY, "della"),
                        "max_over_time(nvidia_gpu_memory_total_bytes{cluster='della',jobid='123'}[3600s:])");
    assert_string_equal(build(PQ_GPU_USED_MEMORY, "della"),
                        "max_over_time(nvidia_gpu_memory_used_bytes{cluster='della',jobid='123'}[3600s:])");
    assert_string_equal(build(PQ_GPU_UTILIZATION, "della"),
                        "avg_over_time((nvidia_gpu_duty_cycle{cluster='della',jobid='123'} or "
                        "(nvidia_gpu_graphics_util_percent{cluster='della',jobid='123'} * 100))[3600s:])");
    assert_string_equal(build(PQ_CPUS, ""), "max_over_time(cgroup_cpus{jobid='123',step='',task=''}[3600s])");
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(promq_build(PQ_CPUS, "x", "1'} or up{a='", 60, &b), JT_ERR_USAGE);
    assert_int_equal(promq_build(PQ_CPUS, "x'y", "1", 60, &b), JT_ERR_USAGE);
    buf_free(&b);
    build(PQ_CPUS, ""); /* frees the static buffer's last contents on the next call */
}

static const char answer_cpus[] =
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
    "{\"metric\":{\"instance\":\"gn1:9306\",\"jobid\":\"123\"},\"value\":[1700000000,\"16\"]},"
    "{\"metric\":{\"instance\":\"gn2\",\"jobid\":\"123\"},\"value\":[1700000000,\"8\"]}]}}";
static const char answer_util[] =
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
    "{\"metric\":{\"instance\":\"gn1:9400\",\"minor_number\":\"3\"},\"value\":[1700000000,\"45.6789\"]},"
    "{\"metric\":{\"instance\":\"gn1:9400\",\"minor_number\":\"0\"},\"value\":[1700000000,\"0\"]}]}}";

static void test_answers(void **state)
{
    (void)state;
    char err[256];
    json_t *nodes = json_object();
    assert_int_equal(promq_parse_answer(PQ_CPUS, answer_cpus, strlen(answer_cpus), nodes, err, sizeof err), JT_OK);
    assert_int_equal(promq_parse_answer(PQ_GPU_UTILIZATION, answer_util, strlen(answer_util), nodes, err, sizeof err),
                     JT_OK);
    json_t *want = json_loads("{\"gn1\":{\"cpus\":16,\"gpu_utilization\":{\"3\":45.7,\"0\":0}},\"gn2\":{\"cpus\":8}}", 0, NULL);
    assert_true(json_equal(want, nodes));
    assert_true(json_is_integer(json_object_get(json_object_get(nodes, "gn1"), "cpus")));
    json_decref(want);
    json_decref(nodes);
}

static void expect_error(const char *body, const char *msg)
{
    char err[256] = "";
    json_t *nodes = json_object();
    assert_int_not_equal(promq_parse_answer(PQ_CPUS, body, strlen(body), nodes, err, sizeof err), JT_OK);
    if (!strstr(err, msg))
        fail_msg("error '%s' lacks '%s'", err, msg);
    json_decref(nodes);
}

static void test_bad_answers(void **state)
{
    (void)state;
    expect_error("{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at char 5\"}",
                 "Prometheus answered error: bad_data: parse error at char 5");
    expect_error("<html>502 Bad Gateway</html>", "not JSON");
    expect_error("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":", "not JSON");
    expect_error("{\"data\":{}}", "no \"status\"");
    expect_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}", "instant vector");
    expect_error("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"2\"]}]}}",
                 "lacks instance");
    expect_error("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"instance\":\"a\"},"
                 "\"value\":[1,\"0x10\"]}]}}", "bad value");
    /* 1e308 is a finite double, but x10 for the one-decimal rounding is not: a message, not garbage */
    expect_error("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"instance\":\"a\"},"
                 "\"value\":[1,\"1e308\"]}]}}", "out-of-range value '1e308'");
    expect_error("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"instance\":\"a\"},"
                 "\"value\":[1,\"-1e300\"]}]}}", "out-of-range");
}

static void test_sluid_queries(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(promq_build_job(PQ_CPUS, "della", "123", "S9x", 3600, &b), JT_OK);
    assert_string_equal(buf_str(&b), "max_over_time(cgroup_cpus{cluster='della',jobid='123',step='',task=''}[3600s]) or "
                                     "max_over_time(cgroup_cpus{cluster='della',jobid='S9x',step='',task=''}[3600s])");
    buf_reset(&b);
    assert_int_equal(promq_build_job(PQ_GPU_USED_MEMORY, "della", "123", "S9x", 3600, &b), JT_OK);
    assert_null(strstr(buf_str(&b), "S9x")); /* GPU series carry the job id from the prolog */
    buf_reset(&b);
    assert_int_equal(promq_build_job(PQ_CPUS, "della", "123", "", 3600, &b), JT_OK);
    assert_null(strstr(buf_str(&b), " or "));
    buf_reset(&b);
    assert_int_equal(promq_build_job(PQ_CPUS, "della", "123", "a'}", 3600, &b), JT_ERR_USAGE);
    buf_free(&b);
}

static void test_fast_set(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(promq_build_util_fast("della", "123", 3600, &b), JT_OK);
    assert_string_equal(buf_str(&b), "avg_over_time(nvidia_gpu_duty_cycle{cluster='della',jobid='123'}[3600s:])");
    buf_reset(&b);
    /* the probe covers the subquery's lookback before the job's start */
    assert_int_equal(promq_build_gpm_probe("della", "123", 3600, &b), JT_OK);
    assert_string_equal(buf_str(&b),
                        "count(count_over_time(nvidia_gpu_graphics_util_percent{cluster='della',jobid='123'}[7200s]))");
    buf_reset(&b);
    assert_int_equal(promq_build_gpm_probe("x", "1'}", 60, &b), JT_ERR_USAGE);
    buf_free(&b);
    char err[256] = "";
    double n = -1;
    const char *empty = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
    assert_int_equal(promq_parse_count(empty, strlen(empty), &n, err, sizeof err), JT_OK);
    assert_true(n == 0);
    const char *two = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"
                      "\"value\":[1,\"2\"]}]}}";
    assert_int_equal(promq_parse_count(two, strlen(two), &n, err, sizeof err), JT_OK);
    assert_true(n == 2);
    const char *bad = "{\"status\":\"error\",\"error\":\"boom\"}";
    assert_int_not_equal(promq_parse_count(bad, strlen(bad), &n, err, sizeof err), JT_OK);
    assert_non_null(strstr(err, "boom"));
}

#define MEM_SERIES(inst, job, v) "{\"metric\":{\"instance\":\"" inst "\",\"jobid\":\"" job "\"},\"value\":[1,\"" v "\"]}"
#define MEM_ANSWER(...) "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" __VA_ARGS__ "]}}"

/* Used memory in two parts: the queries, and the larger value per series, which is Princeton's. */
static void test_used_memory_parts(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(promq_build_used_memory_part(0, "della", "123", NULL, 3600, &b), JT_OK);
    assert_string_equal(buf_str(&b), "max_over_time((cgroup_memory_rss_bytes{cluster='della',jobid='123',step='',task=''} + "
                                     "cgroup_memory_shmem_bytes{cluster='della',jobid='123',step='',task=''})[3600s:])");
    buf_reset(&b);
    assert_int_equal(promq_build_used_memory_part(1, "", "123", "S1x", 60, &b), JT_OK);
    assert_string_equal(buf_str(&b), "max_over_time((cgroup_memory_rss_bytes{jobid='123',step='',task=''} unless "
                                     "cgroup_memory_shmem_bytes{jobid='123',step='',task=''})[60s:]) or "
                                     "max_over_time((cgroup_memory_rss_bytes{jobid='S1x',step='',task=''} unless "
                                     "cgroup_memory_shmem_bytes{jobid='S1x',step='',task=''})[60s:])");
    buf_reset(&b);
    assert_int_equal(promq_build_used_memory_part(1, "", "123", "S'}", 60, &b), JT_ERR_USAGE);
    assert_int_equal(promq_build_used_memory_part(0, "c'", "123", NULL, 60, &b), JT_ERR_USAGE);
    buf_free(&b);

    /* n1: shmem at some steps (sum 5 GiB) and rss alone at others (6 GiB): 6 GiB. n2: rss alone only.
     * n3: the sum only, the other part NaN. */
    const char *p0 = MEM_ANSWER(MEM_SERIES("n1:9306", "123", "5368709120") "," MEM_SERIES("n3:9306", "123", "1.5"));
    const char *p1 = MEM_ANSWER(MEM_SERIES("n1:9306", "123", "6442450944") "," MEM_SERIES("n2:9306", "123", "1024") ","
                                MEM_SERIES("n3:9306", "123", "NaN"));
    char err[256] = "";
    bool ambiguous = true;
    json_t *nodes = json_object();
    assert_int_equal(promq_parse_used_memory_parts(p0, strlen(p0), p1, strlen(p1), nodes, &ambiguous, err, sizeof err), JT_OK);
    assert_false(ambiguous);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(nodes, "n1"), "used_memory")), 6442450944LL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(nodes, "n2"), "used_memory")), 1024);
    assert_true(json_real_value(json_object_get(json_object_get(nodes, "n3"), "used_memory")) == 1.5);
    json_decref(nodes);
    /* the same in the other order: the larger wins whichever part holds it */
    nodes = json_object();
    assert_int_equal(promq_parse_used_memory_parts(p1, strlen(p1), p0, strlen(p0), nodes, &ambiguous, err, sizeof err), JT_OK);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(nodes, "n1"), "used_memory")), 6442450944LL);
    json_decref(nodes);
    /* two series on one node (another jobid label, e.g. the SLUID): Princeton's order decides, so no figure */
    const char *dup = MEM_ANSWER(MEM_SERIES("n1:9306", "123", "1") "," MEM_SERIES("n1:9306", "S1x", "2"));
    const char *none = MEM_ANSWER();
    nodes = json_object();
    assert_int_equal(promq_parse_used_memory_parts(dup, strlen(dup), none, strlen(none), nodes, &ambiguous, err, sizeof err), JT_OK);
    assert_true(ambiguous);
    assert_int_equal(json_object_size(nodes), 0);
    /* a refused value stays refused; an error answer is an error */
    const char *huge = MEM_ANSWER(MEM_SERIES("n1:9306", "123", "1e300"));
    assert_int_not_equal(promq_parse_used_memory_parts(huge, strlen(huge), none, strlen(none), nodes, &ambiguous, err, sizeof err), JT_OK);
    const char *bad = "{\"status\":\"error\",\"error\":\"boom\"}";
    assert_int_not_equal(promq_parse_used_memory_parts(none, strlen(none), bad, strlen(bad), nodes, &ambiguous, err, sizeof err), JT_OK);
    assert_non_null(strstr(err, "boom"));
    json_decref(nodes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries), cmocka_unit_test(test_answers), cmocka_unit_test(test_bad_answers),
        cmocka_unit_test(test_fast_set), cmocka_unit_test(test_sluid_queries), cmocka_unit_test(test_used_memory_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
