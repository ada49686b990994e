/* test_targets.c - `jobtel targets`: the scontrol and host-list parsers, file_sd rendering, and the
 * atomic write that leaves an unchanged file alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fileio.h"
#include "targets/targets.h"

static void load(const char *name, struct buf *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/targets/%s", getenv("FIXTURES"), name);
    buf_init(b, 1 << 20);
    assert_int_equal(file_read(path, 1 << 20, b), JT_OK);
}

static void test_scontrol_gpu_nodes_only(void **state)
{
    (void)state;
    struct buf b;
    load("scontrol_nodes.txt", &b);
    struct node_list l = {0};
    assert_int_equal(targets_parse_scontrol(b.data, b.len, &l), JT_OK);
    node_list_normalise(&l);
    /* cpu001 has no gpu gres (its Reason text mentioning Gres=gpu must not count), gpunomem's
     * "gpumem" is not "gpu", and bad$(reboot) is not a host name. */
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].name, "dgx001");
    assert_string_equal(l.v[0].addr, "dgx001");
    assert_string_equal(l.v[1].name, "dgx002");
    assert_string_equal(l.v[1].addr, "10.141.0.2"); /* NodeAddr, not the name */
    assert_string_equal(l.v[2].name, "gpuv01");
    assert_string_equal(l.v[2].addr, "gpuv01"); /* no NodeAddr: the name */
    assert_int_equal(l.rejected, 1);
    node_list_free(&l);
    buf_free(&b);
}

static void test_scontrol_no_nodes(void **state)
{
    (void)state;
    const char text[] = "No nodes in the system\n";
    struct node_list l = {0};
    assert_int_equal(targets_parse_scontrol(text, sizeof text - 1, &l), JT_OK);
    assert_int_equal(l.n, 0);
    node_list_free(&l);
}

static void test_hosts_file(void **state)
{
    (void)state;
    struct buf b;
    load("hosts.txt", &b);
    struct node_list l = {0};
    assert_int_equal(targets_parse_hosts(b.data, b.len, 1, 0, &l), JT_OK);
    node_list_normalise(&l);
    assert_int_equal(l.n, 3); /* gpu-a01 listed twice, `bad"host` rejected */
    assert_string_equal(l.v[0].name, "gpu-a01");
    assert_string_equal(l.v[1].name, "gpu-a02.cluster.local");
    assert_string_equal(l.v[2].name, "gpu-b01");
    assert_int_equal(l.rejected, 1);
    node_list_free(&l);
    buf_free(&b);
}

static void test_hosts_cmsh_columns(void **state)
{
    (void)state;
    struct buf b;
    load("cmsh_device_list.txt", &b);
    struct node_list l = {0};
    assert_int_equal(targets_parse_hosts(b.data, b.len, 2, 2, &l), JT_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, "dgx-01");
    assert_string_equal(l.v[1].name, "dgx-02");
    node_list_free(&l);
    /* Without skipping the header, its "Hostname" would become a node. */
    assert_int_equal(targets_parse_hosts(b.data, b.len, 2, 0, &l), JT_OK);
    assert_int_equal(l.n, 3);
    node_list_free(&l);
    buf_free(&b);
}

static void test_render(void **state)
{
    (void)state;
    struct node_list l = {0};
    assert_int_equal(node_list_add(&l, "n1", 2, "10.0.0.1", 8), JT_OK);
    assert_int_equal(node_list_add(&l, "n2", 2, "fe80::1", 7), JT_OK);
    assert_int_equal(node_list_add(&l, "n\"3", 3, "x", 1), JT_ERR_PARSE);
    struct targets_labels lab = {.cluster = "c\"1", .role = "gpu", .jobtel_port = 9400, .node_exporter_port = 0};
    struct buf out;
    buf_init(&out, 1 << 16);
    assert_int_equal(targets_render(&l, &lab, &out), JT_OK);
    assert_string_equal(buf_str(&out),
                        "[\n"
                        "  {\"targets\": [\"10.0.0.1:9400\"], \"labels\": {\"__meta_jobtel_exporter\": \"jobtel\", "
                        "\"cluster\": \"c\\\"1\", \"role\": \"gpu\", \"node\": \"n1\"}},\n"
                        "  {\"targets\": [\"[fe80::1]:9400\"], \"labels\": {\"__meta_jobtel_exporter\": \"jobtel\", "
                        "\"cluster\": \"c\\\"1\", \"role\": \"gpu\", \"node\": \"n2\"}}\n"
                        "]\n");
    buf_reset(&out);
    struct node_list empty = {0};
    assert_int_equal(targets_render(&empty, &lab, &out), JT_OK);
    assert_string_equal(buf_str(&out), "[]\n");
    buf_free(&out);
    node_list_free(&l);
}

static void test_write_if_changed(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_targets.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/gpu.json", dir);
    bool changed;
    assert_int_equal(targets_write_if_changed(path, "[a]\n", 4, &changed), JT_OK);
    assert_true(changed);
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_mode & 0777, 0644);
    /* Same bytes: the file (its inode) is left alone, so Prometheus sees no event. */
    assert_int_equal(targets_write_if_changed(path, "[a]\n", 4, &changed), JT_OK);
    assert_false(changed);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    /* A prefix of the old content is a change too. */
    assert_int_equal(targets_write_if_changed(path, "[a]", 3, &changed), JT_OK);
    assert_true(changed);
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st1.st_ino != st2.st_ino); /* replaced by rename, not rewritten in place */
    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(file_read(path, 100, &b), JT_OK);
    assert_string_equal(buf_str(&b), "[a]");
    buf_free(&b);
    /* A directory that does not exist: an error, nothing left behind. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/gpu.json", dir);
    assert_int_not_equal(targets_write_if_changed(bad, "x", 1, &changed), JT_OK);
    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* no temporary file remains */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scontrol_gpu_nodes_only), cmocka_unit_test(test_scontrol_no_nodes),
        cmocka_unit_test(test_hosts_file),              cmocka_unit_test(test_hosts_cmsh_columns),
        cmocka_unit_test(test_render),                  cmocka_unit_test(test_write_if_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
