/* cmd_run.h - run a program (no shell) and collect its output, with a deadline.
 *
 * sacct and sacctmgr talk to slurmdbd, which can hang; the epilog and the user's shell must not. The
 * program is exec'd by absolute path (slurmctld gives epilogs no PATH), its stdout and stderr go into
 * capped buffers, and it is killed when the deadline passes.
 */
#ifndef JOBTEL_CMD_RUN_H
#define JOBTEL_CMD_RUN_H

#include "common/buf.h"
#include "common/error.h"

/* Runs argv[0] (absolute path) with argv. *exit_status: the exit code, or 128+signal. JT_ERR_TIMEOUT
 * if it had to be killed, JT_ERR_IO if it could not be started. */
enum jt_err cmd_run(char *const argv[], double timeout_s, struct buf *out, struct buf *errout, int *exit_status);

/* One program of cmd_run_many: what cmd_run takes, and gives back in exit_status and rc. */
struct cmd {
    char *const *argv;
    struct buf *out, *errout;
    int exit_status;
    enum jt_err rc;
};

/* Runs n (1 to 8) programs at once, as cmd_run each, under one deadline: each gets its own rc and
 * exit_status. JT_ERR_USAGE for a bad n; otherwise JT_OK, the outcomes being in cmds. */
enum jt_err cmd_run_many(size_t n, struct cmd *cmds, double timeout_s);

#endif
