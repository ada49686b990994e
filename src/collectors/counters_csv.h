/* counters_csv.h - dcgm-exporter's counters CSV: which DCGM fields to export, with type and help.
 *
 * Format (compatible with dcgm-exporter): one record per line, `field name, prometheus type, help`;
 * '#' starts a comment line; blank lines are ignored; fields may be double-quoted (CSV quoting, ""
 * for a quote) and are trimmed. Types: gauge, counter, histogram, summary, label. A malformed line
 * is an error naming file:line, because a typo in this file silently dropping a metric is worse. So
 * is a field listed twice (duplicate label names or series would make Prometheus reject the scrape).
 */
#ifndef JOBTEL_COUNTERS_CSV_H
#define JOBTEL_COUNTERS_CSV_H

#include <stddef.h>

#include "common/error.h"

enum counter_type { CT_GAUGE, CT_COUNTER, CT_HISTOGRAM, CT_SUMMARY, CT_LABEL };

struct counter_entry {
    char *field;  /* e.g. "DCGM_FI_DEV_GPU_UTIL"; owned */
    enum counter_type type;
    char *help;   /* owned */
    unsigned line;
};

struct counter_list {
    struct counter_entry *e; /* owned */
    size_t n;
};

#define COUNTERS_MAX_ENTRIES 1024
#define COUNTERS_MAX_BYTES (1u << 20)

/* Parses `text` (length n). On error returns JT_ERR_PARSE and writes "<name>:<line>: <reason>" to
 * `why`; `out` is left empty. `name` is used only in messages. */
enum jt_err counters_parse(const char *name, const char *text, size_t n, struct counter_list *out, char *why,
                           size_t whylen);
/* Reads and parses a file (at most COUNTERS_MAX_BYTES). */
enum jt_err counters_load(const char *path, struct counter_list *out, char *why, size_t whylen);
void counters_free(struct counter_list *l);

#endif
