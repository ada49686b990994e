/* jobtel_targets.c - main() of `jobtel-targets`, Prometheus service discovery for the GPU nodes.
 *
 * A program of its own (src/targets/ and src/common/ only) because it runs on the Prometheus server or
 * the BCM head node, where neither the exporter nor the prolog belong; `jobtel targets` execs it.
 */
#include "targets/targets_cli.h"

int main(int argc, char **argv)
{
    return cmd_targets(argc, argv);
}
