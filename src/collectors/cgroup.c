/* cgroup.c - per-job CPU and memory from Slurm's cgroups (v1 and v2), named as cgroup_exporter names them.
 *
 * jobstats and the Grafana dashboards query cgroup_exporter's series (`cgroup_cpu_total_seconds{jobid,
 * step,task}` and friends), so this collector produces exactly those, and one jobtel daemon can replace
 * that exporter. Each collection walks Slurm's hierarchy level by level (job, step, task) with directory
 * descriptors, reading every cgroup's files relative to its own open directory, so a job that ends
 * mid-walk shows up as ENOENT on its own files and is dropped whole instead of leaving half its series.
 *
 * On v1 a cgroup lives in several controller trees (cpuacct, memory, cpuset) that Slurm creates one
 * after another; the walk lists the jobs in the cpuacct and memory trees and merges the names, so a job
 * constrained in memory but not accounted in cpuacct still gets its memory series (list_children says
 * which trees each level lists). Names are sorted, which also makes the output order stable. Levels
 * hand down what a child may need from its ancestors (their CPU counts and memory limit), so no file
 * above a cgroup is read twice. Which directory names are Slurm's is decided by slurm/cgpath.c, the
 * parser GPU attribution uses too.
 *
 * Series are written after the walk, from a table keyed by (jobid, step, task): a job that several
 * slurmd on one host each ran a part of appears under two scopes and is summed into one set of series.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "collectors/cgroup_parse.h"
#include "collectors/cgroup_readings.h"
#include "collectors/collector.h"
#include "common/array.h"
#include "common/log.h"
#include "common/strparse.h"
#include "slurm/cgpath.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* Who reads each job's figures after a complete walk (cgroup_readings.h). */
static const struct cgroup_readings_consumer *const consumers[] = {&cgroup_accounting};

/* v1 controller trees we read, in the order of struct cg_dirset; v2 has one tree, in fd[0]. */
enum { V1_CPUACCT, V1_MEMORY, V1_CPUSET, CG_CTRL_MAX };
static const char *const v1_controllers[CG_CTRL_MAX] = {"cpuacct", "memory", "cpuset"};

/* Levels of the walk, each with its own list of child names. Above the jobs, LVL_TOP holds v1's
 * slurm[_<node>] directories or v2's top-level cgroups, LVL_MID v1's uid_U or v2's scopes. */
enum { LVL_TOP, LVL_MID, LVL_JOB, LVL_STEP, LVL_TASK, LVL_MAX };

/* A directory listing is bounded: a level with more names than this is cut and the collection fails. */
#define CG_NAMES_MAX_BYTES (8u * 1024u * 1024u)
/* cgroup.procs entries tried per task cgroup when looking for the job's owner (v2). */
#define CG_UID_PIDS 8

/* What every series of this collector is, in one table. */
static const struct cg_metric {
    const char *name;
    const char *help;
    enum cg_field field;
    bool ns_to_s; /* the field is in ns, the metric in seconds */
} cg_metrics[CG_NFIELDS] = {
    {"cgroup_cpu_user_seconds", "CPU time the cgroup's processes spent in user mode, in seconds.",
     CG_CPU_USER_NS, true},
    {"cgroup_cpu_system_seconds", "CPU time the cgroup's processes spent in the kernel, in seconds.",
     CG_CPU_SYSTEM_NS, true},
    {"cgroup_cpu_total_seconds", "Total CPU time used by the cgroup's processes, in seconds.", CG_CPU_TOTAL_NS,
     true},
    {"cgroup_cpus", "Number of CPUs in the cgroup's cpuset (the parent's when its own is empty).", CG_CPUS,
     false},
    {"cgroup_memory_rss_bytes", "Anonymous memory (RSS) charged to the cgroup, in bytes.", CG_MEM_RSS, false},
    {"cgroup_memory_cache_bytes", "Page cache charged to the cgroup, in bytes.", CG_MEM_CACHE, false},
    {"cgroup_memory_shmem_bytes", "Shared memory and tmpfs charged to the cgroup, in bytes.", CG_MEM_SHMEM,
     false},
    {"cgroup_memory_used_bytes", "Memory charged to the cgroup, in bytes.", CG_MEM_USED, false},
    {"cgroup_memory_total_bytes", "Memory limit of the cgroup (the nearest ancestor's if it has none), in bytes.",
     CG_MEM_TOTAL, false},
    {"cgroup_memory_fail_count", "Times the cgroup hit its memory limit (v1 failcnt, v2 oom events).",
     CG_MEM_FAILCNT, false},
    {"jobtel_cgroup_memory_peak_bytes",
     "Highest memory charged to the cgroup since it was created (v1 memory.max_usage_in_bytes, v2 memory.peak), in bytes.",
     CG_MEM_PEAK, false},
};

/* One cgroup, open in each controller tree where it exists (-1 elsewhere). */
struct cg_dirset {
    int fd[CG_CTRL_MAX];
};

struct cg_name {
    size_t off;        /* into the arena while listing */
    const char *name;  /* set once the listing is complete */
    unsigned mask;     /* bit c: listed in controller tree c */
};

/* The sorted, de-duplicated child names of one level. */
struct cg_names {
    struct buf arena;
    struct cg_name *v;
    size_t n;
    size_t cap;
};

/* What a cgroup hands down to its children. */
struct cg_ctx {
    uint32_t cpus;        /* its own cpuset size, 0 if empty or unknown */
    uint32_t parent_cpus; /* its parent's own cpuset size */
    bool has_limit;       /* its effective memory limit, when there is one */
    uint64_t limit;
};

struct cg_labels {
    const char *jobid;
    const char *step;
    const char *task;
};

/* One exported cgroup of this collection. Series are written once the walk is over, so that a job found
 * under two slurmstepd scopes (or two slurm_<node> trees) is one set of series, summed, instead of two
 * sets with the same labels. */
struct cg_entry {
    size_t key;          /* offset in cg_state.keys of "jobid\0step\0task\0" */
    size_t keylen;       /* its length, the three NULs included */
    struct cg_stats st;
    bool has_uid;        /* job level only: cgroup_uid */
    uint32_t uid;
};

/* A v2 job's owner as a collection found it. A job keeps its uid for life, so the next collection takes
 * it from here instead of reading a task's cgroup.procs and its processes' status again (v2 has no uid in
 * the path); only the jobs a collection saw are carried to the next. */
struct uid_memo {
    char jobid[64];
    uint32_t uid;
};

struct uid_memos {
    struct uid_memo *v;  /* sorted by jobid once the collection that filled it is over */
    size_t n, cap;
};

struct cg_state {
    const struct exporter_config *cfg;
    double interval_s;   /* this collector's interval, for the consumers' gap rule */
    struct cgroup_job_reading *jobs; /* the job-level entries handed to the consumers */
    size_t capjobs;
    char *root;          /* --path.cgroupfs */
    char *procfs;        /* --path.procfs */
    int forced_version;  /* --collector.cgroup.version, 0 = detect */
    bool steps;          /* --[no-]collector.cgroup.steps: step and task series too, not only the job's */
    struct cg_reader rd; /* its error counts persist across collections */
    struct cg_names names[LVL_MAX];
    _Alignas(struct dirent64) char dents[16384]; /* getdents64 buffer */
    /* This collection's cgroups, in walk order, and a hash index on their labels (slot = index + 1). */
    struct cg_entry *ent;
    size_t nent, capent;
    struct buf keys;
    uint32_t *slots;
    size_t nslots;
    struct ratelimit rl_merge;
    struct ratelimit rl_open;
    struct ratelimit rl_read;
    uint64_t read_errors_logged;
    /* Valid during one collection. */
    struct expo_family *fam[CG_NFIELDS];
    struct expo_family *fam_uid;
    int procfd;
    struct uid_memos memo, memo_next; /* the last collection's job owners; this one's */
    bool short_eof[CG_CTRL_MAX]; /* the tree's filesystem fills a getdents buffer to the end (see list_children) */
    bool kernfs[CG_CTRL_MAX];    /* the tree is a real cgroup mount, whose files are all regular (see tree_reads) */
    enum jt_err err;
};

static void cg_fail(struct cg_state *s, enum jt_err e)
{
    if (s->err == JT_OK)
        s->err = e;
}

/* --- name lists --- */

static void names_reset(struct cg_names *nl)
{
    buf_reset(&nl->arena);
    nl->n = 0;
}

static void names_free(struct cg_names *nl)
{
    buf_free(&nl->arena);
    free(nl->v);
    nl->v = NULL;
    nl->n = nl->cap = 0;
}

static bool names_add(struct cg_names *nl, const char *name, unsigned mask)
{
    struct cg_name *grown = array_grow(nl->v, &nl->cap, nl->n + 1, sizeof *grown, 64);
    if (!grown)
        return false;
    nl->v = grown;
    size_t off = nl->arena.len;
    if (buf_append(&nl->arena, name, strlen(name) + 1) != JT_OK)
        return false;
    nl->v[nl->n].off = off;
    nl->v[nl->n].mask = mask;
    nl->n++;
    return true;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cg_name *)a)->name, ((const struct cg_name *)b)->name);
}

/* Sorts the names and merges the ones listed in several controller trees. */
static void names_finish(struct cg_names *nl)
{
    for (size_t i = 0; i < nl->n; i++)
        nl->v[i].name = nl->arena.data + nl->v[i].off;
    if (nl->n > 1)
        qsort(nl->v, nl->n, sizeof nl->v[0], name_cmp);
    size_t out = 0;
    for (size_t i = 0; i < nl->n; i++) {
        if (out > 0 && strcmp(nl->v[out - 1].name, nl->v[i].name) == 0)
            nl->v[out - 1].mask |= nl->v[i].mask;
        else
            nl->v[out++] = nl->v[i];
    }
    nl->n = out;
}

/* --- directory helpers --- */

static void dirset_init(struct cg_dirset *d)
{
    for (unsigned c = 0; c < CG_CTRL_MAX; c++)
        d->fd[c] = -1;
}

static void dirset_close(struct cg_dirset *d)
{
    for (unsigned c = 0; c < CG_CTRL_MAX; c++) {
        if (d->fd[c] >= 0)
            close(d->fd[c]);
        d->fd[c] = -1;
    }
}

/* ENOENT and ENOTDIR mean the cgroup is gone (or never was a directory); anything else is worth a count. */
static void note_open_errno(struct cg_state *s, int e)
{
    if (e != ENOENT && e != ENOTDIR)
        s->rd.read_errors++;
}

typedef bool (*cg_match_fn)(const char *name);

/* What the filesystem of tree `c` (open at fd) allows: cgroupfs and tmpfs fill a getdents buffer until
 * the next entry does not fit (see list_children); on cgroupfs (v1 and v2) the kernel alone makes the
 * files, all regular, and nobody can mknod a FIFO or a device there. */
static void tree_fs(struct cg_state *s, unsigned c, int fd)
{
    struct statfs sf;
    unsigned long t = fd >= 0 && fstatfs(fd, &sf) == 0 ? (unsigned long)sf.f_type : 0;
    s->kernfs[c] = t == (unsigned long)CGROUP2_SUPER_MAGIC || t == (unsigned long)CGROUP_SUPER_MAGIC;
    s->short_eof[c] = s->kernfs[c] || t == (unsigned long)TMPFS_MAGIC;
}

/* Before reading files of tree `c`: on cgroupfs the reader may skip its per-file check that a file is
 * regular (an fstat, a sixth of a collection's system calls); on any other filesystem (a fixture tree,
 * a copy) it checks every file. */
static void tree_reads(struct cg_state *s, unsigned c) { s->rd.kernfs = s->kernfs[c]; }

/* The largest record getdents64 can return: its header and a 255-byte name, 8-byte aligned. */
#define CG_DIRENT_MAX 280

/* Lists the subdirectories of `d` that `match` accepts, into the level's list, which stays valid until
 * the same level is listed again. Reads the entries straight off the cgroup's own descriptor: every
 * descriptor is listed at most once, and skipping the opendir() machinery saves four system calls per
 * directory.
 *
 * Listing a kernfs directory walks all of its files (30 in a v1 memory cgroup), which made listings a
 * quarter of a collection's cost. Three savings on v1: the cpuset tree is not listed when the cpuacct
 * or memory tree is open at that level (its children are opened by the names those give; a job with
 * nothing but a cpuset has nothing but a CPU count to export); below the jobs (LVL_STEP, LVL_TASK)
 * only the first open tree is listed, since Slurm creates a job's steps and tasks in every tree the job
 * is in, while a whole job can be in some trees only (jobacct_gather/linux with task/cgroup); and on
 * cgroupfs and tmpfs, whose readdir fills the buffer until the next entry does not fit, a buffer left
 * with room for the largest entry means the end was reached, so the call that would return 0 is not
 * made. */
static const struct cg_names *list_children(struct cg_state *s, unsigned level, const struct cg_dirset *d,
                                            cg_match_fn match)
{
    struct cg_names *nl = &s->names[level];
    names_reset(nl);
    bool other_tree = d->fd[V1_CPUACCT] >= 0 || d->fd[V1_MEMORY] >= 0;
    bool listed_one = false;
    for (unsigned c = 0; c < CG_CTRL_MAX; c++) {
        if (d->fd[c] < 0 || (c == V1_CPUSET && other_tree) || (level >= LVL_STEP && listed_one))
            continue;
        listed_one = true;
        for (;;) {
            ssize_t n = getdents64(d->fd[c], s->dents, sizeof s->dents);
            if (n <= 0) {
                if (n < 0)
                    note_open_errno(s, errno);
                break;
            }
            bool at_end = s->short_eof[c] && sizeof s->dents - (size_t)n >= CG_DIRENT_MAX;
            for (ssize_t off = 0; off < n;) {
                const struct dirent64 *de = (const struct dirent64 *)(const void *)(s->dents + off);
                off += de->d_reclen;
                if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                    continue;
                if (!match(de->d_name))
                    continue;
                if (!names_add(nl, de->d_name, 1u << c)) {
                    cg_fail(s, nl->arena.err == JT_ERR_LIMIT ? JT_ERR_LIMIT : JT_ERR_NOMEM);
                    goto next_tree;
                }
            }
            if (at_end)
                break;
        }
    next_tree:;
    }
    names_finish(nl);
    return nl;
}

/* Opens child `name` of `p` in every tree where `p` is open. False (nothing left open) if the child
 * is nowhere, or is missing from a tree it was just listed in: it is being removed. */
static bool open_child(struct cg_state *s, const struct cg_dirset *p, const char *name, unsigned listed,
                       struct cg_dirset *ch)
{
    unsigned opened = 0;
    dirset_init(ch);
    for (unsigned c = 0; c < CG_CTRL_MAX; c++) {
        if (p->fd[c] < 0)
            continue;
        int fd = openat(p->fd[c], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            note_open_errno(s, errno);
            continue;
        }
        ch->fd[c] = fd;
        opened |= 1u << c;
    }
    if (opened == 0 || (listed & ~opened) != 0) {
        dirset_close(ch);
        return false;
    }
    return true;
}

/* Every cgroup directory has cgroup.procs, in v1 and v2; when it is gone the directory was removed. */
static bool dirset_vanished(const struct cg_dirset *d)
{
    for (unsigned c = 0; c < CG_CTRL_MAX; c++) {
        if (d->fd[c] >= 0 && faccessat(d->fd[c], "cgroup.procs", F_OK, 0) != 0)
            return true;
    }
    return false;
}

/* --- directory names of Slurm's layouts: slurm/cgpath.c decides, as it does for GPU attribution --- */

static bool match_any(const char *name)
{
    (void)name;
    return true;
}

static bool match_v1_base(const char *name) { return cgpath_is_v1_base(name, strlen(name)); }
static bool match_uid(const char *name) { return cgpath_is_uid(name, strlen(name), NULL); }
static bool match_job_v1(const char *name) { return cgpath_is_job_v1(name, strlen(name), NULL, NULL); }
static bool match_job_v2(const char *name) { return cgpath_is_job_v2(name, strlen(name), NULL, NULL); }
static bool match_step(const char *name) { return cgpath_is_step(name, strlen(name)); }
static bool match_task(const char *name) { return cgpath_is_task(name, strlen(name)); }
static bool match_scope(const char *name) { return cgpath_is_scope(name, strlen(name)); }

/* The label value of a job directory: the number after "job_", or the whole SLUID. */
static const char *job_label(const char *name) { return strncmp(name, "job_", 4) == 0 ? name + 4 : name; }

/* --- reading and exporting one cgroup --- */

#define CG_NO_ENTRY SIZE_MAX

static uint32_t key_hash(const char *k, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

static const char *entry_key(const struct cg_state *s, const struct cg_entry *e) { return s->keys.data + e->key; }

/* True if an entry's key is `k` (n bytes), with *slot its slot; else *slot is the empty slot for it. */
static bool slot_for(struct cg_state *s, const char *k, size_t n, uint32_t **slot)
{
    size_t mask = s->nslots - 1;
    for (size_t i = key_hash(k, n) & mask;; i = (i + 1) & mask) {
        *slot = &s->slots[i];
        if (s->slots[i] == 0)
            return false;
        const struct cg_entry *e = &s->ent[s->slots[i] - 1];
        if (e->keylen == n && memcmp(entry_key(s, e), k, n) == 0)
            return true;
    }
}

/* Keeps the table at most half full; rebuilt from the entries when it grows. */
static bool slots_room(struct cg_state *s)
{
    if ((s->nent + 1) * 2 <= s->nslots)
        return true;
    size_t n = s->nslots ? s->nslots * 2 : 1024;
    uint32_t *grown = calloc(n, sizeof *grown);
    if (!grown)
        return false;
    free(s->slots);
    s->slots = grown;
    s->nslots = n;
    for (size_t i = 0; i < s->nent; i++) {
        uint32_t *slot;
        slot_for(s, entry_key(s, &s->ent[i]), s->ent[i].keylen, &slot);
        *slot = (uint32_t)(i + 1);
    }
    return true;
}

/* Adds `b` into `a`: a field stays only where both have it and the sum fits in 64 bits (a job under
 * two scopes is summed; a half-known sum would be a made-up value). */
static void stats_merge(struct cg_state *s, struct cg_stats *a, const struct cg_stats *b)
{
    for (unsigned f = 0; f < CG_NFIELDS; f++) {
        if (!cg_has(a, f))
            continue;
        if (!cg_has(b, f) || a->v[f] > UINT64_MAX - b->v[f]) {
            if (cg_has(b, f))
                s->rd.parse_errors++;
            a->valid &= ~(1u << f);
            continue;
        }
        a->v[f] += b->v[f];
    }
}

/* Records one cgroup's figures under its labels, merging with a cgroup of the same labels already seen
 * in this collection. Returns the entry's index, or CG_NO_ENTRY (out of memory: the collection fails). */
static size_t record(struct cg_state *s, const struct cg_labels *lab, const struct cg_stats *st)
{
    size_t off = s->keys.len;
    buf_append(&s->keys, lab->jobid, strlen(lab->jobid) + 1);
    buf_append(&s->keys, lab->step, strlen(lab->step) + 1);
    buf_append(&s->keys, lab->task, strlen(lab->task) + 1);
    if (s->keys.err != JT_OK || !slots_room(s)) {
        cg_fail(s, JT_ERR_NOMEM);
        return CG_NO_ENTRY;
    }
    uint32_t *slot;
    if (slot_for(s, s->keys.data + off, s->keys.len - off, &slot)) {
        size_t i = *slot - 1;
        s->keys.len = off;
        stats_merge(s, &s->ent[i].st, st);
        uint64_t suppressed;
        if (ratelimit_allow(&s->rl_merge, 60.0, &suppressed))
            log_info("cgroup: job %s is under two Slurm cgroup trees (two slurmd scopes?); its series are summed",
                     lab->jobid);
        return i;
    }
    struct cg_entry *grown = array_grow(s->ent, &s->capent, s->nent + 1, sizeof *grown, 256);
    if (!grown) {
        cg_fail(s, JT_ERR_NOMEM);
        return CG_NO_ENTRY;
    }
    s->ent = grown;
    struct cg_entry *e = &s->ent[s->nent];
    e->key = off;
    e->keylen = s->keys.len - off;
    e->st = *st;
    e->has_uid = false;
    e->uid = 0;
    *slot = (uint32_t)(++s->nent);
    return s->nent - 1;
}

static int memo_cmp(const void *a, const void *b)
{
    return strcmp(((const struct uid_memo *)a)->jobid, ((const struct uid_memo *)b)->jobid);
}

/* The owner the last collection found for `jobid`. */
static bool uid_memo_find(const struct cg_state *s, const char *jobid, uint32_t *uid)
{
    struct uid_memo key;
    if (!s->memo.n || strlen(jobid) >= sizeof key.jobid)
        return false;
    memcpy(key.jobid, jobid, strlen(jobid) + 1);
    const struct uid_memo *m = bsearch(&key, s->memo.v, s->memo.n, sizeof *m, memo_cmp);
    if (m)
        *uid = m->uid;
    return m != NULL;
}

/* Remembers `jobid`'s owner for the next collection; nothing is lost when this fails but a file read. */
static void uid_memo_keep(struct cg_state *s, const char *jobid, uint32_t uid)
{
    struct uid_memos *m = &s->memo_next;
    size_t len = strlen(jobid);
    if (len >= sizeof m->v[0].jobid)
        return;
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        struct uid_memo *v = realloc(m->v, ncap * sizeof *v);
        if (!v)
            return;
        m->v = v;
        m->cap = ncap;
    }
    memcpy(m->v[m->n].jobid, jobid, len + 1);
    m->v[m->n++].uid = uid;
}

/* At the end of a collection: its owners become the ones the next collection looks up. */
static void uid_memo_swap(struct cg_state *s)
{
    struct uid_memos t = s->memo;
    s->memo = s->memo_next;
    s->memo_next = t;
    s->memo_next.n = 0;
    if (s->memo.n > 1)
        qsort(s->memo.v, s->memo.n, sizeof *s->memo.v, memo_cmp);
}

static void set_uid(struct cg_state *s, size_t entry, uint32_t uid)
{
    if (entry != CG_NO_ENTRY && !s->ent[entry].has_uid) {
        s->ent[entry].has_uid = true;
        s->ent[entry].uid = uid;
    }
}

/* Writes every recorded cgroup's series, in walk order. */
static void emit_all(struct cg_state *s)
{
    for (size_t i = 0; i < s->nent; i++) {
        const struct cg_entry *e = &s->ent[i];
        const char *jobid = entry_key(s, e);
        const char *step = jobid + strlen(jobid) + 1;
        const char *task = step + strlen(step) + 1;
        if (step[0] && !s->steps)
            continue; /* walked all the same: the job's owner is found in its task cgroups */
        struct labelset ls;
        labelset_init(&ls);
        labelset_add(&ls, "jobid", jobid);
        labelset_add(&ls, "step", step);
        labelset_add(&ls, "task", task);
        for (unsigned f = 0; f < CG_NFIELDS; f++) {
            const struct cg_metric *m = &cg_metrics[f];
            if (!cg_has(&e->st, m->field))
                continue;
            uint64_t v = e->st.v[m->field];
            if (m->ns_to_s)
                expo_sample(s->fam[f], &ls, (double)v / 1e9);
            else
                expo_sample_u64(s->fam[f], &ls, v);
        }
        if (e->has_uid) {
            struct labelset ul;
            labelset_init(&ul);
            labelset_add(&ul, "jobid", jobid);
            expo_sample_u64(s->fam_uid, &ul, e->uid);
        }
    }
}

static uint32_t dirset_cpus(struct cg_state *s, int version, const struct cg_dirset *d)
{
    if (version == 2)
        return d->fd[0] >= 0 ? (tree_reads(s, 0), cg_read_cpus(&s->rd, d->fd[0], "cpuset.cpus.effective")) : 0;
    return d->fd[V1_CPUSET] >= 0 ? (tree_reads(s, V1_CPUSET), cg_read_cpus(&s->rd, d->fd[V1_CPUSET], "cpuset.cpus"))
                                 : 0;
}

/* Reads and records one job, step or task cgroup. `up` is what its parent hands down; `*down` is
 * filled for its children; *entry (when not NULL) is its record. False if it vanished meanwhile: then
 * nothing was recorded for it. */
static bool visit(struct cg_state *s, int version, const struct cg_dirset *d, const struct cg_labels *lab,
                  const struct cg_ctx *up, struct cg_ctx *down, size_t *entry)
{
    struct cg_stats st;
    memset(&st, 0, sizeof st);
    s->rd.missing = 0;
    if (version == 2) {
        tree_reads(s, 0);
        cg_v2_read(&s->rd, d->fd[0], &st);
    } else {
        if (d->fd[V1_CPUACCT] >= 0) {
            tree_reads(s, V1_CPUACCT);
            cg_v1_read_cpuacct(&s->rd, d->fd[V1_CPUACCT], &st);
        }
        if (d->fd[V1_MEMORY] >= 0) {
            tree_reads(s, V1_MEMORY);
            cg_v1_read_memory(&s->rd, d->fd[V1_MEMORY], &st);
        }
    }
    uint32_t cpus = dirset_cpus(s, version, d);
    /* A file that is not there is either one this kernel does not have, or the cgroup going away. */
    if (s->rd.missing && dirset_vanished(d))
        return false;

    /* cgroup_exporter's rule: an empty cpuset counts the parent's, else the grandparent's. */
    uint32_t eff = cpus ? cpus : up->cpus ? up->cpus : up->parent_cpus;
    if (eff)
        cg_set(&st, CG_CPUS, eff);
    /* "No limit" means the nearest limit above applies (v2 memory.max = max). */
    if (!cg_has(&st, CG_MEM_TOTAL) && st.mem_unlimited && up->has_limit)
        cg_set(&st, CG_MEM_TOTAL, up->limit);

    size_t e = record(s, lab, &st);
    if (entry)
        *entry = e;
    down->cpus = cpus;
    down->parent_cpus = up->cpus;
    down->has_limit = cg_has(&st, CG_MEM_TOTAL) || up->has_limit;
    down->limit = cg_has(&st, CG_MEM_TOTAL) ? st.v[CG_MEM_TOTAL] : up->limit;
    return true;
}

/* --- below a job, both versions --- */

/* The job's owner on v2: the real uid of one of its user processes. Slurm's v2 task cgroups hold only
 * the job's own processes, but the extern step parks a `sleep` there, which we pass over. */
static bool uid_from_task(struct cg_state *s, int taskfd, uint32_t *uid)
{
    tree_reads(s, 0);
    if (s->procfd < 0 || !cg_read_file(&s->rd, taskfd, "cgroup.procs"))
        return false;
    s->rd.kernfs = false; /* procfs, or a fixture standing in for it */
    uint64_t pids[CG_UID_PIDS];
    size_t npids = 0;
    struct cursor c;
    cur_init(&c, buf_str(&s->rd.scratch), s->rd.scratch.len);
    const char *line;
    size_t len;
    while (npids < CG_UID_PIDS && cur_line(&c, &line, &len)) {
        if (!str_to_u64(line, len, &pids[npids])) {
            s->rd.parse_errors++;
            return false;
        }
        npids++;
    }
    for (size_t i = 0; i < npids; i++) {
        char path[48];
        snprintf(path, sizeof path, "%llu/status", (unsigned long long)pids[i]);
        if (!cg_read_file(&s->rd, s->procfd, path))
            continue; /* exited meanwhile */
        char comm[32];
        uint32_t u;
        if (!cg_parse_proc_status(buf_str(&s->rd.scratch), s->rd.scratch.len, comm, sizeof comm, &u)) {
            s->rd.parse_errors++;
            continue;
        }
        if (strcmp(comm, "sleep") == 0 || strcmp(comm, "slurmstepd") == 0)
            continue;
        *uid = u;
        return true;
    }
    return false;
}

/* Walks a job's steps and their tasks. On v2 the tasks sit one level lower, in the step's "user"
 * cgroup (its sibling "slurm" holds slurmstepd). With `have_uid` set (v2), the job's owner is looked
 * up in its task cgroups until found. */
static void walk_steps(struct cg_state *s, int version, const struct cg_dirset *jd, const char *jobid,
                       const struct cg_ctx *job, bool *have_uid, uint32_t *uid)
{
    const struct cg_names *steps = list_children(s, LVL_STEP, jd, match_step);
    for (size_t i = 0; i < steps->n; i++) {
        struct cg_dirset sd, ud;
        if (!open_child(s, jd, steps->v[i].name, steps->v[i].mask, &sd))
            continue;
        dirset_init(&ud);
        const char *step = steps->v[i].name + 5;
        struct cg_labels lab = {jobid, step, ""};
        struct cg_ctx sctx;
        const struct cg_dirset *tasks_in = &sd;
        bool walk_tasks = visit(s, version, &sd, &lab, job, &sctx, NULL);
        if (walk_tasks && version == 2) {
            walk_tasks = open_child(s, &sd, "user", 0, &ud);
            tasks_in = &ud;
        }
        const struct cg_names *tasks = walk_tasks ? list_children(s, LVL_TASK, tasks_in, match_task) : NULL;
        for (size_t j = 0; tasks && j < tasks->n; j++) {
            struct cg_dirset td;
            if (!open_child(s, tasks_in, tasks->v[j].name, tasks->v[j].mask, &td))
                continue;
            struct cg_labels tlab = {jobid, step, tasks->v[j].name + 5};
            struct cg_ctx tctx;
            if (visit(s, version, &td, &tlab, &sctx, &tctx, NULL) && have_uid && !*have_uid)
                *have_uid = uid_from_task(s, td.fd[0], uid);
            dirset_close(&td);
        }
        dirset_close(&ud);
        dirset_close(&sd);
    }
}

/* --- v1: <controller>/slurm[_<node>]/uid_U/job_J[/step_S[/task_T]] --- */

static void walk_v1_uid(struct cg_state *s, const struct cg_dirset *ud, uint32_t uid, const struct cg_ctx *uctx)
{
    const struct cg_names *jobs = list_children(s, LVL_JOB, ud, match_job_v1);
    for (size_t i = 0; i < jobs->n; i++) {
        struct cg_dirset jd;
        if (!open_child(s, ud, jobs->v[i].name, jobs->v[i].mask, &jd))
            continue;
        const char *jobid = jobs->v[i].name + 4;
        struct cg_labels lab = {jobid, "", ""};
        struct cg_ctx jctx;
        size_t entry;
        if (visit(s, 1, &jd, &lab, uctx, &jctx, &entry)) {
            set_uid(s, entry, uid);
            walk_steps(s, 1, &jd, jobid, &jctx, NULL, NULL);
        }
        dirset_close(&jd);
    }
}

static void walk_v1(struct cg_state *s, int rootfd)
{
    struct cg_dirset ctrl;
    bool any = false;
    dirset_init(&ctrl);
    for (unsigned c = 0; c < CG_CTRL_MAX; c++) {
        /* Follows symlinks here: distributions link cpuacct to a combined "cpu,cpuacct" mount. */
        ctrl.fd[c] = openat(rootfd, v1_controllers[c], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        any |= ctrl.fd[c] >= 0;
        tree_fs(s, c, ctrl.fd[c]);
    }
    if (!any)
        return;
    const struct cg_names *bases = list_children(s, LVL_TOP, &ctrl, match_v1_base);
    for (size_t i = 0; i < bases->n; i++) {
        struct cg_dirset bd;
        if (!open_child(s, &ctrl, bases->v[i].name, bases->v[i].mask, &bd))
            continue;
        struct cg_ctx bctx = {.cpus = dirset_cpus(s, 1, &bd)};
        const struct cg_names *uids = list_children(s, LVL_MID, &bd, match_uid);
        for (size_t j = 0; j < uids->n; j++) {
            uint32_t uid;
            struct cg_dirset ud;
            if (!cgpath_is_uid(uids->v[j].name, strlen(uids->v[j].name), &uid) ||
                !open_child(s, &bd, uids->v[j].name, uids->v[j].mask, &ud))
                continue;
            struct cg_ctx uctx = {.cpus = dirset_cpus(s, 1, &ud), .parent_cpus = bctx.cpus};
            walk_v1_uid(s, &ud, uid, &uctx);
            dirset_close(&ud);
        }
        dirset_close(&bd);
    }
    dirset_close(&ctrl);
}

/* --- v2: <slice>/[<node>_]slurmstepd.scope/job_J[/step_S[/user/task_T]] --- */

/* The memory limit in force at chain[0]: its own memory.max, else the nearest ancestor's (chain[1..],
 * nearest first; -1 entries are skipped). Left unset when all of them say "max". */
static void effective_limit(struct cg_state *s, const int *chain, size_t n, struct cg_ctx *ctx)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        bool unlimited;
        tree_reads(s, 0);
        if (chain[i] < 0 || !cg_read_file(&s->rd, chain[i], "memory.max"))
            continue;
        if (!cg_parse_limit(buf_str(&s->rd.scratch), s->rd.scratch.len, &v, &unlimited)) {
            s->rd.parse_errors++;
            continue;
        }
        if (!unlimited) {
            ctx->has_limit = true;
            ctx->limit = v;
            return;
        }
    }
}

/* Walks the jobs of one slurmstepd scope; `parent` is the scope's parent cgroup, `rootfd` the root. */
static void walk_v2_scope(struct cg_state *s, int rootfd, const struct cg_dirset *parent, const char *name)
{
    struct cg_dirset sd;
    if (!open_child(s, parent, name, 1u, &sd))
        return;
    struct cg_ctx ctx = {.cpus = dirset_cpus(s, 2, &sd), .parent_cpus = dirset_cpus(s, 2, parent)};
    int chain[3] = {sd.fd[0], parent->fd[0] != rootfd ? parent->fd[0] : -1, rootfd};
    effective_limit(s, chain, 3, &ctx);

    const struct cg_names *jobs = list_children(s, LVL_JOB, &sd, match_job_v2);
    for (size_t i = 0; i < jobs->n; i++) {
        struct cg_dirset jd;
        if (!open_child(s, &sd, jobs->v[i].name, jobs->v[i].mask, &jd))
            continue;
        const char *jobid = job_label(jobs->v[i].name);
        struct cg_labels lab = {jobid, "", ""};
        struct cg_ctx jctx;
        size_t entry;
        if (visit(s, 2, &jd, &lab, &ctx, &jctx, &entry)) {
            uint32_t uid = 0;
            bool have_uid = uid_memo_find(s, jobid, &uid);
            walk_steps(s, 2, &jd, jobid, &jctx, &have_uid, &uid);
            if (have_uid) {
                set_uid(s, entry, uid);
                uid_memo_keep(s, jobid, uid);
            }
        }
        dirset_close(&jd);
    }
    dirset_close(&sd);
}

static void walk_v2(struct cg_state *s, int rootfd)
{
    struct cg_dirset root;
    dirset_init(&root);
    root.fd[0] = rootfd;
    tree_fs(s, 0, rootfd);
    /* The scope sits at the top (no systemd) or in a slice, usually system.slice. */
    const struct cg_names *top = list_children(s, LVL_TOP, &root, match_any);
    for (size_t i = 0; i < top->n; i++) {
        if (match_scope(top->v[i].name)) {
            walk_v2_scope(s, rootfd, &root, top->v[i].name);
            continue;
        }
        struct cg_dirset slice;
        if (!open_child(s, &root, top->v[i].name, 1u, &slice))
            continue;
        const struct cg_names *scopes = list_children(s, LVL_MID, &slice, match_scope);
        for (size_t j = 0; j < scopes->n; j++)
            walk_v2_scope(s, rootfd, &slice, scopes->v[j].name);
        dirset_close(&slice);
    }
}

/* --- the collector --- */

/* Hands every job-level entry (step and task "") to the enabled consumers, after a complete walk only:
 * a failed one would make the jobs it missed look ended. */
static void consume_all(struct cg_state *s)
{
    size_t n = 0;
    struct cgroup_job_reading *jobs = array_grow(s->jobs, &s->capjobs, s->nent ? s->nent : 1, sizeof *jobs, 64);
    if (!jobs)
        return;
    s->jobs = jobs;
    for (size_t i = 0; i < s->nent; i++) {
        const char *jobid = entry_key(s, &s->ent[i]);
        const char *step = jobid + strlen(jobid) + 1;
        if (step[0] == '\0' && step[1] == '\0')
            jobs[n++] = (struct cgroup_job_reading){jobid, &s->ent[i].st};
    }
    struct cgroup_readings in = {s->cfg, jobs, n, mono_now(), wall_now(), s->interval_s};
    for (size_t i = 0; i < sizeof consumers / sizeof consumers[0]; i++) {
        if (consumers[i]->enabled(s->cfg))
            consumers[i]->consume(&in);
    }
}

/* v2 when the root is a cgroup2 mount or (fixture trees) holds cgroup.controllers; else v1, which
 * includes the hybrid layout whose v2 part is only the empty `unified` mount. */
static int detect_version(int rootfd)
{
    struct statfs sf;
    if (fstatfs(rootfd, &sf) == 0 && (unsigned long)sf.f_type == (unsigned long)CGROUP2_SUPER_MAGIC)
        return 2;
    return faccessat(rootfd, "cgroup.controllers", F_OK, 0) == 0 ? 2 : 1;
}

static void cg_shutdown(void *state)
{
    struct cg_state *s = state;
    if (!s)
        return;
    for (unsigned i = 0; i < LVL_MAX; i++)
        names_free(&s->names[i]);
    cg_reader_free(&s->rd);
    free(s->memo.v);
    free(s->memo_next.v);
    free(s->ent);
    free(s->jobs);
    free(s->slots);
    buf_free(&s->keys);
    free(s->root);
    free(s->procfs);
    free(s);
}

static enum jt_err cg_init(const struct exporter_config *cfg, void **state)
{
    *state = NULL;
    struct cg_state *s = calloc(1, sizeof *s);
    if (!s)
        return JT_ERR_NOMEM;
    long hz = sysconf(_SC_CLK_TCK);
    cg_reader_init(&s->rd, hz);
    for (unsigned i = 0; i < LVL_MAX; i++)
        buf_init(&s->names[i].arena, CG_NAMES_MAX_BYTES);
    buf_init(&s->keys, CG_NAMES_MAX_BYTES);
    s->root = strdup(cfg->path_cgroupfs ? cfg->path_cgroupfs : "/sys/fs/cgroup");
    s->procfs = strdup(cfg->path_procfs ? cfg->path_procfs : "/proc");
    s->forced_version = cfg->cgroup_version;
    s->steps = cfg->cgroup_steps;
    s->procfd = -1;
    s->cfg = cfg;
    int idx = collector_find("cgroup");
    s->interval_s = idx >= 0 ? config_interval(cfg, (size_t)idx) : 10.0;
    if (!s->root || !s->procfs) {
        cg_shutdown(s);
        return JT_ERR_NOMEM;
    }
    *state = s;
    return JT_OK;
}

static enum jt_err cg_collect(void *state, struct expo *w)
{
    struct cg_state *s = state;
    s->err = JT_OK;
    s->nent = 0;
    buf_reset(&s->keys);
    if (s->nslots)
        memset(s->slots, 0, s->nslots * sizeof *s->slots);
    for (unsigned c = 0; c < CG_CTRL_MAX; c++)
        s->short_eof[c] = s->kernfs[c] = false;
    s->rd.kernfs = false;
    for (unsigned i = 0; i < CG_NFIELDS; i++)
        s->fam[i] = expo_family(w, cg_metrics[i].name, METRIC_GAUGE, cg_metrics[i].help);
    s->fam_uid = expo_family(w, "cgroup_uid", METRIC_GAUGE, "Uid of the user who owns the job.");

    int rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd >= 0) {
        int version = s->forced_version ? s->forced_version : detect_version(rootfd);
        if (version == 2) {
            s->procfd = open(s->procfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            walk_v2(s, rootfd);
            uid_memo_swap(s);
            if (s->procfd >= 0)
                close(s->procfd);
            s->procfd = -1;
        } else {
            walk_v1(s, rootfd);
        }
        close(rootfd);
        emit_all(s);
    } else if (errno != ENOENT && errno != ENOTDIR) {
        /* No cgroup filesystem is "no jobs here"; one we may not read is a failure. */
        uint64_t suppressed;
        if (ratelimit_allow(&s->rl_open, 60.0, &suppressed))
            log_warn("cgroup: cannot open %s: %s", s->root, strerror(errno));
        cg_fail(s, JT_ERR_IO);
    }

    if (s->rd.read_errors != s->read_errors_logged) {
        uint64_t suppressed;
        if (ratelimit_allow(&s->rl_read, 60.0, &suppressed))
            log_warn("cgroup: %llu cgroup files could not be read so far",
                     (unsigned long long)s->rd.read_errors);
        s->read_errors_logged = s->rd.read_errors;
    }
    if (s->err == JT_OK)
        consume_all(s);
    for (size_t i = 0; i < sizeof consumers / sizeof consumers[0]; i++) {
        if (consumers[i]->render && consumers[i]->enabled(s->cfg))
            consumers[i]->render(s->cfg, w);
    }
    expo_sample_u64(expo_family(w, "jobtel_cgroup_parse_errors_total", METRIC_COUNTER,
                                "Cgroup files skipped because their content was not in the expected format."),
                    NULL, s->rd.parse_errors);
    expo_sample_u64(expo_family(w, "jobtel_cgroup_read_errors_total", METRIC_COUNTER,
                                "Cgroup files that exist but could not be read."),
                    NULL, s->rd.read_errors);
    return s->err;
}

const struct collector_ops collector_cgroup = {
    .name = "cgroup",
    .help = "per-job CPU and memory from Slurm cgroups (v1 and v2), as cgroup_exporter names them",
    .enabled_by_default = true,
    /* CPU seconds and memory are cumulative or carry their own high-water mark (memory.peak,
     * memory.max_usage_in_bytes), so nothing is lost between collections 10 s apart; see docs/cgroup.md. */
    .default_interval = 10.0,
    .init = cg_init,
    .collect = cg_collect,
    .reload = NULL,
    .shutdown = cg_shutdown,
};
