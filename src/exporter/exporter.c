/* exporter.c - `jobtel exporter`: wires config, collectors, snapshot and HTTP together and runs the
 * main loop.
 *
 * Signals are blocked in every thread and taken synchronously by the main thread with sigtimedwait,
 * so handlers never run inside a collector or libmicrohttpd. Under systemd the main thread also
 * sends READY=1 once serving and WATCHDOG=1 while its own threads make progress (sdnotify.c).
 * Started as root, it gives root up in two steps (privdrop.c): what is per thread before the first
 * thread starts, the user switch once the port is bound, NVML is open and the sockets listen.
 */
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/log.h"
#include "exporter/sdnotify.h"
#include "accounting/job_accounting.h"
#include "accounting/record_socket.h"
#include "attribution/owners.h"
#include "exporter/api.h"
#include "exporter/config.h"
#include "exporter/http.h"
#include "exporter/privdrop.h"
#include "exporter/scheduler.h"
#include "exporter/snapshot.h"

int cmd_exporter(int argc, char **argv)
{
    struct exporter_config cfg;
    config_defaults(&cfg);
    bool exit_now = false;
    if (config_parse(&cfg, argc, argv, &exit_now) != JT_OK)
        return CLI_EXIT_USAGE;
    if (exit_now)
        return CLI_EXIT_OK;
    log_setup(cfg.log_level, "jobtel-exporter", false);
    /* One malloc arena: glibc would give each of our few threads its own, each costing resident
     * memory, and no thread here allocates enough to contend. */
    mallopt(M_ARENA_MAX, 1);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Before the first thread: no_new_privs, bounding set, and in the uid-0 mode every capability. */
    struct privdrop priv;
    enum jt_err prc = privdrop_early(&cfg, &priv);
    if (prc != JT_OK)
        return prc == JT_ERR_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;

    /* The JSON API's store: written by the GPU collector, read by the HTTP thread. */
    cfg.api = api_store_new();
    if (!cfg.api) {
        log_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    /* The per-job totals: restored from the state directory, written by the GPU collector. A gap
     * longer than three collection intervals (at least 5 s) is not integrated. */
    if (cfg.gpu_accounting) {
        double gap = 3 * cfg.collect_interval_s < 5 ? 5 : 3 * cfg.collect_interval_s;
        cfg.acct = job_acct_new(cfg.accounting_path, gap, cfg.accounting_retention_s, (size_t)cfg.accounting_max_records);
        if (!cfg.acct) {
            log_error("out of memory");
            api_store_free(cfg.api);
            return CLI_EXIT_FAILURE;
        }
        cfg.acct->export_ended_s = cfg.accounting_export_ended_s;
        (void)job_acct_load(cfg.acct); /* a refused file was logged and set aside: start empty */
    }
    struct record_server *records = NULL;
    /* The attribution stages' latest tables: published by them, joined by the GPU collector. */
    struct owners owners;
    owners_init(&owners);
    cfg.owners = &owners;
    struct snapshot_slot slot;
    snapshot_slot_init(&slot);
    struct scheduler *sched = NULL;
    struct http_server *http = NULL;
    int code = CLI_EXIT_FAILURE;

    log_info("jobtel exporter %s starting (interval %.3f s)", JOBTEL_VERSION, cfg.collect_interval_s);
    enum jt_err rc = scheduler_start(&cfg, &slot, &sched);
    if (rc != JT_OK) {
        /* A collector refusing to start is a configuration problem (bad counters file, ...). */
        code = rc == JT_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
        goto out;
    }
    if (http_start(&cfg, &slot, sched, &http) != JT_OK)
        goto out;
    if (cfg.acct && cfg.accounting_socket)
        records = record_server_start(cfg.accounting_socket, cfg.acct); /* off (logged) if it cannot listen */
    if (privdrop_late(&cfg, &priv) != JT_OK)
        goto out; /* never serve as root by accident */
    sd_notify_send("READY=1\nSTATUS=serving metrics");

    uint64_t wd_usec = 0;
    bool watchdog = sd_watchdog_period(&wd_usec);
    double tick = watchdog ? (double)wd_usec / 2e6 : 1.0;
    bool warned_wedged = false;
    if (tick > 1.0)
        tick = 1.0;
    for (;;) {
        struct timespec ts = {(time_t)tick, (long)((tick - (double)(time_t)tick) * 1e9)};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig == SIGHUP) {
            log_info("received SIGHUP, re-reading configuration files");
            scheduler_request_reload(sched);
            http_reload(http);
        }
        /* Pet the watchdog while the daemon's own threads (HTTP front, snapshot assembler) make
         * progress and no collector is wedged. A slow or briefly hung source only makes its collector
         * stale (503 on /health and /-/ready, collector_success 0); one stuck in a single call for
         * over a minute (scheduler_wedged) is not coming back, and a fresh process re-opens the
         * library: systemd restarts the daemon then. Liveness (/-/healthy) ignores collectors, so
         * Kubernetes does not restart a pod in a loop for a hung driver. */
        if (watchdog) {
            const char *wedged = NULL;
            double wedged_for = 0;
            bool own_ok = http_alive(http, HTTP_LIVENESS_MAX_AGE_S, NULL) &&
                          scheduler_alive(sched, HTTP_LIVENESS_MAX_AGE_S, NULL);
            bool is_wedged = scheduler_wedged(sched, SCHED_WEDGED_AFTER_S, &wedged, &wedged_for);
            if (own_ok && !is_wedged) {
                sd_notify_send("WATCHDOG=1");
                warned_wedged = false;
            } else if (is_wedged && !warned_wedged) {
                log_error("collector %s has been stuck in one call for %.0f s: no longer petting the "
                          "systemd watchdog, so systemd restarts the daemon", wedged, wedged_for);
                warned_wedged = true;
            }
        }
    }
    sd_notify_send("STOPPING=1");
    code = CLI_EXIT_OK;
out:
    record_server_stop(records);
    http_stop(http);
    if (!scheduler_stop(sched, 2.0)) {
        /* A collector is stuck inside a library call and may still touch the slot, the API store and
         * the library itself: leave at once, without freeing either and without running exit handlers
         * or library destructors under its feet. */
        log_warn("exiting with a collector still stuck in its source");
        fflush(NULL);
        _exit(code);
    }
    snapshot_slot_destroy(&slot);
    api_store_free(cfg.api);
    if (cfg.acct) {
        job_acct_save(cfg.acct);
        job_acct_free(cfg.acct);
    }
    owners_destroy(&owners);
    return code;
}
