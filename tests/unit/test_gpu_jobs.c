/* test_gpu_jobs.c - finding a process's Slurm job in its /proc/<pid>/cgroup text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "attribution/gpu_jobs.h"

static void expect_job(const char *text, const char *jobid, const char *uid)
{
    char j[24] = "x", u[16] = "x";
    assert_true(slurm_job_from_cgroup(text, strlen(text), j, sizeof j, u, sizeof u));
    assert_string_equal(j, jobid);
    assert_string_equal(u, uid);
}

static void expect_none(const char *text)
{
    char j[24], u[16];
    assert_false(slurm_job_from_cgroup(text, strlen(text), j, sizeof j, u, sizeof u));
}

static void test_layouts(void **state)
{
    (void)state;
    /* cgroup v1, upstream Slurm */
    expect_job("12:memory:/slurm/uid_1000/job_42/step_0/task_1\n4:cpuset:/\n", "42", "1000");
    /* cgroup v1, Debian's slurm_<node> */
    expect_job("5:freezer:/slurm_node01/uid_7/job_123456/step_batch\n", "123456", "7");
    /* a job-level cgroup without a step */
    expect_job("3:devices:/slurm/uid_0/job_9\n", "9", "0");
    /* cgroup v2 */
    expect_job("0::/system.slice/slurmstepd.scope/job_777/step_0/user/task_0\n", "777", "");
    expect_job("0::/slurmstepd.scope/job_5/step_extern\n", "5", "");
    /* the first Slurm line wins; other lines are ignored */
    expect_job("1:name=systemd:/user.slice\n2:memory:/slurm/uid_3/job_8/step_0\n", "8", "3");
}

static void test_not_a_job(void **state)
{
    (void)state;
    expect_none("");
    expect_none("0::/user.slice/user-1000.slice/session-3.scope\n");
    expect_none("0::/system.slice/slurmd.service\n");
    expect_none("0::/system.slice/slurmstepd.scope/system\n"); /* slurmstepd itself, no job */
    expect_none("12:memory:/slurm/uid_x/job_1\n");
    expect_none("12:memory:/slurm/uid_1/job_\n");
    expect_none("12:memory:/slurm/uid_1/job_0\n");
    expect_none("12:memory:/slurm/uid_1/job_12abc/step_0\n");
    expect_none("12:memory:/slurm/uid_1/job_99999999999999999999999/step_0\n"); /* overflow */
    expect_none("12:memory:/notslurm/uid_1/job_1\n");
    expect_none("garbage without colons /slurm/uid_1/job_2\n");
    expect_none("12:memory:/slurm/uid_99999999999/job_1\n"); /* uid beyond 32 bits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_not_a_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
