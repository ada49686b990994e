/* html.c - the self-contained HTML report of a job (see html.h).
 *
 * Every byte is written here: names from summaries and labels are escaped for HTML (they are user-
 * reachable input), numbers are printed with a fixed precision, and no attribute ever holds a URL (an
 * inline SVG in HTML5 needs no xmlns). Unknown cells are drawn grey and said so in the legend, never as
 * the colour of zero.
 */
#include "jobstats/html.h"

#include <math.h>
#include <string.h>

#include "jobstats/jobstats_fmt.h"

#define CELL_W 7
#define CELL_H 16
#define LABEL_W 150
#define GAP_FILL "#d9d9d9"

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A perceptual ramp (dark blue -> green -> yellow, as viridis) at x in [0, 1]. */
static void ramp(double x, char *dst, size_t dstsz)
{
    static const unsigned char stops[][3] = {{68, 1, 84},    {59, 82, 139},  {33, 145, 140},
                                             {94, 201, 98},  {253, 231, 37}};
    const int n = (int)(sizeof stops / sizeof stops[0]) - 1;
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    int i = (int)(x * n);
    if (i >= n)
        i = n - 1;
    double t = x * n - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)lround(stops[i][k] + t * (stops[i + 1][k] - stops[i][k]));
    snprintf(dst, dstsz, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

static void row_label(const struct tl_series *s, char *dst, size_t dstsz)
{
    if (s->gpu[0])
        snprintf(dst, dstsz, "%s GPU %s", s->node, s->gpu);
    else
        snprintf(dst, dstsz, "%s", s->node);
}

static void heatmap(FILE *f, const struct tl_grid *g, enum tl_metric m)
{
    size_t rows = 0;
    for (size_t i = 0; i < g->n; i++)
        rows += g->s[i].metric == m;
    if (rows == 0)
        return;
    double scale = tl_metric_scale(g, m);
    int w = LABEL_W + g->cols * CELL_W + 10, h = (int)rows * CELL_H + 34;
    fprintf(f, "<section class=\"chart\">\n<h2>%s (%s)</h2>\n", tl_metric_title(m), tl_metric_unit(m));
    fprintf(f, "<svg class=\"heatmap\" data-chart=\"heatmap\" data-metric=\"%s%s\" data-rows=\"%zu\" "
               "data-cols=\"%d\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            m == TL_CPU || m == TL_CPUMEM ? "cpu_" : "", tl_metric_key(m), rows, g->cols, w, h, w, h);
    int y = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct tl_series *s = &g->s[i];
        if (s->metric != m)
            continue;
        char label[200];
        row_label(s, label, sizeof label);
        double mean = tl_series_mean(s);
        fputs("<g class=\"row\" data-row=\"", f);
        esc(f, label);
        fprintf(f, "\"><title>");
        esc(f, label);
        if (!isnan(mean))
            fprintf(f, ": mean %.1f %s", mean, tl_metric_unit(m));
        fprintf(f, "</title>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 6, y + CELL_H - 4);
        esc(f, label);
        fputs("</text>\n", f);
        for (int c = 0; c < g->cols; c++) {
            double v = tl_value(s, c);
            char fill[16];
            if (isnan(v))
                snprintf(fill, sizeof fill, GAP_FILL);
            else
                ramp(scale > 0 ? v / scale : 0, fill, sizeof fill);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"%s/>", LABEL_W + c * CELL_W, y,
                    CELL_W, CELL_H - 1, fill, isnan(v) ? " class=\"gap\"" : "");
        }
        fputs("\n</g>\n", f);
        y += CELL_H;
    }
    /* Legend: the ramp from 0 to the scale, and the grey of "no data". */
    int ly = y + 8;
    for (int k = 0; k < 10; k++) {
        char fill[16];
        ramp(k / 9.0, fill, sizeof fill);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"10\" fill=\"%s\"/>", LABEL_W + k * 12, ly, fill);
    }
    fprintf(f, "\n<text x=\"%d\" y=\"%d\">0 .. %.*f %s</text>", LABEL_W + 126, ly + 9, !isnan(scale) && scale != floor(scale) ? 1 : 0,
            isnan(scale) ? 0 : scale, tl_metric_unit(m));
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"10\" fill=\"" GAP_FILL "\"/><text x=\"%d\" y=\"%d\">no data</text>\n",
            LABEL_W + 300, ly, LABEL_W + 316, ly + 9);
    fputs("</svg>\n</section>\n", f);
}

/* Each node's mean GPU utilization per column with the band between its least and most busy GPU. */
static void node_average(FILE *f, const struct tl_grid *g, const char *node)
{
    double mean[TL_COLS_MAX], lo[TL_COLS_MAX], hi[TL_COLS_MAX];
    int gpus = 0;
    for (int c = 0; c < g->cols; c++) {
        double sum = 0;
        int n = 0;
        lo[c] = hi[c] = NAN;
        for (size_t i = 0; i < g->n; i++) {
            const struct tl_series *s = &g->s[i];
            if (s->metric != TL_UTIL || strcmp(s->node, node) != 0)
                continue;
            double v = tl_value(s, c);
            if (isnan(v))
                continue;
            sum += v;
            n++;
            lo[c] = isnan(lo[c]) || v < lo[c] ? v : lo[c];
            hi[c] = isnan(hi[c]) || v > hi[c] ? v : hi[c];
        }
        mean[c] = n ? sum / n : NAN;
    }
    for (size_t i = 0; i < g->n; i++)
        gpus += g->s[i].metric == TL_UTIL && strcmp(g->s[i].node, node) == 0;
    const int pw = g->cols * CELL_W, ph = 120, x0 = 40, y0 = 10;
    fputs("<section class=\"chart\">\n<h2>GPU utilization of ", f);
    esc(f, node);
    fprintf(f, ": mean of %d GPU%s, min/max band (%%)</h2>\n", gpus, gpus == 1 ? "" : "s");
    fputs("<svg class=\"lines\" data-chart=\"node-average\" data-node=\"", f);
    esc(f, node);
    fprintf(f, "\" data-gpus=\"%d\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", gpus,
            x0 + pw + 10, y0 + ph + 24, x0 + pw + 10, y0 + ph + 24);
    for (int v = 0; v <= 100; v += 50)
        fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/><text x=\"%d\" y=\"%d\" "
                   "text-anchor=\"end\">%d</text>\n",
                x0, x0 + pw, y0 + ph - v * ph / 100, y0 + ph - v * ph / 100, x0 - 4, y0 + ph - v * ph / 100 + 4, v);
    /* One band polygon and one mean polyline per run of known columns: a gap breaks both. */
    for (int c = 0; c < g->cols;) {
        if (isnan(mean[c])) {
            c++;
            continue;
        }
        int e = c;
        while (e < g->cols && !isnan(mean[e]))
            e++;
        fputs("<polygon class=\"band\" data-series=\"band\" points=\"", f);
        for (int k = c; k < e; k++)
            fprintf(f, "%.1f,%.1f ", x0 + (k + 0.5) * CELL_W, y0 + ph - hi[k] * ph / 100);
        for (int k = e - 1; k >= c; k--)
            fprintf(f, "%.1f,%.1f ", x0 + (k + 0.5) * CELL_W, y0 + ph - lo[k] * ph / 100);
        fputs("\"/>\n<polyline class=\"mean\" data-series=\"mean\" points=\"", f);
        for (int k = c; k < e; k++)
            fprintf(f, "%.1f,%.1f ", x0 + (k + 0.5) * CELL_W, y0 + ph - mean[k] * ph / 100);
        fputs("\"/>\n", f);
        c = e;
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\">start</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">end</text>\n", x0,
            y0 + ph + 18, x0 + pw, y0 + ph + 18);
    fputs("</svg>\n</section>\n", f);
}

void html_write(FILE *f, const char *jobid, const struct tl_grid *g, const char *report_text)
{
    char span[64], when[64], width[64];
    fmt_duration(span, sizeof span, (double)(g->end - g->start));
    fmt_duration(width, sizeof width, (double)(g->end - g->start) / g->cols);
    fmt_start_time(when, sizeof when, g->start);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>jobstats: job ", f);
    esc(f, jobid);
    fputs("</title>\n<style>\n"
          "body { font-family: sans-serif; margin: 1.5em; color: #222; background: #fff; }\n"
          "h1 { font-size: 1.4em; } h2 { font-size: 1.05em; margin: 1.2em 0 0.3em; }\n"
          "svg text { font-size: 11px; fill: #333; }\n"
          "svg .grid { stroke: #ccc; stroke-width: 1; }\n"
          "svg .band { fill: #9ecae1; fill-opacity: 0.6; stroke: none; }\n"
          "svg .mean { fill: none; stroke: #08519c; stroke-width: 2; }\n"
          "pre.report { background: #f6f6f6; padding: 1em; font-size: 12px; overflow-x: auto; }\n"
          ".meta { color: #555; }\n"
          "</style>\n</head>\n<body>\n<h1>Job ",
          f);
    esc(f, jobid);
    fputs("</h1>\n<p class=\"meta\">", f);
    fprintf(f, "%s from %s; timeline from the ", span, when);
    esc(f, g->source ? g->source : "?");
    fprintf(f, ", %d columns of %s each; grey cells: no data.</p>\n", g->cols, width);
    if (g->n == 0)
        fputs("<p class=\"meta\" data-chart=\"none\">No timeline is available for this job.</p>\n", f);
    for (int m = 0; m < TL_CPU; m++)
        heatmap(f, g, (enum tl_metric)m);
    for (size_t i = 0; i < g->n; i++) {
        if (g->s[i].metric != TL_UTIL)
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = g->s[j].metric == TL_UTIL && strcmp(g->s[j].node, g->s[i].node) == 0;
        if (!seen)
            node_average(f, g, g->s[i].node);
    }
    heatmap(f, g, TL_CPU);
    heatmap(f, g, TL_CPUMEM);
    if (report_text) {
        fputs("<section class=\"figures\">\n<h2>Report</h2>\n<pre class=\"report\" data-chart=\"report\">", f);
        esc(f, report_text);
        fputs("</pre>\n</section>\n", f);
    }
    fputs("</body>\n</html>\n", f);
}
