/* test_log.c - log lines stay one logfmt line whatever the message holds (quotes, backslashes,
 * newlines, control bytes), and log_escape never writes half an escape or past its buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "capture.h"
#include "common/log.h"

static void test_escape_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"plain text", 10, "plain text"},
        {"say \"hi\"", 8, "say \\\"hi\\\""},
        {"C:\\dir", 6, "C:\\\\dir"},
        {"a\nb\rc\td", 7, "a\\nb\\rc\\td"},
        {"\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f"},
        {"nul\0byte", 8, "nul\\u0000byte"},
        {"caf\xc3\xa9", 5, "caf\xc3\xa9"}, /* UTF-8 passes through */
        {"", 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        size_t n = log_escape(out, sizeof out, cases[i].in, cases[i].n);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
}

static void test_escape_truncates_on_an_escape_boundary(void **state)
{
    (void)state;
    char out[6];
    memset(out, 'X', sizeof out);
    /* "ab\"c": a b \ " needs 4 bytes; with 5 usable "ab\"" fits, then 'c' too. */
    assert_int_equal(log_escape(out, sizeof out, "ab\"cd", 5), 5);
    assert_string_equal(out, "ab\\\"c");
    /* Only 3 usable: "ab" and not a lone backslash. */
    assert_int_equal(log_escape(out, 4, "ab\"c", 4), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(log_escape(out, 4, "\x01", 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(log_escape(out, 0, "x", 1), 0);
}

/* Runs log_error(fmt, arg) with stderr captured; returns the malloc'd output. */
static char *capture(const char *arg)
{
    struct capture c;
    capture_begin(&c);
    log_setup(LOG_LVL_INFO, "test", false);
    log_error("peer said %s", arg);
    return capture_end(&c);
}

static void test_hostile_message_stays_one_line(void **state)
{
    (void)state;
    char *text = capture("x\" level=debug msg=\"forged\nts=0 level=error msg=\"second\\");
    /* One line, ending in the closing quote of msg. */
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_null(strchr(nl + 1, '\n'));
    assert_true(nl > text && nl[-1] == '"');
    const char *msg = strstr(text, " msg=\"");
    assert_non_null(msg);
    assert_string_equal(msg, " msg=\"peer said x\\\" level=debug msg=\\\"forged\\nts=0 level=error msg=\\\"second\\\\\"\n");
    assert_non_null(strstr(text, " level=error msg="));
    free(text);
}

static void test_long_message_is_cut_but_closed(void **state)
{
    (void)state;
    char big[3000];
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *text = capture(big);
    size_t n = strlen(text);
    assert_true(n >= 3);
    assert_int_equal(text[n - 1], '\n');
    assert_int_equal(text[n - 2], '"');
    assert_int_equal(text[n - 3], '"'); /* the last kept escape is whole: \" then the closing quote */
    assert_int_equal(text[n - 4], '\\');
    assert_ptr_equal(strchr(text, '\n'), text + n - 1);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_escape_truncates_on_an_escape_boundary),
        cmocka_unit_test(test_hostile_message_stays_one_line),
        cmocka_unit_test(test_long_message_is_cut_but_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
