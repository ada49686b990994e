/* strparse.c - strict, bounded parsing (see strparse.h). */
#include "common/strparse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool str_to_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool str_to_i64(const char *s, size_t n, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t u;
    if (!str_to_u64(s + neg, n - neg, &u))
        return false;
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return false;
        *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)u;
    }
    return true;
}

bool str_to_double(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    /* strtod accepts leading space, hex floats, "inf" and "nan": we want none of them. */
    for (size_t i = 0; i < n; i++) {
        char ch = tmp[i];
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '+' || ch == 'e' || ch == 'E'))
            return false;
    }
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (errno != 0 || end != tmp + n || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool cstr_to_u64(const char *s, uint64_t *out) { return s && str_to_u64(s, strlen(s), out); }
bool cstr_to_i64(const char *s, int64_t *out) { return s && str_to_i64(s, strlen(s), out); }
bool cstr_to_double(const char *s, double *out) { return s && str_to_double(s, strlen(s), out); }

void cur_init(struct cursor *c, const char *s, size_t n)
{
    c->p = s;
    c->end = s + n;
}

bool cur_eof(const struct cursor *c) { return c->p >= c->end; }

void cur_skip_space(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

bool cur_skip_char(struct cursor *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

size_t cur_token(struct cursor *c, const char *delims, const char **tok)
{
    const char *start = c->p;
    while (c->p < c->end && !memchr(delims, *c->p, strlen(delims)))
        c->p++;
    *tok = start;
    return (size_t)(c->p - start);
}

bool cur_line(struct cursor *c, const char **line, size_t *len)
{
    if (c->p >= c->end)
        return false;
    const char *start = c->p;
    const char *nl = memchr(start, '\n', (size_t)(c->end - start));
    if (nl) {
        *len = (size_t)(nl - start);
        c->p = nl + 1;
    } else {
        *len = (size_t)(c->end - start);
        c->p = c->end;
    }
    *line = start;
    return true;
}

bool cur_u64(struct cursor *c, uint64_t *out)
{
    const char *q = c->p;
    while (q < c->end && *q >= '0' && *q <= '9')
        q++;
    if (!str_to_u64(c->p, (size_t)(q - c->p), out))
        return false;
    c->p = q;
    return true;
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }

void str_trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

bool str_copy(char *dst, size_t dstsz, const char *src, size_t n)
{
    if (dstsz == 0)
        return false;
    bool fits = n < dstsz;
    size_t k = fits ? n : dstsz - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
    return fits;
}

bool str_to_duration(const char *s, double *seconds)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    double mult = 1.0;
    if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
        mult = 0.001;
        n -= 2;
    } else if (n > 1 && (s[n - 1] == 's' || s[n - 1] == 'm' || s[n - 1] == 'h')) {
        mult = s[n - 1] == 's' ? 1.0 : s[n - 1] == 'm' ? 60.0 : 3600.0;
        n -= 1;
    }
    double v;
    if (!str_to_double(s, n, &v) || v < 0)
        return false;
    *seconds = v * mult;
    return true;
}
