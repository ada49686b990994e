/* version.c - the --version text every subcommand prints. */
#include <stdio.h>

#include "common/cli.h"

void cli_print_version(const char *prog)
{
    printf("%s version %s (jobtel)\n", prog, JOBTEL_VERSION);
}
