/* privdrop.c - the daemon gives up root after start-up: --run-as-user, no_new_privs, no capability.
 *
 * Why two steps (privdrop.h): capabilities, the bounding set and no_new_privs are per thread, and the
 * daemon's threads (HTTP, collectors, NVML's event thread) start inside scheduler_start and http_start.
 * What is per thread is therefore set before the first thread exists and inherited; what has to wait
 * until root's work is done (binding the port, opening NVML's device nodes, the accounting socket) is a
 * uid change, which glibc applies to every thread and which makes the kernel clear every thread's
 * capabilities. The uid-0 mode (Kubernetes with -k: the kubelet's socket is root's, mode 0600 under a
 * 0700 directory) drops its capabilities early, as uid 0 without them still owns root's files.
 *
 * Supplementary groups: none, except the groups of the GPU device nodes (<devfs>/nvidia*) where those are
 * not open to everybody (NVreg_DeviceFileMode=0660 with a video group): NVML opens them again when a lost
 * GPU returns.
 */
#include "exporter/privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strparse.h"
#include "exporter/http.h"
#include "exporter/webconfig.h"

/* Sets this thread's permitted, effective and inheritable sets to `keep` (a mask of capability numbers
 * below 32, 0 = none). glibc has no wrapper and libcap would be a dependency for one call. */
static int caps_set(unsigned keep)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    d[0].permitted = d[0].effective = keep;
    return (int)syscall(SYS_capset, &h, d);
}

/* Empties the bounding set (needs CAP_SETPCAP: a no-op for a root daemon started without it, whose
 * bounding set its starter chose) and the ambient set. */
static void bounding_clear(void)
{
    for (int c = 0; c <= 63; c++) {
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
            break; /* EPERM: not ours to drop; EINVAL: past the kernel's last capability */
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

/* Adds the group of each <devfs>/nvidia* node that is group- but not world-accessible. */
static void device_groups(const struct exporter_config *cfg, struct privdrop *pd)
{
    DIR *d = opendir(cfg->path_devfs);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "nvidia", 6) != 0)
            continue;
        char path[512];
        struct stat st;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", cfg->path_devfs, de->d_name) >= sizeof path ||
            stat(path, &st) != 0 || S_ISDIR(st.st_mode))
            continue;
        if ((st.st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH) || !(st.st_mode & S_IRGRP) ||
            st.st_gid == 0 || st.st_gid == pd->gid)
            continue;
        bool have = false;
        for (int i = 0; i < pd->ngroups; i++)
            have = have || pd->groups[i] == st.st_gid;
        if (!have && pd->ngroups < PRIVDROP_MAX_GROUPS)
            pd->groups[pd->ngroups++] = st.st_gid;
    }
    closedir(d);
}

/* The listening port is below 1024 (binding it needs CAP_NET_BIND_SERVICE). */
static bool privileged_port(const struct exporter_config *cfg)
{
    char host[256], port[16];
    uint64_t p = 0;
    if (http_split_address(cfg->listen_address, host, sizeof host, port, sizeof port) != JT_OK)
        return false; /* http_start says why */
    return str_to_u64(port, strlen(port), &p) && p > 0 && p < 1024;
}

/* Resolves --run-as-user: a name, or a number without a passwd entry (gid = the same number). */
static enum jt_err resolve_user(const char *name, struct privdrop *pd, bool must_exist)
{
    struct passwd *pw = getpwnam(name);
    uint64_t n;
    if (pw) {
        pd->uid = pw->pw_uid;
        pd->gid = pw->pw_gid;
    } else if (str_to_u64(name, strlen(name), &n) && n < 0xffffffffu) {
        pw = getpwuid((uid_t)n);
        pd->uid = (uid_t)n;
        pd->gid = pw ? pw->pw_gid : (gid_t)n;
    } else {
        if (must_exist)
            log_error("--run-as-user: no user '%s'", name);
        return JT_ERR_NOT_FOUND;
    }
    snprintf(pd->user, sizeof pd->user, "%s", pw ? pw->pw_name : name);
    return JT_OK;
}

enum jt_err privdrop_early(const struct exporter_config *cfg, struct privdrop *pd)
{
    memset(pd, 0, sizeof *pd);
    const char *want = cfg->run_as_user;
    bool root = geteuid() == 0;
    if (want && (strcmp(want, "root") == 0 || strcmp(want, "0") == 0)) {
        pd->mode = PRIV_KEEP;
        if (root)
            log_warn("--run-as-user=root: staying root with every capability the daemon was started with");
        return JT_OK;
    }
    if (!root) {
        pd->mode = PRIV_UNPRIVILEGED;
        if (want && *want) {
            if (resolve_user(want, pd, true) != JT_OK)
                return JT_ERR_USAGE;
            if (pd->uid != getuid()) {
                log_error("--run-as-user=%s: only a daemon started as root can switch users (running as uid %u)",
                          want, (unsigned)getuid());
                return JT_ERR_USAGE;
            }
        }
        /* The capabilities a unit gave this user on purpose (AmbientCapabilities=CAP_SYS_ADMIN for
         * profiling, docs/deployment.md) are its starter's choice: kept. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            log_warn("cannot set no_new_privs: %s", strerror(errno));
        return JT_OK;
    }
    if (want && *want) {
        if (resolve_user(want, pd, true) != JT_OK)
            return JT_ERR_USAGE;
        pd->mode = pd->uid == 0 ? PRIV_ROOTLESS : PRIV_SWITCH;
    } else {
        /* No user named: uid 0 without any capability. Switching by default would break whoever started
         * us as root for root's files (the kubelet's socket, a root-only state directory), and a user
         * switch is the admin's choice (--run-as-user=jobtel; the shipped unit starts us as jobtel). */
        pd->mode = PRIV_ROOTLESS;
    }
    if (pd->mode == PRIV_SWITCH) {
        device_groups(cfg, pd);
        if (cfg->kubernetes)
            log_warn("--run-as-user=%s with the Kubernetes collector: the kubelet's socket is usually root's "
                     "alone (docs/security.md)", pd->user);
    }
    bounding_clear();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        log_error("cannot set no_new_privs: %s", strerror(errno));
        return JT_ERR_PERMISSION;
    }
    if (pd->mode == PRIV_ROOTLESS) {
        if (privileged_port(cfg)) {
            log_error("port of --web.listen-address '%s' is below 1024: uid 0 without capabilities cannot bind "
                      "it (use a port >= 1024, or --run-as-user=root)", cfg->listen_address);
            return JT_ERR_USAGE;
        }
        gid_t none = 0;
        if (setgroups(0, &none) != 0 && errno != EPERM) {
            log_error("cannot clear the supplementary groups: %s", strerror(errno));
            return JT_ERR_PERMISSION;
        }
        if (caps_set(0) != 0) {
            log_error("cannot drop the capabilities: %s", strerror(errno));
            return JT_ERR_PERMISSION;
        }
        log_info("running as uid 0 without capabilities (no_new_privs set)");
    }
    return JT_OK;
}

/* After the switch: warns about what the new user cannot do later (reading the web config and the TLS
 * files again on SIGHUP, writing the accounting state, reaching the kubelet). */
static void check_access(const struct exporter_config *cfg, const struct privdrop *pd)
{
    if (cfg->web_config_file) {
        struct webconfig *wc = NULL;
        struct webconfig_tls *tls = NULL;
        char err[512] = "";
        if (webconfig_load(cfg->web_config_file, &wc, err, sizeof err) != JT_OK ||
            webconfig_tls_load(wc, &tls, err, sizeof err) != JT_OK)
            log_warn("as user %s the web config cannot be read again (SIGHUP will keep the current one): %s",
                     pd->user, err);
        webconfig_tls_free(tls);
        webconfig_free(wc);
    }
    if (cfg->gpu_accounting && cfg->accounting_path && *cfg->accounting_path &&
        access(cfg->accounting_path, W_OK | X_OK) != 0)
        log_warn("as user %s the accounting state directory %s is not writable (%s): job totals will not be "
                 "kept across restarts; give it to the user (tmpfiles.d, docs/security.md)", pd->user,
                 cfg->accounting_path, strerror(errno));
    if (cfg->kubernetes && access(cfg->pod_resources_socket, W_OK) != 0)
        log_warn("as user %s the kubelet socket %s cannot be reached (%s)", pd->user, cfg->pod_resources_socket,
                 strerror(errno));
}

enum jt_err privdrop_late(const struct exporter_config *cfg, const struct privdrop *pd)
{
    if (pd->mode != PRIV_SWITCH)
        return JT_OK;
    /* Groups first: once the uid is not 0 there is no CAP_SETGID left to change them. */
    if (setgroups((size_t)pd->ngroups, pd->groups) != 0 || setresgid(pd->gid, pd->gid, pd->gid) != 0 ||
        setresuid(pd->uid, pd->uid, pd->uid) != 0) {
        log_error("cannot switch to user %s (uid %u, gid %u): %s", pd->user, (unsigned)pd->uid, (unsigned)pd->gid,
                  strerror(errno));
        return JT_ERR_PERMISSION;
    }
    /* The kernel cleared the capabilities with the uid; this thread's are emptied again all the same, and
     * root must now be out of reach. */
    (void)caps_set(0);
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) != 0 || r != pd->uid || e != pd->uid || s != pd->uid || setuid(0) == 0) {
        log_error("the switch to user %s did not hold", pd->user);
        return JT_ERR_PERMISSION;
    }
    char groups[PRIVDROP_MAX_GROUPS * 12 + 1] = "";
    size_t off = 0;
    for (int i = 0; i < pd->ngroups && off < sizeof groups; i++)
        off += (size_t)snprintf(groups + off, sizeof groups - off, "%s%u", i ? "," : "", (unsigned)pd->groups[i]);
    log_info("now running as user %s (uid %u, gid %u, supplementary groups: %s), without capabilities", pd->user,
             (unsigned)pd->uid, (unsigned)pd->gid, pd->ngroups ? groups : "none");
    check_access(cfg, pd);
    return JT_OK;
}
