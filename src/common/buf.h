/* buf.h - growable byte buffer with a hard cap.
 *
 * Everything we build from untrusted or unbounded input (a scrape body, an HTTP answer, a file) goes
 * through one of these, so no input can make the daemon grow without limit. Once an append fails the
 * buffer is marked failed and ignores further appends; the caller checks once at the end.
 */
#ifndef JOBTEL_BUF_H
#define JOBTEL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct buf {
    char *data;     /* NUL-terminated whenever len > 0; owned by the buffer */
    size_t len;
    size_t cap;
    size_t max;     /* hard cap on len */
    enum jt_err err; /* first failure, JT_OK while healthy */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps memory, clears the error */

/* Makes room for `extra` more bytes at once (within max): a buffer about to take a known amount grows
 * in one allocation rather than by doubling and copying. */
enum jt_err buf_reserve(struct buf *b, size_t extra);
enum jt_err buf_append(struct buf *b, const void *p, size_t n);
enum jt_err buf_puts(struct buf *b, const char *s);
enum jt_err buf_putc(struct buf *b, char c);
enum jt_err buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum jt_err buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Hands the data to the caller (who frees it) and leaves the buffer empty. Returns NULL if empty. */
char *buf_detach(struct buf *b, size_t *len);

/* A pointer to a NUL-terminated string, "" when empty; valid until the next append. */
const char *buf_str(const struct buf *b);

#endif
