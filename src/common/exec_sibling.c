/* exec_sibling.c - hand a subcommand over to another jobtel program installed next to this one.
 *
 * `jobtel` is the small front every machine has: prolog/epilog run in it directly (slurmd starts them
 * for every job, so it must not load the HTTP/TLS stack: libmicrohttpd pulls in gnutls and a dozen
 * more libraries). The daemon (`jobtel-exporter`: libmicrohttpd, zlib, jansson) and the report
 * (`jobstats`: libcurl, jansson) are their own programs; `jobtel exporter|stats|summary` exec them.
 * They are found through /proc/self/exe, not PATH: slurmctld gives its epilogs no PATH. exec keeps
 * the process id, so systemd's MAINPID and notify socket still apply.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"

int cli_exec_sibling(const char *program, const char *first_arg, int argc, char **argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "jobtel: cannot find my own path in /proc/self/exe\n");
        return CLI_EXIT_FAILURE;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    char path[PATH_MAX];
    int w = snprintf(path, sizeof path, "%.*s/%s", (int)(slash ? slash - self : 0), self, program);
    if (w < 0 || (size_t)w >= sizeof path)
        return CLI_EXIT_FAILURE;
    /* argv[0] is the subcommand word; the sibling gets its own name, then first_arg, then the rest. */
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        return CLI_EXIT_FAILURE;
    size_t k = 0;
    args[k++] = path;
    if (first_arg)
        args[k++] = (char *)first_arg;
    for (int i = 1; i < argc; i++)
        args[k++] = argv[i];
    args[k] = NULL;
    execv(path, args);
    fprintf(stderr, "jobtel: cannot run %s (installed next to jobtel?)\n", path);
    free(args);
    return CLI_EXIT_FAILURE;
}
