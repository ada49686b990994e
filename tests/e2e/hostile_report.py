#!/usr/bin/python3
"""hostile_report.py REPORT_JSON SCRAPES_TXT - summarises an attack by hostile_http.py and the scrapes
made during it (lines "HTTP_CODE SECONDS ..." as curl -w printed them). Prints the attacker's
counts, the probes' outcomes and the scrape latency percentiles; exits 1 if any probe went
unanswered, fewer than 3 of a kind ran, or the attack never reached its 1000 connections."""
import json
import sys

r = json.load(open(sys.argv[1]))
lat = sorted(float(l.split()[1]) * 1000 for l in open(sys.argv[2]) if len(l.split()) >= 2)


def pct(q):
    return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")


print("attacker: opened %d connections, %d closed by the server, %d header lines sent" %
      (r["opened"], r["closed_by_server"], r["lines_sent"]))
bad = 0
if r["opened"] < 1000:
    print("the attack never reached 1000 connections")
    bad = 1
for k in ("bigquery", "half"):
    v = r["probes"][k]
    print("%s probes: %d, answered %d" % (k, len(v), sum(x["ok"] for x in v)))
    if len(v) < 3:
        print("too few %s probes ran: %d" % (k, len(v)))
        bad = 1
    for x in v:
        if not x["ok"]:
            print("%s probe failed: %s" % (k, x["what"]))
            bad = 1
        elif k == "bigquery" and not x["what"].startswith(("HTTP/1.1 200", "HTTP/1.1 414", "HTTP/1.1 400")):
            print("a 500-argument query got %s" % x["what"])
            bad = 1
print("scrape latency during the attack: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms" %
      (len(lat), pct(0.5), pct(0.99), lat[-1] if lat else 0))
sys.exit(bad)
