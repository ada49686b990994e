/* snapshot.h - an immutable, reference-counted rendered exposition, and the slot that holds the
 * current one.
 *
 * The collection side builds a new snapshot and swaps it into the slot; a scrape takes a reference
 * to whatever is current and writes it out. Neither side ever waits for the other beyond a pointer
 * swap under a mutex, so a slow or hung collector can never delay a scrape.
 */
#ifndef JOBTEL_SNAPSHOT_H
#define JOBTEL_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct snapshot {
    atomic_uint refs;
    char *body;           /* owned; the exposition text */
    size_t len;
    double built_mono;    /* monotonic time it was built */
    bool healthy;         /* every collector fresh at build time */
    char *health;         /* owned; human-readable per-collector status */
    /* gzip form, made on first demand (most scrapers are Prometheus, which asks for it) */
    pthread_mutex_t gz_mu;
    bool gz_tried;
    char *gz;
    size_t gzlen;
};

/* Takes ownership of `body` and `health` (both may be NULL). Returns NULL on allocation failure,
 * freeing both. The new snapshot has one reference, owned by the caller. */
struct snapshot *snapshot_new(char *body, size_t len, char *health, bool healthy);
void snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);

/* The gzip body, compressing once on first call; false if compression failed (serve plain). */
bool snapshot_gzip(struct snapshot *s, const char **data, size_t *len);

struct snapshot_slot {
    pthread_mutex_t mu;
    struct snapshot *cur; /* one reference owned by the slot */
};

void snapshot_slot_init(struct snapshot_slot *slot);
void snapshot_slot_destroy(struct snapshot_slot *slot);
/* Replaces the current snapshot; takes over the caller's reference to `s`. */
void snapshot_slot_publish(struct snapshot_slot *slot, struct snapshot *s);
/* A new reference to the current snapshot (NULL before the first publish); caller unrefs. */
struct snapshot *snapshot_slot_get(struct snapshot_slot *slot);

#endif
