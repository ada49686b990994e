/* exec_sibling.c - `jobtel stats` and `jobtel summary` hand over to the `jobstats` program.
 *
 * The report needs libcurl and jansson; linking them into `jobtel` would map OpenSSL, Kerberos, LDAP
 * and friends into every GPU node's exporter and into every Slurm prolog start (measured: prolog p99
 * 4 ms -> 11 ms, exporter RSS 6 -> 10 MiB). So those subcommands exec the `jobstats` binary installed
 * next to `jobtel`, found through /proc/self/exe (slurmctld gives its epilogs no PATH).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static int exec_jobstats(const char *sub, int argc, char **argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "jobtel %s: cannot find my own path in /proc/self/exe\n", sub);
        return CLI_EXIT_FAILURE;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    char path[PATH_MAX];
    int w = snprintf(path, sizeof path, "%.*s/jobstats", (int)(slash ? slash - self : 0), self);
    if (w < 0 || (size_t)w >= sizeof path)
        return CLI_EXIT_FAILURE;
    char flag[64];
    snprintf(flag, sizeof flag, "--jobtel-subcommand=%s", sub);
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        return CLI_EXIT_FAILURE;
    args[0] = path;
    args[1] = flag;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    args[argc + 1] = NULL;
    execv(path, args);
    fprintf(stderr, "jobtel %s: cannot run %s (installed next to jobtel?)\n", sub, path);
    free(args);
    return CLI_EXIT_FAILURE;
}

int cmd_stats_exec(int argc, char **argv) { return exec_jobstats("stats", argc, argv); }
int cmd_summary_exec(int argc, char **argv) { return exec_jobstats("summary", argc, argv); }
