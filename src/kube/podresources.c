/* podresources.c - kubelet pod-resources v1 List over gRPC, and its protobuf decoder (see the header).
 *
 * The decoder reads each message twice: first its string fields, then its sub-messages, because
 * protobuf allows fields in any order and a device must carry its container's and pod's names. Every
 * length is checked against the enclosing message before it is used, so a hostile or truncated
 * answer yields JT_ERR_PARSE, never a read past the buffer.
 */
#include "kube/podresources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/strparse.h"
#include "kube/grpc_h2.h"

#define PODRES_MAX_STRING 1024 /* k8s names are ≤ 253 bytes; device ids are short */

/* ---- the list ------------------------------------------------------------------------------------ */

void podres_list_init(struct podres_list *l)
{
    memset(l, 0, sizeof *l);
    buf_init(&l->strings, PODRES_MAX_RESPONSE + (1u << 20));
}

void podres_list_free(struct podres_list *l)
{
    free(l->dev);
    buf_free(&l->strings);
    memset(l, 0, sizeof *l);
}

void podres_list_swap(struct podres_list *a, struct podres_list *b)
{
    struct podres_list t = *a;
    *a = *b;
    *b = t;
}

const char *podres_str(const struct podres_list *l, uint32_t off)
{
    return off < l->strings.len ? l->strings.data + off : "";
}

static enum jt_err add_string(struct podres_list *l, const uint8_t *s, size_t n, uint32_t *off)
{
    if (n > PODRES_MAX_STRING)
        return JT_ERR_PARSE;
    if (l->strings.len > UINT32_MAX - n - 1)
        return JT_ERR_LIMIT;
    *off = (uint32_t)l->strings.len;
    /* A zero-length append would leave the buffer without its NUL; write one explicitly. */
    if (buf_append(&l->strings, s, n) != JT_OK || buf_putc(&l->strings, '\0') != JT_OK)
        return JT_ERR_LIMIT;
    return JT_OK;
}

/* ---- protobuf wire reading ----------------------------------------------------------------------- */

struct pb {
    const uint8_t *p, *end;
};

struct pb_field {
    uint32_t num;
    uint32_t wt;
    const uint8_t *data; /* wire type 2 */
    size_t len;
    uint64_t v;          /* wire type 0 */
};

static bool pb_varint(struct pb *b, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end)
            return false;
        uint8_t byte = *b->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false; /* more than 10 bytes */
}

/* Reads the next field; false on malformed input. Call only while b->p < b->end. */
static bool pb_next(struct pb *b, struct pb_field *f)
{
    uint64_t key;
    if (!pb_varint(b, &key) || key >> 32)
        return false;
    f->num = (uint32_t)(key >> 3);
    f->wt = (uint32_t)(key & 7);
    if (f->num == 0)
        return false;
    size_t left;
    switch (f->wt) {
    case 0:
        return pb_varint(b, &f->v);
    case 1:
    case 5: {
        size_t w = f->wt == 1 ? 8 : 4;
        if ((size_t)(b->end - b->p) < w)
            return false;
        b->p += w;
        return true;
    }
    case 2: {
        uint64_t len;
        if (!pb_varint(b, &len))
            return false;
        left = (size_t)(b->end - b->p);
        if (len > left)
            return false;
        f->data = b->p;
        f->len = (size_t)len;
        b->p += len;
        return true;
    }
    default:
        return false; /* groups (3, 4) are not used by this proto */
    }
}

/* Runs `body` once per field of the message [p, p+n), with the field in `field`. On malformed input it
 * returns JT_ERR_PARSE from the enclosing function, so use it only where that is the right answer. */
#define PB_EACH(p, n, field, body)                                                                        \
    do {                                                                                                  \
        struct pb b_ = {(p), (p) + (n)};                                                                  \
        while (b_.p < b_.end) {                                                                           \
            struct pb_field field;                                                                        \
            if (!pb_next(&b_, &field))                                                                    \
                return JT_ERR_PARSE;                                                                      \
            body                                                                                          \
        }                                                                                                 \
    } while (0)

struct names {
    uint32_t ns, pod, container;
};

static enum jt_err decode_devices(const uint8_t *p, size_t n, const struct names *nm, struct podres_list *out)
{
    const uint8_t *res = NULL;
    size_t reslen = 0;
    PB_EACH(p, n, f, {
        if (f.num == 1 && f.wt == 2) {
            res = f.data;
            reslen = f.len;
        }
    });
    uint32_t res_off;
    enum jt_err rc = add_string(out, res ? res : (const uint8_t *)"", reslen, &res_off);
    if (rc != JT_OK)
        return rc;
    PB_EACH(p, n, f, {
        if (f.num == 2 && f.wt == 2) {
            if (out->n == PODRES_MAX_DEVICES)
                return JT_ERR_LIMIT;
            struct podres_device *grown = array_grow(out->dev, &out->cap, out->n + 1, sizeof *grown, 64);
            if (!grown)
                return JT_ERR_NOMEM;
            out->dev = grown;
            struct podres_device *d = &out->dev[out->n];
            d->ns = nm->ns;
            d->pod = nm->pod;
            d->container = nm->container;
            d->resource = res_off;
            if ((rc = add_string(out, f.data, f.len, &d->id)) != JT_OK)
                return rc;
            out->n++;
        }
    });
    return JT_OK;
}

static enum jt_err decode_container(const uint8_t *p, size_t n, struct names nm, struct podres_list *out)
{
    const uint8_t *name = (const uint8_t *)"";
    size_t namelen = 0;
    PB_EACH(p, n, f, {
        if (f.num == 1 && f.wt == 2) {
            name = f.data;
            namelen = f.len;
        }
    });
    enum jt_err rc = add_string(out, name, namelen, &nm.container);
    if (rc != JT_OK)
        return rc;
    PB_EACH(p, n, f, {
        if (f.num == 2 && f.wt == 2 && (rc = decode_devices(f.data, f.len, &nm, out)) != JT_OK)
            return rc;
    });
    return JT_OK;
}

static enum jt_err decode_pod(const uint8_t *p, size_t n, struct podres_list *out)
{
    const uint8_t *name = (const uint8_t *)"", *ns = (const uint8_t *)"";
    size_t namelen = 0, nslen = 0;
    PB_EACH(p, n, f, {
        if (f.num == 1 && f.wt == 2) {
            name = f.data;
            namelen = f.len;
        } else if (f.num == 2 && f.wt == 2) {
            ns = f.data;
            nslen = f.len;
        }
    });
    struct names nm = {0, 0, 0};
    enum jt_err rc = add_string(out, name, namelen, &nm.pod);
    if (rc == JT_OK)
        rc = add_string(out, ns, nslen, &nm.ns);
    if (rc != JT_OK)
        return rc;
    out->pods++;
    PB_EACH(p, n, f, {
        if (f.num == 3 && f.wt == 2 && (rc = decode_container(f.data, f.len, nm, out)) != JT_OK)
            return rc;
    });
    return JT_OK;
}

static enum jt_err decode_response(const uint8_t *p, size_t n, struct podres_list *out)
{
    enum jt_err rc;
    PB_EACH(p, n, f, {
        if (f.num == 1 && f.wt == 2 && (rc = decode_pod(f.data, f.len, out)) != JT_OK)
            return rc;
    });
    return JT_OK;
}

enum jt_err podres_decode(const uint8_t *p, size_t n, struct podres_list *out)
{
    out->n = 0;
    out->pods = 0;
    buf_reset(&out->strings);
    enum jt_err rc = decode_response(p, n, out);
    if (rc != JT_OK) {
        out->n = 0;
        out->pods = 0;
    }
    return rc;
}

enum jt_err grpc_unframe(const uint8_t *p, size_t n, const uint8_t **msg, size_t *msglen)
{
    if (n < 5)
        return JT_ERR_PARSE;
    if (p[0] != 0)
        return JT_ERR_UNSUPPORTED; /* compressed, though we never offered an encoding */
    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | (uint32_t)p[4];
    if ((size_t)len != n - 5)
        return JT_ERR_PARSE; /* a unary answer is exactly one message */
    *msg = p + 5;
    *msglen = len;
    return JT_OK;
}

/* ---- the call ------------------------------------------------------------------------------------ */

void podres_call_list(const char *socket_path, double timeout_s, struct podres_list *out, struct podres_result *res)
{
    static const uint8_t request[5] = {0, 0, 0, 0, 0}; /* an empty ListPodResourcesRequest, framed */
    memset(res, 0, sizeof *res);
    struct grpc_reply r;
    grpc_h2_unary(socket_path, "/v1.PodResourcesLister/List", request, sizeof request, timeout_s,
                  PODRES_MAX_RESPONSE, &r);
    res->err = r.err;
    res->grpc_status = r.grpc_status;
    res->http_status = r.http_status;
    if (r.err != JT_OK) {
        snprintf(res->message, sizeof res->message, "%s", r.message);
    } else if (r.grpc_status != GRPC_OK) {
        res->err = r.grpc_status == GRPC_DEADLINE_EXCEEDED ? JT_ERR_TIMEOUT : JT_ERR_IO;
        snprintf(res->message, sizeof res->message, "gRPC status %d%s%.200s", r.grpc_status, r.message[0] ? ": " : "",
                 r.message);
    } else {
        const uint8_t *msg;
        size_t msglen;
        res->err = grpc_unframe((const uint8_t *)r.body.data, r.body.len, &msg, &msglen);
        if (res->err == JT_OK)
            res->err = podres_decode(msg, msglen, out);
        if (res->err != JT_OK)
            snprintf(res->message, sizeof res->message, "malformed answer (%zu bytes): %s", r.body.len,
                     jt_strerror(res->err));
    }
    grpc_reply_free(&r);
}
