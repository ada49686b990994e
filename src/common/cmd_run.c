/* cmd_run.c - fork/execv with captured output and a deadline (see cmd_run.h). */
#include "common/cmd_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

enum jt_err cmd_run(char *const argv[], double timeout_s, struct buf *out, struct buf *errout, int *exit_status)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    enum jt_err rc = JT_OK;
    *exit_status = -1;
    if (argv[0][0] != '/')
        return JT_ERR_USAGE;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        rc = JT_ERR_IO;
        goto close;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rc = JT_ERR_IO;
        goto close;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    double deadline = mono_now() + timeout_s;
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    char chunk[8192];
    while (open_fds > 0) {
        double left = deadline - mono_now();
        if (left <= 0) {
            rc = JT_ERR_TIMEOUT;
            kill(pid, SIGKILL);
            break;
        }
        int pr = poll(fds, 2, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            rc = JT_ERR_IO;
            kill(pid, SIGKILL);
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n > 0) {
                buf_append(i == 0 ? out : errout, chunk, (size_t)n); /* past the cap: dropped, flagged */
            } else if (n == 0 || errno != EINTR) {
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (rc == JT_OK)
        *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (rc == JT_OK && *exit_status == 127 && out->len == 0)
        rc = JT_ERR_IO; /* most likely exec failed */
close:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    return rc;
}
