/* buf.c - growable byte buffer with a hard cap (see buf.h). */
#include "common/buf.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->err = JT_OK;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
    b->err = JT_OK;
}

enum jt_err buf_reserve(struct buf *b, size_t extra)
{
    if (b->err != JT_OK)
        return b->err;
    if (extra > b->max || b->len > b->max - extra) {
        b->err = JT_ERR_LIMIT;
        return b->err;
    }
    size_t need = b->len + extra + 1; /* room for the terminating NUL */
    if (need <= b->cap)
        return JT_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    char *p = realloc(b->data, ncap);
    if (!p) {
        b->err = JT_ERR_NOMEM;
        return b->err;
    }
    b->data = p;
    b->cap = ncap;
    return JT_OK;
}

enum jt_err buf_append(struct buf *b, const void *p, size_t n)
{
    enum jt_err e = buf_reserve(b, n);
    if (e != JT_OK)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return JT_OK;
}

enum jt_err buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum jt_err buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum jt_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->err = b->err ? b->err : JT_ERR_INTERNAL;
        return b->err;
    }
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    enum jt_err e = buf_reserve(b, (size_t)n);
    if (e != JT_OK)
        return e;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return JT_OK;
}

enum jt_err buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum jt_err e = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return e;
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}

const char *buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}
