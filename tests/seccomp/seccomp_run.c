/* seccomp_run.c - runs a program under an OCI / Kubernetes seccomp profile (JSON), as a container runtime
 * would, and reports each syscall the profile does not allow.
 *
 * Usage: seccomp_run [--mode=notify|profile|kill] [--drop-caps] [--allow=NAME,...] [--report=FILE] PROFILE.json --
 *        PROG ARGS...
 *
 * The profile is loaded into a libseccomp filter: every name of an SCMP_ACT_ALLOW rule is allowed,
 * SCMP_ACT_ERRNO rules fail with their errnoRet. What is not listed takes the default action, which is:
 *   notify  (default) the filter hands the call to this process (seccomp user notification), which counts it
 *           by name and makes it fail with EPERM, as the profile's own SCMP_ACT_ERRNO default would; the
 *           program goes on, and the report names every syscall it was refused;
 *   profile the profile's defaultAction itself (what the kubelet would load);
 *   kill    SCMP_ACT_KILL_PROCESS.
 * The filter is loaded in a child, after no_new_privs, right before it execs PROG (as runc does), so the
 * child's own last steps (a write, a read, execve) must be in the profile too, as they must for a runtime.
 * The listener is carried to this process with pidfd_getfd, so the harness adds no rule of its own.
 * --drop-caps empties the capability bounding and ambient sets first, as `capabilities: drop: [ALL]` makes
 * the runtime do: PROG then runs as uid 0 without any capability.
 *
 * Exit status: PROG's (128 + signal if it was killed); 125 for a harness error. The report (stderr without
 * --report) has "pid N" first, then "denied NAME COUNT" lines and "denied-total N".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_DENIED 512

enum mode { MODE_NOTIFY, MODE_PROFILE, MODE_KILL };

struct denied {
    int nr;
    unsigned long count;
};

static struct denied g_denied[MAX_DENIED];
static size_t g_ndenied;
static unsigned long g_total;
static FILE *g_report;

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "seccomp_run: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(125);
}

/* "SCMP_ACT_ERRNO" and friends -> libseccomp action; errno_ret for ERRNO. */
static int action_of(const char *name, unsigned errno_ret, uint32_t *out)
{
    if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
        *out = SCMP_ACT_ALLOW;
    else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
        *out = SCMP_ACT_ERRNO(errno_ret);
    else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
        *out = SCMP_ACT_KILL;
    else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
        *out = SCMP_ACT_KILL_PROCESS;
    else if (strcmp(name, "SCMP_ACT_LOG") == 0)
        *out = SCMP_ACT_LOG;
    else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
        *out = SCMP_ACT_TRAP;
    else
        return -1;
    return 0;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token for it (0 if unknown). */
static uint32_t arch_of(const char *name)
{
    static const struct { const char *oci, *lib; } map[] = {
        {"SCMP_ARCH_X86_64", "x86_64"}, {"SCMP_ARCH_X86", "x86"},         {"SCMP_ARCH_X32", "x32"},
        {"SCMP_ARCH_AARCH64", "aarch64"}, {"SCMP_ARCH_ARM", "arm"},       {"SCMP_ARCH_PPC64LE", "ppc64le"},
        {"SCMP_ARCH_S390X", "s390x"},   {"SCMP_ARCH_RISCV64", "riscv64"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(name, map[i].oci) == 0)
            return seccomp_arch_resolve_name(map[i].lib);
    }
    return 0;
}

static void add_rule(scmp_filter_ctx ctx, const char *name, uint32_t act)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
        fprintf(stderr, "seccomp_run: note: %s is not a syscall libseccomp knows here: skipped (as runc does)\n", name);
        return;
    }
    int rc = seccomp_rule_add(ctx, act, nr, 0);
    if (rc != 0 && rc != -EEXIST)
        die("cannot add a rule for %s", name);
}

static scmp_filter_ctx build(const char *path, enum mode mode, const char *extra)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root || !json_is_object(root))
        die("cannot read the profile %s", path);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "defaultAction") && strcmp(key, "defaultErrnoRet") && strcmp(key, "architectures") &&
            strcmp(key, "syscalls") && strcmp(key, "comment") && strcmp(key, "flags"))
            die("profile key %s is not supported by this harness", key);
    }
    unsigned def_errno = (unsigned)json_integer_value(json_object_get(root, "defaultErrnoRet"));
    if (!def_errno)
        def_errno = EPERM;
    uint32_t def;
    const char *defname = json_string_value(json_object_get(root, "defaultAction"));
    if (!defname || action_of(defname, def_errno, &def) != 0)
        die("bad defaultAction in %s", path);
    if (mode == MODE_NOTIFY)
        def = SCMP_ACT_NOTIFY;
    else if (mode == MODE_KILL)
        def = SCMP_ACT_KILL_PROCESS;
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx)
        die("seccomp_init failed%s", "");
    json_t *archs = json_object_get(root, "architectures");
    bool native = false;
    size_t i;
    json_array_foreach(archs, i, v) {
        uint32_t a = json_is_string(v) ? arch_of(json_string_value(v)) : 0;
        if (!a)
            die("unknown architecture %s", json_is_string(v) ? json_string_value(v) : "?");
        native = native || a == seccomp_arch_native();
        if (a != seccomp_arch_native() && seccomp_arch_add(ctx, a) != 0 && errno != EEXIST)
            fprintf(stderr, "seccomp_run: note: architecture %s not added\n", json_string_value(v));
    }
    if (!native)
        die("the profile does not list this machine's architecture%s", "");
    json_t *rules = json_object_get(root, "syscalls");
    if (!json_is_array(rules))
        die("no syscalls array in %s", path);
    json_array_foreach(rules, i, v) {
        json_t *rv;
        json_object_foreach(v, key, rv) {
            (void)rv;
            if (strcmp(key, "names") && strcmp(key, "action") && strcmp(key, "errnoRet") && strcmp(key, "comment"))
                die("syscall rule key %s is not supported by this harness (no argument filters)", key);
        }
        uint32_t act;
        unsigned eret = (unsigned)json_integer_value(json_object_get(v, "errnoRet"));
        const char *an = json_string_value(json_object_get(v, "action"));
        if (!an || action_of(an, eret ? eret : EPERM, &act) != 0)
            die("bad action in a syscall rule of %s", path);
        size_t k;
        json_t *n;
        json_array_foreach(json_object_get(v, "names"), k, n) {
            if (!json_is_string(n))
                die("a syscall name is not a string in %s", path);
            add_rule(ctx, json_string_value(n), act);
        }
    }
    /* --allow: what the test adds on purpose (a sanitizer runtime's own calls), never silently. */
    for (const char *p = extra; p && *p;) {
        size_t n = strcspn(p, ",");
        char name[64];
        if (n > 0 && n < sizeof name) {
            memcpy(name, p, n);
            name[n] = '\0';
            add_rule(ctx, name, SCMP_ACT_ALLOW);
        }
        p += n + (p[n] == ',');
    }
    json_decref(root);
    return ctx;
}

static void count(int nr)
{
    g_total++;
    for (size_t i = 0; i < g_ndenied; i++) {
        if (g_denied[i].nr == nr) {
            g_denied[i].count++;
            return;
        }
    }
    if (g_ndenied < MAX_DENIED) {
        g_denied[g_ndenied].nr = nr;
        g_denied[g_ndenied].count = 1;
        g_ndenied++;
    }
}

/* Answers every notification with EPERM until the child is gone; returns its wait status. */
static int supervise(pid_t child, int nfd)
{
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    if (nfd >= 0 && seccomp_notify_alloc(&req, &resp) != 0)
        die("seccomp_notify_alloc failed%s", "");
    int status = 0;
    for (;;) {
        if (nfd >= 0) {
            struct pollfd pfd = {.fd = nfd, .events = POLLIN};
            int n = poll(&pfd, 1, 100);
            if (n > 0 && (pfd.revents & POLLIN)) {
                memset(req, 0, sizeof *req);
                if (seccomp_notify_receive(nfd, req) == 0) {
                    count(req->data.nr);
                    char *name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
                    fprintf(stderr, "seccomp_run: refused %s (pid %u)\n", name ? name : "?", req->pid);
                    free(name);
                    memset(resp, 0, sizeof *resp);
                    resp->id = req->id;
                    resp->error = -EPERM;
                    (void)seccomp_notify_respond(nfd, resp); /* ENOENT: the thread is gone */
                }
                continue;
            }
        }
        pid_t w = waitpid(child, &status, nfd >= 0 ? WNOHANG : 0);
        if (w == child)
            break;
        if (w < 0 && errno != EINTR)
            die("waitpid failed%s", "");
    }
    seccomp_notify_free(req, resp);
    return status;
}

int main(int argc, char **argv)
{
    enum mode mode = MODE_NOTIFY;
    const char *report = NULL, *extra = NULL;
    bool drop_caps = false;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--mode=notify") == 0)
            mode = MODE_NOTIFY;
        else if (strcmp(argv[i], "--mode=profile") == 0)
            mode = MODE_PROFILE;
        else if (strcmp(argv[i], "--mode=kill") == 0)
            mode = MODE_KILL;
        else if (strcmp(argv[i], "--drop-caps") == 0)
            drop_caps = true;
        else if (strncmp(argv[i], "--report=", 9) == 0)
            report = argv[i] + 9;
        else if (strncmp(argv[i], "--allow=", 8) == 0)
            extra = argv[i] + 8;
        else
            die("unknown option %s", argv[i]);
    }
    if (i + 2 >= argc || strcmp(argv[i + 1], "--") != 0)
        die("usage: seccomp_run [--mode=notify|profile|kill] [--allow=LIST] [--report=FILE] PROFILE -- PROG ARGS...%s", "");
    const char *profile = argv[i];
    char **prog = argv + i + 2;
    scmp_filter_ctx ctx = build(profile, mode, extra);
    g_report = report ? fopen(report, "w") : stderr;
    if (!g_report)
        die("cannot write %s", report);
    setvbuf(g_report, NULL, _IOLBF, 0);

    int up[2], down[2]; /* child -> parent: the listener's number; parent -> child: go */
    if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0)
        die("pipe failed%s", "");
    pid_t child = fork();
    if (child < 0)
        die("fork failed%s", "");
    if (child == 0) {
        for (int c = 0; drop_caps && c <= 63; c++) {
            if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
                _exit(125);
        }
        if (drop_caps)
            (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp_load(ctx) != 0)
            _exit(125);
        int nfd = mode == MODE_NOTIFY ? seccomp_notify_fd(ctx) : -1;
        char go;
        if (write(up[1], &nfd, sizeof nfd) != (ssize_t)sizeof nfd || read(down[0], &go, 1) != 1)
            _exit(125);
        execvp(prog[0], prog);
        _exit(127);
    }
    close(up[1]);
    close(down[0]);
    int cfd = -1, nfd = -1;
    if (read(up[0], &cfd, sizeof cfd) != (ssize_t)sizeof cfd) {
        int st;
        waitpid(child, &st, 0);
        die("the child could not load the filter%s", "");
    }
    if (mode == MODE_NOTIFY) {
        int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
        nfd = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, cfd, 0) : -1;
        if (nfd < 0)
            die("cannot take the child's seccomp listener: %s", strerror(errno));
        close(pidfd);
    }
    fprintf(g_report, "pid %d\n", (int)child);
    if (write(down[1], "g", 1) != 1)
        die("cannot start the child%s", "");
    close(down[1]);
    int status = supervise(child, nfd);
    for (size_t k = 0; k < g_ndenied; k++) {
        char *name = seccomp_syscall_resolve_num_arch(seccomp_arch_native(), g_denied[k].nr);
        fprintf(g_report, "denied %s %lu\n", name ? name : "?", g_denied[k].count);
        free(name);
    }
    fprintf(g_report, "denied-total %lu\n", g_total);
    if (WIFSIGNALED(status))
        fprintf(g_report, "signal %d\n", WTERMSIG(status));
    else
        fprintf(g_report, "exit %d\n", WEXITSTATUS(status));
    seccomp_release(ctx);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
