/* podresources.h - the kubelet pod-resources v1 List call: a gRPC client over the kubelet's unix
 * socket, and a bounded decoder for the few protobuf messages it returns.
 *
 * Why no generated code: the answer is four nested messages of strings (ListPodResourcesResponse →
 * PodResources → ContainerResources → ContainerDevices), and field numbers only ever grow, so a
 * hand-written decoder that skips unknown fields is ~150 lines, has no build-time code generator or
 * runtime library, and is easy to fuzz and unit-test. It bounds every length against the buffer and
 * caps the number of devices. Transport is kube/grpc_h2.c (nghttp2, h2c on the unix socket); the gRPC
 * status is read from the trailers, or from the headers of a Trailers-Only answer. One call is one
 * connection, and one call per collection costs nothing next to the kubelet's 100 QPS limit.
 */
#ifndef JOBTEL_PODRESOURCES_H
#define JOBTEL_PODRESOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

#define PODRES_MAX_RESPONSE (16u << 20) /* a whole node's List answer is a few hundred KiB at most */
#define PODRES_MAX_DEVICES 8192         /* device-id entries kept from one answer */

/* gRPC status codes we name (grpc doc/statuscodes.md). */
enum { GRPC_OK = 0, GRPC_UNKNOWN = 2, GRPC_DEADLINE_EXCEEDED = 4, GRPC_RESOURCE_EXHAUSTED = 8,
       GRPC_UNIMPLEMENTED = 12, GRPC_INTERNAL = 13, GRPC_UNAVAILABLE = 14 };

/* One device id assigned to one container. The strings are offsets into podres_list.strings. */
struct podres_device {
    uint32_t ns, pod, container, resource, id;
};

/* A decoded List answer, one entry per (container, device id). Owns its memory. */
struct podres_list {
    struct podres_device *dev;
    size_t n, cap;
    size_t pods;        /* PodResources messages seen, with or without devices */
    struct buf strings; /* NUL-separated strings the entries point into */
};

void podres_list_init(struct podres_list *l);
void podres_list_free(struct podres_list *l);
/* Exchanges two lists (the collector keeps the last good one while decoding the next). */
void podres_list_swap(struct podres_list *a, struct podres_list *b);
/* The string at offset `off` (valid until the list is freed or refilled). */
const char *podres_str(const struct podres_list *l, uint32_t off);

/* Decodes a serialized ListPodResourcesResponse (without the gRPC 5-byte prefix) into *out (which
 * is reset first). JT_ERR_PARSE on malformed input, JT_ERR_LIMIT past PODRES_MAX_DEVICES. */
enum jt_err podres_decode(const uint8_t *p, size_t n, struct podres_list *out);

/* Strips the gRPC Length-Prefixed-Message framing of a unary answer: flag byte 0 (compressed
 * messages are refused: we never ask for compression) and a big-endian length equal to the rest. */
enum jt_err grpc_unframe(const uint8_t *p, size_t n, const uint8_t **msg, size_t *msglen);

/* What one call returned. */
struct podres_result {
    enum jt_err err;      /* JT_OK only when transport, gRPC status and decoding all succeeded */
    int grpc_status;      /* -1 when no gRPC status was received (transport failure) */
    long http_status;
    char message[256];    /* why, for the log: curl's error, grpc-message, or the decode error */
};

/* Calls /v1.PodResourcesLister/List on the unix socket `socket_path`, connect included within
 * `timeout_s`, and decodes the answer into *out (left alone unless the call succeeded). */
void podres_call_list(const char *socket_path, double timeout_s, struct podres_list *out, struct podres_result *res);

#endif
