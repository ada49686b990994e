/* strparse.h - strict, bounded parsing of numbers and tokens.
 *
 * Kernel files, mapping files and environment variables are untrusted text. These helpers accept a
 * number only when the whole token is a number that fits (no atoi-style silent zeros, no trailing
 * junk, overflow checked), and the cursor helpers advance only when they succeed.
 */
#ifndef JOBTEL_STRPARSE_H
#define JOBTEL_STRPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whole-token parsers: `s` has length `n` (not necessarily NUL-terminated). */
bool str_to_u64(const char *s, size_t n, uint64_t *out);
bool str_to_i64(const char *s, size_t n, int64_t *out);
bool str_to_double(const char *s, size_t n, double *out); /* finite values only */

/* NUL-terminated convenience forms. */
bool cstr_to_u64(const char *s, uint64_t *out);
bool cstr_to_i64(const char *s, int64_t *out);
bool cstr_to_double(const char *s, double *out);

/* A duration such as "1s", "250ms", "2m", "1.5h" or a bare number of seconds; non-negative. */
bool str_to_duration(const char *s, double *seconds);

/* A read-only cursor over [p, end). */
struct cursor {
    const char *p;
    const char *end;
};

void cur_init(struct cursor *c, const char *s, size_t n);
bool cur_eof(const struct cursor *c);
void cur_skip_space(struct cursor *c);            /* spaces and tabs */
bool cur_skip_char(struct cursor *c, char ch);    /* consumes ch if it is next */
/* The next run of characters up to (not including) any of `delims` or the end; never fails. */
size_t cur_token(struct cursor *c, const char *delims, const char **tok);
/* The next line without its '\n'; false at end of input. */
bool cur_line(struct cursor *c, const char **line, size_t *len);
bool cur_u64(struct cursor *c, uint64_t *out);     /* a run of digits */

/* Trims ASCII white space from both ends of [*s, *s + *n). */
void str_trim(const char **s, size_t *n);

/* Copies at most dstsz-1 bytes and always terminates; returns false if it truncated. */
bool str_copy(char *dst, size_t dstsz, const char *src, size_t n);

#endif
