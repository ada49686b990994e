/* fuzz_podres.c - libFuzzer target: the kubelet's pod-resources List answer (a gRPC frame around a
 * protobuf message, kube/podresources.c), framed and bare.
 */
#include "fuzz.h"

#include "kube/podresources.h"

static void check(const struct podres_list *l)
{
    if (l->n > PODRES_MAX_DEVICES || l->n > l->cap)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct podres_list l;
    podres_list_init(&l);
    if (podres_decode(data, size, &l) == JT_OK)
        check(&l);
    podres_list_free(&l);
    const uint8_t *msg;
    size_t mlen;
    if (grpc_unframe(data, size, &msg, &mlen) == JT_OK) {
        if (msg < data || msg + mlen > data + size)
            abort();
        podres_list_init(&l);
        if (podres_decode(msg, mlen, &l) == JT_OK)
            check(&l);
        podres_list_free(&l);
    }
    return 0;
}
