/* test_http.c - the HTTP front's pure parts: Accept-Encoding negotiation (q-values, x-gzip, "*",
 * malformed elements) and listen-address splitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/http.h"

static void test_accept_encoding(void **state)
{
    (void)state;
    static const struct {
        const char *ae;
        bool gzip;
    } cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZip", true},
        {"x-gzip", true},
        {"gzip, deflate, br", true},
        {"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
        {" gzip ; q=0.5 ", true},
        {"*", true},
        {"*;q=0.001", true},
        {"gzip;q=0", false},
        {"gzip;q=0.0", false},
        {"gzip; q=0.000", false},
        {"gzip;Q=0", false},
        {"gzip;q=0, *", false},      /* gzip refused by name beats the wildcard */
        {"*, gzip;q=0", false},
        {"*;q=0", false},
        {"identity", false},
        {"identity, *;q=0", false},
        {"deflate", false},
        {"gzipx", false},
        {"xgzip", false},
        {"gzip;q=2", false},         /* malformed qvalue: the element is ignored */
        {"gzip;q=0.5000", false},
        {"gzip;q=", false},
        {"gzip;q=1.001", false},
        {"gzip;level=9", true},      /* other parameters are allowed */
        {"gzip;q=0.5;level=9", true},
        {",,gzip,,", true},
        {"gzip;q=0, gzip;q=1", true}, /* the best of repeated mentions */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (http_accepts_gzip(cases[i].ae) != cases[i].gzip)
            fail_msg("Accept-Encoding '%s': want gzip=%d", cases[i].ae ? cases[i].ae : "(none)", cases[i].gzip);
    }
}

static void test_split_address(void **state)
{
    (void)state;
    char host[64], port[16];
    assert_int_equal(http_split_address(":9400", host, sizeof host, port, sizeof port), JT_OK);
    assert_string_equal(host, "");
    assert_string_equal(port, "9400");
    assert_int_equal(http_split_address("[::1]:0", host, sizeof host, port, sizeof port), JT_OK);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "0");
    assert_int_equal(http_split_address("127.0.0.1:65535", host, sizeof host, port, sizeof port), JT_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(http_split_address("127.0.0.1:65536", host, sizeof host, port, sizeof port), JT_ERR_USAGE);
    assert_int_equal(http_split_address("9400", host, sizeof host, port, sizeof port), JT_ERR_USAGE);
    assert_int_equal(http_split_address("[::1]9400", host, sizeof host, port, sizeof port), JT_ERR_USAGE);
    assert_int_equal(http_split_address(":94x", host, sizeof host, port, sizeof port), JT_ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_encoding),
        cmocka_unit_test(test_split_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
