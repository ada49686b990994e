/* cgpath.c - the one parser of Slurm's cgroup paths (see cgpath.h).
 *
 * Names are matched component by component with explicit lengths, so the collector can test a
 * directory entry in place and attribution can test a slice of a /proc line, with the same code.
 */
#include "slurm/cgpath.h"

#include <string.h>

static bool prefixed(const char *s, size_t n, const char *prefix, size_t pn)
{
    return n >= pn && memcmp(s, prefix, pn) == 0;
}

#define PREFIXED(s, n, lit) prefixed((s), (n), (lit), sizeof(lit) - 1)

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* A canonical decimal number (no sign, no leading zero unless it is "0") of at most 32 bits. */
static bool dec_u32(const char *s, size_t n, uint32_t *out)
{
    if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    if (out)
        *out = (uint32_t)v;
    return true;
}

/* A node name as Slurm puts it in a directory name: non-empty, bounded, no separator or control byte. */
static bool node_name(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '/' || c == 0x7f)
            return false;
    }
    return true;
}

bool cgpath_is_v1_base(const char *name, size_t n)
{
    if (n == 5 && memcmp(name, "slurm", 5) == 0)
        return true;
    return PREFIXED(name, n, "slurm_") && node_name(name + 6, n - 6);
}

bool cgpath_is_uid(const char *name, size_t n, uint32_t *uid)
{
    return PREFIXED(name, n, "uid_") && dec_u32(name + 4, n - 4, uid);
}

bool cgpath_is_scope(const char *name, size_t n)
{
    static const char suffix[] = "slurmstepd.scope";
    size_t k = sizeof suffix - 1;
    if (n < k || memcmp(name + n - k, suffix, k) != 0)
        return false;
    if (n == k)
        return true;
    /* "<node>_slurmstepd.scope": the node name must not be empty. */
    return n > k + 1 && name[n - k - 1] == '_' && node_name(name, n - k - 1);
}

bool cgpath_is_job_v1(const char *name, size_t n, const char **id, size_t *idlen)
{
    uint32_t v;
    if (!PREFIXED(name, n, "job_") || !dec_u32(name + 4, n - 4, &v) || v == 0)
        return false;
    if (id) {
        *id = name + 4;
        *idlen = n - 4;
    }
    return true;
}

bool cgpath_is_sluid(const char *name, size_t n)
{
    if (n != 14 || name[0] != 's')
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!(is_digit(c) || (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

bool cgpath_is_job_v2(const char *name, size_t n, const char **id, size_t *idlen)
{
    if (cgpath_is_job_v1(name, n, id, idlen))
        return true;
    if (!cgpath_is_sluid(name, n))
        return false;
    if (id) {
        *id = name;
        *idlen = n;
    }
    return true;
}

bool cgpath_is_step(const char *name, size_t n)
{
    if (!PREFIXED(name, n, "step_") || n - 5 == 0 || n - 5 > CGPATH_STEP_MAX)
        return false;
    for (size_t i = 5; i < n; i++) {
        char c = name[i];
        if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '+' ||
              c == '-'))
            return false;
    }
    return true;
}

bool cgpath_is_task(const char *name, size_t n)
{
    if (!PREFIXED(name, n, "task_"))
        return false;
    const char *t = name + 5;
    size_t tn = n - 5;
    if (tn == 7 && memcmp(t, "special", 7) == 0)
        return true;
    if (tn == 0 || tn > 10)
        return false;
    for (size_t i = 0; i < tn; i++) {
        if (!is_digit(t[i]))
            return false;
    }
    return true;
}

/* --- whole paths --- */

/* The components of a path, split at '/', empty ones (leading, doubled or trailing '/') skipped. */
struct comp {
    const char *p;
    size_t n;
};

#define CGPATH_MAX_COMPS 64

static size_t split(const char *path, size_t n, struct comp *c, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n) {
        while (i < n && path[i] == '/')
            i++;
        size_t start = i;
        while (i < n && path[i] != '/')
            i++;
        if (i > start) {
            if (k == max)
                return max + 1; /* deeper than any Slurm cgroup: not one of ours */
            c[k].p = path + start;
            c[k].n = i - start;
            k++;
        }
    }
    return k;
}

static void copy(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* The step and task below a job, from component `i` on. v2 tasks sit in the step's "user" cgroup. */
static void parse_below_job(const struct comp *c, size_t k, size_t i, int version, struct cgpath_job *out)
{
    if (i >= k || !cgpath_is_step(c[i].p, c[i].n))
        return;
    copy(out->step, sizeof out->step, c[i].p + 5, c[i].n - 5);
    i++;
    if (version == 2) {
        if (i >= k || c[i].n != 4 || memcmp(c[i].p, "user", 4) != 0)
            return;
        i++;
    }
    if (i < k && cgpath_is_task(c[i].p, c[i].n))
        copy(out->task, sizeof out->task, c[i].p + 5, c[i].n - 5);
}

bool cgpath_parse(const char *path, size_t n, struct cgpath_job *out)
{
    struct comp c[CGPATH_MAX_COMPS];
    size_t k = split(path, n, c, CGPATH_MAX_COMPS);
    if (k > CGPATH_MAX_COMPS)
        return false;
    for (size_t i = 0; i + 1 < k; i++) {
        const char *id;
        size_t idlen;
        memset(out, 0, sizeof *out);
        if (cgpath_is_v1_base(c[i].p, c[i].n)) {
            /* slurm[_<node>]/uid_U/job_J */
            if (i + 2 >= k || !cgpath_is_uid(c[i + 1].p, c[i + 1].n, &out->uid) ||
                !cgpath_is_job_v1(c[i + 2].p, c[i + 2].n, &id, &idlen))
                continue;
            out->version = 1;
            out->has_uid = true;
            copy(out->jobid, sizeof out->jobid, id, idlen);
            parse_below_job(c, k, i + 3, 1, out);
            return true;
        }
        if (cgpath_is_scope(c[i].p, c[i].n)) {
            /* [<node>_]slurmstepd.scope/(job_J|SLUID) */
            if (!cgpath_is_job_v2(c[i + 1].p, c[i + 1].n, &id, &idlen))
                continue;
            out->version = 2;
            copy(out->jobid, sizeof out->jobid, id, idlen);
            parse_below_job(c, k, i + 2, 2, out);
            return true;
        }
    }
    memset(out, 0, sizeof *out);
    return false;
}

bool cgpath_from_proc_cgroup(const char *text, size_t n, struct cgpath_job *out)
{
    size_t i = 0;
    while (i < n) {
        const char *line = text + i;
        const char *nl = memchr(line, '\n', n - i);
        size_t len = nl ? (size_t)(nl - line) : n - i;
        i += len + 1;
        /* "hierarchy-id:controllers:path"; the path is after the second ':' (it may contain ':'). */
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (!c2)
            continue;
        const char *path = c2 + 1;
        if (cgpath_parse(path, len - (size_t)(path - line), out))
            return true;
    }
    memset(out, 0, sizeof *out);
    return false;
}
