/* cgroup_parse.c - reading one cgroup directory's CPU and memory figures (see cgroup_parse.h).
 *
 * Which file feeds which field follows plazonic/cgroup_exporter, whose series jobstats queries, so
 * that jobtel's numbers line up with the ones sites already have. Where that exporter reads a coarser
 * source (v1 user/system time from cpuacct.stat in clock ticks) we read the kernel's nanosecond
 * counters (cpuacct.usage_all) and keep the coarse file only for kernels that lack them.
 */
#include "collectors/cgroup_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/cpulist.h"
#include "common/strparse.h"

/* Every cgroup file we read is a few KiB; a cpuset list of thousands of CPUs is the largest. */
#define CG_FILE_MAX (256u * 1024u)

#define NS_PER_S UINT64_C(1000000000)
#define NS_PER_US UINT64_C(1000)

void cg_reader_init(struct cg_reader *r, long user_hz)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->scratch, CG_FILE_MAX);
    r->user_hz = user_hz > 0 ? user_hz : 100;
}

void cg_reader_free(struct cg_reader *r) { buf_free(&r->scratch); }

/* The first read into a fresh buffer: enough for every cgroup file but a cpuset list or per-CPU usage
 * of a very large machine, which grow it once. */
#define CG_FILE_FIRST (8u * 1024u)

/* Makes room for `need` bytes and a NUL in the scratch buffer. The buffer is reused for every file of
 * every collection, so after the first collection this never allocates. */
static bool scratch_room(struct buf *b, size_t need)
{
    if (need + 1 <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : CG_FILE_FIRST;
    while (ncap < need + 1)
        ncap *= 2;
    char *p = realloc(b->data, ncap);
    if (!p)
        return false;
    b->data = p;
    b->cap = ncap;
    return true;
}

/* Reads a whole regular file relative to `dirfd` into `b`. Never blocks and never follows a symlink: a
 * FIFO, socket or device put where a cgroup file should be is refused (JT_ERR_UNSAFE) before any read,
 * and O_NONBLOCK makes even the open of a FIFO return at once. With `kernfs` (a real cgroup mount, where
 * the kernel makes every file and all are regular) the fstat is left out; O_NONBLOCK still holds. One open, one fstat, usually one read: a
 * read from a regular file (cgroupfs, tmpfs, disk) comes back short only at the end of the file, so a
 * short read ends it without the extra read that would return 0. */
static enum jt_err read_regular_at(int dirfd, const char *name, size_t max, bool kernfs, struct buf *b)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        switch (errno) {
        case ENOENT:
        case ENOTDIR:
            return JT_ERR_NOT_FOUND;
        case ELOOP:
            return JT_ERR_UNSAFE;
        case EACCES:
        case EPERM:
            return JT_ERR_PERMISSION;
        default:
            return JT_ERR_IO;
        }
    }
    enum jt_err e = JT_OK;
    struct stat sb;
    if (!kernfs && fstat(fd, &sb) != 0) {
        e = JT_ERR_IO;
        goto out;
    }
    if (!kernfs && !S_ISREG(sb.st_mode)) {
        e = JT_ERR_UNSAFE;
        goto out;
    }
    b->len = 0;
    for (;;) {
        if (!scratch_room(b, b->len + CG_FILE_FIRST / 2)) {
            e = JT_ERR_NOMEM;
            break;
        }
        size_t room = b->cap - 1 - b->len;
        ssize_t n = read(fd, b->data + b->len, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* A cgroup removed under us reads as ENODEV; a FIFO that slipped through would say EAGAIN. */
            e = errno == ENODEV || errno == ENOENT ? JT_ERR_NOT_FOUND : JT_ERR_IO;
            break;
        }
        b->len += (size_t)n;
        if (b->len > max) {
            e = JT_ERR_LIMIT;
            break;
        }
        if ((size_t)n < room)
            break;
    }
out:
    close(fd);
    if (e != JT_OK)
        b->len = 0;
    if (b->data)
        b->data[b->len] = '\0';
    return e;
}

bool cg_read_file(struct cg_reader *r, int dirfd, const char *name)
{
    enum jt_err e = read_regular_at(dirfd, name, CG_FILE_MAX, r->kernfs, &r->scratch);
    switch (e) {
    case JT_OK:
        return true;
    case JT_ERR_NOT_FOUND:
        r->missing++;
        return false;
    case JT_ERR_LIMIT:
        /* No cgroup file is that large: it is not what we think it is. */
        r->parse_errors++;
        return false;
    default:
        /* Unreadable, or not a regular file (a FIFO, a device, a symlink). */
        r->read_errors++;
        return false;
    }
}

/* For files some kernels lack (v2 memory.peak before 5.19): absence is not a sign the cgroup went away. */
static bool read_optional(struct cg_reader *r, int dirfd, const char *name)
{
    unsigned missing = r->missing;
    bool ok = cg_read_file(r, dirfd, name);
    r->missing = missing;
    return ok;
}

static const char *scratch(const struct cg_reader *r) { return buf_str(&r->scratch); }

/* Reads a file holding one number; on success stores it in `f`. */
static bool read_u64_field(struct cg_reader *r, int dirfd, const char *name, struct cg_stats *st,
                           enum cg_field f)
{
    if (!cg_read_file(r, dirfd, name))
        return false;
    uint64_t v;
    if (!cg_parse_u64(scratch(r), r->scratch.len, &v)) {
        r->parse_errors++;
        return false;
    }
    cg_set(st, f, v);
    return true;
}

/* Reads a flat-keyed file; *found has bit i for each keys[i] present. */
static bool read_keyed(struct cg_reader *r, int dirfd, const char *name, const char *const *keys,
                       size_t nkeys, uint64_t *vals, uint32_t *found)
{
    *found = 0;
    if (!cg_read_file(r, dirfd, name))
        return false;
    if (!cg_parse_keyed(scratch(r), r->scratch.len, keys, nkeys, vals, found)) {
        r->parse_errors++;
        *found = 0;
        return false;
    }
    return true;
}

static bool all_found(uint32_t found, uint32_t want) { return (found & want) == want; }

/* Sets `f` to a * b, or, when that does not fit in 64 bits, leaves it unset and counts the file as not
 * in the expected format: a wrapped counter would be a made-up value. */
static void set_product(struct cg_reader *r, struct cg_stats *st, enum cg_field f, uint64_t a, uint64_t b)
{
    if (b != 0 && a > UINT64_MAX / b) {
        r->parse_errors++;
        return;
    }
    cg_set(st, f, a * b);
}

/* The same for a + b. */
static void set_sum(struct cg_reader *r, struct cg_stats *st, enum cg_field f, uint64_t a, uint64_t b)
{
    if (a > UINT64_MAX - b) {
        r->parse_errors++;
        return;
    }
    cg_set(st, f, a + b);
}

void cg_v1_read_cpuacct(struct cg_reader *r, int dirfd, struct cg_stats *st)
{
    /* One file instead of three where the kernel has it (4.7+): cpuacct.usage is by definition the
     * sum of the user and system columns of cpuacct.usage_all. */
    if (cg_read_file(r, dirfd, "cpuacct.usage_all")) {
        uint64_t user, sys;
        if (cg_parse_usage_all(scratch(r), r->scratch.len, &user, &sys) && user <= UINT64_MAX - sys) {
            cg_set(st, CG_CPU_USER_NS, user);
            cg_set(st, CG_CPU_SYSTEM_NS, sys);
            cg_set(st, CG_CPU_TOTAL_NS, user + sys);
        } else {
            /* Garbled, or sums beyond 64 bits (which the parser refuses too). */
            r->parse_errors++;
        }
        return;
    }
    /* Kernels before 4.7 split the time only in cpuacct.stat, in clock ticks (USER_HZ). */
    read_u64_field(r, dirfd, "cpuacct.usage", st, CG_CPU_TOTAL_NS);
    static const char *const keys[] = {"user", "system"};
    uint64_t vals[2];
    uint32_t found;
    if (!read_keyed(r, dirfd, "cpuacct.stat", keys, 2, vals, &found))
        return;
    uint64_t ns_per_tick = NS_PER_S / (uint64_t)r->user_hz;
    if (found & 1u)
        set_product(r, st, CG_CPU_USER_NS, vals[0], ns_per_tick);
    if (found & 2u)
        set_product(r, st, CG_CPU_SYSTEM_NS, vals[1], ns_per_tick);
}

void cg_v1_read_memory(struct cg_reader *r, int dirfd, struct cg_stats *st)
{
    read_u64_field(r, dirfd, "memory.usage_in_bytes", st, CG_MEM_USED);
    read_u64_field(r, dirfd, "memory.failcnt", st, CG_MEM_FAILCNT);
    /* The kernel's own high-water mark, so a peak between two collections is not lost. */
    if (read_optional(r, dirfd, "memory.max_usage_in_bytes")) {
        uint64_t v;
        if (cg_parse_u64(scratch(r), r->scratch.len, &v))
            cg_set(st, CG_MEM_PEAK, v);
        else
            r->parse_errors++;
    }

    uint64_t limit;
    bool have_limit = false;
    if (cg_read_file(r, dirfd, "memory.limit_in_bytes")) {
        if (cg_parse_u64(scratch(r), r->scratch.len, &limit))
            have_limit = true;
        else
            r->parse_errors++;
    }

    /* The total_* keys include the children: a job's processes live in its step cgroups. */
    enum { K_RSS, K_CACHE, K_INACTIVE_FILE, K_ACTIVE_FILE, K_HIER_LIMIT, K_N };
    static const char *const keys[K_N] = {"total_rss", "total_cache", "total_inactive_file",
                                          "total_active_file", "hierarchical_memory_limit"};
    uint64_t vals[K_N];
    uint32_t found;
    if (read_keyed(r, dirfd, "memory.stat", keys, K_N, vals, &found)) {
        if (found & (1u << K_RSS))
            cg_set(st, CG_MEM_RSS, vals[K_RSS]);
        if (found & (1u << K_CACHE))
            cg_set(st, CG_MEM_CACHE, vals[K_CACHE]);
        /* cgroup_exporter's v1 shmem: the page cache that is not on the file LRU lists. The counters
         * are sampled separately, so the difference can dip below zero for a moment. */
        uint32_t want = (1u << K_CACHE) | (1u << K_INACTIVE_FILE) | (1u << K_ACTIVE_FILE);
        if (all_found(found, want)) {
            if (vals[K_INACTIVE_FILE] > UINT64_MAX - vals[K_ACTIVE_FILE]) {
                r->parse_errors++;
            } else {
                uint64_t lru = vals[K_INACTIVE_FILE] + vals[K_ACTIVE_FILE];
                cg_set(st, CG_MEM_SHMEM, vals[K_CACHE] > lru ? vals[K_CACHE] - lru : 0);
            }
        }
        /* A cgroup without its own limit (a task, or a job without ConstrainRAMSpace) is bounded by
         * the smallest limit above it, which the kernel reports here. */
        if (have_limit && limit >= CG_V1_UNLIMITED && (found & (1u << K_HIER_LIMIT)))
            limit = vals[K_HIER_LIMIT];
    }
    if (have_limit) {
        if (limit < CG_V1_UNLIMITED)
            cg_set(st, CG_MEM_TOTAL, limit);
        else
            st->mem_unlimited = true;
    }
}

void cg_v2_read(struct cg_reader *r, int dirfd, struct cg_stats *st)
{
    {
        enum { K_USAGE, K_USER, K_SYSTEM, K_N };
        static const char *const keys[K_N] = {"usage_usec", "user_usec", "system_usec"};
        uint64_t vals[K_N];
        uint32_t found;
        if (read_keyed(r, dirfd, "cpu.stat", keys, K_N, vals, &found)) {
            static const enum cg_field to[K_N] = {CG_CPU_TOTAL_NS, CG_CPU_USER_NS, CG_CPU_SYSTEM_NS};
            for (unsigned i = 0; i < K_N; i++) {
                if (found & (1u << i))
                    set_product(r, st, to[i], vals[i], NS_PER_US);
            }
        }
    }

    read_u64_field(r, dirfd, "memory.current", st, CG_MEM_USED);
    /* memory.peak (5.19+): the high-water mark since the cgroup was created. */
    if (read_optional(r, dirfd, "memory.peak")) {
        uint64_t v;
        if (cg_parse_u64(scratch(r), r->scratch.len, &v))
            cg_set(st, CG_MEM_PEAK, v);
        else
            r->parse_errors++;
    }

    if (cg_read_file(r, dirfd, "memory.max")) {
        uint64_t limit;
        bool unlimited = false;
        if (!cg_parse_limit(scratch(r), r->scratch.len, &limit, &unlimited))
            r->parse_errors++;
        else if (unlimited)
            st->mem_unlimited = true;
        else
            cg_set(st, CG_MEM_TOTAL, limit);
    }

    {
        static const char *const keys[] = {"oom"};
        uint64_t vals[1];
        uint32_t found;
        if (read_keyed(r, dirfd, "memory.events", keys, 1, vals, &found) && found)
            cg_set(st, CG_MEM_FAILCNT, vals[0]);
    }

    {
        enum { K_ANON, K_SWAPCACHED, K_FILE, K_SHMEM, K_N };
        static const char *const keys[K_N] = {"anon", "swapcached", "file", "shmem"};
        uint64_t vals[K_N];
        uint32_t found;
        if (read_keyed(r, dirfd, "memory.stat", keys, K_N, vals, &found)) {
            /* swapcached appeared in 6.x kernels' memory.stat; older ones have none to add. */
            if (found & (1u << K_ANON)) {
                uint64_t sc = (found & (1u << K_SWAPCACHED)) ? vals[K_SWAPCACHED] : 0;
                set_sum(r, st, CG_MEM_RSS, vals[K_ANON], sc);
            }
            if (found & (1u << K_FILE))
                cg_set(st, CG_MEM_CACHE, vals[K_FILE]);
            if (found & (1u << K_SHMEM))
                cg_set(st, CG_MEM_SHMEM, vals[K_SHMEM]);
        }
    }
}

uint32_t cg_read_cpus(struct cg_reader *r, int dirfd, const char *name)
{
    if (!cg_read_file(r, dirfd, name))
        return 0;
    uint32_t n;
    if (!cpulist_count(scratch(r), r->scratch.len, &n)) {
        r->parse_errors++;
        return 0;
    }
    return n;
}

/* --- text formats --- */

bool cg_parse_keyed(const char *s, size_t n, const char *const *keys, size_t nkeys, uint64_t *vals,
                    uint32_t *found)
{
    if (nkeys > 32)
        return false;
    size_t klens[32];
    for (size_t i = 0; i < nkeys; i++)
        klens[i] = strlen(keys[i]);
    struct cursor c;
    cur_init(&c, s, n);
    uint32_t seen = 0;
    const char *line;
    size_t len;
    while (cur_line(&c, &line, &len)) {
        if (len == 0)
            continue;
        struct cursor lc;
        cur_init(&lc, line, len);
        const char *key;
        size_t klen = cur_token(&lc, " ", &key);
        if (klen == 0 || !cur_skip_char(&lc, ' '))
            return false;
        uint64_t v;
        if (!str_to_u64(lc.p, (size_t)(lc.end - lc.p), &v))
            return false;
        for (size_t i = 0; i < nkeys; i++) {
            if (klens[i] == klen && memcmp(keys[i], key, klen) == 0) {
                if (seen & (1u << i))
                    return false;
                seen |= 1u << i;
                vals[i] = v;
                break;
            }
        }
    }
    *found = seen;
    return true;
}

bool cg_parse_usage_all(const char *s, size_t n, uint64_t *user, uint64_t *sys)
{
    struct cursor c;
    cur_init(&c, s, n);
    const char *line;
    size_t len;
    if (!cur_line(&c, &line, &len) || len != 15 || memcmp(line, "cpu user system", 15) != 0)
        return false;
    uint64_t u = 0, k = 0;
    while (cur_line(&c, &line, &len)) {
        struct cursor lc;
        cur_init(&lc, line, len);
        uint64_t cpu, cu, ck;
        if (!cur_u64(&lc, &cpu) || !cur_skip_char(&lc, ' ') || !cur_u64(&lc, &cu) || !cur_skip_char(&lc, ' ') ||
            !cur_u64(&lc, &ck) || !cur_eof(&lc))
            return false;
        if (cu > UINT64_MAX - u || ck > UINT64_MAX - k)
            return false;
        u += cu;
        k += ck;
    }
    *user = u;
    *sys = k;
    return true;
}

/* The file's text without its one trailing newline. */
static void strip_newline(const char *s, size_t *n)
{
    if (*n > 0 && s[*n - 1] == '\n')
        (*n)--;
}

bool cg_parse_u64(const char *s, size_t n, uint64_t *out)
{
    strip_newline(s, &n);
    return str_to_u64(s, n, out);
}

bool cg_parse_limit(const char *s, size_t n, uint64_t *out, bool *unlimited)
{
    strip_newline(s, &n);
    if (n == 3 && memcmp(s, "max", 3) == 0) {
        *unlimited = true;
        return true;
    }
    *unlimited = false;
    return str_to_u64(s, n, out);
}

bool cg_parse_proc_status(const char *s, size_t n, char *name, size_t namesz, uint32_t *uid)
{
    struct cursor c;
    cur_init(&c, s, n);
    bool have_name = false, have_uid = false;
    const char *line;
    size_t len;
    while (!(have_name && have_uid) && cur_line(&c, &line, &len)) {
        if (len > 5 && memcmp(line, "Name:", 5) == 0) {
            const char *v = line + 5;
            size_t vn = len - 5;
            str_trim(&v, &vn);
            str_copy(name, namesz, v, vn);
            have_name = true;
        } else if (len > 4 && memcmp(line, "Uid:", 4) == 0) {
            /* "Uid:\treal\teffective\tsaved\tfs": the real uid owns the job. */
            struct cursor lc;
            cur_init(&lc, line + 4, len - 4);
            cur_skip_space(&lc);
            uint64_t v;
            if (!cur_u64(&lc, &v) || v > UINT32_MAX || (!cur_eof(&lc) && *lc.p != '\t' && *lc.p != ' '))
                return false;
            *uid = (uint32_t)v;
            have_uid = true;
        }
    }
    return have_name && have_uid;
}
