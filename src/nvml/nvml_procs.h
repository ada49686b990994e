/* nvml_procs.h - the pids of a GPU's running processes, read at the record size the driver really writes.
 *
 * nvmlDevice{Compute,Graphics}RunningProcesses fill an array whose element size depends on the driver
 * branch, not only on the symbol's name (shared/reference/gpu-apis.md §1.5):
 *   - _v2 (NVML 11.3+) writes the 24-byte nvmlProcessInfo_t, on every branch;
 *   - _v3 (510.39+) writes the same 24 bytes, except on early R535 (535.43 to 535.86), whose _v3 wrote
 *     32-byte records (an extra u64) without a version bump; 535.98 dropped _v3, 535.104 restored it at
 *     24 bytes; R470 has no _v3 at all, so the loader binds _v2 there.
 * Reading a 32-byte array at 24 bytes makes every pid after the first garbage, which labels GPUs with
 * the wrong Slurm jobs. So every caller goes through nvml_procs_pids(), which falls back to _v2 when a
 * bound _v3 answers as missing (FUNCTION_NOT_FOUND, NOT_SUPPORTED), picks the record size
 * from the symbol version the loader bound and the driver version, checks it against the bytes the call
 * actually wrote (the buffer is pre-filled, and sized for the largest record), never reads past the
 * buffer whatever count the library returns, and drops pids no kernel can have.
 */
#ifndef JOBTEL_NVML_PROCS_H
#define JOBTEL_NVML_PROCS_H

#include <stddef.h>

#include "common/error.h"
#include "nvml/nvml_loader.h"

/* A good size for the caller's pid array (a GPU runs far fewer processes). */
#define NVML_PROCS_MAX 1024

/* Which lists to read; a pid on both (a "C+G" process) is returned once. */
#define NVML_PROCS_COMPUTE 0x1u
#define NVML_PROCS_GRAPHICS 0x2u

/* The byte the record buffer is filled with before the call, so the bytes the library wrote show. */
#define NVML_PROCS_FILL 0xA5u

/* Writes to pids[0..cap) the pids of the processes on `dev` (a GPU or MIG device handle) in the lists
 * `kinds` names, without duplicates, in the library's order, and sets *n. Returns JT_OK; JT_ERR_LIMIT
 * when there were more than cap, or than one call may return (pids holds what fitted); JT_ERR_UNSUPPORTED when the library has
 * none of the asked-for entry points; else the nvml_return_to_jt_err() of the failing call, with
 * *n = 0. Records whose pid is 0 or not below the kernel's PID_MAX_LIMIT are skipped, never returned.
 * Thread-safe as NVML is; allocates only temporarily. */
enum jt_err nvml_procs_pids(const struct nvml_lib *lib, nvmlDevice_t dev, unsigned int kinds, unsigned int *pids,
                            size_t cap, size_t *n);

/* The record size (bytes) that the entry point of `symbol_version` (3, 2; 1 = unversioned) writes on
 * a driver reporting `driver_version` (nvmlSystemGetDriverVersion, e.g. "535.54.03"; NULL or "" if
 * unknown): 32 for _v3 on 535.x with x < 98, 16 for v1, else 24. Exposed for the tests. */
size_t nvml_procs_record_size(unsigned int symbol_version, const char *driver_version);

/* The record size a call that reported `count` records wrote into buf[0..len), which was filled with
 * NVML_PROCS_FILL before the call: 16, 24 or 32 when the written bytes end inside the last record of
 * exactly one of those layouts, else 0 (nothing written, or more than count records' worth, as from a
 * library that clears the whole buffer). Exposed for the tests. */
size_t nvml_procs_measured_record_size(const unsigned char *buf, size_t len, size_t count);

#endif
