/* fuzz.h - what every libFuzzer harness in tests/fuzz/ shares: a NUL-terminated copy of the input and
 * a splitter, so a harness can feed one input to several parsers of the same file format.
 *
 * Each harness is one parser's entry point (see tests/fuzz/README.md); the input is handed over as the
 * parser would get it from a file, a socket or argv, never pre-filtered.
 */
#ifndef JOBTEL_FUZZ_H
#define JOBTEL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A malloc'd NUL-terminated copy of [p, p+n) (embedded NULs kept; strlen sees the first). Caller frees. */
static inline char *fuzz_strdup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Splits off the part up to the first `sep` (or all of it) as a fresh string; advances *p / *n past it. */
static inline char *fuzz_take(const uint8_t **p, size_t *n, uint8_t sep)
{
    const uint8_t *end = *n ? memchr(*p, sep, *n) : NULL;
    size_t len = end ? (size_t)(end - *p) : *n;
    char *s = fuzz_strdup(*p, len);
    *p += end ? len + 1 : len;
    *n -= end ? len + 1 : len;
    return s;
}

/* A fresh directory for a harness that must hand its parser files: on tmpfs where there is one (the
 * parsers' writers fsync), else under /tmp. */
static inline void fuzz_mkdtemp(char *dir, size_t n, const char *name)
{
    snprintf(dir, n, "/dev/shm/%s_XXXXXX", name);
    if (mkdtemp(dir))
        return;
    snprintf(dir, n, "/tmp/%s_XXXXXX", name);
    if (!mkdtemp(dir))
        abort();
}

#endif
