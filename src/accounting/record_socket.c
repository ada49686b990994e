/* record_socket.c - the unix socket through which the node epilog asks the daemon for a finished job's
 * record (`jobtel job-record`): local only, root only, one short request per connection.
 *
 * Why a socket and not a file the daemon writes: the epilog runs when the job ends, and the record it
 * wants is the daemon's latest totals, not the last 10 s save. Why unix and root-only: the record names
 * jobs and their energy; no network listener is added to a GPU node for it. The socket is created 0600
 * in the state directory, and every peer's uid is checked (SO_PEERCRED) against root and the daemon's
 * own uid. A client gets 2 s to send its line; the answer is written with a 2 s send timeout; one thread
 * serves one connection at a time (an epilog per job end is the whole load).
 *
 * Protocol: "record <jobid>\n" -> the job's JSON (job_acct_job_json) and close, or "error <reason>\n".
 */
#include "accounting/record_socket.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"

struct record_server {
    struct job_acct *acct;
    char path[108];
    int fd;
    pthread_t thread;
    atomic_bool stop;
};

bool record_jobid_ok(const char *s, size_t n)
{
    if (n == 0 || n > RECORD_JOBID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
              c == '+' || c == '-'))
            return false;
    }
    return true;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void serve(struct record_server *s, int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != 0 && cred.uid != geteuid())) {
        send_all(fd, "error permission denied\n", 24);
        return;
    }
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char line[64];
    size_t got = 0;
    while (got < sizeof line) {
        ssize_t r = recv(fd, line + got, sizeof line - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(line, '\n', got))
            break;
    }
    char *nl = memchr(line, '\n', got);
    if (!nl || (size_t)(nl - line) < 8 || memcmp(line, "record ", 7) != 0 || !record_jobid_ok(line + 7, (size_t)(nl - line - 7))) {
        send_all(fd, "error bad request\n", 18);
        return;
    }
    *nl = '\0';
    struct buf out;
    buf_init(&out, 4u << 20);
    enum jt_err rc = job_acct_job_json(s->acct, line + 7, &out);
    if (rc == JT_OK)
        send_all(fd, out.data, out.len);
    else if (rc == JT_ERR_NOT_FOUND)
        send_all(fd, "error not found\n", 16);
    else
        send_all(fd, "error internal\n", 15);
    buf_free(&out);
}

static void *server_main(void *arg)
{
    struct record_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int r = poll(&p, 1, 250);
        if (r <= 0)
            continue;
        int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        serve(s, c);
        close(c);
    }
    return NULL;
}

struct record_server *record_server_start(const char *path, struct job_acct *acct)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        log_error("accounting: socket path %s is too long", path);
        return NULL;
    }
    struct record_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->acct = acct;
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    /* A stale socket from a previous run is replaced; a live one (another daemon answers) or anything
     * that is not a socket is left alone. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        int probe = S_ISSOCK(st.st_mode) ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (probe >= 0)
            close(probe);
        if (!S_ISSOCK(st.st_mode) || live) {
            log_error("accounting: %s %s; the job record socket is off", path,
                      live ? "is served by another daemon" : "exists and is not a socket");
            free(s);
            return NULL;
        }
        unlink(path);
    }
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(0177); /* born 0600: no window in which another user could connect */
    int b = s->fd >= 0 ? bind(s->fd, (struct sockaddr *)&sa, sizeof sa) : -1;
    umask(old);
    if (b != 0 || listen(s->fd, 16) != 0) {
        log_error("accounting: cannot listen on %s: %s; the job record socket is off", path, strerror(errno));
        if (s->fd >= 0)
            close(s->fd);
        free(s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
        close(s->fd);
        unlink(path);
        free(s);
        return NULL;
    }
    log_info("accounting: job records on %s", path);
    return s;
}

void record_server_stop(struct record_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
    unlink(s->path);
    free(s);
}
