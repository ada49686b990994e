/* fuzz_js1.c - libFuzzer target: JS1/js1b32 job summaries in AdminComment (jobstats/js1.c): the whole
 * comment, and its base64, base32 and gzip layers each on raw bytes. Input: one selector byte, then the text.
 */
#include "fuzz.h"

#include "jobstats/js1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    struct buf out;
    buf_init(&out, JS1_JSON_MAX);
    switch (data[0] % 4) {
    case 0: {
        char *c = fuzz_strdup(data + 1, n);
        enum js1_kind kind = JS1_NONE_STORED;
        json_t *summary = NULL;
        enum jt_err e = js1_decode_comment(c, &kind, &summary);
        if ((summary != NULL) != (e == JT_OK && kind == JS1_DATA))
            abort();
        json_decref(summary);
        free(c);
        break;
    }
    case 1:
        (void)js1_base64_decode(s, n, &out);
        break;
    case 2:
        (void)js1_base32_decode(s, n, &out);
        break;
    default:
        if (js1_gunzip(s, n, 1u << 20, &out) == JT_OK && out.len > (1u << 20))
            abort();
        break;
    }
    buf_free(&out);
    return 0;
}
