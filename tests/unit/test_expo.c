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

/* Every line of `text` is a whole sample or a comment: `name{...} value\n` with balanced quotes. */
static void assert_whole_lines(const char *text)
{
    size_t n = strlen(text);
    if (n == 0)
        return;
    assert_int_equal(text[n - 1], '\n');
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (line[0] != '#') {
            size_t quotes = 0;
            for (const char *p = line; p < nl; p++)
                if (*p == '"' && p[-1] != '\\')
                    quotes++;
            assert_int_equal(quotes % 2, 0);
            const char *sp = nl;
            while (sp > line && sp[-1] != ' ')
                sp--;
            assert_true(sp > line && sp < nl); /* a value after the last blank */
            assert_true(memchr(line, '{', (size_t)(nl - line)) == NULL || memchr(line, '}', (size_t)(nl - line)) != NULL);
        }
        line = nl + 1;
    }
}

/* issue 9 item 4: a label value that hits the family's cap half way used to leave `ok_metric{l="`
 * in the output; the line must be rolled back whole, and later lines that fit still written. */
static void test_cap_hit_mid_line_leaves_no_torn_line(void **state)
{
    (void)state;
    struct expo w;
    expo_init(&w, 96);
    struct expo_family *f = expo_family(&w, "ok_metric", METRIC_GAUGE, "A metric.");
    struct labelset ls;
    labelset_init(&ls);
    labelset_add(&ls, "l", "short");
    expo_sample(f, &ls, 1);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct labelset huge;
    labelset_init(&huge);
    labelset_add(&huge, "l", big);
    expo_sample(f, &huge, 2);
    assert_int_equal(w.err, JT_ERR_LIMIT);
    labelset_init(&ls);
    labelset_add(&ls, "l", "after");
    expo_sample(f, &ls, 3);
    struct buf out;
    const char *text = render(&w, &out);
    assert_whole_lines(text);
    assert_null(strstr(text, "xxx"));
    assert_string_equal(text, "# HELP ok_metric A metric.\n# TYPE ok_metric gauge\n"
                              "ok_metric{l=\"short\"} 1\nok_metric{l=\"after\"} 3\n");
    buf_free(&out);
    expo_free(&w);
}

/* The cap is reached in the middle of a second family's first line: that family stays empty (no
 * HELP/TYPE without samples) and the first family is intact. */
static void test_cap_hit_in_second_family_keeps_first_whole(void **state)
{
    (void)state;
    struct expo w;
    expo_init(&w, 40);
    expo_sample(expo_family(&w, "a_metric", METRIC_GAUGE, NULL), NULL, 1);
    struct labelset ls;
    labelset_init(&ls);
    labelset_add(&ls, "label", "a value long enough to cross the cap");
    expo_sample(expo_family(&w, "b_metric", METRIC_GAUGE, NULL), &ls, 2);
    assert_int_equal(w.err, JT_ERR_LIMIT);
    struct buf out;
    const char *text = render(&w, &out);
    assert_whole_lines(text);
    assert_string_equal(text, "# TYPE a_metric gauge\na_metric 1\n");
    buf_free(&out);
    expo_free(&w);
}

/* Rendering into a buffer too small for the whole exposition gives the buffer back as it was. */
static void test_render_is_all_or_nothing(void **state)
{
    (void)state;
    struct expo w;
    expo_init(&w, 1 << 20);
    for (int i = 0; i < 20; i++)
        expo_sample(expo_family(&w, "m", METRIC_GAUGE, "Help."), NULL, i);
    struct buf out;
    buf_init(&out, 64);
    buf_puts(&out, "kept\n");
    assert_int_equal(expo_render(&w, &out), JT_ERR_LIMIT);
    assert_int_equal(out.len, 5);
    assert_string_equal(out.data, "kept\n");
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
        cmocka_unit_test(test_cap_hit_mid_line_leaves_no_torn_line),
        cmocka_unit_test(test_cap_hit_in_second_family_keeps_first_whole),
        cmocka_unit_test(test_render_is_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
