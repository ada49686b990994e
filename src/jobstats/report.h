/* report.h - the text report of `jobstats JOBID`, Princeton's ClassicOutput figure for figure.
 *
 * The rules are jobstats.md §1.4-1.5a: the three error codes per figure (1 a value is missing or not a
 * sane number, 2 used > allocated, 3 nothing allocated), shown as "(JSON is malformed)" and friends in
 * the meters and "An error was encountered (N)" in the details, Python's rounding and truncation, the
 * 1000-based header and the 1024-based details. A summary is untrusted input (anyone with sacctmgr
 * rights, an old or foreign writer): a string, a negative, a value past 2^53 or a GPU utilization
 * outside 0-100 is "missing", never printed as a number.
 */
#ifndef JOBTEL_REPORT_H
#define JOBTEL_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "jobstats/jobstats_conf.h"
#include "jobstats/sacct_parse.h"

struct report_opts {
    bool color;               /* ANSI bold/red */
    bool from_summary;        /* not printed (Princeton's report has no such line); `-d` says it */
    const char *batch_script; /* NULL: no Batch Script section */
    const char *jobid;        /* the id as the user typed it ("500_3"), as Princeton prints it; NULL: JobIDRaw */
};

/* Prints the report for job with summary ({"nodes": {...}}). now is used for running jobs. The
 * caller has checked jobstats_runtime(job, now) succeeds. */
void jobstats_report(FILE *f, const struct js_conf *conf, const struct sacct_job *job, json_t *summary,
                     int64_t now, const struct report_opts *o);

#endif
