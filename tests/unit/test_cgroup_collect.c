/* test_cgroup_collect.c - the cgroup collector against the v1 and v2 fixture trees, and under churn.
 *
 * The whole exposition of each fixture tree is compared with a golden file (reviewed in diffs); the
 * cases that carry a rule (fallbacks, inherited limits, skipped names, counted errors) are asserted
 * again one by one with hand-computed values, so a wrong golden file cannot hide them.
 *
 * The same binary doubles as a driver for the live test and the benchmark, which need one collection
 * against a real cgroup tree until the daemon serves /metrics:
 *   test_cgroup_collect --collect CGROUPFS [PROCFS [VERSION [REPEAT]]]
 * prints the last collection's exposition to stdout and the mean wall and CPU time per collection to stderr.
 * JOBTEL_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing, and fails the test so that only a
 * comparing run can pass.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "accounting/job_accounting.h"
#include "collectors/collector.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/strparse.h"

extern const struct collector_ops collector_cgroup;

static const char *fixtures(void)
{
    const char *f = getenv("FIXTURES");
    return f ? f : "tests/fixtures";
}

/* snprintf that fails the test instead of truncating. */
static void fmt(char *dst, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *dst, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(dst, n, f, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n) {
        fprintf(stderr, "path too long: %s\n", dst);
        abort();
    }
}

static void fixture_path(char *dst, size_t n, const char *name) { fmt(dst, n, "%s/%s", fixtures(), name); }

/* One collector instance; the text of its last collection in `out`. */
struct run {
    struct exporter_config cfg;
    void *state;
    struct buf out;
};

static void run_init(struct run *r, const char *root, const char *procfs, int version)
{
    memset(r, 0, sizeof *r);
    config_defaults(&r->cfg);
    r->cfg.path_cgroupfs = root;
    r->cfg.path_procfs = procfs;
    r->cfg.cgroup_version = version;
    assert_int_equal(collector_cgroup.init(&r->cfg, &r->state), JT_OK);
    buf_init(&r->out, 64u << 20);
}

/* Runs one collection; returns its status and leaves the text in r->out. */
static enum jt_err run_collect(struct run *r)
{
    struct expo w;
    expo_init(&w, 64u << 20);
    enum jt_err e = collector_cgroup.collect(r->state, &w);
    assert_int_equal(w.err, JT_OK);
    buf_reset(&r->out);
    assert_int_equal(expo_render(&w, &r->out), JT_OK);
    expo_free(&w);
    return e;
}

static const char *run_text(const struct run *r) { return buf_str(&r->out); }

static void run_free(struct run *r)
{
    collector_cgroup.shutdown(r->state);
    buf_free(&r->out);
}

static void assert_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    }
    fail_msg("missing line: %s", line);
}

static void assert_no_substring(const char *text, const char *s)
{
    if (strstr(text, s))
        fail_msg("unexpected text: %s", s);
}

static size_t count_substring(const char *text, const char *s)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

static void check_golden(const char *text, const char *golden_name)
{
    char path[1024];
    fixture_path(path, sizeof path, golden_name);
    if (getenv("JOBTEL_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        /* A rewritten golden file proves nothing: fail, so the run that compares is the one that passes. */
        fail_msg("%s rewritten: review the diff, then run again without JOBTEL_UPDATE_GOLDEN", golden_name);
    }
    struct buf want;
    buf_init(&want, 16u << 20);
    assert_int_equal(file_read(path, want.max, &want), JT_OK);
    if (strcmp(buf_str(&want), text) != 0) {
        /* Print the first differing line: the whole text is long. */
        const char *a = buf_str(&want), *b = text;
        int line = 1;
        while (*a && *a == *b) {
            if (*a == '\n')
                line++;
            a++;
            b++;
        }
        fail_msg("%s differs from the collector's output at line %d:\n  want: %.120s\n  got:  %.120s", golden_name,
                 line, a, b);
    }
    buf_free(&want);
}

/* --- v1 --- */

static void test_v1_golden(void **state)
{
    (void)state;
    char root[1024];
    fixture_path(root, sizeof root, "cgroup_v1");
    struct run r;
    run_init(&r, root, "/nonexistent", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    check_golden(run_text(&r), "cgroup_v1.expected.prom");
    run_free(&r);
}

static void test_v1_rules(void **state)
{
    (void)state;
    char root[1024];
    fixture_path(root, sizeof root, "cgroup_v1");
    struct run r;
    run_init(&r, root, "/nonexistent", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    const char *t = run_text(&r);

    /* job level: step="" task=""; CPU from the ns counters; cgroup_exporter's memory sources */
    assert_has_line(t, "cgroup_cpu_user_seconds{jobid=\"101\",step=\"\",task=\"\"} 41.6");
    assert_has_line(t, "cgroup_cpu_system_seconds{jobid=\"101\",step=\"\",task=\"\"} 3.3");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"101\",step=\"\",task=\"\"} 44.9");
    assert_has_line(t, "cgroup_cpus{jobid=\"101\",step=\"\",task=\"\"} 7");
    assert_has_line(t, "cgroup_memory_rss_bytes{jobid=\"101\",step=\"\",task=\"\"} 1073741824");
    assert_has_line(t, "cgroup_memory_cache_bytes{jobid=\"101\",step=\"\",task=\"\"} 402653184");
    /* total_cache - total_inactive_file - total_active_file, not total_shmem (134209536) */
    assert_has_line(t, "cgroup_memory_shmem_bytes{jobid=\"101\",step=\"\",task=\"\"} 134217728");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"101\",step=\"\",task=\"\"} 1610612736");
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"101\",step=\"\",task=\"\"} 4294967296");
    assert_has_line(t, "cgroup_memory_fail_count{jobid=\"101\",step=\"\",task=\"\"} 3");
    assert_has_line(t, "cgroup_uid{jobid=\"101\"} 1000");

    /* every step name, and tasks */
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"101\",step=\"batch\",task=\"\"} 1.5");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"101\",step=\"extern\",task=\"\"} 0.03");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"101\",step=\"0\",task=\"\"} 42.9");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"101\",step=\"interactive\",task=\"\"} 0.33");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"101\",step=\"0\",task=\"0\"} 26.7");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"101\",step=\"0\",task=\"1\"} 16.1");
    /* empty cpuset: the parent's; no cpuset cgroup at all (task_0): the parent's too */
    assert_has_line(t, "cgroup_cpus{jobid=\"101\",step=\"extern\",task=\"\"} 7");
    assert_has_line(t, "cgroup_cpus{jobid=\"101\",step=\"0\",task=\"0\"} 4");
    assert_has_line(t, "cgroup_cpus{jobid=\"101\",step=\"0\",task=\"1\"} 1");
    assert_has_line(t, "cgroup_cpus{jobid=\"101\",step=\"interactive\",task=\"\"} 3");
    /* a task without a limit of its own is bounded by its step's */
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"101\",step=\"0\",task=\"0\"} 4026531840");
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"101\",step=\"interactive\",task=\"\"} 1073741824");

    /* job_102: cpuacct.stat in ticks; unlimited everywhere -> no total; cpusets from uid_1001 */
    if (sysconf(_SC_CLK_TCK) == 100) {
        assert_has_line(t, "cgroup_cpu_user_seconds{jobid=\"102\",step=\"\",task=\"\"} 6.5");
        assert_has_line(t, "cgroup_cpu_system_seconds{jobid=\"102\",step=\"\",task=\"\"} 0.75");
        assert_has_line(t, "cgroup_cpu_user_seconds{jobid=\"102\",step=\"batch\",task=\"\"} 6.45");
    }
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"102\",step=\"\",task=\"\"} 7.25");
    assert_no_substring(t, "cgroup_memory_total_bytes{jobid=\"102\"");
    assert_has_line(t, "cgroup_cpus{jobid=\"102\",step=\"\",task=\"\"} 2");
    assert_has_line(t, "cgroup_cpus{jobid=\"102\",step=\"batch\",task=\"\"} 2");
    /* the garbled memory.stat of job_102's batch step: its fields gone, the rest kept */
    assert_no_substring(t, "cgroup_memory_rss_bytes{jobid=\"102\",step=\"batch\"");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"102\",step=\"batch\",task=\"\"} 50331648");
    assert_has_line(t, "cgroup_memory_fail_count{jobid=\"102\",step=\"batch\",task=\"\"} 7");
    assert_has_line(t, "jobtel_cgroup_parse_errors_total 1");
    assert_has_line(t, "jobtel_cgroup_read_errors_total 0");

    /* slurm_<node>: no cpuset tree -> no cgroup_cpus; job_202 exists only in the memory tree */
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"201\",step=\"0\",task=\"0\"} 2.2");
    assert_no_substring(t, "cgroup_cpus{jobid=\"201\"");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"202\",step=\"\",task=\"\"} 31457280");
    assert_no_substring(t, "cgroup_cpu_total_seconds{jobid=\"202\"");
    assert_has_line(t, "cgroup_uid{jobid=\"202\"} 2000");

    /* not Slurm's: job_abc, task_x, slurmd/, system.slice, uid_xyz */
    assert_no_substring(t, "abc");
    assert_no_substring(t, "task=\"x\"");
    assert_no_substring(t, "999");
    assert_int_equal(count_substring(t, "cgroup_uid{"), 4);
    run_free(&r);
}

/* --- v2 --- */

static void run_v2(struct run *r, int version)
{
    /* The collector copies the paths at init, so these may go out of scope. */
    char root[1024], procfs[1024];
    fixture_path(root, sizeof root, "cgroup_v2");
    fixture_path(procfs, sizeof procfs, "cgroup_procfs");
    run_init(r, root, procfs, version);
}

static void test_v2_golden(void **state)
{
    (void)state;
    struct run r;
    run_v2(&r, 0);
    assert_int_equal(run_collect(&r), JT_OK);
    check_golden(run_text(&r), "cgroup_v2.expected.prom");
    run_free(&r);
}

/* --no-collector.cgroup.steps: the job's own series only, the same values, and the owner still found in
 * the task cgroups that are walked but not exported. */
static void test_v2_jobs_only(void **state)
{
    (void)state;
    char root[1024], procfs[1024];
    fixture_path(root, sizeof root, "cgroup_v2");
    fixture_path(procfs, sizeof procfs, "cgroup_procfs");
    struct run r;
    memset(&r, 0, sizeof r);
    config_defaults(&r.cfg);
    r.cfg.path_cgroupfs = root;
    r.cfg.path_procfs = procfs;
    r.cfg.cgroup_steps = false;
    assert_int_equal(collector_cgroup.init(&r.cfg, &r.state), JT_OK);
    buf_init(&r.out, 64u << 20);
    assert_int_equal(run_collect(&r), JT_OK);
    const char *t = run_text(&r);
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"\",task=\"\"} 90.5");
    assert_has_line(t, "cgroup_cpus{jobid=\"301\",step=\"\",task=\"\"} 7");
    assert_has_line(t, "cgroup_uid{jobid=\"301\"} 1001");
    assert_no_substring(t, "step=\"0\"");
    assert_no_substring(t, "step=\"batch\"");
    assert_true(count_substring(t, "step=\"") > 0);
    assert_int_equal(count_substring(t, "step=\""), count_substring(t, "step=\"\""));
    run_free(&r);
}

static void test_v2_rules(void **state)
{
    (void)state;
    struct run r;
    run_v2(&r, 0);
    assert_int_equal(run_collect(&r), JT_OK);
    const char *t = run_text(&r);

    /* cpu.stat in µs; memory.current; memory.max; memory.events oom; anon + swapcached, file, shmem */
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"\",task=\"\"} 90.5");
    assert_has_line(t, "cgroup_cpu_user_seconds{jobid=\"301\",step=\"\",task=\"\"} 85.25");
    assert_has_line(t, "cgroup_cpu_system_seconds{jobid=\"301\",step=\"\",task=\"\"} 5.25");
    assert_has_line(t, "cgroup_cpus{jobid=\"301\",step=\"\",task=\"\"} 7");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"301\",step=\"\",task=\"\"} 6442450944");
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"301\",step=\"\",task=\"\"} 8589934592");
    assert_has_line(t, "cgroup_memory_fail_count{jobid=\"301\",step=\"\",task=\"\"} 2");
    assert_has_line(t, "cgroup_memory_rss_bytes{jobid=\"301\",step=\"\",task=\"\"} 4296015872");
    assert_has_line(t, "cgroup_memory_cache_bytes{jobid=\"301\",step=\"\",task=\"\"} 1073741824");
    assert_has_line(t, "cgroup_memory_shmem_bytes{jobid=\"301\",step=\"\",task=\"\"} 536870912");

    /* steps batch, extern, 0, interactive; tasks under step_S/user/ */
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"batch\",task=\"\"} 2");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"extern\",task=\"\"} 0.25");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"0\",task=\"\"} 88");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"interactive\",task=\"\"} 0.06");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"0\",task=\"1\"} 37.9");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"extern\",task=\"special\"} 0.12");
    /* memory.max = max: the nearest limit above */
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"301\",step=\"batch\",task=\"\"} 8589934592");
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"301\",step=\"batch\",task=\"0\"} 8589934592");
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"301\",step=\"0\",task=\"0\"} 7516192768");
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"301\",step=\"interactive\",task=\"0\"} 1073741824");
    /* empty cpuset.cpus.effective: the parent's, then the grandparent's */
    assert_has_line(t, "cgroup_cpus{jobid=\"301\",step=\"0\",task=\"1\"} 4");
    assert_has_line(t, "cgroup_cpus{jobid=\"301\",step=\"extern\",task=\"\"} 7");
    assert_has_line(t, "cgroup_cpus{jobid=\"301\",step=\"extern\",task=\"special\"} 7");
    /* the owner from a task's process; the extern step's `sleep` (uid 0) is passed over */
    assert_has_line(t, "cgroup_uid{jobid=\"301\"} 1001");

    /* job_302: "max" all the way up -> no total; no cpuset controller -> the scope's CPUs */
    assert_no_substring(t, "cgroup_memory_total_bytes{jobid=\"302\"");
    assert_has_line(t, "cgroup_cpus{jobid=\"302\",step=\"\",task=\"\"} 16");
    assert_has_line(t, "cgroup_cpus{jobid=\"302\",step=\"0\",task=\"\"} 16");
    assert_no_substring(t, "cgroup_cpus{jobid=\"302\",step=\"0\",task=\"0\"}"); /* parent and grandparent empty */
    assert_has_line(t, "cgroup_memory_rss_bytes{jobid=\"302\",step=\"\",task=\"\"} 83886080"); /* no swapcached */
    /* its step's garbled cpu.stat: no CPU series for it, memory kept, counted once */
    assert_no_substring(t, "cgroup_cpu_total_seconds{jobid=\"302\",step=\"0\",task=\"\"}");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"302\",step=\"0\",task=\"\"} 100000000");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"302\",step=\"0\",task=\"0\"} 11");
    assert_no_substring(t, "cgroup_uid{jobid=\"302\"}"); /* its process has exited */
    assert_has_line(t, "jobtel_cgroup_parse_errors_total 1");

    /* Slurm 26.05 SLUID directory; a task without memory and cpuset controllers */
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"sABCDEFGHJKLMN\",step=\"\",task=\"\"} 3");
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"sABCDEFGHJKLMN\",step=\"0\",task=\"\"} 10485760");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"sABCDEFGHJKLMN\",step=\"0\",task=\"0\"} 2.8");
    assert_has_line(t, "cgroup_cpus{jobid=\"sABCDEFGHJKLMN\",step=\"0\",task=\"0\"} 1");
    assert_no_substring(t, "cgroup_memory_used_bytes{jobid=\"sABCDEFGHJKLMN\",step=\"0\",task=\"0\"}");
    assert_has_line(t, "cgroup_uid{jobid=\"sABCDEFGHJKLMN\"} 1003");

    /* <node>_slurmstepd.scope */
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"401\",step=\"batch\",task=\"0\"} 2147483648");
    assert_has_line(t, "cgroup_uid{jobid=\"401\"} 1004");

    /* not jobs: the scope's "system", the steps' "slurm" and "user", job_x1, sTOOSHORT */
    assert_no_substring(t, "x1");
    assert_no_substring(t, "TOOSHORT");
    assert_no_substring(t, "step=\"slurm\"");
    assert_no_substring(t, "task=\"user\"");
    assert_int_equal(count_substring(t, "cgroup_uid{"), 3);
    assert_int_equal(count_substring(t, "cgroup_cpu_total_seconds{"), 18);
    run_free(&r);
}

static void remove_tree(const char *dir, const char *only);

/* Writes `text` to dir/name, creating dir. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    mkdir(dir, 0755);
    fmt(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_v2_scope_at_root(void **state)
{
    (void)state;
    /* Without systemd the scope can sit right under the root; its limit is the job's. */
    char root[64], scope[128], job[160];
    fmt(root, sizeof root, "/tmp/jt_cgroot_XXXXXX");
    assert_non_null(mkdtemp(root));
    fmt(scope, sizeof scope, "%s/slurmstepd.scope", root);
    fmt(job, sizeof job, "%s/job_7", scope);
    put_file(root, "cgroup.controllers", "cpu memory\n");
    put_file(scope, "cgroup.procs", "");
    put_file(scope, "memory.max", "1048576\n");
    put_file(job, "cgroup.procs", "");
    put_file(job, "cpu.stat", "usage_usec 7000\nuser_usec 4000\nsystem_usec 3000\n");
    put_file(job, "memory.max", "max\n");
    struct run r;
    run_init(&r, root, "/nonexistent", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    const char *t = run_text(&r);
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"7\",step=\"\",task=\"\"} 0.007");
    assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"7\",step=\"\",task=\"\"} 1048576");
    /* files of controllers that are not enabled are absent, which is not an error */
    assert_has_line(t, "jobtel_cgroup_parse_errors_total 0");
    assert_has_line(t, "jobtel_cgroup_read_errors_total 0");
    run_free(&r);
    remove_tree(root, NULL);
}

/* A v2 job's owner is read from a task's process once and kept while the job lives: the next collection
 * needs no cgroup.procs or /proc read for it (and keeps cgroup_uid while no user process runs, between
 * steps); a job that ended is forgotten, so a later job with the same id is looked up afresh. */
static void test_v2_uid_kept_while_job_lives(void **state)
{
    (void)state;
    char root[64], scope[128], job[160], step[192], user[224], task[256], proc[64], pid[96];
    fmt(root, sizeof root, "/tmp/jt_cguid_XXXXXX");
    assert_non_null(mkdtemp(root));
    fmt(scope, sizeof scope, "%s/slurmstepd.scope", root);
    fmt(job, sizeof job, "%s/job_7", scope);
    fmt(step, sizeof step, "%s/step_0", job);
    fmt(user, sizeof user, "%s/user", step);
    fmt(task, sizeof task, "%s/task_0", user);
    fmt(proc, sizeof proc, "%s/proc", root);
    fmt(pid, sizeof pid, "%s/4242", proc);
    put_file(root, "cgroup.controllers", "cpu memory\n");
    put_file(scope, "cgroup.procs", "");
    put_file(job, "cgroup.procs", "");
    put_file(job, "cpu.stat", "usage_usec 7000\nuser_usec 4000\nsystem_usec 3000\n");
    put_file(step, "cgroup.procs", "");
    put_file(user, "cgroup.procs", "");
    put_file(task, "cgroup.procs", "4242\n");
    mkdir(proc, 0755);
    put_file(pid, "status", "Name:\tpython\nUid:\t1234\t1234\t1234\t1234\n");
    struct run r;
    run_init(&r, root, proc, 0);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_has_line(run_text(&r), "cgroup_uid{jobid=\"7\"} 1234");

    /* The process exits (the job between two steps): the owner stays. */
    put_file(task, "cgroup.procs", "");
    assert_int_equal(run_collect(&r), JT_OK);
    assert_has_line(run_text(&r), "cgroup_uid{jobid=\"7\"} 1234");

    /* The job ends; one collection without it; the id comes back with another owner's process. */
    remove_tree(job, NULL);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_no_substring(run_text(&r), "cgroup_uid{");
    put_file(job, "cgroup.procs", "");
    put_file(job, "cpu.stat", "usage_usec 7000\nuser_usec 4000\nsystem_usec 3000\n");
    put_file(step, "cgroup.procs", "");
    put_file(user, "cgroup.procs", "");
    put_file(task, "cgroup.procs", "4242\n");
    put_file(pid, "status", "Name:\tpython\nUid:\t5678\t5678\t5678\t5678\n");
    assert_int_equal(run_collect(&r), JT_OK);
    assert_has_line(run_text(&r), "cgroup_uid{jobid=\"7\"} 5678");
    run_free(&r);
    remove_tree(root, NULL);
}

/* --- roots without Slurm --- */

static void test_missing_root_is_not_an_error(void **state)
{
    (void)state;
    struct run r;
    run_init(&r, "/nonexistent/cgroup", "/nonexistent", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_no_substring(run_text(&r), "jobid");
    assert_has_line(run_text(&r), "jobtel_cgroup_parse_errors_total 0");
    run_free(&r);
}

static void test_forced_version_reads_only_that_layout(void **state)
{
    (void)state;
    /* The v2 tree read as v1 has no controller directories: no jobs, no error. */
    struct run r;
    run_v2(&r, 1);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_no_substring(run_text(&r), "jobid");
    run_free(&r);

    char root[1024];
    fixture_path(root, sizeof root, "cgroup_v1");
    run_init(&r, root, "/nonexistent", 2);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_no_substring(run_text(&r), "jobid");
    run_free(&r);
}

static void test_error_counter_persists(void **state)
{
    (void)state;
    char root[1024];
    fixture_path(root, sizeof root, "cgroup_v1");
    struct run r;
    run_init(&r, root, "/nonexistent", 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(run_collect(&r), JT_OK);
        char want[64];
        snprintf(want, sizeof want, "jobtel_cgroup_parse_errors_total %d", i);
        assert_has_line(run_text(&r), want);
    }
    run_free(&r);
}

static void test_real_host_tree(void **state)
{
    (void)state;
    /* Whatever this machine has: a collection must succeed and never invent a parse error. */
    struct run r;
    run_init(&r, "/sys/fs/cgroup", "/proc", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_has_line(run_text(&r), "jobtel_cgroup_parse_errors_total 0");
    run_free(&r);
}

/* --- churn: job cgroups appear and vanish while the collector walks --- */

struct churn {
    char root[256];     /* a copy of a fixture tree */
    char stage[256];    /* where new jobs are built before they appear */
    char scope[512];    /* the slurmstepd scope the jobs come and go in */
    atomic_int stop;
    atomic_ulong cycles;
    pthread_t thread;
    bool running;
};

/* Copies the directory tree `src` to `dst` (files are small). */
static bool copy_tree(const char *src, const char *dst)
{
    if (mkdir(dst, 0755) != 0)
        return false;
    DIR *d = opendir(src);
    if (!d)
        return false;
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char s2[1024], d2[1024];
        fmt(s2, sizeof s2, "%s/%s", src, de->d_name);
        fmt(d2, sizeof d2, "%s/%s", dst, de->d_name);
        if (de->d_type == DT_DIR) {
            ok = copy_tree(s2, d2);
            continue;
        }
        struct buf b;
        buf_init(&b, 1u << 20);
        ok = file_read(s2, b.max, &b) == JT_OK;
        int fd = ok ? open(d2, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;
        ok = fd >= 0 && write(fd, buf_str(&b), b.len) == (ssize_t)b.len;
        if (fd >= 0)
            close(fd);
        buf_free(&b);
    }
    closedir(d);
    return ok;
}

/* Removes files called `only` (all files when NULL) below `dir`, and with only == NULL the directories
 * too, deepest first. */
static void remove_tree(const char *dir, const char *only)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[1024];
        fmt(p, sizeof p, "%s/%s", dir, de->d_name);
        if (de->d_type == DT_DIR)
            remove_tree(p, only);
        else if (!only || strcmp(de->d_name, only) == 0)
            unlink(p);
    }
    closedir(d);
    if (!only)
        rmdir(dir);
}

/* Removes a job the way the kernel makes it look to a reader: every cgroup.procs first, so a reader
 * that meets a missing file also finds cgroup.procs gone. New jobs are built aside and renamed in,
 * so they appear whole, as a kernel cgroup does. */
static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    char tmpl[1024], src[1024], dst[1024];
    /* job_301 of the fixture is the template: it appears as job_9000+k and vanishes again. */
    fmt(tmpl, sizeof tmpl, "%s/job_301", c->scope);
    for (unsigned long k = 0; !atomic_load(&c->stop); k++) {
        unsigned long id = 9000 + k % 7;
        fmt(dst, sizeof dst, "%s/job_%lu", c->scope, id);
        if (access(dst, F_OK) == 0) {
            remove_tree(dst, "cgroup.procs");
            remove_tree(dst, NULL);
        } else {
            fmt(src, sizeof src, "%s/job_%lu", c->stage, id);
            remove_tree(src, NULL);
            if (!copy_tree(tmpl, src) || rename(src, dst) != 0)
                fprintf(stderr, "churn: cannot create %s\n", dst);
        }
        atomic_fetch_add(&c->cycles, 1);
    }
    return NULL;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A job's series are all there or none is: each of the given label sets has 0 or `per_set` lines. */
static void assert_whole(const char *text, const char *jobid, const char *const *sets, size_t nsets,
                         const size_t *per_set)
{
    for (size_t i = 0; i < nsets; i++) {
        char needle[256];
        fmt(needle, sizeof needle, "{jobid=\"%s\",%s}", jobid, sets[i]);
        size_t n = count_substring(text, needle);
        if (n != 0 && n != per_set[i])
            fail_msg("partial series for %s: %zu of %zu lines", needle, n, per_set[i]);
    }
}

/* The churn tree lives in a temp dir that teardown removes, also after a failed assertion. */
static int churn_setup(void **state)
{
    struct churn *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    *state = c;
    /* tmpfs when there is one: in memory, like cgroupfs, and fast enough for the churn to keep up. */
    fmt(c->root, sizeof c->root, "%s/jt_cgchurn_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(c->root))
        return -1;
    fmt(c->stage, sizeof c->stage, "%s/stage", c->root);
    fmt(c->scope, sizeof c->scope, "%s/tree/system.slice/slurmstepd.scope", c->root);
    char src[1024], tree[512];
    fixture_path(src, sizeof src, "cgroup_v2");
    fmt(tree, sizeof tree, "%s/tree", c->root);
    return copy_tree(src, tree) && mkdir(c->stage, 0755) == 0 ? 0 : -1;
}

static int churn_teardown(void **state)
{
    struct churn *c = *state;
    if (c->running) {
        atomic_store(&c->stop, 1);
        pthread_join(c->thread, NULL);
    }
    remove_tree(c->root, NULL);
    free(c);
    return 0;
}

static void test_churn(void **state)
{
    struct churn *c = *state;
    char tree[512], procfs[1024];
    fmt(tree, sizeof tree, "%s/tree", c->root);
    fixture_path(procfs, sizeof procfs, "cgroup_procfs");

    struct run r;
    run_init(&r, tree, procfs, 0);
    /* Warm up once so buffers that are kept across collections do not count as a leak below. */
    assert_int_equal(run_collect(&r), JT_OK);
    int fds = count_fds();

    assert_int_equal(pthread_create(&c->thread, NULL, churn_thread, c), 0);
    c->running = true;
    static const char *const sets[] = {"step=\"\",task=\"\"", "step=\"0\",task=\"\"", "step=\"0\",task=\"0\"",
                                       "step=\"batch\",task=\"0\""};
    /* cgroup_exporter's ten series and jobtel_cgroup_memory_peak_bytes (the template has memory.peak) */
    static const size_t per_set[] = {11, 11, 11, 11};
    unsigned seen = 0;
    /* At least 1000 collections, and on until the churn has gone round often enough (its pace depends
     * on the machine); bounded in case it stalls. */
    int i;
    for (i = 0; i < 1000 || (atomic_load(&c->cycles) < 200 && i < 100000); i++) {
        assert_int_equal(run_collect(&r), JT_OK);
        const char *t = run_text(&r);
        for (unsigned id = 9000; id < 9007; id++) {
            char jobid[16];
            fmt(jobid, sizeof jobid, "%u", id);
            assert_whole(t, jobid, sets, 4, per_set);
            char uid[64];
            fmt(uid, sizeof uid, "cgroup_uid{jobid=\"%u\"}", id);
            seen += strstr(t, uid) != NULL;
        }
        /* The fixture's one garbled file, once per collection; churn adds none. */
        char want[64];
        fmt(want, sizeof want, "jobtel_cgroup_parse_errors_total %d", i + 2);
        assert_has_line(t, want);
        assert_has_line(t, "jobtel_cgroup_read_errors_total 0");
        /* The fixture's own jobs are never disturbed. */
        assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"\",task=\"\"} 90.5");
    }
    atomic_store(&c->stop, 1);
    pthread_join(c->thread, NULL);
    c->running = false;
    assert_int_equal(count_fds(), fds);
    /* The churn was real: jobs came and went under the walk. */
    assert_true(atomic_load(&c->cycles) >= 200);
    assert_true(seen > 0);
    run_free(&r);
}

/* --- peaks, FIFOs, overflows, one job under two scopes --- */

static void test_peaks_from_the_kernel(void **state)
{
    (void)state;
    /* The kernel's high-water mark, not a sample: right however rarely we collect. */
    char root[1024];
    fixture_path(root, sizeof root, "cgroup_v1");
    struct run r;
    run_init(&r, root, "/nonexistent", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_has_line(run_text(&r), "jobtel_cgroup_memory_peak_bytes{jobid=\"101\",step=\"\",task=\"\"} 1610616832");
    run_free(&r);

    run_v2(&r, 0);
    assert_int_equal(run_collect(&r), JT_OK);
    const char *t = run_text(&r);
    assert_has_line(t, "jobtel_cgroup_memory_peak_bytes{jobid=\"301\",step=\"\",task=\"\"} 8053063680");
    assert_has_line(t, "jobtel_cgroup_memory_peak_bytes{jobid=\"401\",step=\"batch\",task=\"0\"} 1625000");
    /* a kernel without memory.peak (before 5.19): no series, and not taken for a vanished cgroup */
    assert_no_substring(t, "jobtel_cgroup_memory_peak_bytes{jobid=\"302\"");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"302\",step=\"\",task=\"\"} 104857600");
    run_free(&r);
}

/* A private copy of a fixture tree, removed by the caller with remove_tree(dir, NULL). */
static void copy_fixture(const char *name, char *dir, size_t n)
{
    fmt(dir, n, "%s/jt_cgcopy_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(dir));
    char src[1024], dst[1100];
    fixture_path(src, sizeof src, name);
    fmt(dst, sizeof dst, "%s/t", dir);
    assert_true(copy_tree(src, dst));
}

/* Replaces dir/rel with a FIFO. */
static void make_fifo(const char *dir, const char *rel)
{
    char p[2048];
    fmt(p, sizeof p, "%s/t/%s", dir, rel);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkfifo(p, 0644), 0);
}

static void test_fifo_never_blocks(void **state)
{
    (void)state;
    /* Without O_NONBLOCK the open of a FIFO with no writer blocks for good: this alarm turns that hang
     * into a failure instead of a stuck test run. */
    alarm(120);
    char dir[256], root[300];
    copy_fixture("cgroup_v2", dir, sizeof dir);
    make_fifo(dir, "system.slice/slurmstepd.scope/job_301/memory.stat");
    make_fifo(dir, "system.slice/slurmstepd.scope/job_301/step_0/user/task_0/cgroup.procs");
    make_fifo(dir, "system.slice/node2_slurmstepd.scope/job_401/cpu.stat");
    fmt(root, sizeof root, "%s/t", dir);
    char procfs[1024];
    fixture_path(procfs, sizeof procfs, "cgroup_procfs");
    struct run r;
    run_init(&r, root, procfs, 0);
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(run_collect(&r), JT_OK);
        const char *t = run_text(&r);
        char want[64];
        /* Three FIFOs refused per collection, except task_0's cgroup.procs in the second: job 301's owner,
         * found through task_1 in the first, is remembered, so no task's processes are read again. */
        fmt(want, sizeof want, "jobtel_cgroup_read_errors_total %d", i == 1 ? 3 : 5);
        assert_has_line(t, want);
        /* the FIFOs' series are missing, the rest of those jobs and every other job are whole */
        assert_no_substring(t, "cgroup_memory_rss_bytes{jobid=\"301\",step=\"\",task=\"\"}");
        assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"301\",step=\"\",task=\"\"} 90.5");
        assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"301\",step=\"\",task=\"\"} 6442450944");
        assert_no_substring(t, "cgroup_cpu_total_seconds{jobid=\"401\",step=\"\",task=\"\"}");
        assert_has_line(t, "cgroup_memory_total_bytes{jobid=\"401\",step=\"batch\",task=\"0\"} 2147483648");
        assert_has_line(t, "cgroup_memory_rss_bytes{jobid=\"302\",step=\"\",task=\"\"} 83886080");
        assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"sABCDEFGHJKLMN\",step=\"\",task=\"\"} 3");
        assert_has_line(t, "cgroup_uid{jobid=\"301\"} 1001"); /* from task_1, past the FIFO of task_0 */
    }
    run_free(&r);

    /* v1, and a FIFO that a writer holds open (its open would not block, its read would) */
    char dir1[256], root1[300], fifo[2048];
    copy_fixture("cgroup_v1", dir1, sizeof dir1);
    make_fifo(dir1, "memory/slurm/uid_1000/job_101/memory.stat");
    fmt(fifo, sizeof fifo, "%s/t/memory/slurm/uid_1000/job_101/memory.stat", dir1);
    int wfd = open(fifo, O_RDWR | O_NONBLOCK); /* a reader and writer of its own: never blocks */
    assert_true(wfd >= 0);
    fmt(root1, sizeof root1, "%s/t", dir1);
    run_init(&r, root1, "/nonexistent", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    const char *t = run_text(&r);
    assert_has_line(t, "jobtel_cgroup_read_errors_total 1");
    assert_no_substring(t, "cgroup_memory_rss_bytes{jobid=\"101\",step=\"\",task=\"\"}");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"101\",step=\"\",task=\"\"} 1610612736");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"102\",step=\"\",task=\"\"} 7.25");
    run_free(&r);
    close(wfd);
    alarm(0);
    remove_tree(dir, NULL);
    remove_tree(dir1, NULL);
}

/* A v2 job directory with the given files. */
static void put_job(const char *root, const char *scope, const char *job, const char *cpu_stat,
                    const char *mem_current)
{
    char d[512];
    fmt(d, sizeof d, "%s/system.slice", root);
    put_file(d, "cgroup.procs", "");
    fmt(d, sizeof d, "%s/system.slice/%s", root, scope);
    put_file(d, "cgroup.procs", "");
    fmt(d, sizeof d, "%s/system.slice/%s/%s", root, scope, job);
    put_file(d, "cgroup.procs", "");
    put_file(d, "cpu.stat", cpu_stat);
    if (mem_current)
        put_file(d, "memory.current", mem_current);
    put_file(d, "memory.stat", "anon 1000\nfile 10\nshmem 0\n");
    fmt(d, sizeof d, "%s/system.slice/%s/%s/step_0", root, scope, job);
    put_file(d, "cgroup.procs", "");
    put_file(d, "cpu.stat", cpu_stat);
}

static void test_job_under_two_scopes_is_summed(void **state)
{
    (void)state;
    char root[64];
    fmt(root, sizeof root, "/tmp/jt_cgdup_XXXXXX");
    assert_non_null(mkdtemp(root));
    put_file(root, "cgroup.controllers", "cpu memory\n");
    /* Two slurmd on one host each ran a part of job 5 (and of the SLUID job); job 6 is only on one. */
    put_job(root, "slurmstepd.scope", "job_5", "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n",
            "1000\n");
    put_job(root, "node2_slurmstepd.scope", "job_5", "usage_usec 500000\nuser_usec 250000\nsystem_usec 250000\n",
            NULL);
    put_job(root, "node2_slurmstepd.scope", "job_6", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n", "7\n");
    put_job(root, "slurmstepd.scope", "s5K1KKYAYG5D00", "usage_usec 1000000\nuser_usec 1000000\nsystem_usec 0\n",
            "10\n");
    put_job(root, "node2_slurmstepd.scope", "s5K1KKYAYG5D00",
            "usage_usec 1000000\nuser_usec 1000000\nsystem_usec 0\n", "20\n");
    /* sums beyond 64 bits are left out and counted, not wrapped */
    put_job(root, "slurmstepd.scope", "job_7", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n",
            "18446744073709551615\n");
    put_job(root, "node2_slurmstepd.scope", "job_7", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n", "1\n");
    struct run r;
    run_init(&r, root, "/nonexistent", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    const char *t = run_text(&r);
    assert_int_equal(count_substring(t, "cgroup_cpu_total_seconds{jobid=\"5\",step=\"\",task=\"\"}"), 1);
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"5\",step=\"\",task=\"\"} 3.5");
    assert_has_line(t, "cgroup_cpu_user_seconds{jobid=\"5\",step=\"\",task=\"\"} 2.25");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"5\",step=\"0\",task=\"\"} 3.5");
    assert_has_line(t, "cgroup_memory_rss_bytes{jobid=\"5\",step=\"\",task=\"\"} 2000");
    /* known under one scope only: a sum would be made up */
    assert_no_substring(t, "cgroup_memory_used_bytes{jobid=\"5\"");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"6\",step=\"\",task=\"\"} 7");
    assert_has_line(t, "cgroup_memory_used_bytes{jobid=\"s5K1KKYAYG5D00\",step=\"\",task=\"\"} 30");
    assert_int_equal(count_substring(t, "cgroup_cpu_total_seconds{jobid=\"s5K1KKYAYG5D00\",step=\"\""), 1);
    assert_no_substring(t, "cgroup_memory_used_bytes{jobid=\"7\"");
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"7\",step=\"\",task=\"\"} 2e-06");
    assert_has_line(t, "jobtel_cgroup_parse_errors_total 1");
    run_free(&r);
    remove_tree(root, NULL);

    /* v1: slurm/ and slurm_<node>/ */
    fmt(root, sizeof root, "/tmp/jt_cgdup_XXXXXX");
    assert_non_null(mkdtemp(root));
    static const char *const bases[] = {"slurm", "slurm_n2"};
    for (int b = 0; b < 2; b++) {
        char d[512];
        fmt(d, sizeof d, "%s/cpuacct", root);
        mkdir(d, 0755);
        fmt(d, sizeof d, "%s/cpuacct/%s", root, bases[b]);
        mkdir(d, 0755);
        fmt(d, sizeof d, "%s/cpuacct/%s/uid_1000", root, bases[b]);
        mkdir(d, 0755);
        fmt(d, sizeof d, "%s/cpuacct/%s/uid_1000/job_9", root, bases[b]);
        put_file(d, "cgroup.procs", "");
        put_file(d, "cpuacct.usage_all", "cpu user system\n0 1000000000 0\n");
    }
    run_init(&r, root, "/nonexistent", 0);
    assert_int_equal(run_collect(&r), JT_OK);
    t = run_text(&r);
    assert_int_equal(count_substring(t, "cgroup_cpu_total_seconds{jobid=\"9\""), 1);
    assert_has_line(t, "cgroup_cpu_total_seconds{jobid=\"9\",step=\"\",task=\"\"} 2");
    assert_int_equal(count_substring(t, "cgroup_uid{jobid=\"9\"}"), 1);
    run_free(&r);
    remove_tree(root, NULL);
}

/* The collector hands each job's figures to the accounting's CPU timelines (cgroup_readings.h): the
 * points' integral is the CPU seconds' delta of the job cgroup's cpu.stat between two collections,
 * whatever time passed between them, and the memory is the job's anon (RSS). A job gone from the tree
 * has ended. */
static void test_feeds_cpu_timeline(void **state)
{
    (void)state;
    char root[64];
    fmt(root, sizeof root, "/tmp/jt_cgtl_XXXXXX");
    assert_non_null(mkdtemp(root));
    put_file(root, "cgroup.controllers", "cpu memory\n");
    put_job(root, "slurmstepd.scope", "job_5", "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n",
            "4096\n");
    struct run r;
    run_init(&r, root, "/nonexistent", 0);
    r.cfg.acct = job_acct_new(NULL, 5, 3600, 16);
    assert_non_null(r.cfg.acct);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_int_equal(r.cfg.acct->ncpu, 1);
    assert_int_equal(r.cfg.acct->cpu[0].tl.n, 0); /* the first reading is a baseline */
    put_job(root, "slurmstepd.scope", "job_5", "usage_usec 5500000\nuser_usec 4000000\nsystem_usec 1500000\n",
            "4096\n");
    assert_int_equal(run_collect(&r), JT_OK);
    const struct acct_cpu_record *c = &r.cfg.acct->cpu[0];
    assert_string_equal(c->jobid, "5");
    assert_int_equal(c->tl.n, 1);
    assert_true(fabs((double)c->tl.p[0].sum[TL_CPU_CORES] - 2.5) < 1e-5);
    assert_true(fabs((double)(c->tl.p[0].sum[TL_CPU_MEM] / c->tl.p[0].w[TL_CPU_MEM]) - 1000 / 1073741824.0) < 1e-9);
    assert_false(c->ended);
    char d[512];
    fmt(d, sizeof d, "%s/system.slice/slurmstepd.scope", root);
    remove_tree(d, NULL);
    assert_int_equal(run_collect(&r), JT_OK);
    assert_true(r.cfg.acct->cpu[0].ended);
    job_acct_free(r.cfg.acct);
    run_free(&r);
    remove_tree(root, NULL);
}

/* --- driver for the live test and the benchmark --- */

static int drive(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s --collect CGROUPFS [PROCFS [VERSION [REPEAT]]]\n", argv[0]);
        return 2;
    }
    log_setup(LOG_LVL_WARN, "test_cgroup_collect", false);
    struct exporter_config cfg;
    config_defaults(&cfg);
    cfg.path_cgroupfs = argv[2];
    if (argc > 3)
        cfg.path_procfs = argv[3];
    int64_t version = 0, repeat = 1;
    if ((argc > 4 && (!cstr_to_i64(argv[4], &version) || version < 0 || version > 2)) ||
        (argc > 5 && (!cstr_to_i64(argv[5], &repeat) || repeat < 1 || repeat > 1000000))) {
        fprintf(stderr, "%s: VERSION is 0, 1 or 2; REPEAT a positive count\n", argv[0]);
        return 2;
    }
    cfg.cgroup_version = (int)version;
    void *st;
    if (collector_cgroup.init(&cfg, &st) != JT_OK)
        return 1;
    struct buf out;
    buf_init(&out, 256u << 20);
    enum jt_err e = JT_OK;
    double total = 0, worst = 0, cpu = 0;
    for (int64_t i = 0; i < repeat; i++) {
        struct expo w;
        expo_init(&w, 256u << 20);
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double t0 = mono_now();
        e = collector_cgroup.collect(st, &w);
        double dt = mono_now() - t0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        cpu += (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
        total += dt;
        worst = dt > worst ? dt : worst;
        buf_reset(&out);
        expo_render(&w, &out);
        if (w.err != JT_OK)
            e = w.err;
        expo_free(&w);
    }
    fputs(buf_str(&out), stdout);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "collections=%lld mean_ms=%.3f cpu_ms=%.3f max_ms=%.3f maxrss_kb=%ld status=%s\n",
            (long long)repeat, total / (double)repeat * 1e3, cpu / (double)repeat * 1e3, worst * 1e3, ru.ru_maxrss,
            jt_strerror(e));
    buf_free(&out);
    collector_cgroup.shutdown(st);
    return e == JT_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--collect") == 0)
        return drive(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_golden),
        cmocka_unit_test(test_v1_rules),
        cmocka_unit_test(test_v2_golden),
        cmocka_unit_test(test_v2_jobs_only),
        cmocka_unit_test(test_v2_rules),
        cmocka_unit_test(test_v2_scope_at_root),
        cmocka_unit_test(test_v2_uid_kept_while_job_lives),
        cmocka_unit_test(test_missing_root_is_not_an_error),
        cmocka_unit_test(test_forced_version_reads_only_that_layout),
        cmocka_unit_test(test_error_counter_persists),
        cmocka_unit_test(test_real_host_tree),
        cmocka_unit_test_setup_teardown(test_churn, churn_setup, churn_teardown),
        cmocka_unit_test(test_peaks_from_the_kernel),
        cmocka_unit_test(test_fifo_never_blocks),
        cmocka_unit_test(test_job_under_two_scopes_is_summed),
        cmocka_unit_test(test_feeds_cpu_timeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
