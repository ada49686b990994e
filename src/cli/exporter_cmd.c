/* placeholder */
#include "cli/cli.h"
int cmd_exporter(int argc, char **argv) { (void)argc; (void)argv; return 1; }
