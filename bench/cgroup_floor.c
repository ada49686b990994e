/* cgroup_floor.c - the floor bench_cgroup.sh measures the cgroup collector against: the least work that
 * reads the same cgroup files.
 *
 * It finds the same Slurm job, step and task cgroups (listing one tree only: v1 cpuacct, or the v2
 * scopes) and reads each file the collector exports a value from, with one open, one read into a
 * static buffer and one close per file, relative to the cgroup's open directory. It parses nothing,
 * checks nothing (no fstat), keeps no names and writes nothing: whatever the collector does on top
 * (safety checks, parsing, merging two trees, exposition) is what the ratio measures.
 *
 *   cgroup_floor VERSION CGROUPFS REPEAT   prints mean wall and CPU ms and worst wall ms per pass, and the
 *                                          cgroups visited
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char data[64 * 1024];
static unsigned long long bytes, cgroups;

static void read_file(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, data, sizeof data);
    if (n > 0)
        bytes += (unsigned long long)n;
    close(fd);
}

static const char *const v1_cpuacct[] = {"cpuacct.usage_all", NULL};
static const char *const v1_memory[] = {"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.failcnt",
                                        "memory.max_usage_in_bytes", "memory.stat", NULL};
static const char *const v1_cpuset[] = {"cpuset.cpus", NULL};
static const char *const v2_files[] = {"cpu.stat",      "memory.current", "memory.peak",           "memory.max",
                                       "memory.events", "memory.stat",    "cpuset.cpus.effective", NULL};

static void read_all(int dirfd, const char *const *names)
{
    for (; *names; names++)
        read_file(dirfd, *names);
}

/* Calls fn for each subdirectory of dirfd whose name starts with `prefix` (any name when NULL). */
typedef void (*child_fn)(int dirfd, const char *name, int depth);
static void each_child(int dirfd, const char *prefix, int depth, child_fn fn)
{
    /* One buffer per depth: a callback lists the next level while this one is being walked. */
    static char dents[8][16384] __attribute__((aligned(8)));
    char *buf = dents[depth];
    for (;;) {
        long n = syscall(SYS_getdents64, dirfd, buf, sizeof dents[0]);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            struct dirent64 *de = (struct dirent64 *)(buf + off);
            off += de->d_reclen;
            if (de->d_type != DT_DIR || de->d_name[0] == '.')
                continue;
            if (prefix && strncmp(de->d_name, prefix, strlen(prefix)) != 0)
                continue;
            fn(dirfd, de->d_name, depth + 1);
        }
        if (sizeof dents[0] - (size_t)n >= 280)
            break; /* cgroupfs and tmpfs fill the buffer: room left means the end */
    }
}

/* --- v1: cpuacct/slurm[_<node>]/uid_U/job_J[/step_S[/task_T]], the same names in memory and cpuset --- */

static int v1_parent[8][3]; /* the open parent, per depth, in the three trees */

/* depth: 1 base, 2 uid, 3 job, 4 step, 5 task */
static void v1_child(int dirfd, const char *name, int depth)
{
    (void)dirfd;
    int *fd = v1_parent[depth];
    for (int c = 0; c < 3; c++)
        fd[c] = v1_parent[depth - 1][c] >= 0 ? openat(v1_parent[depth - 1][c], name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                              : -1;
    if (depth >= 3) {
        cgroups++;
        if (fd[0] >= 0)
            read_all(fd[0], v1_cpuacct);
        if (fd[1] >= 0)
            read_all(fd[1], v1_memory);
    }
    if (fd[2] >= 0)
        read_all(fd[2], v1_cpuset);
    static const char *const next[] = {"slurm", "uid_", "job_", "step_", "task_"};
    if (depth < 5 && fd[0] >= 0)
        each_child(fd[0], next[depth], depth, v1_child);
    for (int c = 0; c < 3; c++)
        if (fd[c] >= 0)
            close(fd[c]);
}

static void run_v1(const char *root)
{
    static const char *const ctrl[] = {"cpuacct", "memory", "cpuset"};
    int r = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int c = 0; c < 3; c++)
        v1_parent[0][c] = openat(r, ctrl[c], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (v1_parent[0][0] >= 0)
        each_child(v1_parent[0][0], "slurm", 0, v1_child);
    for (int c = 0; c < 3; c++)
        if (v1_parent[0][c] >= 0)
            close(v1_parent[0][c]);
    close(r);
}

/* --- v2: [<slice>/]*slurmstepd.scope/job_*[/step_*[/user/task_*]] --- */

static void v2_task(int dirfd, const char *name, int depth)
{
    (void)depth;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    cgroups++;
    read_all(fd, v2_files);
    close(fd);
}

static void v2_step(int dirfd, const char *name, int depth)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    cgroups++;
    read_all(fd, v2_files);
    int user = openat(fd, "user", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (user >= 0) {
        each_child(user, "task_", depth, v2_task);
        close(user);
    }
    close(fd);
}

static void v2_job(int dirfd, const char *name, int depth)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    cgroups++;
    read_all(fd, v2_files);
    each_child(fd, "step_", depth, v2_step);
    close(fd);
}

static int is_scope(const char *name)
{
    size_t n = strlen(name), k = strlen("slurmstepd.scope");
    return n >= k && strcmp(name + n - k, "slurmstepd.scope") == 0;
}

static void v2_top(int dirfd, const char *name, int depth)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (is_scope(name))
        each_child(fd, NULL, depth, v2_job);
    else if (depth == 1)
        each_child(fd, NULL, depth, v2_top);
    close(fd);
}

static void run_v2(const char *root)
{
    int r = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r < 0)
        return;
    each_child(r, NULL, 0, v2_top);
    close(r);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s VERSION CGROUPFS REPEAT\n", argv[0]);
        return 2;
    }
    int version = atoi(argv[1]), repeat = atoi(argv[3]);
    if ((version != 1 && version != 2) || repeat < 1) {
        fprintf(stderr, "%s: VERSION is 1 or 2, REPEAT a positive count\n", argv[0]);
        return 2;
    }
    double total = 0, worst = 0, cpu = 0;
    unsigned long long per_pass = 0;
    for (int i = 0; i < repeat; i++) {
        cgroups = 0;
        double c0 = cpu_now();
        double t0 = now();
        if (version == 1)
            run_v1(argv[2]);
        else
            run_v2(argv[2]);
        double dt = now() - t0;
        cpu += cpu_now() - c0;
        total += dt;
        worst = dt > worst ? dt : worst;
        per_pass = cgroups;
    }
    printf("passes=%d mean_ms=%.3f cpu_ms=%.3f max_ms=%.3f cgroups=%llu bytes=%llu\n", repeat, total / repeat * 1e3,
           cpu / repeat * 1e3, worst * 1e3, per_pass, bytes / (unsigned long long)repeat);
    return 0;
}
