/* jobmap.c - GPU -> job mapping directories: reading and safe updating (see jobmap.h).
 *
 * Reader and writer share one line parser, so what the prolog writes is exactly what the exporter
 * accepts. The writer repairs rather than preserves: when it rewrites a file it keeps only lines the
 * reader would accept, because a single bad line makes the reader skip the whole file and would hide
 * every job on that GPU.
 */
#include "slurm/jobmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/strparse.h"

/* --- names and lines ------------------------------------------------------------------------- */

/* "<gpu>" or "<gpu>.<gi>", both numbers fitting their fields. */
static bool parse_index_name(const char *name, uint32_t *gpu, int32_t *gi)
{
    size_t n = strlen(name);
    const char *dot = memchr(name, '.', n);
    size_t glen = dot ? (size_t)(dot - name) : n;
    uint64_t g, i;
    if (!str_to_u64(name, glen, &g) || g > UINT32_MAX)
        return false;
    *gpu = (uint32_t)g;
    *gi = -1;
    if (!dot)
        return true;
    size_t ilen = n - glen - 1;
    if (!str_to_u64(dot + 1, ilen, &i) || i > INT32_MAX)
        return false;
    *gi = (int32_t)i;
    return true;
}

static bool is_uuid_name(const char *name)
{
    size_t n = strlen(name);
    if (n <= 4 || n >= JOBMAP_NAME_MAX || (strncmp(name, "GPU-", 4) != 0 && strncmp(name, "MIG-", 4) != 0))
        return false;
    for (size_t i = 4; i < n; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-'))
            return false;
    }
    return true;
}

bool jobmap_name_valid(enum jobmap_format fmt, const char *name)
{
    uint32_t gpu;
    int32_t gi;
    if (strnlen(name, JOBMAP_NAME_MAX) >= JOBMAP_NAME_MAX)
        return false;
    if (parse_index_name(name, &gpu, &gi))
        return true;
    return fmt == JOBMAP_GPUSTAT && is_uuid_name(name);
}

/* One line: HPC "<jobid>"; GPUSTAT "<jobid>" or "<jobid> <uid>". Job id 0 is not a Slurm job. */
static bool parse_line(enum jobmap_format fmt, const char *line, size_t n, struct jobmap_job *out)
{
    struct cursor c;
    cur_init(&c, line, n);
    cur_skip_space(&c);
    const char *tok;
    size_t tlen = cur_token(&c, " \t", &tok);
    if (!str_to_u64(tok, tlen, &out->jobid) || out->jobid == 0)
        return false;
    out->has_uid = false;
    out->uid = 0;
    cur_skip_space(&c);
    if (cur_eof(&c))
        return true;
    if (fmt != JOBMAP_GPUSTAT)
        return false;
    uint64_t uid;
    tlen = cur_token(&c, " \t", &tok);
    if (!str_to_u64(tok, tlen, &uid) || uid > UINT32_MAX)
        return false;
    cur_skip_space(&c);
    if (!cur_eof(&c))
        return false;
    out->uid = (uint32_t)uid;
    out->has_uid = true;
    return true;
}

void jobmap_parse_text(enum jobmap_format fmt, const char *text, size_t len, struct jobmap_parsed *pf)
{
    struct cursor c;
    const char *line;
    size_t n;
    pf->n = 0;
    pf->bad = 0;
    pf->too_many = false;
    cur_init(&c, text, len);
    while (cur_line(&c, &line, &n)) {
        str_trim(&line, &n);
        if (n == 0)
            continue;
        struct jobmap_job j;
        if (!parse_line(fmt, line, n, &j)) {
            pf->bad++;
        } else if (pf->n >= JOBMAP_JOBS_PER_FILE_MAX) {
            pf->too_many = true;
        } else {
            pf->jobs[pf->n++] = j;
        }
    }
}

/* Reads mapping file `name` in dirfd, never blocking (common/fileio.h). What is not a regular file, or is a
 * symlink, is JT_ERR_UNSAFE here: the hooks count it under reason "unsafe". */
static enum jt_err read_regular(int dirfd, const char *name, struct buf *out)
{
    enum jt_err e = file_read_at(dirfd, name, JOBMAP_FILE_MAX, out);
    return e == JT_ERR_NOT_REGULAR ? JT_ERR_UNSAFE : e;
}

static enum jt_err errno_to_err(int e)
{
    switch (e) {
    case ENOENT: return JT_ERR_NOT_FOUND;
    case ELOOP:
    case ENOTDIR: return JT_ERR_UNSAFE;
    case EACCES:
    case EPERM:
    case EROFS: return JT_ERR_PERMISSION;
    case ENOMEM: return JT_ERR_NOMEM;
    case ENOSPC:
    case EDQUOT: return JT_ERR_NOSPACE;
    default: return JT_ERR_IO;
    }
}

/* --- hook error counts ----------------------------------------------------------------------- */

static const char *const hook_names[JOBMAP_HOOK_N] = {"prolog", "epilog"};
static const char *const reason_names[JOBMAP_REASON_N] = {
    "lock_timeout", "no_space", "io", "unsafe", "permission", "limit", "bad_input", "nomem", "other",
};

const char *jobmap_hook_name(enum jobmap_hook hook)
{
    return (unsigned)hook < JOBMAP_HOOK_N ? hook_names[hook] : "unknown";
}

const char *jobmap_reason_name(enum jobmap_reason reason)
{
    return (unsigned)reason < JOBMAP_REASON_N ? reason_names[reason] : "unknown";
}

enum jobmap_reason jobmap_reason_of(enum jt_err err)
{
    switch (err) {
    case JT_ERR_TIMEOUT: return JOBMAP_REASON_LOCK_TIMEOUT;
    case JT_ERR_NOSPACE: return JOBMAP_REASON_NO_SPACE;
    case JT_ERR_IO: return JOBMAP_REASON_IO;
    case JT_ERR_UNSAFE: return JOBMAP_REASON_UNSAFE;
    case JT_ERR_PERMISSION: return JOBMAP_REASON_PERMISSION;
    case JT_ERR_LIMIT: return JOBMAP_REASON_LIMIT;
    case JT_ERR_PARSE:
    case JT_ERR_RANGE:
    case JT_ERR_USAGE:
    case JT_ERR_NOT_FOUND: return JOBMAP_REASON_BAD_INPUT;
    case JT_ERR_NOMEM: return JOBMAP_REASON_NOMEM;
    default: return JOBMAP_REASON_OTHER;
    }
}

/* ".jobtel-hook-errors.<hook>.<reason>" -> hook and reason; false for any other name. */
static bool parse_hook_error_name(const char *name, enum jobmap_hook *hook, enum jobmap_reason *reason)
{
    size_t plen = sizeof JOBMAP_HOOK_ERRORS_PREFIX - 1;
    if (strncmp(name, JOBMAP_HOOK_ERRORS_PREFIX, plen) != 0)
        return false;
    name += plen;
    for (unsigned h = 0; h < JOBMAP_HOOK_N; h++) {
        size_t hl = strlen(hook_names[h]);
        if (strncmp(name, hook_names[h], hl) != 0 || name[hl] != '.')
            continue;
        for (unsigned r = 0; r < JOBMAP_REASON_N; r++) {
            if (strcmp(name + hl + 1, reason_names[r]) == 0) {
                *hook = (enum jobmap_hook)h;
                *reason = (enum jobmap_reason)r;
                return true;
            }
        }
    }
    return false;
}

/* Adds the count in `name` (its size) if it is a hook error file; lstat-like, never opens it. */
static void note_hook_errors(int dfd, const char *name, uint64_t counts[JOBMAP_HOOK_N][JOBMAP_REASON_N])
{
    enum jobmap_hook h;
    enum jobmap_reason r;
    struct stat st;
    if (!parse_hook_error_name(name, &h, &r))
        return;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        counts[h][r] += (uint64_t)st.st_size;
}

enum jt_err jobmap_hook_errors_read(const char *dir, uint64_t counts[JOBMAP_HOOK_N][JOBMAP_REASON_N])
{
    memset(counts, 0, sizeof(uint64_t) * JOBMAP_HOOK_N * JOBMAP_REASON_N);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOTDIR ? JT_ERR_NOT_FOUND : errno_to_err(errno);
    DIR *dp = fdopendir(dfd);
    if (!dp) {
        close(dfd);
        return JT_ERR_IO;
    }
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        note_hook_errors(dfd, de->d_name, counts);
    closedir(dp);
    return JT_OK;
}

/* The directory `dir` if it is safe to write in (see jobmap_dir_open), else -1 with *err set. */
static int open_safe_dir(const char *dir, enum jt_err *err)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        *err = errno_to_err(errno);
        return -1;
    }
    struct stat st;
    if (fstat(dfd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
        close(dfd);
        *err = JT_ERR_UNSAFE;
        return -1;
    }
    *err = JT_OK;
    return dfd;
}

enum jt_err jobmap_hook_error_record(const char *dir, enum jobmap_hook hook, enum jobmap_reason reason)
{
    enum jt_err ret;
    char name[JOBMAP_NAME_MAX];
    if ((unsigned)hook >= JOBMAP_HOOK_N || (unsigned)reason >= JOBMAP_REASON_N)
        return JT_ERR_USAGE;
    snprintf(name, sizeof name, "%s%s.%s", JOBMAP_HOOK_ERRORS_PREFIX, hook_names[hook], reason_names[reason]);
    int dfd = open_safe_dir(dir, &ret);
    if (dfd < 0)
        return ret;
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644);
    if (fd < 0) {
        ret = errno == ENXIO ? JT_ERR_UNSAFE : errno_to_err(errno); /* ENXIO: a FIFO without reader */
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = JT_ERR_UNSAFE;
        goto out;
    }
    /* Other holders keep this lock for one fstat and one ftruncate: a short poll is enough. */
    double deadline = mono_now() + 2.0;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if ((errno != EWOULDBLOCK && errno != EINTR) || mono_now() >= deadline) {
            ret = errno == EWOULDBLOCK ? JT_ERR_TIMEOUT : JT_ERR_IO;
            goto out;
        }
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL);
    }
    /* The count is the size: growing a sparse file allocates nothing, so this works on a full disk. */
    if (fstat(fd, &st) != 0 || ftruncate(fd, st.st_size + 1) != 0)
        ret = errno_to_err(errno);
out:
    if (fd >= 0)
        close(fd);
    close(dfd);
    return ret;
}

/* --- reader ---------------------------------------------------------------------------------- */

void jobmap_free(struct jobmap *m)
{
    free(m->keys);
    free(m->jobs);
    m->keys = NULL;
    m->jobs = NULL;
    m->nkeys = 0;
    m->njobs = 0;
}

static int key_cmp(const void *pa, const void *pb)
{
    const struct jobmap_key *a = pa, *b = pb;
    if (a->kind != b->kind)
        return a->kind == JOBMAP_KEY_INDEX ? -1 : 1;
    if (a->kind == JOBMAP_KEY_UUID)
        return strcmp(a->name, b->name);
    if (a->gpu != b->gpu)
        return a->gpu < b->gpu ? -1 : 1;
    if (a->gpu_instance != b->gpu_instance)
        return a->gpu_instance < b->gpu_instance ? -1 : 1;
    return strcmp(a->name, b->name); /* "3" and "03" are both allowed names */
}

static void note_malformed(struct jobmap_stats *st, const char *name, enum jt_err err)
{
    if (st->malformed++ == 0) {
        str_copy(st->first_malformed, sizeof st->first_malformed, name, strlen(name));
        st->first_malformed_err = err;
    }
}

/* Appends one file's jobs to the map. Grows the arrays geometrically. */
static enum jt_err map_add(struct jobmap *m, size_t *cap_keys, size_t *cap_jobs, const char *name,
                           const struct jobmap_parsed *pf)
{
    struct jobmap_key *keys = array_grow(m->keys, cap_keys, m->nkeys + 1, sizeof *keys, 16);
    if (!keys)
        return JT_ERR_NOMEM;
    m->keys = keys;
    struct jobmap_job *jobs = array_grow(m->jobs, cap_jobs, m->njobs + pf->n, sizeof *jobs, 32);
    if (!jobs)
        return JT_ERR_NOMEM;
    m->jobs = jobs;
    struct jobmap_key *k = &m->keys[m->nkeys++];
    memset(k, 0, sizeof *k);
    str_copy(k->name, sizeof k->name, name, strlen(name));
    if (parse_index_name(name, &k->gpu, &k->gpu_instance)) {
        k->kind = JOBMAP_KEY_INDEX;
    } else {
        k->kind = JOBMAP_KEY_UUID;
        k->gpu_instance = -1;
    }
    k->first = m->njobs;
    k->count = pf->n;
    memcpy(m->jobs + m->njobs, pf->jobs, pf->n * sizeof pf->jobs[0]);
    m->njobs += pf->n;
    return JT_OK;
}

enum jt_err jobmap_read_dir(const char *dir, enum jobmap_format fmt, struct jobmap *out)
{
    enum jt_err ret = JT_OK;
    size_t cap_keys = 0, cap_jobs = 0;
    struct buf text;
    struct jobmap_parsed *pf = NULL;
    DIR *dp = NULL;

    jobmap_free(out);
    memset(&out->stats, 0, sizeof out->stats);
    buf_init(&text, JOBMAP_FILE_MAX);

    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        /* ENOTDIR (a file where the directory belongs) is JT_ERR_UNSAFE: a fault, not "no prolog yet". */
        ret = errno_to_err(errno);
        goto out;
    }
    dp = fdopendir(dfd);
    if (!dp) {
        close(dfd);
        ret = JT_ERR_IO;
        goto out;
    }
    pf = malloc(sizeof *pf);
    if (!pf) {
        ret = JT_ERR_NOMEM;
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        const char *name = de->d_name;
        if (name[0] == '.') {
            note_hook_errors(dfd, name, out->stats.hook_errors);
            continue;
        }
        if (de->d_type == DT_DIR)
            continue;
        if (!jobmap_name_valid(fmt, name)) {
            out->stats.ignored++;
            continue;
        }
        buf_reset(&text);
        enum jt_err err = read_regular(dfd, name, &text);
        if (err == JT_ERR_NOT_FOUND)
            continue; /* removed by an epilog since readdir */
        out->stats.files++;
        if (err != JT_OK) {
            note_malformed(&out->stats, name, err);
            continue;
        }
        jobmap_parse_text(fmt, text.data, text.len, pf);
        if (pf->bad) {
            note_malformed(&out->stats, name, JT_ERR_PARSE);
            continue;
        }
        if (pf->too_many) {
            out->stats.dropped++;
            out->stats.dropped_jobs++;
        }
        if (pf->n == 0)
            continue;
        if (out->nkeys >= JOBMAP_FILES_MAX) {
            out->stats.dropped++;
            out->stats.dropped_files++;
            continue;
        }
        ret = map_add(out, &cap_keys, &cap_jobs, name, pf);
        if (ret != JT_OK)
            goto out;
    }
    out->stats.has_hook_errors = true;
    if (out->nkeys > 1)
        qsort(out->keys, out->nkeys, sizeof out->keys[0], key_cmp);
out:
    if (ret != JT_OK)
        jobmap_free(out);
    if (dp)
        closedir(dp);
    free(pf);
    buf_free(&text);
    return ret;
}

enum jt_err jobmap_read_hpc_dir(const char *dir, struct jobmap *out)
{
    return jobmap_read_dir(dir, JOBMAP_HPC, out);
}

enum jt_err jobmap_read_gpustat_dir(const char *dir, struct jobmap *out)
{
    return jobmap_read_dir(dir, JOBMAP_GPUSTAT, out);
}

const struct jobmap_key *jobmap_find_index(const struct jobmap *m, uint32_t gpu, int32_t gpu_instance)
{
    for (size_t i = 0; i < m->nkeys; i++) {
        const struct jobmap_key *k = &m->keys[i];
        if (k->kind == JOBMAP_KEY_INDEX && k->gpu == gpu && k->gpu_instance == gpu_instance)
            return k;
    }
    return NULL;
}

const struct jobmap_key *jobmap_find_uuid(const struct jobmap *m, const char *uuid)
{
    for (size_t i = 0; i < m->nkeys; i++) {
        const struct jobmap_key *k = &m->keys[i];
        if (k->kind == JOBMAP_KEY_UUID && strcasecmp(k->name, uuid) == 0)
            return k;
    }
    return NULL;
}

/* --- writer ---------------------------------------------------------------------------------- */

/* mkdir -p for the parents of the mapping directory; these may be symlinks (/var/run -> /run). */
static enum jt_err make_parents(char *path)
{
    if (path[0] != '/' || path[1] == '\0')
        return JT_OK; /* "/" always exists */
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0755) == 0) {
            if (chmod(path, 0755) != 0) {
                *p = saved;
                return errno_to_err(errno);
            }
        } else if (errno != EEXIST) {
            int e = errno;
            *p = saved;
            return errno_to_err(e);
        }
        *p = saved;
        if (saved == '\0')
            return JT_OK;
    }
}

enum jt_err jobmap_dir_open(struct jobmap_dir *d, const char *path, enum jobmap_format fmt, bool create)
{
    enum jt_err ret = JT_OK;
    char tmp[PATH_MAX];
    int pfd = -1;
    d->fd = -1;
    d->lockfd = -1;
    d->fmt = fmt;

    size_t n = strnlen(path, sizeof tmp);
    if (n == 0 || path[0] != '/' || n >= sizeof tmp)
        return JT_ERR_USAGE;
    memcpy(tmp, path, n + 1);
    while (n > 1 && tmp[n - 1] == '/')
        tmp[--n] = '\0';
    char *slash = strrchr(tmp, '/');
    const char *base = slash + 1;
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return JT_ERR_USAGE;
    *slash = '\0';
    const char *parent = slash == tmp ? "/" : tmp;

    pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0 && errno == ENOENT && create) {
        ret = make_parents(tmp);
        if (ret != JT_OK)
            goto out;
        pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (pfd < 0) {
        ret = errno_to_err(errno);
        goto out;
    }
    bool created = false;
    if (create) {
        if (mkdirat(pfd, base, 0755) == 0) {
            created = true;
        } else if (errno != EEXIST) {
            ret = errno_to_err(errno);
            goto out;
        }
    }
    d->fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d->fd < 0) {
        ret = errno_to_err(errno);
        goto out;
    }
    if (created && fchmod(d->fd, 0755) != 0) {
        ret = errno_to_err(errno);
        goto out;
    }
    struct stat st;
    if (fstat(d->fd, &st) != 0) {
        ret = JT_ERR_IO;
        goto out;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0)
        ret = JT_ERR_UNSAFE;
out:
    if (pfd >= 0)
        close(pfd);
    if (ret != JT_OK)
        jobmap_dir_close(d);
    return ret;
}

static volatile sig_atomic_t lock_alarms;

static void on_lock_alarm(int sig)
{
    (void)sig;
    lock_alarms++; /* the point is the EINTR it causes */
}

/* Waits in flock(LOCK_EX) until timeout_s. The kernel wakes waiters when the holder unlocks, so none
 * sleeps through a release as a poller does; the interval timer's signal interrupts the wait to look
 * at the deadline (a tick that lands just before flock() is covered by the next one). */
static enum jt_err flock_wait(int fd, double timeout_s)
{
    enum jt_err ret = JT_OK;
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_lock_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: flock must return EINTR */
    sigset_t alarm_set, old_mask;
    sigemptyset(&alarm_set);
    sigaddset(&alarm_set, SIGALRM);
    long tick_us = timeout_s < 0.1 ? (long)(timeout_s * 1e6) + 1 : 100 * 1000;
    struct itimerval tick = {.it_interval = {0, tick_us}, .it_value = {0, tick_us}}, old_timer;
    if (sigaction(SIGALRM, &sa, &old_sa) != 0)
        return JT_ERR_INTERNAL;
    sigprocmask(SIG_UNBLOCK, &alarm_set, &old_mask);
    if (setitimer(ITIMER_REAL, &tick, &old_timer) != 0) {
        ret = JT_ERR_INTERNAL;
        goto out;
    }
    double deadline = mono_now() + timeout_s;
    for (;;) {
        if (flock(fd, LOCK_EX) == 0)
            break;
        if (errno != EINTR) {
            ret = JT_ERR_IO;
            break;
        }
        if (mono_now() >= deadline) {
            ret = JT_ERR_TIMEOUT;
            break;
        }
    }
    setitimer(ITIMER_REAL, &old_timer, NULL); /* disarm first: a last tick is still ours */
out:
    sigaction(SIGALRM, &old_sa, NULL);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    return ret;
}

enum jt_err jobmap_dir_lock(struct jobmap_dir *d, double timeout_s)
{
    if (d->fd < 0)
        return JT_ERR_INTERNAL;
    if (d->lockfd >= 0)
        return JT_OK;
    if (!(timeout_s > 0))
        timeout_s = 0.001;
    if (timeout_s > JOBMAP_LOCK_TIMEOUT_MAX_S)
        timeout_s = JOBMAP_LOCK_TIMEOUT_MAX_S;
    int fd = openat(d->fd, JOBMAP_LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == ENXIO ? JT_ERR_UNSAFE : errno_to_err(errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return JT_ERR_UNSAFE;
    }
    enum jt_err ret = JT_OK;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* uncontended: no timer, no signal handler */
        ret = errno == EWOULDBLOCK || errno == EINTR ? flock_wait(fd, timeout_s) : JT_ERR_IO;
        if (ret != JT_OK) {
            close(fd);
            return ret;
        }
    }
    d->lockfd = fd;
    return JT_OK;
}

/* --- tombstones: "job J ended at T" records in the lock file --------------------------------
 *
 * Records are appended as "\n<jobid> <ms>", each starting with its own newline: an append cut short
 * by a full disk leaves a fragment that the next record's newline closes, and a fragment parses, if
 * at all, as a job id with an earlier time, which can only suppress a prolog that started even
 * earlier. The file is compacted (expired records dropped, rewritten in place, truncated) when it
 * grows past TOMB_COMPACT_AT. Only holders of the lock read or write it.
 */
#define TOMB_COMPACT_AT (64 * 1024) /* > JOBMAP_TOMBSTONES_MAX records of at most 42 bytes */
#define TOMB_FILE_MAX (1024 * 1024)  /* read at most this much of a lock file someone else grew */

int64_t jobmap_clock_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct tomb {
    uint64_t jobid;
    int64_t ms;
};

/* The lock file's text (malloc'd, caller frees; NULL when empty). A file larger than TOMB_FILE_MAX is
 * read from its end, where the newest records are. */
static enum jt_err tombs_text(int fd, char **text, size_t *len, size_t *file_len)
{
    struct stat st;
    *text = NULL;
    *len = 0;
    *file_len = 0;
    if (fstat(fd, &st) != 0)
        return errno_to_err(errno);
    if (st.st_size == 0)
        return JT_OK;
    size_t want = (size_t)st.st_size > TOMB_FILE_MAX ? TOMB_FILE_MAX : (size_t)st.st_size;
    char *t = malloc(want);
    if (!t)
        return JT_ERR_NOMEM;
    ssize_t r;
    do
        r = pread(fd, t, want, st.st_size - (off_t)want);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        free(t);
        return errno_to_err(errno);
    }
    *text = t;
    *len = (size_t)r;
    *file_len = (size_t)st.st_size;
    return JT_OK;
}

/* One record "<jobid> <ms>" (without its leading newline); false if torn, hostile, expired or from a
 * future that is an earlier boot (the file outlived a reboot on a disk). */
static bool tomb_parse(const char *line, size_t n, int64_t now, struct tomb *out)
{
    const char *sp = memchr(line, ' ', n);
    uint64_t job, ms;
    if (!sp || !str_to_u64(line, (size_t)(sp - line), &job) || !str_to_u64(sp + 1, n - (size_t)(sp - line) - 1, &ms) ||
        job == 0 || ms > (uint64_t)now || now - (int64_t)ms > (int64_t)JOBMAP_TOMBSTONE_TTL_S * 1000)
        return false;
    out->jobid = job;
    out->ms = (int64_t)ms;
    return true;
}

/* Every live record, oldest first, into *out (malloc'd, caller frees). */
static enum jt_err tombs_load(int fd, struct tomb **out, size_t *n, size_t *file_len)
{
    char *text;
    size_t len, cap = 0;
    *out = NULL;
    *n = 0;
    enum jt_err ret = tombs_text(fd, &text, &len, file_len);
    if (ret != JT_OK || !text)
        return ret;
    int64_t now = jobmap_clock_ms();
    struct cursor c;
    const char *line;
    size_t ll;
    cur_init(&c, text, len);
    while (cur_line(&c, &line, &ll)) {
        struct tomb t;
        if (!tomb_parse(line, ll, now, &t))
            continue;
        struct tomb *grown = array_grow(*out, &cap, *n + 1, sizeof **out, 64);
        if (!grown) {
            ret = JT_ERR_NOMEM;
            break;
        }
        *out = grown;
        grown[(*n)++] = t;
    }
    free(text);
    if (ret != JT_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return ret;
}

static enum jt_err pwrite_all(int fd, const char *p, size_t n, off_t at)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno_to_err(errno) : JT_ERR_IO;
        p += w;
        n -= (size_t)w;
        at += w;
    }
    return JT_OK;
}

enum jt_err jobmap_mark_ended(struct jobmap_dir *d, uint64_t jobid)
{
    if (d->lockfd < 0)
        return JT_ERR_INTERNAL;
    if (jobid == 0)
        return JT_ERR_USAGE;
    struct stat st;
    if (fstat(d->lockfd, &st) != 0)
        return errno_to_err(errno);
    char rec[48];
    int rl = snprintf(rec, sizeof rec, "\n%" PRIu64 " %" PRId64, jobid, jobmap_clock_ms());
    if ((size_t)st.st_size + (size_t)rl <= TOMB_COMPACT_AT) /* the common case: one append */
        return pwrite_all(d->lockfd, rec, (size_t)rl, st.st_size);

    /* Compact, once per a thousand or so job ends: the newest live records plus this one. */
    struct tomb *t;
    size_t n, file_len;
    enum jt_err ret = tombs_load(d->lockfd, &t, &n, &file_len);
    if (ret != JT_OK)
        return ret;
    struct buf b;
    buf_init(&b, TOMB_COMPACT_AT);
    size_t first = n >= JOBMAP_TOMBSTONES_MAX ? n - (JOBMAP_TOMBSTONES_MAX - 1) : 0;
    for (size_t i = first; i < n; i++) {
        if (t[i].jobid != jobid)
            buf_printf(&b, "\n%" PRIu64 " %" PRId64, t[i].jobid, t[i].ms);
    }
    buf_append(&b, rec, (size_t)rl);
    ret = b.err;
    if (ret == JT_OK)
        ret = pwrite_all(d->lockfd, b.data, b.len, 0);
    if (ret == JT_OK && ftruncate(d->lockfd, (off_t)b.len) != 0)
        ret = errno_to_err(errno);
    buf_free(&b);
    free(t);
    return ret;
}

enum jt_err jobmap_ended_since(struct jobmap_dir *d, uint64_t jobid, int64_t started_ms, bool *ended)
{
    *ended = false;
    if (d->lockfd < 0)
        return JT_ERR_INTERNAL;
    char *text;
    size_t len, file_len;
    enum jt_err ret = tombs_text(d->lockfd, &text, &len, &file_len);
    if (ret != JT_OK || !text)
        return ret;
    /* Every prolog asks this, so look for the job's records rather than parse all of them. */
    char needle[32];
    int nl = snprintf(needle, sizeof needle, "\n%" PRIu64 " ", jobid);
    int64_t now = jobmap_clock_ms();
    const char *p = text, *end = text + len;
    while (!*ended && (p = memmem(p, (size_t)(end - p), needle, (size_t)nl)) != NULL) {
        p++; /* the record starts after its newline */
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        struct tomb t;
        if (tomb_parse(p, n, now, &t) && t.jobid == jobid && t.ms >= started_ms)
            *ended = true;
    }
    free(text);
    return JT_OK;
}

void jobmap_dir_close(struct jobmap_dir *d)
{
    if (d->lockfd >= 0)
        close(d->lockfd);
    if (d->fd >= 0)
        close(d->fd);
    d->lockfd = -1;
    d->fd = -1;
}

static enum jt_err write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno_to_err(errno) : JT_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return JT_OK;
}

/* Replaces `name` with `content` through a temporary file and rename(2), so readers see either the
 * old or the new file. The temporary name starts with '.' so readers never consider it. */
static enum jt_err replace_file(int dirfd, const char *name, const char *content, size_t len)
{
    enum jt_err ret = JT_OK;
    struct buf tmp;
    buf_init(&tmp, JOBMAP_NAME_MAX + 32);
    buf_printf(&tmp, ".%s.%ld.tmp", name, (long)getpid());
    if (tmp.err != JT_OK) {
        buf_free(&tmp);
        return tmp.err;
    }
    const char *tname = buf_str(&tmp);
    int fd = openat(dirfd, tname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) { /* left by a killed process that had our pid */
        unlinkat(dirfd, tname, 0);
        fd = openat(dirfd, tname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        ret = errno_to_err(errno);
        goto out;
    }
    ret = write_all(fd, content, len);
    if (ret == JT_OK && fchmod(fd, 0644) != 0)
        ret = errno_to_err(errno);
    if (close(fd) != 0 && ret == JT_OK)
        ret = errno_to_err(errno); /* NFS reports a full disk or quota only here */
    if (ret == JT_OK && renameat(dirfd, tname, dirfd, name) != 0)
        ret = errno_to_err(errno);
    if (ret != JT_OK)
        unlinkat(dirfd, tname, 0);
out:
    buf_free(&tmp);
    return ret;
}

static void put_job(struct buf *b, const struct jobmap_job *j)
{
    if (j->has_uid)
        buf_printf(b, "%" PRIu64 " %" PRIu32 "\n", j->jobid, j->uid);
    else
        buf_printf(b, "%" PRIu64 "\n", j->jobid);
}

/* The one read-modify-write: drop `jobid`'s line (and malformed lines), then append `add` if given. */
static enum jt_err update_file(struct jobmap_dir *d, const char *name, uint64_t jobid, const struct jobmap_job *add,
                               bool *changed, unsigned *dropped)
{
    enum jt_err ret;
    struct buf old, new;
    struct jobmap_parsed *pf = NULL;
    buf_init(&old, JOBMAP_FILE_MAX);
    buf_init(&new, JOBMAP_FILE_MAX);
    if (changed)
        *changed = false;
    if (dropped)
        *dropped = 0;
    if (d->fd < 0 || d->lockfd < 0) {
        ret = JT_ERR_INTERNAL;
        goto out;
    }
    if (!jobmap_name_valid(d->fmt, name)) {
        ret = JT_ERR_USAGE;
        goto out;
    }
    ret = read_regular(d->fd, name, &old);
    if (ret == JT_ERR_NOT_FOUND)
        ret = JT_OK;
    if (ret != JT_OK)
        goto out;
    pf = malloc(sizeof *pf);
    if (!pf) {
        ret = JT_ERR_NOMEM;
        goto out;
    }
    jobmap_parse_text(d->fmt, old.data, old.len, pf);
    if (pf->too_many) { /* rewriting would lose the lines past the cap */
        ret = JT_ERR_LIMIT;
        goto out;
    }
    /* The job's line stays where it was (so a re-run prolog changes nothing), duplicates go. */
    size_t others = 0;
    bool placed = false;
    for (size_t i = 0; i < pf->n; i++) {
        if (pf->jobs[i].jobid != jobid) {
            put_job(&new, &pf->jobs[i]);
            others++;
        } else if (add && !placed) {
            put_job(&new, add);
            placed = true;
        }
    }
    if (add && !placed) {
        if (others >= JOBMAP_JOBS_PER_FILE_MAX) {
            ret = JT_ERR_LIMIT;
            goto out;
        }
        put_job(&new, add);
    }
    if (new.err != JT_OK) {
        ret = new.err;
        goto out;
    }
    if (dropped)
        *dropped = pf->bad;
    if (new.len == old.len && (new.len == 0 || memcmp(new.data, old.data, new.len) == 0))
        goto out; /* nothing to do: an idempotent prolog, or an epilog on another job's file */
    if (new.len == 0) {
        if (unlinkat(d->fd, name, 0) != 0 && errno != ENOENT) {
            ret = errno_to_err(errno);
            goto out;
        }
    } else {
        ret = replace_file(d->fd, name, new.data, new.len);
        if (ret != JT_OK)
            goto out;
    }
    if (changed)
        *changed = true;
out:
    free(pf);
    buf_free(&old);
    buf_free(&new);
    return ret;
}

enum jt_err jobmap_add(struct jobmap_dir *d, const char *name, uint64_t jobid, uint32_t uid, unsigned *dropped)
{
    if (jobid == 0)
        return JT_ERR_USAGE;
    struct jobmap_job j = {.jobid = jobid, .uid = uid, .has_uid = d->fmt == JOBMAP_GPUSTAT};
    return update_file(d, name, jobid, &j, NULL, dropped);
}

enum jt_err jobmap_remove(struct jobmap_dir *d, const char *name, uint64_t jobid, bool *changed, unsigned *dropped)
{
    if (jobid == 0)
        return JT_ERR_USAGE;
    return update_file(d, name, jobid, NULL, changed, dropped);
}

enum jt_err jobmap_remove_everywhere(struct jobmap_dir *d, uint64_t jobid, unsigned *files_changed)
{
    enum jt_err ret = JT_OK;
    struct buf names;
    buf_init(&names, (size_t)JOBMAP_FILES_MAX * JOBMAP_NAME_MAX);
    if (files_changed)
        *files_changed = 0;
    if (d->fd < 0 || d->lockfd < 0)
        return JT_ERR_INTERNAL;

    /* List first, then edit: renames during readdir could make it skip or repeat entries. */
    int dfd = dup(d->fd);
    DIR *dp = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!dp) {
        if (dfd >= 0)
            close(dfd);
        return JT_ERR_IO;
    }
    rewinddir(dp);
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.' || !jobmap_name_valid(d->fmt, de->d_name))
            continue;
        buf_append(&names, de->d_name, strlen(de->d_name) + 1);
    }
    closedir(dp);
    if (names.err != JT_OK)
        ret = names.err; /* still clean what fits */

    for (size_t off = 0; off < names.len;) {
        const char *name = names.data + off;
        off += strlen(name) + 1;
        bool changed;
        enum jt_err err = jobmap_remove(d, name, jobid, &changed, NULL);
        if (err != JT_OK && ret == JT_OK)
            ret = err;
        if (changed && files_changed)
            (*files_changed)++;
    }
    buf_free(&names);
    return ret;
}
