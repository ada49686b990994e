#!/usr/bin/python3
"""hostile_http.py - a local user attacking the exporter's HTTP port, for tests and bench/.

    hostile_http.py PORT READY_FILE REPORT_FILE STOP_FILE [--conns 1000] [--sources 127.0.0.1,127.0.0.2]
                    [--max-seconds 90] [--tls 1]

Runs, until STOP_FILE exists (or --max-seconds pass):
  - trickle: --conns connections spread over the source addresses, each sending a request line and
    then one more header line every 3 s, never finishing; a connection the server closes is reopened
    0.25 s later (at most 500 000 opens in all);
  - big query: every 0.5 s, a /metrics request whose query has 500 arguments; records whether an
    HTTP status line came back within 8 s;
  - half request: every 0.5 s, half a request followed by shutdown(SHUT_WR); records whether the
    server closed its side within 5 s (libmicrohttpd's idle timeout, which alone would close it, is 10 s).
With --tls 1 every connection first completes a TLS handshake (no certificate checks: an attacker
does not care), so the trickled lines and the probes arrive encrypted, as against a TLS exporter.
Writes READY_FILE once every trickle connection has been opened and one trickle period has passed, and REPORT_FILE (JSON) at the end.
Every loop is bounded in count and time.
"""
import json
import os
import resource
import selectors
import socket
import sys
import time

args = sys.argv[1:]
port, ready_file, report_file, stop_file = int(args[0]), args[1], args[2], args[3]
opts = dict(zip(args[4::2], args[5::2]))
NCONN = int(opts.get("--conns", "1000"))
SOURCES = opts.get("--sources", "127.0.0.1,127.0.0.2").split(",")
MAX_SECONDS = float(opts.get("--max-seconds", "90"))
TLS = opts.get("--tls", "0") == "1"
if TLS:
    import ssl

    CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    CTX.check_hostname = False
    CTX.verify_mode = ssl.CERT_NONE
    WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError)
else:
    WANT = (BlockingIOError,)
MAX_OPENS = 500000
REOPEN_AFTER = 0.25
TRICKLE_EVERY = 3.0

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = min(hard, NCONN + 256)
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

sel = selectors.DefaultSelector()
start = time.monotonic()
deadline = start + MAX_SECONDS
stats = {"opened": 0, "closed_by_server": 0, "open_errors": 0, "lines_sent": 0}
probes = {"bigquery": [], "half": []}  # each: {"ok": bool, "what": str, "seconds": float}


class Trickle:
    def __init__(self, src):
        self.src = src
        self.sock = None
        self.hs = False
        self.next_send = 0.0
        self.lines = 0
        self.reopen_at = 0.0

    def open(self, now):
        if stats["opened"] >= MAX_OPENS:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((self.src, 0))
            if TLS:  # the handshake is driven from the loop (handshake()); the trickle starts after it
                s.settimeout(2)  # loopback: the kernel completes the TCP handshake before any accept
                s.connect(("127.0.0.1", port))
                s.setblocking(False)
                s = CTX.wrap_socket(s, do_handshake_on_connect=False)
            else:
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
        except OSError:
            stats["open_errors"] += 1
            s.close()
            self.reopen_at = now + REOPEN_AFTER
            return
        self.sock = s
        self.hs = TLS
        self.lines = 0
        self.next_send = now  # request line as soon as connected
        stats["opened"] += 1
        sel.register(s, selectors.EVENT_READ, self)

    def drop(self):
        try:
            sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
        self.sock = None
        self.reopen_at = time.monotonic() + REOPEN_AFTER

    def handshake(self):
        try:
            self.sock.do_handshake()
            self.hs = False
        except WANT:
            pass
        except OSError:
            stats["closed_by_server"] += 1
            self.drop()

    def tick(self, now):
        if self.sock is None:
            if now >= self.reopen_at:
                self.open(now)
            return
        if self.hs:
            self.handshake()
            return
        if now < self.next_send:
            return
        line = b"GET /metrics HTTP/1.1\r\n" if self.lines == 0 else b"X-Trickle-%d: x\r\n" % self.lines
        try:
            self.sock.send(line)
            self.lines += 1
            stats["lines_sent"] += 1
        except WANT:
            pass
        except OSError:
            stats["closed_by_server"] += 1
            self.drop()
            return
        self.next_send = now + TRICKLE_EVERY


class Probe:
    """A one-shot client: sends `payload`, optionally half-closes, waits for `want` within `limit`."""

    def __init__(self, kind, payload, half, limit, now):
        self.kind, self.half, self.limit = kind, half, limit
        self.t0 = now
        self.buf = b""
        self.done = False
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if TLS:
            self.sock = CTX.wrap_socket(self.sock)
            self.t0 = time.monotonic()  # the limit is on the server's answer, not on our handshake
        self.sock.sendall(payload)
        if half:
            self.sock.shutdown(socket.SHUT_WR)
        self.sock.setblocking(False)
        sel.register(self.sock, selectors.EVENT_READ, self)

    def finish(self, ok, what, now):
        probes[self.kind].append({"ok": ok, "what": what, "seconds": round(now - self.t0, 3)})
        try:
            sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
        self.done = True

    def readable(self, now):
        try:
            d = self.sock.recv(65536)
        except WANT:
            return
        except OSError as e:
            d = b""
            if not self.half:
                self.finish(False, "error %s" % e, now)
                return
        if self.half:
            if d == b"":
                self.finish(True, "closed by server", now)
            return
        self.buf += d
        if b"\r\n" in self.buf and self.buf.startswith(b"HTTP/1."):
            self.finish(True, self.buf.split(b"\r\n", 1)[0].decode(errors="replace"), now)
        elif d == b"":
            self.finish(False, "closed without an answer", now)

    def check(self, now):
        if TLS and not self.done and now - self.t0 > self.limit:
            # A round of 1,000 TLS trickles can outlast the limit on a loaded machine: read what
            # arrived during the round before calling the probe unanswered.
            self.readable(now)
        if not self.done and now - self.t0 > self.limit:
            self.finish(False, "no answer in %.0f s" % self.limit, now)


trickles = [Trickle(SOURCES[i % len(SOURCES)]) for i in range(NCONN)]
live_probes = []
ready = False
next_probe = start + 1.0
query = "&".join("a%d=%d" % (i, i) for i in range(500))
BIG = ("GET /metrics?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % query).encode()
HALF = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag"
opened_at = 0.0

while True:
    now = time.monotonic()
    if now > deadline or os.path.exists(stop_file):
        break
    # Open in slices so one round stays short.
    for t in trickles:
        t.tick(now)
    # Ready once every connection was opened and has had one trickle period to settle in.
    if not opened_at and all(t.sock is not None for t in trickles):
        opened_at = now - start
    if not ready and opened_at and now - start >= opened_at + TRICKLE_EVERY:
        ready = True
        opened_at = now - start
        with open(ready_file, "w") as f:
            f.write("%d\n" % stats["opened"])
    if ready and now >= next_probe and len(probes["bigquery"]) + len(live_probes) < 400:
        next_probe = now + 0.5
        for kind, payload, half, limit in (("bigquery", BIG, False, 8.0), ("half", HALF, True, 5.0)):
            try:
                live_probes.append(Probe(kind, payload, half, limit, now))
            except OSError as e:
                probes[kind].append({"ok": False, "what": "connect: %s" % e, "seconds": 0})
    for key, _ in sel.select(timeout=0.05):
        obj = key.data
        if isinstance(obj, Trickle):
            if obj.sock is None:
                continue
            if obj.hs:
                obj.handshake()
                continue
            try:
                d = obj.sock.recv(65536)
            except WANT:
                continue
            except OSError:
                d = b""
            if d == b"":
                stats["closed_by_server"] += 1
                obj.drop()
        else:
            obj.readable(time.monotonic())
    now = time.monotonic()
    for p in live_probes:
        p.check(now)
    live_probes = [p for p in live_probes if not p.done]

now = time.monotonic()
for p in live_probes:  # still waiting at the end: judged by what their deadline allowed so far
    if now - p.t0 > p.limit:
        p.finish(False, "no answer in %.0f s" % p.limit, now)
    else:
        p.sock.close()
for t in trickles:
    if t.sock is not None:
        t.drop()
report = dict(stats, ready=ready, ready_after_s=round(opened_at, 3), seconds=round(now - start, 3), probes=probes)
with open(report_file, "w") as f:
    json.dump(report, f, indent=1)
