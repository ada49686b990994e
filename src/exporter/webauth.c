/* webauth.c - bcrypt basic auth with a bounded cache and a bounded rate of work (see webauth.h).
 *
 * The cache holds HMACs, never passwords. An unknown user is checked against a dummy hash so that
 * the time taken does not tell which users exist; that run draws from the same bucket.
 */
#include "exporter/webauth.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#define MAC_LEN 32

struct webauth {
    unsigned char key[32];          /* HMAC key, random per process */
    unsigned char cache[WEBAUTH_CACHE][MAC_LEN];
    bool used[WEBAUTH_CACHE];
    size_t next;                    /* round-robin replacement */
    double tokens, last;
    uint64_t runs, busy;
    char dummy[128];                /* a valid bcrypt hash of nothing anyone knows */
    struct crypt_data cd;
};

static bool ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

struct webauth *webauth_new(void)
{
    struct webauth *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (gnutls_rnd(GNUTLS_RND_KEY, a->key, sizeof a->key) < 0) {
        free(a);
        return NULL;
    }
    a->tokens = WEBAUTH_BCRYPT_PER_S;
    a->last = -1;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    unsigned char rnd[16];
    gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd);
    const char *h = NULL;
    if (crypt_gensalt_rn("$2b$", 10, (const char *)rnd, sizeof rnd, salt, sizeof salt))
        h = crypt_r("jobtel-dummy", salt, &a->cd);
    if (!h || h[0] == '*') {
        free(a);
        return NULL;
    }
    snprintf(a->dummy, sizeof a->dummy, "%s", h);
    return a;
}

void webauth_free(struct webauth *a)
{
    if (!a)
        return;
    explicit_bzero(a, sizeof *a);
    free(a);
}

static bool mac_of(const struct webauth *a, const char *user, const char *pass, const char *hash,
                   unsigned char out[MAC_LEN])
{
    gnutls_hmac_hd_t h;
    if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, a->key, sizeof a->key) < 0)
        return false;
    gnutls_hmac(h, user, strlen(user) + 1);
    gnutls_hmac(h, pass, strlen(pass) + 1);
    gnutls_hmac(h, hash, strlen(hash));
    gnutls_hmac_deinit(h, out);
    return true;
}

enum webauth_result webauth_check(struct webauth *a, const struct webconfig *wc, const char *user,
                                  const char *password, double now)
{
    if (!user || !password)
        return WEBAUTH_DENIED;
    const char *hash = NULL;
    for (size_t i = 0; i < wc->nusers; i++)
        if (strcmp(wc->users[i].name, user) == 0)
            hash = wc->users[i].value;
    unsigned char mac[MAC_LEN];
    bool have_mac = hash && mac_of(a, user, password, hash, mac);
    if (have_mac) {
        bool hit = false;
        for (size_t i = 0; i < WEBAUTH_CACHE; i++)
            hit |= a->used[i] && ct_equal(a->cache[i], mac, MAC_LEN);
        if (hit)
            return WEBAUTH_OK;
    }
    /* Refill the bucket; uncached work beyond it is refused, not queued. */
    if (a->last >= 0)
        a->tokens += (now - a->last) * WEBAUTH_BCRYPT_PER_S;
    a->last = now;
    if (a->tokens > WEBAUTH_BCRYPT_PER_S)
        a->tokens = WEBAUTH_BCRYPT_PER_S;
    if (a->tokens < 1.0) {
        a->busy++;
        return WEBAUTH_BUSY;
    }
    a->tokens -= 1.0;
    a->runs++;
    const char *want = hash ? hash : a->dummy;
    const char *got = crypt_r(password, want, &a->cd);
    bool ok = got && got[0] != '*' && strlen(got) == strlen(want) && ct_equal(got, want, strlen(want));
    explicit_bzero(a->cd.output, sizeof a->cd.output);
    if (!ok || !hash)
        return WEBAUTH_DENIED;
    if (have_mac) {
        memcpy(a->cache[a->next], mac, MAC_LEN);
        a->used[a->next] = true;
        a->next = (a->next + 1) % WEBAUTH_CACHE;
    }
    return WEBAUTH_OK;
}

uint64_t webauth_bcrypt_runs(const struct webauth *a)
{
    return a->runs;
}

uint64_t webauth_busy(const struct webauth *a)
{
    return a->busy;
}
