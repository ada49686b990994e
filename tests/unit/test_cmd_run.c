/* test_cmd_run.c - running sacct-like programs: output captured and capped, exit codes, the deadline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cmd_run.h"
#include "common/log.h"

static enum jt_err run(char *const argv[], double timeout, size_t cap, struct buf *out, struct buf *err, int *st)
{
    buf_init(out, cap);
    buf_init(err, cap);
    return cmd_run(argv, timeout, out, err, st);
}

static void test_output_and_status(void **state)
{
    (void)state;
    struct buf out, err;
    int st;
    char *argv[] = {"/bin/sh", "-c", "echo 'a|b'; echo oops >&2; exit 3", NULL};
    assert_int_equal(run(argv, 5, 4096, &out, &err, &st), JT_OK);
    assert_int_equal(st, 3);
    assert_string_equal(buf_str(&out), "a|b\n");
    assert_string_equal(buf_str(&err), "oops\n");
    buf_free(&out);
    buf_free(&err);
}

/* A child that would run for 1000 s: the deadline ends it. Checked on the child itself, not on the clock:
 * when cmd_run returns, the child is gone and reaped (no longer our child at all), whatever the load. A
 * cmd_run that waited for the child to finish would hang the test until ctest's timeout fails it. */
static void test_deadline_kills(void **state)
{
    (void)state;
    struct buf out, err;
    int st;
    char pidfile[] = "/tmp/jt_cmd_run_XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    char script[256];
    snprintf(script, sizeof script, "echo $$ > %s; exec /bin/sleep 1000", pidfile);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    assert_int_equal(run(argv, 0.3, 4096, &out, &err, &st), JT_ERR_TIMEOUT);
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    char line[32] = "";
    char *end = NULL;
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    unlink(pidfile);
    assert_true(got);
    long pid = strtol(line, &end, 10);
    assert_true(end != line && (*end == '\n' || *end == '\0') && pid > 0);
    errno = 0;
    assert_int_equal(waitpid((pid_t)pid, NULL, WNOHANG), -1); /* 0: still running; pid: left a zombie */
    assert_int_equal(errno, ECHILD);
    buf_free(&out);
    buf_free(&err);
}

static void test_output_cap(void **state)
{
    (void)state;
    struct buf out, err;
    int st;
    char *argv[] = {"/bin/sh", "-c", "head -c 100000 /dev/zero", NULL};
    assert_int_equal(run(argv, 5, 1000, &out, &err, &st), JT_OK);
    assert_int_equal(st, 0);
    assert_int_equal(out.err, JT_ERR_LIMIT); /* the caller sees the cap was hit */
    buf_free(&out);
    buf_free(&err);
}

static void test_relative_and_missing(void **state)
{
    (void)state;
    struct buf out, err;
    int st;
    char *rel[] = {"sacct", NULL};
    assert_int_equal(run(rel, 5, 100, &out, &err, &st), JT_ERR_USAGE); /* no PATH search, ever */
    buf_free(&out);
    buf_free(&err);
    char *missing[] = {"/nonexistent/sacct", NULL};
    assert_int_equal(run(missing, 5, 100, &out, &err, &st), JT_ERR_IO);
    buf_free(&out);
    buf_free(&err);
}

/* Two programs at once: each waits for the file the other creates, so run one after the other the first
 * would wait until the deadline (and fail); at once, both exit 0. Each gets its own output and outcome,
 * and one that cannot be started does not hold back the others. */
static void test_many_at_once(void **state)
{
    (void)state;
    char dir[] = "/tmp/jt_cmd_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[128], b[128];
    snprintf(a, sizeof a, "touch %s/a; while [ ! -e %s/b ]; do sleep 0.01; done; echo A", dir, dir);
    snprintf(b, sizeof b, "touch %s/b; while [ ! -e %s/a ]; do sleep 0.01; done; echo B >&2; exit 4", dir, dir);
    char *argv_a[] = {"/bin/sh", "-c", a, NULL}, *argv_b[] = {"/bin/sh", "-c", b, NULL};
    char *argv_c[] = {"/nonexistent/program", NULL};
    struct buf out[3], err[3];
    for (int i = 0; i < 3; i++) {
        buf_init(&out[i], 4096);
        buf_init(&err[i], 4096);
    }
    struct cmd c[3] = {{argv_a, &out[0], &err[0], -1, JT_OK},
                       {argv_b, &out[1], &err[1], -1, JT_OK},
                       {argv_c, &out[2], &err[2], -1, JT_OK}};
    assert_int_equal(cmd_run_many(3, c, 60), JT_OK);
    assert_int_equal(c[0].rc, JT_OK);
    assert_int_equal(c[0].exit_status, 0);
    assert_string_equal(buf_str(&out[0]), "A\n");
    assert_int_equal(c[1].rc, JT_OK);
    assert_int_equal(c[1].exit_status, 4);
    assert_string_equal(buf_str(&err[1]), "B\n");
    assert_int_equal(c[2].rc, JT_ERR_IO);
    assert_int_equal(cmd_run_many(0, c, 1), JT_ERR_USAGE);
    for (int i = 0; i < 3; i++) {
        buf_free(&out[i]);
        buf_free(&err[i]);
    }
    char rm[64];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_and_status), cmocka_unit_test(test_deadline_kills),
        cmocka_unit_test(test_output_cap), cmocka_unit_test(test_relative_and_missing),
        cmocka_unit_test(test_many_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
