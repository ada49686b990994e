#!/usr/bin/python3
"""scale_sim.py - N simulated jobtel nodes pushed into VictoriaMetrics and Prometheus, then measured.

The series are the exact series of a real exporter's /metrics (TEMPLATE: fake NVML 8 GPUs, jobs on every
GPU, a cgroup fixture tree), copied for N nodes with the scrape's labels added (instance, job, cluster),
the hostname rewritten, and each job's labels (jobid, hpc_job) renumbered as jobs end and new ones start
(each of the template's job slots on each node runs jobs of JOB_HOURS, at a per-node phase). One sample
per series every STEP seconds over SPAN_HOURS ending now; counters grow, busy gauges wobble, constant
gauges stay (that is what an exporter serves and what the engines compress).

VictoriaMetrics gets the samples through /api/v1/import/prometheus, Prometheus through its remote-write
receiver (protobuf and snappy framing written here: snappy's format allows literal-only blocks, so no
compression library is needed). Then, per engine: CPU seconds per million samples ingested (the engine's
own utime+stime, which a shared machine does not distort as it does wall time), disk per million samples
(VictoriaMetrics after a flush; Prometheus as a TSDB snapshot block, its compacted form, beside its WAL),
RSS after ingestion and its peak during the queries, jobstats' wall time for one job (median of 3), and
each recording and alerting rule's expression as an instant query at the end of the span (as vmalert
or Prometheus' rule manager asks it).

Usage: scale_sim.py TEMPLATE NODES SPAN_HOURS --vm URL:PID:DATADIR --prom URL:PID:DATADIR
       --jobstats PATH --rules DIR --workdir DIR [--step 30] [--job-hours 4] > result.json
"""
import argparse
import glob
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
JOB_LABELS = ("jobid", "hpc_job")
CONSTANT = re.compile(r"(info|_total_bytes|total_memory|cpus|_up$|limit|number|capacity|max|_count$|version|"
                      r"power_limit|memory_total|bar1_total|mig|profile|_status|_state)", re.I)


def parse_template(path):
    types, series = {}, []
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise SystemExit(f"cannot parse template line: {line}")
        name, labels, value = m.group(1), LABEL.findall(m.group(2) or ""), float(m.group(3))
        series.append((name, labels, value))
    return types, series


def family(name, types):
    for suffix in ("_total", "_count", "_sum", "_bucket"):
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            return name[: -len(suffix)]
    return name


class Cluster:
    def __init__(self, template, nodes, step, job_hours):
        types, series = parse_template(template)
        self.step, self.job_s = step, int(job_hours * 3600)
        self.slots = sorted({v for _, ls, _ in series for k, v in ls if k in JOB_LABELS})
        self.tmpl = []
        for name, labels, value in series:
            slot = next((self.slots.index(v) for k, v in labels if k in JOB_LABELS), None)
            kind = types.get(family(name, types), "untyped")
            if kind == "counter":
                vary = "counter"
            elif value == 0 or CONSTANT.search(name):
                vary = "const"
            else:
                vary = "gauge"
            self.tmpl.append((name, labels, value, slot, vary))
        self.nodes = nodes
        self.cache = {}

    def jobid(self, node, slot, t):
        """The job in SLOT of NODE at time t, and when it started."""
        phase = (node * 7919 + slot * 104729) % self.job_s
        epoch = (t + phase) // self.job_s
        start = epoch * self.job_s - phase
        slot_name = self.slots[slot]
        if slot_name.isdigit():
            return f"{1000000 + (node * len(self.slots) + slot) * 1000 + epoch % 1000}", start
        return f"s{node:05d}{slot}{epoch % 1000:03d}", start

    def labels(self, node, i, t):
        name, labels, _, slot, _ = self.tmpl[i]
        job = self.jobid(node, slot, t)[0] if slot is not None else None
        key = (node, i, job)
        got = self.cache.get(key)
        if got is None:
            host = f"sim{node:05d}"
            out = [("__name__", name)]
            for k, v in labels:
                if k in JOB_LABELS:
                    v = job
                elif v == "tmplnode":
                    v = host
                out.append((k, v))
            out += [("instance", f"{host}:9400"), ("job", "jobtel"), ("cluster", "sim")]
            got = self.cache[key] = out
        return got

    def value(self, node, i, t):
        _, _, base, _, vary = self.tmpl[i]
        if vary == "const":
            return base
        w = ((node * 31 + i * 17 + t // self.step) % 11) - 5  # -5..5, changing each sample
        if vary == "counter":
            return base + (abs(base) * 1e-6 + 1) * (t % 86400) * (1 + w / 50)
        v = base * (1 + w / 50)
        return round(v) if base == int(base) else v

    def series_per_step(self):
        return self.nodes * len(self.tmpl)


# --- VictoriaMetrics: the Prometheus text format with millisecond timestamps ---------------------------

def esc(v):
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def vm_push(url, cl, t0, t1, batch_steps=4):
    prefix = {}
    n = 0
    t = t0
    while t <= t1:
        parts = []
        for tt in range(t, min(t + batch_steps * cl.step, t1 + 1), cl.step):
            ms = tt * 1000
            for node in range(cl.nodes):
                for i in range(len(cl.tmpl)):
                    ls = cl.labels(node, i, tt)
                    p = prefix.get(id(ls))
                    if p is None:
                        p = prefix[id(ls)] = ls[0][1] + "{" + ",".join(f'{k}="{esc(v)}"' for k, v in ls[1:]) + "} "
                    parts.append(f"{p}{cl.value(node, i, tt)!r} {ms}\n")
        body = "".join(parts).encode()
        n += len(parts)
        post(url + "/api/v1/import/prometheus", body, {})
        t += batch_steps * cl.step
    post(url + "/internal/force_flush", b"", {}, method="GET")
    return n


# --- Prometheus: remote write 1.0 (protobuf WriteRequest, snappy block format) -------------------------

def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pb_bytes(field, data):
    return varint(field << 3 | 2) + varint(len(data)) + data


def snappy_literal(data):
    """Snappy block format, literals only (valid snappy; no compression)."""
    out = bytearray(varint(len(data)))
    for off in range(0, len(data), 65536):
        chunk = data[off:off + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def prom_push(url, cl, t0, t1, max_series=20000):
    enc = {}
    n = 0
    headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
               "X-Prometheus-Remote-Write-Version": "0.1.0"}
    for t in range(t0, t1 + 1, cl.step):
        ms = varint(t * 1000)
        buf, count = [], 0
        for node in range(cl.nodes):
            for i in range(len(cl.tmpl)):
                ls = cl.labels(node, i, t)
                lb = enc.get(id(ls))
                if lb is None:  # Prometheus wants the labels sorted by name
                    lb = enc[id(ls)] = b"".join(pb_bytes(1, pb_bytes(1, k.encode()) + pb_bytes(2, v.encode()))
                                                for k, v in sorted(ls))
                sample = b"\x09" + struct.pack("<d", cl.value(node, i, t)) + b"\x10" + ms
                ts = lb + pb_bytes(2, sample)
                buf.append(b"\x0a" + varint(len(ts)) + ts)
                count += 1
                if count == max_series:
                    post(url + "/api/v1/write", snappy_literal(b"".join(buf)), headers)
                    n += count
                    buf, count = [], 0
        if buf:
            post(url + "/api/v1/write", snappy_literal(b"".join(buf)), headers)
            n += count
    return n


def post(url, body, headers, method="POST"):
    req = urllib.request.Request(url, data=body if method == "POST" else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{url}: HTTP {e.code}: {e.read()[:500]!r}")


# --- measurements -------------------------------------------------------------------------------------

def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def du_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total / 2 ** 20


class PeakRSS:
    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, rss_mib(pid), threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, rss_mib(self.pid))

    def __enter__(self):
        self.th.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.th.join()


def query(url, expr, t):
    q = urllib.parse.urlencode({"query": expr, "time": t, "step": "30s"})
    t0 = time.monotonic()
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=600) as r:
        d = json.load(r)
    dt = time.monotonic() - t0
    if d.get("status") != "success":
        raise SystemExit(f"{expr}: {d}")
    return dt, len(d["data"]["result"])


def rule_exprs(rules_dir):
    out = []
    for f in sorted(glob.glob(os.path.join(rules_dir, "*.rules.yml"))):
        for g in yaml.safe_load(open(f))["groups"]:
            for r in g["rules"]:
                out.append((r.get("record") or r.get("alert"), r["expr"]))
    return out


def jobstats_time(jobstats, url, cl, t0, t1, workdir, tag):
    """jobstats -j for node 0's first job slot's job at the end of the span (clipped to the span)."""
    jobid, start = cl.jobid(0, 0, t1)
    # One second after the first sample: Prometheus 2.x counts a sample exactly at a range's start, VictoriaMetrics
    # (and Prometheus 3) do not; real scrapes (millisecond timestamps) never sit on a job's start second.
    start = max(start, t0) + 1
    sacct = os.path.join(workdir, f"sacct-{tag}")
    with open(sacct, "w") as f:
        f.write(f"#!/bin/sh\necho '{jobid}|{start}|{t1}|sim|billing=32,cpu=32,gres/gpu=4,mem=512G,node=1||alice|"
                f"physics|COMPLETED|1|32|512G|normal|gpu|600|sim'\n")
    os.chmod(sacct, 0o755)
    conf = os.path.join(workdir, f"jobstats-{tag}.conf")
    with open(conf, "w") as f:
        f.write(f"prometheus_url = {url}\nsacct = {sacct}\nsampling_period = {cl.step}\ntimeout = 600\n")
    times, out = [], b""
    for _ in range(3):
        a = time.monotonic()
        out = subprocess.run([jobstats, "--config", conf, "-f", "-j", jobid], check=True, capture_output=True).stdout
        times.append(time.monotonic() - a)
    got = json.loads(out)
    if not got.get("nodes"):
        raise SystemExit(f"jobstats found no data for job {jobid} on {url}")
    return statistics.median(times), jobid, start, out


def engine_spec(s):
    url, pid, data = s.rsplit(":", 2)
    return {"url": url, "pid": int(pid), "data": data}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("template")
    ap.add_argument("nodes", type=int)
    ap.add_argument("span_hours", type=float)
    ap.add_argument("--vm", type=engine_spec, required=True)
    ap.add_argument("--prom", type=engine_spec, required=True)
    ap.add_argument("--jobstats", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--step", type=int, default=30)
    ap.add_argument("--job-hours", type=float, default=4)
    a = ap.parse_args()

    cl = Cluster(a.template, a.nodes, a.step, a.job_hours)
    t1 = int(time.time()) // a.step * a.step - a.step
    t0 = t1 - int(a.span_hours * 3600) + a.step
    steps = (t1 - t0) // a.step + 1
    res = {"nodes": a.nodes, "series_per_node_template": len(cl.tmpl), "job_slots_per_node": len(cl.slots),
           "job_hours": a.job_hours, "step_s": a.step, "span_hours": a.span_hours, "steps": steps,
           "samples_per_day": cl.series_per_step() * 86400 // a.step, "engines": {}}
    rules = rule_exprs(a.rules)
    jobs_out = {}
    for name, eng, push in (("victoriametrics", a.vm, vm_push), ("prometheus", a.prom, prom_push)):
        cpu0, w0 = cpu_seconds(eng["pid"]), time.monotonic()
        n = push(eng["url"], cl, t0, t1)
        wall = time.monotonic() - w0
        if name == "prometheus":  # the head as a block: the compacted size a day of blocks has
            snap = json.loads(post(eng["url"] + "/api/v1/admin/tsdb/snapshot", b"", {}))["data"]["name"]
            disk = du_mib(os.path.join(eng["data"], "snapshots", snap))
            wal = du_mib(os.path.join(eng["data"], "wal"))
        else:
            time.sleep(2)  # the flush's parts settle
            disk, wal = du_mib(eng["data"]), None
        cpu = cpu_seconds(eng["pid"]) - cpu0
        r = {"samples": n, "push_wall_s": round(wall, 1), "engine_cpu_s": round(cpu, 1),
             "engine_cpu_s_per_million": round(cpu / n * 1e6, 3),
             "disk_mib": round(disk, 1), "bytes_per_sample": round(disk * 2 ** 20 / n, 3),
             "rss_after_ingest_mib": round(rss_mib(eng["pid"]), 1)}
        if wal is not None:
            r["wal_mib"] = round(wal, 1)
        with PeakRSS(eng["pid"]) as peak:
            js, jobid, start, out = jobstats_time(a.jobstats, eng["url"], cl, t0, t1, a.workdir, name)
            jobs_out[name] = out
            rt = []
            for rname, expr in rules:
                dt, nres = query(eng["url"], expr, t1)
                rt.append((dt, rname, nres))
        r.update({"jobstats_s": round(js, 3), "jobstats_job": jobid, "jobstats_job_span_s": t1 - start,
                  "rules": len(rt), "rules_total_s": round(sum(x[0] for x in rt), 3),
                  "rule_slowest": [rt_[1] for rt_ in sorted(rt, reverse=True)[:1]][0],
                  "rule_slowest_s": round(max(x[0] for x in rt), 3),
                  "rss_peak_queries_mib": round(peak.peak, 1)})
        res["engines"][name] = r
        res["distinct_series"] = len(cl.cache)  # the span's series, churned job series included
        print(f"{name}: {json.dumps(r)}", file=sys.stderr)
    a_, b_ = (json.loads(jobs_out[k]) for k in ("victoriametrics", "prometheus"))
    res["jobstats_same_figures"] = a_ == b_
    if a_ != b_:
        res["jobstats_figures"] = {"victoriametrics": a_, "prometheus": b_}
    json.dump(res, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
