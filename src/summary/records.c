/* records.c - folds the nodes' exact accounting records (written by `jobtel job-record` in the node
 * epilog, RECORDS_DIR/JOBID/NODE.json) into a job's summary, next to Princeton's keys.
 *
 * Princeton's keys are left exactly as they are, so reportseff and Job Defense Shield read the summary
 * as before; the exact figures go under one extra top-level key, "jobtel":
 *   {"v": 1, "gpu_util_exact": %, "energy_j": J, "sm_active": %,
 *    "nodes": {NODE: {GPU: {"alloc": s, "busy": s, "energy": J, "sm": s, "mem_peak": bytes,
 *                            "xids": n, "throttle": s, "tl": {"t0": s, "cols": [...], "pts": [...]}},
 *                      "cpu_tl": {"t0": s, "cols": ["cpu", "mem"], "pts": [...]}}}}
 * (the timeline's format: docs/accounting.md)
 * (a figure a node did not measure is absent, never 0). The files are hostile input: each is opened
 * without following symlinks and without blocking, must be a regular file of at most 1 MiB, valid JSON
 * of the daemon's shape with finite non-negative numbers, for the same job; anything else is skipped
 * and logged, and the summary is stored without it.
 */
#include "summary/records.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"

#define RECORD_FILE_MAX (1u << 20)
#define RECORD_FILES_MAX 4096
#define TL_MAX_COLS 6
#define TL_MAX_PTS 512           /* a daemon writes at most 100 */
#define TL_MAX_OFFSET 100000000  /* seconds: three years */
#define TL_THIN_MIN 1            /* records_thin leaves a timeline of one point as it is */
#define TL_THIN_KEEP 24          /* ... and the first and last this many while the middle can shrink */

static bool num(const json_t *o, const char *key, double *v)
{
    const json_t *j = json_object_get(o, key);
    if (!j || !json_is_number(j))
        return false;
    *v = json_number_value(j);
    return isfinite(*v) && *v >= 0;
}

/* ---- timelines ------------------------------------------------------------------------------------ */

/* The columns of a kind of timeline and the decimals each is stored with (as the daemon writes them). */
struct tl_kind {
    size_t ncols;
    const char *cols[TL_MAX_COLS];
    int decimals[TL_MAX_COLS];
};
static const struct tl_kind tl_gpu = {6, {"util", "power", "mem", "sm", "clock", "throttle"}, {0, 0, 1, 0, 0, 0}};
static const struct tl_kind tl_cpu = {2, {"cpu", "mem"}, {2, 1}};

/* A column's value as the summary stores it: GPU memory in GiB with one decimal, the CPU's cores with two,
 * the others whole. */
static json_t *tl_value(const struct tl_kind *k, size_t col, double v)
{
    if (k->decimals[col] == 0)
        return json_integer((json_int_t)llround(v));
    double scale = k->decimals[col] == 1 ? 10 : 100;
    return json_real(round(v * scale) / scale);
}

/* A GPU's "tl" or the node's "cpu_tl", checked and rebuilt (hostile input: only the documented shape goes
 * through), or NULL when it is malformed. */
static json_t *tl_clean(const json_t *tl, const struct tl_kind *k)
{
    const json_t *t0 = json_object_get(tl, "t0"), *cols = json_object_get(tl, "cols"), *pts = json_object_get(tl, "pts");
    if (!json_is_integer(t0) || json_integer_value(t0) <= 0 || json_integer_value(t0) > ((json_int_t)1 << 40) ||
        !json_is_array(cols) || json_array_size(cols) != k->ncols || !json_is_array(pts) ||
        json_array_size(pts) > TL_MAX_PTS)
        return NULL;
    for (size_t c = 0; c < k->ncols; c++) {
        const json_t *name = json_array_get(cols, c);
        if (!json_is_string(name) || strcmp(json_string_value(name), k->cols[c]) != 0)
            return NULL;
    }
    json_t *out = json_array();
    json_int_t prev_end = 0;
    size_t i;
    const json_t *p;
    json_array_foreach(pts, i, p) {
        const json_t *off = json_array_get(p, 0), *dur = json_array_get(p, 1);
        if (!json_is_array(p) || json_array_size(p) != 2 + k->ncols || !json_is_integer(off) || !json_is_integer(dur) ||
            json_integer_value(off) < prev_end || json_integer_value(dur) < 0 ||
            json_integer_value(off) > TL_MAX_OFFSET || json_integer_value(dur) > TL_MAX_OFFSET)
            goto bad;
        prev_end = json_integer_value(off) + json_integer_value(dur);
        json_t *q = json_pack("[II]", json_integer_value(off), json_integer_value(dur));
        json_array_append_new(out, q);
        for (size_t c = 0; c < k->ncols; c++) {
            const json_t *v = json_array_get(p, 2 + c);
            double d;
            if (json_is_null(v)) {
                json_array_append_new(q, json_null());
                continue;
            }
            if (!json_is_number(v) || !isfinite(d = json_number_value(v)) || d < 0 || d > 1e7)
                goto bad;
            json_array_append_new(q, tl_value(k, c, d));
        }
    }
    return json_pack("{s:I, s:O, s:o}", "t0", json_integer_value(t0), "cols", cols, "pts", out);
bad:
    json_decref(out);
    return NULL;
}

/* Merges points i and i+1 of `pts` (duration-weighted means of the non-null values). */
static void tl_merge_pair(json_t *pts, size_t i, const struct tl_kind *k)
{
    json_t *a = json_array_get(pts, i), *b = json_array_get(pts, i + 1);
    json_int_t off = json_integer_value(json_array_get(a, 0));
    double da = (double)json_integer_value(json_array_get(a, 1)), db = (double)json_integer_value(json_array_get(b, 1));
    json_int_t end = json_integer_value(json_array_get(b, 0)) + json_integer_value(json_array_get(b, 1));
    json_t *m = json_pack("[II]", off, end - off);
    for (size_t c = 0; c < k->ncols; c++) {
        const json_t *va = json_array_get(a, 2 + c), *vb = json_array_get(b, 2 + c);
        double s = 0, w = 0, n = 0, plain = 0;
        if (json_is_number(va)) {
            s += json_number_value(va) * da;
            w += da;
            plain += json_number_value(va);
            n++;
        }
        if (json_is_number(vb)) {
            s += json_number_value(vb) * db;
            w += db;
            plain += json_number_value(vb);
            n++;
        }
        if (n == 0)
            json_array_append_new(m, json_null());
        else
            json_array_append_new(m, tl_value(k, c, w > 0 ? s / w : plain / n));
    }
    json_array_set_new(pts, i, m);
    json_array_remove(pts, i + 1);
}

bool records_thin(json_t *summary)
{
    json_t *nodes = json_object_get(json_object_get(summary, "jobtel"), "nodes");
    const char *nk, *gk;
    json_t *node, *gpu;
    bool thinned = false, any = false;
    json_object_foreach(nodes, nk, node) {
        json_object_foreach(node, gk, gpu) {
            /* the node's CPU timeline is thinned like its GPUs' */
            bool cpu = strcmp(gk, "cpu_tl") == 0;
            const struct tl_kind *k = cpu ? &tl_cpu : &tl_gpu;
            json_t *pts = json_object_get(cpu ? gpu : json_object_get(gpu, "tl"), "pts");
            if (!pts)
                continue;
            any = true;
            size_t n = json_array_size(pts);
            if (n <= TL_THIN_MIN)
                continue;
            /* The middle first: the first and last TL_THIN_KEEP points (the job's dense first and last
             * minutes) stay while the middle has points to merge. */
            size_t keep = n >= 2 * TL_THIN_KEEP + 4 ? TL_THIN_KEEP : 0;
            for (size_t i = keep; i + 1 < json_array_size(pts) - keep; i++)
                tl_merge_pair(pts, i, k);
            thinned = true;
        }
    }
    if (thinned || !any)
        return thinned;
    /* Every timeline is down to a handful of points and the summary is still too large: no timelines. */
    json_object_foreach(nodes, nk, node) {
        json_object_del(node, "cpu_tl");
        json_object_foreach(node, gk, gpu) {
            json_object_del(gpu, "tl");
        }
    }
    return true;
}

static bool read_file(int dirfd, const char *name, struct buf *b)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (off_t)RECORD_FILE_MAX;
    while (ok) {
        char chunk[16384];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        ok = buf_append(b, chunk, (size_t)n) == JT_OK;
    }
    close(fd);
    return ok;
}

/* One node's record into `node` (GPU -> figures); adds to the job's sums. false: malformed. */
static bool fold_one(const json_t *rec, const char *jobid, json_t *node, struct records_sum *sum)
{
    const json_t *j = json_object_get(rec, "jobid"), *gpus = json_object_get(rec, "gpus");
    if (!json_is_string(j) || strcmp(json_string_value(j), jobid) != 0 || !json_is_array(gpus) ||
        json_array_size(gpus) > 1024)
        return false;
    size_t i;
    const json_t *g;
    json_array_foreach(gpus, i, g) {
        const json_t *id = json_object_get(g, "gpu"), *gi = json_object_get(g, "gi");
        double alloc, v;
        if (!json_is_string(id) || strlen(json_string_value(id)) > 11 || !num(g, "allocated_s", &alloc))
            return false;
        char key[32];
        const char *gis = json_is_string(gi) ? json_string_value(gi) : "";
        if (strlen(gis) > 11)
            return false;
        snprintf(key, sizeof key, "%s%s%s", json_string_value(id), *gis ? "." : "", gis);
        json_t *o = json_object();
        json_object_set_new(o, "alloc", json_real(alloc));
        sum->alloc_s += alloc;
        if (num(g, "busy_s", &v)) {
            json_object_set_new(o, "busy", json_real(v));
            sum->busy_s += v;
            sum->busy_alloc_s += alloc;
        }
        if (num(g, "energy_j", &v)) {
            json_object_set_new(o, "energy", json_real(v));
            sum->energy_j += v;
            sum->has_energy = true;
        }
        if (num(g, "sm_active_s", &v)) {
            json_object_set_new(o, "sm", json_real(v));
            sum->sm_s += v;
            sum->sm_alloc_s += alloc;
        }
        if (num(g, "mem_peak_bytes", &v))
            json_object_set_new(o, "mem_peak", json_real(v));
        if (num(g, "xids", &v))
            json_object_set_new(o, "xids", json_integer((json_int_t)v));
        if (num(g, "throttle_s", &v))
            json_object_set_new(o, "throttle", json_real(v));
        const json_t *tl = json_object_get(g, "tl");
        if (tl) {
            json_t *clean = tl_clean(tl, &tl_gpu);
            if (clean)
                json_object_set_new(o, "tl", clean);
            else
                log_warn("job %s: GPU %s: malformed timeline left out (the totals are kept)", jobid, key);
        }
        json_object_set_new(node, key, o);
    }
    const json_t *ctl = json_object_get(rec, "cpu_tl");
    if (ctl) {
        json_t *clean = tl_clean(ctl, &tl_cpu);
        if (clean)
            json_object_set_new(node, "cpu_tl", clean);
        else
            log_warn("job %s: malformed CPU timeline left out", jobid);
    }
    return true;
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 6 || len > 68 || n[0] == '.' || strcmp(n + len - 5, ".json") != 0)
        return false;
    for (size_t i = 0; i + 5 < len; i++) {
        char c = n[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
              c == '+' || c == '-'))
            return false;
    }
    return true;
}

/* How many node records DIR/JOBID holds (names only: the files are checked when folded). */
static size_t records_count(const char *dir, const char *jobid)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, jobid) >= sizeof path)
        return 0;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < RECORD_FILES_MAX) {
        if (name_ok(de->d_name))
            n++;
    }
    closedir(d);
    return n;
}

size_t records_wait(const char *dir, const char *jobid, size_t nodes, double max_wait_s)
{
    struct stat st;
    if (!dir || !*dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0; /* no records directory: this site does not run job-record, nothing to wait for */
    double waited = 0, step = 0.1;
    size_t n;
    while ((n = records_count(dir, jobid)) < nodes && waited < max_wait_s) {
        usleep((useconds_t)(step * 1e6));
        waited += step;
        step = step * 2 > 1 ? 1 : step * 2;
    }
    return n;
}

size_t records_fold(const char *dir, const char *jobid, json_t *summary, struct records_sum *sum)
{
    memset(sum, 0, sizeof *sum);
    if (!dir || !*dir || !summary)
        return 0;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, jobid) >= sizeof path)
        return 0;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return 0; /* no node wrote a record: the summary has Princeton's figures only */
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    json_t *nodes = json_object();
    size_t folded = 0, seen = 0;
    struct dirent *de;
    while ((de = readdir(d)) && seen < RECORD_FILES_MAX) {
        if (!name_ok(de->d_name))
            continue;
        seen++;
        struct buf b;
        buf_init(&b, RECORD_FILE_MAX);
        json_t *rec = NULL;
        bool ok = read_file(dirfd(d), de->d_name, &b) && b.len > 0 &&
                  (rec = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL)) != NULL;
        json_t *node = json_object();
        if (ok)
            ok = fold_one(rec, jobid, node, sum);
        if (ok) {
            char nname[80];
            snprintf(nname, sizeof nname, "%.*s", (int)(strlen(de->d_name) - 5), de->d_name);
            json_object_set_new(nodes, nname, node);
            folded++;
        } else {
            json_decref(node);
            log_warn("job %s: record %s/%s skipped: not a regular file, too large, or not a record of this job", jobid,
                     path, de->d_name);
        }
        json_decref(rec);
        buf_free(&b);
    }
    closedir(d);
    if (folded == 0) {
        json_decref(nodes);
        return 0;
    }
    json_t *jt = json_object();
    json_object_set_new(jt, "v", json_integer(1));
    if (sum->busy_alloc_s > 0)
        json_object_set_new(jt, "gpu_util_exact", json_real(round(1000 * 100 * sum->busy_s / sum->busy_alloc_s) / 1000));
    if (sum->sm_alloc_s > 0)
        json_object_set_new(jt, "sm_active", json_real(round(1000 * 100 * sum->sm_s / sum->sm_alloc_s) / 1000));
    if (sum->has_energy)
        json_object_set_new(jt, "energy_j", json_real(round(sum->energy_j)));
    json_object_set_new(jt, "nodes", nodes);
    json_object_set_new(summary, "jobtel", jt);
    return folded;
}
