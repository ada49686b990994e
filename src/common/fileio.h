/* fileio.h - bounded file reading.
 *
 * /proc, /sys and mapping files are read whole into a capped buffer: a file larger than the cap is an
 * error rather than an allocation the size of whatever is there.
 */
#ifndef JOBTEL_FILEIO_H
#define JOBTEL_FILEIO_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

/* Reads all of `path` into `out` (appending), at most `max` bytes. JT_ERR_NOT_FOUND if it does not
 * exist (ENOENT/ENOTDIR: normal for cgroups and jobs that just ended), JT_ERR_LIMIT if larger. */
enum jt_err file_read(const char *path, size_t max, struct buf *out);

/* The same relative to a directory descriptor, refusing to follow a symlink in the last component. */
enum jt_err file_read_at(int dirfd, const char *name, size_t max, struct buf *out);

#endif
