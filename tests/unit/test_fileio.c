/* test_fileio.c - file_read/file_read_at: regular files only, never blocking, bounded.
 *
 * A FIFO with no writer used to block open() forever, and one with a silent writer blocked read():
 * alarm() turns such a hang into a failed test instead of a test that never ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fileio.h"

#define HANG_LIMIT_S 20 /* far more than any of these reads takes; only a hang reaches it */

struct fx {
    char dir[64];
    int dirfd;
    struct buf b;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/jt_fileio_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dirfd < 0)
        return -1;
    buf_init(&f->b, 1 << 20);
    *state = f;
    alarm(HANG_LIMIT_S);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    alarm(0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    (void)rc;
    close(f->dirfd);
    buf_free(&f->b);
    free(f);
    return 0;
}

static void path_in(const struct fx *f, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", f->dir, name);
}

static void write_file(const struct fx *f, const char *name, const char *text)
{
    char p[128];
    path_in(f, name, p, sizeof p);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_regular_file_is_read_whole(void **state)
{
    struct fx *f = *state;
    write_file(f, "a", "hello\n");
    char p[128];
    path_in(f, "a", p, sizeof p);
    assert_int_equal(file_read(p, 100, &f->b), JT_OK);
    assert_string_equal(buf_str(&f->b), "hello\n");
    buf_reset(&f->b);
    assert_int_equal(file_read_at(f->dirfd, "a", 100, &f->b), JT_OK);
    assert_string_equal(buf_str(&f->b), "hello\n");
}

static void test_missing_file_is_not_found(void **state)
{
    struct fx *f = *state;
    char p[128];
    path_in(f, "nope", p, sizeof p);
    assert_int_equal(file_read(p, 100, &f->b), JT_ERR_NOT_FOUND);
    assert_int_equal(file_read_at(f->dirfd, "nope", 100, &f->b), JT_ERR_NOT_FOUND);
}

static void test_larger_than_cap_is_limit(void **state)
{
    struct fx *f = *state;
    write_file(f, "big", "0123456789");
    assert_int_equal(file_read_at(f->dirfd, "big", 9, &f->b), JT_ERR_LIMIT);
    buf_reset(&f->b);
    assert_int_equal(file_read_at(f->dirfd, "big", 10, &f->b), JT_OK);
}

/* No writer: a blocking open() would wait for one forever. */
static void test_fifo_without_writer_is_refused_at_once(void **state)
{
    struct fx *f = *state;
    char p[128];
    path_in(f, "fifo", p, sizeof p);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(file_read(p, 100, &f->b), JT_ERR_NOT_REGULAR);
    assert_int_equal(file_read_at(f->dirfd, "fifo", 100, &f->b), JT_ERR_NOT_REGULAR);
    assert_int_equal(f->b.len, 0);
}

/* A writer that holds the FIFO open and never writes: a blocking read() would wait forever. */
static void test_fifo_with_silent_writer_is_refused_at_once(void **state)
{
    struct fx *f = *state;
    char p[128];
    path_in(f, "fifo", p, sizeof p);
    assert_int_equal(mkfifo(p, 0600), 0);
    int rd = open(p, O_RDONLY | O_NONBLOCK); /* lets the writer's open return */
    assert_true(rd >= 0);
    int wr = open(p, O_WRONLY | O_NONBLOCK);
    assert_true(wr >= 0);
    assert_int_equal(file_read(p, 100, &f->b), JT_ERR_NOT_REGULAR);
    assert_int_equal(file_read_at(f->dirfd, "fifo", 100, &f->b), JT_ERR_NOT_REGULAR);
    close(wr);
    close(rd);
}

static void test_directory_is_refused(void **state)
{
    struct fx *f = *state;
    char p[128];
    path_in(f, "sub", p, sizeof p);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(file_read(p, 100, &f->b), JT_ERR_NOT_REGULAR);
    assert_int_equal(file_read_at(f->dirfd, "sub", 100, &f->b), JT_ERR_NOT_REGULAR);
}

/* An endless device: without the check it is read up to the cap and reported as "too large". */
static void test_device_is_refused(void **state)
{
    struct fx *f = *state;
    assert_int_equal(file_read("/dev/zero", 1 << 16, &f->b), JT_ERR_NOT_REGULAR);
    assert_int_equal(f->b.len, 0);
    assert_int_equal(file_read("/dev/null", 100, &f->b), JT_ERR_NOT_REGULAR);
    char p[128];
    path_in(f, "zero", p, sizeof p);
    assert_int_equal(symlink("/dev/zero", p), 0);
    assert_int_equal(file_read(p, 1 << 16, &f->b), JT_ERR_NOT_REGULAR);
}

static void test_socket_is_refused(void **state)
{
    struct fx *f = *state;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    path_in(f, "sock", sa.sun_path, sizeof sa.sun_path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s, 1), 0);
    assert_int_equal(file_read(sa.sun_path, 100, &f->b), JT_ERR_NOT_REGULAR);
    assert_int_equal(file_read_at(f->dirfd, "sock", 100, &f->b), JT_ERR_NOT_REGULAR);
    close(s);
}

/* file_read follows symlinks (ConfigMap mounts), to a regular file only; file_read_at never does. */
static void test_symlinks(void **state)
{
    struct fx *f = *state;
    write_file(f, "target", "x");
    char link[128], fifo[128], flink[128];
    path_in(f, "link", link, sizeof link);
    assert_int_equal(symlink("target", link), 0);
    assert_int_equal(file_read(link, 100, &f->b), JT_OK);
    assert_string_equal(buf_str(&f->b), "x");
    buf_reset(&f->b);
    assert_int_equal(file_read_at(f->dirfd, "link", 100, &f->b), JT_ERR_UNSAFE);

    path_in(f, "fifo", fifo, sizeof fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    path_in(f, "flink", flink, sizeof flink);
    assert_int_equal(symlink("fifo", flink), 0);
    assert_int_equal(file_read(flink, 100, &f->b), JT_ERR_NOT_REGULAR);
    assert_int_equal(file_read_at(f->dirfd, "flink", 100, &f->b), JT_ERR_UNSAFE);
}

static void test_procfs_files_are_regular(void **state)
{
    struct fx *f = *state;
    assert_int_equal(file_read("/proc/self/stat", 4096, &f->b), JT_OK);
    assert_true(f->b.len > 0);
}

/* file_write_atomic: the new content and mode whatever the umask; a symlink planted at the temporary
 * name fails the write, and neither it nor the old file is touched; a failed rename leaves no
 * temporary behind. */
static void test_write_atomic(void **state)
{
    struct fx *f = *state;
    char p[128], tmp[128];
    path_in(f, "state", p, sizeof p);
    path_in(f, ".state.tmp", tmp, sizeof tmp);
    write_file(f, "state", "old\n");
    mode_t old_mask = umask(077);
    assert_int_equal(file_write_atomic(p, tmp, "new\n", 4, 0644), JT_OK);
    umask(old_mask);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(file_read(p, 100, &f->b), JT_OK);
    assert_string_equal(buf_str(&f->b), "new\n");
    assert_int_equal(access(tmp, F_OK), -1);
    /* a symlink planted at the temporary name */
    assert_int_equal(symlink("/etc/passwd", tmp), 0);
    assert_int_not_equal(file_write_atomic(p, tmp, "evil\n", 5, 0644), JT_OK);
    assert_int_equal(lstat(tmp, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    buf_reset(&f->b);
    assert_int_equal(file_read(p, 100, &f->b), JT_OK);
    assert_string_equal(buf_str(&f->b), "new\n");
    unlink(tmp);
    /* a rename that fails (the target is a non-empty directory): the old one stays, no temporary left */
    char d[128], inner[160];
    path_in(f, "dir", d, sizeof d);
    assert_int_equal(mkdir(d, 0700), 0);
    snprintf(inner, sizeof inner, "%s/x", d);
    write_file(f, "dir/x", "x");
    assert_int_equal(file_write_atomic(d, tmp, "new\n", 4, 0600), JT_ERR_IO);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(inner, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_regular_file_is_read_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_larger_than_cap_is_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_without_writer_is_refused_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_with_silent_writer_is_refused_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_procfs_files_are_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
