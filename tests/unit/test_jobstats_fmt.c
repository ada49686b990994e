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
    fmt_duration(s, sizeof s, 59.6); /* Princeton floors the seconds (jobstats.md §1.5a) */
    assert_string_equal(s, "00:00:59");
    fmt_duration(s, sizeof s, 57620.9);
    assert_string_equal(s, "16:00:20");
    fmt_duration(s, sizeof s, 1e300); /* no overflow in the conversion */
    assert_true(strlen(s) > 0);
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

static void test_princeton_rules(void **state)
{
    (void)state;
    /* round(x, 1) then int(): 92.96 -> 93.0 -> 93, 92.94 -> 92.9 -> 92; ties to even as Python's */
    assert_true(fmt_round1(92.96) == 93.0);
    assert_true(fmt_round1(92.94) == 92.9);
    assert_true(fmt_round0(92.5) == 92.0);
    assert_true(fmt_round0(93.5) == 94.0);
    assert_true(fmt_round0(0.5) == 0.0);
    fmt_reqmem_header(s, sizeof s, "10G", 40);
    assert_string_equal(s, "10GB (250MB per CPU-core)");
    fmt_reqmem_header(s, sizeof s, "10G", 15);
    assert_string_equal(s, "10GB (666.7MB per CPU-core)");
    fmt_reqmem_header(s, sizeof s, "350M", 1);
    assert_string_equal(s, "350MB");
    fmt_reqmem_header(s, sizeof s, "4000M", 4);
    assert_string_equal(s, "4GB (1GB per CPU-core)");
    fmt_reqmem_header(s, sizeof s, "1.50G", 3);
    assert_string_equal(s, "1.5GB (500MB per CPU-core)");
    fmt_reqmem_header(s, sizeof s, "4000Mc", 4); /* no unit at the end: as sacct printed it */
    assert_string_equal(s, "4000Mc");
    fmt_reqmem_header(s, sizeof s, "8G", 0);
    assert_string_equal(s, "8GB");
    fmt_bytes_alloc(s, sizeof s, 128.0 * 1024 * 1024 * 1024);
    assert_string_equal(s, "128GB");
    fmt_bytes_alloc(s, sizeof s, 350.0 * 1024 * 1024);
    assert_string_equal(s, "350.0MB");
    fmt_py_number(s, sizeof s, 24, true);
    assert_string_equal(s, "24");
    fmt_py_number(s, sizeof s, 65, false);
    assert_string_equal(s, "65.0");
    fmt_py_number(s, sizeof s, 45.6789, false);
    assert_string_equal(s, "45.6789");
    fmt_py_number(s, sizeof s, 0.1, false);
    assert_string_equal(s, "0.1");
    fmt_center(s, sizeof s, "Notes", 80);
    assert_int_equal(strlen(s), 80);
    assert_memory_equal(s + 37, "Notes", 5);
}

static void test_clean(void **state)
{
    (void)state;
    char d[64];
    fmt_clean(d, sizeof d, "train\x1b[2J\x1b]0;pwned\x07|run", false); /* ESC and BEL neutralised */
    assert_string_equal(d, "train?[2J?]0;pwned?|run");
    fmt_clean(d, sizeof d, "a\xc2\x9b" "31mb", false); /* C1 CSI (U+009B) */
    assert_string_equal(d, "a?" "?31mb");
    fmt_clean(d, sizeof d, "\x9b" "1m\xff\x7f", false); /* stray bytes, DEL */
    assert_string_equal(d, "?1m??");
    fmt_clean(d, sizeof d, "caf\xc3\xa9 \xe2\x9c\x93", false); /* UTF-8 stays */
    assert_string_equal(d, "caf\xc3\xa9 \xe2\x9c\x93");
    fmt_clean(d, sizeof d, "l1\n\tl2\r", true);
    assert_string_equal(d, "l1\n\tl2?");
    fmt_clean(d, sizeof d, "l1\nl2", false);
    assert_string_equal(d, "l1?l2");
    fmt_clean(d, 4, "abcdef", false);
    assert_string_equal(d, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations), cmocka_unit_test(test_bytes), cmocka_unit_test(test_meters),
        cmocka_unit_test(test_princeton_rules), cmocka_unit_test(test_clean),
        cmocka_unit_test(test_start_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
