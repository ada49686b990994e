/* cgpath.h - the one parser of Slurm's cgroup paths, for the cgroup collector and GPU attribution.
 *
 * Slurm names its cgroups in several ways, depending on the cgroup version, on whether slurmd was built
 * for several daemons per host, and on the release:
 *   v1  <ctrl>/slurm/uid_U/job_J[/step_S[/task_T]]          (upstream)
 *       <ctrl>/slurm_<node>/uid_U/job_J[/...]                (--enable-multiple-slurmd, Debian's build)
 *   v2  <slice>/slurmstepd.scope/job_J[/step_S[/user/task_T]]
 *       <slice>/<node>_slurmstepd.scope/job_J[/...]          (several slurmd per host)
 *       <slice>/slurmstepd.scope/<SLUID>[/...]               (Slurm 26.05+: "s" + 13 of [0-9A-Z])
 * where the scope sits at the root (no systemd) or in any slice (usually system.slice).
 *
 * The collector walks a tree one directory name at a time and asks the name predicates below; process
 * attribution parses a whole path from /proc/<pid>/cgroup with cgpath_parse, which is built from the
 * same predicates, so the two can never disagree on what a job is. Every predicate takes a name and its
 * length (no NUL needed) and is strict: anything Slurm would not have written is not a job.
 */
#ifndef JOBTEL_SLURM_CGPATH_H
#define JOBTEL_SLURM_CGPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest step id accepted ("0", "batch", "extern", "interactive", "4294967294", ...). */
#define CGPATH_STEP_MAX 64

/* A job id as a label value: a decimal Slurm job id or a SLUID. */
#define CGPATH_JOBID_SIZE 24

struct cgpath_job {
    int version;                     /* 1 or 2 */
    char jobid[CGPATH_JOBID_SIZE];   /* "123" or "s5K1KKYAYG5D00" */
    bool has_uid;                    /* v1 paths carry the owner's uid */
    uint32_t uid;
    char step[CGPATH_STEP_MAX + 1];  /* "" when the path ends at the job */
    char task[24];                   /* "" when the path ends above a task; "7" or "special" */
};

/* --- one directory name at a time --- */

/* v1: "slurm" or "slurm_<node>". */
bool cgpath_is_v1_base(const char *name, size_t n);
/* v1: "uid_<U>", U a 32-bit decimal; *uid set when not NULL. */
bool cgpath_is_uid(const char *name, size_t n, uint32_t *uid);
/* v2: "slurmstepd.scope" or "<node>_slurmstepd.scope". */
bool cgpath_is_scope(const char *name, size_t n);
/* "job_<J>", J a decimal job id (1 .. 2^32-1, no leading zero); *id and *idlen point at J. */
bool cgpath_is_job_v1(const char *name, size_t n, const char **id, size_t *idlen);
/* v2: "job_<J>" as above, or a SLUID directory (then *id is the whole name). */
bool cgpath_is_job_v2(const char *name, size_t n, const char **id, size_t *idlen);
/* A Slurm 26.05 SLUID: "s" and 13 characters of [0-9A-Z]. */
bool cgpath_is_sluid(const char *name, size_t n);
/* "step_<S>": a number, batch, extern, interactive, or what a newer Slurm adds; plain and bounded. */
bool cgpath_is_step(const char *name, size_t n);
/* "task_<T>": T decimal (at most 10 digits) or "special". */
bool cgpath_is_task(const char *name, size_t n);

/* --- whole paths --- */

/* Parses one cgroup path ("/system.slice/slurmstepd.scope/job_5/step_0/user/task_0", the third field of
 * a /proc/<pid>/cgroup line) for the Slurm job it lies in. Any prefix before the Slurm part is allowed;
 * the components after it must follow the layout as far as they go (anything deeper than a task, or a
 * step's "slurm" cgroup, still belongs to that step). False if the path is in no job. */
bool cgpath_parse(const char *path, size_t n, struct cgpath_job *out);

/* Parses a /proc/<pid>/cgroup text ("hierarchy-id:controllers:path" lines): the first line whose path
 * lies in a Slurm job. False if none does. */
bool cgpath_from_proc_cgroup(const char *text, size_t n, struct cgpath_job *out);

#endif
