#!/bin/bash
# test_install.sh - `cmake --install` honours DESTDIR and the prefix: with DESTDIR and prefix /usr
# everything lands under DESTDIR (configuration in DESTDIR/etc/jobtel, as the packages have it); with
# another prefix, under that prefix. Nothing is written to the real /etc or /usr.
. "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$JOBTEL")
[ -e /etc/jobtel ] && etc_before=1 || etc_before=0

DESTDIR="$T/d" cmake --install "$BUILD" --prefix /usr >"$T/install1.log" 2>&1 || fail "cmake --install with DESTDIR"
for f in usr/bin/jobtel usr/bin/jobtel-exporter usr/bin/jobstats usr/bin/jobtel-targets \
    usr/lib/jobtel/jobtel-prolog.sh usr/lib/jobtel/jobtel-epilog.sh usr/lib/jobtel/jobtel-epilog-slurmctld.sh \
    usr/lib/systemd/system/jobtel-exporter.service usr/lib/systemd/system/jobtel-targets.service \
    usr/lib/systemd/system/jobtel-summary-retry.timer usr/lib/tmpfiles.d/jobtel-node.conf \
    etc/jobtel/jobstats.conf etc/jobtel/jobtel-exporter.env etc/jobtel/jobtel-targets.env \
    usr/share/man/man8/jobtel.8 usr/share/man/man8/jobtel-exporter.8 usr/share/man/man8/jobtel-targets.8 \
    usr/share/man/man1/jobstats.1 usr/share/doc/jobtel/examples/prometheus.yml; do
    [ -e "$T/d/$f" ] || fail "DESTDIR install lacks /$f"
done
if grep -v -E "^-- (Install configuration|Installing|Up-to-date): " "$T/install1.log" | grep -q .; then
    fail "unexpected install output: $(cat "$T/install1.log")"
fi
grep -E '^-- (Installing|Up-to-date): ' "$T/install1.log" | grep -v -- "-- [A-Za-z-]*: $T/d/" && fail "installed outside DESTDIR"
[ -x "$T/d/usr/bin/jobtel-targets" ] && "$T/d/usr/bin/jobtel" targets --version | grep -q jobtel-targets \
    || fail "the installed front does not find its installed sibling"

cmake --install "$BUILD" --prefix "$T/p" >"$T/install2.log" 2>&1 || fail "cmake --install --prefix"
for f in bin/jobtel bin/jobtel-targets lib/jobtel/jobtel-prolog.sh lib/systemd/system/jobtel-exporter.service \
    etc/jobtel/jobstats.conf share/man/man8/jobtel.8; do
    [ -e "$T/p/$f" ] || fail "prefix install lacks $f"
done
if [ "$etc_before" = 0 ] && [ -e /etc/jobtel ]; then fail "cmake --install wrote to the real /etc/jobtel"; fi
pass "cmake --install honours DESTDIR and --prefix"
