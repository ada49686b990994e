/* test_grpc_message.c - the kubelet's grpc-message: percent-decoded as the gRPC spec says (an invalid
 * %-sequence kept as it is), control bytes neutralised, bounded, and one log line once logged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "kube/grpc_h2.h"

static void test_decode_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"plain message", "plain message"},
        {"100%25 sure", "100% sure"},
        {"caf%C3%A9", "caf\xc3\xa9"},          /* UTF-8 underneath */
        {"%e2%82%ac", "\xe2\x82\xac"},         /* lower-case hex */
        {"line%0Abreak%0D%09tab", "line?break??tab"},
        {"nul%00inside", "nul?inside"},        /* would end the C string */
        {"raw\nnewline\x7f", "raw?newline?"},  /* unencoded control bytes from a sloppy peer */
        {"bad %zz and %4", "bad %zz and %4"},  /* invalid sequences kept */
        {"ends with %", "ends with %"},
        {"%2", "%2"},
        {"quote%22back%5C", "quote\"back\\"},  /* left to the log's escaping */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        size_t n = grpc_message_decode(out, sizeof out, cases[i].in, strlen(cases[i].in));
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
}

static void test_decode_is_bounded(void **state)
{
    (void)state;
    char out[4];
    memset(out, 'X', sizeof out);
    assert_int_equal(grpc_message_decode(out, sizeof out, "%41%42%43%44", 12), 3);
    assert_string_equal(out, "ABC");
    assert_int_equal(grpc_message_decode(out, 1, "abc", 3), 0);
    assert_string_equal(out, "");
    assert_int_equal(grpc_message_decode(out, 0, "abc", 3), 0);
    /* Not NUL-terminated input: only n bytes are looked at, a %-sequence cut by n stays literal. */
    assert_int_equal(grpc_message_decode(out, sizeof out, "%4142", 2), 2);
    assert_string_equal(out, "%4");
}

/* Decoded and then logged: one line, the quotes escaped by the log. */
static void test_decoded_message_logs_as_one_field(void **state)
{
    (void)state;
    const char *hostile = "x%22 level=debug msg=%22forged%0Ats=0";
    char msg[256];
    grpc_message_decode(msg, sizeof msg, hostile, strlen(hostile));
    char esc[512];
    log_escape(esc, sizeof esc, msg, strlen(msg));
    assert_string_equal(esc, "x\\\" level=debug msg=\\\"forged?ts=0");
    assert_null(strchr(esc, '\n'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_decode_is_bounded),
        cmocka_unit_test(test_decoded_message_logs_as_one_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
