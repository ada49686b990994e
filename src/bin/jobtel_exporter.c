/* jobtel_exporter.c - main() of `jobtel-exporter`, the GPU node daemon.
 *
 * Its own program so that only the daemon maps libmicrohttpd (and gnutls through it), zlib and
 * jansson: `jobtel prolog`, run by slurmd for every job, stays small. `jobtel exporter ...` execs it;
 * it can also be started directly with the same flags.
 */
#include "common/cli.h"

int main(int argc, char **argv)
{
    return cmd_exporter(argc, argv);
}
