/* fileio.c - bounded file reading (see fileio.h). */
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static enum jt_err read_fd(int fd, size_t max, struct buf *out)
{
    char chunk[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == ENODEV || errno == ENOENT ? JT_ERR_NOT_FOUND : JT_ERR_IO;
        }
        if (n == 0)
            return JT_OK;
        total += (size_t)n;
        if (total > max)
            return JT_ERR_LIMIT;
        enum jt_err e = buf_append(out, chunk, (size_t)n);
        if (e != JT_OK)
            return e;
    }
}

static enum jt_err open_err(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return JT_ERR_NOT_FOUND;
    case EACCES:
    case EPERM:
        return JT_ERR_PERMISSION;
    case ELOOP:
        return JT_ERR_UNSAFE;
    default:
        return JT_ERR_IO;
    }
}

enum jt_err file_read(const char *path, size_t max, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return open_err(errno);
    enum jt_err e = read_fd(fd, max, out);
    close(fd);
    return e;
}

enum jt_err file_read_at(int dirfd, const char *name, size_t max, struct buf *out)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return open_err(errno);
    enum jt_err e = read_fd(fd, max, out);
    close(fd);
    return e;
}
