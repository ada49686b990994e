/* job_timeline.h - the downsampled timeline of one (job, GPU) record: bounded memory whatever the job's
 * length, the first and last minutes dense, the middle merged into wider buckets as the job grows.
 *
 * Why this shape: a job's report wants to show its whole run (a week-long job as well as a 10-minute
 * one) in about 100 points, and the start and end of a job are where things go wrong (a slow data
 * loader, a hang before the end), so those stay at TL_RES_S per point. Points hold sums and covered
 * seconds per series, so merging two buckets is exact and a bucket's mean counts only the seconds that
 * had a valid reading: a gap (docs/accounting.md) is never averaged in, and a series never fed stays null.
 *
 * Layout of p[0..n): the head (points starting in the first TL_HEAD_S seconds, fixed once written), the
 * middle (buckets of mid_w seconds, aligned to multiples of mid_w from t0, merged pairwise when more
 * than TL_MID_POINTS), the tail (the latest TL_TAIL_POINTS dense points; the oldest moves into the
 * middle when a new one starts). So n <= TL_MAX_POINTS. A point that cannot be allocated is not added
 * (the totals are the record's; the timeline is a picture of them).
 */
#ifndef JOBTEL_JOB_TIMELINE_H
#define JOBTEL_JOB_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/strparse.h"

/* A timeline holds up to TL_SERIES columns; which ones, their names and their precision are its
 * layout's (a GPU record's six, a job's CPU timeline's two). */
enum tl_col { TL_UTIL, TL_POWER, TL_MEM, TL_SM, TL_CLOCK, TL_THROTTLE, TL_SERIES };
enum tl_cpu_col { TL_CPU_CORES, TL_CPU_MEM, TL_CPU_SERIES };

#define TL_RES_S 5.0          /* seconds per dense point */
#define TL_HEAD_S 120.0       /* the first 2 minutes stay dense */
#define TL_HEAD_POINTS 24     /* TL_HEAD_S / TL_RES_S */
#define TL_TAIL_POINTS 24     /* the last 2 minutes stay dense */
#define TL_MID_POINTS 52
#define TL_MAX_POINTS (TL_HEAD_POINTS + TL_MID_POINTS + TL_TAIL_POINTS)

/* The columns of a kind of timeline: their names in the record and the summary (a JSON array, in enum
 * order) and the decimals each is written with. */
struct tl_layout {
    unsigned ncols;
    const char *cols_json;
    unsigned char decimals[TL_SERIES];
};
extern const struct tl_layout tl_gpu_layout; /* util %, power W, mem GiB, sm %, clock MHz, throttle % */
extern const struct tl_layout tl_cpu_layout; /* cpu cores, mem GiB */

struct tl_point {
    float start, end;         /* offsets from t0, seconds */
    float sum[TL_SERIES];     /* value x seconds */
    float w[TL_SERIES];       /* seconds with a valid reading */
};

/* The points are allocated as they come (4, 8, ... TL_MAX_POINTS) and trimmed to their number when the
 * job ends: a record kept for the epilog after a short job costs a few hundred bytes, not 5.6 KB. */
struct acct_timeline {
    double t0;                /* unix seconds of the first point's start; 0: no point yet */
    double last_end_mono;     /* scratch (not persisted): end of the latest interval added, -1 none */
    float mid_w;              /* width of a middle bucket, seconds */
    uint8_t n, nhead, nmid, cap;
    struct tl_point *p;       /* owned (tl_free); cap points */
};

/* One interval's means: v[c] valid when bit c of `valid` is set (in the layout's units). */
struct tl_values {
    double v[TL_SERIES];
    unsigned valid;
};

/* An empty timeline (owns nothing). */
void tl_init(struct acct_timeline *t);
/* Frees the points; the timeline is then empty. */
void tl_free(struct acct_timeline *t);
/* Gives back the room beyond the points held (the job ended: no more points come, unless it returns). */
void tl_trim(struct acct_timeline *t);

/* Adds the interval (mono - dt, mono], which ended at unix time `wall`. An interval that does not
 * follow the previous one (a gap, a restart) is placed by the wall clock, never before the last point. */
void tl_add(struct acct_timeline *t, double mono, double wall, double dt, const struct tl_values *v);

/* Writes `,"<key>":{...}` (the record's and the summary's format, docs/accounting.md); nothing if empty. */
void tl_json(const struct acct_timeline *t, const struct tl_layout *lay, const char *key, struct buf *out);

/* State file: "tl <t0> <mid_w> <nhead> <nmid> <n>" then n lines "p <start> <end> (<sum> <w>) x ncols". */
void tl_format(const struct acct_timeline *t, const struct tl_layout *lay, struct buf *out);
/* Parses the "tl" line (after its keyword) then each "p" line (after its keyword); false: malformed.
 * tl_check after the last point: counts and order consistent. */
bool tl_parse_head(struct cursor *c, struct acct_timeline *t, unsigned *npoints);
bool tl_parse_point(struct cursor *c, struct acct_timeline *t, const struct tl_layout *lay);
bool tl_check(const struct acct_timeline *t, unsigned npoints);

#endif
