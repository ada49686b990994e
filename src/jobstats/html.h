/* html.h - `jobstats --html FILE JOBID`: one self-contained HTML page for a job.
 *
 * Inline CSS and inline SVG only: no script, no font, no image, no URL in any attribute, so the page can be
 * mailed, attached to a ticket or opened years later on an air-gapped machine, and a browser opening
 * it makes no request at all. It shows, as LLview's job reports do, a time x GPU heatmap per metric
 * (utilization, SM active, power, memory, SM clock, throttling; CPU per node), each node's mean GPU
 * utilization with its min/max band, and the text report's figures. Charts carry data-* attributes
 * (data-chart, data-metric, data-rows, data-row, data-series) so tests and scripts can count them.
 */
#ifndef JOBTEL_HTML_H
#define JOBTEL_HTML_H

#include <stdio.h>

#include "jobstats/timeline.h"

/* Writes the page. report_text is the text report (NULL: none); g the resampled timeline (may be empty). */
void html_write(FILE *f, const char *jobid, const struct tl_grid *g, const char *report_text);

#endif
