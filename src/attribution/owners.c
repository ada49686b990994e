/* owners.c - the hub of attribution tables (see owners.h). */
#include "attribution/owners.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

void owner_table_init(struct owner_table *t, void (*destroy)(struct owner_table *t))
{
    atomic_init(&t->refs, 1);
    t->built_mono = mono_now();
    t->destroy = destroy;
}

void owner_ref(struct owner_table *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void owner_unref(struct owner_table *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        t->destroy(t);
}

void owners_init(struct owners *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    for (size_t i = 0; i < OWN_COUNT; i++)
        atomic_init(&o->first[i], false);
}

void owners_destroy(struct owners *o)
{
    for (size_t i = 0; i < OWN_COUNT; i++) {
        owner_unref(o->cur[i]);
        o->cur[i] = NULL;
    }
    pthread_mutex_destroy(&o->mu);
}

void owners_set_stale_after(struct owners *o, enum owner_source s, double seconds)
{
    pthread_mutex_lock(&o->mu);
    o->stale_after[s] = seconds;
    pthread_mutex_unlock(&o->mu);
}

void owners_publish(struct owners *o, enum owner_source s, struct owner_table *t)
{
    pthread_mutex_lock(&o->mu);
    struct owner_table *old = o->cur[s];
    o->cur[s] = t;
    pthread_mutex_unlock(&o->mu);
    atomic_store(&o->first[s], true);
    owner_unref(old); /* outside the lock: a big table's free must not delay a renderer */
}

struct owner_table *owners_get(struct owners *o, enum owner_source s, double now)
{
    pthread_mutex_lock(&o->mu);
    struct owner_table *t = o->cur[s];
    if (t && o->stale_after[s] > 0 && now - t->built_mono > o->stale_after[s])
        t = NULL; /* its source is hung: no labels beat old ones */
    if (t)
        owner_ref(t);
    pthread_mutex_unlock(&o->mu);
    return t;
}

bool owners_published(struct owners *o, enum owner_source s)
{
    return atomic_load(&o->first[s]);
}

static void pid_table_destroy(struct owner_table *t)
{
    free(t);
}

struct gpu_pid_table *gpu_pid_table_new(size_t n)
{
    struct gpu_pid_table *t = malloc(sizeof *t + n * sizeof t->pid[0]);
    if (!t)
        return NULL;
    owner_table_init(&t->base, pid_table_destroy);
    t->n = n;
    return t;
}

bool gpu_pid_table_has(const struct gpu_pid_table *t, unsigned pid)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->pid[mid] == pid)
            return true;
        if (t->pid[mid] < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}
