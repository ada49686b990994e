/* gpulist.c - GPU list parsing and the driver's GPU table (see gpulist.h).
 *
 * The table comes from /proc/driver/nvidia/gpus: one directory per GPU, named by PCI bus id, each with
 * an `information` file of "Key: value" lines. NVML numbers GPUs in PCI bus id order, so sorting the
 * directory names gives the NVML index without loading NVML.
 */
#include "slurm/gpulist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/strparse.h"

#define INFO_FILE_MAX 8192 /* the driver's file is ~400 bytes */

static bool is_hex_or_dash(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
}

/* A UUID body after its "GPU-"/"MIG-" prefix: hex digits and dashes, at least one hex digit. */
static bool uuid_body_ok(const char *s, size_t n)
{
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        if (!is_hex_or_dash(s[i]))
            return false;
        digit = digit || s[i] != '-';
    }
    return digit;
}

static bool has_prefix(const char *s, size_t n, const char *pfx)
{
    size_t k = strlen(pfx);
    return n >= k && memcmp(s, pfx, k) == 0;
}

/* An index or GPU instance id: JT_ERR_PARSE if not all digits, JT_ERR_RANGE if too large. */
static enum jt_err parse_small(const char *s, size_t n, uint32_t *out)
{
    if (n == 0)
        return JT_ERR_PARSE;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return JT_ERR_PARSE;
    }
    uint64_t v;
    if (!str_to_u64(s, n, &v) || v > GPULIST_INDEX_MAX)
        return JT_ERR_RANGE;
    *out = (uint32_t)v;
    return JT_OK;
}

static bool entry_equal(const struct gpulist_entry *a, const struct gpulist_entry *b)
{
    return a->kind == b->kind && a->index == b->index && a->gpu_instance == b->gpu_instance &&
           strcmp(a->uuid, b->uuid) == 0;
}

static enum jt_err list_add(struct gpulist *l, const struct gpulist_entry *e)
{
    for (size_t i = 0; i < l->n; i++) {
        if (entry_equal(&l->e[i], e))
            return JT_OK;
    }
    if (l->n >= GPULIST_MAX)
        return JT_ERR_LIMIT;
    l->e[l->n++] = *e;
    return JT_OK;
}

static void entry_clear(struct gpulist_entry *e, enum gpulist_kind kind)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->gpu_instance = -1;
}

/* "MIG-GPU-<uuid>/<gi>/<ci>": the pre-R470 MIG naming, which names its parent GPU. */
static enum jt_err parse_old_mig(const char *s, size_t n, struct gpulist_entry *e)
{
    const char *slash = memchr(s, '/', n);
    if (!slash)
        return JT_ERR_PARSE;
    size_t plen = (size_t)(slash - s) - 4; /* without "MIG-" */
    if (!uuid_body_ok(s + 8, plen - 4))
        return JT_ERR_PARSE;
    struct cursor c;
    cur_init(&c, slash + 1, n - (size_t)(slash + 1 - s));
    uint64_t gi, ci;
    if (!cur_u64(&c, &gi) || !cur_skip_char(&c, '/') || !cur_u64(&c, &ci) || !cur_eof(&c))
        return JT_ERR_PARSE;
    if (gi > GPULIST_INDEX_MAX || ci > GPULIST_INDEX_MAX)
        return JT_ERR_RANGE;
    entry_clear(e, GPULIST_MIG_UUID);
    e->gpu_instance = (int32_t)gi;
    str_copy(e->uuid, sizeof e->uuid, s, n);
    str_copy(e->parent_uuid, sizeof e->parent_uuid, s + 4, plen);
    return JT_OK;
}

/* One trimmed item; appends one or more entries. */
static enum jt_err parse_item(const char *s, size_t n, struct gpulist *out)
{
    struct gpulist_entry e;
    if (n == 0)
        return JT_ERR_PARSE;
    if (has_prefix(s, n, "GPU-") || has_prefix(s, n, "MIG-")) {
        if (n >= GPULIST_UUID_MAX)
            return JT_ERR_LIMIT;
        if (has_prefix(s, n, "MIG-GPU-")) {
            enum jt_err err = parse_old_mig(s, n, &e);
            return err != JT_OK ? err : list_add(out, &e);
        }
        if (!uuid_body_ok(s + 4, n - 4))
            return JT_ERR_PARSE;
        entry_clear(&e, s[0] == 'G' ? GPULIST_GPU_UUID : GPULIST_MIG_UUID);
        str_copy(e.uuid, sizeof e.uuid, s, n);
        return list_add(out, &e);
    }

    /* "a", "a-b" or "a.g" */
    const char *tok;
    struct cursor c;
    cur_init(&c, s, n);
    size_t alen = cur_token(&c, "-.", &tok);
    uint32_t a, b;
    enum jt_err err = parse_small(tok, alen, &a);
    if (err != JT_OK)
        return err;
    entry_clear(&e, GPULIST_INDEX);
    e.index = a;
    if (cur_eof(&c))
        return list_add(out, &e);
    if (cur_skip_char(&c, '.')) {
        size_t glen = cur_token(&c, "", &tok);
        uint32_t gi;
        err = parse_small(tok, glen, &gi);
        if (err != JT_OK)
            return err;
        e.gpu_instance = (int32_t)gi;
        return list_add(out, &e);
    }
    cur_skip_char(&c, '-');
    size_t blen = cur_token(&c, "", &tok);
    err = parse_small(tok, blen, &b);
    if (err != JT_OK)
        return err;
    if (b < a)
        return JT_ERR_PARSE;
    if (b - a >= GPULIST_MAX)
        return JT_ERR_LIMIT;
    for (uint32_t i = a; i <= b; i++) {
        e.index = i;
        err = list_add(out, &e);
        if (err != JT_OK)
            return err;
    }
    return JT_OK;
}

enum jt_err gpulist_parse(const char *s, struct gpulist *out, size_t *errpos)
{
    out->n = 0;
    if (errpos)
        *errpos = 0;
    size_t len = strnlen(s, GPULIST_TEXT_MAX + 1);
    if (len > GPULIST_TEXT_MAX)
        return JT_ERR_LIMIT;
    const char *all = s;
    size_t alln = len;
    str_trim(&all, &alln);
    if (alln == 0 || (alln == 10 && memcmp(all, "NoDevFiles", 10) == 0))
        return JT_OK;

    struct cursor c;
    cur_init(&c, s, len);
    for (;;) {
        const char *item;
        size_t start = (size_t)(c.p - s);
        size_t n = cur_token(&c, ",", &item);
        str_trim(&item, &n);
        enum jt_err err = parse_item(item, n, out);
        if (err != JT_OK) {
            if (errpos)
                *errpos = start;
            out->n = 0;
            return err;
        }
        if (!cur_skip_char(&c, ','))
            return JT_OK;
    }
}

/* --- the driver's GPU table ------------------------------------------------------------------ */

static int device_cmp(const void *a, const void *b)
{
    return strcmp(((const struct gpulist_device *)a)->bus_id, ((const struct gpulist_device *)b)->bus_id);
}

/* Fills uuid and minor from one `information` file. */
static enum jt_err parse_information(const char *text, size_t len, struct gpulist_device *d)
{
    bool have_uuid = false, have_minor = false;
    struct cursor c;
    const char *line;
    size_t n;
    cur_init(&c, text, len);
    while (cur_line(&c, &line, &n)) {
        const char *colon = memchr(line, ':', n);
        if (!colon)
            continue;
        const char *key = line, *val = colon + 1;
        size_t klen = (size_t)(colon - line), vlen = n - klen - 1;
        str_trim(&key, &klen);
        str_trim(&val, &vlen);
        if (klen == 8 && memcmp(key, "GPU UUID", 8) == 0) {
            if (vlen < 5 || vlen >= GPULIST_UUID_MAX || !has_prefix(val, vlen, "GPU-") ||
                !uuid_body_ok(val + 4, vlen - 4))
                return JT_ERR_PARSE;
            str_copy(d->uuid, sizeof d->uuid, val, vlen);
            have_uuid = true;
        } else if (klen == 12 && memcmp(key, "Device Minor", 12) == 0) {
            uint64_t m;
            if (!str_to_u64(val, vlen, &m) || m > GPULIST_INDEX_MAX)
                return JT_ERR_PARSE;
            d->minor = (uint32_t)m;
            have_minor = true;
        }
    }
    return have_uuid && have_minor ? JT_OK : JT_ERR_PARSE;
}

enum jt_err gpulist_devices_load(const char *procfs, struct gpulist_devices *out)
{
    enum jt_err ret = JT_OK;
    struct buf path, text;
    buf_init(&path, 4096);
    buf_init(&text, INFO_FILE_MAX);
    out->n = 0;
    DIR *dir = NULL;

    buf_printf(&path, "%s/driver/nvidia/gpus", procfs);
    if (path.err != JT_OK) {
        ret = path.err;
        goto out;
    }
    dir = opendir(buf_str(&path));
    if (!dir) {
        ret = JT_ERR_NOT_FOUND;
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (out->n >= GPULIST_MAX_DEVICES) {
            ret = JT_ERR_LIMIT;
            break;
        }
        struct gpulist_device *d = &out->d[out->n];
        memset(d, 0, sizeof *d);
        if (!str_copy(d->bus_id, sizeof d->bus_id, de->d_name, strlen(de->d_name))) {
            ret = JT_ERR_PARSE;
            continue;
        }
        buf_reset(&path);
        buf_printf(&path, "%s/information", de->d_name);
        buf_reset(&text);
        enum jt_err err =
            path.err != JT_OK ? path.err : file_read_at(dirfd(dir), buf_str(&path), INFO_FILE_MAX, &text);
        if (err == JT_OK)
            err = parse_information(text.data, text.len, d);
        if (err != JT_OK) {
            ret = JT_ERR_PARSE;
            continue;
        }
        out->n++;
    }
    qsort(out->d, out->n, sizeof out->d[0], device_cmp);
    for (size_t i = 0; i < out->n; i++)
        out->d[i].index = (uint32_t)i;
out:
    if (dir)
        closedir(dir);
    buf_free(&path);
    buf_free(&text);
    return ret;
}

static const struct gpulist_device *find_minor(const struct gpulist_devices *devs, uint32_t minor)
{
    for (size_t i = 0; devs && i < devs->n; i++) {
        if (devs->d[i].minor == minor)
            return &devs->d[i];
    }
    return NULL;
}

static const struct gpulist_device *find_index(const struct gpulist_devices *devs, uint32_t index)
{
    return devs && index < devs->n ? &devs->d[index] : NULL;
}

static const struct gpulist_device *find_uuid(const struct gpulist_devices *devs, const char *uuid)
{
    for (size_t i = 0; devs && i < devs->n; i++) {
        if (strcasecmp(devs->d[i].uuid, uuid) == 0)
            return &devs->d[i];
    }
    return NULL;
}

enum jt_err gpulist_resolve(const struct gpulist_entry *e, const struct gpulist_devices *devs,
                            enum gpulist_numbering numbering, struct gpulist_target *out)
{
    memset(out, 0, sizeof *out);
    out->gpu_instance = e->gpu_instance;
    const struct gpulist_device *d;

    switch (e->kind) {
    case GPULIST_INDEX:
        if (numbering == GPULIST_NUMBER_MINOR) {
            d = find_minor(devs, e->index);
            if (!d)
                return JT_ERR_NOT_FOUND;
        } else {
            d = find_index(devs, e->index);
        }
        out->has_index = true;
        out->index = d ? d->index : e->index;
        /* A MIG slice's own UUID is not in the driver's table, and the parent's would be wrong. */
        if (d && e->gpu_instance < 0)
            str_copy(out->uuid, sizeof out->uuid, d->uuid, strlen(d->uuid));
        return JT_OK;
    case GPULIST_GPU_UUID:
        str_copy(out->uuid, sizeof out->uuid, e->uuid, strlen(e->uuid));
        d = find_uuid(devs, e->uuid);
        if (d) {
            out->has_index = true;
            out->index = d->index;
        }
        return JT_OK;
    case GPULIST_MIG_UUID:
        if (e->parent_uuid[0]) {
            /* Old style: the name holds '/', so there is no UUID file, but it tells us GPU and GI. */
            d = find_uuid(devs, e->parent_uuid);
            if (d) {
                out->has_index = true;
                out->index = d->index;
            }
        } else {
            str_copy(out->uuid, sizeof out->uuid, e->uuid, strlen(e->uuid));
        }
        return JT_OK;
    }
    return JT_ERR_INTERNAL;
}
