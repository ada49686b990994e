/* jobstats_main.c - main() of the `jobstats` executable, the name users on login nodes type.
 *
 * A separate program rather than a `jobtel` subcommand linked in: it is the only part of jobtel that
 * needs libcurl and jansson (see exec_sibling.c). `jobtel stats ...` and `jobtel summary ...` exec it
 * with a first argument --jobtel-subcommand=stats|summary; typed by a user it behaves exactly as
 * Princeton's jobstats, with no subcommand word.
 */
#include <string.h>

#include "common/cli.h"

int main(int argc, char **argv)
{
    static const char flag[] = "--jobtel-subcommand=";
    if (argc > 1 && strncmp(argv[1], flag, sizeof flag - 1) == 0) {
        const char *sub = argv[1] + sizeof flag - 1;
        /* The name the user typed, for --help and messages: "jobtel stats", not "jobstats". */
        if (strcmp(sub, "summary") == 0) {
            argv[1] = "jobtel summary";
            return cmd_summary(argc - 1, argv + 1);
        }
        argv[1] = "jobtel stats";
        return cmd_jobstats(argc - 1, argv + 1);
    }
    return cmd_jobstats(argc, argv);
}
