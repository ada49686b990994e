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

/* One child: its pid (-1: not started), its stdout and stderr pipes' read ends (-1: closed). */
struct child {
    pid_t pid;
    int fd[2];
};

static enum jt_err start_child(char *const argv[], struct child *c)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    c->pid = -1;
    c->fd[0] = c->fd[1] = -1;
    if (argv[0][0] != '/')
        return JT_ERR_USAGE;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0)
        goto fail;
    pid_t pid = fork();
    if (pid < 0)
        goto fail;
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
    *c = (struct child){pid, {po[0], pe[0]}};
    return JT_OK;
fail:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    return JT_ERR_IO;
}

enum jt_err cmd_run_many(size_t n, struct cmd *cmds, double timeout_s)
{
    enum { MAX = 8 };
    if (n == 0 || n > MAX)
        return JT_ERR_USAGE;
    struct child ch[MAX];
    struct pollfd fds[2 * MAX];
    int open_fds = 0;
    for (size_t k = 0; k < n; k++) {
        cmds[k].exit_status = -1;
        cmds[k].rc = start_child(cmds[k].argv, &ch[k]);
        for (int i = 0; i < 2; i++) {
            fds[2 * k + (size_t)i] = (struct pollfd){.fd = ch[k].fd[i], .events = POLLIN};
            open_fds += ch[k].fd[i] >= 0;
        }
    }
    double deadline = mono_now() + timeout_s;
    enum jt_err all = JT_OK;
    char chunk[8192];
    while (open_fds > 0) {
        double left = deadline - mono_now();
        if (left <= 0) {
            all = JT_ERR_TIMEOUT;
            break;
        }
        int pr = poll(fds, 2 * n, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            all = JT_ERR_IO;
            break;
        }
        for (size_t i = 0; i < 2 * n; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(fds[i].fd, chunk, sizeof chunk);
            struct cmd *c = &cmds[i / 2];
            if (r > 0) {
                buf_append(i % 2 == 0 ? c->out : c->errout, chunk, (size_t)r); /* past the cap: dropped, flagged */
            } else if (r == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        for (int i = 0; i < 2; i++) {
            if (fds[2 * k + (size_t)i].fd >= 0) {
                close(fds[2 * k + (size_t)i].fd);
                /* a child still writing when the deadline passed (or poll failed) is killed */
                if (ch[k].pid > 0) {
                    kill(ch[k].pid, SIGKILL);
                    cmds[k].rc = all;
                }
            }
        }
        if (ch[k].pid <= 0)
            continue;
        int st;
        while (waitpid(ch[k].pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (cmds[k].rc != JT_OK)
            continue;
        cmds[k].exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (cmds[k].exit_status == 127 && cmds[k].out->len == 0)
            cmds[k].rc = JT_ERR_IO; /* most likely exec failed */
    }
    return JT_OK;
}

enum jt_err cmd_run(char *const argv[], double timeout_s, struct buf *out, struct buf *errout, int *exit_status)
{
    struct cmd c = {argv, out, errout, -1, JT_OK};
    if (argv[0][0] != '/') {
        *exit_status = -1;
        return JT_ERR_USAGE;
    }
    cmd_run_many(1, &c, timeout_s);
    *exit_status = c.exit_status;
    return c.rc;
}
