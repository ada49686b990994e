/* test_counters_csv.c - dcgm-exporter counters CSV parsing: the accepted format and every rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/counters_csv.h"
#include "collectors/gpu_fields.h"

static enum jt_err parse(const char *text, struct counter_list *l, char *why)
{
    return counters_parse("test.csv", text, strlen(text), l, why, 256);
}

static void test_accepts_dcgm_format(void **state)
{
    (void)state;
    struct counter_list l;
    char why[256] = "";
    const char *text = "# Format\n"
                       "# DCGM FIELD, Prometheus metric type, help message\n"
                       "\n"
                       "DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock frequency (in MHz).\r\n"
                       "  DCGM_FI_DEV_GPU_UTIL ,gauge,\"GPU utilization, in %\"\n"
                       "DCGM_FI_DRIVER_VERSION, label, Driver Version\n"
                       "DCGM_FI_DEV_XID_ERRORS, counter, \"say \"\"hi\"\"\"";
    assert_int_equal(parse(text, &l, why), JT_OK);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.e[0].field, "DCGM_FI_DEV_SM_CLOCK");
    assert_int_equal(l.e[0].type, CT_GAUGE);
    assert_string_equal(l.e[0].help, "SM clock frequency (in MHz).");
    assert_int_equal(l.e[0].line, 4);
    assert_string_equal(l.e[1].help, "GPU utilization, in %");
    assert_int_equal(l.e[2].type, CT_LABEL);
    assert_string_equal(l.e[2].help, "Driver Version");
    assert_int_equal(l.e[3].type, CT_COUNTER);
    assert_string_equal(l.e[3].help, "say \"hi\"");
    counters_free(&l);
}

static void expect_error(const char *text, const char *want)
{
    struct counter_list l;
    char why[256] = "";
    assert_int_not_equal(parse(text, &l, why), JT_OK);
    assert_int_equal(l.n, 0);
    assert_null(l.e);
    if (!strstr(why, want)) {
        fprintf(stderr, "why='%s' want '%s'\n", why, want);
        fail();
    }
}

static void test_rejects_malformed_lines_naming_file_and_line(void **state)
{
    (void)state;
    expect_error("DCGM_FI_DEV_SM_CLOCK, gauge\n", "test.csv:1: want exactly 3 fields");
    expect_error("# ok\nDCGM_FI_DEV_SM_CLOCK, gauge, a, b\n", "test.csv:2: too many fields");
    expect_error("\n\nDCGM_FI_DEV_SM_CLOCK, gaug, help\n", "test.csv:3: type must be one of");
    expect_error("dcgm_fi_dev_sm_clock, gauge, help\n", "test.csv:1: field name");
    expect_error("DCGM_FI_DEV_SM_CLOCK, gauge, \"unterminated\n", "test.csv:1: unterminated quoted field");
    expect_error("DCGM_FI_DEV_SM_CLOCK, gauge, \"x\" y\n", "text after a closing quote");
    expect_error(", gauge, help\n", "field name");
    /* A bare quote in an unquoted field is an error, as in Go's encoding/csv that dcgm-exporter uses. */
    expect_error("DCGM_FI_DRIVER_VERSION, label, Driver \"\"Version\"\"\n", "quote inside an unquoted field");
}

/* issue 9 item 5: a field listed twice (a `label` line gave every DCGM series a duplicate label name). */
static void test_rejects_repeated_fields_naming_both_lines(void **state)
{
    (void)state;
    expect_error("DCGM_FI_DRIVER_VERSION, label, Driver\nDCGM_FI_DEV_GPU_UTIL, gauge, u\n"
                 "DCGM_FI_DRIVER_VERSION, label, again\n",
                 "test.csv:3: DCGM_FI_DRIVER_VERSION repeats line 1");
    expect_error("DCGM_FI_DEV_GPU_UTIL, gauge, u\n# c\nDCGM_FI_DEV_GPU_UTIL, counter, u\n",
                 "test.csv:3: DCGM_FI_DEV_GPU_UTIL repeats line 1");
}

static void test_rejects_absurd_sizes(void **state)
{
    (void)state;
    char big[2100];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char line[2200];
    snprintf(line, sizeof line, "%s, gauge, help\n", big);
    expect_error(line, "longer than 1023");
}

static void test_builtin_default_parses_and_matches_dcgm_default_selection(void **state)
{
    (void)state;
    struct counter_list l;
    char why[256] = "";
    assert_int_equal(counters_parse("builtin", dcgm_default_counters_csv, strlen(dcgm_default_counters_csv), &l,
                                    why, sizeof why),
                     JT_OK);
    /* dcgm-exporter's default: 25 metrics + 1 label. */
    assert_int_equal(l.n, 26);
    size_t served = 0, labels = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.e[i].type == CT_LABEL)
            labels += dcgm_label_lookup(l.e[i].field) != DLF_NONE;
        else
            served += dcgm_field_lookup(l.e[i].field) != NULL;
    }
    assert_int_equal(labels, 1);
    /* Everything but vGPU licensing is served: 19 from NVML, the 5 profiling fields from GPM (or DCGM). */
    assert_int_equal(served, 24);
    counters_free(&l);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    struct counter_list l;
    char why[256] = "";
    assert_int_equal(counters_load("/nonexistent/counters.csv", &l, why, sizeof why), JT_ERR_NOT_FOUND);
    assert_non_null(strstr(why, "/nonexistent/counters.csv"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_dcgm_format),
        cmocka_unit_test(test_rejects_malformed_lines_naming_file_and_line),
        cmocka_unit_test(test_rejects_repeated_fields_naming_both_lines),
        cmocka_unit_test(test_rejects_absurd_sizes),
        cmocka_unit_test(test_builtin_default_parses_and_matches_dcgm_default_selection),
        cmocka_unit_test(test_load_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
