/* test_jobstats_conf.c - the config file and the notes language: values, file:line errors, conditions,
 * placeholders, and the built-in notes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jobstats/jobstats_conf.h"

static struct js_conf conf;
static char err[512];

static enum jt_err parse(const char *text)
{
    js_conf_free(&conf);
    js_conf_defaults(&conf);
    err[0] = '\0';
    return js_conf_parse(&conf, "test.conf", text, strlen(text), err, sizeof err);
}

static void test_values(void **state)
{
    (void)state;
    assert_int_equal(parse("# comment\n\nprometheus_url = http://prom:8480/\ncluster = della\n"
                           "sampling_period = 15\ngpu_util_red = 20\nsacct = /opt/slurm/bin/sacct\n"
                           "cluster_label = false\n"),
                     JT_OK);
    assert_string_equal(conf.prom_url, "http://prom:8480");
    assert_string_equal(conf.cluster, "della");
    assert_true(conf.sampling_period == 15);
    assert_true(conf.settings[JV_GPU_UTIL_RED] == 20);
    assert_string_equal(conf.sacct, "/opt/slurm/bin/sacct");
    assert_false(conf.cluster_label);
    assert_true(conf.nnotes > 5); /* no notes in the file: the built-in ones stay */
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    assert_int_equal(parse("cluster = a\nfoo = 1\n"), JT_ERR_USAGE);
    assert_string_equal(err, "test.conf:2: unknown key 'foo'");
    assert_int_equal(parse("\n\nsampling_period = fast\n"), JT_ERR_USAGE);
    assert_string_equal(err, "test.conf:3: bad value for sampling_period");
    assert_int_equal(parse("just words\n"), JT_ERR_USAGE);
    assert_string_equal(err, "test.conf:1: expected KEY = VALUE");
    assert_int_equal(parse("sacct = sacct\n"), JT_ERR_USAGE);
    assert_string_equal(err, "test.conf:1: sacct must be an absolute path");
    assert_int_equal(parse("note = gpu_util < 10 | loud | hi\n"), JT_ERR_USAGE);
    assert_string_equal(err, "test.conf:1: style must be normal, bold or bold-red");
    assert_int_equal(parse("note = gpu_util < 10 | bold | {nope} hi\n"), JT_ERR_USAGE);
    assert_string_equal(err, "test.conf:1: unknown placeholder {nope}");
    assert_int_equal(parse("note = __import__('os') | bold | hi\n"), JT_ERR_USAGE);
    assert_int_equal(parse("note = gpu_util <> 10 | bold | hi\n"), JT_ERR_USAGE);
    assert_int_equal(parse("note = gpu_util < 10\n"), JT_ERR_USAGE);
    assert_string_equal(err, "test.conf:1: a note is CONDITION | STYLE | TEXT");
    assert_int_equal(parse("cluster = it's\n"), JT_ERR_USAGE); /* would break the PromQL string */
}

static void test_notes(void **state)
{
    (void)state;
    assert_int_equal(parse("gpu_util_red = 20\n"
                           "note = gpus > 0 and gpu_util < gpu_util_red | bold-red | GPU use {gpu_util}% of {gpus} GPUs "
                           "(limit {gpu_util_red})\n"
                           "note = oom == 1 | normal | out of memory\n"),
                     JT_OK);
    assert_int_equal(conf.nnotes, 2); /* notes in the file replace the built-in ones */
    assert_int_equal(conf.notes[0].style, JS_STYLE_BOLD_RED);
    struct js_vars vs;
    memset(&vs, 0, sizeof vs);
    js_vars_settings(&vs, &conf);
    js_vars_set(&vs, JV_GPUS, 4);
    assert_false(js_note_applies(&conf.notes[0], &vs)); /* gpu_util has no value */
    js_vars_set(&vs, JV_GPU_UTIL, 12.34);
    assert_true(js_note_applies(&conf.notes[0], &vs));
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(js_note_expand(&conf.notes[0], &vs, &b), JT_OK);
    assert_string_equal(buf_str(&b), "GPU use 12.3% of 4 GPUs (limit 20)");
    js_vars_set(&vs, JV_GPU_UTIL, 20);
    assert_false(js_note_applies(&conf.notes[0], &vs));
    js_vars_set(&vs, JV_OOM, 0);
    assert_false(js_note_applies(&conf.notes[1], &vs));
    js_vars_set(&vs, JV_OOM, 1);
    assert_true(js_note_applies(&conf.notes[1], &vs));
    buf_free(&b);
}

static void test_builtin_notes(void **state)
{
    (void)state;
    js_conf_free(&conf);
    js_conf_defaults(&conf);
    struct js_vars vs;
    memset(&vs, 0, sizeof vs);
    js_vars_settings(&vs, &conf);
    js_vars_set(&vs, JV_GPUS, 2);
    js_vars_set(&vs, JV_ZERO_GPUS, 1);
    js_vars_set(&vs, JV_RUNNING, 0);
    int hits = 0;
    struct buf b;
    buf_init(&b, 4096);
    for (size_t i = 0; i < conf.nnotes; i++) {
        if (!js_note_applies(&conf.notes[i], &vs))
            continue;
        hits++;
        buf_reset(&b);
        js_note_expand(&conf.notes[i], &vs, &b);
        assert_non_null(strstr(buf_str(&b), "1 of the 2 allocated GPUs"));
    }
    assert_int_equal(hits, 1);
    buf_free(&b);
    js_conf_free(&conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values), cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_notes), cmocka_unit_test(test_builtin_notes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
