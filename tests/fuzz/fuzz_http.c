/* fuzz_http.c - libFuzzer target: what an HTTP client controls in the exporter (exporter/http.c,
 * exporter/api.c): the request URI's query cut, the JSON API's path and `window` argument, and the
 * Accept-Encoding header; and --web.listen-address.
 *
 * Input lines: URI, Accept-Encoding, listen address. The API answers from a store holding two GPUs, one
 * of them used by pods, so the pod and window paths run to the end.
 */
#include "fuzz.h"

#include "exporter/api.h"
#include "exporter/http.h"

static struct api_store *store;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    store = api_store_new();
    if (!store)
        abort();
    for (int t = 1; t <= 5; t++) {
        for (unsigned g = 0; g < 2; g++) {
            struct api_update u = {.index = g, .uuid = g ? "GPU-b" : "GPU-a", .model = "H100", .up = true,
                                   .has_util = true, .util_pct = 10.0 * t, .has_mem_used = true,
                                   .mem_used_bytes = 1e9, .has_mem_total = true, .mem_total_bytes = 8e10,
                                   .has_power = g == 0, .power_w = 300};
            if (g == 1) {
                u.pods[0] = (struct api_pod_ref){"ns", "pod", "c"};
                u.pods[1] = (struct api_pod_ref){"default", "train-0", "main"};
                u.npods = 2;
                u.jobs[0] = "42";
                u.njobs = 1;
            }
            api_store_put(store, g, &u, (double)t);
        }
        api_store_commit(store, 2, (double)t);
    }
    return 0;
}

/* The value of the first "window=" argument of a query, as libmicrohttpd would give it (no decoding). */
static const char *window_of(char *query)
{
    for (char *p = query; p && *p;) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = '\0';
        if (strncmp(p, "window=", 7) == 0)
            return p + 7;
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *uri = fuzz_take(&data, &size, '\n');
    char *ae = fuzz_take(&data, &size, '\n');
    char *addr = fuzz_take(&data, &size, '\n');

    size_t before = strlen(uri);
    http_cut_query(uri);
    if (strlen(uri) > before)
        abort();
    char *q = strchr(uri, '?');
    const char *window = NULL;
    if (q) {
        *q = '\0';
        window = window_of(q + 1);
    }
    for (int kube = 0; kube < 2; kube++) {
        char *body = NULL;
        size_t len = 0;
        unsigned status = api_answer(store, 1e9, kube, uri, window, 6.0, &body, &len);
        if (status < 200 || status > 599 || !body || strlen(body) != len)
            abort();
        free(body);
    }
    double w;
    if (window && api_parse_window(window, &w) && !(w > 0 && w <= API_MAX_WINDOW_S))
        abort();

    (void)http_accepts_gzip(ae);

    char host[256], port[32];
    (void)http_split_address(addr, host, sizeof host, port, sizeof port);
    free(uri);
    free(ae);
    free(addr);
    return 0;
}
