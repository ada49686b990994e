/* grpc_h2.c - a unary gRPC call over h2c on a unix socket, with nghttp2 (see grpc_h2.h).
 *
 * nghttp2 runs in its memory-buffer mode (mem_send / mem_recv): we own the non-blocking socket and
 * poll it against one deadline for the whole exchange, so a kubelet that accepts and never answers
 * costs at most `timeout_s`. A fresh connection per call: the kubelet may close idle ones (GOAWAY),
 * and reconnecting to a local socket costs microseconds.
 *
 * libnghttp2 is dlopen'd on the first call, not linked: only --kubernetes needs it, and a mapped
 * library costs every GPU node's daemon resident memory whether it is used or not (the 6 MiB budget).
 * The table of its functions is process-wide, written once under pthread_once and read-only after.
 */
#include "kube/grpc_h2.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <dlfcn.h>
#include <pthread.h>

#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "common/strparse.h"

static struct {
    int (*session_callbacks_new)(nghttp2_session_callbacks **);
    void (*session_callbacks_del)(nghttp2_session_callbacks *);
    void (*session_callbacks_set_on_header_callback)(nghttp2_session_callbacks *, nghttp2_on_header_callback);
    void (*session_callbacks_set_on_data_chunk_recv_callback)(nghttp2_session_callbacks *,
                                                              nghttp2_on_data_chunk_recv_callback);
    void (*session_callbacks_set_on_stream_close_callback)(nghttp2_session_callbacks *,
                                                           nghttp2_on_stream_close_callback);
    int (*session_client_new)(nghttp2_session **, const nghttp2_session_callbacks *, void *);
    void (*session_del)(nghttp2_session *);
    ssize_t (*session_mem_recv)(nghttp2_session *, const uint8_t *, size_t);
    ssize_t (*session_mem_send)(nghttp2_session *, const uint8_t **);
    int (*session_want_read)(nghttp2_session *);
    int (*session_want_write)(nghttp2_session *);
    const char *(*strerror)(int);
    int32_t (*submit_request)(nghttp2_session *, const nghttp2_priority_spec *, const nghttp2_nv *, size_t,
                              const nghttp2_data_provider *, void *);
    int (*submit_settings)(nghttp2_session *, uint8_t, const nghttp2_settings_entry *, size_t);
} h2;
static pthread_once_t h2_once = PTHREAD_ONCE_INIT;
static char h2_why[160]; /* empty when loaded */

static void h2_load(void)
{
    static const struct { const char *name; void *slot; } syms[] = {
        {"nghttp2_session_callbacks_new", &h2.session_callbacks_new},
        {"nghttp2_session_callbacks_del", &h2.session_callbacks_del},
        {"nghttp2_session_callbacks_set_on_header_callback", &h2.session_callbacks_set_on_header_callback},
        {"nghttp2_session_callbacks_set_on_data_chunk_recv_callback", &h2.session_callbacks_set_on_data_chunk_recv_callback},
        {"nghttp2_session_callbacks_set_on_stream_close_callback", &h2.session_callbacks_set_on_stream_close_callback},
        {"nghttp2_session_client_new", &h2.session_client_new},
        {"nghttp2_session_del", &h2.session_del},
        {"nghttp2_session_mem_recv", &h2.session_mem_recv},
        {"nghttp2_session_mem_send", &h2.session_mem_send},
        {"nghttp2_session_want_read", &h2.session_want_read},
        {"nghttp2_session_want_write", &h2.session_want_write},
        {"nghttp2_strerror", &h2.strerror},
        {"nghttp2_submit_request", &h2.submit_request},
        {"nghttp2_submit_settings", &h2.submit_settings},
    };
    void *lib = dlopen("libnghttp2.so.14", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(h2_why, sizeof h2_why, "dlopen libnghttp2.so.14: %s", e ? e : "failed");
        return;
    }
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(lib, syms[i].name);
        if (!f) {
            snprintf(h2_why, sizeof h2_why, "libnghttp2.so.14 lacks %s", syms[i].name);
            return; /* kept loaded: harmless, and the table stays unusable */
        }
        memcpy(syms[i].slot, &f, sizeof f); /* POSIX: object and function pointers convert */
    }
}

/* From here on the nghttp2 calls go through the table. */
#define nghttp2_session_callbacks_new h2.session_callbacks_new
#define nghttp2_session_callbacks_del h2.session_callbacks_del
#define nghttp2_session_callbacks_set_on_header_callback h2.session_callbacks_set_on_header_callback
#define nghttp2_session_callbacks_set_on_data_chunk_recv_callback h2.session_callbacks_set_on_data_chunk_recv_callback
#define nghttp2_session_callbacks_set_on_stream_close_callback h2.session_callbacks_set_on_stream_close_callback
#define nghttp2_session_client_new h2.session_client_new
#define nghttp2_session_del h2.session_del
#define nghttp2_session_mem_recv h2.session_mem_recv
#define nghttp2_session_mem_send h2.session_mem_send
#define nghttp2_session_want_read h2.session_want_read
#define nghttp2_session_want_write h2.session_want_write
#define nghttp2_strerror h2.strerror
#define nghttp2_submit_request h2.submit_request
#define nghttp2_submit_settings h2.submit_settings

struct call {
    struct grpc_reply *out;
    int32_t stream;
    const uint8_t *req;
    size_t reqlen, sent;
    int closed;
    uint32_t close_error;
    int overflow;
};

static void fail(struct grpc_reply *r, enum jt_err err, const char *what, const char *detail)
{
    r->err = err;
    snprintf(r->message, sizeof r->message, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

size_t grpc_message_decode(char *dst, size_t dstsz, const char *src, size_t n)
{
    if (dstsz == 0)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < dstsz; i++) {
        unsigned char c = (unsigned char)src[i];
        int hi, lo;
        /* The spec: a decoder passes an invalid %-sequence through as it is. */
        if (c == '%' && i + 2 < n && (hi = hex_digit(src[i + 1])) >= 0 && (lo = hex_digit(src[i + 2])) >= 0) {
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        dst[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[o] = '\0';
    return o;
}

static int remaining_ms(double deadline)
{
    double left = deadline - mono_now();
    return left <= 0 ? 0 : left > 3600 ? 3600000 : (int)(left * 1000) + 1;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    (void)s;
    (void)flags;
    struct call *c = user;
    if (frame->hd.stream_id != c->stream)
        return 0;
    uint64_t v;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        c->out->http_status = str_to_u64((const char *)value, valuelen, &v) && v < 1000 ? (int)v : 0;
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        c->out->grpc_status = str_to_u64((const char *)value, valuelen, &v) && v <= 255 ? (int)v : 2 /* UNKNOWN */;
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        grpc_message_decode(c->out->message, sizeof c->out->message, (const char *)value, valuelen);
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream, const uint8_t *data, size_t len, void *user)
{
    (void)s;
    (void)flags;
    struct call *c = user;
    if (stream != c->stream)
        return 0;
    if (buf_append(&c->out->body, data, len) != JT_OK) {
        c->overflow = 1;
        return NGHTTP2_ERR_CALLBACK_FAILURE; /* ends the session: the answer is over the cap */
    }
    return 0;
}

static int on_close(nghttp2_session *s, int32_t stream, uint32_t error_code, void *user)
{
    (void)s;
    struct call *c = user;
    if (stream == c->stream) {
        c->closed = 1;
        c->close_error = error_code;
    }
    return 0;
}

static ssize_t read_request(nghttp2_session *s, int32_t stream, uint8_t *dst, size_t length, uint32_t *flags,
                            nghttp2_data_source *src, void *user)
{
    (void)s;
    (void)stream;
    (void)user;
    struct call *c = src->ptr;
    size_t n = c->reqlen - c->sent;
    if (n > length)
        n = length;
    memcpy(dst, c->req + c->sent, n);
    c->sent += n;
    if (c->sent == c->reqlen)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int connect_unix(const char *path, double deadline, struct grpc_reply *out)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!str_copy(sa.sun_path, sizeof sa.sun_path, path, strlen(path))) {
        fail(out, JT_ERR_USAGE, "socket path too long", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fail(out, JT_ERR_IO, "socket", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (errno == EAGAIN || errno == EINPROGRESS) { /* the listener's backlog is full: wait for room */
        struct pollfd p = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        if (poll(&p, 1, remaining_ms(deadline)) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err)
            return fd;
        fail(out, JT_ERR_TIMEOUT, "connect", err ? strerror(err) : "timed out");
    } else {
        char what[128];
        snprintf(what, sizeof what, "connect %s", path);
        fail(out, errno == EACCES ? JT_ERR_PERMISSION : JT_ERR_IO, what, strerror(errno));
    }
    close(fd);
    return -1;
}

static int send_all(int fd, const uint8_t *p, size_t n, double deadline, struct grpc_reply *out)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN) {
            fail(out, JT_ERR_IO, "send", strerror(errno));
            return -1;
        }
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, remaining_ms(deadline)) <= 0) {
            fail(out, JT_ERR_TIMEOUT, "send timed out", NULL);
            return -1;
        }
    }
    return 0;
}

/* Runs the session until our stream closes; 0 on completion, -1 with out->err set. */
static int exchange(nghttp2_session *s, int fd, struct call *c, double deadline)
{
    uint8_t in[16384];
    for (;;) {
        for (;;) {
            const uint8_t *d;
            ssize_t n = nghttp2_session_mem_send(s, &d);
            if (n < 0) {
                fail(c->out, JT_ERR_IO, "nghttp2", nghttp2_strerror((int)n));
                return -1;
            }
            if (n == 0)
                break;
            if (send_all(fd, d, (size_t)n, deadline, c->out) != 0)
                return -1;
        }
        if (c->closed)
            return 0;
        if (!nghttp2_session_want_read(s) && !nghttp2_session_want_write(s)) {
            fail(c->out, JT_ERR_IO, "the server ended the connection before answering", NULL);
            return -1;
        }
        int ms = remaining_ms(deadline);
        struct pollfd p = {fd, POLLIN, 0};
        int pr = ms > 0 ? poll(&p, 1, ms) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            fail(c->out, JT_ERR_TIMEOUT, "no answer before the deadline", NULL);
            return -1;
        }
        ssize_t r = recv(fd, in, sizeof in, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            fail(c->out, JT_ERR_IO, "connection closed", r < 0 ? strerror(errno) : NULL);
            return -1;
        }
        ssize_t rv = nghttp2_session_mem_recv(s, in, (size_t)r);
        if (rv < 0) {
            if (c->overflow)
                fail(c->out, JT_ERR_LIMIT, "answer larger than the cap", NULL);
            else
                fail(c->out, JT_ERR_PARSE, "HTTP/2", nghttp2_strerror((int)rv));
            return -1;
        }
    }
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

void grpc_h2_unary(const char *socket_path, const char *method, const uint8_t *req, size_t reqlen,
                   double timeout_s, size_t max_body, struct grpc_reply *out)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->body, max_body);
    out->grpc_status = -1;
    out->err = JT_ERR_IO;
    pthread_once(&h2_once, h2_load);
    if (h2_why[0]) {
        fail(out, JT_ERR_LIBRARY, "nghttp2", h2_why);
        return;
    }
    double deadline = mono_now() + timeout_s;
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_session *s = NULL;
    struct call c = {out, -1, req, reqlen, 0, 0, 0, 0};
    int fd = connect_unix(socket_path, deadline, out);
    if (fd < 0)
        return;
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        fail(out, JT_ERR_NOMEM, "nghttp2 callbacks", NULL);
        goto out;
    }
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    if (nghttp2_session_client_new(&s, cbs, &c) != 0) {
        fail(out, JT_ERR_NOMEM, "nghttp2 session", NULL);
        goto out;
    }
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20}};
    char tmo[32];
    long ms = (long)(timeout_s * 1000);
    snprintf(tmo, sizeof tmo, "%ldm", ms > 0 ? (ms < 99999999 ? ms : 99999999) : 1); /* <= 8 digits */
    const nghttp2_nv hdrs[] = {
        NV(":method", "POST"), NV(":scheme", "http"), NV(":path", method), NV(":authority", "localhost"),
        NV("content-type", "application/grpc"), NV("te", "trailers"), NV("grpc-timeout", tmo),
        NV("user-agent", "jobtel/" JOBTEL_VERSION),
    };
    nghttp2_data_provider body = {.source.ptr = &c, .read_callback = read_request};
    if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
        (c.stream = nghttp2_submit_request(s, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], &body, NULL)) < 0) {
        fail(out, JT_ERR_INTERNAL, "nghttp2 could not queue the request", NULL);
        goto out;
    }
    if (exchange(s, fd, &c, deadline) != 0)
        goto out;
    if (c.close_error != NGHTTP2_NO_ERROR) {
        char code[32];
        snprintf(code, sizeof code, "HTTP/2 error %u", c.close_error);
        /* REFUSED_STREAM means "not processed": gRPC maps it to UNAVAILABLE, anything else to INTERNAL. */
        out->grpc_status = c.close_error == NGHTTP2_REFUSED_STREAM ? 14 : 13;
        fail(out, JT_ERR_IO, "stream reset", code);
        goto out;
    }
    if (out->grpc_status < 0) {
        char st[48];
        snprintf(st, sizeof st, "HTTP status %d", out->http_status);
        out->grpc_status = out->http_status == 200 ? 13 /* INTERNAL */ : 2 /* UNKNOWN */;
        fail(out, JT_ERR_IO, "no grpc-status in the answer", st);
        goto out;
    }
    out->err = JT_OK;
out:
    if (s)
        nghttp2_session_del(s);
    if (cbs)
        nghttp2_session_callbacks_del(cbs);
    close(fd);
}

void grpc_reply_free(struct grpc_reply *r)
{
    buf_free(&r->body);
}
