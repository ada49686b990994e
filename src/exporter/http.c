/* http.c - /metrics, /health and / over libmicrohttpd (see http.h).
 *
 * One internal polling thread (epoll) serves everything: answers are prebuilt, so there is nothing a
 * second thread would wait on, and one thread keeps the daemon's memory small. Connection count,
 * per-connection memory and idle time are capped so a hostile client cannot pin resources.
 */
#include "exporter/http.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "common/log.h"
#include "common/strparse.h"
#include "exporter/api.h"

struct http_server {
    struct MHD_Daemon *daemon;
    const struct exporter_config *cfg;
    struct snapshot_slot *slot;
    struct MHD_Response *landing;
    struct MHD_Response *not_found;
    struct MHD_Response *bad_method;
    struct MHD_Response *unavailable;
};

enum jt_err http_split_address(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    host[0] = '\0';
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return JT_ERR_USAGE;
        if (!str_copy(host, hostlen, addr + 1, (size_t)(close - addr - 1)))
            return JT_ERR_USAGE;
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return JT_ERR_USAGE;
        if (!str_copy(host, hostlen, addr, (size_t)(colon - addr)))
            return JT_ERR_USAGE;
    }
    uint64_t p;
    if (!cstr_to_u64(colon + 1, &p) || p == 0 || p > 65535)
        return JT_ERR_USAGE;
    if (!str_copy(port, portlen, colon + 1, strlen(colon + 1)))
        return JT_ERR_USAGE;
    return JT_OK;
}

static void snapshot_free_cb(void *cls)
{
    snapshot_unref(cls);
}

static bool accepts_gzip(struct MHD_Connection *c)
{
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    return ae && strstr(ae, "gzip") != NULL;
}

static enum MHD_Result serve_metrics(struct http_server *h, struct MHD_Connection *c)
{
    struct snapshot *s = snapshot_slot_get(h->slot);
    if (!s)
        return MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, h->unavailable);
    const char *data = s->body ? s->body : "";
    size_t len = s->len;
    bool gz = accepts_gzip(c) && snapshot_gzip(s, &data, &len);
    /* The response borrows the snapshot's memory and drops our reference when it is done. */
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(len, (void *)(uintptr_t)data,
                                                                                    snapshot_free_cb, s);
    if (!r) {
        snapshot_unref(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    if (gz)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_health(struct http_server *h, struct MHD_Connection *c)
{
    struct snapshot *s = snapshot_slot_get(h->slot);
    char head[256];
    bool ok = false;
    if (!s) {
        snprintf(head, sizeof head, "UNAVAILABLE: no collection has finished yet\n");
    } else {
        double age = mono_now() - s->built_mono;
        if (age > h->cfg->stale_after_s) {
            snprintf(head, sizeof head, "UNAVAILABLE: the served snapshot is %.1f s old\n", age);
        } else if (!s->healthy) {
            snprintf(head, sizeof head, "UNAVAILABLE: a collector is stale\n");
        } else {
            snprintf(head, sizeof head, "OK\n");
            ok = true;
        }
    }
    size_t hl = strlen(head);
    size_t bl = s && s->health ? strlen(s->health) : 0;
    char *text = malloc(hl + bl + 1);
    if (!text) {
        snapshot_unref(s);
        return MHD_NO;
    }
    memcpy(text, head, hl);
    if (bl)
        memcpy(text + hl, s->health, bl);
    text[hl + bl] = '\0';
    snapshot_unref(s);
    struct MHD_Response *r = MHD_create_response_from_buffer(hl + bl, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, r);
    MHD_destroy_response(r);
    return ret;
}

/* /api/v1/...: JSON built by exporter/api.c from the GPU collector's latest readings. */
static enum MHD_Result serve_api(struct http_server *h, struct MHD_Connection *c, const char *url)
{
    const char *window = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "window");
    char *body = NULL;
    size_t len = 0;
    unsigned status = api_answer(h->cfg->api, h->cfg->stale_after_s, h->cfg->kubernetes, url, window, mono_now(),
                                 &body, &len);
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **req_cls)
{
    struct http_server *h = cls;
    (void)version;
    (void)upload_data;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        /* Do not read a body we will not use. */
        *upload_size = 0;
        return MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, h->bad_method);
    }
    if (*req_cls == NULL) { /* first call: headers only; answer on the next */
        *req_cls = (void *)1;
        return MHD_YES;
    }
    if (strcmp(url, h->cfg->telemetry_path) == 0)
        return serve_metrics(h, c);
    if (strcmp(url, "/health") == 0)
        return serve_health(h, c);
    if (strcmp(url, "/") == 0)
        return MHD_queue_response(c, MHD_HTTP_OK, h->landing);
    if (strncmp(url, "/api/", 5) == 0)
        return serve_api(h, c, url);
    return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, h->not_found);
}

static struct MHD_Response *static_response(const char *text, const char *ctype)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return r;
}

static void free_responses(struct http_server *h)
{
    if (h->landing)
        MHD_destroy_response(h->landing);
    if (h->not_found)
        MHD_destroy_response(h->not_found);
    if (h->bad_method)
        MHD_destroy_response(h->bad_method);
    if (h->unavailable)
        MHD_destroy_response(h->unavailable);
    free(h);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    log_debug("http: %s", line);
}

enum jt_err http_start(const struct exporter_config *cfg, struct snapshot_slot *slot, struct http_server **out)
{
    *out = NULL;
    char host[256], port[16];
    if (http_split_address(cfg->listen_address, host, sizeof host, port, sizeof port) != JT_OK) {
        log_error("invalid --web.listen-address '%s' (want [host]:port)", cfg->listen_address);
        return JT_ERR_USAGE;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (gai != 0 || !ai) {
        log_error("cannot resolve listen address '%s': %s", cfg->listen_address, gai_strerror(gai));
        return JT_ERR_USAGE;
    }
    /* With no host, prefer the IPv6 wildcard in dual-stack mode so both families are served. */
    struct addrinfo *pick = ai;
    if (!host[0]) {
        for (struct addrinfo *p = ai; p; p = p->ai_next) {
            if (p->ai_family == AF_INET6) {
                pick = p;
                break;
            }
        }
    }

    struct http_server *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return JT_ERR_NOMEM;
    }
    h->cfg = cfg;
    h->slot = slot;
    static const char landing[] =
        "<html><head><title>jobtel exporter</title></head><body><h1>jobtel exporter</h1>"
        "<p>GPU and Slurm job telemetry.</p><ul><li><a href=\"metrics\">metrics</a></li>"
        "<li><a href=\"health\">health</a></li><li><a href=\"api/v1/gpus\">api/v1/gpus</a></li></ul></body></html>\n";
    h->landing = static_response(landing, "text/html; charset=utf-8");
    h->not_found = static_response("404 page not found\n", "text/plain; charset=utf-8");
    h->bad_method = static_response("405 method not allowed: use GET or HEAD\n", "text/plain; charset=utf-8");
    h->unavailable = static_response("503 no collection has finished yet\n", "text/plain; charset=utf-8");
    if (!h->landing || !h->not_found || !h->bad_method || !h->unavailable) {
        freeaddrinfo(ai);
        free_responses(h);
        return JT_ERR_NOMEM;
    }
    if (h->bad_method)
        MHD_add_response_header(h->bad_method, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    if (pick->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6 | (host[0] ? 0 : MHD_USE_DUAL_STACK);
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                                 MHD_OPTION_SOCK_ADDR, pick->ai_addr,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)128,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64,
                                 MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)128,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        log_error("cannot listen on %s (address in use or not permitted?)", cfg->listen_address);
        free_responses(h);
        return JT_ERR_IO;
    }
    log_info("listening on %s, metrics at %s", cfg->listen_address, cfg->telemetry_path);
    *out = h;
    return JT_OK;
}

void http_stop(struct http_server *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free_responses(h);
}
