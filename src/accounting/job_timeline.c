/* job_timeline.c - a (job, GPU) record's downsampled timeline (see job_timeline.h for the layout).
 *
 * Every operation is O(TL_MAX_POINTS) at worst and happens at most once per dense point (5 s), so the
 * timeline costs the GPU thread nothing measurable; its memory is fixed inside the record.
 */
#include "accounting/job_timeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Beyond this a figure is not a time, offset or mean a timeline can hold (a loaded state checks it). */
#define TL_NUM_MAX 1e15

/* floor and round of the numbers here, without libm (the daemon does not link it); outside
 * +-TL_NUM_MAX (never from a collection or a checked state) clamped rather than cast out of range */
static double tl_floor(double x)
{
    if (!(x > -TL_NUM_MAX && x < TL_NUM_MAX))
        return x > 0 ? TL_NUM_MAX : -TL_NUM_MAX;
    double f = (double)(long long)x;
    return f > x ? f - 1 : f;
}

static long long tl_round(double x)
{
    return (long long)tl_floor(x + 0.5);
}

const struct tl_layout tl_gpu_layout = {
    TL_SERIES, "[\"util\",\"power\",\"mem\",\"sm\",\"clock\",\"throttle\"]", {0, 0, 1, 0, 0, 0}};
const struct tl_layout tl_cpu_layout = {TL_CPU_SERIES, "[\"cpu\",\"mem\"]", {2, 1}};

void tl_init(struct acct_timeline *t)
{
    memset(t, 0, sizeof *t);
    t->last_end_mono = -1;
    t->mid_w = (float)TL_RES_S;
}

void tl_free(struct acct_timeline *t)
{
    free(t->p);
    tl_init(t);
}

static bool tl_reserve(struct acct_timeline *t, unsigned need)
{
    if (need <= t->cap)
        return true;
    if (need > TL_MAX_POINTS)
        return false;
    unsigned cap = t->cap ? t->cap * 2u : 4u;
    if (cap > TL_MAX_POINTS)
        cap = TL_MAX_POINTS;
    if (cap < need)
        cap = need;
    struct tl_point *p = realloc(t->p, cap * sizeof *p);
    if (!p)
        return false;
    t->p = p;
    t->cap = (uint8_t)cap;
    return true;
}

void tl_trim(struct acct_timeline *t)
{
    if (t->cap == t->n)
        return;
    if (t->n == 0) {
        free(t->p);
        t->p = NULL;
        t->cap = 0;
        return;
    }
    struct tl_point *p = realloc(t->p, t->n * sizeof *p);
    if (p) {
        t->p = p;
        t->cap = t->n;
    }
}

static void merge_into(struct tl_point *dst, const struct tl_point *src)
{
    if (src->start < dst->start)
        dst->start = src->start;
    if (src->end > dst->end)
        dst->end = src->end;
    for (int c = 0; c < TL_SERIES; c++) {
        dst->sum[c] += src->sum[c];
        dst->w[c] += src->w[c];
    }
}

static void remove_point(struct acct_timeline *t, unsigned i)
{
    memmove(&t->p[i], &t->p[i + 1], (t->n - i - 1) * sizeof t->p[0]);
    t->n--;
}

static double slot(double start, double width)
{
    return tl_floor(start / width);
}

/* Merges neighbouring middle buckets that fall in the same slot of the current width. */
static void compact_middle(struct acct_timeline *t)
{
    unsigned i = t->nhead + 1;
    while (i < (unsigned)t->nhead + t->nmid) {
        if (slot(t->p[i - 1].start, t->mid_w) == slot(t->p[i].start, t->mid_w)) {
            merge_into(&t->p[i - 1], &t->p[i]);
            remove_point(t, i);
            t->nmid--;
        } else {
            i++;
        }
    }
}

/* The oldest tail point joins the middle: merged into the last middle bucket when it falls in the
 * same slot, else a bucket of its own; too many buckets double the width (pairwise merge). */
static void promote_oldest_tail(struct acct_timeline *t)
{
    unsigned k = (unsigned)t->nhead + t->nmid;
    if (t->nmid > 0 && slot(t->p[k - 1].start, t->mid_w) == slot(t->p[k].start, t->mid_w)) {
        merge_into(&t->p[k - 1], &t->p[k]);
        remove_point(t, k);
    } else {
        t->nmid++;
    }
    while (t->nmid > TL_MID_POINTS) {
        t->mid_w *= 2;
        compact_middle(t);
    }
}

void tl_add(struct acct_timeline *t, double mono, double wall, double dt, const struct tl_values *v)
{
    if (!(dt > 0))
        return;
    double start;
    if (t->t0 <= 0) {
        t->t0 = wall - dt;
        start = 0;
    } else {
        double last_end = t->n ? t->p[t->n - 1].end : 0;
        if (t->last_end_mono >= 0 && fabs(mono - dt - t->last_end_mono) < 1e-6)
            start = last_end; /* the next interval of a contiguous run: the collections' own clock */
        else
            start = wall - dt - t->t0; /* after a gap or a restart: placed by the wall clock */
        if (start < last_end)
            start = last_end; /* a wall clock stepped back must not make points overlap */
    }
    t->last_end_mono = mono;
    double end = start + dt;
    struct tl_point *open = t->n ? &t->p[t->n - 1] : NULL;
    if (!open || slot(open->start, TL_RES_S) != slot(start, TL_RES_S)) {
        bool head = t->n == t->nhead && start < TL_HEAD_S && t->nhead < TL_HEAD_POINTS;
        if (!head && t->n - t->nhead - t->nmid >= TL_TAIL_POINTS)
            promote_oldest_tail(t);
        if (!tl_reserve(t, t->n + 1u))
            return;
        open = &t->p[t->n++];
        memset(open, 0, sizeof *open);
        open->start = (float)start;
        if (head)
            t->nhead++;
    }
    open->end = (float)end;
    for (int c = 0; c < TL_SERIES; c++) {
        if (v->valid & (1u << c)) {
            open->sum[c] += (float)(v->v[c] * dt);
            open->w[c] += (float)dt;
        }
    }
}

void tl_json(const struct acct_timeline *t, const struct tl_layout *lay, const char *key, struct buf *out)
{
    static const double scale[] = {1, 10, 100, 1000};
    if (t->t0 <= 0 || t->n == 0)
        return;
    double t0 = tl_floor(t->t0), frac = t->t0 - t0;
    buf_printf(out, ",\"%s\":{\"t0\":%.0f,\"cols\":%s,\"pts\":[", key, t0, lay->cols_json);
    for (unsigned i = 0; i < t->n; i++) {
        const struct tl_point *p = &t->p[i];
        long long off = tl_round(frac + p->start), end = tl_round(frac + p->end);
        buf_printf(out, "%s[%lld,%lld", i ? "," : "", off, end - off);
        for (unsigned c = 0; c < lay->ncols; c++) {
            if (!(p->w[c] > 0)) {
                buf_puts(out, ",null");
                continue;
            }
            double m = (double)p->sum[c] / (double)p->w[c];
            unsigned d = lay->decimals[c] < 3 ? lay->decimals[c] : 3;
            if (d)
                buf_printf(out, ",%.*f", (int)d, (double)tl_round(m * scale[d]) / scale[d]);
            else
                buf_printf(out, ",%lld", tl_round(m));
        }
        buf_puts(out, "]");
    }
    buf_puts(out, "]}");
}

/* ---- state file ----------------------------------------------------------------------------------- */

void tl_format(const struct acct_timeline *t, const struct tl_layout *lay, struct buf *out)
{
    if (t->t0 <= 0 || t->n == 0)
        return;
    buf_printf(out, "tl %.17g %.9g %u %u %u\n", t->t0, (double)t->mid_w, t->nhead, t->nmid, t->n);
    for (unsigned i = 0; i < t->n; i++) {
        const struct tl_point *p = &t->p[i];
        buf_printf(out, "p %.9g %.9g", (double)p->start, (double)p->end);
        for (unsigned c = 0; c < lay->ncols; c++)
            buf_printf(out, " %.9g %.9g", (double)p->sum[c], (double)p->w[c]);
        buf_puts(out, "\n");
    }
}

static bool next_num(struct cursor *c, double *v)
{
    const char *tok;
    cur_skip_space(c);
    size_t n = cur_token(c, " ", &tok);
    return n > 0 && str_to_double(tok, n, v) && *v >= 0 && *v < 1e30;
}

static bool next_uint(struct cursor *c, unsigned max, unsigned *v)
{
    const char *tok;
    uint64_t u;
    cur_skip_space(c);
    size_t n = cur_token(c, " ", &tok);
    if (!str_to_u64(tok, n, &u) || u > max)
        return false;
    *v = (unsigned)u;
    return true;
}

bool tl_parse_head(struct cursor *c, struct acct_timeline *t, unsigned *npoints)
{
    double t0, w;
    unsigned nhead, nmid, n;
    tl_free(t);
    if (!next_num(c, &t0) || !(t0 > 0 && t0 < TL_NUM_MAX) || !next_num(c, &w) || !(w >= TL_RES_S && w < TL_NUM_MAX) ||
        !next_uint(c, TL_HEAD_POINTS, &nhead) || !next_uint(c, TL_MID_POINTS, &nmid) ||
        !next_uint(c, TL_MAX_POINTS, &n) || nhead + nmid > n || n == 0)
        return false;
    cur_skip_space(c);
    if (!cur_eof(c))
        return false;
    t->t0 = t0;
    t->mid_w = (float)w;
    t->nhead = (uint8_t)nhead;
    t->nmid = (uint8_t)nmid;
    *npoints = n;
    return tl_reserve(t, n);
}

bool tl_parse_point(struct cursor *c, struct acct_timeline *t, const struct tl_layout *lay)
{
    if (t->n >= t->cap || lay->ncols > TL_SERIES)
        return false;
    struct tl_point p;
    memset(&p, 0, sizeof p);
    double v[2 + 2 * TL_SERIES];
    for (size_t i = 0; i < 2 + 2 * lay->ncols; i++) {
        if (!next_num(c, &v[i]))
            return false;
    }
    cur_skip_space(c);
    /* compared as the floats they were written from (%.9g gives each float back exactly; the decimal
     * itself may lie either side of it) */
    p.start = (float)v[0];
    p.end = (float)v[1];
    if (!cur_eof(c) || p.end < p.start || !(p.end < TL_NUM_MAX) || (t->n && p.start < t->p[t->n - 1].end))
        return false;
    for (unsigned k = 0; k < lay->ncols; k++) {
        p.sum[k] = (float)v[2 + 2 * k];
        p.w[k] = (float)v[3 + 2 * k];
        /* a mean no reading gives is a corrupt state */
        if (p.w[k] > 0 && !((double)p.sum[k] / (double)p.w[k] < TL_NUM_MAX))
            return false;
    }
    t->p[t->n++] = p;
    return true;
}

bool tl_check(const struct acct_timeline *t, unsigned npoints)
{
    return t->n == npoints && (unsigned)t->n - t->nhead - t->nmid <= TL_TAIL_POINTS;
}
