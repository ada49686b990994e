/* http.c - /metrics, /health, /-/healthy, /-/ready and / over libmicrohttpd (see http.h).
 *
 * One thread of ours runs libmicrohttpd's epoll loop (MHD_run_wait) and, between rounds, a guard
 * over the open connections. Answers are prebuilt, so a second serving thread would have nothing to
 * wait on; running the loop ourselves rather than in libmicrohttpd's internal thread gives three
 * things at no cost: a heartbeat (the liveness the watchdog and /-/healthy report), a place to
 * enforce deadlines, and no race between our closing a socket and libmicrohttpd's: both happen on
 * this one thread.
 *
 * The guard exists because libmicrohttpd's own limits let any local user stop every scrape: its idle
 * timeout restarts on each byte, so a client trickling a header line every few seconds holds a slot
 * indefinitely, and a full server stops accepting, Prometheus included. So we track every connection
 * (MHD_OPTION_NOTIFY_CONNECTION) in one of two phases:
 *   - waiting for request headers (just accepted, or idle between keep-alive requests): it must
 *     complete them within an absolute deadline (HTTP_HEADER_DEADLINE_S after accept, the idle
 *     timeout after its previous answer), else it is closed; a peer that half-closes while waiting is
 *     closed at once;
 *   - being answered: bounded by HTTP_REQUEST_DEADLINE_S in total, so a slow reader cannot pin it.
 * A connection that waits for headers never blocks a newcomer: when one address holds more than
 * HTTP_PER_IP_SOFT or everyone together more than HTTP_TOTAL_SOFT connections, the oldest waiting one
 * (of that address, resp. overall) is shut down to make room. A waiting connection whose complete
 * request is already in the kernel's buffer is not a candidate: it is about to be served (that is
 * what a scrape looks like before we read it; TCP_DEFER_ACCEPT makes sure a scrape is accepted only
 * with its request in hand). libmicrohttpd's hard limit sits above ours, only as a backstop while
 * evicted sockets are being closed.
 *
 * Closing = shutdown(2): the descriptor stays libmicrohttpd's, which sees end of file on its next
 * round and releases the connection through its normal path.
 */
#include "exporter/http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "common/log.h"
#include "common/strparse.h"
#include "exporter/api.h"
#include "exporter/webauth.h"
#include "exporter/webconfig.h"

#define HTTP_TOTAL_SOFT 128          /* connections before the oldest waiting one is evicted */
#define HTTP_PER_IP_SOFT 32          /* the same, per client address */
#define HTTP_HARD_LIMIT 512          /* libmicrohttpd's own limit: a backstop above ours */
#define HTTP_HEADER_DEADLINE_S 5.0   /* accept to complete request headers, at most */
#define HTTP_IDLE_S 10.0             /* keep-alive: previous answer to next request's headers */
#define HTTP_REQUEST_DEADLINE_S 30.0 /* headers to the last byte of the answer */
#define HTTP_ROUND_MS 200            /* longest wait in one loop round (heartbeat, sweeps) */
#define HTTP_SWEEP_S 0.1             /* how often deadlines are checked */
#define HTTP_MAX_ARGS 8              /* query arguments we look at; the rest are ignored */
#define HTTP_MAX_QUERY 2048          /* a longer query string is ignored whole */
#define HTTP_RETIRE_S 60.0           /* a replaced web config outlives any handshake that may use it */

enum conn_phase { PH_WAITING, PH_ANSWERING };

/* One open connection, in accept order on the server's list. HTTP thread only. */
struct conn {
    struct conn *prev, *next;
    struct MHD_Connection *mc;
    int fd;
    unsigned char ip[16]; /* client address (IPv4 as mapped IPv6) */
    bool has_ip;
    enum conn_phase phase;
    bool fresh;           /* no request seen yet */
    bool closing;         /* shut down by us; libmicrohttpd will release it */
    double since;         /* mono time the current phase began */
    signed char client_ok; /* client certificate: 0 not checked yet, 1 accepted, -1 refused */
};

/* One loaded web config: the parsed file and its TLS material. Built by http_reload off the HTTP
 * thread, installed by the HTTP thread between rounds, and freed HTTP_RETIRE_S after replacement. */
struct web_state {
    struct webconfig *wc;       /* NULL: no --web.config.file */
    struct webconfig_tls *tls;  /* NULL without TLS */
    struct web_state *next;     /* retired list */
    double retired;
};

struct http_server {
    struct MHD_Daemon *daemon;
    const struct exporter_config *cfg;
    struct snapshot_slot *slot;
    struct scheduler *sched;
    /* web config: `web` is the HTTP thread's; http_reload hands a new one over through `pending` */
    const char *web_path;
    struct web_state *web;
    _Atomic(struct web_state *) pending;
    struct web_state *retired;
    struct webauth *auth;
    bool tls;                      /* fixed at start, as are the priorities */
    char *priorities;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_uint_least64_t beat_us; /* mono time of the loop's last round, microseconds */
    /* connection guard; HTTP thread only */
    struct conn *head, *tail;      /* oldest first */
    size_t nconn;                  /* not closing */
    double last_sweep;
    struct pollfd *pfd;            /* sweep scratch, HTTP_HARD_LIMIT entries */
    struct conn **pconn;
    uint64_t evicted, expired, half_closed;
    struct ratelimit rl_guard;
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
    /* Port 0 asks the kernel for a free one; the log line says which (tests use it). */
    if (!cstr_to_u64(colon + 1, &p) || p > 65535)
        return JT_ERR_USAGE;
    if (!str_copy(port, portlen, colon + 1, strlen(colon + 1)))
        return JT_ERR_USAGE;
    return JT_OK;
}

/* --- Accept-Encoding ---------------------------------------------------------------------------- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses a qvalue (RFC 9110 12.4.2: 0[.ddd] or 1[.000]) into thousandths; false if malformed. */
static bool parse_qvalue(const char *p, size_t n, int *q)
{
    if (n == 0 || (p[0] != '0' && p[0] != '1'))
        return false;
    int v = (p[0] - '0') * 1000;
    if (n > 1) {
        if (p[1] != '.' || n > 5)
            return false;
        int scale = 100;
        for (size_t i = 2; i < n; i++, scale /= 10) {
            if (p[i] < '0' || p[i] > '9')
                return false;
            v += (p[i] - '0') * scale;
        }
    }
    if (v > 1000)
        return false;
    *q = v;
    return true;
}

bool http_accepts_gzip(const char *ae)
{
    if (!ae)
        return false;
    int q_gzip = -1, q_any = -1; /* -1: not mentioned */
    const char *p = ae;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *end = p + n;
        /* coding *( OWS ";" OWS param ) */
        const char *t = p;
        while (t < end && is_ows(*t))
            t++;
        const char *te = t;
        while (te < end && *te != ';' && !is_ows(*te))
            te++;
        size_t tl = (size_t)(te - t);
        int q = 1000;
        bool ok = tl > 0;
        const char *a = te;
        while (ok && a < end) {
            while (a < end && is_ows(*a))
                a++;
            if (a == end)
                break;
            if (*a != ';') {
                ok = false;
                break;
            }
            a++;
            while (a < end && is_ows(*a))
                a++;
            const char *pe = a;
            while (pe < end && *pe != ';')
                pe++;
            const char *ve = pe;
            while (ve > a && is_ows(ve[-1]))
                ve--;
            if (ve - a >= 2 && (a[0] == 'q' || a[0] == 'Q') && a[1] == '=')
                ok = parse_qvalue(a + 2, (size_t)(ve - a - 2), &q);
            a = pe;
        }
        if (ok) { /* a malformed element is ignored, as if absent */
            if ((tl == 4 && strncasecmp(t, "gzip", 4) == 0) || (tl == 6 && strncasecmp(t, "x-gzip", 6) == 0))
                q_gzip = q > q_gzip ? q : q_gzip;
            else if (tl == 1 && *t == '*')
                q_any = q;
        }
        p = *end ? end + 1 : end;
    }
    int eff = q_gzip >= 0 ? q_gzip : q_any;
    return eff > 0;
}

/* --- connection guard --------------------------------------------------------------------------- */

static bool conn_ip(const struct sockaddr *sa, unsigned char ip[16])
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET6) {
        memcpy(ip, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return true;
    }
    if (sa->sa_family == AF_INET) {
        memset(ip, 0, 10);
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return true;
    }
    return false;
}

static void conn_close(struct http_server *h, struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    h->nconn--;
    shutdown(c->fd, SHUT_RDWR);
}

/* True if the kernel already holds this connection's complete request head: it is about to be
 * served, so it must not be evicted as an idler. */
static bool conn_request_buffered(const struct conn *c)
{
    char b[4096];
    ssize_t n = recv(c->fd, b, sizeof b - 1, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0)
        return false;
    b[n] = '\0';
    return strstr(b, "\r\n\r\n") || strstr(b, "\n\n");
}

/* True while a TLS connection's handshake is not finished: a scrape looks like this for a round trip
 * and the client's key exchange, which on a loaded machine takes long enough for a crowd of idlers
 * to make it the oldest waiting connection; its request, once sent, is encrypted, so
 * conn_request_buffered cannot see it. */
static bool conn_in_handshake(const struct http_server *h, const struct conn *c)
{
    if (!h->tls || !c->fresh)
        return false;
    const union MHD_ConnectionInfo *si = MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    return si && si->tls_session && gnutls_handshake_get_last_in(si->tls_session) != GNUTLS_HANDSHAKE_FINISHED;
}

/* The oldest connection waiting for headers (of `ip` if not NULL), excluding `skip`. With TLS, one
 * that finished its handshake and idles goes before one still in its handshake: idling after the
 * handshake is what a trickler does, and being in it is what a new scrape does. */
static struct conn *eviction_victim(struct http_server *h, const unsigned char *ip, const struct conn *skip)
{
    for (int pass = h->tls ? 0 : 1; pass < 2; pass++) {
        for (struct conn *c = h->head; c; c = c->next) {
            if (c == skip || c->closing || c->phase != PH_WAITING)
                continue;
            if (ip && (!c->has_ip || memcmp(c->ip, ip, 16) != 0))
                continue;
            if (pass == 0 && conn_in_handshake(h, c))
                continue;
            if (conn_request_buffered(c))
                continue;
            return c;
        }
    }
    return NULL;
}

/* For the total limit: a victim from the address holding the most connections, among the owners of
 * the HTTP_BUSIEST_SCAN oldest waiting ones, so a scraper with its own address is not evicted by a
 * crowd from other addresses, whatever its handshake or request takes. */
#define HTTP_BUSIEST_SCAN 8
static struct conn *busiest_victim(struct http_server *h, const struct conn *skip)
{
    const struct conn *best = NULL;
    size_t best_n = 0, seen = 0;
    for (struct conn *c = h->head; c && seen < HTTP_BUSIEST_SCAN; c = c->next) {
        if (c == skip || c->closing || c->phase != PH_WAITING || !c->has_ip)
            continue;
        seen++;
        size_t n = 0;
        for (struct conn *o = h->head; o; o = o->next)
            n += !o->closing && o->has_ip && memcmp(o->ip, c->ip, 16) == 0;
        if (n > best_n) {
            best = c;
            best_n = n;
        }
    }
    struct conn *v = best ? eviction_victim(h, best->ip, skip) : NULL;
    return v ? v : eviction_victim(h, NULL, skip);
}

static void guard_log(struct http_server *h, const char *what)
{
    uint64_t suppressed = 0;
    if (ratelimit_allow(&h->rl_guard, 60, &suppressed))
        log_warn("http: %s (so far %llu evicted to make room, %llu past their deadline, %llu half-closed; "
                 "%llu similar lines not logged)", what, (unsigned long long)h->evicted,
                 (unsigned long long)h->expired, (unsigned long long)h->half_closed,
                 (unsigned long long)suppressed);
}

/* A new connection: admit it, making room by evicting idlers if a limit is passed. */
static void guard_admit(struct http_server *h, struct conn *c)
{
    if (c->has_ip) {
        size_t same = 0;
        for (struct conn *o = h->head; o; o = o->next)
            same += !o->closing && o->has_ip && memcmp(o->ip, c->ip, 16) == 0;
        if (same > HTTP_PER_IP_SOFT) {
            struct conn *v = eviction_victim(h, c->ip, c);
            if (v) {
                h->evicted++;
                conn_close(h, v);
            } else if (!conn_request_buffered(c)) {
                h->evicted++;
                conn_close(h, c);
            }
            guard_log(h, "one client address holds too many connections waiting for a request");
        }
    }
    if (!c->closing && h->nconn > HTTP_TOTAL_SOFT) {
        struct conn *v = busiest_victim(h, c);
        if (v) {
            h->evicted++;
            conn_close(h, v);
        } else if (!conn_request_buffered(c)) {
            h->evicted++;
            conn_close(h, c);
        }
        guard_log(h, "connection limit reached");
    }
}

/* Closes what is past its deadline, and waiting connections whose peer has gone. */
static void guard_sweep(struct http_server *h, double now)
{
    size_t n = 0;
    for (struct conn *c = h->head; c; c = c->next) {
        if (c->closing)
            continue;
        double limit = c->phase == PH_ANSWERING ? HTTP_REQUEST_DEADLINE_S
                       : c->fresh              ? HTTP_HEADER_DEADLINE_S
                                               : HTTP_IDLE_S;
        if (now - c->since > limit) {
            h->expired++;
            conn_close(h, c);
            guard_log(h, c->phase == PH_ANSWERING ? "an answer took too long to be read, closing"
                                                  : "a client did not send its request in time, closing");
            continue;
        }
        if (c->phase == PH_WAITING && n < HTTP_HARD_LIMIT) {
            h->pfd[n] = (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
            h->pconn[n++] = c;
        }
    }
    /* A peer that shut down its side before finishing a request will never finish it. */
    if (n && poll(h->pfd, (nfds_t)n, 0) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (h->pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                h->half_closed++;
                conn_close(h, h->pconn[i]);
            }
        }
    }
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *c = calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!c || !fdi) {
            /* Cannot track it: refuse it rather than let it escape the deadlines. */
            free(c);
            if (fdi)
                shutdown(fdi->connect_fd, SHUT_RDWR);
            *socket_context = NULL;
            return;
        }
        c->mc = mc;
        c->fd = fdi->connect_fd;
        c->has_ip = ai && conn_ip(ai->client_addr, c->ip);
        c->phase = PH_WAITING;
        c->fresh = true;
        c->since = mono_now();
        c->prev = h->tail;
        if (h->tail)
            h->tail->next = c;
        else
            h->head = c;
        h->tail = c;
        h->nconn++;
        *socket_context = c;
        guard_admit(h, c);
        return;
    }
    /* MHD_CONNECTION_NOTIFY_CLOSED: sent before libmicrohttpd closes the descriptor. */
    struct conn *c = *socket_context;
    if (!c)
        return;
    if (!c->closing)
        h->nconn--;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        h->tail = c->prev;
    free(c);
    *socket_context = NULL;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)req_cls;
    (void)toe;
    struct conn *c = conn_of(mc);
    if (c) { /* back to waiting: the next request's headers are due within the idle time */
        c->phase = PH_WAITING;
        c->fresh = false;
        c->since = mono_now();
    }
}

/* --- answers ------------------------------------------------------------------------------------ */

/* Queues r with the web config's headers and releases our reference. */
static enum MHD_Result answer(struct http_server *h, struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    const struct webconfig *wc = h->web->wc;
    for (size_t i = 0; wc && i < wc->nheaders; i++)
        MHD_add_response_header(r, wc->headers[i].name, wc->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result static_answer(struct http_server *h, struct MHD_Connection *c, unsigned status,
                                     const char *text, const char *ctype)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    return answer(h, c, status, r);
}

#define TEXT_PLAIN "text/plain; charset=utf-8"

static const char landing_html[] =
    "<html><head><title>jobtel exporter</title></head><body><h1>jobtel exporter</h1>"
    "<p>GPU and Slurm job telemetry.</p><ul><li><a href=\"metrics\">metrics</a></li>"
    "<li><a href=\"health\">health</a> (ready: <a href=\"-/ready\">-/ready</a>, alive: "
    "<a href=\"-/healthy\">-/healthy</a>)</li><li><a href=\"api/v1/gpus\">api/v1/gpus</a></li></ul></body></html>\n";

static void snapshot_free_cb(void *cls)
{
    snapshot_unref(cls);
}

static enum MHD_Result serve_metrics(struct http_server *h, struct MHD_Connection *c)
{
    struct snapshot *s = snapshot_slot_get(h->slot);
    if (!s)
        return static_answer(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "503 no collection has finished yet\n", TEXT_PLAIN);
    const char *data = s->body ? s->body : "";
    size_t len = s->len;
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    bool gz = http_accepts_gzip(ae) && snapshot_gzip(s, &data, &len);
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
    return answer(h, c, MHD_HTTP_OK, r);
}

/* A text answer built here; `text` is malloc'd and handed over (freed on failure too). */
static enum MHD_Result queue_text(struct http_server *h, struct MHD_Connection *c, unsigned status, char *text,
                                  size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return answer(h, c, status, r);
}

/* Readiness: every collector fresh (/health, /-/ready). `brief` leaves out the per-collector detail
 * (for /-/ready, which answers without credentials so that Kubernetes probes work). */
static enum MHD_Result serve_ready(struct http_server *h, struct MHD_Connection *c, bool brief)
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
    size_t bl = s && s->health && !brief ? strlen(s->health) : 0;
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
    return queue_text(h, c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text, hl + bl);
}

/* Liveness: the daemon's own threads. This answer comes from the HTTP thread, so that one is
 * alive; the snapshot assembler must have run recently. Collectors do not count: a hung driver is
 * not cured by a restart. */
static enum MHD_Result serve_healthy(struct http_server *h, struct MHD_Connection *c)
{
    double age = 0;
    bool ok = scheduler_alive(h->sched, HTTP_LIVENESS_MAX_AGE_S, &age);
    char *text = malloc(160);
    if (!text)
        return MHD_NO;
    if (ok)
        snprintf(text, 160, "OK\n");
    else
        snprintf(text, 160, "UNHEALTHY: the snapshot assembler last ran %.1f s ago (limit %.0f s)\n", age,
                 HTTP_LIVENESS_MAX_AGE_S);
    return queue_text(h, c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text, strlen(text));
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
    return answer(h, c, status, r);
}

/* The client certificate policy again at the first request of a connection: the handshake already
 * enforced it (on_cert, on_verify), but a SIGHUP may have tightened it since, and a keep-alive
 * connection would otherwise keep what it was let in with. Once per connection. */
static bool client_cert_ok(struct http_server *h, struct MHD_Connection *c, struct conn *cn)
{
    const struct web_state *w = h->web;
    if (!w->tls)
        return true;
    enum webconfig_client_auth ca = w->wc->client_auth;
    if (ca != WC_VERIFY_CLIENT_CERT_IF_GIVEN && ca != WC_REQUIRE_AND_VERIFY_CLIENT_CERT &&
        ca != WC_REQUIRE_ANY_CLIENT_CERT)
        return true;
    if (cn && cn->client_ok)
        return cn->client_ok > 0;
    const union MHD_ConnectionInfo *si = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    unsigned n = 0;
    const gnutls_datum_t *peers = si ? gnutls_certificate_get_peers(si->tls_session, &n) : NULL;
    bool ok;
    if (!peers || n == 0)
        ok = ca == WC_VERIFY_CLIENT_CERT_IF_GIVEN;
    else
        ok = ca == WC_REQUIRE_ANY_CLIENT_CERT || webconfig_tls_verify_client(w->tls, peers, n);
    if (cn)
        cn->client_ok = ok ? 1 : -1;
    return ok;
}

/* Basic auth against the web config's users; NULL if allowed, else the answer to give. */
static enum MHD_Result check_basic_auth(struct http_server *h, struct MHD_Connection *c, bool *allowed)
{
    const struct webconfig *wc = h->web->wc;
    *allowed = true;
    if (!wc || wc->nusers == 0)
        return MHD_YES;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    enum webauth_result r = webauth_check(h->auth, wc, user, pass, mono_now());
    if (pass) {
        explicit_bzero(pass, strlen(pass));
        MHD_free(pass);
    }
    if (user)
        MHD_free(user);
    if (r == WEBAUTH_OK)
        return MHD_YES;
    *allowed = false;
    if (r == WEBAUTH_BUSY) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen("429 too many password checks, retry later\n"),
            (void *)(uintptr_t) "429 too many password checks, retry later\n", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return answer(h, c, MHD_HTTP_TOO_MANY_REQUESTS, resp);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen("401 Unauthorized\n"),
                                                                (void *)(uintptr_t) "401 Unauthorized\n",
                                                                MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    const struct webconfig *w2 = h->web->wc;
    for (size_t i = 0; w2 && i < w2->nheaders; i++)
        MHD_add_response_header(resp, w2->headers[i].name, w2->headers[i].value);
    enum MHD_Result ret = MHD_queue_basic_auth_fail_response(c, "jobtel", resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **req_cls)
{
    struct http_server *h = cls;
    (void)version;
    (void)upload_data;
    struct conn *cn = conn_of(c);
    if (cn && cn->phase == PH_WAITING) { /* headers complete: the answer's deadline starts */
        cn->phase = PH_ANSWERING;
        cn->since = mono_now();
    }
    bool first = *req_cls == NULL;
    if (first && !client_cert_ok(h, c, cn)) {
        *upload_size = 0;
        return static_answer(h, c, MHD_HTTP_FORBIDDEN, "403 client certificate not accepted\n", TEXT_PLAIN);
    }
    /* Probes answer without credentials: Kubernetes cannot easily send them (docs/exporter.md). They
     * say only up or not; the detail is on /health, behind authentication. */
    bool probe = strcmp(url, "/-/ready") == 0 || strcmp(url, "/-/healthy") == 0;
    if (first && !probe) {
        bool allowed;
        enum MHD_Result ret = check_basic_auth(h, c, &allowed);
        if (!allowed) {
            *upload_size = 0;
            return ret;
        }
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        /* Do not read a body we will not use. */
        *upload_size = 0;
        return static_answer(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed: use GET or HEAD\n",
                             TEXT_PLAIN);
    }
    if (*req_cls == NULL) { /* first call: headers only; answer on the next */
        *req_cls = (void *)1;
        return MHD_YES;
    }
    bool authed = h->web->wc && h->web->wc->nusers > 0;
    if (strcmp(url, h->cfg->telemetry_path) == 0)
        return serve_metrics(h, c);
    if (strcmp(url, "/health") == 0 || strcmp(url, "/-/ready") == 0)
        return serve_ready(h, c, authed && url[1] == '-');
    if (strcmp(url, "/-/healthy") == 0)
        return serve_healthy(h, c);
    if (strcmp(url, "/") == 0)
        return static_answer(h, c, MHD_HTTP_OK, landing_html, "text/html; charset=utf-8");
    if (strncmp(url, "/api/", 5) == 0)
        return serve_api(h, c, url);
    return static_answer(h, c, MHD_HTTP_NOT_FOUND, "404 page not found\n", TEXT_PLAIN);
}

/* Called with the request line's URI before libmicrohttpd splits the query into the connection's
 * memory pool. Each argument takes a record there, so a query of a few hundred arguments exhausts
 * the pool and libmicrohttpd cannot even build its error answer: the client waits for the idle
 * timeout. No endpoint here takes more than one argument, so we cut the query short: past
 * HTTP_MAX_ARGS arguments, or entirely if longer than HTTP_MAX_QUERY bytes, it is ignored. The URI
 * lies in the connection's own read buffer, writable and not yet parsed; cutting it only shortens
 * the string libmicrohttpd is about to parse. */
void http_cut_query(char *uri)
{
    char *q = strchr(uri, '?');
    if (!q)
        return;
    if (strlen(q) > HTTP_MAX_QUERY) {
        q[1] = '\0';
        return;
    }
    size_t args = 0;
    for (char *p = q + 1; *p; p++) {
        if (*p == '&' && ++args >= HTTP_MAX_ARGS) {
            *p = '\0';
            break;
        }
    }
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    http_cut_query((char *)(uintptr_t)uri);
    return NULL;
}

/* --- daemon ------------------------------------------------------------------------------------- */

static void web_state_free(struct web_state *w)
{
    if (!w)
        return;
    webconfig_tls_free(w->tls);
    webconfig_free(w->wc);
    free(w);
}

/* Reads the web config at `path` (NULL: none) and its TLS material. */
static enum jt_err web_state_load(const char *path, struct web_state **out, char *err, size_t errlen)
{
    *out = NULL;
    struct web_state *w = calloc(1, sizeof *w);
    if (!w)
        return JT_ERR_NOMEM;
    enum jt_err rc = JT_OK;
    if (path) {
        rc = webconfig_load(path, &w->wc, err, errlen);
        if (rc == JT_OK && w->wc->tls)
            rc = webconfig_tls_load(w->wc, &w->tls, err, errlen);
    }
    if (rc != JT_OK) {
        web_state_free(w);
        return rc;
    }
    *out = w;
    return JT_OK;
}

static void free_server(struct http_server *h)
{
    web_state_free(h->web);
    web_state_free(atomic_exchange(&h->pending, NULL));
    while (h->retired) {
        struct web_state *n = h->retired->next;
        web_state_free(h->retired);
        h->retired = n;
    }
    webauth_free(h->auth);
    free(h->priorities);
    free(h->pfd);
    free(h->pconn);
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

static uint64_t mono_us(void)
{
    return (uint64_t)(mono_now() * 1e6);
}

/* The server whose thread is running: GnuTLS's certificate callback carries no user pointer, and
 * every handshake happens on the HTTP thread (MHD_run_wait), so a thread-local names the server
 * without a process-wide global. */
static _Thread_local struct http_server *tls_server;

/* GnuTLS has the client's certificate: for the Verify* policies it must chain to client_ca_file, or
 * the handshake fails, as in Go. Nonzero refuses. */
static int on_verify(gnutls_session_t session)
{
    struct http_server *h = tls_server;
    if (!h || !h->web->tls)
        return -1;
    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
    if (!peers || n == 0) /* none sent: GNUTLS_CERT_REQUIRE has already decided */
        return 0;
    return webconfig_tls_verify_client(h->web->tls, peers, n) ? 0 : -1;
}

/* GnuTLS asks which certificate to present: the current web config's, so a reload takes effect at
 * the next handshake. It also sets whether to ask the client for one (client_auth_type): GnuTLS sends
 * its CertificateRequest after this point, so the policy too follows reloads. */
static int on_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                   const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert, unsigned *npcert,
                   gnutls_privkey_t *key)
{
    (void)req_ca_dn;
    (void)nreqs;
    (void)algos;
    (void)nalgos;
    struct http_server *h = tls_server;
    if (!h || !h->web->tls)
        return -1;
    enum webconfig_client_auth ca = h->web->wc->client_auth;
    gnutls_certificate_server_set_request(session, ca == WC_NO_CLIENT_CERT ? GNUTLS_CERT_IGNORE
                                                   : ca == WC_REQUIRE_ANY_CLIENT_CERT ||
                                                           ca == WC_REQUIRE_AND_VERIFY_CLIENT_CERT
                                                       ? GNUTLS_CERT_REQUIRE
                                                       : GNUTLS_CERT_REQUEST);
    if (ca == WC_VERIFY_CLIENT_CERT_IF_GIVEN || ca == WC_REQUIRE_AND_VERIFY_CLIENT_CERT)
        gnutls_session_set_verify_function(session, on_verify);
    void *chain, *pk;
    webconfig_tls_cert(h->web->tls, &chain, npcert, &pk);
    *pcert = chain;
    *key = pk;
    return 0;
}

/* Installs a web config handed over by http_reload; frees those retired long enough ago. */
static void web_state_rotate(struct http_server *h, double now)
{
    struct web_state *n = atomic_exchange(&h->pending, NULL);
    if (n) {
        h->web->retired = now;
        h->web->next = h->retired;
        h->retired = h->web;
        h->web = n;
    }
    for (struct web_state **pp = &h->retired; *pp;) {
        if (now - (*pp)->retired > HTTP_RETIRE_S) {
            struct web_state *dead = *pp;
            *pp = dead->next;
            web_state_free(dead);
        } else {
            pp = &(*pp)->next;
        }
    }
}

static void *http_thread(void *arg)
{
    struct http_server *h = arg;
    tls_server = h;
    while (!atomic_load(&h->stop)) {
        MHD_run_wait(h->daemon, HTTP_ROUND_MS);
        double now = mono_now();
        web_state_rotate(h, now);
        atomic_store(&h->beat_us, (uint64_t)(now * 1e6));
        if (now - h->last_sweep >= HTTP_SWEEP_S) {
            h->last_sweep = now;
            guard_sweep(h, now);
        }
    }
    return NULL;
}

/* Whether this kernel can make IPv6 sockets at all (not so when booted with ipv6.disable=1). */
static bool ipv6_available(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static struct MHD_Daemon *start_daemon(struct http_server *h, const struct addrinfo *a, bool dual_stack)
{
    unsigned flags = MHD_USE_ERROR_LOG;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    if (a->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6 | (dual_stack ? MHD_USE_DUAL_STACK : 0);
    /* TLS: the certificate comes from on_cert at each handshake (reloadable), the versions and
     * ciphers from the web config as GnuTLS priorities. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)on_cert},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, h->priorities},
        {MHD_OPTION_END, 0, NULL},
    };
    if (h->tls)
        flags |= MHD_USE_TLS;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, to catch option errors */
                            MHD_OPTION_ARRAY, h->tls ? tls_opts : tls_opts + 2,
                            MHD_OPTION_SOCK_ADDR, a->ai_addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_HARD_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                            MHD_OPTION_END);
}

enum jt_err http_start(const struct exporter_config *cfg, struct snapshot_slot *slot, struct scheduler *sched,
                       struct http_server **out)
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
    /* With no host, the IPv6 wildcard in dual-stack mode serves both families; a kernel without
     * IPv6 (ipv6.disable=1, common on HPC nodes) gets the IPv4 wildcard instead. */
    bool v6 = ipv6_available();
    const struct addrinfo *cand[8];
    size_t ncand = 0;
    for (int fam = 0; fam < 2; fam++) {
        int want = host[0] ? AF_UNSPEC : (fam == 0 ? AF_INET6 : AF_INET);
        for (const struct addrinfo *p = ai; p && ncand < 8; p = p->ai_next) {
            if ((want != AF_UNSPEC && p->ai_family != want) || (p->ai_family == AF_INET6 && !v6))
                continue;
            if (p->ai_family == AF_INET6 || p->ai_family == AF_INET)
                cand[ncand++] = p;
        }
        if (host[0])
            break;
    }
    if (!host[0] && !v6)
        log_info("IPv6 is not available on this kernel; listening on IPv4 only");

    struct http_server *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return JT_ERR_NOMEM;
    }
    h->cfg = cfg;
    h->slot = slot;
    h->sched = sched;
    h->pfd = calloc(HTTP_HARD_LIMIT, sizeof *h->pfd);
    h->pconn = calloc(HTTP_HARD_LIMIT, sizeof *h->pconn);
    h->auth = webauth_new();
    if (!h->pfd || !h->pconn || !h->auth) {
        freeaddrinfo(ai);
        free_server(h);
        return JT_ERR_NOMEM;
    }
    h->web_path = cfg->web_config_file;
    char err[512];
    enum jt_err wrc = web_state_load(h->web_path, &h->web, err, sizeof err);
    if (wrc != JT_OK) {
        log_error("web config: %s", err);
        freeaddrinfo(ai);
        free_server(h);
        return wrc;
    }
    h->tls = h->web->tls != NULL;
    if (h->tls && !(h->priorities = strdup(h->web->wc->priorities))) {
        freeaddrinfo(ai);
        free_server(h);
        return JT_ERR_NOMEM;
    }

    for (size_t i = 0; i < ncand && !h->daemon; i++)
        h->daemon = start_daemon(h, cand[i], !host[0]);
    freeaddrinfo(ai);
    if (!h->daemon) {
        log_error("cannot listen on %s (address in use or not permitted?)", cfg->listen_address);
        free_server(h);
        return JT_ERR_IO;
    }
    atomic_store(&h->beat_us, mono_us());
    if (pthread_create(&h->thread, NULL, http_thread, h) != 0) {
        log_error("cannot start the HTTP thread");
        MHD_stop_daemon(h->daemon);
        free_server(h);
        return JT_ERR_NOMEM;
    }
    h->thread_started = true;
    /* Accept a connection only once it has sent something: a client that connects and says nothing
     * then costs the kernel a request-queue entry, not one of our slots, and a scrape arrives with
     * its whole request, which keeps it from being taken for an idler (see guard_admit). */
    const union MHD_DaemonInfo *li = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    int defer = (int)HTTP_HEADER_DEADLINE_S;
    if (li && setsockopt(li->listen_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer) != 0)
        log_debug("http: TCP_DEFER_ACCEPT not set: %s", strerror(errno));
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    log_info("listening on %s (port %u), metrics at %s%s%s", cfg->listen_address, di ? (unsigned)di->port : 0u,
             cfg->telemetry_path, h->tls ? ", TLS" : "",
             h->web->wc && h->web->wc->nusers ? ", basic auth" : "");
    *out = h;
    return JT_OK;
}

bool http_alive(struct http_server *h, double max_age_s, double *age_s)
{
    double age = mono_now() - (double)atomic_load(&h->beat_us) / 1e6;
    if (age_s)
        *age_s = age;
    return age <= max_age_s;
}

bool http_reload(struct http_server *h)
{
    if (!h || !h->web_path)
        return true;
    char err[512];
    struct web_state *w = NULL;
    if (web_state_load(h->web_path, &w, err, sizeof err) != JT_OK) {
        log_error("web config not reloaded, the previous one stays in force: %s", err);
        return false;
    }
    /* TLS on or off and the priorities are fixed when libmicrohttpd starts. */
    const char *why = NULL;
    if ((w->tls != NULL) != h->tls)
        why = w->tls ? "turning TLS on" : "turning TLS off";
    else if (h->tls && strcmp(w->wc->priorities, h->priorities) != 0)
        why = "a change of min_version, max_version, cipher_suites, curve_preferences or "
              "prefer_server_cipher_suites";
    if (why) {
        log_error("web config not reloaded, the previous one stays in force: %s: %s needs a restart", h->web_path,
                  why);
        web_state_free(w);
        return false;
    }
    char serial[64] = "";
    if (w->tls)
        webconfig_tls_serial(w->tls, serial, sizeof serial);
    log_info("web config reloaded from %s%s%s, %zu basic-auth users", h->web_path,
             w->tls ? ", TLS certificate serial " : "", serial, w->wc->nusers);
    web_state_free(atomic_exchange(&h->pending, w)); /* one the HTTP thread has not taken yet */
    return true;
}

void http_stop(struct http_server *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, true);
    if (h->thread_started)
        pthread_join(h->thread, NULL);
    MHD_stop_daemon(h->daemon); /* closes what is left, notifying on_connection for each */
    free_server(h);
}
