/* fileio.c - bounded, non-blocking reading of regular files (see fileio.h).
 *
 * O_NONBLOCK makes open() of a FIFO with no writer return at once instead of waiting for one; the
 * fstat() that follows refuses it (and devices, sockets, directories) before any read. On a regular
 * file O_NONBLOCK changes nothing. O_NOCTTY keeps a terminal device from becoming ours if one is
 * named. st_size is not used as a bound: procfs and cgroup files say 0 and sysfs says 4096 whatever
 * they hold, so the cap is enforced on what read() returns.
 */
#include "common/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILEIO_OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

static enum jt_err read_fd(int fd, size_t max, struct buf *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return JT_ERR_IO;
    if (!S_ISREG(st.st_mode))
        return JT_ERR_NOT_REGULAR;
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
    case ENXIO: /* a socket, or a device with no driver: not a file we can read */
        return JT_ERR_NOT_REGULAR;
    case ENOMEM:
        return JT_ERR_NOMEM;
    default:
        return JT_ERR_IO;
    }
}

enum jt_err file_read(const char *path, size_t max, struct buf *out)
{
    int fd = open(path, FILEIO_OPEN_FLAGS);
    if (fd < 0)
        return open_err(errno);
    enum jt_err e = read_fd(fd, max, out);
    close(fd);
    return e;
}

enum jt_err file_read_at(int dirfd, const char *name, size_t max, struct buf *out)
{
    int fd = openat(dirfd, name, FILEIO_OPEN_FLAGS | O_NOFOLLOW);
    if (fd < 0)
        return open_err(errno);
    enum jt_err e = read_fd(fd, max, out);
    close(fd);
    return e;
}

enum jt_err file_write_atomic(const char *path, const char *tmp, const void *data, size_t len, mode_t mode)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return errno == EACCES || errno == EPERM ? JT_ERR_PERMISSION : JT_ERR_IO;
    enum jt_err rc = JT_OK;
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            rc = JT_ERR_IO;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    /* the umask may have taken bits away; only then fchmod (the exporter's seccomp profile has none) */
    struct stat st;
    if (rc == JT_OK && (fstat(fd, &st) != 0 || ((st.st_mode & 07777) != mode && fchmod(fd, mode) != 0)))
        rc = JT_ERR_IO;
    if (rc == JT_OK && fsync(fd) != 0)
        rc = JT_ERR_IO;
    if (close(fd) != 0 && rc == JT_OK)
        rc = JT_ERR_IO;
    if (rc == JT_OK && rename(tmp, path) != 0)
        rc = JT_ERR_IO;
    if (rc != JT_OK) {
        int saved = errno;
        (void)unlink(tmp);
        errno = saved;
    }
    return rc;
}
