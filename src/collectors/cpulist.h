/* cpulist.h - the kernel's CPU list format ("0-3,8,10-11"), as in cpuset.cpus and /sys/devices/system/cpu.
 *
 * The kernel prints these lists sorted, with ranges that neither overlap nor touch, so a strict reader
 * can count CPUs without building a bitmap and can reject anything the kernel would not have written.
 */
#ifndef JOBTEL_CPULIST_H
#define JOBTEL_CPULIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Highest CPU number accepted; the kernel's NR_CPUS limit is far below it. */
#define CPULIST_MAX_CPU 1048575u

/* Counts the CPUs in the list [s, s + n). Surrounding white space (the trailing newline) is ignored and
 * an empty list counts 0. Returns false, leaving *count alone, for anything else than ascending,
 * non-overlapping "a" and "a-b" items separated by commas. */
bool cpulist_count(const char *s, size_t n, uint32_t *count);

#endif
