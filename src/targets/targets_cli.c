/* targets_cli.c - `jobtel targets` / `jobtel-targets`: the loop around the node-list parsers.
 *
 * Each run asks one source for the GPU nodes, renders file_sd JSON and replaces the output file if it
 * changed. A source that fails, hangs past its deadline, overflows its output cap or names no node
 * leaves the last good file alone (an empty list would make Prometheus drop every GPU node at once):
 * the run says so in the log and in the status metrics, written as a node_exporter textfile so no
 * HTTP server is needed here. Source commands run without a shell (common/cmd_run.c).
 */
#include "targets/targets_cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cli.h"
#include "common/cmd_run.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/strparse.h"
#include "targets/targets.h"

#define SOURCE_OUTPUT_MAX (8u << 20) /* a 10,000-node `scontrol -o` is about 15 MB; cmsh lists far less */

enum source_kind { SRC_SLURM, SRC_FILE, SRC_COMMAND };

struct targets_opts {
    enum source_kind source;
    const char *scontrol;
    const char *hosts_file;
    char **command; /* argv after "--", NULL-terminated */
    unsigned column;
    unsigned skip; /* header lines of a command's output */
    double timeout_s;
    const char *output;
    const char *metrics_file;
    double interval_s; /* 0: run once */
    struct targets_labels labels;
};

/* What the status metrics report, kept across runs of the loop. */
struct targets_state {
    bool source_up;
    size_t nodes;       /* in the file as last written or confirmed */
    double last_success; /* wall clock of the last run that produced a node list, 0 = never */
    unsigned long failures;
    unsigned long writes;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static const char *source_name(enum source_kind k)
{
    return k == SRC_SLURM ? "slurm" : k == SRC_FILE ? "file" : "command";
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: jobtel targets --output FILE [options] [-- COMMAND [ARG...]]\n"
            "\n"
            "Writes Prometheus file_sd JSON listing the cluster's GPU nodes: a jobtel exporter target and\n"
            "a node_exporter target per node, labelled cluster, role and node. The file is replaced\n"
            "atomically, and only when the node list changed. A source that fails, hangs or names no\n"
            "node leaves the last good file in place.\n"
            "\n"
            "Source (one):\n"
            "  --source slurm|file|command  where the node list comes from (default slurm)\n"
            "  --slurm.scontrol PATH        scontrol to run: `scontrol show nodes --oneliner`, nodes with\n"
            "                               gres/gpu (default /usr/bin/scontrol)\n"
            "  --hosts-file FILE            --source file: one host per line, '#' comments\n"
            "  -- COMMAND [ARG...]          --source command: run COMMAND (absolute path, no shell), one\n"
            "                               host per line of its output (e.g. BCM's cmsh)\n"
            "  --command.column N           the white-space separated column holding the host (default 1)\n"
            "  --command.skip-lines N       header lines to skip in the command's output (default 0)\n"
            "  --source.timeout DURATION    deadline for a source command; killed after it (default 30s)\n"
            "\n"
            "Output:\n"
            "  --output FILE                the file_sd JSON file (required)\n"
            "  --cluster NAME               value of the cluster label (default: no cluster label)\n"
            "  --role NAME                  value of the role label (default gpu)\n"
            "  --jobtel-port N              jobtel exporter port (default 9400; 0 omits these targets)\n"
            "  --node-exporter-port N       node_exporter port (default 9100; 0 omits these targets)\n"
            "  --metrics-file FILE          write status metrics there (node_exporter textfile format)\n"
            "  --interval DURATION          run again every DURATION until SIGTERM (default: run once)\n"
            "  --log.level LEVEL            error, warn, info or debug (default info)\n"
            "  -h, --help                   this help\n"
            "      --version                the version\n"
            "\n"
            "Exit codes: 0 file written or unchanged, 1 the source failed (the last file is kept),\n"
            "2 usage error. With --interval: 0 after SIGTERM or SIGINT.\n");
}

static bool parse_port(const char *s, unsigned *out)
{
    uint64_t v;
    if (!cstr_to_u64(s, &v) || v > 65535)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Returns CLI_EXIT_OK to run, or the exit code to return now (help, version, usage error). */
static int parse_args(int argc, char **argv, struct targets_opts *o, bool *done)
{
    enum { O_SOURCE = 256, O_SCONTROL, O_HOSTS, O_COLUMN, O_SKIP, O_TIMEOUT, O_OUTPUT, O_CLUSTER, O_ROLE, O_JPORT,
           O_NPORT, O_METRICS, O_INTERVAL, O_LOGLEVEL, O_VERSION };
    static const struct option longopts[] = {
        {"source", required_argument, NULL, O_SOURCE},
        {"slurm.scontrol", required_argument, NULL, O_SCONTROL},
        {"hosts-file", required_argument, NULL, O_HOSTS},
        {"command.column", required_argument, NULL, O_COLUMN},
        {"command.skip-lines", required_argument, NULL, O_SKIP},
        {"source.timeout", required_argument, NULL, O_TIMEOUT},
        {"output", required_argument, NULL, O_OUTPUT},
        {"cluster", required_argument, NULL, O_CLUSTER},
        {"role", required_argument, NULL, O_ROLE},
        {"jobtel-port", required_argument, NULL, O_JPORT},
        {"node-exporter-port", required_argument, NULL, O_NPORT},
        {"metrics-file", required_argument, NULL, O_METRICS},
        {"interval", required_argument, NULL, O_INTERVAL},
        {"log.level", required_argument, NULL, O_LOGLEVEL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    enum log_level level = LOG_LVL_INFO;
    *done = false;
    optind = 1;
    opterr = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case O_SOURCE:
            if (strcmp(optarg, "slurm") == 0)
                o->source = SRC_SLURM;
            else if (strcmp(optarg, "file") == 0)
                o->source = SRC_FILE;
            else if (strcmp(optarg, "command") == 0)
                o->source = SRC_COMMAND;
            else {
                fprintf(stderr, "jobtel targets: --source must be slurm, file or command, not '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case O_SCONTROL: o->scontrol = optarg; break;
        case O_HOSTS: o->hosts_file = optarg; break;
        case O_COLUMN:
            if (!cstr_to_u64(optarg, &v) || v == 0 || v > 1000) {
                fprintf(stderr, "jobtel targets: bad --command.column '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            o->column = (unsigned)v;
            break;
        case O_SKIP:
            if (!cstr_to_u64(optarg, &v) || v > 1000) {
                fprintf(stderr, "jobtel targets: bad --command.skip-lines '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            o->skip = (unsigned)v;
            break;
        case O_TIMEOUT:
            if (!str_to_duration(optarg, &o->timeout_s) || o->timeout_s <= 0) {
                fprintf(stderr, "jobtel targets: bad --source.timeout '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case O_OUTPUT: o->output = optarg; break;
        case O_CLUSTER: o->labels.cluster = optarg; break;
        case O_ROLE: o->labels.role = optarg; break;
        case O_JPORT:
        case O_NPORT:
            if (!parse_port(optarg, c == O_JPORT ? &o->labels.jobtel_port : &o->labels.node_exporter_port)) {
                fprintf(stderr, "jobtel targets: bad port '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case O_METRICS: o->metrics_file = optarg; break;
        case O_INTERVAL:
            if (!str_to_duration(optarg, &o->interval_s) || o->interval_s <= 0) {
                fprintf(stderr, "jobtel targets: bad --interval '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case O_LOGLEVEL:
            if (!log_parse_level(optarg, &level)) {
                fprintf(stderr, "jobtel targets: bad --log.level '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            *done = true;
            return CLI_EXIT_OK;
        case O_VERSION:
            cli_print_version("jobtel-targets");
            *done = true;
            return CLI_EXIT_OK;
        default:
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    log_setup(level, "jobtel-targets", false);
    if (optind < argc)
        o->command = argv + optind;
    const char *problem = NULL;
    if (!o->output || !*o->output)
        problem = "--output FILE is required";
    else if (o->source == SRC_FILE && !o->hosts_file)
        problem = "--source file needs --hosts-file FILE";
    else if (o->source == SRC_COMMAND && (!o->command || o->command[0][0] != '/'))
        problem = "--source command needs `-- COMMAND [ARG...]` with an absolute COMMAND path";
    else if (o->source != SRC_COMMAND && o->command)
        problem = "a command after `--` needs --source command";
    else if (o->scontrol[0] != '/')
        problem = "--slurm.scontrol must be an absolute path";
    else if (!o->labels.jobtel_port && !o->labels.node_exporter_port)
        problem = "both ports are 0: there would be no target";
    if (problem) {
        fprintf(stderr, "jobtel targets: %s\n", problem);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Runs the source into *nodes. False (logged) when it failed; an empty list is not a failure here. */
static bool read_source(const struct targets_opts *o, struct node_list *nodes)
{
    struct buf out, err;
    buf_init(&out, SOURCE_OUTPUT_MAX);
    buf_init(&err, 4096);
    bool ok = false;
    enum jt_err rc;
    if (o->source == SRC_FILE) {
        rc = file_read(o->hosts_file, SOURCE_OUTPUT_MAX, &out);
        if (rc != JT_OK) {
            log_error("cannot read %s: %s", o->hosts_file, jt_strerror(rc));
            goto out;
        }
        rc = targets_parse_hosts(out.data ? out.data : "", out.len, 1, 0, nodes);
    } else {
        char *slurm_argv[] = {(char *)o->scontrol, "show", "nodes", "--oneliner", NULL};
        char **argv = o->source == SRC_SLURM ? slurm_argv : o->command;
        int status = -1;
        /* The child must not inherit blocked signals (main blocks none; see run_loop). */
        rc = cmd_run(argv, o->timeout_s, &out, &err, &status);
        const char *first_err = buf_str(&err);
        size_t el = strcspn(first_err, "\n");
        if (rc == JT_ERR_TIMEOUT) {
            log_error("%s did not finish within %g s: killed", argv[0], o->timeout_s);
            goto out;
        }
        if (rc != JT_OK) {
            log_error("cannot run %s: %s", argv[0], jt_strerror(rc));
            goto out;
        }
        if (status != 0) {
            log_error("%s exited with status %d: %.*s", argv[0], status, (int)(el > 300 ? 300 : el), first_err);
            goto out;
        }
        if (out.err != JT_OK) {
            log_error("%s printed more than %u bytes: ignored", argv[0], SOURCE_OUTPUT_MAX);
            goto out;
        }
        if (o->source == SRC_SLURM)
            rc = targets_parse_scontrol(out.data ? out.data : "", out.len, nodes);
        else
            rc = targets_parse_hosts(out.data ? out.data : "", out.len, o->column, o->skip, nodes);
    }
    if (rc != JT_OK) {
        log_error("cannot parse the node list: %s", jt_strerror(rc));
        goto out;
    }
    if (nodes->rejected)
        log_warn("%zu line(s) of the node list skipped: not a host name", nodes->rejected);
    ok = true;
out:
    buf_free(&out);
    buf_free(&err);
    return ok;
}

static void prom_label(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *s);
    }
}

static void write_metrics(const struct targets_opts *o, const struct targets_state *st)
{
    if (!o->metrics_file)
        return;
    struct buf b, lab;
    buf_init(&b, 1 << 16);
    buf_init(&lab, 8192);
    buf_printf(&lab, "source=\"%s\",file=\"", source_name(o->source));
    prom_label(&lab, o->output);
    buf_putc(&lab, '"');
    const char *l = buf_str(&lab);
    buf_printf(&b,
               "# HELP jobtel_targets_source_up Whether the last run of the source gave a node list (1) or failed or was empty, keeping the last file (0).\n"
               "# TYPE jobtel_targets_source_up gauge\njobtel_targets_source_up{%s} %d\n"
               "# HELP jobtel_targets_nodes Nodes listed in the file_sd file as last written or confirmed.\n"
               "# TYPE jobtel_targets_nodes gauge\njobtel_targets_nodes{%s} %zu\n"
               "# HELP jobtel_targets_source_failures_total Runs whose source failed or named no node, since start.\n"
               "# TYPE jobtel_targets_source_failures_total counter\njobtel_targets_source_failures_total{%s} %lu\n"
               "# HELP jobtel_targets_writes_total Times the file_sd file was replaced because the node list changed, since start.\n"
               "# TYPE jobtel_targets_writes_total counter\njobtel_targets_writes_total{%s} %lu\n",
               l, st->source_up ? 1 : 0, l, st->nodes, l, st->failures, l, st->writes);
    if (st->last_success > 0)
        buf_printf(&b,
                   "# HELP jobtel_targets_last_success_timestamp_seconds When the source last gave a node list (Unix time, seconds).\n"
                   "# TYPE jobtel_targets_last_success_timestamp_seconds gauge\n"
                   "jobtel_targets_last_success_timestamp_seconds{%s} %.3f\n",
                   l, st->last_success);
    bool changed;
    if (b.err != JT_OK || targets_write_if_changed(o->metrics_file, b.data, b.len, &changed) != JT_OK)
        log_error("cannot write the metrics file %s", o->metrics_file);
    buf_free(&b);
    buf_free(&lab);
}

/* One run: true when the file now holds a node list from this run. */
static bool run_once(const struct targets_opts *o, struct targets_state *st)
{
    struct node_list nodes = {0};
    struct buf doc;
    buf_init(&doc, 64u << 20);
    bool ok = false;
    if (!read_source(o, &nodes))
        goto out;
    node_list_normalise(&nodes);
    if (nodes.n == 0) {
        log_error("the %s source named no GPU node: keeping %s as it is", source_name(o->source), o->output);
        goto out;
    }
    if (targets_render(&nodes, &o->labels, &doc) != JT_OK) {
        log_error("cannot render the target list: %s", jt_strerror(doc.err));
        goto out;
    }
    bool changed = false;
    if (targets_write_if_changed(o->output, doc.data, doc.len, &changed) != JT_OK)
        goto out;
    if (changed) {
        st->writes++;
        log_info("wrote %s: %zu node(s)", o->output, nodes.n);
    } else {
        log_debug("%s unchanged: %zu node(s)", o->output, nodes.n);
    }
    st->nodes = nodes.n;
    st->last_success = wall_now();
    ok = true;
out:
    if (!ok) {
        st->failures++;
        log_warn("%s keeps its last good content", o->output);
    }
    st->source_up = ok;
    write_metrics(o, st);
    node_list_free(&nodes);
    buf_free(&doc);
    return ok;
}

/* Sleeps until the next run or a stop signal. Signals are never blocked: a blocked mask would be
 * inherited across cmd_run's exec by the source command. */
static void sleep_until(double when)
{
    while (!g_stop) {
        double left = when - mono_now();
        if (left <= 0)
            return;
        if (left > 0.5)
            left = 0.5; /* bounds the race between the g_stop check and nanosleep */
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int cmd_targets(int argc, char **argv)
{
    struct targets_opts o = {
        .source = SRC_SLURM,
        .scontrol = "/usr/bin/scontrol",
        .column = 1,
        .timeout_s = 30,
        .labels = {.role = "gpu", .jobtel_port = 9400, .node_exporter_port = 9100},
    };
    bool done;
    int rc = parse_args(argc, argv, &o, &done);
    if (rc != CLI_EXIT_OK || done)
        return rc;
    if (o.interval_s <= 0) {
        struct targets_state st = {0};
        return run_once(&o, &st) ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct targets_state st = {0};
    log_info("jobtel targets %s: %s source every %.3f s into %s", JOBTEL_VERSION, source_name(o.source),
             o.interval_s, o.output);
    while (!g_stop) {
        double next = mono_now() + o.interval_s;
        run_once(&o, &st);
        sleep_until(next);
    }
    log_info("stopping");
    return CLI_EXIT_OK;
}
