/* grpc_h2.h - one unary gRPC call over cleartext HTTP/2 (h2c, prior knowledge) on a unix socket.
 *
 * The kubelet's pod-resources socket is the only gRPC peer the daemon has, and it needs one unary
 * call per collection. nghttp2 does the HTTP/2 framing, flow control and HPACK; this file owns the
 * socket, the deadline and the gRPC rules (Length-Prefixed-Message body, status from the trailers or
 * from a Trailers-Only answer). Compared with libcurl it maps one small library instead of libcurl's
 * TLS, Kerberos and LDAP dependencies (~2.5 MiB resident on every node running -k).
 */
#ifndef JOBTEL_GRPC_H2_H
#define JOBTEL_GRPC_H2_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

struct grpc_reply {
    enum jt_err err;       /* JT_OK: the exchange completed and a gRPC status was received */
    int grpc_status;       /* -1 when none was received */
    int http_status;       /* 0 when none was received */
    char message[256];     /* grpc-message decoded (grpc_message_decode), or why the exchange failed */
    struct buf body;       /* the response DATA (framed message), capped by the caller's max */
};

/* Calls `method` (e.g. "/v1.PodResourcesLister/List") with the already-framed request `req` on the
 * unix socket `socket_path`; the whole exchange, connect included, must end within `timeout_s`.
 * The reply body is capped at `max_body` bytes (JT_ERR_LIMIT past it). Free with grpc_reply_free. */
void grpc_h2_unary(const char *socket_path, const char *method, const uint8_t *req, size_t reqlen,
                   double timeout_s, size_t max_body, struct grpc_reply *out);
void grpc_reply_free(struct grpc_reply *r);

/* Decodes a grpc-message header value: the gRPC spec percent-encodes it (%XX, UTF-8 underneath) and
 * tells decoders to keep an invalid %-sequence as it is. The kubelet (or whatever listens on its
 * socket) chooses the text, so control bytes, which could forge log lines or end a C string early
 * (%00), become '?'; quotes and backslashes are left to the log's and the exposition's own escaping.
 * Writes at most dstsz - 1 bytes and a NUL; returns the length. */
size_t grpc_message_decode(char *dst, size_t dstsz, const char *src, size_t n);

#endif
