/* expo.h - Prometheus text exposition writer.
 *
 * Collectors add samples in whatever order they read them; the writer groups them by family (one
 * HELP/TYPE block each, in the order families were first seen) and escapes every label value, so a
 * collector can never produce an unparseable scrape. Memory is capped per writer.
 */
#ifndef JOBTEL_EXPO_H
#define JOBTEL_EXPO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum metric_type { METRIC_GAUGE, METRIC_COUNTER, METRIC_UNTYPED };

struct label {
    const char *name;
    const char *value; /* NULL: the label is left out of this sample */
};

/* Up to this many labels per sample; more is a programming error reported as JT_ERR_LIMIT. */
#define LABELSET_MAX 24

/* A small ordered label list built on the stack; values are borrowed, not copied. */
struct labelset {
    struct label l[LABELSET_MAX];
    size_t n;
    int overflow;
};

void labelset_init(struct labelset *ls);
void labelset_add(struct labelset *ls, const char *name, const char *value);
void labelset_copy(struct labelset *dst, const struct labelset *src);

struct expo_family;

struct expo {
    struct expo_family **fam; /* owned */
    size_t nfam;
    size_t capfam;
    size_t max_bytes; /* cap on the sum of all sample text */
    size_t used_bytes;
    enum jt_err err;  /* first failure */
};

void expo_init(struct expo *w, size_t max_bytes);
void expo_free(struct expo *w);

/* Finds or creates the family `name`. The first call's type and help win. Never returns NULL: on
 * failure it returns a sink that drops samples and the error is in w->err. `name` and `help` must
 * outlive the writer (string literals, or strings owned by the collector). */
struct expo_family *expo_family(struct expo *w, const char *name, enum metric_type type, const char *help);

/* Adds one sample. Non-finite doubles are written as Prometheus spells them (NaN, +Inf, -Inf). */
void expo_sample(struct expo_family *f, const struct labelset *ls, double value);
/* Same for integers that may exceed 2^53 (energy counters, byte counts). */
void expo_sample_u64(struct expo_family *f, const struct labelset *ls, uint64_t value);

/* Appends the whole exposition to `out`. */
enum jt_err expo_render(const struct expo *w, struct buf *out);

/* Writes `s` escaped as a label value (backslash, double quote, newline). */
enum jt_err expo_escape_label(struct buf *out, const char *s);
/* Formats a double the way Prometheus parses it: integers without a fraction, else shortest form. */
void expo_format_double(char *dst, size_t n, double v);

#endif
