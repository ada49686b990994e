/* cli.h - subcommand entry points and the exit codes every subcommand shares.
 *
 * Exit codes are part of the interface (scripts and slurmd look at them): 0 success, 1 runtime
 * failure, 2 usage error. Prolog/epilog exit 0 on runtime failure unless --strict (see prolog.c).
 */
#ifndef JOBTEL_CLI_H
#define JOBTEL_CLI_H

enum cli_exit { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2 };

int cmd_exporter(int argc, char **argv);
int cmd_prolog(int argc, char **argv);
int cmd_epilog(int argc, char **argv);
/* In the `jobstats` program (cli library, links libcurl and jansson): */
int cmd_jobstats(int argc, char **argv); /* `jobstats ...`, `jobtel stats ...` */
int cmd_summary(int argc, char **argv);  /* `jobtel summary --store JOBID | --retry-spool` */
/* In `jobtel`: exec the `jobstats` program next to it (exec_sibling.c). */
int cmd_stats_exec(int argc, char **argv);
int cmd_summary_exec(int argc, char **argv);

void cli_print_version(const char *prog);

#endif
