/* log.c - leveled logging (see log.h).
 *
 * The settings are process-wide and written once before threads start, so reading them unlocked is
 * safe. Each line is formatted into one buffer and written with a single write(2) so lines from
 * different threads do not interleave. The message is escaped (log_escape) because it carries text
 * from files, peers and users: a quote or a newline in it must not end the field or forge a line.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_level g_level = LOG_LVL_INFO;
static const char *g_ident = "jobtel";
static bool g_syslog;

void log_setup(enum log_level level, const char *ident, bool use_syslog)
{
    g_level = level;
    g_ident = ident ? ident : "jobtel";
    g_syslog = use_syslog;
    if (use_syslog)
        openlog(g_ident, LOG_PID, LOG_DAEMON);
}

bool log_parse_level(const char *s, enum log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_LVL_WARN;
        return true;
    }
    return false;
}

const char *const log_level_words[] = {"error", "warn", "warning", "info", "debug", NULL};
const int log_level_values[] = {LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG};

bool log_enabled(enum log_level level) { return level <= g_level; }

size_t log_escape(char *dst, size_t dstsz, const char *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (dstsz == 0)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        char esc[7];
        size_t k = 0;
        switch (c) {
        case '"': esc[k++] = '\\'; esc[k++] = '"'; break;
        case '\\': esc[k++] = '\\'; esc[k++] = '\\'; break;
        case '\n': esc[k++] = '\\'; esc[k++] = 'n'; break;
        case '\r': esc[k++] = '\\'; esc[k++] = 'r'; break;
        case '\t': esc[k++] = '\\'; esc[k++] = 't'; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                esc[k++] = '\\';
                esc[k++] = 'u';
                esc[k++] = '0';
                esc[k++] = '0';
                esc[k++] = hex[c >> 4];
                esc[k++] = hex[c & 15];
            } else {
                esc[k++] = (char)c;
            }
        }
        if (o + k >= dstsz) /* never half an escape sequence */
            break;
        memcpy(dst + o, esc, k);
        o += k;
    }
    dst[o] = '\0';
    return o;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    static const char tags[][6] = {"error", "warn", "info", "debug"};
    char raw[1024];
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t rawlen = (size_t)m < sizeof raw ? (size_t)m : sizeof raw - 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, tags[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    size_t off = (size_t)n;
    /* Leave room for the closing quote and the newline. */
    off += log_escape(line + off, sizeof line - off - 2, raw, rawlen);
    line[off++] = '"';
    line[off++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, off);
    (void)w;
    if (g_syslog) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "%s", raw);
    }
}

bool ratelimit_allow(struct ratelimit *rl, double period_s, uint64_t *suppressed)
{
    double now = mono_now();
    if (rl->last != 0 && now - rl->last < period_s) {
        rl->suppressed++;
        return false;
    }
    if (suppressed)
        *suppressed = rl->suppressed;
    rl->suppressed = 0;
    rl->last = now;
    return true;
}

double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
