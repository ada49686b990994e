/* record_socket.h - the daemon's root-only unix socket serving a job's accounting record to the node
 * epilog (`jobtel job-record`). See record_socket.c for the protocol. */
#ifndef JOBTEL_RECORD_SOCKET_H
#define JOBTEL_RECORD_SOCKET_H

#include <stdbool.h>
#include <stddef.h>

#include "accounting/job_accounting.h"

#define RECORD_JOBID_MAX 23

struct record_server;

/* Listens on `path` (0600) and serves records from `acct` on its own thread. NULL (logged) on failure:
 * the daemon runs on without the socket. */
struct record_server *record_server_start(const char *path, struct job_acct *acct);
void record_server_stop(struct record_server *s);

/* A job id the socket accepts: 1..23 of [0-9A-Za-z_.+-] (numeric ids, array and het suffixes, SLUIDs). */
bool record_jobid_ok(const char *s, size_t n);

#endif
