/* test_args.c - the table-driven parser: every spelling, kind, range and error, positional arguments,
 * help/version stopping the parse, and the generated --help (wrapped at 100 columns). */
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
#include "common/args.h"

struct o {
    bool flag, b;
    int sw, n, choice, calls;
    const char *s, *s2;
    double dur, ms;
    const char *called_with;
};

static bool on_call(void *base, const char *value, const char **why)
{
    struct o *o = base;
    o->calls++;
    o->called_with = value;
    if (value && strcmp(value, "bad") == 0) {
        *why = "bad is bad";
        return false;
    }
    return true;
}

static const char *const colours[] = {"red", "green", "warning", NULL};
static const int colour_values[] = {10, 20, 10};

#define OFF(f) offsetof(struct o, f)
static const struct args_opt opts[] = {
    {.name = "flag", .aliases = "-F", .kind = ARGS_FLAG, .offset = OFF(flag), .help = "A flag."},
    {.name = "bool", .aliases = "-b -bb", .kind = ARGS_BOOL, .offset = OFF(b), .help = "A boolean."},
    {.name = "string", .aliases = "-s --old-string", .kind = ARGS_STRING, .offset = OFF(s), .placeholder = "TEXT",
     .help = "A string."},
    {.name = "other", .kind = ARGS_STRING, .offset = OFF(s2), .help = "Another."},
    {.kind = ARGS_GROUP, .help = "Numbers:"},
    {.name = "dur", .kind = ARGS_DURATION, .offset = OFF(dur), .placeholder = "DURATION", .min = 0.01, .max = 3600,
     .help = "A duration."},
    {.name = "int", .aliases = "-i", .kind = ARGS_INT, .offset = OFF(n), .min = 1, .max = 2, .help = "1 or 2."},
    {.name = "ms", .aliases = "-c", .kind = ARGS_MILLIS, .offset = OFF(ms), .min = 0, .max = 86400000,
     .help = "Milliseconds."},
    {.name = "colour", .kind = ARGS_CHOICE, .offset = OFF(choice), .choices = colours, .values = colour_values,
     .help = "A colour."},
    {.name = "call", .kind = ARGS_CALL, .offset = 0, .placeholder = "X", .call = on_call, .help = "Calls."},
    {.name = "no-thing", .aliases = "-n", .kind = ARGS_CALL, .call = on_call, .help = "Calls without a value."},
    {.name = "old", .kind = ARGS_DEPRECATED, .help = "Deprecated, no effect."},
    {.name = "help", .aliases = "-h", .kind = ARGS_HELP, .help = "This help."},
    {.name = "version", .kind = ARGS_VERSION, .help = "The version."},
    {.kind = ARGS_END},
};
static const struct args_opt more[] = {
    {.kind = ARGS_GROUP, .help = "Switches (--[no-]thing.<name>):"},
    {.name = "thing.a", .kind = ARGS_SWITCH, .offset = OFF(sw), .help = "Switch a."},
    {.kind = ARGS_END},
};

static const struct args_spec spec = {
    .prog = "prog sub",
    .usage = "prog sub [options] ARG...",
    .description = "Does things. This description is long enough that it must be wrapped at one hundred "
                   "columns by the help generator, which it is.",
    .opts = opts,
    .more_opts = more,
    .epilogue = "Exit codes: 0 fine, 2 usage.",
    .positional = true,
};

/* Parses a NULL-terminated list with stdout/stderr captured into *out (malloc'd). */
static enum args_result run(const struct args_spec *sp, struct o *o, const char **pos, int *npos,
                            struct args_error *err, char **out, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"prog";
    while (args[argc - 1]) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    memset(o, 0, sizeof *o);
    o->sw = -1;
    struct capture c;
    capture_begin(&c);
    enum args_result r = args_parse(sp, o, argc, argv, pos, npos, err);
    *out = capture_end(&c);
    return r;
}

#define RUN(o, ...)                                                                                          \
    ({                                                                                                       \
        static const char *const a_[] = {__VA_ARGS__, NULL};                                                 \
        const char *p_[32];                                                                                  \
        int n_;                                                                                              \
        struct args_error e_;                                                                                \
        char *out_;                                                                                          \
        enum args_result r_ = run(&spec, o, p_, &n_, &e_, &out_, a_);                                        \
        free(out_);                                                                                          \
        r_;                                                                                                  \
    })

static void expect_error(const char *want, const char *const *args)
{
    struct o o;
    const char *pos[32];
    int n;
    struct args_error e;
    char *out;
    assert_int_equal(run(&spec, &o, pos, &n, &e, &out, args), ARGS_USAGE);
    if (!strstr(e.why, want))
        fail_msg("want \"%s\" in \"%s\"", want, e.why);
    assert_non_null(e.arg);
    assert_string_equal(out, ""); /* errors are handed back, not printed */
    free(out);
}
#define ERR(want, ...)                                                                                       \
    do {                                                                                                     \
        static const char *const a_[] = {__VA_ARGS__, NULL};                                                 \
        expect_error(want, a_);                                                                              \
    } while (0)

static void test_spellings(void **state)
{
    (void)state;
    struct o o;
    assert_int_equal(RUN(&o, "--string=a", "--other", "b"), ARGS_OK);
    assert_string_equal(o.s, "a");
    assert_string_equal(o.s2, "b");
    assert_int_equal(RUN(&o, "-s", "x"), ARGS_OK);
    assert_string_equal(o.s, "x");
    assert_int_equal(RUN(&o, "-s=w"), ARGS_OK); /* as Go's flag package takes it */
    assert_string_equal(o.s, "w");
    assert_int_equal(RUN(&o, "-bb=false"), ARGS_OK);
    assert_false(o.b);
    assert_int_equal(RUN(&o, "--old-string=y"), ARGS_OK);
    assert_string_equal(o.s, "y");
    assert_int_equal(RUN(&o, "--old-string", "z"), ARGS_OK);
    assert_string_equal(o.s, "z");
    assert_int_equal(RUN(&o, "--string", "-F"), ARGS_OK); /* the next argument, whatever it is */
    assert_string_equal(o.s, "-F");
    assert_false(o.flag);
    assert_int_equal(RUN(&o, "--string="), ARGS_OK);
    assert_string_equal(o.s, "");
    assert_int_equal(RUN(&o, "--string=a=b"), ARGS_OK);
    assert_string_equal(o.s, "a=b");
    assert_int_equal(RUN(&o, "-F"), ARGS_OK);
    assert_true(o.flag);
    assert_int_equal(RUN(&o, "--flag"), ARGS_OK);
    assert_true(o.flag);
}

static void test_booleans_and_switches(void **state)
{
    (void)state;
    struct o o;
    assert_int_equal(RUN(&o, "--bool"), ARGS_OK);
    assert_true(o.b);
    assert_int_equal(RUN(&o, "--bool", "--no-bool"), ARGS_OK);
    assert_false(o.b);
    assert_int_equal(RUN(&o, "--bool=true"), ARGS_OK);
    assert_true(o.b);
    assert_int_equal(RUN(&o, "--bool", "--bool=false"), ARGS_OK);
    assert_false(o.b);
    assert_int_equal(RUN(&o, "--no-bool=false"), ARGS_OK);
    assert_true(o.b);
    assert_int_equal(RUN(&o, "--no-bool=true"), ARGS_OK);
    assert_false(o.b);
    assert_int_equal(RUN(&o, "-bb"), ARGS_OK);
    assert_true(o.b);
    assert_int_equal(RUN(&o, "--thing.a"), ARGS_OK);
    assert_int_equal(o.sw, 1);
    assert_int_equal(RUN(&o, "--no-thing.a"), ARGS_OK);
    assert_int_equal(o.sw, 0);
    assert_int_equal(RUN(&o, NULL), ARGS_OK);
    assert_int_equal(o.sw, -1);
    /* A long name that starts with "no-" wins over negating "thing". */
    assert_int_equal(RUN(&o, "--no-thing"), ARGS_OK);
    assert_int_equal(o.calls, 1);
    assert_null(o.called_with);
    assert_int_equal(RUN(&o, "-n"), ARGS_OK);
    assert_int_equal(o.calls, 1);
}

static void test_numbers_and_choices(void **state)
{
    (void)state;
    struct o o;
    assert_int_equal(RUN(&o, "--dur=250ms", "-i", "2", "-c", "1500", "--colour", "warning"), ARGS_OK);
    assert_true(o.dur == 0.25);
    assert_int_equal(o.n, 2);
    assert_true(o.ms == 1.5);
    assert_int_equal(o.choice, 10);
    assert_int_equal(RUN(&o, "--dur", "2m", "--int=1", "--ms=0", "--colour=green"), ARGS_OK);
    assert_true(o.dur == 120);
    assert_int_equal(o.n, 1);
    assert_true(o.ms == 0);
    assert_int_equal(o.choice, 20);
    assert_int_equal(RUN(&o, "--call", "v"), ARGS_OK);
    assert_int_equal(o.calls, 1);
    assert_string_equal(o.called_with, "v");
}

static void test_errors_name_the_option(void **state)
{
    (void)state;
    ERR("unknown option '--nope'", "--nope");
    ERR("unknown option '-z'", "-z");
    ERR("unknown option '-Fs'", "-Fs");                 /* no clustering */
    ERR("option '-F' takes no value", "-F=x");
    ERR("unknown option '--no-string'", "--no-string"); /* not a boolean */
    ERR("unknown option '--no-flag'", "--no-flag");
    ERR("option '--string' needs a value", "--string");
    ERR("option '-i' needs a value", "-i");
    ERR("option '--flag' takes no value", "--flag=1");
    ERR("option '--thing.a' takes no value", "--thing.a=true");
    ERR("option '--no-thing' takes no value", "--no-thing=x");
    ERR("invalid value 'maybe' for '--bool=maybe': want true or false", "--bool=maybe");
    ERR("invalid value 'x' for '--dur': want a duration", "--dur", "x");
    ERR("invalid value '5ms' for '--dur=5ms': out of range", "--dur=5ms");
    ERR("invalid value '2h' for '--dur=2h': out of range", "--dur=2h");
    ERR("invalid value '3' for '-i': out of range", "-i", "3");
    ERR("invalid value '1x' for '--int=1x': want a whole number", "--int=1x");
    ERR("invalid value '' for '--int=': want a whole number", "--int=");
    ERR("invalid value '-1' for '-c': out of range", "-c", "-1");
    ERR("invalid value '86400001' for '-c': out of range", "-c", "86400001");
    ERR("invalid value '99999999999999999999' for '-c'", "-c", "99999999999999999999");
    ERR("invalid value 'blue' for '--colour=blue': want one of red, green, warning", "--colour=blue");
    ERR("invalid value 'bad' for '--call': bad is bad", "--call", "bad");
}

static void test_positional(void **state)
{
    (void)state;
    struct o o;
    const char *pos[32];
    int n;
    struct args_error e;
    char *out;
    static const char *const a[] = {"1", "-F", "2", "-", "--", "-s", "--flag", NULL};
    assert_int_equal(run(&spec, &o, pos, &n, &e, &out, a), ARGS_OK);
    free(out);
    assert_int_equal(n, 5);
    assert_string_equal(pos[0], "1");
    assert_string_equal(pos[1], "2");
    assert_string_equal(pos[2], "-"); /* a lone dash is an argument */
    assert_string_equal(pos[3], "-s");
    assert_string_equal(pos[4], "--flag");
    assert_true(o.flag);
    assert_null(o.s);

    struct args_spec strict = spec;
    strict.positional = false;
    static const char *const b[] = {"-F", "stray", NULL};
    assert_int_equal(run(&strict, &o, NULL, NULL, &e, &out, b), ARGS_USAGE);
    free(out);
    assert_string_equal(e.why, "unknown option 'stray'");
    static const char *const c[] = {"--", NULL};
    assert_int_equal(run(&strict, &o, NULL, NULL, &e, &out, c), ARGS_USAGE);
    free(out);
}

static void test_help_and_version_stop_the_parse(void **state)
{
    (void)state;
    struct o o;
    const char *pos[32];
    int n;
    struct args_error e;
    char *out;
    static const char *const a[] = {"-F", "--help", "--nope", NULL};
    assert_int_equal(run(&spec, &o, pos, &n, &e, &out, a), ARGS_EXIT);
    assert_true(o.flag);
    assert_non_null(strstr(out, "Usage: prog sub [options] ARG..."));
    free(out);
    static const char *const b[] = {"--nope", "--help", NULL};
    assert_int_equal(run(&spec, &o, pos, &n, &e, &out, b), ARGS_USAGE);
    free(out);
    static const char *const v[] = {"--version", NULL};
    assert_int_equal(run(&spec, &o, pos, &n, &e, &out, v), ARGS_EXIT);
    assert_string_equal(out, "prog sub version " JOBTEL_VERSION " (jobtel)\n");
    free(out);
    struct args_spec named = spec;
    named.version_name = "other";
    assert_int_equal(run(&named, &o, pos, &n, &e, &out, v), ARGS_EXIT);
    assert_string_equal(out, "other version " JOBTEL_VERSION " (jobtel)\n");
    free(out);
}

static void test_deprecated_warns_and_takes_its_value(void **state)
{
    (void)state;
    struct o o;
    const char *pos[32];
    int n;
    struct args_error e;
    char *out;
    static const char *const a[] = {"--old", "/x", "-F", NULL};
    assert_int_equal(run(&spec, &o, pos, &n, &e, &out, a), ARGS_OK);
    assert_string_equal(out, "prog sub: warning: --old is deprecated and has no effect\n");
    assert_true(o.flag);
    assert_int_equal(n, 0);
    free(out);
}

static void test_help_text(void **state)
{
    (void)state;
    struct o o;
    const char *pos[32];
    int n;
    struct args_error e;
    char *out;
    static const char *const h[] = {"-h", NULL};
    assert_int_equal(run(&spec, &o, pos, &n, &e, &out, h), ARGS_EXIT);
    static const char *const want[] = {
        "Usage: prog sub [options] ARG...\n\nDoes things.",
        "\nOptions:\n  --flag, -F                      A flag.\n",
        "  --[no-]bool, -b, -bb            A boolean.\n",
        "  --string, -s, --old-string TEXT\n                                  A string.\n", /* too wide */
        "  --other VALUE                   Another.\n",
        "\nNumbers:\n  --dur DURATION                  A duration.\n",
        "  --colour red|green|warning      A colour.\n",
        "  --no-thing, -n                  Calls without a value.\n",
        "\nSwitches (--[no-]thing.<name>):\n  --[no-]thing.a                  Switch a.\n",
        "\nExit codes: 0 fine, 2 usage.\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i]))
            fail_msg("want \"%s\" in:\n%s", want[i], out);
    /* Wrapped at 100 columns. */
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n");
        assert_true(len <= 100);
        line += len + (line[len] == '\n');
    }
    free(out);
}

static void test_help_wraps_long_help_under_its_column(void **state)
{
    (void)state;
    static const struct args_opt long_opts[] = {
        {.name = "a-very-long-option-name-indeed", .kind = ARGS_STRING, .placeholder = "SOMETHING",
         .help = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                 "sixteen seventeen eighteen nineteen twenty."},
        {.kind = ARGS_END},
    };
    struct args_spec s = {.prog = "p", .usage = "p", .opts = long_opts};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    args_help(&s, f);
    fclose(f);
    assert_non_null(strstr(text, "  --a-very-long-option-name-indeed SOMETHING\n" "                                  One two"));
    const char *nl = strstr(text, "One two");
    nl = strchr(nl, '\n');
    assert_non_null(nl);
    assert_true(strncmp(nl + 1, "                                  ", 34) == 0); /* continuation indented */
    for (const char *line = text; *line;) {
        size_t l = strcspn(line, "\n");
        assert_true(l <= 100);
        line += l + (line[l] == '\n');
    }
    free(text);
}

/* A caller's own layout (an indented, aligned list) is kept where it fits. */
static void test_help_keeps_the_callers_layout(void **state)
{
    (void)state;
    static const struct args_opt none[] = {{.kind = ARGS_END}};
    struct args_spec s = {.prog = "p", .usage = "p <command>", .opts = none,
                          .description = "Commands:\n  exporter   serve\n  prolog     record GPUs",
                          .epilogue = "Exit codes: 0 success.\nSecond line."};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    args_help(&s, f);
    fclose(f);
    assert_string_equal(text, "Usage: p <command>\n\nCommands:\n  exporter   serve\n  prolog     record GPUs\n"
                              "\nExit codes: 0 success.\nSecond line.\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings),
        cmocka_unit_test(test_booleans_and_switches),
        cmocka_unit_test(test_numbers_and_choices),
        cmocka_unit_test(test_errors_name_the_option),
        cmocka_unit_test(test_positional),
        cmocka_unit_test(test_help_and_version_stop_the_parse),
        cmocka_unit_test(test_deprecated_warns_and_takes_its_value),
        cmocka_unit_test(test_help_text),
        cmocka_unit_test(test_help_wraps_long_help_under_its_column),
        cmocka_unit_test(test_help_keeps_the_callers_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
