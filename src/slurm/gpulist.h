/* gpulist.h - the GPU lists Slurm hands a job, and the node's GPUs they refer to.
 *
 * slurmd tells a prolog which GPUs a job got through SLURM_JOB_GPUS (Slurm's GRES indices, "0-1,3") or
 * CUDA_VISIBLE_DEVICES (indices, or GPU-/MIG- UUIDs since Slurm 25.11). The mapping files are keyed by
 * NVML index and by UUID, so a list entry must be turned into both. That needs the node's index <-> UUID
 * table, which we read from the driver's /proc/driver/nvidia/gpus/<bus id>/information files instead of
 * loading NVML: a prolog has a 5 ms budget and NVML's init alone costs far more.
 *
 * Everything here is bounded and parsed strictly: an environment variable is untrusted input to a
 * program that runs as root.
 */
#ifndef JOBTEL_GPULIST_H
#define JOBTEL_GPULIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define GPULIST_MAX 128          /* entries in one list: GPUs plus MIG slices of one node */
#define GPULIST_TEXT_MAX 4096    /* a longer list is refused, never truncated */
#define GPULIST_INDEX_MAX 65535u /* largest GPU index or GPU instance id accepted */
#define GPULIST_UUID_MAX 96      /* bytes incl. NUL; NVML's NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define GPULIST_MAX_DEVICES 64   /* GPUs read from /proc/driver/nvidia/gpus */

enum gpulist_kind {
    GPULIST_INDEX,    /* "3", or "3.1" for GPU instance 1 of GPU 3 */
    GPULIST_GPU_UUID, /* "GPU-8e2b…" */
    GPULIST_MIG_UUID, /* "MIG-5c1f…" (R470+), or the older "MIG-GPU-<uuid>/<gi>/<ci>" */
};

struct gpulist_entry {
    enum gpulist_kind kind;
    uint32_t index;                       /* GPULIST_INDEX only */
    int32_t gpu_instance;                 /* from "<index>.<gi>" or an old-style MIG UUID; else -1 */
    char uuid[GPULIST_UUID_MAX];          /* the UUID as given; "" for GPULIST_INDEX */
    char parent_uuid[GPULIST_UUID_MAX];   /* "GPU-…" named inside an old-style MIG UUID; else "" */
};

struct gpulist {
    size_t n;
    struct gpulist_entry e[GPULIST_MAX]; /* in list order, duplicates removed */
};

/* Parses a comma-separated list: indices, ranges "a-b", "<index>.<gi>", GPU and MIG UUIDs, with
 * optional blanks around items. "" and Slurm's "NoDevFiles" give an empty list. Any bad item fails the
 * whole list (JT_ERR_PARSE, JT_ERR_RANGE, or JT_ERR_LIMIT when too long or too many entries);
 * *errpos (may be NULL) then gets the byte offset of the item that failed. */
enum jt_err gpulist_parse(const char *s, struct gpulist *out, size_t *errpos);

/* One GPU as the driver shows it. */
struct gpulist_device {
    uint32_t index;              /* NVML index: position in PCI bus id order */
    uint32_t minor;              /* /dev/nvidia<minor> */
    char uuid[GPULIST_UUID_MAX]; /* "GPU-…" */
    char bus_id[32];             /* "0000:3b:00.0" */
};

struct gpulist_devices {
    size_t n;
    struct gpulist_device d[GPULIST_MAX_DEVICES]; /* sorted by index */
};

/* Reads <procfs>/driver/nvidia/gpus/<bus id>/information for every GPU. JT_ERR_NOT_FOUND when the
 * directory does not exist (no driver loaded, or a test root without it); out->n is 0 then.
 * A device whose file cannot be parsed is left out and the result is JT_ERR_PARSE with the rest
 * filled in, so a caller may still use what was read. */
enum jt_err gpulist_devices_load(const char *procfs, struct gpulist_devices *out);

/* How the numbers in a list are to be read. Slurm's GRES index is the position of the device in
 * gres.conf: with AutoDetect=nvml that is the NVML index; with File=/dev/nvidia[0-N] it is the minor
 * number, which can differ from the NVML index on some boards. */
enum gpulist_numbering { GPULIST_NUMBER_INDEX, GPULIST_NUMBER_MINOR };

/* Where one list entry goes in the mapping files. */
struct gpulist_target {
    bool has_index;              /* index/gpu_instance are known: files "<index>" or "<index>.<gi>" */
    uint32_t index;
    int32_t gpu_instance;        /* -1 for a whole GPU */
    char uuid[GPULIST_UUID_MAX]; /* a UUID usable as a file name ("GPU-…" or "MIG-…"), or "" */
};

/* Resolves an entry through the device table (devs may be NULL or empty: then indices pass through
 * unchanged and UUIDs stay unresolved). JT_ERR_NOT_FOUND when `numbering` is MINOR and no device has
 * that minor number, because guessing would label the wrong GPU. */
enum jt_err gpulist_resolve(const struct gpulist_entry *e, const struct gpulist_devices *devs,
                            enum gpulist_numbering numbering, struct gpulist_target *out);

#endif
