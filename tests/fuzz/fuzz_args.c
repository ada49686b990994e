/* fuzz_args.c - libFuzzer target: the command-line parser (common/args.c), through the exporter's real
 * option table (config_parse: every kind of option, run-time collector switches, the checks after the
 * parse) and through a table with positional arguments. Input: the arguments, one per line.
 *
 * Run with -close_fd_mask=3: --help, --version and the error messages write to stdout and stderr.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "common/args.h"
#include "exporter/config.h"

#define MAX_ARGS 64

struct pos_opts {
    bool flag, b;
    int sw, i, choice;
    const char *str;
    double dur, ms;
};

static bool call_ok(void *base, const char *value, const char **why)
{
    (void)base;
    *why = "no 'x' in it";
    return value == NULL || strchr(value, 'x') == NULL;
}

static const char *const words[] = {"auto", "yes", "no", NULL};
static const int word_values[] = {7, 8, 9};
static const struct args_opt pos_table[] = {
    {.kind = ARGS_GROUP, .help = "Options:"},
    {"flag", "-f", ARGS_FLAG, offsetof(struct pos_opts, flag), NULL, "A flag.", 0, 0, NULL, NULL, NULL},
    {"bool", "-b --boolean", ARGS_BOOL, offsetof(struct pos_opts, b), NULL, "A bool.", 0, 0, NULL, NULL, NULL},
    {"switch", NULL, ARGS_SWITCH, offsetof(struct pos_opts, sw), NULL, "A switch.", 0, 0, NULL, NULL, NULL},
    {"str", "-s", ARGS_STRING, offsetof(struct pos_opts, str), "S", "A string.", 0, 0, NULL, NULL, NULL},
    {"dur", NULL, ARGS_DURATION, offsetof(struct pos_opts, dur), "D", "A duration.", 0.001, 3600, NULL, NULL, NULL},
    {"int", "-i", ARGS_INT, offsetof(struct pos_opts, i), "N", "An int.", -5, 100000, NULL, NULL, NULL},
    {"ms", NULL, ARGS_MILLIS, offsetof(struct pos_opts, ms), "MS", "Millis.", 1, 60000, NULL, NULL, NULL},
    {"choice", "-c", ARGS_CHOICE, offsetof(struct pos_opts, choice), "W", "A word.", 0, 0, words, word_values, NULL},
    {"call", NULL, ARGS_CALL, 0, "V", "A call.", 0, 0, NULL, NULL, call_ok},
    {"call0", NULL, ARGS_CALL, 0, NULL, "A call without value.", 0, 0, NULL, NULL, call_ok},
    {"old", NULL, ARGS_DEPRECATED, 0, "X", "Deprecated.", 0, 0, NULL, NULL, NULL},
    {"help", "-h", ARGS_HELP, 0, NULL, "Help.", 0, 0, NULL, NULL, NULL},
    {"version", "-v", ARGS_VERSION, 0, NULL, "Version.", 0, 0, NULL, NULL, NULL},
    {.kind = ARGS_END},
};
static const struct args_spec pos_spec = {
    .prog = "fuzz", .usage = "fuzz [options] ARG...", .opts = pos_table, .positional = true,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = fuzz_strdup((const uint8_t *)"jobtel-exporter", 15);
    while (size && argc < MAX_ARGS)
        argv[argc++] = fuzz_take(&data, &size, '\n');
    argv[argc] = NULL;

    /* config_parse stores pointers into argv; a copy of argv, as main's may be reordered by nobody. */
    char *copy[MAX_ARGS + 2];
    memcpy(copy, argv, sizeof argv);
    struct exporter_config cfg;
    config_defaults(&cfg);
    bool exit_now;
    (void)config_parse(&cfg, argc, copy, &exit_now);

    struct pos_opts o = {0};
    const char *pos[MAX_ARGS + 2];
    int npos = 0;
    struct args_error err;
    if (args_parse(&pos_spec, &o, argc, argv, pos, &npos, &err) == ARGS_OK && (npos < 0 || npos >= argc))
        abort();
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}
