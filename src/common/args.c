/* args.c - the table-driven command-line parser and --help generator (see args.h).
 *
 * Lookup order for "--x[=v]": the long name x, then an alias spelled "--x", then "no-" + the name of
 * a boolean or switch. Single-dash aliases are whole words ("-f", "-rbmn", "-f=x"), never clusters,
 * so "-fx" is an error rather than a guess. The value of an option that takes one is the text after
 * '=' or else the next argument, whatever it looks like (as getopt does), so "--hostname -n" sets
 * the hostname to "-n": predictable beats clever on a slurmd command line.
 */
#include "common/args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/strparse.h"

#define HELP_WIDTH 100 /* columns of the --help text */
#define HELP_COL 34    /* where an option's help starts */

static bool takes_value(const struct args_opt *o)
{
    switch (o->kind) {
    case ARGS_STRING:
    case ARGS_DURATION:
    case ARGS_INT:
    case ARGS_MILLIS:
    case ARGS_CHOICE:
    case ARGS_DEPRECATED:
        return true;
    case ARGS_CALL:
        return o->placeholder != NULL;
    case ARGS_END:
    case ARGS_GROUP:
    case ARGS_FLAG:
    case ARGS_BOOL:
    case ARGS_SWITCH:
    case ARGS_HELP:
    case ARGS_VERSION:
        return false;
    }
    return false;
}

static bool negatable(const struct args_opt *o) { return o->kind == ARGS_BOOL || o->kind == ARGS_SWITCH; }

/* Is `word` (n bytes) one of the space-separated `list`? */
static bool in_list(const char *list, const char *word, size_t n)
{
    if (!list || n == 0)
        return false;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && memcmp(p, word, n) == 0)
            return true;
        p += len;
        while (*p == ' ')
            p++;
    }
    return false;
}

/* Calls fn on every option of both tables until it returns non-NULL. */
static const struct args_opt *each_opt(const struct args_spec *spec, const void *key,
                                       const struct args_opt *(*fn)(const struct args_opt *, const void *))
{
    const struct args_opt *tables[2] = {spec->opts, spec->more_opts};
    for (int t = 0; t < 2; t++) {
        for (const struct args_opt *o = tables[t]; o && o->kind != ARGS_END; o++) {
            if (o->kind == ARGS_GROUP)
                continue;
            const struct args_opt *hit = fn(o, key);
            if (hit)
                return hit;
        }
    }
    return NULL;
}

struct word {
    const char *p;
    size_t n;
};

static const struct args_opt *match_name(const struct args_opt *o, const void *key)
{
    const struct word *w = key;
    return o->name && strlen(o->name) == w->n && memcmp(o->name, w->p, w->n) == 0 ? o : NULL;
}

static const struct args_opt *match_negated(const struct args_opt *o, const void *key)
{
    return negatable(o) ? match_name(o, key) : NULL;
}

static const struct args_opt *match_alias(const struct args_opt *o, const void *key)
{
    const struct word *w = key;
    return in_list(o->aliases, w->p, w->n) ? o : NULL;
}

static enum args_result fail(struct args_error *err, const char *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum args_result fail(struct args_error *err, const char *arg, const char *fmt, ...)
{
    err->arg = arg;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->why, sizeof err->why, fmt, ap);
    va_end(ap);
    return ARGS_USAGE;
}

/* snprintf at out + *len, keeping *len within [0, n - 1] whatever the text's length. */
static void append(char *out, size_t n, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *out, size_t n, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *len, n - *len, fmt, ap);
    va_end(ap);
    if (w > 0)
        *len = *len + (size_t)w < n ? *len + (size_t)w : n - 1;
}

static bool in_range(const struct args_opt *o, double v)
{
    return (o->min == 0 && o->max == 0) || (v >= o->min && v <= o->max);
}

/* Stores `val` for `o`; false with *why (static text or NULL) when the value is not acceptable. */
static bool store(const struct args_opt *o, char *base, const char *val, bool negated, const char **why)
{
    *why = NULL;
    void *dst = base + o->offset;
    switch (o->kind) {
    case ARGS_FLAG:
        *(bool *)dst = true;
        return true;
    case ARGS_BOOL: {
        bool v;
        if (!val)
            v = true;
        else if (strcmp(val, "true") == 0)
            v = true;
        else if (strcmp(val, "false") == 0)
            v = false;
        else {
            *why = "want true or false";
            return false;
        }
        *(bool *)dst = negated ? !v : v;
        return true;
    }
    case ARGS_SWITCH:
        *(int *)dst = negated ? 0 : 1;
        return true;
    case ARGS_STRING:
        *(const char **)dst = val;
        return true;
    case ARGS_DURATION: {
        double d;
        if (!str_to_duration(val, &d)) {
            *why = "want a duration such as 1s, 500ms or 2m";
            return false;
        }
        if (!in_range(o, d)) {
            *why = "out of range";
            return false;
        }
        *(double *)dst = d;
        return true;
    }
    case ARGS_INT:
    case ARGS_MILLIS: {
        int64_t v;
        if (!cstr_to_i64(val, &v)) {
            *why = "want a whole number";
            return false;
        }
        double lo = o->min, hi = o->max;
        if (lo == 0 && hi == 0) {
            lo = -2147483648.0;
            hi = 2147483647.0;
        }
        if ((double)v < lo || (double)v > hi) {
            *why = "out of range";
            return false;
        }
        if (o->kind == ARGS_INT)
            *(int *)dst = (int)v;
        else
            *(double *)dst = (double)v / 1000.0;
        return true;
    }
    case ARGS_CHOICE:
        for (size_t i = 0; o->choices && o->choices[i]; i++) {
            if (strcmp(val, o->choices[i]) == 0) {
                *(int *)dst = o->values ? o->values[i] : (int)i;
                return true;
            }
        }
        *why = NULL; /* args_parse lists the words */
        return false;
    case ARGS_CALL:
        return o->call(base, val, why);
    case ARGS_DEPRECATED:
    case ARGS_HELP:
    case ARGS_VERSION:
    case ARGS_GROUP:
    case ARGS_END:
        return true;
    }
    return false;
}

enum args_result args_parse(const struct args_spec *spec, void *base, int argc, char **argv, const char **pos,
                            int *npos, struct args_error *err)
{
    bool options_done = false;
    if (npos)
        *npos = 0;
    err->arg = NULL;
    err->why[0] = '\0';
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool is_opt = !options_done && arg[0] == '-' && arg[1] != '\0';
        if (is_opt && spec->positional && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!is_opt) {
            if (!spec->positional || !pos || !npos)
                return fail(err, arg, "unknown option '%s'", arg);
            pos[(*npos)++] = arg;
            continue;
        }
        const struct args_opt *o = NULL;
        const char *val = NULL;
        bool negated = false;
        if (arg[1] == '-') {
            const char *eq = strchr(arg, '=');
            struct word name = {arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)};
            struct word spelled = {arg, eq ? (size_t)(eq - arg) : strlen(arg)};
            o = each_opt(spec, &name, match_name);
            if (!o)
                o = each_opt(spec, &spelled, match_alias);
            if (!o && name.n > 3 && memcmp(name.p, "no-", 3) == 0) {
                struct word rest = {name.p + 3, name.n - 3};
                o = each_opt(spec, &rest, match_negated);
                negated = o != NULL;
            }
            if (eq)
                val = eq + 1;
        } else {
            /* "-f FILE" or, as Go's flag package (dcgm-exporter) also takes, "-f=FILE". */
            struct word whole = {arg, strlen(arg)};
            o = each_opt(spec, &whole, match_alias);
            const char *eq = strchr(arg, '=');
            if (!o && eq) {
                struct word before = {arg, (size_t)(eq - arg)};
                o = each_opt(spec, &before, match_alias);
                if (o)
                    val = eq + 1;
            }
        }
        if (!o)
            return fail(err, arg, "unknown option '%s'", arg);
        if (val && !takes_value(o) && o->kind != ARGS_BOOL)
            return fail(err, arg, "option '%.*s' takes no value", (int)(strchr(arg, '=') - arg), arg);
        if (takes_value(o) && !val) {
            if (i + 1 >= argc)
                return fail(err, arg, "option '%s' needs a value", arg);
            val = argv[++i];
        }
        const char *why;
        if (!store(o, base, val, negated, &why)) {
            char words[96] = "";
            if (o->kind == ARGS_CHOICE) {
                size_t len = 0;
                append(words, sizeof words, &len, "want one of");
                for (size_t k = 0; o->choices && o->choices[k]; k++)
                    append(words, sizeof words, &len, "%s %s", k ? "," : "", o->choices[k]);
                why = words;
            }
            return fail(err, arg, "invalid value '%s' for '%s'%s%s", val ? val : "", arg, why ? ": " : "",
                        why ? why : "");
        }
        switch (o->kind) {
        case ARGS_HELP:
            args_help(spec, stdout);
            return ARGS_EXIT;
        case ARGS_VERSION:
            cli_print_version(spec->version_name ? spec->version_name : spec->prog);
            return ARGS_EXIT;
        case ARGS_DEPRECATED:
            fprintf(stderr, "%s: warning: --%s is deprecated and has no effect\n", spec->prog, o->name);
            break;
        default:
            break;
        }
    }
    return ARGS_OK;
}

void args_print_error(const struct args_spec *spec, const struct args_error *err)
{
    fprintf(stderr, "%s: %s (see %s --help)\n", spec->prog, err->why, spec->prog);
}

/* --- help ------------------------------------------------------------------------------------------ */

/* Writes `text` from column `col` (the cursor is there already), wrapped at HELP_WIDTH: a word that
 * would pass it starts a new line at column `indent`. Spaces and line breaks in the text are kept, so
 * a caller's own layout (an indented list) survives when it fits. A word longer than a line is not
 * broken. */
static void put_wrapped(FILE *out, const char *text, int col, int indent)
{
    const char *p = text;
    bool line_start = true;
    while (*p) {
        if (*p == '\n') {
            fprintf(out, "\n");
            col = 0;
            line_start = true;
            p++;
            if (*p && *p != '\n') {
                fprintf(out, "%*s", indent, "");
                col = indent;
            }
            continue;
        }
        size_t sp = strspn(p, " ");
        size_t w = strcspn(p + sp, " \n");
        if (!line_start && w > 0 && col + (int)(sp + w) > HELP_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            sp = 0;
            p += strspn(p, " ");
        }
        fwrite(p, 1, sp + w, out);
        col += (int)(sp + w);
        p += sp + w;
        line_start = false;
    }
    fputc('\n', out);
}

static void spell_value(const struct args_opt *o, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    if (o->placeholder) {
        append(out, n, &len, "%s", o->placeholder);
    } else if (o->kind == ARGS_CHOICE && o->choices) {
        for (size_t i = 0; o->choices[i]; i++)
            append(out, n, &len, "%s%s", i ? "|" : "", o->choices[i]);
    } else {
        append(out, n, &len, "VALUE");
    }
}

/* "--collectors, -f FILE": the name, its aliases as the table lists them, then the value's placeholder
 * (node_exporter's and the old exporter help's order, which scripts grep for). */
static void spell(const struct args_opt *o, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    append(out, n, &len, "--%s%s", negatable(o) ? "[no-]" : "", o->name);
    for (const char *p = o->aliases; p && *p;) {
        size_t w = strcspn(p, " ");
        append(out, n, &len, ", %.*s", (int)w, p);
        p += w;
        while (*p == ' ')
            p++;
    }
    if (takes_value(o)) {
        char value[96];
        spell_value(o, value, sizeof value);
        append(out, n, &len, " %s", value);
    }
}

static void help_table(const struct args_opt *opts, FILE *out)
{
    for (const struct args_opt *o = opts; o && o->kind != ARGS_END; o++) {
        if (o->kind == ARGS_GROUP) {
            fputc('\n', out);
            put_wrapped(out, o->help, 0, 0);
            continue;
        }
        char spelled[160];
        spell(o, spelled, sizeof spelled);
        int col = fprintf(out, "  %s", spelled);
        if (col + 2 > HELP_COL) {
            fprintf(out, "\n%*s", HELP_COL, "");
        } else {
            fprintf(out, "%*s", HELP_COL - col, "");
        }
        put_wrapped(out, o->help ? o->help : "", HELP_COL, HELP_COL);
    }
}

static void help_text(const struct args_spec *spec, FILE *out)
{
    fprintf(out, "Usage: %s\n", spec->usage);
    if (spec->description) {
        fputc('\n', out);
        put_wrapped(out, spec->description, 0, 0);
    }
    if ((spec->opts && spec->opts->kind != ARGS_END) || (spec->more_opts && spec->more_opts->kind != ARGS_END))
        fprintf(out, "\nOptions:\n");
    help_table(spec->opts, out);
    help_table(spec->more_opts, out);
    if (spec->epilogue) {
        fputc('\n', out);
        put_wrapped(out, spec->epilogue, 0, 0);
    }
}

void args_help(const struct args_spec *spec, FILE *out)
{
    /* Composed first and written with one write(2) where `out` is a descriptor: `... --help | grep -q`
     * then never gets the program killed by SIGPIPE half way (a pipe holds far more than any help). */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        help_text(spec, out);
        return;
    }
    help_text(spec, mem);
    int fd = fclose(mem) == 0 ? fileno(out) : -1;
    if (fd >= 0 && fflush(out) == 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    } else if (text) {
        fwrite(text, 1, len, out);
    }
    free(text);
}
