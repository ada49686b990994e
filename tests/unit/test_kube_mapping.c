/* test_kube_mapping.c - device-id forms to GPUs and MIG instances (gpu_pods_match), resource-name
 * selection, the --kubernetes.resource-names list, and the JSON API's store: windowed means over the
 * ring, ring wrap-around, window parsing, 404/400/503 and escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "attribution/gpu_pods.h"
#include "exporter/api.h"

#define UUID "GPU-5d0c3b8e-1f2a-4e79-9c6d-7b8a0e3f2d14"

static void test_match_whole_gpu(void **state)
{
    (void)state;
    struct gpu_pod_key k = {3, UUID, NULL, NULL, NULL, -1};
    assert_true(gpu_pods_match(UUID, &k));
    assert_true(gpu_pods_match(UUID "::0", &k));
    assert_true(gpu_pods_match(UUID "::17", &k));
    assert_true(gpu_pods_match("3", &k));
    assert_true(gpu_pods_match("3::1", &k));
    assert_true(gpu_pods_match("nvidia3", &k));
    assert_true(gpu_pods_match("nvidia3/vgpu2", &k));
    assert_false(gpu_pods_match("GPU-5d0c3b8e", &k));       /* a prefix is not the UUID */
    assert_false(gpu_pods_match(UUID "x", &k));
    assert_false(gpu_pods_match("03", &k));
    assert_false(gpu_pods_match("33", &k));
    assert_false(gpu_pods_match("nvidia33", &k));
    assert_false(gpu_pods_match("nvidia", &k));
    assert_false(gpu_pods_match("", &k));
    assert_false(gpu_pods_match("::1", &k));
    assert_false(gpu_pods_match("nvidia3/gi1", &k));        /* a MIG instance, not the whole GPU */
    assert_false(gpu_pods_match("MIG-aaaa", &k));
    /* device names follow the minor number when NVML gives one; bare numbers stay NVML indices */
    struct gpu_pod_key km = {3, UUID, "5", NULL, NULL, -1};
    assert_true(gpu_pods_match("nvidia5", &km));
    assert_true(gpu_pods_match("nvidia5/vgpu1", &km));
    assert_false(gpu_pods_match("nvidia3", &km));
    assert_true(gpu_pods_match("3", &km));
    assert_false(gpu_pods_match("5", &km));
    assert_false(gpu_pods_match("3:0", &km)); /* a MIG id never names the whole GPU */
}

static void test_match_mig(void **state)
{
    (void)state;
    struct gpu_pod_key k = {1, UUID, "", "7", "MIG-9f1c2e4a-6b3d-5a8e-b0c7-2d4f6e8a1c3b", 2};
    assert_true(gpu_pods_match("MIG-9f1c2e4a-6b3d-5a8e-b0c7-2d4f6e8a1c3b", &k));
    assert_true(gpu_pods_match("MIG-9f1c2e4a-6b3d-5a8e-b0c7-2d4f6e8a1c3b::4", &k));
    assert_true(gpu_pods_match("MIG-" UUID "/7/0", &k));    /* pre-R470 form */
    assert_true(gpu_pods_match("nvidia1/gi7", &k));         /* GKE */
    assert_true(gpu_pods_match("nvidia1/gi7/vgpu0", &k));
    assert_false(gpu_pods_match("MIG-" UUID "/8/0", &k));
    assert_false(gpu_pods_match("MIG-GPU-other/7/0", &k));
    assert_false(gpu_pods_match("nvidia1/gi70", &k));
    assert_false(gpu_pods_match("nvidia2/gi7", &k));
    assert_false(gpu_pods_match("nvidia1/gi", &k));
    assert_false(gpu_pods_match(UUID, &k));                 /* the whole GPU is not this instance */
    assert_false(gpu_pods_match("1", &k));
    assert_true(gpu_pods_match("1:2", &k));                 /* deviceIDStrategy=index: GPU 1, MIG slot 2 */
    assert_true(gpu_pods_match("1:2::5", &k));
    assert_false(gpu_pods_match("1:7", &k));                /* the GI id is not the slot */
    assert_false(gpu_pods_match("0:2", &k));
    assert_false(gpu_pods_match("1:", &k));
    assert_false(gpu_pods_match(":2", &k));
    assert_false(gpu_pods_match("1:2x", &k));
    /* MIG instance without a UUID (NVML could not tell) */
    struct gpu_pod_key k2 = {1, UUID, "4", "7", "", -1};
    assert_false(gpu_pods_match("", &k2));
    assert_true(gpu_pods_match("nvidia4/gi7", &k2));
    assert_false(gpu_pods_match("nvidia1/gi7", &k2));
    assert_false(gpu_pods_match("1:0", &k2));
}

static void test_resource_names(void **state)
{
    (void)state;
    struct gpu_pods p;
    memset(&p, 0, sizeof p);
    assert_true(gpu_pods_parse_names(&p, " example.com/gpu, ,amd.com/gpu,"));
    assert_int_equal(p.nnames, 2);
    assert_string_equal(p.names[0], "example.com/gpu");
    assert_string_equal(p.names[1], "amd.com/gpu");
    assert_true(gpu_pods_resource_wanted(&p, "nvidia.com/gpu"));
    assert_true(gpu_pods_resource_wanted(&p, "nvidia.com/mig-1g.10gb"));
    assert_true(gpu_pods_resource_wanted(&p, "example.com/gpu"));
    assert_false(gpu_pods_resource_wanted(&p, "nvidia.com/gpu.shared"));
    assert_false(gpu_pods_resource_wanted(&p, "example.com/fpga"));
    assert_false(gpu_pods_resource_wanted(&p, "nvidia.com/"));
    assert_true(gpu_pods_parse_names(&p, NULL));
    assert_int_equal(p.nnames, 0);
    char many[2048] = "";
    for (int i = 0; i < GPU_PODS_MAX_NAMES + 1; i++)
        strcat(many, "a.b/c,");
    assert_false(gpu_pods_parse_names(&p, many));
    assert_int_equal(p.nnames, GPU_PODS_MAX_NAMES);
}

static void test_window_parse(void **state)
{
    (void)state;
    double w;
    assert_true(api_parse_window("60s", &w));
    assert_true(w == 60);
    assert_true(api_parse_window("500ms", &w));
    assert_true(w == 0.5);
    assert_true(api_parse_window("2m", &w));
    assert_true(w == 120);
    assert_true(api_parse_window("1h", &w));
    assert_true(w == 3600);
    assert_true(api_parse_window("15", &w));
    assert_true(w == 15);
    assert_false(api_parse_window("0s", &w));
    assert_false(api_parse_window("-1s", &w));
    assert_false(api_parse_window("25h", &w));
    assert_false(api_parse_window("s", &w));
    assert_false(api_parse_window("", &w));
    assert_false(api_parse_window("1d", &w));
    assert_false(api_parse_window("nan", &w));
    assert_false(api_parse_window("1e999s", &w));
    assert_false(api_parse_window(NULL, &w));
}

static json_t *get(struct api_store *s, const char *path, const char *window, double now, unsigned want)
{
    char *body = NULL;
    size_t len = 0;
    unsigned st = api_answer(s, 3.0, true, path, window, now, &body, &len);
    assert_int_equal(st, want);
    assert_non_null(body);
    assert_int_equal(strlen(body), len);
    json_error_t err;
    json_t *doc = json_loads(body, 0, &err);
    assert_non_null(doc);
    free(body);
    return doc;
}

static double num(json_t *o, const char *path1, size_t idx, const char *key)
{
    json_t *v = json_object_get(json_array_get(json_object_get(o, path1), idx), key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void put_gpu(struct api_store *s, size_t slot, double util, double now, const char *pod)
{
    struct api_update u;
    memset(&u, 0, sizeof u);
    u.index = (unsigned)slot;
    u.uuid = slot ? "GPU-1" : "GPU-0";
    u.model = "H\"100\\\n"; /* must come out escaped */
    u.up = true;
    u.has_util = true;
    u.util_pct = util;
    u.has_mem_used = true;
    u.mem_used_bytes = 1024;
    u.jobs[u.njobs++] = "42";
    if (pod) {
        u.pods[0] = (struct api_pod_ref){"default", pod, "main"};
        u.npods = 1;
    }
    api_store_put(s, slot, &u, now);
}

static void test_api_store(void **state)
{
    (void)state;
    struct api_store *s = api_store_new();
    assert_non_null(s);
    json_decref(get(s, "/api/v1/gpus", NULL, 1.0, 503));       /* nothing collected yet */
    /* 20 collections, 1 s apart: GPU 0 reads 0..19, GPU 1 is pod y's and reads 50 */
    for (int i = 0; i < 20; i++) {
        put_gpu(s, 0, i, 100.0 + i, "x");
        put_gpu(s, 1, 50, 100.0 + i, "y");
        api_store_commit(s, 2, 100.0 + i);
    }
    double now = 119.5;
    json_t *d = get(s, "/api/v1/gpus", NULL, now, 200);
    assert_int_equal(json_array_size(json_object_get(d, "gpus")), 2);
    assert_true(num(d, "gpus", 0, "utilization_percent") == 19);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(d, "gpus"), 0), "model")),
                        "H\"100\\\n");
    json_decref(d);
    /* window 5 s: samples at 115..119 → mean 17 */
    d = get(s, "/api/v1/pods/default/x", "5s", now, 200);
    assert_true(num(d, "gpus", 0, "utilization_percent_mean") == 17);
    assert_true(num(d, "gpus", 0, "samples") == 5);
    assert_true(json_number_value(json_object_get(d, "utilization_percent_mean")) == 17);
    json_decref(d);
    /* default window 60 s covers all 20 → mean 9.5 */
    d = get(s, "/api/v1/pods/default/x", NULL, now, 200);
    assert_true(num(d, "gpus", 0, "utilization_percent_mean") == 9.5);
    assert_true(num(d, "gpus", 0, "samples") == 20);
    json_decref(d);
    d = get(s, "/api/v1/pods/default/y", "1m", now, 200);
    assert_true(num(d, "gpus", 0, "utilization_percent_mean") == 50);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(d, "gpus"), 0), "uuid")),
                        "GPU-1");
    json_decref(d);
    json_decref(get(s, "/api/v1/pods/default/nobody", NULL, now, 404));
    json_decref(get(s, "/api/v1/pods/other/x", NULL, now, 404));
    json_decref(get(s, "/api/v1/pods/default/x", "0s", now, 400));
    json_decref(get(s, "/api/v1/pods/default/x/extra", NULL, now, 400));
    json_decref(get(s, "/api/v1/pods//x", NULL, now, 400));
    json_decref(get(s, "/api/v1/pods/default/", NULL, now, 400));
    json_decref(get(s, "/api/v2/gpus", NULL, now, 404));
    json_decref(get(s, "/api/v1/gpus", NULL, 123.5, 503));     /* 4.5 s after the last collection */
    /* the GPU in slot 0 changes (a different UUID): its ring starts afresh */
    struct api_update u;
    memset(&u, 0, sizeof u);
    u.uuid = "GPU-other";
    u.has_util = true;
    u.util_pct = 99;
    u.pods[0] = (struct api_pod_ref){"default", "x", "main"};
    u.npods = 1;
    api_store_put(s, 0, &u, 120.0);
    api_store_commit(s, 1, 120.0);
    d = get(s, "/api/v1/pods/default/x", "1h", 120.0, 200);
    assert_true(num(d, "gpus", 0, "utilization_percent_mean") == 99);
    assert_true(num(d, "gpus", 0, "samples") == 1);
    json_decref(d);
    json_decref(get(s, "/api/v1/pods/default/y", NULL, 120.0, 404)); /* slot 1 dropped by the commit */
    api_store_free(s);
}

static void test_api_ring_wraps(void **state)
{
    (void)state;
    struct api_store *s = api_store_new();
    int n = API_RING_SAMPLES * 2 + 7;
    for (int i = 0; i < n; i++) {
        put_gpu(s, 0, i % 2 ? 100 : 0, (double)i, "x");
        api_store_commit(s, 1, (double)i);
    }
    json_t *d = get(s, "/api/v1/pods/default/x", "24h", (double)(n - 1), 200);
    assert_true(num(d, "gpus", 0, "samples") == API_RING_SAMPLES);
    assert_true(num(d, "gpus", 0, "utilization_percent_mean") == 50);
    json_decref(d);
    api_store_free(s);
}

static void test_api_without_kubernetes(void **state)
{
    (void)state;
    char *body = NULL;
    size_t len;
    assert_int_equal(api_answer(NULL, 3, false, "/api/v1/pods/a/b", NULL, 1, &body, &len), 404);
    free(body);
    assert_int_equal(api_answer(NULL, 3, false, "/api/v1/gpus", NULL, 1, &body, &len), 503);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_whole_gpu),
        cmocka_unit_test(test_match_mig),
        cmocka_unit_test(test_resource_names),
        cmocka_unit_test(test_window_parse),
        cmocka_unit_test(test_api_store),
        cmocka_unit_test(test_api_ring_wraps),
        cmocka_unit_test(test_api_without_kubernetes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
