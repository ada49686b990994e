/* test_exact.c - exact totals from Prometheus answers (src/jobstats/exact.c): the one query, the join to
 * Princeton's per-minor-number keys, and every answer that must not produce a figure (hostile values,
 * duplicate minor numbers, MIG instances, a GPU without totals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jobstats/exact.h"

/* One series of the totals answer. */
#define TOT(k, inst, gpu, v) "{\"metric\":{\"k\":\"" k "\",\"instance\":\"" inst "\",\"gpu\":\"" gpu "\",\"hostname\":\"n1\"},\"value\":[1,\"" v "\"]}"
#define INV(inst, ord, minor, v) "{\"metric\":{\"instance\":\"" inst "\",\"ordinal\":\"" ord "\",\"minor_number\":\"" minor "\"},\"value\":[1,\"" v "\"]}"
#define ANSWER(...) "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" __VA_ARGS__ "]}}"

static const char *good_totals =
    ANSWER(TOT("alloc", "n1:9400", "0", "100") "," TOT("busy", "n1:9400", "0", "25") "," TOT("energy", "n1:9400", "0", "30000")
           "," TOT("mem_peak", "n1:9400", "0", "1073741824") "," TOT("alloc", "n1:9400", "1", "100")
           "," TOT("busy", "n1:9400", "1", "50") "," TOT("mem_peak", "n1:9400", "1", "2147483648"));
static const char *good_inventory = ANSWER(INV("n1:9400", "0", "3", "85899345920") "," INV("n1:9400", "1", "1", "85899345920"));

static json_t *fold(const char *tot, const char *inv, bool *keys, bool *incomplete, enum jt_err *rc)
{
    json_t *s = json_pack("{s:{}}", "nodes");
    char err[256] = "";
    *rc = exact_fold(tot, strlen(tot), inv, strlen(inv), 0, s, keys, incomplete, err, sizeof err);
    if (*rc != JT_OK)
        assert_true(err[0] != '\0');
    return s;
}

static void test_query(void **state)
{
    (void)state;
    struct buf q;
    buf_init(&q, 1 << 16);
    assert_int_equal(exact_build_totals("", "42", 3600, &q), JT_OK);
    assert_non_null(strstr(buf_str(&q), "label_replace(max_over_time(jobtel_job_gpu_busy_seconds_total{jobid='42'}[3600s]),'k','busy','','')"));
    assert_non_null(strstr(buf_str(&q), " or label_replace(max_over_time(jobtel_job_gpu_memory_peak_bytes{jobid='42'}[3600s]),'k','mem_peak','','')"));
    buf_reset(&q);
    assert_int_equal(exact_build_totals("c'x", "42", 10, &q), JT_ERR_USAGE);
    assert_int_equal(exact_build_totals("", "42 or 1", 10, &q), JT_ERR_USAGE);
    buf_reset(&q);
    assert_int_equal(exact_build_inventory("tc", "42", 10, &q), JT_OK);
    assert_string_equal(buf_str(&q), "max_over_time(nvidia_gpu_memory_total_bytes{cluster='tc',jobid='42'}[10s])");
    buf_free(&q);
}

static void test_join(void **state)
{
    (void)state;
    bool keys, inc;
    enum jt_err rc;
    json_t *s = fold(good_totals, good_inventory, &keys, &inc, &rc);
    assert_int_equal(rc, JT_OK);
    assert_true(keys);
    assert_false(inc);
    json_t *n = json_object_get(json_object_get(s, "nodes"), "n1");
    /* ordinal 0 is minor 3: 25 %; ordinal 1 is minor 1: 50 % */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(n, "gpu_utilization"), "3")), 25);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(n, "gpu_utilization"), "1")), 50);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(n, "gpu_used_memory"), "1")), 2147483648);
    json_t *jt = json_object_get(s, "jobtel");
    assert_true(json_real_value(json_object_get(jt, "gpu_util_exact")) == 37.5);
    assert_true(json_real_value(json_object_get(jt, "energy_j")) == 30000);
    /* GPU 1 has no energy series: no energy key, never a 0 */
    assert_null(json_object_get(json_object_get(json_object_get(json_object_get(jt, "nodes"), "n1"), "1"), "energy"));
    json_decref(s);
}

static void test_no_princeton_keys(void **state)
{
    (void)state;
    bool keys, inc;
    enum jt_err rc;
    /* A GPU of the inventory without totals: the exact section, but Princeton's keys from his queries. */
    json_t *s = fold(good_totals, ANSWER(INV("n1:9400", "0", "3", "1") "," INV("n1:9400", "1", "1", "1") "," INV("n1:9400", "2", "2", "1")), &keys, &inc, &rc);
    assert_int_equal(rc, JT_OK);
    assert_false(keys);
    assert_true(inc);
    assert_non_null(json_object_get(s, "jobtel"));
    assert_int_equal(json_object_size(json_object_get(s, "nodes")), 0);
    json_decref(s);
    /* The same minor number twice on a node: not a join to trust. */
    s = fold(good_totals, ANSWER(INV("n1:9400", "0", "3", "1") "," INV("n1:9400", "1", "3", "1")), &keys, &inc, &rc);
    assert_int_equal(rc, JT_OK);
    assert_false(keys);
    json_decref(s);
    /* No ordinal label (Princeton's own exporter): no join. */
    s = fold(good_totals, ANSWER("{\"metric\":{\"instance\":\"n1:9400\",\"minor_number\":\"3\"},\"value\":[1,\"1\"]}"), &keys, &inc, &rc);
    assert_int_equal(rc, JT_OK);
    assert_false(keys);
    json_decref(s);
    /* A MIG instance: utilization of a slice is not Princeton's figure. */
    s = fold(ANSWER("{\"metric\":{\"k\":\"alloc\",\"instance\":\"n1\",\"gpu\":\"0\",\"GPU_I_ID\":\"1\"},\"value\":[1,\"10\"]}"),
             ANSWER(INV("n1", "0", "0", "1")), &keys, &inc, &rc);
    assert_int_equal(rc, JT_OK);
    assert_false(keys);
    assert_non_null(json_object_get(json_object_get(json_object_get(json_object_get(s, "jobtel"), "nodes"), "n1"), "0.1"));
    json_decref(s);
    /* No series at all: no "jobtel" key; incomplete when the job has GPUs. */
    s = fold(ANSWER(""), good_inventory, &keys, &inc, &rc);
    assert_int_equal(rc, JT_OK);
    assert_null(json_object_get(s, "jobtel"));
    assert_true(inc);
    json_decref(s);
}

/* A short window's inventory must list as many GPUs as sacct gave the job (want_gpus), else a GPU whose
 * series stopped before the window would vanish from the report: no Princeton keys, incomplete. */
static void test_want_gpus(void **state)
{
    (void)state;
    for (size_t want = 1; want <= 3; want++) {
        json_t *s = json_pack("{s:{}}", "nodes");
        char err[256] = "";
        bool keys, inc;
        assert_int_equal(exact_fold(good_totals, strlen(good_totals), good_inventory, strlen(good_inventory), want, s,
                                    &keys, &inc, err, sizeof err),
                         JT_OK);
        assert_true(keys == (want == 2));
        assert_true(inc == (want != 2));
        assert_non_null(json_object_get(s, "jobtel")); /* the totals themselves stand */
        if (want != 2)
            assert_int_equal(json_object_size(json_object_get(s, "nodes")), 0);
        json_decref(s);
    }
}

static void test_hostile(void **state)
{
    (void)state;
    bool keys, inc;
    enum jt_err rc;
    const char *bad[] = {
        ANSWER(TOT("alloc", "n1", "0", "-5")),          ANSWER(TOT("alloc", "n1", "0", "NaN")),
        ANSWER(TOT("alloc", "n1", "0", "1e308")),       ANSWER(TOT("alloc", "n1", "0", "Inf")),
        ANSWER(TOT("alloc", ":9400", "0", "1")),        ANSWER(TOT("alloc", "n1", "", "1")),
        ANSWER(TOT("alloc", "n1", "123456789012", "1")), "{\"status\":\"error\",\"error\":\"bad\"}",
        "<html>", "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *s = fold(bad[i], good_inventory, &keys, &inc, &rc);
        if (rc == JT_OK)
            fail_msg("answer %zu accepted: %s", i, bad[i]);
        assert_null(json_object_get(s, "jobtel"));
        assert_int_equal(json_object_size(json_object_get(s, "nodes")), 0);
        json_decref(s);
    }
    /* A bad inventory value: the exact section stays, Princeton's keys do not come from it. */
    json_t *s = fold(good_totals, ANSWER(INV("n1:9400", "0", "3", "-1") "," INV("n1:9400", "1", "1", "1")), &keys, &inc, &rc);
    assert_int_equal(rc, JT_OK);
    assert_false(keys);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query), cmocka_unit_test(test_join), cmocka_unit_test(test_no_princeton_keys),
        cmocka_unit_test(test_hostile), cmocka_unit_test(test_want_gpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
