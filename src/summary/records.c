/* records.c - folds the nodes' exact accounting records (written by `jobtel job-record` in the node
 * epilog, RECORDS_DIR/JOBID/NODE.json) into a job's summary, next to Princeton's keys.
 *
 * Princeton's keys are left exactly as they are, so reportseff and Job Defense Shield read the summary
 * as before; the exact figures go under one extra top-level key, "jobtel":
 *   {"v": 1, "gpu_util_exact": %, "energy_j": J, "sm_active": %,
 *    "nodes": {NODE: {GPU: {"alloc": s, "busy": s, "energy": J, "sm": s, "mem_peak": bytes,
 *                            "xids": n, "throttle": s}}}}
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

static bool num(const json_t *o, const char *key, double *v)
{
    const json_t *j = json_object_get(o, key);
    if (!j || !json_is_number(j))
        return false;
    *v = json_number_value(j);
    return isfinite(*v) && *v >= 0;
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
        json_object_set_new(node, key, o);
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
