/* test_attribution.c - the attribution stages' tables: the hub hands out the latest table only while it
 * is fresh, a reader keeps a replaced table alive until it lets go (ASan checks nothing leaks or is used
 * after free), and the process table maps pids to jobs through a procfs fixture. */
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
#include "attribution/gpu_pods.h"
#include "attribution/owners.h"

static void test_latest_fresh_table_only(void **state)
{
    (void)state;
    struct owners o;
    owners_init(&o);
    assert_null(owners_get(&o, OWN_GPU_PIDS, 0));
    assert_false(owners_published(&o, OWN_GPU_PIDS));

    struct gpu_pid_table *a = gpu_pid_table_new(2);
    a->pid[0] = 10;
    a->pid[1] = 20;
    double built = a->base.built_mono;
    owners_publish(&o, OWN_GPU_PIDS, &a->base);
    assert_true(owners_published(&o, OWN_GPU_PIDS));
    struct owner_table *held = owners_get(&o, OWN_GPU_PIDS, built);
    assert_ptr_equal(held, &a->base);

    /* Replaced while a reader holds it: the reader's copy stays valid. */
    struct gpu_pid_table *b = gpu_pid_table_new(1);
    b->pid[0] = 30;
    owners_publish(&o, OWN_GPU_PIDS, &b->base);
    assert_true(gpu_pid_table_has((struct gpu_pid_table *)held, 20));
    assert_false(gpu_pid_table_has((struct gpu_pid_table *)held, 30));
    owner_unref(held);

    /* A table older than its source's staleness limit is not handed out: its source is hung. */
    owners_set_stale_after(&o, OWN_GPU_PIDS, 2.0);
    double b_built = b->base.built_mono;
    struct owner_table *t = owners_get(&o, OWN_GPU_PIDS, b_built + 1.0);
    assert_ptr_equal(t, &b->base);
    owner_unref(t);
    assert_null(owners_get(&o, OWN_GPU_PIDS, b_built + 2.5));
    /* Publishing "no table" drops it at once (and frees it: the hub held the last reference). */
    owners_publish(&o, OWN_GPU_PIDS, NULL);
    assert_null(owners_get(&o, OWN_GPU_PIDS, b_built));
    owners_destroy(&o);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_process_table_from_procfs(void **state)
{
    (void)state;
    char root[] = "/tmp/jobtel-attr.XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    static const struct { unsigned pid; const char *cgroup; } procs[] = {
        {101, "12:memory:/slurm/uid_7000/job_3003/step_0/task_0\n"},
        {102, "0::/system.slice/slurmstepd.scope/job_4004/step_0/user/task_0\n"},
        {103, "0::/user.slice/user-1000.slice/session-1.scope\n"},
    };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%u", root, procs[i].pid);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/%u/cgroup", root, procs[i].pid);
        write_file(path, procs[i].cgroup);
    }
    /* 104 has gone (no /proc entry): not a job, not an error. */
    unsigned pids[] = {101, 102, 103, 104};
    struct proc_job_table *t = proc_job_table_build(root, pids, 4);
    assert_non_null(t);
    assert_int_equal(t->n, 2);

    struct gpu_job_set set;
    memset(&set, 0, sizeof set);
    gpu_jobs_add_process(t, 101, &set);
    gpu_jobs_add_process(t, 102, &set);
    gpu_jobs_add_process(t, 103, &set);
    gpu_jobs_add_process(t, 104, &set);
    gpu_jobs_add_process(t, 101, &set); /* the same job twice: listed once */
    assert_int_equal(set.n, 2);
    assert_string_equal(set.job[0].jobid, "3003");
    assert_string_equal(set.job[0].uid, "7000");
    assert_string_equal(set.job[1].jobid, "4004");
    assert_string_equal(set.job[1].uid, "");
    gpu_jobs_add_process(NULL, 101, &set); /* no table yet: nothing */
    assert_int_equal(set.n, 2);
    owner_unref(&t->base);

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%u/cgroup", root, procs[i].pid);
        unlink(path);
        snprintf(path, sizeof path, "%s/%u", root, procs[i].pid);
        rmdir(path);
    }
    rmdir(root);
}

static void test_mapping_lookup_without_table(void **state)
{
    (void)state;
    struct gpu_job_set set;
    gpu_jobs_lookup(NULL, 0, NULL, "GPU-0", &set);
    assert_int_equal(set.n, 0);
    struct gpu_pod_set pods;
    struct gpu_pod_key k = {0, "GPU-0", "0", NULL, NULL, -1};
    gpu_pods_lookup(NULL, &k, &pods);
    assert_int_equal(pods.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest_fresh_table_only),
        cmocka_unit_test(test_process_table_from_procfs),
        cmocka_unit_test(test_mapping_lookup_without_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
