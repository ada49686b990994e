/* test_cpulist.c - counting CPUs in kernel CPU lists, and refusing what the kernel never writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/cpulist.h"

static uint32_t count_ok(const char *s)
{
    uint32_t n = 12345;
    assert_true(cpulist_count(s, strlen(s), &n));
    return n;
}

static void assert_rejected(const char *s)
{
    uint32_t n = 777;
    assert_false(cpulist_count(s, strlen(s), &n));
    assert_int_equal(n, 777); /* left alone */
}

static void test_counts_ranges_and_singles(void **state)
{
    (void)state;
    assert_int_equal(count_ok("0-3,8,10-11\n"), 7);
    assert_int_equal(count_ok("0"), 1);
    assert_int_equal(count_ok("5\n"), 1);
    assert_int_equal(count_ok("0-63"), 64);
    assert_int_equal(count_ok("1,3,5,7"), 4);
    assert_int_equal(count_ok("0-1,4-5,8-9,12-13"), 8);
    assert_int_equal(count_ok("7-7"), 1);
    assert_int_equal(count_ok("0-1048575"), 1048576);
}

static void test_empty_list_is_zero(void **state)
{
    (void)state;
    assert_int_equal(count_ok(""), 0);
    assert_int_equal(count_ok("\n"), 0);
    assert_int_equal(count_ok("  \n"), 0);
}

static void test_rejects_malformed(void **state)
{
    (void)state;
    assert_rejected("a");
    assert_rejected("0-");
    assert_rejected("-3");
    assert_rejected("0,,2");
    assert_rejected("0,");
    assert_rejected(",0");
    assert_rejected("3-1");        /* descending range */
    assert_rejected("4,2");        /* items out of order */
    assert_rejected("0-3,2-5");    /* overlap would count CPUs twice */
    assert_rejected("0-3,3");
    assert_rejected("0 1");
    assert_rejected("0-7:2/4");    /* boot-parameter group syntax: never in cpuset files */
    assert_rejected("1048576");    /* above CPULIST_MAX_CPU */
    assert_rejected("99999999999999999999999");
    assert_rejected("0x1");
}

static void test_bounded_by_length(void **state)
{
    (void)state;
    /* The length is what counts, not a terminator: "0-3" out of "0-39". */
    uint32_t n = 0;
    assert_true(cpulist_count("0-39", 3, &n));
    assert_int_equal(n, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_ranges_and_singles),
        cmocka_unit_test(test_empty_list_is_zero),
        cmocka_unit_test(test_rejects_malformed),
        cmocka_unit_test(test_bounded_by_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
