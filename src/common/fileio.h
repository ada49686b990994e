/* fileio.h - bounded, non-blocking reading of regular files.
 *
 * /proc, /sys, cgroup, mapping and configuration files are read whole into a capped buffer: a file
 * larger than the cap is an error rather than an allocation the size of whatever is there. Every read
 * refuses what is not a regular file, and never blocks: a FIFO, a device such as /dev/zero or a
 * directory put where a file belongs (by an admin's typo or a hostile local user) gets
 * JT_ERR_NOT_REGULAR at once, so no collector, start-up or SIGHUP reload can hang on it. The file is
 * opened O_NONBLOCK and checked with fstat() on the descriptor itself, so swapping the file between
 * the check and the read is not a race that wins.
 */
#ifndef JOBTEL_FILEIO_H
#define JOBTEL_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/error.h"

/* Reads all of `path` into `out` (appending), at most `max` bytes. Symlinks are followed: the paths
 * read this way are configured ones (a Kubernetes ConfigMap mounts its files as symlinks) or procfs.
 * Returns JT_ERR_NOT_FOUND if it does not exist (ENOENT/ENOTDIR: normal for cgroups and jobs that just
 * ended), JT_ERR_NOT_REGULAR for a FIFO, device, socket or directory, JT_ERR_LIMIT if larger than
 * `max`, JT_ERR_PERMISSION, JT_ERR_IO. On error `out` may hold a partial read: callers reset it. */
enum jt_err file_read(const char *path, size_t max, struct buf *out);

/* The same relative to a directory descriptor, refusing to follow a symlink in the last component
 * (JT_ERR_UNSAFE): cgroup and mapping directories never hold symlinks. */
enum jt_err file_read_at(int dirfd, const char *name, size_t max, struct buf *out);

/* Replaces `path` with [data, data + len) so a reader sees the old file or the new one, never half:
 * the bytes go to `tmp` (in the same directory: rename is atomic within a filesystem), created
 * O_EXCL|O_NOFOLLOW (a planted file or symlink there fails the write), given `mode` whatever the umask,
 * written, fsynced, and renamed over `path`. On failure `tmp` is removed, `path` is untouched and errno
 * says why: JT_ERR_PERMISSION when tmp could not be created for lack of rights, else JT_ERR_IO. */
enum jt_err file_write_atomic(const char *path, const char *tmp, const void *data, size_t len, mode_t mode);

#endif
