/* profiling_pause.c - the profiling pause directory (see profiling_pause.h).
 *
 * Read once per GPU collection: one opendir/readdir of a directory that holds a handful of names at most,
 * cheaper than a stat per GPU, and a name set that cannot change between the GPUs of one collection.
 */
#include "collectors/profiling_pause.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

void profiling_pause_load(struct profiling_pause *p)
{
    p->n = 0;
    if (!p->dir)
        return;
    DIR *d = opendir(p->dir);
    if (!d)
        return; /* no directory (fresh install, no job ever asked): nothing paused */
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (name[0] == '.' || len >= sizeof p->names[0])
            continue;
        if (p->n == PROFILING_PAUSE_MAX) {
            if (!p->overflow_logged)
                log_warn("GPU collector: more than %d names in %s; the rest are ignored", PROFILING_PAUSE_MAX, p->dir);
            p->overflow_logged = true;
            break;
        }
        memcpy(p->names[p->n++], name, len + 1);
    }
    closedir(d);
}

bool profiling_pause_covers(const struct profiling_pause *p, const struct gpu_entity *e)
{
    char index_gi[32] = "";
    if (e->is_mig && e->gi[0])
        snprintf(index_gi, sizeof index_gi, "%s.%s", e->index_s, e->gi);
    for (size_t i = 0; i < p->n; i++) {
        const char *n = p->names[i];
        if (strcmp(n, e->index_s) == 0 || (e->uuid[0] && strcmp(n, e->uuid) == 0) ||
            (e->is_mig && e->mig_uuid[0] && strcmp(n, e->mig_uuid) == 0) || (index_gi[0] && strcmp(n, index_gi) == 0))
            return true;
    }
    return false;
}
