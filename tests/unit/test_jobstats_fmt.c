/* test_jobstats_fmt.c - report pieces: [D-]HH:MM:SS, 1024-based sizes, 50-wide meters, time limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobstats/jobstats_fmt.h"

static char s[128];

static void test_durations(void **state)
{
    (void)state;
    fmt_duration(s, sizeof s, 0);
    assert_string_equal(s, "00:00:00");
    fmt_duration(s, sizeof s, 59.6);
    assert_string_equal(s, "00:01:00");
    fmt_duration(s, sizeof s, 67316);
    assert_string_equal(s, "18:41:56");
    fmt_duration(s, sizeof s, 86400);
    assert_string_equal(s, "1-00:00:00");
    fmt_duration(s, sizeof s, 3 * 86400 + 3661);
    assert_string_equal(s, "3-01:01:01");
    fmt_duration(s, sizeof s, -5);
    assert_string_equal(s, "00:00:00");
    fmt_time_limit(s, sizeof s, 5760);
    assert_string_equal(s, "4-00:00:00");
    fmt_time_limit(s, sizeof s, -1);
    assert_string_equal(s, "UNLIMITED");
}

static void test_bytes(void **state)
{
    (void)state;
    fmt_bytes(s, sizeof s, 0);
    assert_string_equal(s, "0.0B");
    fmt_bytes(s, sizeof s, 512);
    assert_string_equal(s, "512.0B");
    fmt_bytes(s, sizeof s, 1024);
    assert_string_equal(s, "1.0KB");
    fmt_bytes(s, sizeof s, 7.9 * 1024 * 1024 * 1024);
    assert_string_equal(s, "7.9GB");
    fmt_bytes(s, sizeof s, 335.5 * 1024 * 1024);
    assert_string_equal(s, "335.5MB");
    fmt_bytes(s, sizeof s, 3.0 * 1024 * 1024 * 1024 * 1024 * 1024 * 1024);
    assert_string_equal(s, "3072.0PB");
    fmt_bytes_short(s, sizeof s, 256.0 * 1024 * 1024 * 1024);
    assert_string_equal(s, "256GB");
    fmt_bytes_short(s, sizeof s, 5.3 * 1024 * 1024 * 1024);
    assert_string_equal(s, "5.3GB");
}

static void test_meters(void **state)
{
    (void)state;
    fmt_meter(s, sizeof s, 10);
    assert_string_equal(s, "[|||||                                          10%]");
    assert_int_equal(strlen(s), 52);
    fmt_meter(s, sizeof s, 0);
    assert_string_equal(s, "[                                                0%]");
    fmt_meter(s, sizeof s, 100);
    /* 50 bars would overlap the text: they give way. */
    assert_string_equal(s, "[||||||||||||||||||||||||||||||||||||||||||||||100%]");
    fmt_meter(s, sizeof s, 97);
    assert_string_equal(s, "[|||||||||||||||||||||||||||||||||||||||||||||||97%]");
    fmt_meter(s, sizeof s, 250);
    assert_int_equal(strlen(s), 52);
    fmt_meter(s, sizeof s, -3);
    assert_string_equal(s, "[                                               -3%]");
}

static void test_start_time(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    fmt_start_time(s, sizeof s, 1646358960); /* 2022-03-04 01:56 UTC */
    assert_string_equal(s, "Fri Mar 4, 2022 at 1:56 AM");
    fmt_start_time(s, sizeof s, 1646409600); /* 16:00 */
    assert_string_equal(s, "Fri Mar 4, 2022 at 4:00 PM");
    fmt_start_time(s, sizeof s, 1646352000); /* midnight */
    assert_string_equal(s, "Fri Mar 4, 2022 at 12:00 AM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations), cmocka_unit_test(test_bytes), cmocka_unit_test(test_meters),
        cmocka_unit_test(test_start_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
