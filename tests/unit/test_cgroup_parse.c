/* test_cgroup_parse.c - the cgroup file formats one by one: flat-keyed files, single numbers, "max"
 * limits, /proc/<pid>/status, and the per-directory readers on small trees built in a temp dir. */
#include <fcntl.h>
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

#include "collectors/cgroup_parse.h"

#define KEYED(text, keys, vals, found) cg_parse_keyed(text, strlen(text), keys, sizeof keys / sizeof keys[0], vals, found)

static void test_keyed_picks_wanted_keys(void **state)
{
    (void)state;
    static const char *const keys[] = {"usage_usec", "user_usec", "system_usec"};
    uint64_t v[3] = {0};
    uint32_t found = 0;
    const char *text = "usage_usec 90500000\nuser_usec 85250000\nsystem_usec 5250000\nnr_periods 0\n"
                       "core_sched.force_idle_usec 0\n";
    assert_true(KEYED(text, keys, v, &found));
    assert_int_equal(found, 7);
    assert_int_equal(v[0], 90500000);
    assert_int_equal(v[1], 85250000);
    assert_int_equal(v[2], 5250000);
}

static void test_keyed_reports_absent_keys(void **state)
{
    (void)state;
    static const char *const keys[] = {"anon", "swapcached", "file"};
    uint64_t v[3] = {0};
    uint32_t found = 0;
    /* Prefixes of wanted keys must not match: "anon_thp" is not "anon". */
    assert_true(KEYED("anon_thp 5\nanon 7\nfile 18446744073709551615\n", keys, v, &found));
    assert_int_equal(found, 1u | 4u);
    assert_int_equal(v[0], 7);
    assert_true(v[2] == UINT64_MAX);
}

static void test_keyed_rejects_garbage(void **state)
{
    (void)state;
    static const char *const keys[] = {"oom"};
    uint64_t v[1];
    uint32_t found;
    assert_false(KEYED("oom 12x\n", keys, v, &found));
    assert_false(KEYED("oom -1\n", keys, v, &found));
    assert_false(KEYED("oom\n", keys, v, &found));
    assert_false(KEYED("oom  1\n", keys, v, &found));              /* one space exactly */
    assert_false(KEYED("oom 1\noom 2\n", keys, v, &found));        /* a wanted key twice */
    assert_false(KEYED("max 18446744073709551616\n", keys, v, &found)); /* overflow, even unwanted */
    assert_false(KEYED("some avg10=0.00\n", keys, v, &found));     /* a pressure file is not flat-keyed */
    assert_true(KEYED("", keys, v, &found));
    assert_int_equal(found, 0);
}

static void test_u64_and_limit(void **state)
{
    (void)state;
    uint64_t v = 0;
    bool unl = true;
    assert_true(cg_parse_u64("4294967296\n", 11, &v));
    assert_int_equal(v, 4294967296ull);
    assert_false(cg_parse_u64("", 0, &v));
    assert_false(cg_parse_u64("\n", 1, &v));
    assert_false(cg_parse_u64("12 \n", 4, &v));
    assert_false(cg_parse_u64("12\n\n", 4, &v));
    assert_false(cg_parse_u64("max\n", 4, &v));

    assert_true(cg_parse_limit("8589934592\n", 11, &v, &unl));
    assert_false(unl);
    assert_int_equal(v, 8589934592ull);
    v = 1;
    assert_true(cg_parse_limit("max\n", 4, &v, &unl));
    assert_true(unl);
    assert_int_equal(v, 1); /* untouched */
    assert_false(cg_parse_limit("maximum\n", 8, &v, &unl));
    assert_false(cg_parse_limit("-1\n", 3, &v, &unl));
}

static void test_proc_status(void **state)
{
    (void)state;
    char name[16];
    uint32_t uid = 0;
    const char *st = "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1001\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
    assert_true(cg_parse_proc_status(st, strlen(st), name, sizeof name, &uid));
    assert_string_equal(name, "python3");
    assert_int_equal(uid, 1001); /* the real uid, not the effective one */

    const char *long_name = "Name:\ta-very-long-command-name\nUid:\t7\t7\t7\t7\n";
    assert_true(cg_parse_proc_status(long_name, strlen(long_name), name, sizeof name, &uid));
    assert_string_equal(name, "a-very-long-com");
    assert_int_equal(uid, 7);

    const char *no_uid = "Name:\tbash\nPid:\t5\n";
    assert_false(cg_parse_proc_status(no_uid, strlen(no_uid), name, sizeof name, &uid));
    const char *bad_uid = "Name:\tbash\nUid:\tx\t1\t1\t1\n";
    assert_false(cg_parse_proc_status(bad_uid, strlen(bad_uid), name, sizeof name, &uid));
    const char *huge_uid = "Name:\tbash\nUid:\t4294967296\t1\t1\t1\n";
    assert_false(cg_parse_proc_status(huge_uid, strlen(huge_uid), name, sizeof name, &uid));
}

/* --- readers on a scratch directory --- */

struct tmpdir {
    char path[64];
    int fd;
};

static void put(struct tmpdir *t, const char *name, const char *text)
{
    int fd = openat(t->fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int tmp_setup(void **state)
{
    struct tmpdir *t = calloc(1, sizeof *t);
    snprintf(t->path, sizeof t->path, "/tmp/jt_cgparse_XXXXXX");
    if (!mkdtemp(t->path))
        return -1;
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY);
    *state = t;
    return t->fd >= 0 ? 0 : -1;
}

static int tmp_teardown(void **state)
{
    struct tmpdir *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->path);
    close(t->fd);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static void test_v1_cpuacct_prefers_usage_all(void **state)
{
    struct tmpdir *t = *state;
    /* cpuacct.usage read a moment later than usage_all: the sums of usage_all win. */
    put(t, "cpuacct.usage", "44900001000\n");
    put(t, "cpuacct.usage_user", "41600000000\n");
    put(t, "cpuacct.usage_sys", "3300000000\n");
    put(t, "cpuacct.usage_all", "cpu user system\n0 20800000000 1650000000\n1 20800000000 1650000000\n");
    put(t, "cpuacct.stat", "user 4100\nsystem 300\n");
    struct cg_reader r;
    cg_reader_init(&r, 100);
    struct cg_stats st = {0};
    cg_v1_read_cpuacct(&r, t->fd, &st);
    assert_int_equal(st.valid, (1u << CG_CPU_USER_NS) | (1u << CG_CPU_SYSTEM_NS) | (1u << CG_CPU_TOTAL_NS));
    assert_int_equal(st.v[CG_CPU_USER_NS], 41600000000ull);
    assert_int_equal(st.v[CG_CPU_SYSTEM_NS], 3300000000ull);
    assert_int_equal(st.v[CG_CPU_TOTAL_NS], 44900000000ull);
    assert_int_equal(r.missing + r.parse_errors + r.read_errors, 0);

    /* A garbled usage_all: counted, no CPU fields (not a silent switch to another source). */
    put(t, "cpuacct.usage_all", "cpu user system\n0 1 2 3\n");
    memset(&st, 0, sizeof st);
    cg_v1_read_cpuacct(&r, t->fd, &st);
    assert_int_equal(st.valid, 0);
    assert_int_equal(r.parse_errors, 1);
    cg_reader_free(&r);
}

static void test_usage_all_format(void **state)
{
    (void)state;
    uint64_t u = 1, k = 1;
    const char *one = "cpu user system\n0 5 7\n";
    assert_true(cg_parse_usage_all(one, strlen(one), &u, &k));
    assert_int_equal(u, 5);
    assert_int_equal(k, 7);
    const char *none = "cpu user system\n";
    assert_true(cg_parse_usage_all(none, strlen(none), &u, &k));
    assert_int_equal(u + k, 0);
    const char *bad[] = {"", "cpu user\n0 5\n", "cpu user system\n0 5\n", "cpu user system\n0 5 7 \n",
                         "cpu user system\n0 5 x\n", "cpu user system\n0 18446744073709551615 0\n1 1 0\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cg_parse_usage_all(bad[i], strlen(bad[i]), &u, &k));
}

static void test_v1_cpuacct_falls_back_to_ticks(void **state)
{
    struct tmpdir *t = *state;
    /* A pre-4.7 kernel: no usage_all, usage_user or usage_sys. */
    put(t, "cpuacct.usage", "7250000000\n");
    put(t, "cpuacct.stat", "user 650\nsystem 75\n");
    struct cg_reader r;
    cg_reader_init(&r, 250); /* a non-default USER_HZ, to see it used */
    struct cg_stats st = {0};
    cg_v1_read_cpuacct(&r, t->fd, &st);
    assert_int_equal(st.v[CG_CPU_USER_NS], 2600000000ull);
    assert_int_equal(st.v[CG_CPU_SYSTEM_NS], 300000000ull);
    assert_int_equal(st.v[CG_CPU_TOTAL_NS], 7250000000ull);
    assert_int_equal(r.missing, 1); /* usage_all */
    cg_reader_free(&r);
}

static void test_v1_memory_limits(void **state)
{
    struct tmpdir *t = *state;
    put(t, "memory.usage_in_bytes", "960000000\n");
    put(t, "memory.failcnt", "4\n");
    put(t, "memory.limit_in_bytes", "9223372036854771712\n");
    put(t, "memory.stat", "cache 1\nrss 2\nhierarchical_memory_limit 4026531840\ntotal_cache 250000000\n"
                          "total_rss 700000000\ntotal_shmem 1\ntotal_inactive_file 60000000\n"
                          "total_active_file 100000000\n");
    struct cg_reader r;
    cg_reader_init(&r, 100);
    struct cg_stats st = {0};
    cg_v1_read_memory(&r, t->fd, &st);
    assert_int_equal(st.v[CG_MEM_USED], 960000000);
    assert_int_equal(st.v[CG_MEM_FAILCNT], 4);
    assert_int_equal(st.v[CG_MEM_RSS], 700000000);
    assert_int_equal(st.v[CG_MEM_CACHE], 250000000);
    assert_int_equal(st.v[CG_MEM_SHMEM], 90000000);      /* cache - inactive_file - active_file */
    assert_int_equal(st.v[CG_MEM_TOTAL], 4026531840ull); /* own limit unlimited: the hierarchical one */
    assert_false(st.mem_unlimited);

    /* Unlimited all the way up: no total, flagged. The LRU counters exceeding the cache: shmem 0. */
    put(t, "memory.stat", "hierarchical_memory_limit 9223372036854771712\ntotal_cache 10\n"
                          "total_inactive_file 8\ntotal_active_file 8\n");
    memset(&st, 0, sizeof st);
    cg_v1_read_memory(&r, t->fd, &st);
    assert_false(cg_has(&st, CG_MEM_TOTAL));
    assert_true(st.mem_unlimited);
    assert_true(cg_has(&st, CG_MEM_SHMEM));
    assert_int_equal(st.v[CG_MEM_SHMEM], 0);
    assert_false(cg_has(&st, CG_MEM_RSS));

    /* A 64 KiB-page kernel's "unlimited" is a little lower; still unlimited. */
    put(t, "memory.limit_in_bytes", "9223372036854710272\n");
    memset(&st, 0, sizeof st);
    cg_v1_read_memory(&r, t->fd, &st);
    assert_true(st.mem_unlimited);
    assert_int_equal(r.parse_errors, 0);

    /* Garbage in memory.stat: counted, its fields left out, the rest still read. */
    put(t, "memory.stat", "total_rss 12x\n");
    put(t, "memory.limit_in_bytes", "209715200\n");
    memset(&st, 0, sizeof st);
    cg_v1_read_memory(&r, t->fd, &st);
    assert_int_equal(r.parse_errors, 1);
    assert_false(cg_has(&st, CG_MEM_RSS));
    assert_int_equal(st.v[CG_MEM_TOTAL], 209715200);
    assert_int_equal(st.v[CG_MEM_USED], 960000000);
    cg_reader_free(&r);
}

static void test_v2_reader(void **state)
{
    struct tmpdir *t = *state;
    put(t, "cpu.stat", "usage_usec 90500000\nuser_usec 85250000\nsystem_usec 5250000\nnr_periods 0\n");
    put(t, "memory.current", "6442450944\n");
    put(t, "memory.max", "max\n");
    put(t, "memory.events", "low 0\nhigh 0\nmax 6\noom 2\noom_kill 2\noom_group_kill 0\n");
    put(t, "memory.stat", "anon 4294967296\nfile 1073741824\nshmem 536870912\nswapcached 1048576\nanon_thp 0\n");
    put(t, "cpuset.cpus.effective", "0-3,8,10-11\n");
    struct cg_reader r;
    cg_reader_init(&r, 100);
    struct cg_stats st = {0};
    cg_v2_read(&r, t->fd, &st);
    assert_int_equal(st.v[CG_CPU_TOTAL_NS], 90500000000ull);
    assert_int_equal(st.v[CG_CPU_USER_NS], 85250000000ull);
    assert_int_equal(st.v[CG_CPU_SYSTEM_NS], 5250000000ull);
    assert_int_equal(st.v[CG_MEM_USED], 6442450944ull);
    assert_int_equal(st.v[CG_MEM_FAILCNT], 2);
    assert_int_equal(st.v[CG_MEM_RSS], 4296015872ull); /* anon + swapcached */
    assert_int_equal(st.v[CG_MEM_CACHE], 1073741824ull);
    assert_int_equal(st.v[CG_MEM_SHMEM], 536870912ull);
    assert_false(cg_has(&st, CG_MEM_TOTAL));
    assert_true(st.mem_unlimited);
    assert_int_equal(cg_read_cpus(&r, t->fd, "cpuset.cpus.effective"), 7);
    assert_int_equal(r.missing + r.parse_errors + r.read_errors, 0);

    put(t, "memory.max", "2147483648\n");
    put(t, "cpuset.cpus.effective", "0-3,2\n");
    memset(&st, 0, sizeof st);
    cg_v2_read(&r, t->fd, &st);
    assert_int_equal(st.v[CG_MEM_TOTAL], 2147483648ull);
    assert_false(st.mem_unlimited);
    assert_int_equal(cg_read_cpus(&r, t->fd, "cpuset.cpus.effective"), 0);
    assert_int_equal(r.parse_errors, 1);
    assert_int_equal(cg_read_cpus(&r, t->fd, "cpuset.cpus.nope"), 0);
    assert_int_equal(r.missing, 1);
    cg_reader_free(&r);
}

static void test_oversized_file_is_a_parse_error(void **state)
{
    struct tmpdir *t = *state;
    size_t n = 300 * 1024;
    char *big = malloc(n + 1);
    memset(big, '1', n);
    big[n] = '\0';
    put(t, "memory.current", big);
    free(big);
    struct cg_reader r;
    cg_reader_init(&r, 100);
    struct cg_stats st = {0};
    cg_v2_read(&r, t->fd, &st);
    assert_false(cg_has(&st, CG_MEM_USED));
    assert_int_equal(r.parse_errors, 1);
    cg_reader_free(&r);
}

static void test_overflowing_sums_are_left_out(void **state)
{
    struct tmpdir *t = *state;
    /* v2: anon + swapcached and usage_usec * 1000 beyond 64 bits: left out and counted, never wrapped */
    put(t, "cpu.stat", "usage_usec 18446744073709551\nuser_usec 18446744073709552\nsystem_usec 5\n");
    put(t, "memory.stat", "anon 18446744073709551615\nfile 1\nshmem 2\nswapcached 1\n");
    put(t, "memory.current", "18446744073709551615\n");
    struct cg_reader r;
    cg_reader_init(&r, 100);
    struct cg_stats st = {0};
    cg_v2_read(&r, t->fd, &st);
    assert_int_equal(st.v[CG_CPU_TOTAL_NS], 18446744073709551000ull); /* still fits */
    assert_false(cg_has(&st, CG_CPU_USER_NS));
    assert_int_equal(st.v[CG_CPU_SYSTEM_NS], 5000);
    assert_false(cg_has(&st, CG_MEM_RSS));
    assert_int_equal(st.v[CG_MEM_CACHE], 1);
    assert_int_equal(st.v[CG_MEM_USED], 18446744073709551615ull); /* a single value is no sum */
    assert_int_equal(r.parse_errors, 2);

    /* v1: total_inactive_file + total_active_file, and clock ticks in ns */
    put(t, "memory.stat", "total_cache 10\ntotal_rss 1\ntotal_inactive_file 18446744073709551615\n"
                          "total_active_file 1\n");
    put(t, "cpuacct.stat", "user 184467440737095517\nsystem 3\n");
    memset(&st, 0, sizeof st);
    cg_v1_read_memory(&r, t->fd, &st);
    cg_v1_read_cpuacct(&r, t->fd, &st);
    assert_false(cg_has(&st, CG_MEM_SHMEM));
    assert_int_equal(st.v[CG_MEM_CACHE], 10);
    assert_false(cg_has(&st, CG_CPU_USER_NS));
    assert_int_equal(st.v[CG_CPU_SYSTEM_NS], 30000000);
    assert_int_equal(r.parse_errors, 4);
    cg_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_picks_wanted_keys),
        cmocka_unit_test(test_keyed_reports_absent_keys),
        cmocka_unit_test(test_keyed_rejects_garbage),
        cmocka_unit_test(test_u64_and_limit),
        cmocka_unit_test(test_proc_status),
        cmocka_unit_test_setup_teardown(test_v1_cpuacct_prefers_usage_all, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_usage_all_format),
        cmocka_unit_test_setup_teardown(test_v1_cpuacct_falls_back_to_ticks, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_v1_memory_limits, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_v2_reader, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_oversized_file_is_a_parse_error, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_overflowing_sums_are_left_out, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
