/* jobstats_fmt.c - durations, byte sizes, meters and dates for the jobstats report (see jobstats_fmt.h). */
#include "jobstats/jobstats_fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void fmt_duration(char *dst, size_t dstsz, double seconds)
{
    if (!(seconds > 0))
        seconds = 0;
    uint64_t s = (uint64_t)llround(seconds);
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
