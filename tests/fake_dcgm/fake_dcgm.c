/* fake_dcgm.c - a test double for libdcgm.so.4 (and .so.3): the DCGM entry points jobtel binds, answered from
 * a JSON scenario, with a host engine a test can take away and bring back.
 *
 * No DCGM exists where the tests run. The declarations here are our own second reading of gpu-apis.md §3,
 * independent of src/dcgm/, so a mistake in one is unlikely to be repeated in the other.
 *
 * Environment:
 *   FAKE_DCGM_SCENARIO  JSON: {"gpus": N, "fields": {"<field id>": [value of GPU 0, GPU 1, ...], ...}}; a value
 *                       is a number, null (DCGM's blank, as is a missing GPU), or a step timeline
 *                       [[t, v], ...] (seconds since dcgmInit, or since FAKE_DCGM_START_EPOCH when set; v may
 *                       be null; blank before the first point). Ids 1009-1012 (bytes/s) are int64, the rest
 *                       double. Read at the first dcgmInit.
 *                       MIG: "instances": [{"gpu": G, "gpu_instance": GI, "entity": E, "fields": {"<id>": v}}]
 *                       (v as above, one value): DCGM's GPU_I entity E is NVML GPU G's GPU instance GI.
 *                       dcgmGetGpuInstanceHierarchy lists each with a compute instance under it (as DCGM
 *                       does); the fields are read through the DCGM_GROUP_ALL_INSTANCES pseudo group.
 *                       Health: "health": [{"gpu": G, "system": BIT, "health": 0|10|20, "code": DCGM_FR_N,
 *                       "from": T}] incidents dcgmHealthCheck reports from scenario time T (default 0) on, once
 *                       dcgmHealthSet watched the system on all GPUs.
 *   FAKE_DCGM_HOSTENGINE  control file for the remote host engine: "up [EPOCH]" or "down"; missing = "up 0".
 *                       While down, dcgmConnect_v2 and every call on a remote handle give CONNECTION_NOT_VALID;
 *                       a handle made under another EPOCH (the engine restarted) stays invalid afterwards, as a
 *                       real connection does. The embedded engine ignores it.
 *   FAKE_DCGM_PROF_LOCK  a path: while that file exists someone else holds the profiling lock (Nsight, `dcgmi
 *                       profile --pause`), and every DCGM_FI_PROF_* value reads blank.
 *   FAKE_DCGM_LOG       appends one line per event: "embedded", "connect ADDR unix=U", "watch N FREQ_US",
 *                       "watch-instances N FREQ_US", "unwatch", "unwatch-instances", "fg-create NAME",
 *                       "fg-destroy", "hierarchy", "health-set SYSTEMS", "health-check",
 *                       "update", "get" ("get paused" while profiling is paused: no PROF sampling), "refused"
 *                       (calls on a dead connection), "prof-pause", "prof-resume".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef int dcgmReturn_t;
enum {
    ST_OK = 0,
    ST_BADPARAM = -1,
    ST_UNINITIALIZED = -10,
    ST_NO_DATA = -14,
    ST_CONNECTION_NOT_VALID = -21,
    ST_MAX_LIMIT = -24,
    ST_VER_MISMATCH = -12,
    ST_GROUP_IS_EMPTY = -35,
    ST_DUPLICATE_KEY = -26,
};
typedef uintptr_t dcgmHandle_t;
typedef uintptr_t dcgmGpuGrp_t;
typedef uintptr_t dcgmFieldGrp_t;

typedef struct {
    unsigned int version;
    unsigned int persistAfterDisconnect;
    unsigned int timeoutMs;
    unsigned int addressIsUnixSocket;
} connect_params_v2;

typedef struct {
    unsigned int version;
    unsigned short fieldId;
    unsigned short fieldType;
    int status;
    int64_t ts;
    union {
        int64_t i64;
        double dbl;
        char str[256];
        char blob[4096];
    } value;
} field_value_v1;
_Static_assert(sizeof(field_value_v1) == 4120, "dcgmFieldValue_v1 is 4120 bytes");

typedef int (*entity_cb)(unsigned int group, unsigned int id, field_value_v1 *v, int n, void *user);

/* The exported ABI (prototypes, so every definition below is checked against one). */
EXPORT dcgmReturn_t dcgmInit(void);
EXPORT dcgmReturn_t dcgmShutdown(void);
EXPORT const char *errorString(dcgmReturn_t r);
EXPORT dcgmReturn_t dcgmStartEmbedded(int mode, dcgmHandle_t *h);
EXPORT dcgmReturn_t dcgmStopEmbedded(dcgmHandle_t h);
EXPORT dcgmReturn_t dcgmConnect_v2(const char *addr, connect_params_v2 *p, dcgmHandle_t *h);
EXPORT dcgmReturn_t dcgmDisconnect(dcgmHandle_t h);
EXPORT dcgmReturn_t dcgmFieldGroupCreate(dcgmHandle_t h, int n, const unsigned short *ids, const char *name,
                                         dcgmFieldGrp_t *fg);
EXPORT dcgmReturn_t dcgmFieldGroupDestroy(dcgmHandle_t h, dcgmFieldGrp_t fg);
EXPORT dcgmReturn_t dcgmWatchFields(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg, long long freq_us,
                                    double keep_s, int keep_n);
EXPORT dcgmReturn_t dcgmUpdateAllFields(dcgmHandle_t h, int wait);
EXPORT dcgmReturn_t dcgmUnwatchFields(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg);
/* The watched values of value slot e, into v[0 .. S.nwatch). */
EXPORT dcgmReturn_t dcgmGetLatestValues_v2(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg, entity_cb cb,
                                           void *user);
EXPORT dcgmReturn_t dcgmProfPause(dcgmHandle_t h);
EXPORT dcgmReturn_t dcgmProfResume(dcgmHandle_t h);

typedef struct {
    unsigned int group, id;
} entity_pair;
typedef struct {
    entity_pair entity, parent;
    char gpu_uuid[128];
    unsigned int gpu_index, instance_id, compute_instance_id, profile_id, slices;
} hierarchy_info_v2;
typedef struct {
    unsigned int version, count;
    hierarchy_info_v2 list[32 * 14];
} hierarchy_v2;
_Static_assert(sizeof(hierarchy_v2) == 73480, "dcgmMigHierarchy_v2 is 73480 bytes");
EXPORT dcgmReturn_t dcgmGetGpuInstanceHierarchy(dcgmHandle_t h, hierarchy_v2 *hier);

typedef struct {
    unsigned int system, health;
    char msg[1024];
    unsigned int code;
    entity_pair entity;
} incident_info;
typedef struct {
    unsigned int version, overall, count;
    incident_info incidents[64];
} health_response_v4;
_Static_assert(sizeof(health_response_v4) == 66828, "dcgmHealthResponse_v4 is 66828 bytes");
EXPORT dcgmReturn_t dcgmHealthSet(dcgmHandle_t h, dcgmGpuGrp_t g, unsigned int systems);
EXPORT dcgmReturn_t dcgmHealthCheck(dcgmHandle_t h, dcgmGpuGrp_t g, health_response_v4 *resp);

#define MAX_GPUS 32
#define MAX_INST 32
#define MAX_ENT (MAX_GPUS + MAX_INST) /* value slots: GPUs 0..31, then instances */
#define MAX_FIELDS 64
#define MAX_POINTS 64
#define MAX_WATCH 128
#define BLANK_I64 0x7ffffffffffffff0LL
#define BLANK_F64 140737488355328.0
#define HANDLE_EMBEDDED ((dcgmHandle_t)0xE0000000u)
#define HANDLE_REMOTE_BASE ((dcgmHandle_t)0xC0000000u)

static struct {
    pthread_mutex_t mu;
    int inits;
    unsigned ngpus;
    unsigned ninst;
    unsigned inst_gpu[MAX_INST], inst_gi[MAX_INST], inst_entity[MAX_INST];
    unsigned nhealth;
    struct {
        unsigned gpu, system, health, code;
        double from;
    } health[64];
    unsigned health_systems; /* dcgmHealthSet on all GPUs; 0: no watch */
    size_t nfields;
    unsigned short field_id[MAX_FIELDS];
    bool has[MAX_FIELDS][MAX_ENT];
    double val[MAX_FIELDS][MAX_ENT];
    /* a step timeline instead of a constant: npts > 0 */
    unsigned char npts[MAX_FIELDS][MAX_ENT];
    double pt_t[MAX_FIELDS][MAX_ENT][MAX_POINTS];
    double pt_v[MAX_FIELDS][MAX_ENT][MAX_POINTS];
    bool pt_has[MAX_FIELDS][MAX_ENT][MAX_POINTS];
    double start;
    /* one field group and one watch (jobtel makes one) */
    unsigned short watch[MAX_WATCH];
    int nwatch;
    char fg_name[64]; /* the field group, "" when none (a second one with its name: DUPLICATE_KEY) */
    bool watching;
    bool watching_inst; /* the same fields on DCGM_GROUP_ALL_INSTANCES */
    bool updated;
    bool embedded_running;
    bool paused; /* dcgmProfPause: no profiling sampling on any GPU */
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void logline(const char *fmt, ...)
{
    const char *p = getenv("FAKE_DCGM_LOG");
    if (!p || !*p)
        return;
    FILE *f = fopen(p, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

/* The host engine as the control file describes it: up (with its epoch) or down. */
static bool engine_up(unsigned long *epoch)
{
    *epoch = 0;
    const char *p = getenv("FAKE_DCGM_HOSTENGINE");
    FILE *f = p && *p ? fopen(p, "r") : NULL;
    if (!f)
        return true;
    char word[16] = "";
    unsigned long e = 0;
    int n = fscanf(f, "%15s %lu", word, &e);
    fclose(f);
    if (n >= 1 && strcmp(word, "down") == 0)
        return false;
    *epoch = n == 2 ? e : 0;
    return true;
}

/* A call on handle h: is the connection behind it alive? */
static dcgmReturn_t handle_ok(dcgmHandle_t h)
{
    if (h == HANDLE_EMBEDDED)
        return S.embedded_running ? ST_OK : ST_BADPARAM;
    if (h < HANDLE_REMOTE_BASE || h >= HANDLE_REMOTE_BASE + 0x10000000u)
        return ST_BADPARAM;
    unsigned long epoch;
    if (!engine_up(&epoch) || (h - HANDLE_REMOTE_BASE) != epoch) {
        logline("refused");
        return ST_CONNECTION_NOT_VALID;
    }
    return ST_OK;
}

static bool is_int_field(unsigned short id)
{
    return id >= 1009 && id <= 1012;
}

static bool prof_locked(void)
{
    const char *p = getenv("FAKE_DCGM_PROF_LOCK");
    return p && *p && access(p, F_OK) == 0;
}

/* The field slot for id, added if new; -1 when full. */
static int field_slot(unsigned short id)
{
    for (size_t f = 0; f < S.nfields; f++)
        if (S.field_id[f] == id)
            return (int)f;
    if (S.nfields == MAX_FIELDS)
        return -1;
    S.field_id[S.nfields] = id;
    return (int)S.nfields++;
}

/* One value (number, null or a timeline) of field slot f for value slot e. */
static bool parse_value(const char *p, const char *key, size_t f, size_t e, json_t *v)
{
    S.has[f][e] = json_is_number(v);
    S.val[f][e] = json_is_number(v) ? json_number_value(v) : 0;
    S.npts[f][e] = 0;
    if (!json_is_array(v))
        return true;
    if (json_array_size(v) == 0 || json_array_size(v) > MAX_POINTS) {
        fprintf(stderr, "fake_dcgm: %s: field %s entity slot %zu: 1 to %d points\n", p, key, e, MAX_POINTS);
        return false;
    }
    for (size_t k = 0; k < json_array_size(v); k++) {
        json_t *pt = json_array_get(v, k);
        json_t *pv = json_array_get(pt, 1);
        if (!json_is_array(pt) || json_array_size(pt) != 2 || !json_is_number(json_array_get(pt, 0)) ||
            !(json_is_number(pv) || json_is_null(pv))) {
            fprintf(stderr, "fake_dcgm: %s: field %s entity slot %zu: points are [t, value or null]\n", p, key, e);
            return false;
        }
        S.pt_t[f][e][k] = json_number_value(json_array_get(pt, 0));
        S.pt_has[f][e][k] = json_is_number(pv);
        S.pt_v[f][e][k] = json_is_number(pv) ? json_number_value(pv) : 0;
    }
    S.npts[f][e] = (unsigned char)json_array_size(v);
    S.has[f][e] = true;
    return true;
}

static int parse_field_id(const char *p, const char *key)
{
    char *end;
    long id = strtol(key, &end, 10);
    int f = *end || id <= 0 || id > 65535 ? -1 : field_slot((unsigned short)id);
    if (f < 0)
        fprintf(stderr, "fake_dcgm: %s: bad field \"%s\"\n", p, key);
    return f;
}

static bool load_instances(const char *p, json_t *inst)
{
    if (!inst)
        return true;
    if (!json_is_array(inst) || json_array_size(inst) > MAX_INST) {
        fprintf(stderr, "fake_dcgm: %s: \"instances\" is an array of at most %d\n", p, MAX_INST);
        return false;
    }
    for (size_t k = 0; k < json_array_size(inst); k++) {
        json_t *o = json_array_get(inst, k);
        json_t *g = json_object_get(o, "gpu"), *gi = json_object_get(o, "gpu_instance");
        json_t *ent = json_object_get(o, "entity"), *fields = json_object_get(o, "fields");
        if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) >= (json_int_t)S.ngpus ||
            !json_is_integer(gi) || json_integer_value(gi) < 0 || !json_is_integer(ent) ||
            json_integer_value(ent) < 0 || (fields && !json_is_object(fields))) {
            fprintf(stderr, "fake_dcgm: %s: instance %zu needs gpu (< gpus), gpu_instance, entity, fields\n", p, k);
            return false;
        }
        S.inst_gpu[k] = (unsigned)json_integer_value(g);
        S.inst_gi[k] = (unsigned)json_integer_value(gi);
        S.inst_entity[k] = (unsigned)json_integer_value(ent);
        const char *key;
        json_t *v;
        json_object_foreach(fields, key, v) {
            int f = parse_field_id(p, key);
            if (f < 0 || !parse_value(p, key, (size_t)f, MAX_GPUS + k, v))
                return false;
        }
        S.ninst = (unsigned)k + 1;
    }
    return true;
}

static bool load_health(const char *p, json_t *h)
{
    if (!h)
        return true;
    if (!json_is_array(h) || json_array_size(h) > 64) {
        fprintf(stderr, "fake_dcgm: %s: \"health\" is an array of at most 64 incidents\n", p);
        return false;
    }
    for (size_t k = 0; k < json_array_size(h); k++) {
        json_t *o = json_array_get(h, k);
        json_t *g = json_object_get(o, "gpu"), *sy = json_object_get(o, "system");
        json_t *he = json_object_get(o, "health"), *co = json_object_get(o, "code"), *fr = json_object_get(o, "from");
        if (!json_is_integer(g) || json_integer_value(g) < 0 || !json_is_integer(sy) || json_integer_value(sy) <= 0 ||
            !json_is_integer(he) || !json_is_integer(co) || json_integer_value(co) < 0 || (fr && !json_is_number(fr))) {
            fprintf(stderr, "fake_dcgm: %s: health[%zu] needs gpu, system, health, code (from optional)\n", p, k);
            return false;
        }
        S.health[k].gpu = (unsigned)json_integer_value(g);
        S.health[k].system = (unsigned)json_integer_value(sy);
        S.health[k].health = (unsigned)json_integer_value(he);
        S.health[k].code = (unsigned)json_integer_value(co);
        S.health[k].from = fr ? json_number_value(fr) : 0;
        S.nhealth = (unsigned)k + 1;
    }
    return true;
}

static dcgmReturn_t load_scenario(void)
{
    S.ngpus = 0;
    S.ninst = 0;
    S.nhealth = 0;
    S.nfields = 0;
    const char *p = getenv("FAKE_DCGM_SCENARIO");
    if (!p || !*p)
        return ST_OK; /* no GPUs */
    json_error_t err;
    json_t *root = json_load_file(p, 0, &err);
    if (!root) {
        fprintf(stderr, "fake_dcgm: %s: %s\n", p, err.text);
        return ST_BADPARAM;
    }
    json_t *g = json_object_get(root, "gpus");
    json_t *fields = json_object_get(root, "fields");
    if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > MAX_GPUS ||
        (fields && !json_is_object(fields))) {
        fprintf(stderr, "fake_dcgm: %s: needs \"gpus\" (0-%d) and an object \"fields\"\n", p, MAX_GPUS);
        json_decref(root);
        return ST_BADPARAM;
    }
    S.ngpus = (unsigned)json_integer_value(g);
    const char *key;
    json_t *arr;
    json_object_foreach(fields, key, arr) {
        int f = parse_field_id(p, key);
        if (f < 0 || !json_is_array(arr)) {
            json_decref(root);
            return ST_BADPARAM;
        }
        for (size_t i = 0; i < json_array_size(arr) && i < MAX_GPUS; i++) {
            if (!parse_value(p, key, (size_t)f, i, json_array_get(arr, i))) {
                json_decref(root);
                return ST_BADPARAM;
            }
        }
    }
    bool ok = load_instances(p, json_object_get(root, "instances")) && load_health(p, json_object_get(root, "health"));
    json_decref(root);
    return ok ? ST_OK : ST_BADPARAM;
}

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* The value of field slot f for gpu at scenario time t; false: blank. */
static bool value_at(size_t f, unsigned gpu, double t, double *out) /* gpu: a value slot */
{
    if (!S.has[f][gpu])
        return false;
    if (S.npts[f][gpu] == 0) {
        *out = S.val[f][gpu];
        return true;
    }
    int last = -1;
    for (int k = 0; k < S.npts[f][gpu]; k++)
        if (S.pt_t[f][gpu][k] <= t)
            last = k;
    if (last < 0 || !S.pt_has[f][gpu][last])
        return false;
    *out = S.pt_v[f][gpu][last];
    return true;
}

EXPORT dcgmReturn_t dcgmInit(void)
{
    pthread_mutex_lock(&S.mu);
    if (S.inits == 0) {
        const char *e = getenv("FAKE_DCGM_START_EPOCH");
        S.start = e && *e ? strtod(e, NULL) : now_s();
    }
    dcgmReturn_t r = S.inits == 0 ? load_scenario() : ST_OK;
    if (r == ST_OK)
        S.inits++;
    pthread_mutex_unlock(&S.mu);
    return r;
}

EXPORT dcgmReturn_t dcgmShutdown(void)
{
    pthread_mutex_lock(&S.mu);
    dcgmReturn_t r = S.inits > 0 ? ST_OK : ST_UNINITIALIZED;
    if (S.inits > 0)
        S.inits--;
    pthread_mutex_unlock(&S.mu);
    return r;
}

EXPORT const char *errorString(dcgmReturn_t r)
{
    switch (r) {
    case ST_OK: return "Success";
    case ST_BADPARAM: return "Bad parameter passed to function";
    case ST_UNINITIALIZED: return "Not initialized";
    case ST_NO_DATA: return "No data is available";
    case ST_CONNECTION_NOT_VALID: return "The connection to the host engine is not valid any longer";
    case ST_MAX_LIMIT: return "Max limit reached for the object";
    case ST_VER_MISMATCH: return "Version mismatch";
    case ST_GROUP_IS_EMPTY: return "This group is empty";
    case ST_DUPLICATE_KEY: return "Duplicate key passed to the function";
    default: return "Unknown error";
    }
}

EXPORT dcgmReturn_t dcgmStartEmbedded(int mode, dcgmHandle_t *h)
{
    if (!h || (mode != 1 && mode != 2))
        return ST_BADPARAM;
    if (S.inits == 0)
        return ST_UNINITIALIZED;
    S.embedded_running = true;
    *h = HANDLE_EMBEDDED;
    logline("embedded");
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmStopEmbedded(dcgmHandle_t h)
{
    if (h != HANDLE_EMBEDDED)
        return ST_BADPARAM;
    S.embedded_running = false;
    S.watching = S.watching_inst = S.updated = false;
    S.fg_name[0] = '\0';
    S.health_systems = 0;
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmConnect_v2(const char *addr, connect_params_v2 *p, dcgmHandle_t *h)
{
    if (!addr || !p || !h || p->version != (16u | (2u << 24)))
        return ST_BADPARAM;
    if (S.inits == 0)
        return ST_UNINITIALIZED;
    unsigned long epoch;
    logline("connect %s unix=%u", addr, p->addressIsUnixSocket);
    if (!engine_up(&epoch))
        return ST_CONNECTION_NOT_VALID;
    S.watching = S.watching_inst = S.updated = false; /* a fresh engine (or connection) watches nothing */
    S.fg_name[0] = '\0';
    S.health_systems = 0;
    S.paused = false;
    *h = HANDLE_REMOTE_BASE + epoch;
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmDisconnect(dcgmHandle_t h)
{
    (void)h;
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmFieldGroupCreate(dcgmHandle_t h, int n, const unsigned short *ids, const char *name,
                                         dcgmFieldGrp_t *fg)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    if (n <= 0 || n > MAX_WATCH || !ids || !name || !fg)
        return ST_BADPARAM;
    if (strcmp(S.fg_name, name) == 0)
        return ST_DUPLICATE_KEY;
    snprintf(S.fg_name, sizeof S.fg_name, "%s", name);
    logline("fg-create %s", name);
    memcpy(S.watch, ids, (size_t)n * sizeof ids[0]);
    S.nwatch = n;
    *fg = 7;
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmFieldGroupDestroy(dcgmHandle_t h, dcgmFieldGrp_t fg)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    if (fg != 7 || !S.fg_name[0])
        return ST_BADPARAM;
    S.fg_name[0] = '\0';
    logline("fg-destroy");
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmUnwatchFields(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    if ((g != 0x7fffffff && g != 0x7ffffffd) || fg != 7)
        return ST_BADPARAM;
    if (g == 0x7ffffffd)
        S.watching_inst = false;
    else
        S.watching = false;
    logline(g == 0x7ffffffd ? "unwatch-instances" : "unwatch");
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmWatchFields(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg, long long freq_us,
                                    double keep_s, int keep_n)
{
    (void)keep_s;
    (void)keep_n;
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    if ((g != 0x7fffffff && g != 0x7ffffffd) || fg != 7 || freq_us <= 0)
        return ST_BADPARAM;
    if (g == 0x7ffffffd) {
        if (S.ninst == 0)
            return ST_GROUP_IS_EMPTY; /* no MIG instance on the node */
        S.watching_inst = true;
        S.updated = false;
        logline("watch-instances %d %lld", S.nwatch, freq_us);
        return ST_OK;
    }
    S.watching = true;
    S.updated = false;
    logline("watch %d %lld", S.nwatch, freq_us);
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmUpdateAllFields(dcgmHandle_t h, int wait)
{
    (void)wait;
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    S.updated = S.watching || S.watching_inst;
    logline("update");
    return ST_OK;
}

static void fill_values(field_value_v1 *v, unsigned e, bool locked, const struct timeval *tv)
{
    for (int k = 0; k < S.nwatch; k++) {
        unsigned short id = S.watch[k];
        field_value_v1 *fv = &v[k];
        memset(fv, 0, 32);
        fv->version = 4120u | (1u << 24);
        fv->fieldId = id;
        fv->fieldType = is_int_field(id) ? 'i' : 'd';
        fv->status = ST_OK;
        fv->ts = (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
        bool have = false;
        double x = 0;
        for (size_t f = 0; f < S.nfields; f++)
            if (S.field_id[f] == id)
                have = value_at(f, e, now_s() - S.start, &x);
        /* A new watch has values only after an update; the profiling lock blanks PROF fields. */
        if (!S.updated || ((locked || S.paused) && id >= 1001 && id <= 1099))
            have = false;
        if (fv->fieldType == 'i')
            fv->value.i64 = have ? (int64_t)x : BLANK_I64;
        else
            fv->value.dbl = have ? x : BLANK_F64;
    }
}

EXPORT dcgmReturn_t dcgmGetLatestValues_v2(dcgmHandle_t h, dcgmGpuGrp_t g, dcgmFieldGrp_t fg, entity_cb cb, void *user)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    if ((g != 0x7fffffff && g != 0x7ffffffd) || fg != 7 || !cb)
        return ST_BADPARAM;
    bool inst = g == 0x7ffffffd;
    if (!(inst ? S.watching_inst : S.watching))
        return ST_NO_DATA;
    logline("%s%s", inst ? "get-instances" : "get", S.paused ? " paused" : "");
    bool locked = prof_locked();
    struct timeval tv;
    gettimeofday(&tv, NULL);
    static field_value_v1 v[MAX_WATCH];
    unsigned n = inst ? S.ninst : S.ngpus;
    for (unsigned i = 0; i < n; i++) {
        fill_values(v, inst ? MAX_GPUS + i : i, locked, &tv);
        if (cb(inst ? 4 : 1, inst ? S.inst_entity[i] : i, v, S.nwatch, user) < 0)
            break;
    }
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmGetGpuInstanceHierarchy(dcgmHandle_t h, hierarchy_v2 *hier)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    if (!hier)
        return ST_BADPARAM;
    if (hier->version != (73480u | (2u << 24)))
        return ST_VER_MISMATCH;
    logline("hierarchy");
    /* DCGM lists GPU instances and, under each, its compute instances: one here, entity id 1000 + i. */
    unsigned n = 0;
    for (unsigned i = 0; i < S.ninst; i++) {
        hierarchy_info_v2 *e = &hier->list[n++];
        memset(e, 0, sizeof *e);
        e->entity = (entity_pair){4, S.inst_entity[i]};
        e->parent = (entity_pair){1, S.inst_gpu[i]};
        snprintf(e->gpu_uuid, sizeof e->gpu_uuid, "GPU-fake-%u", S.inst_gpu[i]);
        e->gpu_index = S.inst_gpu[i];
        e->instance_id = S.inst_gi[i];
        e->compute_instance_id = 0xffffffffu;
        hierarchy_info_v2 *c = &hier->list[n++];
        *c = *e;
        c->entity = (entity_pair){5, 1000 + i};
        c->parent = (entity_pair){4, S.inst_entity[i]};
        c->compute_instance_id = 0;
    }
    hier->count = n;
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmProfPause(dcgmHandle_t h)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    S.paused = true;
    logline("prof-pause");
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmProfResume(dcgmHandle_t h)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    S.paused = false;
    logline("prof-resume");
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmHealthSet(dcgmHandle_t h, dcgmGpuGrp_t g, unsigned int systems)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    if (g != 0x7fffffff)
        return ST_BADPARAM;
    S.health_systems = systems;
    logline("health-set %#x", systems);
    return ST_OK;
}

EXPORT dcgmReturn_t dcgmHealthCheck(dcgmHandle_t h, dcgmGpuGrp_t g, health_response_v4 *resp)
{
    dcgmReturn_t r = handle_ok(h);
    if (r != ST_OK)
        return r;
    if (g != 0x7fffffff || !resp)
        return ST_BADPARAM;
    if (resp->version != (66828u | (4u << 24)))
        return ST_VER_MISMATCH;
    logline("health-check");
    unsigned n = 0, overall = 0;
    double t = now_s() - S.start;
    for (unsigned k = 0; k < S.nhealth; k++) {
        if (!(S.health_systems & S.health[k].system) || S.health[k].from > t || S.health[k].gpu >= S.ngpus)
            continue;
        incident_info *in = &resp->incidents[n++];
        memset(in, 0, sizeof *in);
        in->system = S.health[k].system;
        in->health = S.health[k].health;
        in->code = S.health[k].code;
        snprintf(in->msg, sizeof in->msg, "fake incident on GPU %u", S.health[k].gpu);
        in->entity = (entity_pair){1, S.health[k].gpu};
        if (in->health > overall)
            overall = in->health;
    }
    resp->count = n;
    resp->overall = overall;
    return ST_OK;
}
