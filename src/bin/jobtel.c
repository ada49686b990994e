/* jobtel.c - main() of `jobtel`, the front command: one name for every subcommand.
 *
 * slurmd runs `jobtel prolog` / `jobtel epilog` for every job, so they run in this small program
 * (src/slurm/ and src/common/ only: no HTTP, TLS or JSON library to load). The other subcommands are
 * programs of their own, exec'd from here (common/exec_sibling.c): `exporter` is `jobtel-exporter`,
 * `stats` and `summary` are `jobstats`.
 */
#include <stdio.h>
#include <string.h>

#include "common/cli.h"

struct subcommand {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static int cmd_exporter_exec(int argc, char **argv)
{
    return cli_exec_sibling("jobtel-exporter", NULL, argc, argv);
}

static int cmd_stats_exec(int argc, char **argv)
{
    return cli_exec_sibling("jobstats", "--jobtel-subcommand=stats", argc, argv);
}

static int cmd_summary_exec(int argc, char **argv)
{
    return cli_exec_sibling("jobstats", "--jobtel-subcommand=summary", argc, argv);
}

static const struct subcommand subcommands[] = {
    {"exporter", "serve GPU and job metrics for Prometheus (runs `jobtel-exporter`)", cmd_exporter_exec},
    {"prolog", "Slurm prolog: record which GPUs a job got", cmd_prolog},
    {"epilog", "Slurm epilog: forget a finished job's GPUs", cmd_epilog},
    {"stats", "job efficiency report (runs the `jobstats` program)", cmd_stats_exec},
    {"summary", "store a job's summary at job end (EpilogSlurmctld), retry the spool", cmd_summary_exec},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: jobtel <command> [options]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n'jobtel <command> --help' describes each command.\n"
                 "Exit codes: 0 success, 1 runtime failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        cli_print_version("jobtel");
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        if (strcmp(cmd, subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "jobtel: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
