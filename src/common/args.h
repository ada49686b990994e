/* args.h - the one command-line parser of every jobtel program, driven by a table of options.
 *
 * Each subcommand describes its options once, in a `const struct args_opt[]`: long name, aliases,
 * kind of value, where it is stored (an offset into the subcommand's options struct), help text and
 * value placeholder. The parser and the --help text both come from that table, so they cannot drift
 * apart, and every program spells things the same way:
 *   --name=value and --name value; boolean options also --no-name and --name=true|false;
 *   aliases are whole words (dcgm-exporter's -f, -c, -rbmn; --address), never clustered (-jb), and
 *   take their value as "-f FILE" or "-f=FILE" (Go's flag package, which dcgm-exporter uses, does);
 *   `--` ends the options where positional arguments are allowed.
 * Arguments are handled in order and --help/--version stop the parse where they stand, as before.
 * Errors name the argument and the reason and are handed back (struct args_error) rather than
 * printed: the Slurm prolog logs them and exits 0, the others print and exit 2 (args_print_error).
 */
#ifndef JOBTEL_ARGS_H
#define JOBTEL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

enum args_kind {
    ARGS_END = 0,   /* terminates a table */
    ARGS_GROUP,     /* not an option: a heading in --help (`help` is its text) */
    ARGS_FLAG,      /* no value; sets the bool at `offset` to true */
    ARGS_BOOL,      /* bool: --name, --no-name, --name=true|false, --no-name=true|false */
    ARGS_SWITCH,    /* int: --name sets 1, --no-name sets 0; no =value (--[no-]collector.<name>) */
    ARGS_STRING,    /* const char *: points into argv */
    ARGS_DURATION,  /* double seconds, "1s", "250ms", "2m", bare seconds (str_to_duration), in [min, max] */
    ARGS_INT,       /* int, decimal, in [min, max] */
    ARGS_MILLIS,    /* double seconds, given as whole milliseconds in [min, max] */
    ARGS_CHOICE,    /* int: the `values` entry of the word in `choices` that matches */
    ARGS_CALL,      /* calls `call` with the value (NULL when `placeholder` is NULL: then it takes none) */
    ARGS_HELP,      /* prints the help to stdout and stops the parse (ARGS_EXIT) */
    ARGS_VERSION,   /* prints "<version_name> version X (jobtel)" to stdout and stops the parse */
    ARGS_DEPRECATED, /* takes a value, ignores it and warns on stderr that it has no effect */
};

struct args_opt {
    const char *name;        /* long name without "--" (the --help spelling), or NULL for a group */
    const char *aliases;     /* space-separated other spellings with their dashes ("-f", "-c --address"), or NULL */
    enum args_kind kind;
    size_t offset;           /* of the value in the struct given to args_parse */
    const char *placeholder; /* the value's name in --help ("FILE"); NULL: "VALUE" (or no value for ARGS_CALL) */
    const char *help;        /* one sentence or two; wrapped by the help generator */
    double min, max;         /* ARGS_INT, ARGS_MILLIS, ARGS_DURATION: the accepted range (both 0: any) */
    const char *const *choices; /* ARGS_CHOICE: NULL-terminated words */
    const int *values;       /* ARGS_CHOICE: the value stored for each word (NULL: its index) */
    /* ARGS_CALL: returns false with *why set (a static string) to reject the value. */
    bool (*call)(void *base, const char *value, const char **why);
};

struct args_spec {
    const char *prog;          /* as printed in errors: "jobtel exporter", "jobstats" */
    const char *version_name;  /* for --version; NULL: prog */
    const char *usage;         /* the Usage: lines, without "Usage: " on the first ("jobstats [options] JOBID...") */
    const char *description;   /* paragraph(s) after the usage lines, or NULL */
    const struct args_opt *opts;
    const struct args_opt *more_opts; /* a second table appended after the first (run-time entries), or NULL */
    const char *epilogue;      /* text after the options (exit codes, signals), or NULL */
    bool positional;           /* accept arguments that are not options (collected in order) */
};

/* What went wrong: `arg` is the argument as typed (points into argv or a static string). */
struct args_error {
    const char *arg;
    char why[160];
};

enum args_result {
    ARGS_OK = 0,    /* parsed; go on */
    ARGS_EXIT = 1,  /* --help or --version was printed: exit 0 */
    ARGS_USAGE = 2, /* bad command line: *err says why; exit 2 (CLI_EXIT_USAGE) */
};

/* Parses argv[1..argc-1] into `base`. Positional arguments (spec->positional) are stored, in order,
 * into `pos` (room for argc entries, may be NULL when not positional) and counted in *npos. */
enum args_result args_parse(const struct args_spec *spec, void *base, int argc, char **argv, const char **pos,
                            int *npos, struct args_error *err);

/* "<prog>: <why> (see <prog> --help)" on stderr. */
void args_print_error(const struct args_spec *spec, const struct args_error *err);

/* The --help text: usage, description, one entry per option (aliases, placeholder, help wrapped at
 * 100 columns) under their groups, and the epilogue. */
void args_help(const struct args_spec *spec, FILE *out);

#endif
