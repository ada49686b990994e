/* cgroup_parse.h - reading one cgroup directory's CPU and memory figures, for v1 and v2.
 *
 * Kept apart from the directory walk in cgroup.c so the formats can be tested one by one. Each reader
 * takes an open directory of a single cgroup and fills a typed struct in which a field counts only if
 * its valid bit is set: a file that is absent or unreadable leaves its fields unset rather than zero.
 * The readers never fail as a whole; they count what went wrong in the struct cg_reader they share.
 * Sums and unit conversions are checked: a value that would not fit in 64 bits is left out and counted
 * as a parse error rather than wrapped.
 */
#ifndef JOBTEL_CGROUP_PARSE_H
#define JOBTEL_CGROUP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The per-cgroup figures, in the units the kernel counts in (CPU time in ns, memory in bytes). */
enum cg_field {
    CG_CPU_USER_NS,
    CG_CPU_SYSTEM_NS,
    CG_CPU_TOTAL_NS,
    CG_CPUS,
    CG_MEM_RSS,
    CG_MEM_CACHE,
    CG_MEM_SHMEM,
    CG_MEM_USED,
    CG_MEM_TOTAL,
    CG_MEM_FAILCNT,
    CG_MEM_PEAK, /* the kernel's high-water mark of CG_MEM_USED */
    CG_NFIELDS
};

struct cg_stats {
    uint32_t valid;         /* bit (1u << field) per field that was read */
    bool mem_unlimited;     /* the limit file said "no limit": the caller may inherit an ancestor's */
    uint64_t v[CG_NFIELDS];
};

static inline void cg_set(struct cg_stats *st, enum cg_field f, uint64_t v)
{
    st->v[f] = v;
    st->valid |= 1u << f;
}

static inline bool cg_has(const struct cg_stats *st, enum cg_field f) { return (st->valid >> f) & 1u; }

/* v1 memory.limit_in_bytes at or above this means "no limit". The kernel prints its page counter
 * maximum times the page size (9223372036854771712 with 4 KiB pages, a little less with 64 KiB pages);
 * no machine has 4 EiB of memory. */
#define CG_V1_UNLIMITED (UINT64_C(1) << 62)

/* Shared by the readers during one collection: a scratch buffer and what went wrong. */
struct cg_reader {
    struct buf scratch;
    long user_hz;           /* clock ticks per second, for v1 cpuacct.stat */
    unsigned missing;       /* files found absent since the caller last cleared it */
    bool kernfs;            /* the next files are on cgroupfs, which holds only regular files: no fstat */
    uint64_t parse_errors;  /* files with content we did not expect (cumulative) */
    uint64_t read_errors;   /* files that exist but could not be read (cumulative) */
};

void cg_reader_init(struct cg_reader *r, long user_hz);
void cg_reader_free(struct cg_reader *r);

/* Reads `name` in `dirfd` into r->scratch (NUL-terminated). False if it could not; the reason is
 * counted in r (absent files in r->missing). Never blocks: anything but a regular file (a FIFO, a
 * device, a symlink) is refused and counted as a read error; the check that the file is regular is
 * skipped only where r->kernfs says the filesystem cannot hold anything else. */
bool cg_read_file(struct cg_reader *r, int dirfd, const char *name);

/* v1: cpuacct.usage_all; on kernels before 4.7 cpuacct.usage and cpuacct.stat (in ticks). */
void cg_v1_read_cpuacct(struct cg_reader *r, int dirfd, struct cg_stats *st);
/* v1: memory.usage_in_bytes, memory.limit_in_bytes, memory.failcnt, memory.max_usage_in_bytes, memory.stat. */
void cg_v1_read_memory(struct cg_reader *r, int dirfd, struct cg_stats *st);
/* v2: cpu.stat, memory.current, memory.peak (where the kernel has it), memory.max, memory.events, memory.stat. */
void cg_v2_read(struct cg_reader *r, int dirfd, struct cg_stats *st);
/* The number of CPUs in a cpuset file of `dirfd` (v1 cpuset.cpus, v2 cpuset.cpus.effective); 0 when the
 * file is absent, unreadable or the set is empty. */
uint32_t cg_read_cpus(struct cg_reader *r, int dirfd, const char *name);

/* --- the text formats, for the readers above and for tests --- */

/* A flat-keyed file ("key value" lines: cpu.stat, memory.stat, memory.events, cpuacct.stat). For
 * each keys[i] present, stores its value in vals[i] and sets bit i of *found (nkeys <= 32). Unknown
 * keys are skipped. False if any line is not one word, one space and one unsigned number, or a wanted
 * key appears twice. */
bool cg_parse_keyed(const char *s, size_t n, const char *const *keys, size_t nkeys, uint64_t *vals,
                    uint32_t *found);

/* v1 cpuacct.usage_all ("cpu user system" and one "N user_ns system_ns" line per CPU): the sums. */
bool cg_parse_usage_all(const char *s, size_t n, uint64_t *user, uint64_t *sys);

/* A file holding one unsigned number and a newline. */
bool cg_parse_u64(const char *s, size_t n, uint64_t *out);

/* v2 memory.max and friends: a number, or "max" (*unlimited set, *out untouched). */
bool cg_parse_limit(const char *s, size_t n, uint64_t *out, bool *unlimited);

/* /proc/<pid>/status: the command name (truncated to namesz - 1) and the real uid. */
bool cg_parse_proc_status(const char *s, size_t n, char *name, size_t namesz, uint32_t *uid);

#endif
