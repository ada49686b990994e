/* noipv6.c - LD_PRELOAD shim: a kernel booted with ipv6.disable=1, as many HPC nodes are.
 *
 * On such a kernel socket(AF_INET6, ...) fails with EAFNOSUPPORT while getaddrinfo() still offers
 * "::" for a passive wildcard. The shim reproduces exactly that, and nothing else, so the exporter's
 * start-up path can be tested on a machine that has IPv6.
 */
#include <dlfcn.h> /* RTLD_NEXT needs _GNU_SOURCE, which the build defines */
#include <errno.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol)
{
    static int (*real_socket)(int, int, int);
    if (domain == AF_INET6) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (!real_socket)
        *(void **)&real_socket = dlsym(RTLD_NEXT, "socket");
    if (!real_socket) {
        errno = ENOSYS;
        return -1;
    }
    return real_socket(domain, type, protocol);
}
