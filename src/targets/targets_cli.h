/* targets_cli.h - the entry point of `jobtel-targets` (exec'd by `jobtel targets`). */
#ifndef JOBTEL_TARGETS_CLI_H
#define JOBTEL_TARGETS_CLI_H

/* Parses argv (argv[0] is the program name) and runs once or in a loop; returns a CLI exit code. */
int cmd_targets(int argc, char **argv);

#endif
