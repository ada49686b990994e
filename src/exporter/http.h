/* http.h - the exporter's HTTP front: /metrics, /health, /-/ready, /-/healthy and a landing page,
 * via libmicrohttpd.
 *
 * Every answer is built from the current snapshot without touching any collector, so a scrape costs
 * a pointer swap and a write. Only GET and HEAD are served; everything else gets 405.
 * With --web.config.file, TLS, client certificates, basic auth and extra headers as exporter-toolkit
 * has them (webconfig.h); /-/ready and /-/healthy answer without credentials (status only).
 * Readiness (/health, /-/ready) is "every collector fresh"; liveness (/-/healthy) is "the daemon's
 * own threads run", so a hung driver makes the node unready but never gets the daemon restarted.
 */
#ifndef JOBTEL_HTTP_H
#define JOBTEL_HTTP_H

#include "common/error.h"
#include "exporter/config.h"
#include "exporter/scheduler.h"
#include "exporter/snapshot.h"

struct http_server;

/* A thread of the daemon that has not made progress for this long is wedged (liveness). */
#define HTTP_LIVENESS_MAX_AGE_S 10.0

/* Binds cfg->listen_address (the IPv6 wildcard, dual stack, for ":port"; the IPv4 one if the kernel
 * has no IPv6) and starts serving from `slot`; /-/healthy asks `sched` whether it is alive. On
 * failure logs why. */
enum jt_err http_start(const struct exporter_config *cfg, struct snapshot_slot *slot, struct scheduler *sched,
                       struct http_server **out);
void http_stop(struct http_server *h);

/* Re-reads --web.config.file (SIGHUP): certificate, key, client CAs, users, headers take effect at the
 * next handshake or request. A file that does not load, or that changes what needs a restart (TLS on
 * or off, versions, ciphers), is logged and the previous one stays. Main thread. */
bool http_reload(struct http_server *h);

/* True if the HTTP thread ran a round within max_age_s; *age_s (if not NULL) gets how long ago. */
bool http_alive(struct http_server *h, double max_age_s, double *age_s);

/* Whether an Accept-Encoding value accepts gzip: q-values, x-gzip and "*" as RFC 9110 12.5.3 has
 * them ("gzip;q=0" refuses it). NULL (no header) means no. Exposed for tests. */
bool http_accepts_gzip(const char *accept_encoding);

/* Splits "[host]:port", "host:port" or ":port" into host (NULL = any) and port. Exposed for tests. */
/* Cuts a request URI's query short in place (see on_uri in http.c): past the argument cap, or whole
 * when longer than the byte cap. */
void http_cut_query(char *uri);

enum jt_err http_split_address(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);

#endif
