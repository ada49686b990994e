/* snapshot.c - immutable reference-counted snapshots (see snapshot.h). */
#include "exporter/snapshot.h"

#include <stdlib.h>
#include <zlib.h>

#include "common/log.h"

struct snapshot *snapshot_new(char *body, size_t len, char *health, bool healthy)
{
    struct snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        free(body);
        free(health);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->body = body;
    s->len = body ? len : 0;
    s->health = health;
    s->healthy = healthy;
    s->built_mono = mono_now();
    pthread_mutex_init(&s->gz_mu, NULL);
    return s;
}

void snapshot_ref(struct snapshot *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void snapshot_unref(struct snapshot *s)
{
    if (!s)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&s->gz_mu);
    free(s->body);
    free(s->health);
    free(s->gz);
    free(s);
}

static bool gzip_compress(const char *in, size_t inlen, char **out, size_t *outlen)
{
    z_stream zs = {0};
    /* windowBits 15 + 16 selects the gzip wrapper; level 1 because scrapes want speed. */
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    uLong bound = deflateBound(&zs, (uLong)inlen);
    char *dst = malloc(bound);
    if (!dst) {
        deflateEnd(&zs);
        return false;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)inlen;
    zs.next_out = (Bytef *)dst;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(dst);
        return false;
    }
    *out = dst;
    *outlen = produced;
    return true;
}

bool snapshot_gzip(struct snapshot *s, const char **data, size_t *len)
{
    pthread_mutex_lock(&s->gz_mu);
    if (!s->gz_tried) {
        s->gz_tried = true;
        if (s->len > 0 && s->len < UINT32_MAX && !gzip_compress(s->body, s->len, &s->gz, &s->gzlen))
            s->gz = NULL;
    }
    bool ok = s->gz != NULL;
    if (ok) {
        *data = s->gz;
        *len = s->gzlen;
    }
    pthread_mutex_unlock(&s->gz_mu);
    return ok;
}

void snapshot_slot_init(struct snapshot_slot *slot)
{
    pthread_mutex_init(&slot->mu, NULL);
    slot->cur = NULL;
}

void snapshot_slot_destroy(struct snapshot_slot *slot)
{
    snapshot_unref(slot->cur);
    slot->cur = NULL;
    pthread_mutex_destroy(&slot->mu);
}

void snapshot_slot_publish(struct snapshot_slot *slot, struct snapshot *s)
{
    pthread_mutex_lock(&slot->mu);
    struct snapshot *old = slot->cur;
    slot->cur = s;
    pthread_mutex_unlock(&slot->mu);
    snapshot_unref(old); /* outside the lock: freeing a large body must not delay a scrape */
}

struct snapshot *snapshot_slot_get(struct snapshot_slot *slot)
{
    pthread_mutex_lock(&slot->mu);
    struct snapshot *s = slot->cur;
    if (s)
        snapshot_ref(s);
    pthread_mutex_unlock(&slot->mu);
    return s;
}
