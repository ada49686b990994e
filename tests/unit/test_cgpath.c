/* test_cgpath.c - the one Slurm cgroup-path parser, one table of every layout, through both consumers.
 *
 * Each row is a cgroup path and what it means. The table is checked three ways: by cgpath_parse
 * itself; by process attribution (slurm_job_from_cgroup on a /proc/<pid>/cgroup line holding the path);
 * and, for the rows a cgroup tree can hold at its root, by the cgroup collector walking a tree built
 * from the path, which must export the same job, step and task. Hostile rows must be refused by all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "attribution/gpu_jobs.h"
#include "collectors/collector.h"
#include "common/buf.h"
#include "slurm/cgpath.h"

extern const struct collector_ops collector_cgroup;

struct row {
    const char *path;
    const char *jobid; /* NULL: not a job */
    int version;
    long long uid;     /* -1: none in the path */
    const char *step;
    const char *task;
    bool walk;         /* the collector finds it when the path is laid out under a cgroup root */
};

static const struct row rows[] = {
    /* v1, upstream */
    {"/slurm/uid_1000/job_42", "42", 1, 1000, "", "", true},
    {"/slurm/uid_1000/job_42/step_0", "42", 1, 1000, "0", "", true},
    {"/slurm/uid_1000/job_42/step_0/task_3", "42", 1, 1000, "0", "3", true},
    {"/slurm/uid_0/job_9/step_batch", "9", 1, 0, "batch", "", true},
    {"/slurm/uid_7/job_4294967295/step_extern", "4294967295", 1, 7, "extern", "", true},
    /* v1, several slurmd per host (Debian) */
    {"/slurm_node01/uid_2000/job_201/step_0/task_0", "201", 1, 2000, "0", "0", true},
    {"/slurm_gpu-a.example/uid_5/job_7/step_interactive", "7", 1, 5, "interactive", "", true},
    /* v1 under a prefix (a container's view, a nested hierarchy) */
    {"/machine/slurm/uid_1/job_3", "3", 1, 1, "", "", false},
    /* v2 in system.slice, at the root, in another slice */
    {"/system.slice/slurmstepd.scope/job_777", "777", 2, -1, "", "", true},
    {"/system.slice/slurmstepd.scope/job_777/step_0/user/task_0", "777", 2, -1, "0", "0", true},
    {"/system.slice/slurmstepd.scope/job_777/step_extern/user/task_special", "777", 2, -1, "extern", "special", true},
    {"/system.slice/slurmstepd.scope/job_777/step_0/slurm", "777", 2, -1, "0", "", false},
    {"/slurmstepd.scope/job_5/step_batch", "5", 2, -1, "batch", "", true},
    {"/slurm.slice/slurmstepd.scope/job_6/step_0/user/task_1", "6", 2, -1, "0", "1", true},
    /* v2, several slurmd per host */
    {"/system.slice/node2_slurmstepd.scope/job_401/step_batch/user/task_0", "401", 2, -1, "batch", "0", true},
    {"/system.slice/gpu-7.cluster_slurmstepd.scope/job_8", "8", 2, -1, "", "", true},
    {"/node3_slurmstepd.scope/job_9/step_0", "9", 2, -1, "0", "", true},
    /* v2, Slurm 26.05 SLUID directories, as real nodes show them */
    {"/system.slice/slurmstepd.scope/s5K1KKYAYG5D00", "s5K1KKYAYG5D00", 2, -1, "", "", true},
    {"/system.slice/slurmstepd.scope/s5K1KKYAYG5D00/step_0/user/task_0", "s5K1KKYAYG5D00", 2, -1, "0", "0", true},
    {"/system.slice/node2_slurmstepd.scope/sABCDEFGHJKLMN/step_batch", "sABCDEFGHJKLMN", 2, -1, "batch", "", true},
    /* deeper than a task: still that task's */
    {"/slurm/uid_1/job_2/step_0/task_0/extra", "2", 1, 1, "0", "0", false},

    /* not jobs: other cgroups */
    {"/", NULL, 0, 0, NULL, NULL, false},
    {"/user.slice/user-1000.slice/session-3.scope", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmd.service", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope/system", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1000", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/system", NULL, 0, 0, NULL, NULL, false},
    /* hostile or malformed names */
    {"/slurm/uid_x/job_1", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_/job_1", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_99999999999/job_1", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_-1/job_1", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1/job_", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1/job_0", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1/job_007", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1/job_12abc/step_0", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1/job_4294967296", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1/job_99999999999999999999999/step_0", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1/job_+5", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/job_5", NULL, 0, 0, NULL, NULL, false},
    {"/slurm_/uid_1/job_5", NULL, 0, 0, NULL, NULL, false},
    {"/slurmd/uid_1/job_5", NULL, 0, 0, NULL, NULL, false},
    {"/notslurm/uid_1/job_1", NULL, 0, 0, NULL, NULL, false},
    {"/slurm/uid_1/s5K1KKYAYG5D00", NULL, 0, 0, NULL, NULL, false}, /* SLUIDs are v2 only */
    {"/system.slice/slurmstepd.scope/job_x1", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope/sTOOSHORT", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope/s5K1KKYAYG5D000", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope/s5k1kkyayg5d00", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope/S5K1KKYAYG5D00", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope/uid_1/job_5", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/_slurmstepd.scope/job_5", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/evilslurmstepd.scope/job_5", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope.evil/job_5", NULL, 0, 0, NULL, NULL, false},
    {"/system.slice/slurmstepd.scope/job_5x", NULL, 0, 0, NULL, NULL, false},
    /* a bad step or task name leaves the job, without the bad level */
    {"/slurm/uid_1/job_5/step_/task_0", "5", 1, 1, "", "", false},
    {"/slurm/uid_1/job_5/step_0/task_x", "5", 1, 1, "0", "", false},
    {"/slurm/uid_1/job_5/step_a\"b", "5", 1, 1, "", "", false},
    {"/system.slice/slurmstepd.scope/job_5/step_0/task_0", "5", 2, -1, "0", "", false}, /* v2 tasks are in user/ */
};

#define NROWS (sizeof rows / sizeof rows[0])

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        struct cgpath_job j;
        bool ok = cgpath_parse(r->path, strlen(r->path), &j);
        if (ok != (r->jobid != NULL))
            fail_msg("%s: parsed %d, want %d", r->path, ok, r->jobid != NULL);
        if (!ok)
            continue;
        if (strcmp(j.jobid, r->jobid) != 0 || j.version != r->version || strcmp(j.step, r->step) != 0 ||
            strcmp(j.task, r->task) != 0 || j.has_uid != (r->uid >= 0) || (r->uid >= 0 && j.uid != r->uid))
            fail_msg("%s: got job %s v%d uid %d/%u step '%s' task '%s'", r->path, j.jobid, j.version, j.has_uid,
                     j.uid, j.step, j.task);
    }
}

/* Process attribution: a /proc/<pid>/cgroup line with the path (v2 "0::", v1 with a controller). */
static void test_attribution_uses_it(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        char text[512], jobid[24], uid[16];
        snprintf(text, sizeof text, "%s:%s\n", r->version == 1 ? "1:name=systemd:/user.slice\n4:memory" : "0:",
                 r->path);
        bool ok = slurm_job_from_cgroup(text, strlen(text), jobid, sizeof jobid, uid, sizeof uid);
        if (ok != (r->jobid != NULL))
            fail_msg("attribution of %s: %d, want %d", r->path, ok, r->jobid != NULL);
        if (!ok)
            continue;
        assert_string_equal(jobid, r->jobid);
        char want_uid[24] = "";
        if (r->uid >= 0)
            snprintf(want_uid, sizeof want_uid, "%lld", r->uid);
        assert_string_equal(uid, want_uid);
    }
}

static void put(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* mkdir -p of root/rel, with a cgroup.procs and a CPU file at every level below root. */
static void build(const char *root, const char *rel, const char *cpufile, const char *cputext)
{
    char d[1024];
    snprintf(d, sizeof d, "%s", root);
    const char *p = rel;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0)
            break;
        size_t dl = strlen(d);
        snprintf(d + dl, sizeof d - dl, "/%.*s", (int)n, p);
        mkdir(d, 0755);
        put(d, "cgroup.procs", "");
        put(d, cpufile, cputext);
        p += n;
    }
}

static void rm_rf(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The collector: every walkable row, laid out under a fresh root, is exported under the same labels. */
static void test_collector_uses_it(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        if (!r->walk)
            continue;
        char root[64], top[128];
        snprintf(root, sizeof root, "/tmp/jt_cgpath_XXXXXX");
        assert_non_null(mkdtemp(root));
        if (r->version == 1) {
            snprintf(top, sizeof top, "%s/cpuacct", root);
            mkdir(top, 0755);
            build(top, r->path, "cpuacct.usage_all", "cpu user system\n0 2000000000 1000000000\n");
        } else {
            put(root, "cgroup.controllers", "cpu memory\n");
            build(root, r->path, "cpu.stat", "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n");
        }
        struct exporter_config cfg;
        config_defaults(&cfg);
        cfg.path_cgroupfs = root;
        cfg.path_procfs = "/nonexistent";
        void *st;
        assert_int_equal(collector_cgroup.init(&cfg, &st), JT_OK);
        struct expo w;
        expo_init(&w, 1u << 20);
        assert_int_equal(collector_cgroup.collect(st, &w), JT_OK);
        struct buf out;
        buf_init(&out, 1u << 20);
        assert_int_equal(expo_render(&w, &out), JT_OK);
        char want[256];
        snprintf(want, sizeof want, "cgroup_cpu_total_seconds{jobid=\"%s\",step=\"%s\",task=\"%s\"} 3\n", r->jobid,
                 r->step, r->task);
        if (!strstr(buf_str(&out), want))
            fail_msg("collector over %s: no %s in\n%s", r->path, want, buf_str(&out));
        buf_free(&out);
        expo_free(&w);
        collector_cgroup.shutdown(st);
        rm_rf(root);
    }
}

/* Random paths from Slurm-ish pieces and junk: never a crash or an overrun (run it under ASan), and
 * whatever is accepted is a well-formed job id. */
static void test_random_paths(void **state)
{
    (void)state;
    static const char *const pieces[] = {"/", "/", "slurm", "slurm_", "n1", "uid_", "1000", "job_", "5", "0",
                                         "4294967296", "step_", "batch", "task_", "special", "user",
                                         "slurmstepd.scope", "_", "s5K1KKYAYG5D00", "sABC", "system.slice",
                                         "x", "\n", ":", "0::", "\"", "-", "99999999999999999999"};
    unsigned seed = 12345;
    char path[512];
    for (int i = 0; i < 200000; i++) {
        size_t len = 0;
        int k = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 14;
        for (int j = 0; j < k; j++) {
            const char *p = pieces[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof pieces / sizeof pieces[0])];
            size_t n = strlen(p);
            if (len + n >= sizeof path)
                break;
            memcpy(path + len, p, n);
            len += n;
        }
        /* an exact-size heap copy, not NUL-terminated: a read past len is an ASan error */
        char *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        memcpy(exact, path, len);
        struct cgpath_job j;
        if (cgpath_parse(exact, len, &j)) {
            size_t n = strlen(j.jobid);
            assert_true(n > 0 && n < sizeof j.jobid);
            assert_true(cgpath_is_sluid(j.jobid, n) || (j.jobid[0] >= '1' && j.jobid[0] <= '9'));
            assert_true(j.version == 1 || j.version == 2);
        }
        char jobid[24], uid[16];
        (void)slurm_job_from_cgroup(exact, len, jobid, sizeof jobid, uid, sizeof uid);
        free(exact);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_attribution_uses_it),
        cmocka_unit_test(test_collector_uses_it),
        cmocka_unit_test(test_random_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
