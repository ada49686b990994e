/* dcgm_loader.c - dlopen()s libdcgm and fills struct dcgm_lib from one symbol table (see dcgm_loader.h).
 *
 * The sonames come newest first: DCGM 4.x installs libdcgm.so.4, 3.x libdcgm.so.3 (gpu-apis.md §3.1); the
 * calls and struct versions used here are the same in both.
 */
#include "dcgm/dcgm_loader.h"

#include <dlfcn.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef dcgmReturn_t (*dcgm_any_fn)(void);
_Static_assert(sizeof(dcgm_any_fn) == sizeof(void *), "function and object pointers differ in size");

static const struct {
    const char *name;
    size_t offset;
} syms[] = {
    {"dcgmInit", offsetof(struct dcgm_lib, Init)},
    {"dcgmShutdown", offsetof(struct dcgm_lib, Shutdown)},
    {"errorString", offsetof(struct dcgm_lib, ErrorString)},
    {"dcgmStartEmbedded", offsetof(struct dcgm_lib, StartEmbedded)},
    {"dcgmStopEmbedded", offsetof(struct dcgm_lib, StopEmbedded)},
    {"dcgmConnect_v2", offsetof(struct dcgm_lib, Connect_v2)},
    {"dcgmDisconnect", offsetof(struct dcgm_lib, Disconnect)},
    {"dcgmFieldGroupCreate", offsetof(struct dcgm_lib, FieldGroupCreate)},
    {"dcgmFieldGroupDestroy", offsetof(struct dcgm_lib, FieldGroupDestroy)},
    {"dcgmWatchFields", offsetof(struct dcgm_lib, WatchFields)},
    {"dcgmUnwatchFields", offsetof(struct dcgm_lib, UnwatchFields)},
    {"dcgmUpdateAllFields", offsetof(struct dcgm_lib, UpdateAllFields)},
    {"dcgmGetLatestValues_v2", offsetof(struct dcgm_lib, GetLatestValues_v2)},
    {"dcgmGetGpuInstanceHierarchy", offsetof(struct dcgm_lib, GetGpuInstanceHierarchy)},
    {"dcgmHealthSet", offsetof(struct dcgm_lib, HealthSet)},
    {"dcgmHealthCheck", offsetof(struct dcgm_lib, HealthCheck)},
    {"dcgmProfPause", offsetof(struct dcgm_lib, ProfPause)},
    {"dcgmProfResume", offsetof(struct dcgm_lib, ProfResume)},
};

#define NSYMS (sizeof syms / sizeof syms[0])
_Static_assert(offsetof(struct dcgm_lib, ProfResume) + sizeof(dcgm_any_fn) == sizeof(struct dcgm_lib),
               "ProfResume must stay the last member of struct dcgm_lib");
_Static_assert(sizeof(struct dcgm_lib) - offsetof(struct dcgm_lib, Init) == NSYMS * sizeof(dcgm_any_fn),
               "every function pointer in struct dcgm_lib needs one line in syms");

static void *try_open(const char *name)
{
    return dlopen(name, RTLD_NOW | RTLD_LOCAL);
}

enum jt_err dcgm_lib_open(struct dcgm_lib *lib, const char *path, char *why, size_t whylen)
{
    memset(lib, 0, sizeof *lib);
    static const char *const sonames[] = {"libdcgm.so.4", "libdcgm.so.3"};
    void *h = NULL;
    const char *tried = path;
    if (path && *path) {
        h = try_open(path);
    } else {
        for (size_t i = 0; i < sizeof sonames / sizeof sonames[0] && !h; i++) {
            tried = sonames[i];
            h = try_open(sonames[i]);
        }
    }
    if (!h) {
        const char *e = dlerror();
        snprintf(why, whylen, "cannot load %s: %s", path && *path ? path : "libdcgm.so.4 or libdcgm.so.3",
                 e ? e : "unknown error");
        return JT_ERR_LIBRARY;
    }
    for (size_t i = 0; i < NSYMS; i++) {
        void *p = dlsym(h, syms[i].name);
        if (!p) {
            snprintf(why, whylen, "%s has no %s", tried, syms[i].name);
            dlclose(h);
            memset(lib, 0, sizeof *lib);
            return JT_ERR_LIBRARY;
        }
        memcpy((char *)lib + syms[i].offset, &p, sizeof p);
    }
    lib->handle = h;
    struct link_map *lm = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name)
        snprintf(lib->path, sizeof lib->path, "%s", lm->l_name);
    else
        snprintf(lib->path, sizeof lib->path, "%s", tried);
    return JT_OK;
}

void dcgm_lib_close(struct dcgm_lib *lib)
{
    if (lib->handle)
        dlclose(lib->handle);
    memset(lib, 0, sizeof *lib);
}

const char *dcgm_lib_strerror(const struct dcgm_lib *lib, dcgmReturn_t r)
{
    const char *s = lib && lib->ErrorString ? lib->ErrorString(r) : NULL;
    return s ? s : "unknown DCGM error";
}
