/* counters_csv.c - parser for dcgm-exporter's counters CSV (see counters_csv.h). */
#include "collectors/counters_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/strparse.h"

#define FIELD_MAX 1024

/* Splits one CSV record into at most `maxf` fields (unquoted and trimmed) in `store`. Returns the
 * field count, or -1 with a reason. */
static int split_record(const char *line, size_t n, char store[][FIELD_MAX], int maxf, const char **reason)
{
    int nf = 0;
    size_t i = 0;
    for (;;) {
        if (nf == maxf) {
            *reason = "too many fields (want exactly 3: field, type, help)";
            return -1;
        }
        char *dst = store[nf];
        size_t dl = 0;
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i < n && line[i] == '"') {
            i++;
            for (;;) {
                if (i >= n) {
                    *reason = "unterminated quoted field";
                    return -1;
                }
                if (line[i] == '"') {
                    if (i + 1 < n && line[i + 1] == '"') {
                        i += 2;
                        if (dl + 1 >= FIELD_MAX)
                            goto toolong;
                        dst[dl++] = '"';
                        continue;
                    }
                    i++;
                    break;
                }
                if (dl + 1 >= FIELD_MAX)
                    goto toolong;
                dst[dl++] = line[i++];
            }
            while (i < n && (line[i] == ' ' || line[i] == '\t'))
                i++;
            if (i < n && line[i] != ',') {
                *reason = "text after a closing quote";
                return -1;
            }
        } else {
            while (i < n && line[i] != ',') {
                if (line[i] == '"') {
                    *reason = "quote inside an unquoted field";
                    return -1;
                }
                if (dl + 1 >= FIELD_MAX)
                    goto toolong;
                dst[dl++] = line[i++];
            }
            while (dl > 0 && (dst[dl - 1] == ' ' || dst[dl - 1] == '\t'))
                dl--;
        }
        dst[dl] = '\0';
        nf++;
        if (i >= n)
            return nf;
        i++; /* the comma */
    }
toolong:
    *reason = "field longer than 1023 bytes";
    return -1;
}

static int parse_type(const char *s, enum counter_type *t)
{
    static const struct { const char *name; enum counter_type t; } types[] = {
        {"gauge", CT_GAUGE}, {"counter", CT_COUNTER}, {"histogram", CT_HISTOGRAM},
        {"summary", CT_SUMMARY}, {"label", CT_LABEL},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(s, types[i].name) == 0) {
            *t = types[i].t;
            return 0;
        }
    }
    return -1;
}

/* A field name as dcgm-exporter accepts: upper-case letters, digits and underscores. */
static int valid_field_name(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    }
    return 1;
}

enum jt_err counters_parse(const char *name, const char *text, size_t n, struct counter_list *out, char *why,
                           size_t whylen)
{
    out->e = NULL;
    out->n = 0;
    size_t cap = 0;
    char (*fields)[FIELD_MAX] = malloc(sizeof(char[3][FIELD_MAX]));
    if (!fields)
        return JT_ERR_NOMEM;
    struct cursor c;
    cur_init(&c, text, n);
    const char *line;
    size_t len;
    unsigned lineno = 0;
    enum jt_err rc = JT_OK;
    while (cur_line(&c, &line, &len)) {
        lineno++;
        if (len && line[len - 1] == '\r')
            len--;
        const char *t = line;
        size_t tl = len;
        str_trim(&t, &tl);
        if (tl == 0 || t[0] == '#')
            continue;
        if (memchr(t, '\0', tl)) {
            snprintf(why, whylen, "%s:%u: NUL byte in line", name, lineno);
            rc = JT_ERR_PARSE;
            break;
        }
        const char *reason = NULL;
        int nf = split_record(t, tl, fields, 3, &reason);
        if (nf >= 0 && nf != 3)
            reason = "want exactly 3 fields: field, type, help";
        enum counter_type type = CT_GAUGE;
        if (!reason && !valid_field_name(fields[0]))
            reason = "field name must be upper-case letters, digits and '_' (e.g. DCGM_FI_DEV_GPU_UTIL)";
        if (!reason && parse_type(fields[1], &type) != 0)
            reason = "type must be one of gauge, counter, histogram, summary, label";
        if (reason) {
            snprintf(why, whylen, "%s:%u: %s", name, lineno, reason);
            rc = JT_ERR_PARSE;
            break;
        }
        /* A field listed twice would give every DCGM series a duplicate label name (a `label` line)
         * or a duplicate series (a metric line): Prometheus rejects either scrape whole. */
        for (size_t k = 0; !reason && k < out->n; k++) {
            if (strcmp(out->e[k].field, fields[0]) == 0) {
                snprintf(why, whylen, "%s:%u: %s repeats line %u (each field may be listed once)", name, lineno,
                         fields[0], out->e[k].line);
                reason = why;
            }
        }
        if (reason) {
            rc = JT_ERR_PARSE;
            break;
        }
        if (out->n == COUNTERS_MAX_ENTRIES) {
            snprintf(why, whylen, "%s:%u: more than %d entries", name, lineno, COUNTERS_MAX_ENTRIES);
            rc = JT_ERR_LIMIT;
            break;
        }
        struct counter_entry *grown = array_grow(out->e, &cap, out->n + 1, sizeof *grown, 32);
        if (!grown) {
            rc = JT_ERR_NOMEM;
            break;
        }
        out->e = grown;
        struct counter_entry *e = &out->e[out->n];
        e->field = strdup(fields[0]);
        e->help = strdup(fields[2]);
        e->type = type;
        e->line = lineno;
        if (!e->field || !e->help) {
            free(e->field);
            free(e->help);
            rc = JT_ERR_NOMEM;
            break;
        }
        out->n++;
    }
    free(fields);
    if (rc != JT_OK)
        counters_free(out);
    return rc;
}

enum jt_err counters_load(const char *path, struct counter_list *out, char *why, size_t whylen)
{
    struct buf b;
    buf_init(&b, COUNTERS_MAX_BYTES);
    enum jt_err rc = file_read(path, COUNTERS_MAX_BYTES, &b);
    if (rc != JT_OK) {
        snprintf(why, whylen, "%s: cannot read: %s", path, jt_strerror(rc));
        buf_free(&b);
        out->e = NULL;
        out->n = 0;
        return rc;
    }
    rc = counters_parse(path, buf_str(&b), b.len, out, why, whylen);
    buf_free(&b);
    return rc;
}

void counters_free(struct counter_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].field);
        free(l->e[i].help);
    }
    free(l->e);
    l->e = NULL;
    l->n = 0;
}
