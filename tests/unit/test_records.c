/* test_records.c - the controller folds the nodes' accounting records into a job's summary
 * (summary/records.c): exact figures summed over nodes, Princeton's keys untouched, hostile files
 * (FIFO, symlink, oversized, malformed, another job's record) skipped without blocking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "summary/records.h"

static char dir[64];

static void put_in(const char *job, const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s/%s", dir, job, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/77/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_fold(void **state)
{
    (void)state;
    char p[128], q[256];
    snprintf(p, sizeof p, "%s/77", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put("gpu-a.json", "{\"version\":1,\"jobid\":\"77\",\"gpus\":[{\"gpu\":\"0\",\"gi\":\"\",\"allocated_s\":100,\"busy_s\":10,"
                      "\"energy_j\":30000,\"mem_peak_bytes\":1000,\"xids\":0,\"throttle_s\":0},"
                      "{\"gpu\":\"1\",\"gi\":\"\",\"allocated_s\":100,\"busy_s\":30,\"energy_j\":10000}]}\n");
    put("gpu-b.json", "{\"version\":1,\"jobid\":\"77\",\"gpus\":[{\"gpu\":\"0\",\"gi\":\"\",\"allocated_s\":100}]}\n");
    put("wrong-job.json", "{\"version\":1,\"jobid\":\"78\",\"gpus\":[{\"gpu\":\"0\",\"gi\":\"\",\"allocated_s\":1e9}]}\n");
    put("negative.json", "{\"version\":1,\"jobid\":\"77\",\"gpus\":[{\"gpu\":\"0\",\"gi\":\"\",\"allocated_s\":-5}]}\n");
    put("garbage.json", "{\"version\":1,\"jobid\":\"77\",\"gpus\":[{\"gpu\":\"0\"");
    snprintf(q, sizeof q, "%s/fifo.json", p);
    assert_int_equal(mkfifo(q, 0600), 0);
    snprintf(q, sizeof q, "%s/link.json", p);
    assert_int_equal(symlink("/etc/passwd", q), 0);
    json_t *summary = json_pack("{s:{s:{}}, s:i}", "nodes", "gpu-a", "total_time", 100);
    struct records_sum sum;
    assert_int_equal(records_fold(dir, "77", summary, &sum), 2);
    const json_t *jt = json_object_get(summary, "jobtel");
    assert_non_null(jt);
    /* busy 40 s over the 200 s of the GPUs that measured it (gpu-b measured no utilization) */
    assert_true(fabs(json_real_value(json_object_get(jt, "gpu_util_exact")) - 20.0) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(jt, "energy_j")) - 40000) < 1e-9);
    assert_int_equal(json_object_size(json_object_get(jt, "nodes")), 2);
    assert_null(json_object_get(json_object_get(json_object_get(json_object_get(jt, "nodes"), "gpu-b"), "0"), "busy"));
    /* Princeton's keys untouched */
    assert_int_equal(json_integer_value(json_object_get(summary, "total_time")), 100);
    json_decref(summary);
    /* no records: summary unchanged */
    summary = json_object();
    assert_int_equal(records_fold(dir, "99", summary, &sum), 0);
    assert_int_equal(json_object_size(summary), 0);
    json_decref(summary);
}

/* The nodes' timelines: the documented shape goes through (rebuilt, rounded), anything else is left out
 * while the node's totals are kept. */
static void test_fold_timeline(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/88", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    static const char cols[] = "\"cols\":[\"util\",\"power\",\"mem\",\"sm\",\"clock\",\"throttle\"]";
    char text[2048];
    snprintf(text, sizeof text,
             "{\"version\":1,\"jobid\":\"88\",\"gpus\":["
             "{\"gpu\":\"0\",\"gi\":\"\",\"allocated_s\":10,\"tl\":{\"t0\":1700000000,%s,\"pts\":"
             "[[0,5,55.4,250,12.34,null,1410,0],[5,5,60,251,12.3,null,1410,20]],\"extra\":1}},"
             "{\"gpu\":\"1\",\"gi\":\"\",\"allocated_s\":10,\"tl\":{\"t0\":1700000000,%s,\"pts\":"
             "[[0,5,1,1,1,null,1,0],[4,5,1,1,1,null,1,0]]}},"
             "{\"gpu\":\"2\",\"gi\":\"\",\"allocated_s\":10,\"tl\":{\"t0\":1700000000,%s,\"pts\":"
             "[[0,5,-1,1,1,null,1,0]]}},"
             "{\"gpu\":\"3\",\"gi\":\"\",\"allocated_s\":10,\"tl\":{\"t0\":\"x\",%s,\"pts\":[]}}]}\n",
             cols, cols, cols, cols);
    snprintf(p, sizeof p, "%s/88/n1.json", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    json_t *summary = json_pack("{s:{s:{}}}", "nodes", "n1");
    struct records_sum sum;
    assert_int_equal(records_fold(dir, "88", summary, &sum), 1);
    const json_t *node = json_object_get(json_object_get(json_object_get(summary, "jobtel"), "nodes"), "n1");
    char *dump = json_dumps(json_object_get(json_object_get(node, "0"), "tl"), JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    assert_string_equal(dump, "{\"t0\":1700000000,\"cols\":[\"util\",\"power\",\"mem\",\"sm\",\"clock\","
                              "\"throttle\"],\"pts\":[[0,5,55,250,12.3,null,1410,0],[5,5,60,251,12.3,null,1410,20]]}");
    free(dump);
    /* overlapping points, a negative value, a t0 that is not a number: no timeline, the totals stay */
    for (int g = 1; g <= 3; g++) {
        char k[4];
        snprintf(k, sizeof k, "%d", g);
        const json_t *o = json_object_get(node, k);
        assert_non_null(o);
        assert_non_null(json_object_get(o, "alloc"));
        assert_null(json_object_get(o, "tl"));
    }
    /* thinning: pairwise, duration-weighted, null stays null; then the timelines go */
    assert_true(records_thin(summary));
    dump = json_dumps(json_object_get(json_object_get(json_object_get(node, "0"), "tl"), "pts"), JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    assert_string_equal(dump, "[[0,10,58,251,12.3,null,1410,10]]");
    free(dump);
    assert_true(records_thin(summary)); /* nothing left to halve: removed */
    assert_null(json_object_get(json_object_get(node, "0"), "tl"));
    assert_false(records_thin(summary));
    json_decref(summary);
}

/* The node's CPU timeline: a CPU-only job's record (no GPU) folds into "cpu_tl" on the node object, checked
 * like the GPUs' (rebuilt, cores with two decimals, memory with one), thinned and dropped with them. */
static void test_fold_cpu_timeline(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/89", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put_in("89", "n1.json",
           "{\"version\":1,\"jobid\":\"89\",\"gpus\":[],\"cpu_tl\":{\"t0\":1700000000,\"cols\":[\"cpu\",\"mem\"],"
           "\"pts\":[[0,10,1.504,2.04],[10,10,null,2.0],[20,30,0.25,null]],\"extra\":1}}\n");
    /* GPU columns where the CPU's belong, a negative value, overlapping points: no CPU timeline */
    put_in("89", "n2.json",
           "{\"version\":1,\"jobid\":\"89\",\"gpus\":[],\"cpu_tl\":{\"t0\":1700000000,\"cols\":[\"util\",\"mem\"],"
           "\"pts\":[[0,10,1,2]]}}\n");
    put_in("89", "n3.json",
           "{\"version\":1,\"jobid\":\"89\",\"gpus\":[],\"cpu_tl\":{\"t0\":1700000000,\"cols\":[\"cpu\",\"mem\"],"
           "\"pts\":[[0,10,-1,2]]}}\n");
    put_in("89", "n4.json",
           "{\"version\":1,\"jobid\":\"89\",\"gpus\":[],\"cpu_tl\":{\"t0\":1700000000,\"cols\":[\"cpu\",\"mem\"],"
           "\"pts\":[[0,10,1,2],[5,10,1,2]]}}\n");
    json_t *summary = json_pack("{s:{s:{}}}", "nodes", "n1");
    struct records_sum sum;
    assert_int_equal(records_fold(dir, "89", summary, &sum), 4);
    const json_t *nodes = json_object_get(json_object_get(summary, "jobtel"), "nodes");
    const json_t *node = json_object_get(nodes, "n1");
    char *dump = json_dumps(json_object_get(node, "cpu_tl"), JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    assert_string_equal(dump, "{\"t0\":1700000000,\"cols\":[\"cpu\",\"mem\"],\"pts\":[[0,10,1.5,2.0],[10,10,null,2.0],"
                              "[20,30,0.25,null]]}");
    free(dump);
    assert_int_equal(json_object_size(node), 1);
    for (int n = 2; n <= 4; n++) {
        char k[4];
        snprintf(k, sizeof k, "n%d", n);
        assert_non_null(json_object_get(nodes, k));
        assert_null(json_object_get(json_object_get(nodes, k), "cpu_tl"));
    }
    /* thinning: pairwise, duration-weighted (1.5 x 10 s and nothing: 1.5; memory 2.0 and 2.0) */
    assert_true(records_thin(summary));
    dump = json_dumps(json_object_get(json_object_get(node, "cpu_tl"), "pts"), JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    assert_string_equal(dump, "[[0,20,1.5,2.0],[20,30,0.25,null]]");
    free(dump);
    assert_true(records_thin(summary));
    assert_true(records_thin(summary)); /* one point left everywhere: the timelines go */
    assert_null(json_object_get(node, "cpu_tl"));
    json_decref(summary);
}

static void *late_writer(void *arg)
{
    (void)arg;
    usleep(150000);
    put_in("55", "n1.json", "{}");
    return NULL;
}

/* --store waits for the records the node epilogs are still writing, and no longer than it may. */
static void test_wait_for_records(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/55", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(records_wait(dir, "55", 1, 0.3), 0); /* nothing comes: gives up */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_writer, NULL), 0);
    assert_int_equal(records_wait(dir, "55", 1, 600), 1); /* returns once it is there */
    pthread_join(th, NULL);
    put_in("55", ".n2.json.tmp.7", "{}"); /* a record being written does not count */
    assert_int_equal(records_wait(dir, "55", 2, 0.3), 1);
    assert_int_equal(records_wait(dir, "56", 1, 0), 0); /* no directory */
    char nodir[128];
    snprintf(nodir, sizeof nodir, "%s/not-there", dir);
    assert_int_equal(records_wait(nodir, "55", 1, 600), 0); /* no records directory at all: no wait */
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/jt_records_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fold), cmocka_unit_test(test_fold_timeline),
                                       cmocka_unit_test(test_fold_cpu_timeline),
                                       cmocka_unit_test(test_wait_for_records)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0 && rc == 0)
        rc = 1;
    return rc;
}
