/* jobstats_fmt.c - durations, byte sizes, meters and dates for the jobstats report (see jobstats_fmt.h). */
#include "jobstats/jobstats_fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/strparse.h"

void fmt_duration(char *dst, size_t dstsz, double seconds)
{
    if (!(seconds > 0))
        seconds = 0;
    if (seconds > 1e15) /* far beyond any job; keeps the conversion defined */
        seconds = 1e15;
    uint64_t s = (uint64_t)floor(seconds);
    uint64_t d = s / 86400, h = (s / 3600) % 24, m = (s / 60) % 60, sec = s % 60;
    if (d > 0)
        snprintf(dst, dstsz, "%llu-%02llu:%02llu:%02llu", (unsigned long long)d, (unsigned long long)h,
                 (unsigned long long)m, (unsigned long long)sec);
    else
        snprintf(dst, dstsz, "%02llu:%02llu:%02llu", (unsigned long long)h, (unsigned long long)m,
                 (unsigned long long)sec);
}

static const char *const units[] = {"B", "KB", "MB", "GB", "TB", "PB"};

static size_t scale(double *v)
{
    size_t u = 0;
    if (!(*v > 0))
        *v = 0;
    while (*v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        *v /= 1024.0;
        u++;
    }
    return u;
}

void fmt_bytes(char *dst, size_t dstsz, double bytes)
{
    size_t u = scale(&bytes);
    snprintf(dst, dstsz, "%.1f%s", bytes, units[u]);
}

void fmt_bytes_short(char *dst, size_t dstsz, double bytes)
{
    size_t u = scale(&bytes);
    if (fabs(bytes - round(bytes)) < 0.05)
        snprintf(dst, dstsz, "%.0f%s", bytes, units[u]);
    else
        snprintf(dst, dstsz, "%.1f%s", bytes, units[u]);
}

void fmt_meter(char *dst, size_t dstsz, int pct)
{
    char inner[FMT_METER_WIDTH + 1];
    char label[16];
    int bars = pct / 2;
    if (bars < 0)
        bars = 0;
    if (bars > FMT_METER_WIDTH)
        bars = FMT_METER_WIDTH;
    int ln = snprintf(label, sizeof label, "%d%%", pct);
    if (ln < 0 || ln > FMT_METER_WIDTH)
        ln = 0;
    /* The percentage is right-aligned inside the brackets; bars give way where they would overlap. */
    if (bars > FMT_METER_WIDTH - ln)
        bars = FMT_METER_WIDTH - ln;
    memset(inner, ' ', FMT_METER_WIDTH);
    memset(inner, '|', (size_t)bars);
    memcpy(inner + FMT_METER_WIDTH - ln, label, (size_t)ln);
    inner[FMT_METER_WIDTH] = '\0';
    snprintf(dst, dstsz, "[%s]", inner);
}

void fmt_start_time(char *dst, size_t dstsz, int64_t epoch)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)epoch;
    struct tm tm;
    if (!localtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) {
        snprintf(dst, dstsz, "%lld", (long long)epoch);
        return;
    }
    int h12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    snprintf(dst, dstsz, "%s %s %d, %d at %d:%02d %s", wd[tm.tm_wday], mo[tm.tm_mon], tm.tm_mday,
             tm.tm_year + 1900, h12, tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
}

void fmt_time_limit(char *dst, size_t dstsz, int64_t minutes)
{
    if (minutes < 0)
        snprintf(dst, dstsz, "UNLIMITED");
    else
        fmt_duration(dst, dstsz, (double)minutes * 60.0);
}

/* printf's %.Nf rounds the exact binary value to nearest, ties to even, as Python's round() does. */
static double round_digits(double x, int digits)
{
    char t[512];
    if (!isfinite(x) || fabs(x) >= 1e300)
        return x;
    snprintf(t, sizeof t, "%.*f", digits, x);
    return strtod(t, NULL);
}

double fmt_round1(double x) { return round_digits(x, 1); }
double fmt_round0(double x) { return round_digits(x, 0); }

void fmt_py_number(char *dst, size_t dstsz, double v, bool is_integer)
{
    if (is_integer && fabs(v) < 9007199254740992.0) {
        snprintf(dst, dstsz, "%lld", (long long)v);
        return;
    }
    if (!isfinite(v) || fabs(v) >= 1e16 || (v != 0 && fabs(v) < 1e-4)) {
        snprintf(dst, dstsz, "%.17g", v); /* not reached for validated figures */
        return;
    }
    char t[64];
    for (int d = 1; d <= 20; d++) {
        snprintf(t, sizeof t, "%.*f", d, v);
        if (strtod(t, NULL) == v)
            break;
    }
    snprintf(dst, dstsz, "%s", t);
}

/* Replaces every occurrence of from by to in s (in place; to is never longer than from). */
static void replace_all(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    char *p = s;
    while ((p = strstr(p, from)) != NULL) {
        memmove(p + tl, p + fl, strlen(p + fl) + 1);
        memcpy(p, to, tl);
        p += tl;
    }
}

void fmt_bytes_alloc(char *dst, size_t dstsz, double bytes)
{
    fmt_bytes(dst, dstsz, bytes);
    replace_all(dst, ".0GB", "GB");
}

void fmt_reqmem_header(char *dst, size_t dstsz, const char *reqmem, uint32_t ncpus)
{
    static const char *const units1000[] = {"B", "KB", "MB", "GB", "TB"};
    char total[64];
    size_t n = strlen(reqmem);
    double mult = 0, v;
    if (n > 0) {
        switch (reqmem[n - 1]) {
        case 'K': mult = 1e3; break;
        case 'M': mult = 1e6; break;
        case 'G': mult = 1e9; break;
        case 'T': mult = 1e12; break;
        default: break;
        }
    }
    if (mult == 0 || n >= sizeof total || !str_to_double(reqmem, n - 1, &v)) {
        snprintf(dst, dstsz, "%s", reqmem);
        return;
    }
    memcpy(total, reqmem, n + 1);
    replace_all(total, "000K", "M");
    replace_all(total, "000M", "G");
    replace_all(total, "000G", "T");
    replace_all(total, ".50G", ".5G");
    replace_all(total, ".50T", ".5T");
    if (ncpus <= 1) { /* Princeton omits the part for one core; zero cores cannot be divided by */
        snprintf(dst, dstsz, "%sB", total);
        return;
    }
    double per = v * mult / ncpus;
    size_t u = 0;
    while (per >= 1000 && u + 1 < sizeof units1000 / sizeof units1000[0]) {
        per /= 1000;
        u++;
    }
    char pc[64];
    snprintf(pc, sizeof pc, "%.1f", per);
    replace_all(pc, ".0", "");
    snprintf(dst, dstsz, "%sB (%s%s per CPU-core)", total, pc, units1000[u]);
}

void fmt_center(char *dst, size_t dstsz, const char *title, int width)
{
    int len = (int)strlen(title), marg = width - len;
    if (marg <= 0) {
        snprintf(dst, dstsz, "%s", title);
        return;
    }
    int left = marg / 2 + (marg & width & 1);
    snprintf(dst, dstsz, "%*s%s%*s", left, "", title, marg - left, "");
}

/* Length of the valid, printable UTF-8 sequence at p (1-4), or 0 for a byte to replace. */
static size_t clean_len(const unsigned char *p, bool multiline)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return (c >= 0x20 && c != 0x7f) || (multiline && (c == '\n' || c == '\t')) ? 1 : 0;
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if (n == 2 && c == 0xC2 && p[1] <= 0x9F) /* C1 controls, U+0080-U+009F (CSI is U+009B) */
        return 0;
    if ((n == 3 && c == 0xE0 && p[1] < 0xA0) || (n == 3 && c == 0xED && p[1] > 0x9F) ||
        (n == 4 && c == 0xF0 && p[1] < 0x90) || (n == 4 && c == 0xF4 && p[1] > 0x8F))
        return 0; /* overlong forms and surrogates */
    return n;
}

void fmt_clean(char *dst, size_t dstsz, const char *src, bool multiline)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)src;
    if (dstsz == 0)
        return;
    while (*p) {
        size_t n = clean_len(p, multiline);
        if (o + (n ? n : 1) >= dstsz)
            break;
        if (n) {
            memcpy(dst + o, p, n);
            o += n;
            p += n;
        } else {
            dst[o++] = '?';
            p++;
        }
    }
    dst[o] = '\0';
}

void fmt_print_clean(FILE *f, const char *src, bool multiline)
{
    const unsigned char *p = (const unsigned char *)src;
    while (*p) {
        size_t n = clean_len(p, multiline);
        if (n) {
            fwrite(p, 1, n, f);
            p += n;
        } else {
            fputc('?', f);
            p++;
        }
    }
}
