/* fake_nvml.c - a test double for libnvidia-ml.so.1: the NVML C ABI answered from a JSON scenario.
 *
 * No GPU exists where the tests run, so the exporter's whole GPU path is tested against this library, loaded by
 * path. It behaves like the real one where the exporter depends on it: ref-counted init, UNINITIALIZED outside
 * it, INVALID_ARGUMENT for handles it never issued, INSUFFICIENT_SIZE for short buffers, the struct version check
 * of nvmlDeviceGetMemoryInfo_v2, NOT_SUPPORTED for utilisation on MIG-enabled GPUs, blocking event waits, and the
 * ABI of the driver branch the scenario names: which entry points exist and how many bytes each process record
 * takes (early R535's _v3 wrote 32). The same objects are linked into one library per export set (variant.c).
 *
 * Concurrency: one mutex guards the library state (init count, current scenario, event sets). A call takes a
 * reference on the current scenario under the lock and then reads it without the lock, so a scenario reload
 * never pulls memory from under a running call, and a call that an injected fault makes hang sleeps without
 * holding the lock: other threads keep working.
 *
 * Handles: device handles point into a static table (one plane per handle generation, one row per GPU, one column
 * per MIG slot), so a handle is validated by address arithmetic alone and a foreign pointer is never dereferenced.
 * A GPU's handle generation is the number of losses it has come back from: like the real driver, a GPU that
 * returns needs a new handle (nvmlDeviceGetHandleByIndex / ByUUID), and the ones issued before stay lost.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "fake_nvml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scenario.h"

#define EVENT_SETS 32
#define RELOAD_CHECK_NS 100000000LL /* look at the scenario file at most every 100 ms */
#define WAIT_SLICE_MS 500           /* an event wait looks at the scenario file at least this often */
#define SAMPLING_PERIOD_US 167000u  /* what encoder/decoder utilisation report as their window */

struct nvmlDevice_st {
    unsigned long long unused; /* only the address matters */
};

struct nvmlEventSet_st {
    bool in_use;
    unsigned long long mask[SCENARIO_MAX_GPUS];
    double reg_at[SCENARIO_MAX_GPUS]; /* scenario time at which XID events were registered */
    /* Events up to this mark are consumed: all before mark_at, and the first mark_n at exactly mark_at (the
     * scenario keeps equal times in file order). A time mark survives a scenario reload; an index would not. */
    double mark_at;
    size_t mark_n;
};

#define HANDLE_GENS (SCENARIO_MAX_LOSSES + 1)
static struct nvmlDevice_st g_devs[HANDLE_GENS][SCENARIO_MAX_GPUS][1 + SCENARIO_MAX_MIG];
static struct nvmlEventSet_st g_sets[EVENT_SETS];

#define GPM_SAMPLES 1024

/* A GPM sample: what SampleGet recorded (which device, when). Guarded by g.lock. */
struct nvmlGpmSample_st {
    bool in_use;
    bool filled;
    unsigned int gpu;
    unsigned int slot; /* 0: the whole GPU; k + 1: MIG slot k (a MIG handle, or MigSampleGet's GPU instance) */
    double t;
};

static struct nvmlGpmSample_st g_samples[GPM_SAMPLES];

/* The fault rules of the last scenario dropped by a full shutdown, so that a "once" fault on nvmlInit fires
 * once per process, not once per init cycle. Guarded by g.lock. */
static struct scenario_fault g_fault_memory[SCENARIO_MAX_FAULTS];
static size_t g_fault_memory_n;
static char *g_fault_memory_path;

static struct {
    pthread_mutex_t lock;
    unsigned int init_count;
    struct scenario *scn; /* holds one reference while initialised */
    char *path;
    struct scenario_sig sig;     /* the file scn came from */
    struct scenario_sig bad_sig; /* the last version that failed to load, reported once */
    bool have_bad;
    bool have_first_init;
    double first_init_epoch;
    double start_epoch; /* scenario time 0, unix seconds */
    long long last_check_ns;
    /* Broadcast when an event wait should look again: a reload, a set freed, a shutdown. A waiter blocks
     * on it (as the driver blocks in the kernel) instead of waking to poll. */
    pthread_cond_t changed;
    unsigned long changes; /* counts the broadcasts, so a change between two looks is not slept through */
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

/* One API call in progress: the scenario it reads (referenced) and the device it is about. */
struct call {
    struct scenario *scn;
    const struct scenario_gpu *gpu; /* NULL for calls that name no device */
    const struct scenario_mig *mig; /* non-NULL when the handle is a MIG device */
    unsigned int gpu_index;
    unsigned int mig_slot;
    unsigned int gen;  /* handle generation the call named (TARGET_HANDLE), else the current one */
    bool by_handle;
    double t; /* scenario time of the call, after any injected hang */
};

enum { CALL_MIG_OK = 1 }; /* the call accepts MIG device handles */

enum target_kind { TARGET_NONE, TARGET_HANDLE, TARGET_INDEX, TARGET_UUID };

struct target {
    enum target_kind kind;
    nvmlDevice_t dev;
    unsigned int index;
    const char *uuid;
};

/* ---- small helpers ---- */

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "fake_nvml: %s\n", line);
}

static double now_epoch(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static unsigned int to_u32(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 4294967295.0)
        return UINT_MAX;
    return (unsigned int)(v + 0.5);
}

static unsigned long long to_u64(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 18446744073709549568.0) /* the largest double below 2^64 */
        return ULLONG_MAX;
    return (unsigned long long)(v + 0.5);
}

static const char *return_name(nvmlReturn_t r)
{
    switch (r) {
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "NVML_ERROR_DRIVER_NOT_LOADED";
    case NVML_ERROR_MEMORY:
        return "NVML_ERROR_MEMORY";
    default:
        return "NVML_ERROR_UNKNOWN";
    }
}

/* ---- scenario lifetime ---- */

/* Rules that are unchanged, at the same position, keep how often they may still fire. */
static void faults_carry(struct scenario *to, const struct scenario_fault *from, size_t n)
{
    for (size_t i = 0; i < to->nfaults && i < n; i++)
        if (scenario_fault_same(&to->faults[i], &from[i]))
        {
            to->faults[i].remaining = from[i].remaining;
            to->faults[i].skip = from[i].skip;
        }
}

static void scn_unref_locked(struct scenario *scn)
{
    if (scn && --scn->refs == 0)
        scenario_free(scn);
}

/* A library can serve a branch whose entry points it all exports: the default library serves every branch, the
 * R470 build only R470. Entry points the library exports but the branch lacks answer NVML_ERROR_FUNCTION_NOT_FOUND
 * (branch_has), the way DCGM's NVML loader answers for a symbol the driver does not have. */
static bool exports_match(const struct scenario *scn, char *msg, size_t len)
{
    const struct scenario_branch_abi *abi = scenario_branch_abi(scn->branch);
    if (fake_nvml_exports >= abi->exports)
        return true;
    snprintf(msg, len,
             "driver_branch %s needs entry points this build of the library (export set \"%s\") does not have: load "
             "%s/libnvidia-ml.so.1 or the default library",
             abi->name, scenario_exports_name(fake_nvml_exports), abi->name);
    return false;
}

/* Whether the scenario's branch has the entry points of export set `since` (see exports_match). */
static bool branch_has(const struct scenario *scn, enum scenario_exports since)
{
    return scenario_branch_abi(scn->branch)->exports >= since;
}

/* Swaps in a changed scenario file. A file that does not load is reported once and the old scenario stays. */
static void maybe_reload_locked(void)
{
    long long now = now_mono_ns();
    if (now - g.last_check_ns < RELOAD_CHECK_NS)
        return;
    g.last_check_ns = now;
    struct scenario_sig cur;
    scenario_stat(g.path, &cur);
    if (scenario_sig_equal(&cur, &g.sig) || (g.have_bad && scenario_sig_equal(&cur, &g.bad_sig)))
        return;
    char msg[512];
    struct scenario_sig sig;
    enum scenario_error error;
    struct scenario *scn = scenario_load(g.path, &sig, &error, msg, sizeof(msg));
    if (scn && scn->branch != g.scn->branch) {
        snprintf(msg, sizeof(msg), "driver_branch changed from %s to %s; a driver upgrade needs a new process",
                 scenario_branch_abi(g.scn->branch)->name, scenario_branch_abi(scn->branch)->name);
        scenario_free(scn);
        scn = NULL;
    }
    if (!scn) {
        say("reloading %s failed: %s; keeping the previous scenario", g.path, msg);
        g.bad_sig = cur;
        g.have_bad = true;
        return;
    }
    faults_carry(scn, g.scn->faults, g.scn->nfaults);
    scn_unref_locked(g.scn);
    g.scn = scn;
    g.sig = sig;
    g.have_bad = false;
    g.changes++;
    pthread_cond_broadcast(&g.changed);
    say("reloaded %s", g.path);
}

/* Strict unix seconds: the whole string is one finite number. */
static bool parse_epoch(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* The first init: read the environment and the scenario. */
static nvmlReturn_t load_first_locked(void)
{
    const char *path = getenv("FAKE_NVML_SCENARIO");
    if (!path || !path[0]) {
        say("FAKE_NVML_SCENARIO is not set; nvmlInit returns NVML_ERROR_DRIVER_NOT_LOADED");
        return NVML_ERROR_DRIVER_NOT_LOADED;
    }
    double env_start = 0;
    const char *start = getenv("FAKE_NVML_START_EPOCH");
    bool have_env_start = start && start[0];
    if (have_env_start && !parse_epoch(start, &env_start)) {
        say("FAKE_NVML_START_EPOCH=\"%.64s\" is not a number of unix seconds; nvmlInit returns NVML_ERROR_UNKNOWN",
            start);
        return NVML_ERROR_UNKNOWN;
    }
    char msg[512];
    struct scenario_sig sig;
    enum scenario_error error;
    struct scenario *scn = scenario_load(path, &sig, &error, msg, sizeof(msg));
    if (!scn) {
        nvmlReturn_t r = error == SCENARIO_ERR_MISSING ? NVML_ERROR_DRIVER_NOT_LOADED : NVML_ERROR_UNKNOWN;
        say("scenario %s: %s; nvmlInit returns %s", path, msg, return_name(r));
        return r;
    }
    if (!exports_match(scn, msg, sizeof(msg))) {
        scenario_free(scn);
        say("scenario %s: %s; nvmlInit returns NVML_ERROR_LIB_RM_VERSION_MISMATCH", path, msg);
        return NVML_ERROR_LIB_RM_VERSION_MISMATCH;
    }
    g.path = strdup(path);
    if (!g.path) {
        scenario_free(scn);
        say("out of memory; nvmlInit returns NVML_ERROR_MEMORY");
        return NVML_ERROR_MEMORY;
    }
    if (g_fault_memory_path && strcmp(g_fault_memory_path, path) == 0)
        faults_carry(scn, g_fault_memory, g_fault_memory_n);
    g.scn = scn;
    g.sig = sig;
    g.have_bad = false;
    g.last_check_ns = now_mono_ns();
    if (!g.have_first_init) {
        g.have_first_init = true;
        g.first_init_epoch = now_epoch();
    }
    g.start_epoch = have_env_start ? env_start : g.first_init_epoch;
    return NVML_SUCCESS;
}

static void release_init_locked(void)
{
    if (--g.init_count > 0)
        return;
    g_fault_memory_n = g.scn->nfaults;
    if (g.scn->nfaults)
        memcpy(g_fault_memory, g.scn->faults, g.scn->nfaults * sizeof(g.scn->faults[0]));
    free(g_fault_memory_path);
    g_fault_memory_path = g.path; /* keep the name: the rules only carry over to the same file */
    g.path = NULL;
    scn_unref_locked(g.scn);
    g.scn = NULL;
    memset(g_sets, 0, sizeof(g_sets));
    g.changes++;
    pthread_cond_broadcast(&g.changed);
}

/* The fault memory outlives nvmlShutdown on purpose, but not the library: free it on dlclose so a
 * process that unloads NVML (the exporter does, at exit) leaks nothing. */
__attribute__((destructor)) static void fake_nvml_unload(void)
{
    free(g_fault_memory_path);
    g_fault_memory_path = NULL;
}

/* ---- faults ---- */

/* "*" alone spares init and shutdown: a scenario that breaks every call should still let a test tear down. */
static bool call_matches(const struct scenario_fault *f, const char *name)
{
    if (!f->prefix)
        return strcmp(name, f->call) == 0;
    if (f->call[0] == '\0' && (strncmp(name, "nvmlInit", 8) == 0 || strcmp(name, "nvmlShutdown") == 0))
        return false;
    return strncmp(name, f->call, strlen(f->call)) == 0;
}

/* Fires the whole-call faults that match: every hang adds up, the first "return" wins. Returns that code or 0. */
static int faults_fire_locked(struct scenario *scn, const char *name, bool has_gpu, unsigned int gpu, double t,
                              unsigned int *hang_ms)
{
    int ret = 0;
    unsigned long long hang = 0;
    for (size_t i = 0; i < scn->nfaults; i++) {
        struct scenario_fault *f = &scn->faults[i];
        if (f->has_field || f->remaining == 0 || !call_matches(f, name) || !(t >= f->from && t < f->until))
            continue;
        if (!f->any_gpu && (!has_gpu || f->gpu != gpu))
            continue;
        if (f->ret && ret)
            continue;
        if (f->skip > 0) {
            f->skip--;
            continue;
        }
        if (f->remaining > 0)
            f->remaining--;
        hang += f->hang_ms;
        if (f->ret)
            ret = f->ret;
    }
    *hang_ms = hang > SCENARIO_MAX_HANG_MS ? SCENARIO_MAX_HANG_MS : (unsigned int)hang;
    return ret;
}

/* ---- handles ---- */

static nvmlDevice_t handle_make(unsigned int gen, unsigned int gpu, unsigned int slot)
{
    nvmlDevice_t d = {&g_devs[gen < HANDLE_GENS ? gen : HANDLE_GENS - 1][gpu][slot]};
    return d;
}

static bool handle_decode(const struct nvmlDevice_st *h, unsigned int *gen, unsigned int *gpu, unsigned int *slot)
{
    uintptr_t p = (uintptr_t)h, base = (uintptr_t)&g_devs[0][0][0];
    if (p < base || p - base >= sizeof(g_devs) || (p - base) % sizeof(struct nvmlDevice_st) != 0)
        return false;
    size_t i = (p - base) / sizeof(struct nvmlDevice_st);
    *gen = (unsigned int)(i / (SCENARIO_MAX_GPUS * (1 + SCENARIO_MAX_MIG)));
    i %= SCENARIO_MAX_GPUS * (1 + SCENARIO_MAX_MIG);
    *gpu = (unsigned int)(i / (1 + SCENARIO_MAX_MIG));
    *slot = (unsigned int)(i % (1 + SCENARIO_MAX_MIG));
    return true;
}

static struct nvmlEventSet_st *set_lookup_locked(nvmlEventSet_t set)
{
    uintptr_t p = (uintptr_t)set.handle, base = (uintptr_t)&g_sets[0];
    if (p < base || p - base >= sizeof(g_sets) || (p - base) % sizeof(g_sets[0]) != 0)
        return NULL;
    struct nvmlEventSet_st *es = &g_sets[(p - base) / sizeof(g_sets[0])];
    return es->in_use ? es : NULL;
}

static bool mig_visible(const struct scenario_gpu *gpu)
{
    return gpu->mig_capable && gpu->mig_mode == NVML_DEVICE_MIG_ENABLE;
}

static void call_set_device(struct call *c, unsigned int gpu, unsigned int slot)
{
    c->gpu_index = gpu;
    c->gpu = &c->scn->gpus[gpu];
    c->mig_slot = slot;
    c->mig = slot ? &c->gpu->mig[slot - 1] : NULL;
    scenario_gpu_lost(c->gpu, c->t, &c->gen);
}

/* Finds the device a call is about in the current scenario. */
static nvmlReturn_t resolve(struct call *c, const struct target *tg)
{
    const struct scenario *scn = c->scn;
    unsigned int gen, gpu, slot;
    switch (tg->kind) {
    case TARGET_NONE:
        return NVML_SUCCESS;
    case TARGET_HANDLE:
        if (!handle_decode(tg->dev.handle, &gen, &gpu, &slot) || gpu >= scn->ngpus)
            return NVML_ERROR_INVALID_ARGUMENT;
        if (slot && !(mig_visible(&scn->gpus[gpu]) && scn->gpus[gpu].mig[slot - 1].used))
            return NVML_ERROR_INVALID_ARGUMENT; /* MIG handles die with a reconfiguration */
        call_set_device(c, gpu, slot);
        c->by_handle = true;
        c->gen = gen; /* compared with the current generation in call_begin_target */
        return NVML_SUCCESS;
    case TARGET_INDEX:
        if (tg->index >= scn->ngpus)
            return NVML_ERROR_INVALID_ARGUMENT;
        call_set_device(c, tg->index, 0);
        return NVML_SUCCESS;
    case TARGET_UUID:
        if (!tg->uuid)
            return NVML_ERROR_INVALID_ARGUMENT;
        for (gpu = 0; gpu < scn->ngpus; gpu++) {
            const struct scenario_gpu *g_ = &scn->gpus[gpu];
            if (strcmp(tg->uuid, scenario_gpu_uuid(g_, c->t)) == 0) {
                call_set_device(c, gpu, 0);
                return NVML_SUCCESS;
            }
            for (slot = 0; mig_visible(g_) && slot < SCENARIO_MAX_MIG; slot++)
                if (g_->mig[slot].used && strcmp(tg->uuid, g_->mig[slot].uuid) == 0) {
                    call_set_device(c, gpu, slot + 1);
                    return NVML_SUCCESS;
                }
        }
        return NVML_ERROR_NOT_FOUND;
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

/* Starts a call: checks init, maybe reloads the scenario, resolves the device, applies injected faults (sleeping
 * outside the lock) and a lost GPU. The caller must call call_end() whatever this returns. */
static nvmlReturn_t call_begin_target(struct call *c, const char *name, const struct target *tg, unsigned int flags)
{
    memset(c, 0, sizeof(*c));
    unsigned int hang = 0;
    int fault = 0;
    pthread_mutex_lock(&g.lock);
    if (g.init_count == 0) {
        pthread_mutex_unlock(&g.lock);
        return NVML_ERROR_UNINITIALIZED;
    }
    maybe_reload_locked();
    c->scn = g.scn;
    c->scn->refs++;
    double start = g.start_epoch;
    c->t = now_epoch() - start;
    nvmlReturn_t r = resolve(c, tg);
    if (r == NVML_SUCCESS)
        fault = faults_fire_locked(c->scn, name, c->gpu != NULL, c->gpu_index, c->t, &hang);
    pthread_mutex_unlock(&g.lock);
    if (r != NVML_SUCCESS)
        return r;
    if (hang) {
        sleep_ms(hang);
        c->t = now_epoch() - start;
    }
    if (fault)
        return (nvmlReturn_t)fault;
    if (c->gpu) {
        /* Lost now, or a handle from before the GPU's last return: the old handle stays lost. */
        unsigned int now_gen;
        if (scenario_gpu_lost(c->gpu, c->t, &now_gen) || (c->by_handle && c->gen != now_gen))
            return NVML_ERROR_GPU_IS_LOST;
    }
    if (c->mig && !(flags & CALL_MIG_OK))
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

static nvmlReturn_t call_begin(struct call *c, const char *name)
{
    struct target tg = {.kind = TARGET_NONE};
    return call_begin_target(c, name, &tg, 0);
}

static nvmlReturn_t call_begin_dev(struct call *c, const char *name, nvmlDevice_t dev, unsigned int flags)
{
    struct target tg = {.kind = TARGET_HANDLE, .dev = dev};
    return call_begin_target(c, name, &tg, flags);
}

static void call_end(struct call *c)
{
    if (!c->scn)
        return;
    pthread_mutex_lock(&g.lock);
    scn_unref_locked(c->scn);
    pthread_mutex_unlock(&g.lock);
    c->scn = NULL;
}

/* ---- reading values ---- */

static bool value(const struct call *c, enum scenario_field f, double *out)
{
    return scenario_value_at(&c->gpu->values[f], c->t, out);
}

static nvmlReturn_t read_u32(const struct call *c, enum scenario_field f, unsigned int *out)
{
    double v;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!value(c, f, &v))
        return NVML_ERROR_NOT_SUPPORTED;
    *out = to_u32(v);
    return NVML_SUCCESS;
}

static nvmlReturn_t read_u64(const struct call *c, enum scenario_field f, unsigned long long *out)
{
    double v;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!value(c, f, &v))
        return NVML_ERROR_NOT_SUPPORTED;
    *out = to_u64(v);
    return NVML_SUCCESS;
}

static nvmlReturn_t copy_string(char *dst, unsigned int len, const char *src)
{
    if (!dst)
        return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(src);
    if (len <= n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, n + 1);
    return NVML_SUCCESS;
}

/* total, reserved and used (v2 meaning: without reserved), in bytes, clamped so that free never underflows. */
static nvmlReturn_t memory_read(const struct call *c, unsigned long long *total, unsigned long long *reserved,
                                unsigned long long *used)
{
    const struct scenario_value *vu = c->mig ? &c->mig->mem_used : &c->gpu->values[SF_MEM_USED];
    const struct scenario_value *vr = c->mig ? &c->mig->mem_reserved : &c->gpu->values[SF_MEM_RESERVED];
    unsigned long long tot = c->mig ? c->mig->mem_total : c->gpu->mem_total;
    double u, r;
    if (!scenario_value_at(vu, c->t, &u))
        return NVML_ERROR_NOT_SUPPORTED;
    if (!scenario_value_at(vr, c->t, &r))
        r = 0;
    *total = tot;
    *reserved = to_u64(r) < tot ? to_u64(r) : tot;
    *used = to_u64(u) < tot - *reserved ? to_u64(u) : tot - *reserved;
    return NVML_SUCCESS;
}

/* ---- init, shutdown, errors ---- */

static nvmlReturn_t init_common(const char *name)
{
    nvmlReturn_t r = NVML_SUCCESS;
    unsigned int hang = 0;
    pthread_mutex_lock(&g.lock);
    if (g.init_count == 0) {
        r = load_first_locked();
        if (r != NVML_SUCCESS)
            goto out;
    } else {
        maybe_reload_locked();
    }
    g.init_count++;
    int fault = faults_fire_locked(g.scn, name, false, 0, now_epoch() - g.start_epoch, &hang);
    if (fault) {
        r = (nvmlReturn_t)fault;
        release_init_locked();
    }
out:
    pthread_mutex_unlock(&g.lock);
    if (hang)
        sleep_ms(hang);
    return r;
}

nvmlReturn_t nvmlInit_v2(void)
{
    return init_common(__func__);
}

nvmlReturn_t nvmlInit(void)
{
    return init_common(__func__);
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    (void)flags; /* NO_GPUS / NO_ATTACH / FORCE_INIT change nothing for a fake with no hardware */
    return init_common(__func__);
}

nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t r = NVML_SUCCESS;
    unsigned int hang = 0;
    pthread_mutex_lock(&g.lock);
    if (g.init_count == 0) {
        r = NVML_ERROR_UNINITIALIZED;
    } else {
        int fault = faults_fire_locked(g.scn, __func__, false, 0, now_epoch() - g.start_epoch, &hang);
        if (fault)
            r = (nvmlReturn_t)fault;
        else
            release_init_locked();
    }
    pthread_mutex_unlock(&g.lock);
    if (hang)
        sleep_ms(hang);
    return r;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case NVML_SUCCESS:
        return "Success";
    case NVML_ERROR_UNINITIALIZED:
        return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
        return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
        return "Not Supported";
    case NVML_ERROR_NO_PERMISSION:
        return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED:
        return "Already Initialized";
    case NVML_ERROR_NOT_FOUND:
        return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE:
        return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER:
        return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT:
        return "Timeout";
    case NVML_ERROR_IRQ_ISSUE:
        return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND:
        return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND:
        return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM:
        return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST:
        return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED:
        return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM:
        return "The operating system has blocked the request";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        return "RM has detected an NVML/RM version mismatch";
    case NVML_ERROR_IN_USE:
        return "In use by another client";
    case NVML_ERROR_MEMORY:
        return "Insufficient Memory";
    case NVML_ERROR_NO_DATA:
        return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED:
        return "ECC is not supported on vGPU";
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
        return "Insufficient resources";
    case NVML_ERROR_FREQ_NOT_SUPPORTED:
        return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
        return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED:
        return "Deprecated";
    case NVML_ERROR_NOT_READY:
        return "Not ready";
    case NVML_ERROR_GPU_NOT_FOUND:
        return "GPU not found";
    case NVML_ERROR_INVALID_STATE:
        return "Invalid state";
    case NVML_ERROR_RESET_TYPE_NOT_SUPPORTED:
        return "Reset type not supported";
    case NVML_ERROR_UNKNOWN:
        return "Unknown Error";
    }
    return "Unknown Error"; /* the argument comes from the caller and may be any number */
}

/* ---- system ---- */

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    if (r == NVML_SUCCESS)
        r = copy_string(version, length, c.scn->driver_version);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    if (r == NVML_SUCCESS)
        r = copy_string(version, length, c.scn->nvml_version);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    if (r == NVML_SUCCESS && !cudaDriverVersion)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *cudaDriverVersion = c.scn->cuda_version;
    call_end(&c);
    return r;
}

/* ---- enumeration and identity ---- */

static nvmlReturn_t device_count(const char *name, unsigned int *count)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, name);
    if (r == NVML_SUCCESS && !count)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *count = (unsigned int)c.scn->ngpus;
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    return device_count(__func__, deviceCount);
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
    return device_count(__func__, deviceCount);
}

static nvmlReturn_t handle_by_index(const char *name, unsigned int index, nvmlDevice_t *device)
{
    struct call c;
    struct target tg = {.kind = TARGET_INDEX, .index = index};
    nvmlReturn_t r = call_begin_target(&c, name, &tg, 0);
    if (r == NVML_SUCCESS && !device)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *device = handle_make(c.gen, c.gpu_index, 0);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    return handle_by_index(__func__, index, device);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return handle_by_index(__func__, index, device);
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    struct call c;
    struct target tg = {.kind = TARGET_UUID, .uuid = uuid};
    nvmlReturn_t r = call_begin_target(&c, __func__, &tg, CALL_MIG_OK);
    if (r == NVML_SUCCESS && !device)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *device = handle_make(c.gen, c.gpu_index, c.mig_slot);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS)
        r = copy_string(name, length, c.mig ? c.mig->name : c.gpu->name);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS)
        r = copy_string(uuid, length, c.mig ? c.mig->uuid : scenario_gpu_uuid(c.gpu, c.t));
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !pci)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS) {
        memset(pci, 0, sizeof(*pci));
        memcpy(pci->busIdLegacy, c.gpu->bus_id_legacy, sizeof(pci->busIdLegacy));
        memcpy(pci->busId, c.gpu->bus_id, sizeof(pci->busId));
        pci->domain = c.gpu->domain;
        pci->bus = c.gpu->bus;
        pci->device = c.gpu->device;
        pci->pciDeviceId = c.gpu->pci_device_id;
        pci->pciSubSystemId = c.gpu->pci_subsystem_id;
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !minorNumber)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *minorNumber = c.gpu->minor;
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !index)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *index = c.gpu_index;
    call_end(&c);
    return r;
}

/* ---- readings ---- */

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    struct call c;
    double gpu, mem;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !utilization)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && (mig_visible(c.gpu) || !value(&c, SF_GPU_UTIL, &gpu) || !value(&c, SF_MEM_UTIL, &mem)))
        r = NVML_ERROR_NOT_SUPPORTED; /* the real driver has no utilisation on MIG-enabled GPUs */
    if (r == NVML_SUCCESS) {
        utilization->gpu = to_u32(gpu);
        utilization->memory = to_u32(mem);
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    struct call c;
    unsigned long long total, reserved, used;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS && !branch_has(c.scn, SE_R525))
        r = NVML_ERROR_FUNCTION_NOT_FOUND; /* NVML 11.6 (R510) and later */
    if (r == NVML_SUCCESS && !memory)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && memory->version != NVML_MEMORY_V2_VERSION)
        r = NVML_ERROR_FUNCTION_NOT_FOUND; /* what the driver answers to version = 2 */
    if (r == NVML_SUCCESS)
        r = memory_read(&c, &total, &reserved, &used);
    if (r == NVML_SUCCESS) {
        memory->total = total;
        memory->reserved = reserved;
        memory->used = used;
        memory->free = total - reserved - used;
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    struct call c;
    unsigned long long total, reserved, used;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS && !memory)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        r = memory_read(&c, &total, &reserved, &used);
    if (r == NVML_SUCCESS) {
        memory->total = total;
        memory->used = used + reserved; /* v1 counts reserved memory as used */
        memory->free = total - reserved - used;
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType, unsigned int *temp)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && sensorType != NVML_TEMPERATURE_GPU)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        r = read_u32(&c, SF_TEMP, temp);
    call_end(&c);
    return r;
}

static nvmlReturn_t simple_u32(const char *name, nvmlDevice_t device, enum scenario_field f, unsigned int *out)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, name, device, 0);
    if (r == NVML_SUCCESS)
        r = read_u32(&c, f, out);
    call_end(&c);
    return r;
}

static nvmlReturn_t simple_u64(const char *name, nvmlDevice_t device, enum scenario_field f, unsigned long long *out)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, name, device, 0);
    if (r == NVML_SUCCESS)
        r = read_u64(&c, f, out);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
    return simple_u32(__func__, device, SF_POWER, power);
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy)
{
    return simple_u64(__func__, device, SF_ENERGY, energy);
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)
{
    return simple_u32(__func__, device, SF_POWER_LIMIT, limit);
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS) {
        bool own = c.gpu->values[SF_POWER_MGMT_LIMIT].kind != SV_ABSENT;
        r = read_u32(&c, own ? SF_POWER_MGMT_LIMIT : SF_POWER_LIMIT, limit);
    }
    call_end(&c);
    return r;
}

static nvmlReturn_t clock_read(const char *name, nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock,
                               bool max)
{
    static const enum scenario_field cur[] = {SF_CLOCK_GRAPHICS, SF_CLOCK_SM, SF_CLOCK_MEM, SF_CLOCK_VIDEO};
    static const enum scenario_field top[] = {SF_MAX_CLOCK_GRAPHICS, SF_MAX_CLOCK_SM, SF_MAX_CLOCK_MEM,
                                              SF_MAX_CLOCK_VIDEO};
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, name, device, 0);
    if (r == NVML_SUCCESS && ((unsigned int)type > NVML_CLOCK_VIDEO))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        r = read_u32(&c, max ? top[type] : cur[type], clock);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)
{
    return clock_read(__func__, device, type, clock, false);
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)
{
    return clock_read(__func__, device, type, clock, true);
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *clocksEventReasons)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !branch_has(c.scn, SE_ALL))
        r = NVML_ERROR_FUNCTION_NOT_FOUND; /* NVML 12.2 (R535) renamed ...ClocksThrottleReasons */
    if (r == NVML_SUCCESS)
        r = read_u64(&c, SF_CLOCK_REASONS, clocksEventReasons);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                       unsigned long long *clocksThrottleReasons)
{
    return simple_u64(__func__, device, SF_CLOCK_REASONS, clocksThrottleReasons);
}

nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, nvmlPcieUtilCounter_t counter, unsigned int *value_)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && (unsigned int)counter > NVML_PCIE_UTIL_RX_BYTES)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        r = read_u32(&c, counter == NVML_PCIE_UTIL_TX_BYTES ? SF_PCIE_TX : SF_PCIE_RX, value_);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                         nvmlEccCounterType_t counterType, unsigned long long *eccCounts)
{
    static const enum scenario_field fields[2][2] = {{SF_ECC_CORR_VOL, SF_ECC_CORR_AGG},
                                                     {SF_ECC_UNC_VOL, SF_ECC_UNC_AGG}};
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && ((unsigned int)errorType > 1 || (unsigned int)counterType > 1))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        r = read_u64(&c, fields[errorType][counterType], eccCounts);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t cause, unsigned int *pageCount,
                                       unsigned long long *addresses)
{
    struct call c;
    unsigned int n = 0;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && ((unsigned int)cause > 1 || !pageCount))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        r = read_u32(&c, cause == 0 ? SF_RETIRED_SBE : SF_RETIRED_DBE, &n);
    if (r == NVML_SUCCESS && n > 4096)
        n = 4096; /* a page list longer than this is not a realistic test */
    if (r == NVML_SUCCESS && *pageCount < n) {
        *pageCount = n;
        r = NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (r == NVML_SUCCESS && n > 0 && !addresses)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS) {
        /* Made-up but stable page addresses, distinct per GPU and cause. */
        for (unsigned int i = 0; i < n; i++)
            addresses[i] = 0x100000ULL * (c.gpu_index + 1) + 0x10000ULL * (unsigned int)cause + 0x1000ULL * i;
        *pageCount = n;
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, nvmlEnableState_t *isPending)
{
    struct call c;
    unsigned int v = 0;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !isPending)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        r = read_u32(&c, SF_RETIRED_PENDING, &v);
    if (r == NVML_SUCCESS)
        *isPending = v ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
                                       unsigned int *isPending, unsigned int *failureOccurred)
{
    static const enum scenario_field fields[4] = {SF_REMAP_CORR, SF_REMAP_UNC, SF_REMAP_PENDING, SF_REMAP_FAILURE};
    unsigned int *outs[4] = {corrRows, uncRows, isPending, failureOccurred};
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && (!corrRows || !uncRows || !isPending || !failureOccurred))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS) {
        bool any = false, mig_active = false;
        double v[4];
        for (size_t i = 0; i < 4; i++) {
            bool has = value(&c, fields[i], &v[i]);
            any = any || has;
            if (!has)
                v[i] = 0;
        }
        for (size_t s = 0; mig_visible(c.gpu) && s < SCENARIO_MAX_MIG; s++)
            mig_active = mig_active || c.gpu->mig[s].used;
        if (!any || mig_active) /* the driver refuses while MIG instances exist */
            r = NVML_ERROR_NOT_SUPPORTED;
        for (size_t i = 0; r == NVML_SUCCESS && i < 4; i++)
            *outs[i] = i < 2 ? to_u32(v[i]) : (v[i] != 0);
    }
    call_end(&c);
    return r;
}

/* FAKE_NVML_P2P: the NVLink P2P status matrix, rows (GPU 0, 1, ...) separated by ';', each the ','-separated
 * statuses towards GPU 0, 1, ...; unset: the call is NOT_SUPPORTED. Other caps indices: status NOT_SUPPORTED. */
nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t device1, nvmlDevice_t device2, int p2pIndex, int *p2pStatus)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device1, 0);
    unsigned int gen2, g2, slot2; /* device2 from any generation: only its index matters here */
    const char *m = getenv("FAKE_NVML_P2P");
    if (r == NVML_SUCCESS && (!p2pStatus || !handle_decode(device2.handle, &gen2, &g2, &slot2) || slot2 != 0 || c.mig))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && (!m || !*m))
        r = NVML_ERROR_NOT_SUPPORTED;
    if (r == NVML_SUCCESS) {
        *p2pStatus = 5; /* NVML_P2P_STATUS_NOT_SUPPORTED */
        for (unsigned int row = 0; p2pIndex == 2 && *m; row++) {
            size_t len = strcspn(m, ";");
            if (row == c.gpu_index) {
                const char *p = m;
                for (unsigned int col = 0; p < m + len; col++) {
                    if (col == g2)
                        *p2pStatus = (int)strtol(p, NULL, 10);
                    p += strcspn(p, ",;");
                    if (*p == ',')
                        p++;
                }
            }
            m += len + (m[len] == ';');
        }
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed)
{
    return simple_u32(__func__, device, SF_FAN, speed);
}

static nvmlReturn_t codec_util(const char *name, nvmlDevice_t device, enum scenario_field f, unsigned int *util,
                               unsigned int *period)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, name, device, 0);
    if (r == NVML_SUCCESS && (!util || !period))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && mig_visible(c.gpu))
        r = NVML_ERROR_NOT_SUPPORTED;
    if (r == NVML_SUCCESS)
        r = read_u32(&c, f, util);
    if (r == NVML_SUCCESS)
        *period = SAMPLING_PERIOD_US;
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                             unsigned int *samplingPeriodUs)
{
    return codec_util(__func__, device, SF_ENC_UTIL, utilization, samplingPeriodUs);
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                             unsigned int *samplingPeriodUs)
{
    return codec_util(__func__, device, SF_DEC_UTIL, utilization, samplingPeriodUs);
}

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState)
{
    struct call c;
    unsigned int v = 0;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !pState)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        r = read_u32(&c, SF_PSTATE, &v);
    if (r == NVML_SUCCESS)
        *pState = v <= 15 ? (nvmlPstates_t)v : NVML_PSTATE_UNKNOWN;
    call_end(&c);
    return r;
}

/* ---- field values ---- */

enum { FI_LINK_COUNT = -1 }; /* served from the GPU's nvlink_links, not from a value */

static const struct {
    unsigned int id;
    int field;
    nvmlValueType_t type;
    bool per_link; /* scopeId selects a link; UINT_MAX means the sum over links */
} fi_map[] = {
    {NVML_FI_ECC_SBE_VOL_TOTAL, SF_ECC_CORR_VOL, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_ECC_DBE_VOL_TOTAL, SF_ECC_UNC_VOL, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_ECC_SBE_AGG_TOTAL, SF_ECC_CORR_AGG, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_ECC_DBE_AGG_TOTAL, SF_ECC_UNC_AGG, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_RETIRED_SBE, SF_RETIRED_SBE, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_RETIRED_DBE, SF_RETIRED_DBE, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_RETIRED_PENDING, SF_RETIRED_PENDING, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_NVLINK_CRC_FLIT_ERROR_TOTAL, SF_NVLINK_CRC_FLIT, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_NVLINK_CRC_DATA_ERROR_TOTAL, SF_NVLINK_CRC_DATA, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_NVLINK_REPLAY_ERROR_TOTAL, SF_NVLINK_REPLAY, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_NVLINK_RECOVERY_ERROR_TOTAL, SF_NVLINK_RECOVERY, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_NVLINK_BANDWIDTH_C0_TOTAL, SF_NVLINK_BW_C0, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_PERF_POLICY_POWER, SF_VIOL_POWER, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_PERF_POLICY_THERMAL, SF_VIOL_THERMAL, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_PERF_POLICY_SYNC_BOOST, SF_VIOL_SYNC_BOOST, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_PERF_POLICY_BOARD_LIMIT, SF_VIOL_BOARD_LIMIT, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_PERF_POLICY_LOW_UTILIZATION, SF_VIOL_LOW_UTIL, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_PERF_POLICY_RELIABILITY, SF_VIOL_RELIABILITY, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_PERF_POLICY_TOTAL_APP_CLOCKS, SF_VIOL_APP_CLOCKS, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_PERF_POLICY_TOTAL_BASE_CLOCKS, SF_VIOL_BASE_CLOCKS, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_MEMORY_TEMP, SF_MEM_TEMP, NVML_VALUE_TYPE_UNSIGNED_INT, false},
    {NVML_FI_TOTAL_ENERGY_CONSUMPTION, SF_ENERGY, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, false},
    {NVML_FI_NVLINK_LINK_COUNT, FI_LINK_COUNT, NVML_VALUE_TYPE_UNSIGNED_INT, false},
    {NVML_FI_PCIE_REPLAY_COUNTER, SF_PCIE_REPLAY, NVML_VALUE_TYPE_UNSIGNED_INT, false},
    {NVML_FI_NVLINK_THROUGHPUT_DATA_TX, SF_NVLINK_DATA_TX, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, true},
    {NVML_FI_NVLINK_THROUGHPUT_DATA_RX, SF_NVLINK_DATA_RX, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, true},
    {NVML_FI_NVLINK_THROUGHPUT_RAW_TX, SF_NVLINK_RAW_TX, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, true},
    {NVML_FI_NVLINK_THROUGHPUT_RAW_RX, SF_NVLINK_RAW_RX, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, true},
    {NVML_FI_REMAPPED_COR, SF_REMAP_CORR, NVML_VALUE_TYPE_UNSIGNED_INT, false},
    {NVML_FI_REMAPPED_UNC, SF_REMAP_UNC, NVML_VALUE_TYPE_UNSIGNED_INT, false},
    {NVML_FI_REMAPPED_PENDING, SF_REMAP_PENDING, NVML_VALUE_TYPE_UNSIGNED_INT, false},
    {NVML_FI_REMAPPED_FAILURE, SF_REMAP_FAILURE, NVML_VALUE_TYPE_UNSIGNED_INT, false},
    {NVML_FI_POWER_INSTANT, SF_POWER, NVML_VALUE_TYPE_UNSIGNED_INT, false},
};

/* Fills one entry; returns its per-entry status. */
static nvmlReturn_t field_fill(const struct call *c, nvmlFieldValue_t *fv)
{
    size_t i;
    for (i = 0; i < sizeof(fi_map) / sizeof(fi_map[0]); i++)
        if (fi_map[i].id == fv->fieldId)
            break;
    if (i == sizeof(fi_map) / sizeof(fi_map[0]))
        return NVML_ERROR_NOT_SUPPORTED;
    const struct scenario_gpu *gpu = c->gpu;
    double v;
    if (fi_map[i].field == FI_LINK_COUNT) {
        if (!gpu->has_nvlink_links)
            return NVML_ERROR_NOT_SUPPORTED;
        v = gpu->nvlink_links;
    } else if (!value(c, (enum scenario_field)fi_map[i].field, &v)) {
        return NVML_ERROR_NOT_SUPPORTED;
    }
    fv->valueType = fi_map[i].type;
    if (fi_map[i].type == NVML_VALUE_TYPE_UNSIGNED_INT) {
        fv->value.uiVal = to_u32(v);
        return NVML_SUCCESS;
    }
    unsigned long long total = to_u64(v);
    if (fi_map[i].per_link && fv->scopeId != UINT_MAX) {
        /* Split the total evenly over the links, the remainder on the first ones, so the links sum up. */
        if (!gpu->has_nvlink_links || gpu->nvlink_links == 0)
            return NVML_ERROR_NOT_SUPPORTED;
        if (fv->scopeId >= gpu->nvlink_links)
            return NVML_ERROR_INVALID_ARGUMENT;
        total = total / gpu->nvlink_links + (fv->scopeId < total % gpu->nvlink_links ? 1 : 0);
    }
    fv->value.ullVal = total;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && (valuesCount < 0 || (valuesCount > 0 && !values)))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && valuesCount > 0) {
        long long stamp = (long long)(now_epoch() * 1e6);
        nvmlReturn_t first = NVML_SUCCESS;
        bool any = false;
        for (int i = 0; i < valuesCount; i++) {
            nvmlFieldValue_t *fv = &values[i];
            int injected = 0;
            fv->timestamp = stamp;
            fv->latencyUsec = 0;
            memset(&fv->value, 0, sizeof(fv->value));
            pthread_mutex_lock(&g.lock); /* per-entry faults count their firings */
            for (size_t k = 0; k < c.scn->nfaults && !injected; k++) {
                struct scenario_fault *f = &c.scn->faults[k];
                if (f->has_field && f->field_id == fv->fieldId && f->remaining != 0 &&
                    (f->any_gpu || f->gpu == c.gpu_index) && c.t >= f->from && c.t < f->until) {
                    injected = f->ret;
                    if (f->remaining > 0)
                        f->remaining--;
                }
            }
            pthread_mutex_unlock(&g.lock);
            fv->nvmlReturn = injected ? (nvmlReturn_t)injected : field_fill(&c, fv);
            any = any || fv->nvmlReturn == NVML_SUCCESS;
            if (i == 0)
                first = fv->nvmlReturn;
        }
        r = any ? NVML_SUCCESS : first;
    }
    call_end(&c);
    return r;
}

/* ---- processes ---- */

#define RECORD_V3 ((size_t)-1) /* whatever the scenario's driver branch writes from the _v3 calls */

/* Writes the listed processes as records of `record` bytes each (16: v1, 24: v2, 32: early R535 v3). Each layout
 * is a prefix of the next, so one full record is built and its first `record` bytes copied: exactly
 * count * record bytes are written, never more, as a caller measuring the stride would see from a driver. */
static nvmlReturn_t running_processes(const char *name, nvmlDevice_t device, unsigned int *infoCount, void *infos,
                                      bool graphics, size_t record)
{
    struct call c;
    nvmlProcessInfo_v3_t found[SCENARIO_MAX_PROCS];
    unsigned int n = 0;
    nvmlReturn_t r = call_begin_dev(&c, name, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS && !infoCount)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && record == RECORD_V3)
        record = scenario_branch_abi(c.scn->branch)->v3_record;
    if (r == NVML_SUCCESS && record == 0)
        r = NVML_ERROR_FUNCTION_NOT_FOUND; /* R470 (or 535.98) has no _v3: see branch_has */
    if (r != NVML_SUCCESS)
        goto out;
    bool mig_on = mig_visible(c.gpu);
    for (size_t i = 0; i < c.gpu->nprocs; i++) {
        const struct scenario_proc *p = &c.gpu->procs[i];
        double mem;
        if (!(c.t >= p->from && c.t < p->until) || !(graphics ? p->graphics : p->compute))
            continue;
        if (c.mig && (p->gi != c.mig->gi || p->ci != c.mig->ci))
            continue;
        memset(&found[n], 0, sizeof(found[n]));
        found[n].pid = p->pid;
        found[n].usedGpuMemory =
            scenario_value_at(&p->mem, c.t, &mem) ? to_u64(mem) : NVML_VALUE_NOT_AVAILABLE_ULL;
        found[n].gpuInstanceId = mig_on ? p->gi : NVML_NO_INSTANCE_ID;
        found[n].computeInstanceId = mig_on ? p->ci : NVML_NO_INSTANCE_ID;
        found[n].usedGpuCcProtectedMemory = 0;
        n++;
    }
    if (*infoCount < n) {
        *infoCount = n;
        r = NVML_ERROR_INSUFFICIENT_SIZE;
        goto out;
    }
    if (n > 0 && !infos) {
        r = NVML_ERROR_INVALID_ARGUMENT;
        goto out;
    }
    for (unsigned int i = 0; i < n; i++)
        memcpy((unsigned char *)infos + (size_t)i * record, &found[i], record);
    *infoCount = n;
out:
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos)
{
    return running_processes(__func__, device, infoCount, infos, false, RECORD_V3);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos)
{
    return running_processes(__func__, device, infoCount, infos, false, sizeof(nvmlProcessInfo_t));
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                  nvmlProcessInfo_v1_t *infos)
{
    return running_processes(__func__, device, infoCount, infos, false, sizeof(nvmlProcessInfo_v1_t));
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                      nvmlProcessInfo_t *infos)
{
    return running_processes(__func__, device, infoCount, infos, true, RECORD_V3);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                      nvmlProcessInfo_t *infos)
{
    return running_processes(__func__, device, infoCount, infos, true, sizeof(nvmlProcessInfo_t));
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                   nvmlProcessInfo_v1_t *infos)
{
    return running_processes(__func__, device, infoCount, infos, true, sizeof(nvmlProcessInfo_v1_t));
}

/* Samples of the processes listed now that have an `sm_util`, stamped with the call time. Like the driver:
 * NOT_FOUND when there is no sample newer than lastSeenTimeStamp, INSUFFICIENT_SIZE (with the count) when
 * the buffer is NULL or short; NOT_SUPPORTED on a MIG handle or while MIG is on. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilization,
                                             unsigned int *processSamplesCount, unsigned long long lastSeenTimeStamp)
{
    struct call c;
    nvmlProcessUtilizationSample_t found[SCENARIO_MAX_PROCS];
    unsigned int n = 0;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !processSamplesCount)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && mig_visible(c.gpu))
        r = NVML_ERROR_NOT_SUPPORTED;
    if (r != NVML_SUCCESS)
        goto out;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long now_us = (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u;
    for (size_t i = 0; i < c.gpu->nprocs; i++) {
        const struct scenario_proc *p = &c.gpu->procs[i];
        double sm;
        if (!(c.t >= p->from && c.t < p->until) || !scenario_value_at(&p->sm_util, c.t, &sm))
            continue;
        if (now_us <= lastSeenTimeStamp)
            continue;
        memset(&found[n], 0, sizeof(found[n]));
        found[n].pid = p->pid;
        found[n].timeStamp = now_us;
        found[n].smUtil = sm < 0 ? 0 : sm > 100 ? 100 : (unsigned int)(sm + 0.5);
        n++;
    }
    if (n == 0) {
        *processSamplesCount = 0;
        r = NVML_ERROR_NOT_FOUND;
        goto out;
    }
    if (!utilization || *processSamplesCount < n) {
        *processSamplesCount = n;
        r = NVML_ERROR_INSUFFICIENT_SIZE;
        goto out;
    }
    memcpy(utilization, found, n * sizeof(found[0]));
    *processSamplesCount = n;
out:
    call_end(&c);
    return r;
}

/* ---- events ---- */

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    if (r == NVML_SUCCESS && !set)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS) {
        r = NVML_ERROR_INSUFFICIENT_RESOURCES;
        pthread_mutex_lock(&g.lock);
        for (size_t i = 0; i < EVENT_SETS; i++) {
            if (g_sets[i].in_use)
                continue;
            memset(&g_sets[i], 0, sizeof(g_sets[i]));
            g_sets[i].in_use = true;
            g_sets[i].mark_at = -INFINITY;
            set->handle = &g_sets[i];
            r = NVML_SUCCESS;
            break;
        }
        pthread_mutex_unlock(&g.lock);
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    if (r == NVML_SUCCESS) {
        pthread_mutex_lock(&g.lock);
        struct nvmlEventSet_st *es = set_lookup_locked(set);
        if (es) {
            es->in_use = false;
            g.changes++;
            pthread_cond_broadcast(&g.changed);
        } else
            r = NVML_ERROR_INVALID_ARGUMENT;
        pthread_mutex_unlock(&g.lock);
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set)
{
    struct call c;
    /* MIG handles get NOT_SUPPORTED: the driver wants registration on the parent GPU. */
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && (eventTypes & ~c.gpu->supported_events))
        r = NVML_ERROR_NOT_SUPPORTED; /* one unsupported bit and nothing is registered */
    if (r == NVML_SUCCESS) {
        pthread_mutex_lock(&g.lock);
        struct nvmlEventSet_st *es = set_lookup_locked(set);
        if (!es) {
            r = NVML_ERROR_INVALID_ARGUMENT;
        } else {
            if ((eventTypes & NVML_EVENT_TYPE_XID) && !(es->mask[c.gpu_index] & NVML_EVENT_TYPE_XID))
                es->reg_at[c.gpu_index] = c.t;
            es->mask[c.gpu_index] |= eventTypes;
        }
        pthread_mutex_unlock(&g.lock);
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *eventTypes)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !eventTypes)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *eventTypes = c.gpu->supported_events;
    call_end(&c);
    return r;
}

/* The next XID event of es due by time t. Consumes the events it passes, delivered or not: an event for a GPU
 * not registered (or registered only after the event's time) is never reported, as with the real driver. When
 * nothing is due, *next_at is the time of the next event (or +inf). */
static const struct scenario_xid *set_next_locked(struct nvmlEventSet_st *es, const struct scenario *scn, double t,
                                                  double *next_at)
{
    size_t i = 0, same = 0;
    while (i < scn->nxids && scn->xids[i].at < es->mark_at)
        i++;
    while (i < scn->nxids && scn->xids[i].at == es->mark_at && same < es->mark_n) {
        i++;
        same++;
    }
    for (; i < scn->nxids; i++) {
        const struct scenario_xid *x = &scn->xids[i];
        if (x->at > t) {
            *next_at = x->at;
            return NULL;
        }
        if (x->at == es->mark_at) {
            es->mark_n++;
        } else {
            es->mark_at = x->at;
            es->mark_n = 1;
        }
        if ((es->mask[x->gpu] & NVML_EVENT_TYPE_XID) && x->at >= es->reg_at[x->gpu])
            return x;
    }
    *next_at = INFINITY;
    return NULL;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    if (r == NVML_SUCCESS && !data)
        r = NVML_ERROR_INVALID_ARGUMENT;
    long long deadline = now_mono_ns() + (long long)timeoutms * 1000000LL;
    while (r == NVML_SUCCESS) {
        double next_at = INFINITY, t = 0;
        const struct scenario_xid *x = NULL;
        struct scenario_xid got;
        pthread_mutex_lock(&g.lock);
        unsigned long seen = g.changes;
        struct nvmlEventSet_st *es = g.init_count ? set_lookup_locked(set) : NULL;
        if (!g.init_count) {
            r = NVML_ERROR_UNINITIALIZED;
        } else if (!es) {
            r = NVML_ERROR_INVALID_ARGUMENT;
        } else {
            maybe_reload_locked();
            t = now_epoch() - g.start_epoch;
            x = set_next_locked(es, g.scn, t, &next_at);
            if (x)
                got = *x; /* copy: the scenario may be swapped once the lock is gone */
        }
        pthread_mutex_unlock(&g.lock);
        if (r != NVML_SUCCESS)
            break;
        if (x) {
            unsigned int gen = 0;
            pthread_mutex_lock(&g.lock);
            if (g.scn && got.gpu < g.scn->ngpus)
                scenario_gpu_lost(&g.scn->gpus[got.gpu], t, &gen);
            pthread_mutex_unlock(&g.lock);
            data->device = handle_make(gen, got.gpu, 0);
            data->eventType = NVML_EVENT_TYPE_XID;
            data->eventData = got.xid;
            data->gpuInstanceId = got.gi;
            data->computeInstanceId = got.ci;
            break;
        }
        long long left_ns = deadline - now_mono_ns();
        if (left_ns <= 0) {
            r = NVML_ERROR_TIMEOUT;
            break;
        }
        double ms = fmin((double)left_ns / 1e6, WAIT_SLICE_MS);
        ms = fmin(ms, fmax((next_at - t) * 1000.0, 1.0));
        /* Until the next event, the caller's deadline or a change, whichever comes first; a rewritten
         * scenario file nobody else has looked at is seen within a slice. */
        long long until = now_mono_ns() + (long long)ceil(ms * 1e6);
        struct timespec ts = {.tv_sec = (time_t)(until / 1000000000LL), .tv_nsec = (long)(until % 1000000000LL)};
        pthread_mutex_lock(&g.lock);
        if (g.changes == seen)
            (void)pthread_cond_clockwait(&g.changed, &g.lock, CLOCK_MONOTONIC, &ts);
        pthread_mutex_unlock(&g.lock);
    }
    call_end(&c);
    return r;
}

/* ---- MIG ---- */

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && (!currentMode || !pendingMode))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && !c.gpu->mig_capable)
        r = NVML_ERROR_NOT_SUPPORTED;
    if (r == NVML_SUCCESS) {
        *currentMode = c.gpu->mig_mode;
        *pendingMode = c.gpu->mig_pending;
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !count)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && !c.gpu->mig_capable)
        r = NVML_ERROR_NOT_SUPPORTED;
    if (r == NVML_SUCCESS)
        *count = mig_visible(c.gpu) ? c.gpu->mig_max : 0;
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    if (r == NVML_SUCCESS && !migDevice)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && !c.gpu->mig_capable)
        r = NVML_ERROR_NOT_SUPPORTED;
    if (r == NVML_SUCCESS && !mig_visible(c.gpu))
        r = NVML_ERROR_NOT_FOUND;
    if (r == NVML_SUCCESS && index >= c.gpu->mig_max)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && !c.gpu->mig[index].used)
        r = NVML_ERROR_NOT_FOUND; /* an empty slot */
    if (r == NVML_SUCCESS)
        *migDevice = handle_make(c.gen, c.gpu_index, index + 1);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS && !isMigDevice)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *isMigDevice = c.mig != NULL;
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t migDevice, nvmlDevice_t *device)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, migDevice, CALL_MIG_OK);
    if (r == NVML_SUCCESS && (!device || !c.mig))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS)
        *device = handle_make(c.gen, c.gpu_index, 0);
    call_end(&c);
    return r;
}

static nvmlReturn_t instance_id(const char *name, nvmlDevice_t device, unsigned int *id, bool compute)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, name, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS && (!id || !c.mig))
        r = NVML_ERROR_INVALID_ARGUMENT; /* only MIG device handles have instance ids */
    if (r == NVML_SUCCESS)
        *id = compute ? c.mig->ci : c.mig->gi;
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id)
{
    return instance_id(__func__, device, id, false);
}

nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id)
{
    return instance_id(__func__, device, id, true);
}

/* ---- GPM ---- */

static struct nvmlGpmSample_st *sample_lookup_locked(nvmlGpmSample_t s)
{
    uintptr_t p = (uintptr_t)s, base = (uintptr_t)&g_samples[0];
    if (p < base || p - base >= sizeof(g_samples) || (p - base) % sizeof(g_samples[0]) != 0)
        return NULL;
    struct nvmlGpmSample_st *gs = &g_samples[(p - base) / sizeof(g_samples[0])];
    return gs->in_use ? gs : NULL;
}

/* The GPM values of the device a call names: a MIG instance's own, else the GPU's. */
static const struct scenario_value *gpm_values(const struct scenario_gpu *gpu, unsigned int slot)
{
    return slot ? gpu->mig[slot - 1].values : gpu->values;
}

/* FAKE_NVML_GPM_LOG: one line "<gpu> <slot> <t> <return>" per sample call, so a test can count the sampling the
 * exporter did per GPU (a profiling pause must stop it). */
static void gpm_log(unsigned int gpu, unsigned int slot, double t, nvmlReturn_t r)
{
    const char *path = getenv("FAKE_NVML_GPM_LOG");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "%u %u %.6f %d\n", gpu, slot, t, (int)r);
    fclose(f);
}

nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t device, nvmlGpmSupport_t *gpmSupport)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS && !branch_has(c.scn, SE_R525))
        r = NVML_ERROR_FUNCTION_NOT_FOUND;
    if (r == NVML_SUCCESS && !gpmSupport)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && gpmSupport->version != NVML_GPM_SUPPORT_VERSION)
        r = NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (r == NVML_SUCCESS)
        gpmSupport->isSupportedDevice = scenario_gpm_supported(gpm_values(c.gpu, c.mig_slot));
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *gpmSample)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    if (r == NVML_SUCCESS && !branch_has(c.scn, SE_R525))
        r = NVML_ERROR_FUNCTION_NOT_FOUND;
    if (r == NVML_SUCCESS && !gpmSample)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS) {
        r = NVML_ERROR_MEMORY;
        pthread_mutex_lock(&g.lock);
        for (size_t i = 0; i < GPM_SAMPLES; i++) {
            if (g_samples[i].in_use)
                continue;
            memset(&g_samples[i], 0, sizeof(g_samples[i]));
            g_samples[i].in_use = true;
            *gpmSample = &g_samples[i];
            r = NVML_SUCCESS;
            break;
        }
        pthread_mutex_unlock(&g.lock);
    }
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t gpmSample)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    if (r == NVML_SUCCESS) {
        pthread_mutex_lock(&g.lock);
        struct nvmlGpmSample_st *gs = sample_lookup_locked(gpmSample);
        if (gs)
            gs->in_use = false;
        else
            r = NVML_ERROR_INVALID_ARGUMENT;
        pthread_mutex_unlock(&g.lock);
    }
    call_end(&c);
    return r;
}

/* Records a sample of (gpu, slot) at the call's time. */
static nvmlReturn_t sample_fill(const struct call *c, unsigned int slot, nvmlGpmSample_t gpmSample)
{
    if (!scenario_gpm_supported(gpm_values(c->gpu, slot)))
        return NVML_ERROR_NOT_SUPPORTED;
    nvmlReturn_t r = NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g.lock);
    struct nvmlGpmSample_st *gs = sample_lookup_locked(gpmSample);
    if (gs) {
        gs->filled = true;
        gs->gpu = c->gpu_index;
        gs->slot = slot;
        gs->t = c->t;
        r = NVML_SUCCESS;
    }
    pthread_mutex_unlock(&g.lock);
    return r;
}

nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t device, nvmlGpmSample_t gpmSample)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, CALL_MIG_OK);
    if (r == NVML_SUCCESS && !branch_has(c.scn, SE_R525))
        r = NVML_ERROR_FUNCTION_NOT_FOUND;
    if (r == NVML_SUCCESS)
        r = sample_fill(&c, c.mig_slot, gpmSample);
    if (c.gpu)
        gpm_log(c.gpu_index, c.mig_slot, c.t, r);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlGpmMigSampleGet(nvmlDevice_t device, unsigned int gpuInstanceId, nvmlGpmSample_t gpmSample)
{
    struct call c;
    nvmlReturn_t r = call_begin_dev(&c, __func__, device, 0);
    unsigned int slot = 0;
    if (r == NVML_SUCCESS && !branch_has(c.scn, SE_R525))
        r = NVML_ERROR_FUNCTION_NOT_FOUND;
    if (r == NVML_SUCCESS && !mig_visible(c.gpu))
        r = NVML_ERROR_NOT_SUPPORTED;
    if (r == NVML_SUCCESS) {
        r = NVML_ERROR_NOT_FOUND;
        for (unsigned int k = 0; k < SCENARIO_MAX_MIG; k++)
            if (c.gpu->mig[k].used && c.gpu->mig[k].gi == gpuInstanceId) {
                slot = k + 1;
                r = NVML_SUCCESS;
                break;
            }
    }
    if (r == NVML_SUCCESS)
        r = sample_fill(&c, slot, gpmSample);
    if (c.gpu)
        gpm_log(c.gpu_index, slot, c.t, r);
    call_end(&c);
    return r;
}

nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *metricsGet)
{
    struct call c;
    nvmlReturn_t r = call_begin(&c, __func__);
    struct nvmlGpmSample_st s1 = {0}, s2 = {0};
    if (r == NVML_SUCCESS && !branch_has(c.scn, SE_R525))
        r = NVML_ERROR_FUNCTION_NOT_FOUND;
    if (r == NVML_SUCCESS && !metricsGet)
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS && metricsGet->version != NVML_GPM_METRICS_GET_VERSION)
        r = NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    /* The driver's own array is gpm_metric_max long: it refuses more (an older driver and a newer header). */
    if (r == NVML_SUCCESS && (metricsGet->numMetrics == 0 || metricsGet->numMetrics > c.scn->gpm_metric_max))
        r = NVML_ERROR_INVALID_ARGUMENT;
    if (r == NVML_SUCCESS) {
        pthread_mutex_lock(&g.lock);
        struct nvmlGpmSample_st *a = sample_lookup_locked(metricsGet->sample1);
        struct nvmlGpmSample_st *b = sample_lookup_locked(metricsGet->sample2);
        if (a && b) {
            s1 = *a;
            s2 = *b;
        }
        pthread_mutex_unlock(&g.lock);
        if (!s1.filled || !s2.filled || s1.gpu != s2.gpu || s1.slot != s2.slot || !(s2.t > s1.t) ||
            s1.gpu >= c.scn->ngpus)
            r = NVML_ERROR_INVALID_ARGUMENT;
    }
    if (r == NVML_SUCCESS) {
        const struct scenario_gpu *gpu = &c.scn->gpus[s1.gpu];
        const struct scenario_value *vals = gpm_values(gpu, s1.slot);
        for (unsigned int i = 0; i < metricsGet->numMetrics; i++) {
            nvmlGpmMetric_t *m = &metricsGet->metrics[i];
            enum scenario_field f = scenario_gpm_field(m->metricId);
            double v;
            m->value = 0;
            memset(&m->metricInfo, 0, sizeof(m->metricInfo));
            if (m->metricId == 0 || m->metricId >= c.scn->gpm_metric_max)
                m->nvmlReturn = NVML_ERROR_INVALID_ARGUMENT;
            else if (f == SF_COUNT || !scenario_value_mean(&vals[f], s1.t, s2.t, &v))
                m->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            else {
                m->nvmlReturn = NVML_SUCCESS;
                m->value = v;
            }
        }
    }
    call_end(&c);
    return r;
}
