/* main.c - the `jobtel` binary: one program, several subcommands.
 *
 * GPU nodes run `jobtel exporter`; slurmd runs `jobtel prolog` / `jobtel epilog`. One binary keeps
 * packaging simple and lets every subcommand share the same strict parsers.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct subcommand {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static const struct subcommand subcommands[] = {
    {"exporter", "serve GPU and job metrics for Prometheus", cmd_exporter},
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
