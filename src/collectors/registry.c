/* registry.c - the registration table: every collector jobtel has, in the order they are listed in
 * --help and started. Adding a collector means adding one line here and one file in src/collectors/
 * (or src/attribution/ for a source of GPU owners). */
#include <string.h>

#include "collectors/collector.h"

extern const struct collector_ops collector_slurm_mapping;
extern const struct collector_ops collector_slurm_process;
extern const struct collector_ops collector_kubernetes;
extern const struct collector_ops collector_gpu;
extern const struct collector_ops collector_cgroup;

/* The attribution stages (src/attribution/) come first: the GPU collector's first collection waits
 * for their first tables (collector_ops.feeds_gpu). */
const struct collector_ops *const collector_table[] = {
    &collector_slurm_mapping,
    &collector_slurm_process,
    &collector_kubernetes,
    &collector_gpu,
    &collector_cgroup,
    NULL,
};

size_t collector_count(void)
{
    size_t n = 0;
    while (collector_table[n])
        n++;
    return n;
}

int collector_find(const char *name)
{
    for (size_t i = 0; collector_table[i]; i++) {
        if (strcmp(collector_table[i]->name, name) == 0)
            return (int)i;
    }
    return -1;
}
