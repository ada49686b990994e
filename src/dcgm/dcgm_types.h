/* dcgm_types.h - our declarations of the DCGM C ABI subset jobtel uses (gpu-apis.md §3), so that jobtel
 * builds and runs without DCGM installed and loads libdcgm only when asked (--collector.gpu.dcgm).
 *
 * Only struct versions DCGM 3.x and 4.x both accept: dcgmConnectV2Params_v2 and dcgmFieldValue_v1.
 */
#ifndef JOBTEL_DCGM_TYPES_H
#define JOBTEL_DCGM_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef int dcgmReturn_t;
#define DCGM_ST_OK 0
#define DCGM_ST_BADPARAM (-1)
#define DCGM_ST_GENERIC_ERROR (-3)
#define DCGM_ST_NOT_SUPPORTED (-6)
#define DCGM_ST_INIT_ERROR (-7)
#define DCGM_ST_NO_DATA (-14)
#define DCGM_ST_NOT_WATCHED (-16)
#define DCGM_ST_NO_PERMISSION (-17)
#define DCGM_ST_CONNECTION_NOT_VALID (-21)
#define DCGM_ST_DUPLICATE_KEY (-26)
#define DCGM_ST_PROFILING_NOT_SUPPORTED (-36)

typedef uintptr_t dcgmHandle_t;
typedef uintptr_t dcgmGpuGrp_t;
typedef uintptr_t dcgmFieldGrp_t;

#define DCGM_OPERATION_MODE_AUTO 1
#define DCGM_GROUP_ALL_GPUS ((dcgmGpuGrp_t)0x7fffffff)
#define DCGM_GROUP_ALL_INSTANCES ((dcgmGpuGrp_t)0x7ffffffd) /* every MIG GPU instance (GPU_I entities) */
#define DCGM_FE_GPU 1u
#define DCGM_FE_GPU_I 4u
#define DCGM_MAX_STR_LENGTH 256
#define DCGM_MAX_BLOB_LENGTH 4096

#define DCGM_MAKE_VERSION(type, v) ((unsigned)(sizeof(type) | ((unsigned)(v) << 24)))

typedef struct {
    unsigned int version;               /* dcgmConnectV2Params_version2 */
    unsigned int persistAfterDisconnect; /* 0: the engine drops our watches when we go */
    unsigned int timeoutMs;
    unsigned int addressIsUnixSocket;
} dcgmConnectV2Params_v2;
#define DCGM_CONNECT_V2_PARAMS_VERSION2 DCGM_MAKE_VERSION(dcgmConnectV2Params_v2, 2)

typedef struct {
    unsigned int version;               /* DCGM_FIELD_VALUE_VERSION1 */
    unsigned short fieldId;
    unsigned short fieldType;           /* 'd' double, 'i' int64, 's' string, 'b' blob, 't' timestamp */
    int status;                         /* DCGM_ST_* */
    int64_t ts;                         /* µs since the epoch */
    union {
        int64_t i64;
        double dbl;
        char str[DCGM_MAX_STR_LENGTH];
        char blob[DCGM_MAX_BLOB_LENGTH];
    } value;
} dcgmFieldValue_v1;
#define DCGM_FIELD_VALUE_VERSION1 DCGM_MAKE_VERSION(dcgmFieldValue_v1, 1)

/* MIG: which GPU instance each DCGM GPU_I entity id is (dcgmGetGpuInstanceHierarchy). DCGM numbers its
 * GPU_I entities itself; nvmlGpuIndex and nvmlInstanceId are NVML's GPU index and GPU-instance id. */
typedef struct {
    unsigned int entityGroupId;
    unsigned int entityId;
} dcgmGroupEntityPair_t;

typedef struct {
    char gpuUuid[128];
    unsigned int nvmlGpuIndex;
    unsigned int nvmlInstanceId;
    unsigned int nvmlComputeInstanceId;
    unsigned int nvmlMigProfileId;
    unsigned int nvmlProfileSlices;
} dcgmMigEntityInfo_t;

typedef struct {
    dcgmGroupEntityPair_t entity;
    dcgmGroupEntityPair_t parent;
    dcgmMigEntityInfo_t info;
} dcgmMigHierarchyInfo_v2;

#define DCGM_MAX_NUM_DEVICES 32
#define DCGM_MAX_HIERARCHY_INFO (DCGM_MAX_NUM_DEVICES * 14) /* 14 = GPU + compute instances per GPU */
typedef struct {
    unsigned int version;
    unsigned int count;
    dcgmMigHierarchyInfo_v2 entityList[DCGM_MAX_HIERARCHY_INFO];
} dcgmMigHierarchy_v2;
#define DCGM_MIG_HIERARCHY_VERSION2 DCGM_MAKE_VERSION(dcgmMigHierarchy_v2, 2)

/* Health checks (dcgmHealthSet / dcgmHealthCheck, response version 4: DCGM 2.0 and newer). */
#define DCGM_HEALTH_WATCH_ALL 0xFFFFFFFFu
#define DCGM_HEALTH_RESULT_PASS 0
#define DCGM_HEALTH_RESULT_WARN 10
#define DCGM_HEALTH_RESULT_FAIL 20
#define DCGM_HEALTH_WATCH_MAX_INCIDENTS 64
typedef struct {
    char msg[1024];
    unsigned int code;                 /* DCGM_FR_* */
} dcgmDiagErrorDetail_t;

typedef struct {
    unsigned int system;               /* one DCGM_HEALTH_WATCH_* bit */
    unsigned int health;               /* DCGM_HEALTH_RESULT_* */
    dcgmDiagErrorDetail_t error;
    dcgmGroupEntityPair_t entityInfo;
} dcgmIncidentInfo_t;

typedef struct {
    unsigned int version;
    unsigned int overallHealth;
    unsigned int incidentCount;
    dcgmIncidentInfo_t incidents[DCGM_HEALTH_WATCH_MAX_INCIDENTS];
} dcgmHealthResponse_v4;
#define DCGM_HEALTH_RESPONSE_VERSION4 DCGM_MAKE_VERSION(dcgmHealthResponse_v4, 4)

/* "No value" sentinels: a value at or above the blank is none (NOT_FOUND, NOT_SUPPORTED, NOT_PERMISSIONED
 * are blank + 1..3). */
#define DCGM_INT64_BLANK 0x7ffffffffffffff0LL
#define DCGM_FP64_BLANK 140737488355328.0

/* Called per entity with its values; copy them out (freed after the call). Return 0 to go on. */
typedef int (*dcgmFieldValueEntityEnumeration_f)(unsigned int entityGroupId, unsigned int entityId,
                                                 dcgmFieldValue_v1 *values, int numValues, void *userData);

/* Profiling field ids (DCGM_FI_PROF_*, unchanged across 3.x and 4.x). */
#define DCGM_FI_PROF_GR_ENGINE_ACTIVE 1001
#define DCGM_FI_PROF_SM_ACTIVE 1002
#define DCGM_FI_PROF_SM_OCCUPANCY 1003
#define DCGM_FI_PROF_PIPE_TENSOR_ACTIVE 1004
#define DCGM_FI_PROF_DRAM_ACTIVE 1005
#define DCGM_FI_PROF_PIPE_FP64_ACTIVE 1006
#define DCGM_FI_PROF_PIPE_FP32_ACTIVE 1007
#define DCGM_FI_PROF_PIPE_FP16_ACTIVE 1008
#define DCGM_FI_PROF_PCIE_TX_BYTES 1009
#define DCGM_FI_PROF_PCIE_RX_BYTES 1010
#define DCGM_FI_PROF_NVLINK_TX_BYTES 1011
#define DCGM_FI_PROF_NVLINK_RX_BYTES 1012
#define DCGM_FI_PROF_PIPE_INT_ACTIVE 1016

_Static_assert(sizeof(dcgmConnectV2Params_v2) == 16, "dcgmConnectV2Params_v2 is 16 bytes");
_Static_assert(DCGM_CONNECT_V2_PARAMS_VERSION2 == 0x02000010u, "dcgmConnectV2Params_version2");
_Static_assert(sizeof(dcgmFieldValue_v1) == 4120, "dcgmFieldValue_v1 is 4120 bytes");
_Static_assert(offsetof(dcgmFieldValue_v1, fieldId) == 4, "dcgmFieldValue_v1.fieldId");
_Static_assert(offsetof(dcgmFieldValue_v1, fieldType) == 6, "dcgmFieldValue_v1.fieldType");
_Static_assert(offsetof(dcgmFieldValue_v1, status) == 8, "dcgmFieldValue_v1.status");
_Static_assert(offsetof(dcgmFieldValue_v1, ts) == 16, "dcgmFieldValue_v1.ts");
_Static_assert(offsetof(dcgmFieldValue_v1, value) == 24, "dcgmFieldValue_v1.value");
_Static_assert(DCGM_FIELD_VALUE_VERSION1 == 0x01001018u, "dcgmFieldValue_version1");
_Static_assert(sizeof(dcgmIncidentInfo_t) == 1044, "dcgmIncidentInfo_t is 1044 bytes");
_Static_assert(offsetof(dcgmIncidentInfo_t, entityInfo) == 1036, "dcgmIncidentInfo_t.entityInfo");
_Static_assert(sizeof(dcgmHealthResponse_v4) == 66828, "dcgmHealthResponse_v4 is 66828 bytes");
_Static_assert(DCGM_HEALTH_RESPONSE_VERSION4 == 0x0401050cu, "dcgmHealthResponse_version4");
_Static_assert(sizeof(dcgmMigEntityInfo_t) == 148, "dcgmMigEntityInfo_t is 148 bytes");
_Static_assert(sizeof(dcgmMigHierarchyInfo_v2) == 164, "dcgmMigHierarchyInfo_v2 is 164 bytes");
_Static_assert(offsetof(dcgmMigHierarchyInfo_v2, info) == 16, "dcgmMigHierarchyInfo_v2.info");
_Static_assert(sizeof(dcgmMigHierarchy_v2) == 73480, "dcgmMigHierarchy_v2 is 73480 bytes");
_Static_assert(DCGM_MIG_HIERARCHY_VERSION2 == 0x02011f08u, "dcgmMigHierarchy_version2");

#endif
