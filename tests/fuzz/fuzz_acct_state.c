/* fuzz_acct_state.c - libFuzzer target: the accounting state file (accounting/job_accounting.c
 * job_acct_load), as the daemon reads it from --path.accounting at start.
 *
 * Input: the file's bytes. A state that loads is saved and loaded again: the second load must succeed
 * with the same records (what a restart after a restart does), and every record's JSON (the epilog's
 * socket answer) must be producible.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "accounting/job_accounting.h"
#include "common/log.h"

static char dir[64];

/* The state, its lock and a refused state's ".bad" copy, then the directory. */
static void remove_dir(void)
{
    static const char *const names[] = {ACCT_STATE_FILE, ACCT_STATE_FILE ".lock", ACCT_STATE_FILE ".bad",
                                        ACCT_STATE_FILE ".tmp"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_setup(LOG_LVL_ERROR, "fuzz", false);
    fuzz_mkdtemp(dir, sizeof dir, "jt_fuzz_acct");
    atexit(remove_dir);
    return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, ACCT_STATE_FILE);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n <= 0)
            abort();
        data += n;
        size -= (size_t)n;
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_file(data, size);
    struct job_acct *a = job_acct_new(dir, 5, 1e12, 16);
    if (!a)
        abort();
    if (job_acct_load(a) != JT_OK) {
        if (a->n != 0 || a->ncpu != 0) /* a refused state starts empty */
            abort();
        job_acct_free(a);
        return 0;
    }
    size_t n = a->n, ncpu = a->ncpu;
    struct buf b;
    buf_init(&b, 1 << 20);
    for (size_t i = 0; i < a->n; i++) {
        buf_reset(&b);
        (void)job_acct_job_json(a, a->rec[i].jobid, &b);
    }
    if (job_acct_save(a) != JT_OK)
        abort();
    job_acct_free(a);
    a = job_acct_new(dir, 5, 1e12, 16);
    if (!a || job_acct_load(a) != JT_OK || a->n != n || a->ncpu != ncpu)
        abort();
    job_acct_free(a);
    buf_free(&b);
    return 0;
}
