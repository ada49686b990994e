/* cli.h - subcommand entry points and the exit codes every jobtel program shares.
 *
 * Exit codes are part of the interface (scripts and slurmd look at them): 0 success, 1 runtime
 * failure, 2 usage error. Prolog/epilog exit 0 on runtime failure unless --strict (see prolog.c).
 */
#ifndef JOBTEL_CLI_H
#define JOBTEL_CLI_H

enum cli_exit { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2 };

/* Which program each entry point is linked into (src/bin/ holds the main()s):
 *   jobtel           (every node; small)        cmd_prolog, cmd_epilog          src/slurm/
 *   jobtel-exporter  (GPU nodes; the daemon)    cmd_exporter                    src/exporter/
 *   jobstats         (login nodes, controller)  cmd_jobstats, cmd_summary       src/jobstats/, src/summary/ */
int cmd_exporter(int argc, char **argv);
int cmd_prolog(int argc, char **argv);
int cmd_epilog(int argc, char **argv);
int cmd_job_record(int argc, char **argv); /* src/slurm/job_record.c */
int cmd_jobstats(int argc, char **argv); /* `jobstats ...`, `jobtel stats ...` */
int cmd_summary(int argc, char **argv);  /* `jobtel summary --store JOBID | --retry-spool` */

/* exec the program `program` installed next to this one (found via /proc/self/exe) with argv[1..],
 * first_arg (if not NULL) in front of them. Returns only on failure (CLI_EXIT_FAILURE). */
int cli_exec_sibling(const char *program, const char *first_arg, int argc, char **argv);

void cli_print_version(const char *prog);

#endif
