/* jobstats_fmt.h - the small text pieces of the jobstats report: durations, byte sizes, meters, dates.
 *
 * Kept apart from the report so each rule (Princeton's "[D-]HH:MM:SS", 1024-based sizes with one
 * decimal, 50-character meters) is unit-tested on its own and the report code only arranges them.
 */
#ifndef JOBTEL_JOBSTATS_FMT_H
#define JOBTEL_JOBSTATS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FMT_METER_WIDTH 50 /* characters between the brackets */

/* "[D-]HH:MM:SS", the seconds floored as Princeton's do (57620.9 s is "16:00:20"); negative input
 * prints as 00:00:00. */
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

/* Python's round(x, 1) and round(x): correctly rounded, ties to even (92.25 -> 92.2, 92.5 -> 92). */
double fmt_round1(double x);
double fmt_round0(double x);
/* A JSON number as Python prints it: integers plainly ("24"), floats by the shortest text that reads
 * back the same, always with a decimal ("65.0", "45.6789"). */
void fmt_py_number(char *dst, size_t dstsz, double v, bool is_integer);
/* fmt_bytes with ".0GB" written "GB", as Princeton prints allocations ("128GB", but "350.0MB"). */
void fmt_bytes_alloc(char *dst, size_t dstsz, double bytes);
/* The header's "CPU Memory" from sacct's ReqMem text and NCPUS (jobstats.md §1.5a): "10GB (250MB per
 * CPU-core)", no per-core part for one core, the text as it is when it has no K/M/G/T unit. */
void fmt_reqmem_header(char *dst, size_t dstsz, const char *reqmem, uint32_t ncpus);
/* Python's str.center(80): the extra space of an odd margin goes to the right. */
void fmt_center(char *dst, size_t dstsz, const char *title, int width);

/* Job names, batch scripts and node names come from users: control characters (C0, DEL, C1) and
 * bytes that are not UTF-8 become '?', so no terminal escape sequence reaches a terminal. Newlines and
 * tabs are kept when multiline. fmt_clean writes into dst (truncating); fmt_print_clean to f. */
void fmt_clean(char *dst, size_t dstsz, const char *src, bool multiline);
void fmt_print_clean(FILE *f, const char *src, bool multiline);

#endif
