/* targets_write.c - replace a file atomically, and only when its content changes.
 *
 * Prometheus watches file_sd files with inotify and re-reads them on every event; a reader that opens
 * the file while it is being written must see the old document or the new one, never half. So the new
 * bytes go to a temporary file in the same directory (rename(2) is atomic only within a filesystem),
 * are flushed, and are renamed over the old name. Identical content is not rewritten, so an unchanged
 * cluster causes no reload at all.
 */
#include "targets/targets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"

static bool same_content(const char *path, const char *data, size_t len)
{
    struct buf old;
    buf_init(&old, len + 1);
    bool same = file_read(path, len, &old) == JT_OK && old.len == len && (len == 0 || memcmp(old.data, data, len) == 0);
    buf_free(&old);
    return same;
}

enum jt_err targets_write_if_changed(const char *path, const char *data, size_t len, bool *changed)
{
    *changed = false;
    if (same_content(path, data, len))
        return JT_OK;
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 0;
    const char *base = slash ? slash + 1 : path;
    char tmp[PATH_MAX];
    int w = snprintf(tmp, sizeof tmp, "%.*s%s.%s.tmp.%ld", dir_len, path, slash ? "/" : "", base, (long)getpid());
    if (w < 0 || (size_t)w >= sizeof tmp || *base == '\0')
        return JT_ERR_USAGE;
    /* A stale temporary from a killed run is ours to replace; O_NOFOLLOW refuses a planted symlink. */
    unlink(tmp);
    /* 0644 whatever the umask: Prometheus runs as another user */
    enum jt_err rc = file_write_atomic(path, tmp, data, len, 0644);
    if (rc != JT_OK) {
        log_error("cannot write %s: %s (the previous file is kept)", path, strerror(errno));
        return rc;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (dir_len ? dir_len : 1) : 1, slash ? path : ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself survives a crash */
        close(dfd);
    }
    *changed = true;
    return JT_OK;
}
