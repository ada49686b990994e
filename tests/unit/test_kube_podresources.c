/* test_kube_podresources.c - the pod-resources protobuf decoder and gRPC framing: well-formed answers in
 * any field order with the upstream fields we skip, and hostile input (truncations, lengths past the end,
 * over-long varints, too many devices), which must fail cleanly rather than read out of bounds.
 * Messages are built here with a small encoder, independent of the decoder under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "kube/grpc_h2.h"
#include "kube/podresources.h"

/* ---- a minimal protobuf encoder ------------------------------------------------------------------ */

struct enc {
    uint8_t b[1 << 16];
    size_t n;
};

static void put_varint(struct enc *e, uint64_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        e->b[e->n++] = (uint8_t)(byte | (v ? 0x80 : 0));
    } while (v);
}

static void put_bytes(struct enc *e, uint32_t field, const void *p, size_t n)
{
    put_varint(e, (uint64_t)field << 3 | 2);
    put_varint(e, n);
    memcpy(e->b + e->n, p, n);
    e->n += n;
}

static void put_str(struct enc *e, uint32_t field, const char *s) { put_bytes(e, field, s, strlen(s)); }
static void put_msg(struct enc *e, uint32_t field, const struct enc *m) { put_bytes(e, field, m->b, m->n); }

static struct enc *enc_new(void) { return calloc(1, sizeof(struct enc)); }

/* ContainerDevices with a topology (skipped) */
static struct enc *devices(const char *res, const char *id1, const char *id2, int res_last)
{
    struct enc *d = enc_new(), *topo = enc_new(), *node = enc_new();
    put_varint(node, 1 << 3 | 0);
    put_varint(node, 1);
    put_msg(topo, 1, node);
    if (!res_last)
        put_str(d, 1, res);
    put_str(d, 2, id1);
    if (id2)
        put_str(d, 2, id2);
    put_msg(d, 3, topo);
    if (res_last)
        put_str(d, 1, res);
    free(topo);
    free(node);
    return d;
}

/* A whole answer: pod "x"/"default" with container "main" (two GPU ids, cpu ids packed, memory) and
 * pod "y"/"ml" whose names come after its containers. */
static struct enc *sample_answer(void)
{
    struct enc *resp = enc_new(), *pod = enc_new(), *ctr = enc_new(), *mem = enc_new(), *cpus = enc_new();
    struct enc *d = devices("nvidia.com/gpu", "GPU-a", "GPU-b::2", 0);
    put_str(ctr, 1, "main");
    put_msg(ctr, 2, d);
    put_varint(cpus, 3);
    put_varint(cpus, 300);
    put_msg(ctr, 3, cpus);                 /* packed cpu_ids */
    put_str(mem, 1, "memory");
    put_varint(mem, 2 << 3 | 0);
    put_varint(mem, 1ull << 40);
    put_msg(ctr, 4, mem);
    put_varint(ctr, 9 << 3 | 1);           /* an unknown fixed64 */
    memset(ctr->b + ctr->n, 0xff, 8);
    ctr->n += 8;
    put_varint(ctr, 10 << 3 | 5);          /* an unknown fixed32 */
    memset(ctr->b + ctr->n, 0xff, 4);
    ctr->n += 4;
    put_str(pod, 1, "x");
    put_str(pod, 2, "default");
    put_msg(pod, 3, ctr);
    put_msg(resp, 1, pod);
    free(d);
    /* pod y: containers first, names last; the device's resource name after its ids */
    struct enc *pod2 = enc_new(), *ctr2 = enc_new();
    d = devices("nvidia.com/mig-1g.10gb", "MIG-c", NULL, 1);
    put_msg(ctr2, 2, d);
    put_str(ctr2, 1, "t");
    put_msg(pod2, 3, ctr2);
    put_str(pod2, 2, "ml");
    put_str(pod2, 1, "y");
    put_msg(resp, 1, pod2);
    /* pod z: no containers at all */
    struct enc *pod3 = enc_new();
    put_str(pod3, 1, "z");
    put_str(pod3, 2, "default");
    put_msg(resp, 1, pod3);
    free(d);
    free(pod);
    free(ctr);
    free(mem);
    free(cpus);
    free(pod2);
    free(ctr2);
    free(pod3);
    return resp;
}

#define DEV_STR(l, i, f) podres_str((l), (l)->dev[i].f)

static void test_decode_answer(void **state)
{
    (void)state;
    struct enc *resp = sample_answer();
    struct podres_list l;
    podres_list_init(&l);
    assert_int_equal(podres_decode(resp->b, resp->n, &l), JT_OK);
    assert_int_equal(l.pods, 3);
    assert_int_equal(l.n, 3);
    assert_string_equal(DEV_STR(&l, 0, ns), "default");
    assert_string_equal(DEV_STR(&l, 0, pod), "x");
    assert_string_equal(DEV_STR(&l, 0, container), "main");
    assert_string_equal(DEV_STR(&l, 0, resource), "nvidia.com/gpu");
    assert_string_equal(DEV_STR(&l, 0, id), "GPU-a");
    assert_string_equal(DEV_STR(&l, 1, id), "GPU-b::2");
    assert_string_equal(DEV_STR(&l, 2, ns), "ml");
    assert_string_equal(DEV_STR(&l, 2, pod), "y");
    assert_string_equal(DEV_STR(&l, 2, container), "t");
    assert_string_equal(DEV_STR(&l, 2, resource), "nvidia.com/mig-1g.10gb");
    assert_string_equal(DEV_STR(&l, 2, id), "MIG-c");
    /* decoding again into the same list replaces, not appends */
    assert_int_equal(podres_decode(resp->b, resp->n, &l), JT_OK);
    assert_int_equal(l.n, 3);
    /* an empty answer is valid: no pods */
    assert_int_equal(podres_decode(resp->b, 0, &l), JT_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.pods, 0);
    podres_list_free(&l);
    free(resp);
}

static void test_decode_every_truncation_fails_cleanly(void **state)
{
    (void)state;
    struct enc *resp = sample_answer();
    struct podres_list l;
    podres_list_init(&l);
    /* Every strict prefix either decodes (a cut between top-level fields) or is a parse error. */
    size_t ok = 0;
    for (size_t n = 0; n < resp->n; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches any read past it */
        memcpy(copy, resp->b, n);
        enum jt_err rc = podres_decode(copy, n, &l);
        assert_true(rc == JT_OK || rc == JT_ERR_PARSE);
        ok += rc == JT_OK;
        free(copy);
    }
    assert_int_equal(ok, 3); /* n = 0 and the two boundaries between the pods */
    podres_list_free(&l);
    free(resp);
}

static void test_decode_hostile(void **state)
{
    (void)state;
    struct podres_list l;
    podres_list_init(&l);
    static const uint8_t len_past_end[] = {0x0a, 0x7f, 0x0a, 0x01, 'x'};
    assert_int_equal(podres_decode(len_past_end, sizeof len_past_end, &l), JT_ERR_PARSE);
    static const uint8_t huge_len[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(podres_decode(huge_len, sizeof huge_len, &l), JT_ERR_PARSE);
    static const uint8_t long_varint[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(podres_decode(long_varint, sizeof long_varint, &l), JT_ERR_PARSE);
    static const uint8_t group[] = {0x0b};
    assert_int_equal(podres_decode(group, sizeof group, &l), JT_ERR_PARSE);
    static const uint8_t field_zero[] = {0x02, 0x00};
    assert_int_equal(podres_decode(field_zero, sizeof field_zero, &l), JT_ERR_PARSE);
    /* a string longer than any k8s name */
    struct enc *pod = enc_new(), *resp = enc_new();
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    put_str(pod, 1, big);
    put_msg(resp, 1, pod);
    assert_int_equal(podres_decode(resp->b, resp->n, &l), JT_ERR_PARSE);
    assert_int_equal(l.n, 0);
    free(pod);
    free(resp);
    podres_list_free(&l);
}

static void test_decode_device_cap(void **state)
{
    (void)state;
    /* one container with PODRES_MAX_DEVICES + 1 ids: refused, not truncated silently */
    struct enc *d = enc_new(), *ctr = enc_new(), *pod = enc_new(), *resp = enc_new();
    put_str(d, 1, "nvidia.com/gpu");
    for (int i = 0; i <= PODRES_MAX_DEVICES; i++)
        put_str(d, 2, "1");
    put_msg(ctr, 2, d);
    put_msg(pod, 3, ctr);
    put_msg(resp, 1, pod);
    struct podres_list l;
    podres_list_init(&l);
    assert_int_equal(podres_decode(resp->b, resp->n, &l), JT_ERR_LIMIT);
    assert_int_equal(l.n, 0);
    podres_list_free(&l);
    free(d);
    free(ctr);
    free(pod);
    free(resp);
}

static void test_grpc_unframe(void **state)
{
    (void)state;
    const uint8_t *msg;
    size_t n;
    static const uint8_t empty[] = {0, 0, 0, 0, 0};
    assert_int_equal(grpc_unframe(empty, sizeof empty, &msg, &n), JT_OK);
    assert_int_equal(n, 0);
    static const uint8_t one[] = {0, 0, 0, 0, 2, 0x0a, 0x00};
    assert_int_equal(grpc_unframe(one, sizeof one, &msg, &n), JT_OK);
    assert_int_equal(n, 2);
    assert_ptr_equal(msg, one + 5);
    static const uint8_t short_len[] = {0, 0, 0, 0, 3, 0x0a, 0x00};
    assert_int_equal(grpc_unframe(short_len, sizeof short_len, &msg, &n), JT_ERR_PARSE);
    static const uint8_t compressed[] = {1, 0, 0, 0, 0};
    assert_int_equal(grpc_unframe(compressed, sizeof compressed, &msg, &n), JT_ERR_UNSUPPORTED);
    assert_int_equal(grpc_unframe(empty, 4, &msg, &n), JT_ERR_PARSE);
    static const uint8_t two_msgs[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(grpc_unframe(two_msgs, sizeof two_msgs, &msg, &n), JT_ERR_PARSE);
}

static void test_call_without_kubelet(void **state)
{
    (void)state;
    struct podres_list l;
    podres_list_init(&l);
    struct podres_result r;
    podres_call_list("/nonexistent/kubelet.sock", 0.5, &l, &r);
    assert_int_not_equal(r.err, JT_OK);
    assert_int_equal(r.grpc_status, -1);
    assert_true(r.message[0] != '\0');
    podres_list_free(&l);

}

/* ---- hostile or silent peers for the HTTP/2 client ---------------------------------------------- */

static int listen_unix(char *path, size_t n)
{
    snprintf(path, n, "/tmp/jobtel-kube-test.%d.sock", (int)getpid());
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

struct peer {
    int lfd;
    const char *reply; /* written after accepting, then the connection is closed; NULL: stay silent */
    size_t len;
    int release_fd; /* a silent peer holds the connection until this becomes readable (the call returned) */
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    int c = accept(p->lfd, NULL, NULL);
    if (c < 0)
        return NULL;
    if (p->reply) {
        if (write(c, p->reply, p->len) < 0) {
            /* the client may have gone already */
        }
    } else {
        /* Silent until the caller has returned (60 s bound for a broken caller): the call can only have
         * ended on its own deadline, never on the peer closing, however slow the machine. */
        struct pollfd pf = {.fd = p->release_fd, .events = POLLIN};
        (void)poll(&pf, 1, 60000);
    }
    close(c);
    return NULL;
}

/* Returns how long the call took. */
static double run_peer(const char *reply, size_t len, double timeout_s, struct grpc_reply *out)
{
    char path[108];
    int rel[2];
    assert_int_equal(pipe(rel), 0);
    struct peer p = {listen_unix(path, sizeof path), reply, len, rel[0]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, peer_main, &p), 0);
    static const uint8_t req[5] = {0};
    double t0 = mono_now();
    grpc_h2_unary(path, "/v1.PodResourcesLister/List", req, sizeof req, timeout_s, 1 << 20, out);
    double took = mono_now() - t0;
    assert_int_equal(write(rel[1], "x", 1), 1);
    pthread_join(t, NULL);
    close(rel[0]);
    close(rel[1]);
    close(p.lfd);
    unlink(path);
    return took;
}

static void test_h2_silent_peer_times_out(void **state)
{
    (void)state;
    struct grpc_reply r;
    double took = run_peer(NULL, 0, 0.3, &r);
    assert_int_equal(r.err, JT_ERR_TIMEOUT); /* the peer was still holding the connection */
    assert_int_equal(r.grpc_status, -1);
    assert_true(took >= 0.3); /* not before the deadline (a loaded machine only makes it later) */
    grpc_reply_free(&r);
}

static void test_h2_garbage_peer(void **state)
{
    (void)state;
    static const char http1[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    struct grpc_reply r;
    run_peer(http1, sizeof http1 - 1, 2.0, &r);
    assert_int_not_equal(r.err, JT_OK);
    assert_int_equal(r.grpc_status, -1);
    assert_true(r.message[0] != '\0');
    grpc_reply_free(&r);
    run_peer("", 0, 2.0, &r); /* accepts and hangs up */
    assert_int_equal(r.err, JT_ERR_IO);
    grpc_reply_free(&r);
}

static void test_h2_bad_paths(void **state)
{
    (void)state;
    struct grpc_reply r;
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    static const uint8_t req[5] = {0};
    grpc_h2_unary(longpath, "/x", req, sizeof req, 1.0, 1024, &r);
    assert_int_equal(r.err, JT_ERR_USAGE);
    grpc_reply_free(&r);
    grpc_h2_unary("/nonexistent/dir/kubelet.sock", "/x", req, sizeof req, 1.0, 1024, &r);
    assert_int_equal(r.err, JT_ERR_IO);
    assert_non_null(strstr(r.message, "No such file"));
    grpc_reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_answer),
        cmocka_unit_test(test_decode_every_truncation_fails_cleanly),
        cmocka_unit_test(test_decode_hostile),
        cmocka_unit_test(test_decode_device_cap),
        cmocka_unit_test(test_grpc_unframe),
        cmocka_unit_test(test_call_without_kubelet),
        cmocka_unit_test(test_h2_silent_peer_times_out),
        cmocka_unit_test(test_h2_garbage_peer),
        cmocka_unit_test(test_h2_bad_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
