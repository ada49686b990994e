/* http.h - the exporter's HTTP front: /metrics, /health and a landing page, via libmicrohttpd.
 *
 * Every answer is built from the current snapshot without touching any collector, so a scrape costs
 * a pointer swap and a write. Only GET and HEAD are served; everything else gets 405.
 */
#ifndef JOBTEL_HTTP_H
#define JOBTEL_HTTP_H

#include "common/error.h"
#include "exporter/config.h"
#include "exporter/snapshot.h"

struct http_server;

/* Binds cfg->listen_address and starts serving from `slot`. On failure logs why. */
enum jt_err http_start(const struct exporter_config *cfg, struct snapshot_slot *slot, struct http_server **out);
void http_stop(struct http_server *h);

/* Splits "[host]:port", "host:port" or ":port" into host (NULL = any) and port. Exposed for tests. */
enum jt_err http_split_address(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);

#endif
