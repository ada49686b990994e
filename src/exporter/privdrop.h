/* privdrop.h - the daemon gives up root after start-up (--run-as-user).
 *
 * Two steps, because capabilities and no_new_privs belong to each thread while set*id() reaches every
 * thread (glibc runs it in all of them, and the kernel clears a thread's capabilities when its uids all
 * leave 0): privdrop_early runs before the first thread exists, privdrop_late once the port is bound,
 * NVML is open and the accounting socket listens. See docs/security.md for what each mode keeps.
 */
#ifndef JOBTEL_PRIVDROP_H
#define JOBTEL_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "exporter/config.h"

#define PRIVDROP_MAX_GROUPS 8

enum privdrop_mode {
    PRIV_UNPRIVILEGED, /* not started as root: no_new_privs; capabilities its starter gave it are kept */
    PRIV_SWITCH,       /* root at start: becomes uid/gid below after start-up, no capability left */
    PRIV_ROOTLESS,     /* stays uid 0 (the kubelet's root-only socket) without any capability */
    PRIV_KEEP,         /* --run-as-user=root: stays root with its capabilities (profiling needs) */
};

struct privdrop {
    enum privdrop_mode mode;
    uid_t uid;
    gid_t gid;
    char user[64];
    gid_t groups[PRIVDROP_MAX_GROUPS]; /* supplementary groups kept: those of the GPU device nodes */
    int ngroups;
};

/* Decides the mode from --run-as-user (cfg->run_as_user) and whether we are root, then, before any thread
 * starts: sets no_new_privs, empties the
 * bounding and ambient sets, and in PRIV_ROOTLESS also the supplementary groups and every capability.
 * JT_ERR_USAGE (logged) for a user that does not exist or cannot be switched to. */
enum jt_err privdrop_early(const struct exporter_config *cfg, struct privdrop *pd);

/* PRIV_SWITCH: the supplementary groups, gid and uid, in every thread; then checks that root cannot be
 * regained and warns about files the new user cannot read on SIGHUP (web config, TLS key) or write
 * (accounting state). JT_ERR_PERMISSION (logged) if the switch failed: the caller must not go on. */
enum jt_err privdrop_late(const struct exporter_config *cfg, const struct privdrop *pd);

#endif
