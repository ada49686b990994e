/* jobstats_fmt.h - the small text pieces of the jobstats report: durations, byte sizes, meters, dates.
 *
 * Kept apart from the report so each rule (Princeton's "[D-]HH:MM:SS", 1024-based sizes with one
 * decimal, 50-character meters) is unit-tested on its own and the report code only arranges them.
 */
#ifndef JOBTEL_JOBSTATS_FMT_H
#define JOBTEL_JOBSTATS_FMT_H

#include <stddef.h>
#include <stdint.h>

#define FMT_METER_WIDTH 50 /* characters between the brackets */

/* "[D-]HH:MM:SS"; negative input prints as 00:00:00. */
void fmt_duration(char *dst, size_t dstsz, double seconds);
/* 1024-based with one decimal: "512.0B", "7.9GB", "1.2PB". */
void fmt_bytes(char *dst, size_t dstsz, double bytes);
/* Like fmt_bytes but without a decimal when the value is whole ("256GB"), for allocations. */
void fmt_bytes_short(char *dst, size_t dstsz, double bytes);
/* "[|||||                                             10%]": pct is clamped to 0..100 for the bars. */
void fmt_meter(char *dst, size_t dstsz, int pct);
/* "Fri Mar 4, 2022 at 1:56 AM" in local time. */
void fmt_start_time(char *dst, size_t dstsz, int64_t epoch);
/* Slurm time limit in minutes as "[D-]HH:MM:SS"; negative means UNLIMITED. */
void fmt_time_limit(char *dst, size_t dstsz, int64_t minutes);

#endif
