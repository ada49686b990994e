/* sdnotify.h - the systemd readiness/watchdog protocol, without libsystemd.
 *
 * The protocol is one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket named in $NOTIFY_SOCKET
 * (a path, or an abstract name starting with '@'); systemd documents it as a stable interface meant
 * to be implemented directly. Linking libsystemd for it would pull six more libraries (libgcrypt,
 * liblzma, libzstd, liblz4, ...) and about 1 MiB of resident memory into a daemon whose whole budget
 * is 6 MiB.
 */
#ifndef JOBTEL_SDNOTIFY_H
#define JOBTEL_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Sends `state` (e.g. "READY=1") if $NOTIFY_SOCKET is set. Returns true if sent, false if not
 * running under systemd or the send failed. */
bool sd_notify_send(const char *state);

/* True if systemd expects watchdog pings from this process; *usec gets the period. Reads
 * $WATCHDOG_USEC and checks $WATCHDOG_PID (if set) names us. */
bool sd_watchdog_period(uint64_t *usec);

#endif
