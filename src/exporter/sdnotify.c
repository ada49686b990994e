/* sdnotify.c - systemd notify protocol (see sdnotify.h). */
#include "exporter/sdnotify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/strparse.h"

bool sd_notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return false;
    size_t n = strlen(path);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path)
        return false;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    close(fd);
    return w == (ssize_t)strlen(state);
}

bool sd_watchdog_period(uint64_t *usec)
{
    uint64_t v, pid;
    if (!cstr_to_u64(getenv("WATCHDOG_USEC"), &v) || v == 0)
        return false;
    const char *p = getenv("WATCHDOG_PID");
    if (p && (!cstr_to_u64(p, &pid) || pid != (uint64_t)getpid()))
        return false;
    *usec = v;
    return true;
}
