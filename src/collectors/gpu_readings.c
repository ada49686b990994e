/* gpu_readings.c - storage of one GPU collection (see gpu_readings.h). */
#include "collectors/gpu_readings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


bool gpu_collection_reserve(struct gpu_collection *c, size_t n)
{
    c->n = 0;
    c->npids = 0;
    if (n <= c->cap)
        return true;
    struct gpu_entity *e = realloc(c->e, n * sizeof *e);
    if (!e)
        return false;
    c->e = e;
    c->cap = n;
    return true;
}

bool gpu_collection_add_pids(struct gpu_collection *c, struct gpu_entity *e, const unsigned *pids, size_t n)
{
    e->pid_off = c->npids;
    e->npids = 0;
    if (c->npids + n > c->pids_cap) {
        size_t cap = c->pids_cap ? c->pids_cap : 64;
        while (cap < c->npids + n)
            cap *= 2;
        unsigned *p = realloc(c->pids, cap * sizeof *p);
        if (!p)
            return false;
        c->pids = p;
        double *sm = realloc(c->pid_sm, cap * sizeof *sm);
        if (!sm)
            return false;
        c->pid_sm = sm;
        c->pids_cap = cap;
    }
    if (n)
        memcpy(c->pids + c->npids, pids, n * sizeof *pids);
    for (size_t i = 0; i < n; i++)
        c->pid_sm[c->npids + i] = NAN;
    e->pid_sm_valid = false;
    c->npids += n;
    e->npids = n;
    return true;
}

void gpu_collection_free(struct gpu_collection *c)
{
    free(c->pids);
    c->pids = NULL;
    free(c->pid_sm);
    c->pid_sm = NULL;
    c->npids = c->pids_cap = 0;
    free(c->e);
    c->e = NULL;
    c->n = c->cap = 0;
}
