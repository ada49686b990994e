/* doctor_checks.c - the checks of local state: NVML, mapping directories, cgroups, slurm.conf, spool.
 *
 * NVML runs in a child process under a deadline: a driver call that hangs (the failure admins most
 * need named) must not hang the doctor with it. The mapping directories are read with the exporter's
 * own reader (slurm/jobmap.c), so the doctor sees exactly what the exporter sees; "fresh" means every
 * job they name still has a cgroup on this node, i.e. the epilog ran for the jobs that ended.
 */
#include "doctor/doctor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/strparse.h"
#include "nvml/nvml_loader.h"
#include "slurm/cgpath.h"
#include "slurm/jobmap.h"

/* --- NVML ---------------------------------------------------------------------------------------- */

/* In the child: one line "status\tmessage\tfix" on fd. */
static void nvml_probe(const struct doctor_opts *o, int fd)
{
    struct nvml_lib lib;
    char why[512] = "";
    const char *libname = o->nvml_library && *o->nvml_library ? o->nvml_library : NVML_LIB_DEFAULT_SONAME;
    if (nvml_lib_open(&lib, libname, why, sizeof why) != JT_OK) {
        dprintf(fd, "%d\tcannot load %s: %s\tinstall the NVIDIA driver (nvidia-smi must work), or pass "
                    "--nvml-library=PATH if libnvidia-ml.so.1 is not on the loader path\n",
                DOCTOR_FAIL, libname, why);
        return;
    }
    nvmlReturn_t r = lib.Init();
    if (r != NVML_SUCCESS) {
        dprintf(fd, "%d\t%s loaded but nvmlInit failed: %s\tcheck the kernel module (lsmod | grep nvidia, "
                    "dmesg); the library and module versions must match (reboot after a driver update)\n",
                DOCTOR_FAIL, lib.path, nvml_lib_strerror(&lib, r));
        nvml_lib_close(&lib);
        return;
    }
    char driver[96] = "unknown";
    if (lib.SystemGetDriverVersion && lib.SystemGetDriverVersion(driver, sizeof driver) != NVML_SUCCESS)
        snprintf(driver, sizeof driver, "unknown");
    unsigned count = 0;
    r = lib.DeviceGetCount(&count);
    if (r != NVML_SUCCESS)
        dprintf(fd, "%d\tdriver %s: nvmlDeviceGetCount failed: %s\trun nvidia-smi; check dmesg for XID errors\n",
                DOCTOR_FAIL, driver, nvml_lib_strerror(&lib, r));
    else if (count == 0)
        dprintf(fd, "%d\tdriver %s sees no GPU\tcheck lspci | grep -i nvidia and dmesg; a GPU node with no GPU "
                    "needs the driver reloaded or a reboot\n", DOCTOR_FAIL, driver);
    else {
        unsigned lost = 0;
        for (unsigned i = 0; i < count; i++) {
            nvmlDevice_t dev;
            if (lib.DeviceGetHandleByIndex(i, &dev) == NVML_ERROR_GPU_IS_LOST)
                lost++;
        }
        if (lost)
            dprintf(fd, "%d\tdriver %s: %u GPU(s), %u lost (fell off the bus)\tdrain the node; a GPU reset or "
                        "reboot is needed (dmesg shows XID 79)\n", DOCTOR_FAIL, driver, count, lost);
        else
            dprintf(fd, "%d\tdriver %s, %u GPU(s), library %s\t\n", DOCTOR_OK, driver, count, lib.path);
    }
    lib.Shutdown();
    nvml_lib_close(&lib);
}

void doctor_check_nvml(const struct doctor_opts *o, struct doctor_report *rep)
{
    int p[2];
    if (pipe(p) != 0) {
        doctor_add(rep, "nvml", DOCTOR_FAIL, NULL, "pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        doctor_add(rep, "nvml", DOCTOR_FAIL, NULL, "fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        close(p[0]);
        nvml_probe(o, p[1]);
        _exit(0);
    }
    close(p[1]);
    char line[2048];
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool timed_out = false;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = o->timeout_s - ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9);
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        int n = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        ssize_t got = read(p[0], line + len, sizeof line - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || (len += (size_t)got) == sizeof line - 1)
            break;
    }
    close(p[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    line[len] = '\0';
    if (timed_out) {
        doctor_add(rep, "nvml", DOCTOR_FAIL,
                   "a driver call is hung: check dmesg for XID errors and nvidia-smi (it will hang too); reset the "
                   "GPU or reboot the node",
                   "NVML did not answer within %.0f s", o->timeout_s);
        return;
    }
    char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
    if (!tab1 || !tab2) {
        doctor_add(rep, "nvml", DOCTOR_FAIL, "run nvidia-smi; check dmesg",
                   "the NVML probe died (%s %d)", WIFSIGNALED(ws) ? "signal" : "exit status",
                   WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
        return;
    }
    *tab1 = *tab2 = '\0';
    char *nl = strchr(tab2 + 1, '\n');
    if (nl)
        *nl = '\0';
    enum doctor_status st = line[0] == '0' + DOCTOR_OK ? DOCTOR_OK : DOCTOR_FAIL;
    doctor_add(rep, "nvml", st, tab2[1] ? tab2 + 1 : NULL, "%s", tab1 + 1);
}

/* --- cgroups --------------------------------------------------------------------------------------- */

/* Job ids with a Slurm cgroup under root (v1: <ctrl>/slurm[_node]/uid_U/job_J; v2: ...slurmstepd.scope/job_J),
 * found by a walk bounded in depth. Sets *layout to "v1"/"v2"; returns the number of Slurm roots seen. */
struct jobset {
    char ids[512][24];
    size_t n;
};

static void jobset_add(struct jobset *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return;
    if (s->n < sizeof s->ids / sizeof s->ids[0])
        str_copy(s->ids[s->n++], sizeof s->ids[0], id, strlen(id));
}

static bool jobset_has(const struct jobset *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return true;
    return false;
}

/* Names are judged by slurm/cgpath.h, the parser the cgroup collector and attribution use, so the
 * doctor and the exporter cannot disagree on what a Slurm job cgroup is. v1 jobs sit below a uid_U
 * directory of a slurm[_node] base; v2 jobs directly below a [node_]slurmstepd.scope. */
enum walk_level { W_ABOVE, W_V1_BASE, W_V1_UID, W_V2_SCOPE };

static void walk(const char *path, int depth, enum walk_level lvl, struct jobset *jobs, unsigned *roots)
{
    if (depth > 4)
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
            continue;
        const char *name = e->d_name, *id;
        size_t n = strlen(name), idlen;
        char sub[4096];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, name) >= sizeof sub)
            continue;
        char jid[CGPATH_JOBID_SIZE];
        switch (lvl) {
        case W_ABOVE:
            if (cgpath_is_v1_base(name, n)) {
                (*roots)++;
                walk(sub, depth + 1, W_V1_BASE, jobs, roots);
            } else if (cgpath_is_scope(name, n)) {
                (*roots)++;
                walk(sub, depth + 1, W_V2_SCOPE, jobs, roots);
            } else if (depth < 2) {
                walk(sub, depth + 1, W_ABOVE, jobs, roots); /* system.slice and the like */
            }
            break;
        case W_V1_BASE:
            if (cgpath_is_uid(name, n, NULL))
                walk(sub, depth + 1, W_V1_UID, jobs, roots);
            break;
        case W_V1_UID:
        case W_V2_SCOPE:
            if ((lvl == W_V1_UID ? cgpath_is_job_v1 : cgpath_is_job_v2)(name, n, &id, &idlen) &&
                str_copy(jid, sizeof jid, id, idlen))
                jobset_add(jobs, jid);
            break;
        }
    }
    closedir(d);
}

/* Returns "v1", "v2" or NULL when root is not a cgroup mount. */
static const char *cgroup_layout(const char *root, struct jobset *jobs, unsigned *roots, int *err)
{
    char p[4096];
    struct stat st;
    *roots = 0;
    *err = 0;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *err = errno ? errno : ENOTDIR;
        return NULL;
    }
    snprintf(p, sizeof p, "%s/cgroup.controllers", root);
    if (access(p, F_OK) == 0) {
        walk(root, 0, W_ABOVE, jobs, roots);
        return "v2";
    }
    static const char *const ctrls[] = {"memory", "cpuacct", "cpu,cpuacct", "cpuset"};
    bool any = false;
    for (size_t i = 0; i < sizeof ctrls / sizeof ctrls[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, ctrls[i]);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            any = true;
            walk(p, 1, W_ABOVE, jobs, roots);
        }
    }
    return any ? "v1" : NULL;
}

void doctor_check_cgroup(const struct doctor_opts *o, struct doctor_report *rep)
{
    struct jobset *jobs = calloc(1, sizeof *jobs);
    if (!jobs) {
        doctor_add(rep, "cgroup", DOCTOR_FAIL, NULL, "out of memory");
        return;
    }
    unsigned roots;
    int err;
    const char *layout = cgroup_layout(o->cgroupfs, jobs, &roots, &err);
    if (!layout)
        doctor_add(rep, "cgroup", DOCTOR_FAIL, "mount cgroupfs, or pass --path.cgroupfs (the exporter's flag of that name)",
                   "%s is not a cgroup v1 or v2 mount%s%s", o->cgroupfs, err ? ": " : "", err ? strerror(err) : "");
    else if (roots == 0)
        doctor_add(rep, "cgroup", DOCTOR_WARN,
                   "normal before the first job; otherwise set ProctrackType=proctrack/cgroup and TaskPlugin=task/cgroup in slurm.conf",
                   "cgroup %s at %s, no Slurm cgroup yet", layout, o->cgroupfs);
    else
        doctor_add(rep, "cgroup", DOCTOR_OK, NULL, "cgroup %s at %s, %zu Slurm job(s)", layout, o->cgroupfs, jobs->n);
    free(jobs);
}

/* --- mapping directories ----------------------------------------------------------------------------- */

/* Appends a problem with one directory to msg and its fix to fix. Returns DOCTOR_OK, DOCTOR_WARN for a
 * directory that is absent on a node with no Slurm job yet (the prolog creates it at the first GPU job:
 * the exporter reports jobtel_gpu_job_mapping_dir_state{state="absent"} and nothing alerts), or
 * DOCTOR_FAIL: absent while jobs run, unreadable (not a directory, not listable by the exporter's user),
 * unsafe, malformed or stale. */
static enum doctor_status check_one_dir(const char *dir, enum jobmap_format fmt, const struct jobset *jobs,
                                        bool have_jobs, struct buf *msg, struct buf *fix)
{
    const char *what = fmt == JOBMAP_HPC ? "hpc" : "gpustat";
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT && !have_jobs) {
            buf_printf(msg, "%s%s dir %s absent: normal before the first GPU job after boot", msg->len ? "; " : "",
                       what, dir);
            buf_printf(fix, "%sthe prolog creates %s at the first GPU job: check slurm.conf Prolog runs "
                            "`jobtel prolog` (docs/slurm.md)", fix->len ? "; " : "", dir);
            return DOCTOR_WARN;
        }
        buf_printf(msg, "%s%s dir %s: %s", msg->len ? "; " : "", what, dir, strerror(errno));
        buf_printf(fix, "%sthe prolog creates %s at the first GPU job after boot: check slurm.conf Prolog runs "
                        "`jobtel prolog` (docs/slurm.md), or `install -d -m 0755 %s`",
                   fix->len ? "; " : "", dir, dir);
        return DOCTOR_FAIL;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
        buf_printf(msg, "%s%s dir %s: %s (owner uid %u, mode %04o)", msg->len ? "; " : "", what, dir,
                   !S_ISDIR(st.st_mode) ? "not a directory: unreadable for the exporter"
                                        : "must be owned by root and not group/world-writable",
                   (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        buf_printf(fix, "%schown root:root %s && chmod 0755 %s (the prolog refuses it otherwise)", fix->len ? "; " : "",
                   dir, dir);
        return DOCTOR_FAIL;
    }
    /* The doctor runs as root and reads anything; the exporter's unit runs as user jobtel. */
    if ((st.st_mode & 05) != 05) {
        buf_printf(msg, "%s%s dir %s unreadable by the exporter's user (mode %04o)", msg->len ? "; " : "", what, dir,
                   (unsigned)(st.st_mode & 07777));
        buf_printf(fix, "%schmod 0755 %s", fix->len ? "; " : "", dir);
        return DOCTOR_FAIL;
    }
    struct jobmap m = {0};
    enum jt_err rc = jobmap_read_dir(dir, fmt, &m);
    enum doctor_status ok = DOCTOR_OK;
    if (rc != JT_OK) {
        buf_printf(msg, "%s%s dir %s unreadable: %s", msg->len ? "; " : "", what, dir, jt_strerror(rc));
        buf_printf(fix, "%smake %s readable by the exporter's user", fix->len ? "; " : "", dir);
        ok = DOCTOR_FAIL;
    } else if (m.stats.malformed) {
        buf_printf(msg, "%s%s dir %s: %u malformed file(s), first %s", msg->len ? "; " : "", what, dir,
                   m.stats.malformed, m.stats.first_malformed);
        buf_printf(fix, "%sremove %s/%s (only jobtel prolog/epilog should write there)", fix->len ? "; " : "", dir,
                   m.stats.first_malformed);
        ok = DOCTOR_FAIL;
    } else if (have_jobs) {
        for (size_t i = 0; i < m.njobs; i++) {
            char id[24];
            snprintf(id, sizeof id, "%llu", (unsigned long long)m.jobs[i].jobid);
            if (!jobset_has(jobs, id)) {
                buf_printf(msg, "%s%s dir %s names job %s, which has no cgroup here (stale)", msg->len ? "; " : "",
                           what, dir, id);
                buf_printf(fix, "%sthe epilog did not run for job %s: check slurm.conf Epilog; "
                                "`SLURM_JOB_ID=%s jobtel epilog` removes it", fix->len ? "; " : "", id, id);
                ok = DOCTOR_FAIL;
                break;
            }
        }
    }
    jobmap_free(&m);
    return ok;
}

static enum doctor_status worst(enum doctor_status a, enum doctor_status b)
{
    return a > b ? a : b;
}

void doctor_check_mapping(const struct doctor_opts *o, struct doctor_report *rep)
{
    struct buf msg, fix;
    buf_init(&msg, 4096);
    buf_init(&fix, 4096);
    struct jobset *jobs = calloc(1, sizeof *jobs);
    unsigned roots = 0;
    int err;
    bool have_jobs = jobs && cgroup_layout(o->cgroupfs, jobs, &roots, &err) && roots > 0;
    enum doctor_status st = DOCTOR_OK;
    int ndirs = 0;
    if (o->hpc_dir && *o->hpc_dir) {
        ndirs++;
        st = worst(st, check_one_dir(o->hpc_dir, JOBMAP_HPC, jobs, have_jobs, &msg, &fix));
    }
    if (o->gpustat_dir && *o->gpustat_dir) {
        ndirs++;
        st = worst(st, check_one_dir(o->gpustat_dir, JOBMAP_GPUSTAT, jobs, have_jobs, &msg, &fix));
    }
    if (ndirs == 0)
        doctor_add(rep, "mapping-dirs", DOCTOR_WARN, "pass --hpc-job-mapping-dir or --slurm.gpustat-dir",
                   "no mapping directory configured: GPUs get no job labels");
    else if (st == DOCTOR_OK)
        doctor_add(rep, "mapping-dirs", DOCTOR_OK, NULL, "%s%s%s: present, root-owned, readable%s",
                   o->hpc_dir && *o->hpc_dir ? o->hpc_dir : "",
                   o->hpc_dir && *o->hpc_dir && o->gpustat_dir && *o->gpustat_dir ? ", " : "",
                   o->gpustat_dir && *o->gpustat_dir ? o->gpustat_dir : "",
                   have_jobs ? ", every job named has a cgroup" : "");
    else
        doctor_add(rep, "mapping-dirs", st, buf_str(&fix), "%s", buf_str(&msg));
    free(jobs);
    buf_free(&msg);
    buf_free(&fix);
}

/* --- slurm.conf -------------------------------------------------------------------------------------- */

bool doctor_slurm_conf_value(const char *text, const char *key, char *out, size_t outsz)
{
    struct cursor c;
    cur_init(&c, text, strlen(text));
    const char *line;
    size_t len;
    bool found = false;
    size_t klen = strlen(key);
    while (cur_line(&c, &line, &len)) {
        const char *hash = memchr(line, '#', len);
        if (hash)
            len = (size_t)(hash - line);
        str_trim(&line, &len);
        const char *eq = memchr(line, '=', len);
        if (!eq)
            continue;
        const char *k = line;
        size_t kl = (size_t)(eq - line);
        str_trim(&k, &kl);
        if (kl != klen || strncasecmp(k, key, klen) != 0)
            continue;
        const char *v = eq + 1;
        size_t vl = (size_t)(line + len - v);
        str_trim(&v, &vl);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v++;
            vl -= 2;
        }
        if (str_copy(out, outsz, v, vl))
            found = true;
    }
    return found;
}

/* The script's own name (60-jobtel.sh) or its text names jobtel; not the directories above it. */
static bool file_mentions_jobtel(const char *path)
{
    const char *base = strrchr(path, '/');
    if (strstr(base ? base + 1 : path, "jobtel"))
        return true;
    struct buf b;
    buf_init(&b, 1 << 20);
    bool yes = file_read(path, 1 << 20, &b) == JT_OK && strstr(buf_str(&b), "jobtel");
    buf_free(&b);
    return yes;
}

/* Whether the program(s) `value` names run jobtel: the path itself, each match of a glob (22.05+), and
 * for BCM's wrapper the scripts in its prologs/ or epilogs/ directory. -1 when nothing exists there
 * (slurmd would fail the job), 0 when what exists does not mention jobtel, 1 when it does. */
static int runs_jobtel(const char *value, const char *bcm_dir, const char *bcm_sub)
{
    glob_t g;
    int yes = -1;
    if (glob(value, 0, NULL, &g) == 0) {
        yes = 0;
        for (size_t i = 0; i < g.gl_pathc && yes != 1; i++)
            yes = file_mentions_jobtel(g.gl_pathv[i]);
        globfree(&g);
    }
    if (yes == 0 && bcm_dir && *bcm_dir && strstr(value, "/cm/")) {
        char pat[4096];
        snprintf(pat, sizeof pat, "%s/%s/*", bcm_dir, bcm_sub);
        if (glob(pat, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc && yes != 1; i++)
                yes = file_mentions_jobtel(g.gl_pathv[i]);
            globfree(&g);
        }
    }
    return yes;
}

void doctor_check_slurm_conf(const struct doctor_opts *o, struct doctor_report *rep)
{
    struct buf text, msg, fix;
    buf_init(&text, 4 << 20);
    buf_init(&msg, 2048);
    buf_init(&fix, 2048);
    enum jt_err rc = file_read(o->slurm_conf, 4 << 20, &text);
    if (rc != JT_OK) {
        doctor_add(rep, "slurm.conf", DOCTOR_FAIL, "pass --slurm-conf=PATH or set SLURM_CONF",
                   "cannot read %s: %s", o->slurm_conf, jt_strerror(rc));
        goto out;
    }
    static const struct {
        const char *key, *bcm_sub, *how;
        enum doctor_role role;
    } want[] = {
        {"Prolog", "prologs", "a wrapper that runs `jobtel prolog` (docs/slurm.md)", DOCTOR_ROLE_GPU},
        {"Epilog", "epilogs", "a wrapper that runs `jobtel epilog` (docs/slurm.md)", DOCTOR_ROLE_GPU},
        {"EpilogSlurmctld", NULL, "/usr/lib/jobtel/jobtel-epilog-slurmctld.sh (docs/jobstats.md)", DOCTOR_ROLE_CONTROLLER},
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (want[i].role != o->role)
            continue;
        char v[1024];
        int run;
        if (!doctor_slurm_conf_value(buf_str(&text), want[i].key, v, sizeof v)) {
            buf_printf(&msg, "%sno %s= line", msg.len ? "; " : "", want[i].key);
            buf_printf(&fix, "%sadd %s= pointing at %s, then scontrol reconfigure", fix.len ? "; " : "", want[i].key,
                       want[i].how);
            ok = false;
        } else if ((run = runs_jobtel(v, o->bcm_slurm_dir, want[i].bcm_sub)) != 1) {
            buf_printf(&msg, "%s%s=%s %s", msg.len ? "; " : "", want[i].key, v,
                       run < 0 ? "does not exist (slurmd fails every job)" : "does not run jobtel");
            buf_printf(&fix, "%smake %s= run %s", fix.len ? "; " : "", want[i].key, want[i].how);
            ok = false;
        } else {
            buf_printf(&msg, "%s%s=%s", msg.len ? ", " : "", want[i].key, v);
        }
    }
    if (ok)
        doctor_add(rep, "slurm.conf", DOCTOR_OK, NULL, "%s: %s", o->slurm_conf, buf_str(&msg));
    else
        doctor_add(rep, "slurm.conf", DOCTOR_FAIL, buf_str(&fix), "%s: %s", o->slurm_conf, buf_str(&msg));
out:
    buf_free(&text);
    buf_free(&msg);
    buf_free(&fix);
}

/* --- summary spool --------------------------------------------------------------------------------------- */

void doctor_check_spool(const struct doctor_opts *o, struct doctor_report *rep)
{
    DIR *d = opendir(o->spool_dir);
    if (!d) {
        if (errno == ENOENT)
            doctor_add(rep, "spool", DOCTOR_OK, NULL, "%s absent: nothing was ever spooled", o->spool_dir);
        else
            doctor_add(rep, "spool", DOCTOR_FAIL, "the summary runs as SlurmUser: chown it the spool directory",
                       "cannot list %s: %s", o->spool_dir, strerror(errno));
        return;
    }
    size_t n = 0, old = 0;
    time_t now = time(NULL);
    double oldest = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        n++;
        double age = difftime(now, st.st_mtime);
        if (age > oldest)
            oldest = age;
        if (age > o->spool_max_age_s)
            old++;
    }
    closedir(d);
    if (n == 0)
        doctor_add(rep, "spool", DOCTOR_OK, NULL, "%s empty", o->spool_dir);
    else if (old == 0)
        doctor_add(rep, "spool", DOCTOR_OK, NULL, "%s: %zu job(s) waiting, oldest %.0f s: draining", o->spool_dir, n,
                   oldest);
    else
        doctor_add(rep, "spool", DOCTOR_FAIL,
                   "the retry timer is not storing them: systemctl status jobtel-summary-retry.timer; run "
                   "`jobtel summary --retry-spool` by hand and read its errors (Prometheus, sacct, slurmdbd)",
                   "%s: %zu job(s) spooled, %zu older than %.0f s (oldest %.0f s)", o->spool_dir, n, old,
                   o->spool_max_age_s, oldest);
}
