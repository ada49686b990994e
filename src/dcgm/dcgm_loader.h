/* dcgm_loader.h - loads libdcgm through dlopen (libdcgm.so.4, then libdcgm.so.3) and binds the entry points
 * jobtel uses. Like nvml_loader.h: never linked, one struct (no globals), each call site checks nothing
 * because every pointer here is required (a libdcgm without one of them is refused at open).
 */
#ifndef JOBTEL_DCGM_LOADER_H
#define JOBTEL_DCGM_LOADER_H

#include <limits.h>
#include <stddef.h>

#include "common/error.h"
#include "dcgm/dcgm_types.h"

struct dcgm_lib {
    void *handle;
    char path[PATH_MAX];
    /* Function pointers from here to ProfResume, contiguous (dcgm_loader.c asserts it). */
    dcgmReturn_t (*Init)(void);
    dcgmReturn_t (*Shutdown)(void);
    const char *(*ErrorString)(dcgmReturn_t r);
    dcgmReturn_t (*StartEmbedded)(int opMode, dcgmHandle_t *h);
    dcgmReturn_t (*StopEmbedded)(dcgmHandle_t h);
    dcgmReturn_t (*Connect_v2)(const char *addr, dcgmConnectV2Params_v2 *params, dcgmHandle_t *h);
    dcgmReturn_t (*Disconnect)(dcgmHandle_t h);
    dcgmReturn_t (*FieldGroupCreate)(dcgmHandle_t h, int n, const unsigned short *fieldIds, const char *name,
                                     dcgmFieldGrp_t *fg);
    dcgmReturn_t (*FieldGroupDestroy)(dcgmHandle_t h, dcgmFieldGrp_t fg);
    dcgmReturn_t (*WatchFields)(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg, long long updateFreqUsec,
                                double maxKeepAgeSec, int maxKeepSamples);
    dcgmReturn_t (*UnwatchFields)(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg);
    dcgmReturn_t (*UpdateAllFields)(dcgmHandle_t h, int waitForUpdate);
    dcgmReturn_t (*GetLatestValues_v2)(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg,
                                       dcgmFieldValueEntityEnumeration_f cb, void *user);
    /* Which NVML GPU and GPU instance each GPU_I entity is (MIG). */
    dcgmReturn_t (*GetGpuInstanceHierarchy)(dcgmHandle_t h, dcgmMigHierarchy_v2 *hierarchy);
    /* Health watches on a group and the check of them (DCGM_EXP_GPU_HEALTH_STATUS). */
    dcgmReturn_t (*HealthSet)(dcgmHandle_t h, dcgmGpuGrp_t g, unsigned int systems);
    dcgmReturn_t (*HealthCheck)(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmHealthResponse_v4 *response);
    /* Pause / resume profiling metric collection on every GPU of the engine (what `dcgmi profile --pause`
     * does), so a user's Nsight or CUPTI session can take the counters. */
    dcgmReturn_t (*ProfPause)(dcgmHandle_t h);
    dcgmReturn_t (*ProfResume)(dcgmHandle_t h);
};

/* Loads `path` (NULL or "": libdcgm.so.4, then libdcgm.so.3) and binds every entry point. JT_ERR_LIBRARY with
 * the reason in why[] when it cannot. Does not call Init. */
enum jt_err dcgm_lib_open(struct dcgm_lib *lib, const char *path, char *why, size_t whylen);
void dcgm_lib_close(struct dcgm_lib *lib);
/* The library's message for r, or a generic one. Never NULL. */
const char *dcgm_lib_strerror(const struct dcgm_lib *lib, dcgmReturn_t r);

#endif
