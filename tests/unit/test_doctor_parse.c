/* test_doctor_parse.c - what `jobtel doctor` reads from slurm.conf, /metrics and plain HTTP answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "doctor/doctor.h"

static void test_slurm_conf_keys(void **state)
{
    (void)state;
    const char *conf = "ClusterName=c\n"
                       "# Prolog=/commented\n"
                       "  prolog = /etc/slurm/prolog.d/*   # the glob form\n"
                       "PrologSlurmctld=/not/this\n"
                       "Epilog=\"/etc/slurm/epilog with space.sh\"\n"
                       "EpilogSlurmctld=/first\n"
                       "EpilogSlurmctld=/last\n";
    char v[256];
    assert_true(doctor_slurm_conf_value(conf, "Prolog", v, sizeof v));
    assert_string_equal(v, "/etc/slurm/prolog.d/*");
    assert_true(doctor_slurm_conf_value(conf, "Epilog", v, sizeof v));
    assert_string_equal(v, "/etc/slurm/epilog with space.sh");
    assert_true(doctor_slurm_conf_value(conf, "EpilogSlurmctld", v, sizeof v));
    assert_string_equal(v, "/last");
    assert_false(doctor_slurm_conf_value(conf, "TaskPlugin", v, sizeof v));
    assert_false(doctor_slurm_conf_value("# Epilog=/x\nEpilogX=/y\n", "Epilog", v, sizeof v));
    char tiny[4];
    assert_false(doctor_slurm_conf_value("Prolog=/much/too/long\n", "Prolog", tiny, sizeof tiny));
}

static void test_collectors(void **state)
{
    (void)state;
    struct buf failed;
    buf_init(&failed, 1024);
    const char *body = "# HELP jobtel_scrape_collector_success x\n"
                       "jobtel_scrape_collector_success{collector=\"gpu\"} 0\n"
                       "jobtel_scrape_collector_success{collector=\"cgroup\"} 1\n"
                       "jobtel_scrape_collector_success{collector=\"kube\"} 0 1700000000000\n"
                       "jobtel_scrape_collector_success_bogus{collector=\"x\"} 0\n"
                       "jobtel_scrape_collector_success{collector=\"torn\"} \n"
                       "jobtel_scrape_collector_success{collector=\"garbage\"} abc\n";
    assert_int_equal(doctor_parse_collectors(body, &failed), 3);
    assert_string_equal(buf_str(&failed), "gpu,kube");
    buf_reset(&failed);
    assert_int_equal(doctor_parse_collectors("", &failed), 0);
    assert_int_equal(doctor_parse_collectors("jobtel_scrape_collector_success{collector=\"", &failed), 0);
    assert_int_equal((int)failed.len, 0);
    buf_free(&failed);
}

static void test_http_bad_urls(void **state)
{
    (void)state;
    struct buf body;
    buf_init(&body, 1024);
    char why[256];
    int status = 0;
    assert_int_equal(doctor_http_get("https://127.0.0.1:1/", 1, 1024, &status, &body, why, sizeof why), JT_ERR_USAGE);
    assert_int_equal(doctor_http_get("http://:80/", 1, 1024, &status, &body, why, sizeof why), JT_ERR_USAGE);
    assert_int_equal(doctor_http_get("http://127.0.0.1:99999/", 1, 1024, &status, &body, why, sizeof why), JT_ERR_USAGE);
    assert_int_equal(doctor_http_get("http://[::1/", 1, 1024, &status, &body, why, sizeof why), JT_ERR_USAGE);
    buf_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slurm_conf_keys),
        cmocka_unit_test(test_collectors),
        cmocka_unit_test(test_http_bad_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
