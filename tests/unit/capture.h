/* capture.h - catch what a unit under test prints on stdout and stderr (a temporary file stands in
 * for both descriptors), for tests of command-line parsing and log lines. Include after cmocka.h. */
#ifndef JOBTEL_TEST_CAPTURE_H
#define JOBTEL_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct capture {
    int fd, saved_out, saved_err;
};

static inline void capture_begin(struct capture *c)
{
    char path[] = "/tmp/jt_capture_XXXXXX";
    c->fd = mkstemp(path);
    assert_true(c->fd >= 0);
    unlink(path);
    fflush(stdout);
    fflush(stderr);
    c->saved_out = dup(STDOUT_FILENO);
    c->saved_err = dup(STDERR_FILENO);
    assert_true(c->saved_out >= 0 && c->saved_err >= 0);
    assert_true(dup2(c->fd, STDOUT_FILENO) >= 0 && dup2(c->fd, STDERR_FILENO) >= 0);
}

/* Restores stdout and stderr; returns what was printed (malloc'd, NUL-terminated). */
static inline char *capture_end(struct capture *c)
{
    fflush(stdout);
    fflush(stderr);
    assert_true(dup2(c->saved_out, STDOUT_FILENO) >= 0 && dup2(c->saved_err, STDERR_FILENO) >= 0);
    close(c->saved_out);
    close(c->saved_err);
    off_t len = lseek(c->fd, 0, SEEK_END);
    assert_true(len >= 0);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    if (len > 0)
        assert_int_equal(pread(c->fd, text, (size_t)len, 0), len);
    close(c->fd);
    return text;
}

#endif
