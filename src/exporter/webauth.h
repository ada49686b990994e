/* webauth.h - basic-auth checks against a web config's bcrypt users, fast for a scrape, bounded
 * under a flood.
 *
 * bcrypt costs tens of milliseconds by design and runs on the HTTP thread, so two bounds keep
 * scrapes fast: a successful check is cached (keyed by an HMAC of user, password and stored hash
 * under a per-process random key, compared in constant time), and uncached checks draw from a token
 * bucket of WEBAUTH_BCRYPT_PER_S; when it is empty the answer is "busy" (429) without hashing. A
 * flood of wrong passwords therefore costs the thread at most that many bcrypt runs per second,
 * while a scraper whose credentials are cached is never refused. Not thread-safe: HTTP thread only.
 */
#ifndef JOBTEL_WEBAUTH_H
#define JOBTEL_WEBAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "exporter/webconfig.h"

#define WEBAUTH_CACHE 64          /* successful verifications remembered */
#define WEBAUTH_BCRYPT_PER_S 4.0  /* uncached bcrypt runs per second, and the burst */

enum webauth_result { WEBAUTH_OK, WEBAUTH_DENIED, WEBAUTH_BUSY };

struct webauth;

struct webauth *webauth_new(void);
void webauth_free(struct webauth *a);

/* Checks user/password (either may be NULL: denied) against wc's users at time `now` (monotonic s). */
enum webauth_result webauth_check(struct webauth *a, const struct webconfig *wc, const char *user,
                                  const char *password, double now);

/* bcrypt runs so far, and checks refused as busy (for tests and the log). */
uint64_t webauth_bcrypt_runs(const struct webauth *a);
uint64_t webauth_busy(const struct webauth *a);

#endif
