/* log.h - leveled logging to stderr (and optionally syslog), with a rate limiter.
 *
 * A daemon that logs every failed read every second fills disks, so repeating errors go through a
 * `struct ratelimit`: at most one line per period, with a count of what was suppressed.
 */
#ifndef JOBTEL_LOG_H
#define JOBTEL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3 };

/* Process-wide settings, set once at start-up before any thread exists. */
void log_setup(enum log_level level, const char *ident, bool use_syslog);
bool log_parse_level(const char *s, enum log_level *out);
/* The words log_parse_level accepts and their levels, for a --log.level option (common/args.h). */
extern const char *const log_level_words[]; /* NULL-terminated */
extern const int log_level_values[];
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Escapes [src, src + n) for a double-quoted logfmt or JSON string: `"` and `\` get a backslash,
 * newline, CR and tab become \n \r \t, other control bytes \u00XX; other bytes are copied (UTF-8
 * passes through). Writes at most dstsz - 1 bytes and a NUL, never half an escape; returns the length. */
size_t log_escape(char *dst, size_t dstsz, const char *src, size_t n);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* One per repeating message site; zero-initialise. Not thread-safe: keep it with the thread's state. */
struct ratelimit {
    double last;          /* monotonic seconds of the last line let through */
    uint64_t suppressed;  /* lines swallowed since */
};

/* Returns true if the caller may log now; *suppressed gets the number swallowed since the last one. */
bool ratelimit_allow(struct ratelimit *rl, double period_s, uint64_t *suppressed);

/* Monotonic and wall clocks in seconds. */
double mono_now(void);
double wall_now(void);

#endif
