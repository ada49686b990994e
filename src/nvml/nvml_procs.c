/* nvml_procs.c - reads NVML's running-process lists at the record size the driver writes (see nvml_procs.h).
 *
 * Two sources say how big a record is, and they are checked against each other. The documented one is
 * the symbol version the loader bound plus the driver version (nvml_procs_record_size). The measured
 * one is the bytes the call overwrote in a buffer pre-filled with NVML_PROCS_FILL and sized for the
 * largest record (nvml_procs_measured_record_size). A driver writes exactly count records, so the last
 * overwritten byte falls inside the last record of the layout it used; the buffer is given half as many
 * records again as slack, so a library that clears all of it writes more than any layout could and the
 * measurement abstains. When the measurement is clear it wins: it is what this driver did, whatever its
 * version string says (a rebuilt or future driver repeating the R535 mistake is caught too).
 */
#include "nvml/nvml_procs.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The kernel's PID_MAX_LIMIT on 64-bit Linux (2^22): every pid is below it. */
#define PROCS_PID_LIMIT 4194304u
/* Most records one call may return (128 KiB of buffer); more than NVML_PROCS_MAX so the slack below
 * holds for every list we return in full. */
#define PROCS_QUERY_MAX 4096u
/* New processes may appear between the size query and the read: ask again this often. */
#define PROCS_ATTEMPTS 4

static const size_t record_sizes[] = {sizeof(nvmlProcessInfo_v1_t), sizeof(nvmlProcessInfo_t),
                                      sizeof(nvmlProcessInfo_r535_t)};

/* "major.minor[...]" -> major, minor; false unless both are decimal numbers below 10^9. */
static bool driver_major_minor(const char *v, unsigned int *major, unsigned int *minor)
{
    unsigned int part[2] = {0, 0};
    const char *p = v;
    for (int i = 0; i < 2; i++) {
        size_t digits = 0;
        while (p[digits] >= '0' && p[digits] <= '9') {
            if (digits == 9)
                return false;
            part[i] = part[i] * 10u + (unsigned int)(p[digits] - '0');
            digits++;
        }
        if (digits == 0)
            return false;
        p += digits;
        if (i == 0 && *p++ != '.')
            return false;
    }
    if (*p != '\0' && *p != '.')
        return false;
    *major = part[0];
    *minor = part[1];
    return true;
}

size_t nvml_procs_record_size(unsigned int symbol_version, const char *driver_version)
{
    if (symbol_version == 1)
        return sizeof(nvmlProcessInfo_v1_t);
    unsigned int major, minor;
    /* 535.43.02 through 535.86.x; 535.98 exported no _v3, and 535.104.05 brought it back at 24 bytes. */
    if (symbol_version == 3 && driver_version != NULL && driver_major_minor(driver_version, &major, &minor) &&
        major == 535 && minor < 98)
        return sizeof(nvmlProcessInfo_r535_t);
    return sizeof(nvmlProcessInfo_t);
}

size_t nvml_procs_measured_record_size(const unsigned char *buf, size_t len, size_t count)
{
    if (buf == NULL || count == 0)
        return 0;
    size_t end = len;
    while (end > 0 && buf[end - 1] == NVML_PROCS_FILL)
        end--;
    for (size_t i = 0; i < sizeof record_sizes / sizeof record_sizes[0]; i++) {
        size_t size = record_sizes[i];
        if (count > len / size)
            continue;
        if (end <= count * size && end > (count - 1) * size)
            return size;
    }
    return 0;
}

/* Adds pid to pids[0..*n) unless it is there already; false when it is new and cap is reached. */
static bool pid_add(unsigned int *pids, size_t cap, size_t *n, unsigned int pid)
{
    for (size_t i = 0; i < *n; i++) {
        if (pids[i] == pid)
            return true;
    }
    if (*n >= cap)
        return false;
    pids[(*n)++] = pid;
    return true;
}

typedef nvmlReturn_t (*procs_fn)(nvmlDevice_t, unsigned int *, void *);

/* One list: appends its pids to pids[0..*n). Returns JT_OK, JT_ERR_LIMIT (cap reached) or the error. */
static enum jt_err read_list(procs_fn fn, size_t expected, nvmlDevice_t dev, unsigned int *pids, size_t cap,
                             size_t *n)
{
    enum jt_err err = JT_ERR_LIMIT; /* still growing after every attempt */
    unsigned char *buf = NULL;
    for (int attempt = 0; attempt < PROCS_ATTEMPTS; attempt++) {
        unsigned int want = 0;
        nvmlReturn_t r = fn(dev, &want, NULL);
        if (r == NVML_SUCCESS) {
            err = JT_OK; /* no processes */
            goto out;
        }
        if (r != NVML_ERROR_INSUFFICIENT_SIZE) {
            err = nvml_return_to_jt_err(r);
            goto out;
        }
        /* Slack for processes that start before the second call, and so that a library which clears
         * the whole buffer writes more than count records of any layout (see the file comment). */
        size_t slots = (size_t)want + want / 2 + 8;
        bool full_slack = slots <= PROCS_QUERY_MAX;
        if (!full_slack)
            slots = PROCS_QUERY_MAX;
        size_t len = slots * NVML_PROCESS_INFO_MAX_STRIDE;
        free(buf);
        buf = malloc(len);
        if (buf == NULL) {
            err = JT_ERR_NOMEM;
            goto out;
        }
        memset(buf, NVML_PROCS_FILL, len);
        unsigned int got = (unsigned int)slots;
        r = fn(dev, &got, buf);
        if (r == NVML_ERROR_INSUFFICIENT_SIZE && full_slack)
            continue; /* more processes than a moment ago */
        if (r != NVML_SUCCESS) {
            err = r == NVML_ERROR_INSUFFICIENT_SIZE ? JT_ERR_LIMIT : nvml_return_to_jt_err(r);
            goto out;
        }
        size_t count = got < slots ? got : slots; /* a count beyond the buffer is not data */
        /* Without the full slack a clearing library could pass for a larger layout: do not measure. */
        size_t size = full_slack ? nvml_procs_measured_record_size(buf, len, count) : 0;
        if (size == 0)
            size = expected;
        err = JT_OK;
        for (size_t i = 0; i < count && (i + 1) * size <= len; i++) {
            unsigned int pid;
            memcpy(&pid, buf + i * size + offsetof(nvmlProcessInfo_t, pid), sizeof pid);
            if (pid == 0 || pid >= PROCS_PID_LIMIT)
                continue; /* not a process: a misread record, never a job */
            if (!pid_add(pids, cap, n, pid)) {
                err = JT_ERR_LIMIT;
                break;
            }
        }
        goto out;
    }
out:
    free(buf);
    return err;
}

enum jt_err nvml_procs_pids(const struct nvml_lib *lib, nvmlDevice_t dev, unsigned int kinds, unsigned int *pids,
                            size_t cap, size_t *n)
{
    *n = 0;
    if (lib == NULL || pids == NULL)
        return JT_ERR_INTERNAL;
    char driver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    driver[0] = '\0';
    if (lib->SystemGetDriverVersion == NULL || lib->SystemGetDriverVersion(driver, sizeof driver) != NVML_SUCCESS)
        driver[0] = '\0';
    driver[sizeof driver - 1] = '\0';

    const struct {
        unsigned int kind;
        procs_fn fn;
        unsigned int version;
        procs_fn v2; /* asked when fn is _v3 and answers as if it were missing */
    } lists[] = {
        {NVML_PROCS_COMPUTE, lib->DeviceGetComputeRunningProcesses, lib->compute_procs_version,
         lib->DeviceGetComputeRunningProcesses_v2},
        {NVML_PROCS_GRAPHICS, lib->DeviceGetGraphicsRunningProcesses, lib->graphics_procs_version,
         lib->DeviceGetGraphicsRunningProcesses_v2},
    };
    bool any = false;
    enum jt_err err = JT_OK;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0] && err == JT_OK; i++) {
        if (!(kinds & lists[i].kind) || lists[i].fn == NULL)
            continue;
        any = true;
        err = read_list(lists[i].fn, nvml_procs_record_size(lists[i].version, driver), dev, pids, cap, n);
        if (err == JT_ERR_UNSUPPORTED && lists[i].v2 != NULL && lists[i].v2 != lists[i].fn)
            err = read_list(lists[i].v2, nvml_procs_record_size(2, driver), dev, pids, cap, n);
    }
    if (!any)
        return JT_ERR_UNSUPPORTED;
    if (err != JT_OK && err != JT_ERR_LIMIT)
        *n = 0;
    return err;
}
