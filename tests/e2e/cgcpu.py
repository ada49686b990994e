"""cgcpu.py - a cgroup's CPU time as the kernel counts it, for the e2e tests that check the exporter's.

A test cannot know how much CPU a loaded machine gave a job, but the kernel does: the cgroup's own counter
(v1 cpuacct.usage_all, v2 cpu.stat) is the reference, read around a scrape.
  cgcpu.py seconds DIR FIELD             FIELD: total, user or system
  cgcpu.py bracket OUT PORT SECS 'SERIES|DIR|FIELD'...
      reads each counter (before); polls /metrics on 127.0.0.1:PORT for up to SECS until every SERIES is
      at least its counter, so the collection was made after the read; reads the counters again right
      after that scrape (after); exits 0 when before <= exporter <= after for each, in whole nanoseconds.
      The last scrape is left in OUT.
"""
import os
import sys
import time
import urllib.request
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promtext  # noqa: E402


def counter_ns(d, field):
    if os.path.exists(os.path.join(d, "cpuacct.usage_all")):
        with open(os.path.join(d, "cpuacct.usage_all")) as f:
            rows = [line.split() for line in f.readlines()[1:]]
        user, system = sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows)
    else:
        with open(os.path.join(d, "cpu.stat")) as f:
            kv = dict(line.split() for line in f)
        user, system = int(kv["user_usec"]) * 1000, int(kv["system_usec"]) * 1000
    return {"total": user + system, "user": user, "system": system}[field]


def exported_ns(out, port, series_list):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        text = r.read()
    with open(out, "wb") as f:
        f.write(text)
    got = []
    for series in series_list:
        name, labels = promtext.parse_selector(series)
        vals = [s.value for fam, s in promtext.samples(out) if name in promtext.names(fam, s) and s.labels == labels]
        # repr gives back the 9 decimals the exporter wrote, so the nanoseconds are exact.
        got.append(int(Decimal(repr(vals[0])) * 10**9) if vals else None)
    return got


def bracket(out, port, secs, specs):
    specs = [s.split("|") for s in specs]
    before = [counter_ns(d, f) for _, d, f in specs]
    deadline = time.monotonic() + secs
    while True:
        got = exported_ns(out, port, [s for s, _, _ in specs])
        if all(g is not None and g >= b for g, b in zip(got, before)):
            break
        if time.monotonic() > deadline:
            for (series, _, f), b, g in zip(specs, before, got):
                print(f"{series}: exporter {g} ns, cgroup {f} {b} ns", file=sys.stderr)
            sys.exit(f"the exporter did not catch up with the cgroups' counters within {secs} s")
        time.sleep(0.1)
    after = [counter_ns(d, f) for _, d, f in specs]
    ok = True
    for (series, _, f), b, g, a in zip(specs, before, got, after):
        good = b <= g <= a
        ok = ok and good
        print(f"{'ok' if good else 'BAD'}: {series} = {g / 1e9:.9f} s; cgroup {f} {b / 1e9:.9f} .. {a / 1e9:.9f} s",
              file=sys.stderr)
    return ok


def main():
    if sys.argv[1] == "seconds":
        print(counter_ns(sys.argv[2], sys.argv[3]) / 1e9)
        return
    if sys.argv[1] == "bracket":
        sys.exit(0 if bracket(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:]) else 1)
    raise SystemExit("unknown command " + sys.argv[1])


if __name__ == "__main__":
    main()
