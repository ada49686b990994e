/* test_gpu_jobs.c - finding a process's Slurm job in its /proc/<pid>/cgroup text, and what the mapping
 * stage reports for a mapping directory that is absent, unreadable or fine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "attribution/gpu_jobs.h"
#include "common/buf.h"

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

/* The hpc directory's state after one read of `dir`, and the exposition it gives. */
static enum mapping_dir_state read_state(const char *dir, struct buf *text)
{
    struct ratelimit rl1 = {0}, rl2 = {0};
    struct slurm_mapping_table *t = slurm_mapping_read(dir, NULL, &rl1, &rl2);
    assert_non_null(t);
    enum mapping_dir_state st = t->hpc_state;
    if (text) {
        struct expo w;
        expo_init(&w, 1 << 20);
        slurm_mapping_write_stats(t, true, false, &w);
        buf_reset(text);
        assert_int_equal(expo_render(&w, text), JT_OK);
        expo_free(&w);
    }
    owner_unref(&t->base);
    return st;
}

static void expect_line(const struct buf *text, const char *line)
{
    if (!strstr(buf_str(text), line))
        fail_msg("missing \"%s\" in:\n%s", line, buf_str(text));
}

/* Absent (a fresh node: no prolog yet) and unreadable (a file where the directory belongs, a directory the
 * exporter's user may not list) are told apart; jobtel_gpu_job_mapping_readable stays 0 for both. */
static void test_mapping_dir_state(void **state)
{
    (void)state;
    char root[] = "/tmp/jobtel-mapstate.XXXXXX", dir[64];
    assert_non_null(mkdtemp(root));
    assert_int_equal(chmod(root, 0755), 0);
    struct buf text;
    buf_init(&text, 1 << 20);

    snprintf(dir, sizeof dir, "%s/hpc", root);
    assert_int_equal(read_state(dir, &text), MAPPING_DIR_ABSENT);
    expect_line(&text, "jobtel_gpu_job_mapping_dir_state{format=\"hpc\",state=\"absent\"} 1\n");
    expect_line(&text, "jobtel_gpu_job_mapping_dir_state{format=\"hpc\",state=\"unreadable\"} 0\n");
    expect_line(&text, "jobtel_gpu_job_mapping_dir_state{format=\"hpc\",state=\"ok\"} 0\n");
    expect_line(&text, "jobtel_gpu_job_mapping_readable{format=\"hpc\"} 0\n");

    FILE *f = fopen(dir, "w"); /* a file where the directory belongs */
    assert_non_null(f);
    fclose(f);
    assert_int_equal(read_state(dir, &text), MAPPING_DIR_UNREADABLE);
    expect_line(&text, "jobtel_gpu_job_mapping_dir_state{format=\"hpc\",state=\"unreadable\"} 1\n");
    expect_line(&text, "jobtel_gpu_job_mapping_dir_state{format=\"hpc\",state=\"absent\"} 0\n");
    expect_line(&text, "jobtel_gpu_job_mapping_readable{format=\"hpc\"} 0\n");
    char below[96];
    snprintf(below, sizeof below, "%s/x", dir); /* a parent that is a file */
    assert_int_equal(read_state(below, NULL), MAPPING_DIR_UNREADABLE);
    assert_int_equal(unlink(dir), 0);

    assert_int_equal(mkdir(dir, 0755), 0);
    char file[96];
    snprintf(file, sizeof file, "%s/0", dir);
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("42\n", f);
    fclose(f);
    assert_int_equal(read_state(dir, &text), MAPPING_DIR_OK);
    expect_line(&text, "jobtel_gpu_job_mapping_dir_state{format=\"hpc\",state=\"ok\"} 1\n");
    expect_line(&text, "jobtel_gpu_job_mapping_readable{format=\"hpc\"} 1\n");

    /* Mode 000, read as the unprivileged user the exporter's unit runs as (root reads anything). */
    assert_int_equal(chmod(dir, 0), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(100);
        _exit((int)read_state(dir, NULL));
    }
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), MAPPING_DIR_UNREADABLE);
    assert_int_equal(chmod(dir, 0755), 0);

    assert_int_equal(unlink(file), 0);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(rmdir(root), 0);
    buf_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_not_a_job),
        cmocka_unit_test(test_mapping_dir_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
