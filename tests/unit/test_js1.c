/* test_js1.c - JS1 summaries: Princeton's vectors (made by Python) decode, ours round-trip, and the
 * case-proof base32 spelling survives the lowercasing that Slurm 22.05's sacctmgr applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobstats/js1.h"
#include "common/fileio.h"

static void test_python_vectors_decode(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/jobstats/js1_vectors.txt", getenv("FIXTURES"));
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(file_read(path, 1 << 20, &b), JT_OK);
    int n = 0;
    for (char *line = b.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        json_t *want = json_loads(tab + 1, 0, NULL), *got = NULL;
        enum js1_kind kind;
        assert_non_null(want);
        assert_int_equal(js1_decode_comment(line, &kind, &got), JT_OK);
        assert_int_equal(kind, JS1_DATA);
        assert_true(json_equal(want, got));

        /* Ours re-encodes to something that decodes to the same, in both spellings. */
        for (int enc = 0; enc < 2; enc++) {
            struct buf out;
            buf_init(&out, 1 << 20);
            assert_int_equal(js1_encode_comment(got, enc ? JS1_ENC_BASE32 : JS1_ENC_BASE64, &out), JT_OK);
            json_t *again = NULL;
            assert_int_equal(js1_decode_comment(buf_str(&out), &kind, &again), JT_OK);
            assert_true(json_equal(want, again));
            json_decref(again);
            buf_free(&out);
        }
        json_decref(want);
        json_decref(got);
        n++;
    }
    assert_int_equal(n, 3);
    buf_free(&b);
}

static void test_short_none_and_foreign(void **state)
{
    (void)state;
    enum js1_kind kind;
    json_t *s = (json_t *)1;
    assert_int_equal(js1_decode_comment("JS1:Short", &kind, &s), JT_OK);
    assert_int_equal(kind, JS1_SHORT);
    assert_null(s);
    assert_int_equal(js1_decode_comment("JS1:None", &kind, &s), JT_OK);
    assert_int_equal(kind, JS1_NODATA);
    assert_int_equal(js1_decode_comment("", &kind, &s), JT_OK);
    assert_int_equal(kind, JS1_NONE_STORED);
    assert_int_equal(js1_decode_comment("ticket 1234: node swapped", &kind, &s), JT_OK);
    assert_int_equal(kind, JS1_NONE_STORED);
}

static void test_lowercasing(void **state)
{
    (void)state;
    json_t *sum = json_pack("{s:{s:{s:i,s:f}},s:i,s:i}", "nodes", "n1", "cpus", 4, "total_time", 10.5,
                            "total_time", 600, "gpus", 0);
    assert_non_null(sum);
    struct buf b64, b32;
    buf_init(&b64, 1 << 20);
    buf_init(&b32, 1 << 20);
    assert_int_equal(js1_encode_comment(sum, JS1_ENC_BASE64, &b64), JT_OK);
    assert_int_equal(js1_encode_comment(sum, JS1_ENC_BASE32, &b32), JT_OK);
    assert_memory_equal(b64.data, "JS1:H4sI", 8);
    assert_memory_equal(b32.data, "js1b32:", 7);
    for (size_t i = 0; i < b64.len; i++)
        b64.data[i] = (char)(b64.data[i] >= 'A' && b64.data[i] <= 'Z' ? b64.data[i] + 32 : b64.data[i]);
    enum js1_kind kind;
    json_t *got = NULL;
    /* What sacctmgr 22.05 stores of a JS1 value is not a summary any more... */
    assert_int_equal(js1_decode_comment(buf_str(&b64), &kind, &got), JT_OK);
    assert_int_equal(kind, JS1_NONE_STORED);
    /* ...while the base32 spelling is already lower case: stored byte for byte. */
    for (size_t i = 0; i < b32.len; i++)
        assert_false(b32.data[i] >= 'A' && b32.data[i] <= 'Z');
    assert_int_equal(js1_decode_comment(buf_str(&b32), &kind, &got), JT_OK);
    assert_int_equal(kind, JS1_DATA);
    assert_true(json_equal(sum, got));
    json_decref(got);
    json_decref(sum);
    buf_free(&b64);
    buf_free(&b32);
}

static void test_corrupt_is_error(void **state)
{
    (void)state;
    enum js1_kind kind;
    json_t *got = NULL;
    assert_int_equal(js1_decode_comment("JS1:H4sI!!!!", &kind, &got), JT_ERR_PARSE);
    assert_int_equal(js1_decode_comment("JS1:H4sIAAAAAAAA", &kind, &got), JT_ERR_PARSE); /* truncated gzip */
    assert_int_equal(js1_decode_comment("JS1:aGVsbG8=", &kind, &got), JT_ERR_PARSE);     /* not gzip */
    assert_null(got);
    /* Valid gzip of something that is not a summary. */
    struct buf gz, b;
    buf_init(&gz, 1 << 20);
    buf_init(&b, 1 << 20);
    assert_int_equal(js1_gzip("[1,2]", 5, &gz), JT_OK);
    buf_puts(&b, "JS1:");
    js1_base64_encode((const unsigned char *)gz.data, gz.len, &b);
    assert_int_equal(js1_decode_comment(buf_str(&b), &kind, &got), JT_ERR_PARSE);
    buf_free(&gz);
    buf_free(&b);
}

static void test_base64_rfc4648(void **state)
{
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const out32[] = {"", "my", "mzxq", "mzxw6", "mzxw6yq", "mzxw6ytb", "mzxw6ytboi"};
    for (size_t i = 0; i < 7; i++) {
        struct buf b, d;
        buf_init(&b, 64);
        buf_init(&d, 64);
        js1_base64_encode((const unsigned char *)in[i], strlen(in[i]), &b);
        assert_string_equal(buf_str(&b), out64[i]);
        assert_int_equal(js1_base64_decode(out64[i], strlen(out64[i]), &d), JT_OK);
        assert_string_equal(buf_str(&d), in[i]);
        buf_reset(&b);
        buf_reset(&d);
        js1_base32_encode((const unsigned char *)in[i], strlen(in[i]), &b);
        assert_string_equal(buf_str(&b), out32[i]);
        assert_int_equal(js1_base32_decode(out32[i], strlen(out32[i]), &d), JT_OK);
        assert_string_equal(buf_str(&d), in[i]);
        buf_free(&b);
        buf_free(&d);
    }
}

static void test_gunzip_cap(void **state)
{
    (void)state;
    char *zeros = calloc(1, 1 << 20);
    struct buf gz, out;
    buf_init(&gz, 1 << 20);
    buf_init(&out, 8 << 20);
    assert_int_equal(js1_gzip(zeros, 1 << 20, &gz), JT_OK);
    assert_int_equal(js1_gunzip(gz.data, gz.len, 4096, &out), JT_ERR_LIMIT); /* a zip bomb stops at the cap */
    free(zeros);
    buf_free(&gz);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_vectors_decode), cmocka_unit_test(test_short_none_and_foreign),
        cmocka_unit_test(test_lowercasing),           cmocka_unit_test(test_corrupt_is_error),
        cmocka_unit_test(test_base64_rfc4648),        cmocka_unit_test(test_gunzip_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
