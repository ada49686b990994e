/* test_exporter_config.c - `jobtel exporter` flags: every spelling, alias, default and usage error
 * the docs promise, so the parser can be rewritten without a flag changing behaviour; and
 * --path.sysfs, a no-op that says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "capture.h"
#include "collectors/collector.h"
#include "exporter/config.h"

/* Parses argv (NULL-terminated, without the program name) with stdout and stderr captured into *out
 * (malloc'd). Returns the parser's code. */
static enum jt_err parse(struct exporter_config *cfg, bool *exit_now, char **out, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"exporter";
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    struct capture c;
    capture_begin(&c);
    config_defaults(cfg);
    enum jt_err e = config_parse(cfg, argc, argv, exit_now);
    *out = capture_end(&c);
    return e;
}

#define PARSE_OK(cfg, ...)                                                                                   \
    do {                                                                                                     \
        static const char *const a_[] = {__VA_ARGS__, NULL};                                                 \
        bool x_;                                                                                             \
        char *o_;                                                                                            \
        assert_int_equal(parse(cfg, &x_, &o_, a_), JT_OK);                                                   \
        assert_false(x_);                                                                                    \
        free(o_);                                                                                            \
    } while (0)

/* A usage error whose message contains `want`. */
static void expect_usage(const char *want, const char *const *args)
{
    struct exporter_config cfg;
    bool x;
    char *o;
    assert_int_equal(parse(&cfg, &x, &o, args), JT_ERR_USAGE);
    if (!strstr(o, want))
        fail_msg("want \"%s\" in \"%s\"", want, o);
    free(o);
}
#define USAGE(want, ...)                                                                                     \
    do {                                                                                                     \
        static const char *const a_[] = {__VA_ARGS__, NULL};                                                 \
        expect_usage(want, a_);                                                                              \
    } while (0)

static void test_defaults(void **state)
{
    (void)state;
    struct exporter_config c;
    static const char *const none[] = {NULL};
    bool x;
    char *o;
    assert_int_equal(parse(&c, &x, &o, none), JT_OK);
    free(o);
    assert_string_equal(c.listen_address, ":9400");
    assert_string_equal(c.telemetry_path, "/metrics");
    assert_true(c.collect_interval_s == 1.0);
    assert_true(c.stale_after_s == 3.0);
    assert_null(c.counters_file);
    assert_string_equal(c.nvml_library, "libnvidia-ml.so.1");
    assert_true(c.gpu_dcgm_names && c.gpu_jobstats_names && c.gpu_xid_events);
    assert_false(c.replace_blanks_in_model_name);
    assert_false(c.kubernetes);
    assert_string_equal(c.hpc_job_mapping_dir, "/run/dcgm-job-map");
    assert_string_equal(c.gpustat_dir, "/run/gpustat");
    assert_string_equal(c.path_procfs, "/proc");
    assert_string_equal(c.path_cgroupfs, "/sys/fs/cgroup");
    assert_int_equal(c.cgroup_version, 0);
    assert_true(c.cgroup_steps);
    assert_int_equal(c.gpu_job_labels, GPU_JOB_LABELS_ALL);
    assert_int_equal(c.gpu_fields, GPU_FIELDS_FULL);
    assert_int_equal(c.log_level, LOG_LVL_INFO);
    for (int i = 0; i < CONFIG_MAX_COLLECTORS; i++)
        assert_int_equal(c.collector_enabled[i], -1);
}

static void test_values_both_spellings_and_aliases(void **state)
{
    (void)state;
    struct exporter_config c;
    PARSE_OK(&c, "--web.listen-address=127.0.0.1:1", "--web.telemetry-path", "/m", "-f", "a.csv");
    assert_string_equal(c.listen_address, "127.0.0.1:1");
    assert_string_equal(c.telemetry_path, "/m");
    assert_string_equal(c.counters_file, "a.csv");
    PARSE_OK(&c, "--address", "h:2", "--collectors=b.csv");
    assert_string_equal(c.listen_address, "h:2");
    assert_string_equal(c.counters_file, "b.csv");
    PARSE_OK(&c, "--address=h:3");
    assert_string_equal(c.listen_address, "h:3");
    PARSE_OK(&c, "-a", "h:4");
    assert_string_equal(c.listen_address, "h:4");
    PARSE_OK(&c, "-a=:9500");
    assert_string_equal(c.listen_address, ":9500");
    PARSE_OK(&c, "-c", "500");
    assert_true(c.collect_interval_s == 0.5);
    assert_true(c.stale_after_s == 3.0);
    PARSE_OK(&c, "--collect-interval=2000");
    assert_true(c.collect_interval_s == 2.0);
    assert_true(c.stale_after_s == 6.0);
    PARSE_OK(&c, "--collect.interval=250ms", "--collect.stale-after", "2m");
    assert_true(c.collect_interval_s == 0.25);
    assert_true(c.stale_after_s == 120.0);
    PARSE_OK(&c, "--collector.cgroup.version", "2", "--log.level=debug", "--collector.gpu.nvml-library=/x.so");
    assert_int_equal(c.cgroup_version, 2);
    assert_int_equal(c.log_level, LOG_LVL_DEBUG);
    assert_string_equal(c.nvml_library, "/x.so");
    PARSE_OK(&c, "--log.level", "warning", "--path.procfs=/p", "--path.cgroupfs", "/c");
    assert_int_equal(c.log_level, LOG_LVL_WARN);
    assert_string_equal(c.path_procfs, "/p");
    assert_string_equal(c.path_cgroupfs, "/c");
    PARSE_OK(&c, "--hpc-job-mapping-dir=", "--slurm.gpustat-dir", "");
    assert_null(c.hpc_job_mapping_dir);
    assert_null(c.gpustat_dir);
    PARSE_OK(&c, "--kubernetes.pod-resources-socket=/s", "--kubernetes.resource-names", "a,b");
    assert_string_equal(c.pod_resources_socket, "/s");
    assert_string_equal(c.kubernetes_resource_names, "a,b");
    PARSE_OK(&c, "--hostname=h1");
    assert_string_equal(c.hostname, "h1");
    PARSE_OK(&c, "--hostname=h1", "-n");
    assert_null(c.hostname);
    PARSE_OK(&c, "--no-hostname");
    assert_null(c.hostname);
}

static void test_booleans(void **state)
{
    (void)state;
    struct exporter_config c;
    PARSE_OK(&c, "--no-collector.gpu.dcgm-names", "--collector.gpu.jobstats-names=false", "-rbmn", "-k");
    assert_false(c.gpu_dcgm_names);
    assert_false(c.gpu_jobstats_names);
    assert_true(c.replace_blanks_in_model_name);
    assert_true(c.kubernetes);
    PARSE_OK(&c, "--no-collector.gpu.xid-events=false", "--kubernetes=true", "--replace-blanks-in-model-name");
    assert_true(c.gpu_xid_events); /* --no-x=false is x */
    assert_true(c.kubernetes);
    assert_true(c.replace_blanks_in_model_name);
    PARSE_OK(&c, "--no-kubernetes", "--no-replace-blanks-in-model-name", "--collector.gpu.xid-events=false");
    assert_false(c.kubernetes);
    assert_false(c.replace_blanks_in_model_name);
    assert_false(c.gpu_xid_events);
}

/* The series budget switches (docs/scaling.md). */
static void test_series_budget_switches(void **state)
{
    (void)state;
    struct exporter_config c;
    PARSE_OK(&c, "--collector.gpu.job-labels=info", "--collector.gpu.fields", "minimal", "--no-collector.cgroup.steps");
    assert_int_equal(c.gpu_job_labels, GPU_JOB_LABELS_INFO);
    assert_int_equal(c.gpu_fields, GPU_FIELDS_MINIMAL);
    assert_false(c.cgroup_steps);
    PARSE_OK(&c, "--collector.gpu.job-labels", "all", "--collector.gpu.fields=full");
    assert_int_equal(c.gpu_job_labels, GPU_JOB_LABELS_ALL);
    assert_int_equal(c.gpu_fields, GPU_FIELDS_FULL);
    USAGE("want one of all, info", "--collector.gpu.job-labels=some");
    USAGE("want one of full, minimal", "--collector.gpu.fields=tiny");
}

static void test_collector_switches(void **state)
{
    (void)state;
    struct exporter_config c;
    int gpu = collector_find("gpu"), cg = collector_find("cgroup");
    assert_true(gpu >= 0 && cg >= 0);
    PARSE_OK(&c, "--no-collector.gpu", "--collector.cgroup");
    assert_int_equal(c.collector_enabled[gpu], 0);
    assert_int_equal(c.collector_enabled[cg], 1);
    PARSE_OK(&c, "--no-collector.cgroup");
    assert_int_equal(c.collector_enabled[cg], 0);
    assert_int_equal(c.collector_enabled[gpu], -1);
}

static void test_usage_errors(void **state)
{
    (void)state;
    USAGE("unknown option '--bogus'", "--bogus");
    USAGE("unknown option '-z'", "-z");
    USAGE("unknown option 'stray'", "stray");
    USAGE("unknown option '--no-collector.nosuch'", "--no-collector.nosuch");
    USAGE("unknown option '--no-hostname-x'", "--no-hostname-x");
    USAGE("unknown option '--no-web.listen-address'", "--no-web.listen-address");
    USAGE("option '-f' needs a value", "-f");
    USAGE("option '--web.listen-address' needs a value", "--web.listen-address");
    USAGE("invalid value 'x' for '--collect.interval=x'", "--collect.interval=x");
    USAGE("invalid value 'soon' for '--collect.stale-after'", "--collect.stale-after", "soon");
    USAGE("invalid value '-5' for '-c'", "-c", "-5");
    USAGE("invalid value '86400001' for '-c'", "-c", "86400001");
    USAGE("invalid value 'yes' for '--kubernetes=yes'", "--kubernetes=yes");
    USAGE("invalid value 'loud' for '--log.level=loud'", "--log.level=loud");
    USAGE("invalid value '1000001' for '--collector.cgroup.version'", "--collector.cgroup.version", "1000001");
    USAGE("--collector.cgroup.version must be 1 or 2", "--collector.cgroup.version=3");
    USAGE("collection interval must be between 10ms and 1h", "--collect.interval=5ms");
    USAGE("collection interval must be between 10ms and 1h", "-c", "3600001");
    USAGE("--web.telemetry-path must start with '/'", "--web.telemetry-path=metrics");
}

static void test_help_and_version(void **state)
{
    (void)state;
    struct exporter_config c;
    bool x;
    char *o;
    static const char *const h[] = {"--help", "--bogus", NULL};
    assert_int_equal(parse(&c, &x, &o, h), JT_OK);
    assert_true(x);
    assert_non_null(strstr(o, "Usage: jobtel exporter"));
    assert_non_null(strstr(o, "--web.listen-address"));
    assert_non_null(strstr(o, "--[no-]collector.gpu.dcgm-names"));
    assert_non_null(strstr(o, "Exit codes:"));
    free(o);
    static const char *const hs[] = {"-h", NULL};
    assert_int_equal(parse(&c, &x, &o, hs), JT_OK);
    assert_true(x);
    free(o);
    static const char *const v[] = {"--version", NULL};
    assert_int_equal(parse(&c, &x, &o, v), JT_OK);
    assert_true(x);
    assert_non_null(strstr(o, "version " JOBTEL_VERSION));
    free(o);
}

/* Nothing reads sysfs but the cgroup tree: the flag is kept so old unit files start, and says so. */
static void test_path_sysfs_is_a_noop_that_warns(void **state)
{
    (void)state;
    struct exporter_config c;
    bool x;
    char *o;
    static const char *const a[] = {"--path.sysfs=/nonexistent", "-f", "x.csv", NULL};
    assert_int_equal(parse(&c, &x, &o, a), JT_OK);
    assert_non_null(strstr(o, "--path.sysfs is deprecated and has no effect"));
    assert_string_equal(c.counters_file, "x.csv");
    free(o);
    static const char *const b[] = {"--path.sysfs", "/s", "-n", NULL};
    assert_int_equal(parse(&c, &x, &o, b), JT_OK);
    assert_non_null(strstr(o, "--path.sysfs is deprecated and has no effect"));
    assert_null(c.hostname); /* the value was consumed, -n still parsed */
    free(o);
    static const char *const h[] = {"--help", NULL};
    assert_int_equal(parse(&c, &x, &o, h), JT_OK);
    assert_non_null(strstr(o, "no effect"));
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values_both_spellings_and_aliases),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_series_budget_switches),
        cmocka_unit_test(test_collector_switches),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_path_sysfs_is_a_noop_that_warns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
