/* js1.c - JS1 job summaries: base64/base32, gzip, compact JSON (see js1.h). */
#include "jobstats/js1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

enum jt_err js1_base64_encode(const unsigned char *p, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        buf_append(out, q, 4);
    }
    return out->err;
}

enum jt_err js1_base32_encode(const unsigned char *p, size_t n, struct buf *out)
{
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            buf_putc(out, b32[(acc >> (bits - 5)) & 31]);
            bits -= 5;
        }
        acc &= (1ul << bits) - 1;
    }
    if (bits > 0)
        buf_putc(out, b32[(acc << (5 - bits)) & 31]);
    return out->err;
}

static int b64_val(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

enum jt_err js1_base64_decode(const char *s, size_t n, struct buf *out)
{
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space(s[i]))
            continue;
        if (s[i] == '=') {
            pad++;
            continue;
        }
        int v = b64_val(s[i]);
        if (v < 0 || pad > 0)
            return JT_ERR_PARSE; /* bad character, or data after padding */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            buf_putc(out, (char)((acc >> (bits - 8)) & 0xff));
            bits -= 8;
        }
        acc &= (1u << bits) - 1;
    }
    if (pad > 2 || bits >= 6)
        return JT_ERR_PARSE;
    return out->err;
}

enum jt_err js1_base32_decode(const char *s, size_t n, struct buf *out)
{
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (is_space(ch) || ch == '=')
            continue;
        int v;
        if (ch >= 'a' && ch <= 'z') v = ch - 'a';
        else if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
        else if (ch >= '2' && ch <= '7') v = ch - '2' + 26;
        else return JT_ERR_PARSE;
        acc = (acc << 5) | (unsigned long)v;
        bits += 5;
        if (bits >= 8) {
            buf_putc(out, (char)((acc >> (bits - 8)) & 0xff));
            bits -= 8;
        }
        acc &= (1ul << bits) - 1;
    }
    if (bits >= 5)
        return JT_ERR_PARSE;
    return out->err;
}

enum jt_err js1_gzip(const void *p, size_t n, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return JT_ERR_NOMEM;
    enum jt_err err = JT_OK;
    unsigned char chunk[4096];
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    int zr;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        zr = deflate(&z, Z_FINISH);
        if (zr == Z_STREAM_ERROR) {
            err = JT_ERR_INTERNAL;
            goto out;
        }
        if (buf_append(out, chunk, sizeof chunk - z.avail_out) != JT_OK) {
            err = out->err;
            goto out;
        }
    } while (zr != Z_STREAM_END);
out:
    deflateEnd(&z);
    return err;
}

enum jt_err js1_gunzip(const void *p, size_t n, size_t max, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return JT_ERR_NOMEM;
    enum jt_err err = JT_OK;
    unsigned char chunk[4096];
    size_t produced = 0;
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    for (;;) {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        int zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END) {
            err = JT_ERR_PARSE;
            goto out;
        }
        size_t got = sizeof chunk - z.avail_out;
        produced += got;
        if (produced > max) {
            err = JT_ERR_LIMIT;
            goto out;
        }
        if (buf_append(out, chunk, got) != JT_OK) {
            err = out->err;
            goto out;
        }
        if (zr == Z_STREAM_END)
            break;
        if (z.avail_in == 0 && got == 0) {
            err = JT_ERR_PARSE; /* truncated */
            goto out;
        }
    }
out:
    inflateEnd(&z);
    return err;
}

enum jt_err js1_encode(const json_t *summary, enum js1_encoding enc, struct buf *out)
{
    struct buf gz;
    buf_init(&gz, JS1_JSON_MAX);
    enum jt_err err = JT_OK;
    char *text = json_dumps(summary, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (!text) {
        err = JT_ERR_NOMEM;
        goto out;
    }
    err = js1_gzip(text, strlen(text), &gz);
    if (err != JT_OK)
        goto out;
    err = enc == JS1_ENC_BASE64 ? js1_base64_encode((const unsigned char *)gz.data, gz.len, out)
                                : js1_base32_encode((const unsigned char *)gz.data, gz.len, out);
out:
    free(text);
    buf_free(&gz);
    return err;
}

enum jt_err js1_encode_comment(const json_t *summary, enum js1_encoding enc, struct buf *out)
{
    buf_puts(out, enc == JS1_ENC_BASE64 ? "JS1:" : "js1b32:");
    return js1_encode(summary, enc, out);
}

enum jt_err js1_decode_comment(const char *comment, enum js1_kind *kind, json_t **summary)
{
    *kind = JS1_NONE_STORED;
    *summary = NULL;
    size_t n = strlen(comment);
    while (n > 0 && is_space(comment[0])) {
        comment++;
        n--;
    }
    bool base32;
    if (n >= 7 && strncmp(comment, "js1b32:", 7) == 0) {
        base32 = true;
        comment += 7;
        n -= 7;
    } else if (n >= 4 && strncmp(comment, "JS1:", 4) == 0) {
        base32 = false;
        comment += 4;
        n -= 4;
    } else {
        return JT_OK;
    }
    while (n > 0 && is_space(comment[n - 1]))
        n--;
    /* The base32 spelling writes these in lower case, so they survive sacctmgr too. */
    if (n == 5 && (base32 ? strncasecmp(comment, "Short", 5) : memcmp(comment, "Short", 5)) == 0) {
        *kind = JS1_SHORT;
        return JT_OK;
    }
    if (n == 4 && (base32 ? strncasecmp(comment, "None", 4) : memcmp(comment, "None", 4)) == 0) {
        *kind = JS1_NODATA;
        return JT_OK;
    }
    struct buf gz, js;
    buf_init(&gz, JS1_JSON_MAX);
    buf_init(&js, JS1_JSON_MAX);
    enum jt_err err = base32 ? js1_base32_decode(comment, n, &gz) : js1_base64_decode(comment, n, &gz);
    if (err != JT_OK)
        goto out;
    err = js1_gunzip(gz.data, gz.len, JS1_JSON_MAX, &js);
    if (err != JT_OK)
        goto out;
    json_error_t je;
    json_t *root = json_loadb(js.data ? js.data : "", js.len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root) || !json_is_object(json_object_get(root, "nodes"))) {
        json_decref(root);
        err = JT_ERR_PARSE;
        goto out;
    }
    *summary = root;
    *kind = JS1_DATA;
out:
    buf_free(&gz);
    buf_free(&js);
    return err;
}
