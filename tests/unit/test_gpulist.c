/* test_gpulist.c - GPU list parsing (SLURM_JOB_GPUS / CUDA_VISIBLE_DEVICES) and the driver's GPU table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slurm/gpulist.h"

static struct gpulist list;

static enum jt_err parse(const char *s)
{
    return gpulist_parse(s, &list, NULL);
}

static void assert_indices(const char *s, const uint32_t *want, size_t n)
{
    assert_int_equal(parse(s), JT_OK);
    assert_int_equal(list.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(list.e[i].kind, GPULIST_INDEX);
        assert_int_equal(list.e[i].index, want[i]);
        assert_int_equal(list.e[i].gpu_instance, -1);
    }
}

static void test_indices_and_ranges(void **state)
{
    (void)state;
    assert_indices("0", (uint32_t[]){0}, 1);
    assert_indices("0,1", (uint32_t[]){0, 1}, 2);
    assert_indices("0-3,5", (uint32_t[]){0, 1, 2, 3, 5}, 5);
    assert_indices("7,2-3", (uint32_t[]){7, 2, 3}, 3);
    assert_indices(" 1 , 2 ", (uint32_t[]){1, 2}, 2);
    assert_indices("4-4", (uint32_t[]){4}, 1);
    assert_indices("0,0-1,1", (uint32_t[]){0, 1}, 2); /* duplicates dropped, order kept */
    assert_indices("65535", (uint32_t[]){65535}, 1);
}

static void test_empty_lists(void **state)
{
    (void)state;
    assert_int_equal(parse(""), JT_OK);
    assert_int_equal(list.n, 0);
    assert_int_equal(parse("  "), JT_OK);
    assert_int_equal(list.n, 0);
    assert_int_equal(parse("NoDevFiles"), JT_OK); /* Slurm's value for GRES without device files */
    assert_int_equal(list.n, 0);
}

static void test_mig_index(void **state)
{
    (void)state;
    assert_int_equal(parse("2.0,3.10"), JT_OK);
    assert_int_equal(list.n, 2);
    assert_int_equal(list.e[0].index, 2);
    assert_int_equal(list.e[0].gpu_instance, 0);
    assert_int_equal(list.e[1].index, 3);
    assert_int_equal(list.e[1].gpu_instance, 10);
}

static void test_uuids(void **state)
{
    (void)state;
    const char *g0 = "GPU-8e2b1a3c-1f2d-4c5e-9a7b-0123456789ab";
    const char *m0 = "MIG-5c1f7e2d-3a4b-5c6d-7e8f-9a0b1c2d3e4f";
    char text[256];
    snprintf(text, sizeof text, "%s, %s,1", g0, m0);
    assert_int_equal(parse(text), JT_OK);
    assert_int_equal(list.n, 3);
    assert_int_equal(list.e[0].kind, GPULIST_GPU_UUID);
    assert_string_equal(list.e[0].uuid, g0);
    assert_int_equal(list.e[0].gpu_instance, -1);
    assert_int_equal(list.e[1].kind, GPULIST_MIG_UUID);
    assert_string_equal(list.e[1].uuid, m0);
    assert_string_equal(list.e[1].parent_uuid, "");
    assert_int_equal(list.e[2].kind, GPULIST_INDEX);
}

static void test_old_style_mig_uuid(void **state)
{
    (void)state;
    assert_int_equal(parse("MIG-GPU-8e2b1a3c-1f2d-4c5e-9a7b-0123456789ab/3/0"), JT_OK);
    assert_int_equal(list.n, 1);
    assert_int_equal(list.e[0].kind, GPULIST_MIG_UUID);
    assert_int_equal(list.e[0].gpu_instance, 3);
    assert_string_equal(list.e[0].parent_uuid, "GPU-8e2b1a3c-1f2d-4c5e-9a7b-0123456789ab");
}

static void expect_fail(const char *s, enum jt_err want, size_t want_pos)
{
    size_t pos = 999;
    list.n = 42;
    assert_int_equal(gpulist_parse(s, &list, &pos), want);
    assert_int_equal(list.n, 0); /* nothing half-parsed is returned */
    assert_int_equal(pos, want_pos);
}

static void test_bad_lists(void **state)
{
    (void)state;
    expect_fail("a", JT_ERR_PARSE, 0);
    expect_fail("0,x", JT_ERR_PARSE, 2);
    expect_fail("0,,1", JT_ERR_PARSE, 2);
    expect_fail("0,", JT_ERR_PARSE, 2);
    expect_fail("-1", JT_ERR_PARSE, 0);
    expect_fail("1-", JT_ERR_PARSE, 0);
    expect_fail("3-1", JT_ERR_PARSE, 0);
    expect_fail("1-2-3", JT_ERR_PARSE, 0);
    expect_fail("1.2.3", JT_ERR_PARSE, 0);
    expect_fail("+1", JT_ERR_PARSE, 0);
    expect_fail("0x1", JT_ERR_PARSE, 0);
    expect_fail("1 2", JT_ERR_PARSE, 0);
    expect_fail("0;rm -rf /", JT_ERR_PARSE, 0);
    expect_fail("../../etc/passwd", JT_ERR_PARSE, 0);
    expect_fail("GPU-", JT_ERR_PARSE, 0);
    expect_fail("GPU-----", JT_ERR_PARSE, 0);
    expect_fail("GPU-zz", JT_ERR_PARSE, 0);
    expect_fail("GPU-ab/../x", JT_ERR_PARSE, 0);
    expect_fail("gpu-abcd", JT_ERR_PARSE, 0);
    expect_fail("MIG-GPU-abcd", JT_ERR_PARSE, 0);
    expect_fail("MIG-GPU-abcd/1", JT_ERR_PARSE, 0);
    expect_fail("MIG-GPU-/1/0", JT_ERR_PARSE, 0);
    expect_fail("MIG-GPU-ab/1/0/", JT_ERR_PARSE, 0);
    expect_fail("65536", JT_ERR_RANGE, 0);
    expect_fail("1,99999999999999999999999", JT_ERR_RANGE, 2);
    expect_fail("0-1000", JT_ERR_LIMIT, 0);
}

static void test_huge_values(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, '1', n);
    s[n] = '\0';
    expect_fail(s, JT_ERR_LIMIT, 0);
    /* Within the text limit, but more entries than GPULIST_MAX. */
    size_t off = 0;
    for (unsigned i = 0; i < 200; i++)
        off += (size_t)snprintf(s + off, n - off, "%s%u", i ? "," : "", i);
    assert_int_equal(gpulist_parse(s, &list, NULL), JT_ERR_LIMIT);
    char uuid[200] = "GPU-";
    memset(uuid + 4, 'a', 150);
    uuid[154] = '\0';
    expect_fail(uuid, JT_ERR_LIMIT, 0);
    free(s);
}

/* --- the driver table ---------------------------------------------------------------------- */

static char root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void write_gpu(const char *bus, const char *uuid, const char *minor)
{
    char path[256];
    snprintf(path, sizeof path, "%s/driver/nvidia/gpus/%s", root, bus);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/driver/nvidia/gpus/%s/information", root, bus);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "Model: \t\t NVIDIA A100-SXM4-40GB\nIRQ:   \t\t 47\nGPU UUID: \t %s\nVideo BIOS: \t 92.00.19.00.01\n"
               "Bus Type: \t PCIe\nBus Location: \t %s\nDevice Minor: \t %s\nGPU Excluded:\t No\n",
            uuid, bus, minor);
    fclose(f);
}

static int setup_root(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/jobtel-gpulist.XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char path[256];
    snprintf(path, sizeof path, "%s/driver", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/driver/nvidia", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/driver/nvidia/gpus", root);
    mkdir(path, 0755);
    /* Created out of bus order, with minor numbers that differ from the bus order (as on some boards). */
    write_gpu("0000:b1:00.0", "GPU-cccccccc-0000-0000-0000-000000000002", "0");
    write_gpu("0000:3b:00.0", "GPU-aaaaaaaa-0000-0000-0000-000000000000", "2");
    write_gpu("0000:5e:00.0", "GPU-bbbbbbbb-0000-0000-0000-000000000001", "1");
    return 0;
}

static int teardown_root(void **state)
{
    (void)state;
    return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_devices_load(void **state)
{
    (void)state;
    struct gpulist_devices devs;
    assert_int_equal(gpulist_devices_load(root, &devs), JT_OK);
    assert_int_equal(devs.n, 3);
    assert_string_equal(devs.d[0].bus_id, "0000:3b:00.0");
    assert_string_equal(devs.d[0].uuid, "GPU-aaaaaaaa-0000-0000-0000-000000000000");
    assert_int_equal(devs.d[0].index, 0);
    assert_int_equal(devs.d[0].minor, 2);
    assert_int_equal(devs.d[2].index, 2);
    assert_int_equal(devs.d[2].minor, 0);

    assert_int_equal(gpulist_devices_load("/nonexistent-procfs", &devs), JT_ERR_NOT_FOUND);
    assert_int_equal(devs.n, 0);
}

static void test_devices_malformed(void **state)
{
    (void)state;
    write_gpu("0000:d0:00.0", "not-a-uuid", "3");
    struct gpulist_devices devs;
    assert_int_equal(gpulist_devices_load(root, &devs), JT_ERR_PARSE);
    assert_int_equal(devs.n, 3); /* the good ones are still there */
    char path[256];
    snprintf(path, sizeof path, "%s/driver/nvidia/gpus/0000:d0:00.0/information", root);
    remove(path);
    snprintf(path, sizeof path, "%s/driver/nvidia/gpus/0000:d0:00.0", root);
    remove(path);

    /* A FIFO as an information file is refused at once, never opened for a blocking read. */
    snprintf(path, sizeof path, "%s/driver/nvidia/gpus/0000:e0:00.0", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/driver/nvidia/gpus/0000:e0:00.0/information", root);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(gpulist_devices_load(root, &devs), JT_ERR_PARSE);
    assert_int_equal(devs.n, 3);
    remove(path);
    snprintf(path, sizeof path, "%s/driver/nvidia/gpus/0000:e0:00.0", root);
    remove(path);
}

static void resolve_one(const char *text, const struct gpulist_devices *devs, enum gpulist_numbering num,
                        enum jt_err want, struct gpulist_target *t)
{
    assert_int_equal(parse(text), JT_OK);
    assert_int_equal(list.n, 1);
    assert_int_equal(gpulist_resolve(&list.e[0], devs, num, t), want);
}

static void test_resolve(void **state)
{
    (void)state;
    struct gpulist_devices devs;
    struct gpulist_target t;
    assert_int_equal(gpulist_devices_load(root, &devs), JT_OK);

    resolve_one("1", &devs, GPULIST_NUMBER_INDEX, JT_OK, &t);
    assert_true(t.has_index);
    assert_int_equal(t.index, 1);
    assert_string_equal(t.uuid, "GPU-bbbbbbbb-0000-0000-0000-000000000001");

    resolve_one("1", NULL, GPULIST_NUMBER_INDEX, JT_OK, &t); /* no table: index passes, no UUID */
    assert_true(t.has_index);
    assert_int_equal(t.index, 1);
    assert_string_equal(t.uuid, "");

    resolve_one("7", &devs, GPULIST_NUMBER_INDEX, JT_OK, &t); /* beyond the table: still the index */
    assert_int_equal(t.index, 7);
    assert_string_equal(t.uuid, "");

    resolve_one("2", &devs, GPULIST_NUMBER_MINOR, JT_OK, &t); /* /dev/nvidia2 is the first by bus */
    assert_int_equal(t.index, 0);
    assert_string_equal(t.uuid, "GPU-aaaaaaaa-0000-0000-0000-000000000000");
    resolve_one("5", &devs, GPULIST_NUMBER_MINOR, JT_ERR_NOT_FOUND, &t);
    resolve_one("0", NULL, GPULIST_NUMBER_MINOR, JT_ERR_NOT_FOUND, &t);

    resolve_one("GPU-CCCCCCCC-0000-0000-0000-000000000002", &devs, GPULIST_NUMBER_INDEX, JT_OK, &t);
    assert_true(t.has_index); /* UUIDs compare without case */
    assert_int_equal(t.index, 2);
    assert_string_equal(t.uuid, "GPU-CCCCCCCC-0000-0000-0000-000000000002");

    resolve_one("GPU-dddddddd-0000-0000-0000-000000000009", &devs, GPULIST_NUMBER_INDEX, JT_OK, &t);
    assert_false(t.has_index); /* unknown GPU: UUID file only */
    assert_string_equal(t.uuid, "GPU-dddddddd-0000-0000-0000-000000000009");

    resolve_one("MIG-5c1f7e2d-3a4b-5c6d-7e8f-9a0b1c2d3e4f", &devs, GPULIST_NUMBER_INDEX, JT_OK, &t);
    assert_false(t.has_index);
    assert_string_equal(t.uuid, "MIG-5c1f7e2d-3a4b-5c6d-7e8f-9a0b1c2d3e4f");

    resolve_one("MIG-GPU-bbbbbbbb-0000-0000-0000-000000000001/3/0", &devs, GPULIST_NUMBER_INDEX, JT_OK, &t);
    assert_true(t.has_index);
    assert_int_equal(t.index, 1);
    assert_int_equal(t.gpu_instance, 3);
    assert_string_equal(t.uuid, ""); /* the name holds '/', it cannot be a file */

    resolve_one("2.1", &devs, GPULIST_NUMBER_INDEX, JT_OK, &t);
    assert_true(t.has_index);
    assert_int_equal(t.index, 2);
    assert_int_equal(t.gpu_instance, 1);
    assert_string_equal(t.uuid, ""); /* not the parent's UUID: that would label the whole GPU */

    resolve_one("2.1", &devs, GPULIST_NUMBER_MINOR, JT_OK, &t);
    assert_int_equal(t.index, 0);
    assert_int_equal(t.gpu_instance, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indices_and_ranges),
        cmocka_unit_test(test_empty_lists),
        cmocka_unit_test(test_mig_index),
        cmocka_unit_test(test_uuids),
        cmocka_unit_test(test_old_style_mig_uuid),
        cmocka_unit_test(test_bad_lists),
        cmocka_unit_test(test_huge_values),
        cmocka_unit_test_setup_teardown(test_devices_load, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_devices_malformed, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_resolve, setup_root, teardown_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
