/* job_record.c - `jobtel job-record`: the node epilog's half of a job's final accounting record. It asks
 * the local daemon over its root-only unix socket for the job's exact totals and writes them as
 * <records-dir>/<jobid>/<node>.json, where the controller's `jobtel summary --store` folds every node's
 * file into the job's summary (docs/accounting.md, "The job's final record").
 *
 * Why a directory the controller can read: the controller must not reach into GPU nodes over the
 * network, and the epilog must not talk to slurmctld; a records directory shared by the nodes and the
 * controller (the same kind of shared spool sites already keep for slurmctld's state) is the one path
 * an admin can audit with ls. Writes are atomic (temporary name, fsync, rename), so the controller
 * never reads half a record. A missing daemon or an unknown job is logged and the epilog goes on: the
 * summary then simply has no exact figures for that node.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/args.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/cli.h"
#include "common/log.h"

#define RECORD_MAX_BYTES (4u << 20)
#define RECORD_TIMEOUT_MS 3000

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
              c == '+' || c == '-'))
            return false;
    }
    return s[0] != '.';
}

/* Asks the daemon; the answer (JSON) is appended to `out`. */
static enum jt_err ask(const char *sock, const char *jobid, struct buf *out)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(sock) >= sizeof sa.sun_path)
        return JT_ERR_USAGE;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return JT_ERR_IO;
    enum jt_err rc = JT_OK;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        rc = errno == ENOENT || errno == ECONNREFUSED ? JT_ERR_NOT_FOUND : JT_ERR_IO;
        goto out;
    }
    char req[96];
    int n = snprintf(req, sizeof req, "record %s\n", jobid);
    if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        rc = JT_ERR_IO;
        goto out;
    }
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, RECORD_TIMEOUT_MS);
        if (r == 0) {
            rc = JT_ERR_TIMEOUT;
            break;
        }
        if (r < 0 && errno == EINTR)
            continue;
        char chunk[8192];
        ssize_t got = r > 0 ? recv(fd, chunk, sizeof chunk, 0) : -1;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = JT_ERR_IO;
            break;
        }
        if (got == 0)
            break;
        if (buf_append(out, chunk, (size_t)got) != JT_OK) {
            rc = JT_ERR_LIMIT;
            break;
        }
    }
    if (rc == JT_OK && (out->len == 0 || out->data[0] != '{'))
        rc = out->len >= 15 && memcmp(out->data, "error not found", 15) == 0 ? JT_ERR_NOT_FOUND : JT_ERR_PARSE;
out:
    close(fd);
    return rc;
}

static enum jt_err write_atomic(const char *dir, const char *name, const struct buf *b)
{
    char path[4096], tmp[4096];
    int n1 = snprintf(path, sizeof path, "%s/%s", dir, name);
    int n2 = snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, name, (long)getpid());
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof path || (size_t)n2 >= sizeof tmp)
        return JT_ERR_LIMIT;
    return file_write_atomic(path, tmp, b->data, b->len, 0644);
}

struct record_opts {
    const char *socket, *records_dir, *node;
};

#define ROFF(f) offsetof(struct record_opts, f)
static const struct args_opt record_opts_table[] = {
    {.name = "socket", .kind = ARGS_STRING, .offset = ROFF(socket), .placeholder = "PATH",
     .help = "the daemon's record socket (default /run/jobtel/accounting.sock)"},
    {.name = "records-dir", .kind = ARGS_STRING, .offset = ROFF(records_dir), .placeholder = "DIR",
     .help = "where records go, shared with the controller (default /var/spool/jobtel/records); '-' writes the "
             "record to standard output"},
    {.name = "node", .kind = ARGS_STRING, .offset = ROFF(node), .placeholder = "NAME",
     .help = "the record's file name (default $SLURMD_NODENAME, else the short host name)"},
    {.name = "help", .aliases = "-h", .kind = ARGS_HELP, .help = "this help"},
    {.name = "version", .kind = ARGS_VERSION, .help = "the version"},
    {.kind = ARGS_END},
};

static const struct args_spec record_spec = {
    .prog = "jobtel job-record",
    .usage = "jobtel job-record [JOBID] [options]",
    .description = "Node epilog: gets a finished job's exact GPU totals from the local daemon's unix socket and "
                   "writes them as RECORDS_DIR/JOBID/NODE.json for `jobtel summary --store` on the controller. "
                   "JOBID defaults to $SLURM_JOB_ID.",
    .opts = record_opts_table,
    .epilogue = "Exit codes: 0 written, or nothing to write (no daemon, or the job unknown to it: logged);\n"
                "1 the record could not be written; 2 usage error.",
    .positional = true,
};

int cmd_job_record(int argc, char **argv)
{
    struct record_opts o = {"/run/jobtel/accounting.sock", "/var/spool/jobtel/records", getenv("SLURMD_NODENAME")};
    const char *pos[64];
    int npos = 0;
    struct args_error err;
    if (argc > 64) {
        fprintf(stderr, "jobtel job-record: too many arguments\n");
        return CLI_EXIT_USAGE;
    }
    switch (args_parse(&record_spec, &o, argc, argv, pos, &npos, &err)) {
    case ARGS_OK:
        break;
    case ARGS_EXIT:
        return CLI_EXIT_OK;
    case ARGS_USAGE:
        args_print_error(&record_spec, &err);
        return CLI_EXIT_USAGE;
    }
    if (npos > 1) {
        fprintf(stderr, "jobtel job-record: one job id at most (see jobtel job-record --help)\n");
        return CLI_EXIT_USAGE;
    }
    const char *sock = o.socket, *dir = o.records_dir, *node = o.node;
    const char *jobid = npos ? pos[0] : NULL;
    log_setup(LOG_LVL_INFO, "jobtel-job-record", false);
    if (!jobid)
        jobid = getenv("SLURM_JOB_ID");
    char host[256];
    if (!node || !*node) {
        if (gethostname(host, sizeof host - 1) != 0)
            snprintf(host, sizeof host, "unknown");
        host[sizeof host - 1] = '\0';
        char *dot = strchr(host, '.');
        if (dot)
            *dot = '\0';
        node = host;
    }
    if (!jobid || !id_ok(jobid) || !id_ok(node) || !*dir) {
        fprintf(stderr, "jobtel job-record: need a job id and node name of [0-9A-Za-z_.+-] (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    struct buf b;
    buf_init(&b, RECORD_MAX_BYTES);
    enum jt_err rc = ask(sock, jobid, &b);
    int code = CLI_EXIT_OK;
    if (rc == JT_ERR_NOT_FOUND) {
        log_info("job=%s no accounting record on %s (no daemon, or the job used no GPU here)", jobid, sock);
        goto out;
    }
    if (rc != JT_OK) {
        log_error("job=%s cannot get the accounting record from %s: %s", jobid, sock, jt_strerror(rc));
        goto out; /* an epilog never fails the node for a missing report */
    }
    if (strcmp(dir, "-") == 0) {
        fwrite(b.data, 1, b.len, stdout);
        goto out;
    }
    char jobdir[3900];
    int nj = snprintf(jobdir, sizeof jobdir, "%s/%s", dir, jobid);
    if (nj < 0 || (size_t)nj >= sizeof jobdir) {
        code = CLI_EXIT_USAGE;
        goto out;
    }
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(jobdir, 0755) != 0 && errno != EEXIST)) {
        log_error("job=%s cannot create %s: %s", jobid, jobdir, strerror(errno));
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    char name[80];
    int nn = snprintf(name, sizeof name, "%s.json", node); /* node: at most 63 checked characters */
    if (nn < 0 || (size_t)nn >= sizeof name) {
        code = CLI_EXIT_USAGE;
        goto out;
    }
    rc = write_atomic(jobdir, name, &b);
    if (rc != JT_OK) {
        log_error("job=%s cannot write %s/%s: %s", jobid, jobdir, name, jt_strerror(rc));
        code = CLI_EXIT_FAILURE;
    }
out:
    buf_free(&b);
    return code;
}
