/* jobtel.c - main() of `jobtel`, the front command: one name for every subcommand.
 *
 * slurmd runs `jobtel prolog` / `jobtel epilog` for every job, so they run in this small program
 * (src/slurm/ and src/common/ only: no HTTP, TLS or JSON library to load). The other subcommands are
 * programs of their own, exec'd from here (common/exec_sibling.c): `exporter` is `jobtel-exporter`,
 * `stats` and `summary` are `jobstats`, `doctor` is `jobtel-doctor`, `setup` is the wizard script
 * installed in the libexec directory (../lib/jobtel/jobtel-setup from the bin directory).
 */
#include <stdio.h>
#include <string.h>

#include "common/args.h"
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

static int cmd_doctor_exec(int argc, char **argv)
{
    return cli_exec_sibling("jobtel-doctor", NULL, argc, argv);
}

static int cmd_targets_exec(int argc, char **argv)
{
    return cli_exec_sibling("jobtel-targets", NULL, argc, argv);
}

/* The wizard is a shell script (deploy/setup/jobtel-setup.sh): it asks, writes an Ansible inventory and
 * runs ansible-playbook, nothing a C program would do better. Package jobtel-deploy installs it. */
static int cmd_setup_exec(int argc, char **argv)
{
    return cli_exec_sibling("../lib/jobtel/jobtel-setup", NULL, argc, argv);
}

static const struct subcommand subcommands[] = {
    {"exporter", "serve GPU and job metrics for Prometheus (runs `jobtel-exporter`)", cmd_exporter_exec},
    {"prolog", "Slurm prolog: record which GPUs a job got", cmd_prolog},
    {"epilog", "Slurm epilog: forget a finished job's GPUs", cmd_epilog},
    {"job-record", "node epilog: save a finished job's exact GPU totals for its summary", cmd_job_record},
    {"stats", "job efficiency report (runs the `jobstats` program)", cmd_stats_exec},
    {"summary", "store a job's summary at job end (EpilogSlurmctld), retry the spool", cmd_summary_exec},
    {"doctor", "check this node's setup, one line per check with the fix (runs `jobtel-doctor`)", cmd_doctor_exec},
    {"targets", "write Prometheus file_sd targets for the GPU nodes (runs `jobtel-targets`)", cmd_targets_exec},
    {"setup", "deployment wizard: inventory + Ansible playbook, with a dry run (package jobtel-deploy)", cmd_setup_exec},
};

/* The front's own options: only --help and --version, before the command word. */
static const struct args_opt front_opts[] = {
    {.name = "help", .aliases = "-h", .kind = ARGS_HELP, .help = "Show this help (also `jobtel help`)"},
    {.name = "version", .kind = ARGS_VERSION, .help = "Show the version (also `jobtel version`)"},
    {.kind = ARGS_END},
};

/* The commands list, from the table above, for the generated help. */
static char front_commands[2048];

static const struct args_spec front_spec = {
    .prog = "jobtel",
    .usage = "jobtel <command> [options]",
    .description = front_commands,
    .opts = front_opts,
    .epilogue = "'jobtel <command> --help' describes each command.\n"
                "Exit codes: 0 success, 1 runtime failure, 2 usage error.",
};

static void build_commands(void)
{
    size_t off = (size_t)snprintf(front_commands, sizeof front_commands, "Commands:");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0] && off < sizeof front_commands; i++)
        off += (size_t)snprintf(front_commands + off, sizeof front_commands - off, "\n  %-10s %s",
                                subcommands[i].name, subcommands[i].summary);
}

int main(int argc, char **argv)
{
    build_commands();
    if (argc < 2) {
        args_help(&front_spec, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0)
        cmd = "--help";
    else if (strcmp(cmd, "version") == 0)
        cmd = "--version";
    if (cmd[0] == '-') {
        /* Only the first argument is the front's: what follows --help is not looked at. */
        char *front_argv[] = {argv[0], (char *)cmd, NULL};
        struct args_error err;
        if (args_parse(&front_spec, NULL, 2, front_argv, NULL, NULL, &err) == ARGS_EXIT)
            return CLI_EXIT_OK;
        args_print_error(&front_spec, &err);
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        if (strcmp(cmd, subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "jobtel: unknown command '%s'\n\n", cmd);
    args_help(&front_spec, stderr);
    return CLI_EXIT_USAGE;
}
