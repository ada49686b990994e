/* expo.c - Prometheus text exposition writer (see expo.h).
 *
 * Each family keeps its own buffer of sample lines; rendering writes HELP/TYPE and then the lines.
 * A sample line is written whole or not at all: one that hits the cap or a failed allocation half
 * way is rolled back to its start (a torn line makes Prometheus reject the whole scrape).
 * Label names are our own constants and are not escaped; label values always are.
 */
#include "exporter/expo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/strparse.h"

struct expo_family {
    struct expo *w;
    const char *name;
    const char *help;
    enum metric_type type;
    struct buf lines;
};

/* Samples for a family that could not be created go here and are dropped. */
static struct expo_family sink_family;

void labelset_init(struct labelset *ls)
{
    ls->n = 0;
    ls->overflow = 0;
}

void labelset_add(struct labelset *ls, const char *name, const char *value)
{
    if (ls->n >= LABELSET_MAX) {
        ls->overflow = 1;
        return;
    }
    ls->l[ls->n].name = name;
    ls->l[ls->n].value = value;
    ls->n++;
}

void labelset_copy(struct labelset *dst, const struct labelset *src)
{
    memcpy(dst, src, sizeof *dst);
}

void expo_init(struct expo *w, size_t max_bytes)
{
    memset(w, 0, sizeof *w);
    w->max_bytes = max_bytes;
}

void expo_free(struct expo *w)
{
    for (size_t i = 0; i < w->nfam; i++) {
        buf_free(&w->fam[i]->lines);
        free(w->fam[i]);
    }
    free(w->fam);
    memset(w, 0, sizeof *w);
}

static void expo_fail(struct expo *w, enum jt_err e)
{
    if (w->err == JT_OK)
        w->err = e;
}

struct expo_family *expo_family(struct expo *w, const char *name, enum metric_type type, const char *help)
{
    /* Searched from the newest: collectors usually add a family's samples together. */
    for (size_t i = w->nfam; i-- > 0;) {
        if (strcmp(w->fam[i]->name, name) == 0)
            return w->fam[i];
    }
    struct expo_family **grown = array_grow(w->fam, &w->capfam, w->nfam + 1, sizeof *grown, 32);
    if (!grown) {
        expo_fail(w, JT_ERR_NOMEM);
        return &sink_family;
    }
    w->fam = grown;
    struct expo_family *f = calloc(1, sizeof *f);
    if (!f) {
        expo_fail(w, JT_ERR_NOMEM);
        return &sink_family;
    }
    f->w = w;
    f->name = name;
    f->help = help;
    f->type = type;
    buf_init(&f->lines, w->max_bytes);
    w->fam[w->nfam++] = f;
    return f;
}

enum jt_err expo_escape_label(struct buf *out, const char *s)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *rep = NULL;
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '"')
            rep = "\\\"";
        else if (*p == '\n')
            rep = "\\n";
        if (rep) {
            buf_append(out, run, (size_t)(p - run));
            buf_puts(out, rep);
            run = p + 1;
        }
    }
    buf_puts(out, run);
    return out->err;
}

void expo_format_double(char *dst, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(dst, n, "NaN");
    } else if (isinf(v)) {
        snprintf(dst, n, v > 0 ? "+Inf" : "-Inf");
    } else if (fabs(v) < 1e15 && v == (double)(long long)v) { /* integral: no libm floor needed */
        snprintf(dst, n, "%.0f", v);
    } else {
        /* The shortest of %.15g/%.17g that reads back as the same double. */
        snprintf(dst, n, "%.15g", v);
        double back;
        if (!cstr_to_double(dst, &back) || back != v)
            snprintf(dst, n, "%.17g", v);
    }
}

static void expo_line(struct expo_family *f, const struct labelset *ls, const char *value)
{
    if (f == &sink_family)
        return;
    struct expo *w = f->w;
    if (ls && ls->overflow) {
        expo_fail(w, JT_ERR_LIMIT);
        return;
    }
    size_t before = f->lines.len;
    struct buf *b = &f->lines;
    buf_puts(b, f->name);
    int first = 1;
    for (size_t i = 0; ls && i < ls->n; i++) {
        if (!ls->l[i].value)
            continue;
        buf_puts(b, first ? "{" : ",");
        first = 0;
        buf_puts(b, ls->l[i].name);
        buf_puts(b, "=\"");
        expo_escape_label(b, ls->l[i].value);
        buf_putc(b, '"');
    }
    if (!first)
        buf_putc(b, '}');
    buf_putc(b, ' ');
    buf_puts(b, value);
    buf_putc(b, '\n');
    enum jt_err e = b->err;
    if (e == JT_OK && w->used_bytes + (b->len - before) > w->max_bytes)
        e = JT_ERR_LIMIT;
    if (e != JT_OK) {
        /* All or nothing: a line cut short by the cap or a failed allocation would make Prometheus
         * reject the whole scrape, so roll back to the line start and let later (shorter) lines try. */
        b->len = before;
        if (b->data)
            b->data[before] = '\0';
        b->err = JT_OK;
        expo_fail(w, e);
        return;
    }
    w->used_bytes += b->len - before;
}

void expo_sample(struct expo_family *f, const struct labelset *ls, double value)
{
    char num[40];
    expo_format_double(num, sizeof num, value);
    expo_line(f, ls, num);
}

void expo_sample_u64(struct expo_family *f, const struct labelset *ls, uint64_t value)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)value);
    expo_line(f, ls, num);
}

static const char *type_name(enum metric_type t)
{
    switch (t) {
    case METRIC_GAUGE: return "gauge";
    case METRIC_COUNTER: return "counter";
    case METRIC_UNTYPED: return "untyped";
    }
    return "untyped";
}

enum jt_err expo_render(const struct expo *w, struct buf *out)
{
    size_t start = out->len;
    for (size_t i = 0; i < w->nfam; i++) {
        const struct expo_family *f = w->fam[i];
        if (f->lines.len == 0)
            continue;
        if (f->help) {
            buf_printf(out, "# HELP %s ", f->name);
            /* HELP text escapes backslash and newline only. */
            for (const char *p = f->help; *p; p++) {
                if (*p == '\\')
                    buf_puts(out, "\\\\");
                else if (*p == '\n')
                    buf_puts(out, "\\n");
                else
                    buf_putc(out, *p);
            }
            buf_putc(out, '\n');
        }
        buf_printf(out, "# TYPE %s %s\n", f->name, type_name(f->type));
        buf_append(out, f->lines.data, f->lines.len);
    }
    if (out->err != JT_OK) {
        /* All or nothing here too: the caller gets its buffer back as it was, plus the error. */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return out->err;
}
