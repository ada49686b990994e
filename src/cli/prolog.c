/* prolog.c - placeholder for `jobtel prolog` / `jobtel epilog` (being written). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_prolog(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jobtel prolog: not implemented yet\n");
    return CLI_EXIT_FAILURE;
}

int cmd_epilog(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jobtel epilog: not implemented yet\n");
    return CLI_EXIT_FAILURE;
}
