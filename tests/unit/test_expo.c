/* test_expo.c - the exposition writer: grouping, ordering, escaping, number formatting, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/expo.h"

static char *render(struct expo *w, struct buf *out)
{
    buf_init(out, 1 << 20);
    assert_int_equal(expo_render(w, out), JT_OK);
    return out->data ? out->data : "";
}

static void test_groups_families_in_first_seen_order(void **state)
{
    (void)state;
    struct expo w;
    expo_init(&w, 1 << 20);
    struct labelset a, b;
    labelset_init(&a);
    labelset_add(&a, "gpu", "0");
    labelset_init(&b);
    labelset_add(&b, "gpu", "1");
    expo_sample(expo_family(&w, "m_temp", METRIC_GAUGE, "Temp."), &a, 40);
    expo_sample(expo_family(&w, "m_power", METRIC_COUNTER, "Power."), &a, 100);
    /* Second sample of the first family, added after another family: must still be grouped. */
    expo_sample(expo_family(&w, "m_temp", METRIC_GAUGE, "ignored"), &b, 41.5);
    struct buf out;
    const char *text = render(&w, &out);
    assert_string_equal(text, "# HELP m_temp Temp.\n# TYPE m_temp gauge\n"
                              "m_temp{gpu=\"0\"} 40\nm_temp{gpu=\"1\"} 41.5\n"
                              "# HELP m_power Power.\n# TYPE m_power counter\nm_power{gpu=\"0\"} 100\n");
    buf_free(&out);
    expo_free(&w);
}

static void test_escapes_label_values_and_help(void **state)
{
    (void)state;
    struct expo w;
    expo_init(&w, 1 << 20);
    struct labelset ls;
    labelset_init(&ls);
    labelset_add(&ls, "name", "a\\b\"c\nd");
    labelset_add(&ls, "skipped", NULL);
    labelset_add(&ls, "empty", "");
    expo_sample(expo_family(&w, "m", METRIC_GAUGE, "line\\one\ntwo"), &ls, 1);
    struct buf out;
    const char *text = render(&w, &out);
    assert_string_equal(text, "# HELP m line\\\\one\\ntwo\n# TYPE m gauge\n"
                              "m{name=\"a\\\\b\\\"c\\nd\",empty=\"\"} 1\n");
    buf_free(&out);
    expo_free(&w);
}

static void test_number_formats(void **state)
{
    (void)state;
    char s[40];
    expo_format_double(s, sizeof s, 0);
    assert_string_equal(s, "0");
    expo_format_double(s, sizeof s, 81559.0 * 1048576);
    assert_string_equal(s, "85520809984");
    expo_format_double(s, sizeof s, 0.1);
    assert_string_equal(s, "0.1");
    expo_format_double(s, sizeof s, 1.0 / 3);
    assert_string_equal(s, "0.33333333333333331");
    expo_format_double(s, sizeof s, -2.5);
    assert_string_equal(s, "-2.5");
    expo_format_double(s, sizeof s, 0.0 / 0.0);
    assert_string_equal(s, "NaN");
    expo_format_double(s, sizeof s, -1.0 / 0.0);
    assert_string_equal(s, "-Inf");
    struct expo w;
    expo_init(&w, 1 << 20);
    expo_sample_u64(expo_family(&w, "big", METRIC_COUNTER, NULL), NULL, UINT64_MAX);
    struct buf out;
    assert_string_equal(render(&w, &out), "# TYPE big counter\nbig 18446744073709551615\n");
    buf_free(&out);
    expo_free(&w);
}

static void test_cap_drops_whole_lines_and_reports(void **state)
{
    (void)state;
    struct expo w;
    expo_init(&w, 64);
    struct expo_family *f = expo_family(&w, "metric_with_a_long_name", METRIC_GAUGE, NULL);
    for (int i = 0; i < 10; i++)
        expo_sample(f, NULL, i);
    assert_int_equal(w.err, JT_ERR_LIMIT);
    struct buf out;
    const char *text = render(&w, &out);
    /* Only whole lines survive: every line ends with a newline and a value. */
    assert_true(strlen(text) > 0);
    assert_int_equal(text[strlen(text) - 1], '\n');
    assert_null(strstr(text, "metric_with_a_long_name 2\n"));
    buf_free(&out);
    expo_free(&w);
}

static void test_too_many_labels_is_an_error_not_a_truncated_series(void **state)
{
    (void)state;
    struct expo w;
    expo_init(&w, 1 << 20);
    struct labelset ls;
    labelset_init(&ls);
    for (int i = 0; i < LABELSET_MAX + 1; i++)
        labelset_add(&ls, "l", "v");
    expo_sample(expo_family(&w, "m", METRIC_GAUGE, NULL), &ls, 1);
    assert_int_equal(w.err, JT_ERR_LIMIT);
    struct buf out;
    assert_string_equal(render(&w, &out), "");
    buf_free(&out);
    expo_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_families_in_first_seen_order),
        cmocka_unit_test(test_escapes_label_values_and_help),
        cmocka_unit_test(test_number_formats),
        cmocka_unit_test(test_cap_drops_whole_lines_and_reports),
        cmocka_unit_test(test_too_many_labels_is_an_error_not_a_truncated_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
