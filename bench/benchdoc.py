"""benchdoc.py RESULTS_DIR - docs/benchmarks.md from what bench/run-all collected in RESULTS_DIR.

RESULTS_DIR holds machine.env (key=value), runs.tsv (script, status, seconds, load average at start and
end, reason), results.tsv (script, name, value, unit, peer value, peer: the RESULT lines of
bench/result.sh) and load.samples (the 1-minute load average every 5 s). Every ratio is jobtel's figure over
its peer's from the same script in the same run; nothing is compared across runs or machines.
"""
import statistics
import sys
from pathlib import Path

# The figures issue 17 asks for, in order: (script, result names tried in order, label, higher is better,
# target as a ratio to the peer or an absolute bound, shown as text).
HEADLINE = [
    ("bench_exporter", ["rss_kib"], "Exporter RSS, 8 GPUs", False, ""),
    ("bench_exporter", ["scrape_keepalive_p50"], "Scrape p50, keep-alive", False, ""),
    ("bench_exporter", ["scrape_keepalive_p99"], "Scrape p99, keep-alive", False, ""),
    ("bench_exporter", ["scrape_newconn_p99"], "Scrape p99, new connection each", False, ""),
    ("bench_exporter", ["throughput"], "Scrape throughput", True, ""),
    ("bench_hostile", ["scrape_attack_p99"], "Scrape p99 during a 1,000-connection attack", False, ""),
    ("bench_cgroup", ["cgroup_cpu_v1-real_1000", "cgroup_cpu_v1-fixture_1000"],
     "Collection CPU per pass, 1,000 cgroups", False, "≤ 1.5×"),
    ("bench_idle_cpu", ["idle_cpu_all"], "Idle daemon CPU, 8 GPUs + 1,250 cgroups", False, "≤ 0.5 % of a core"),
    ("bench_prolog", ["prolog_p50"], "Prolog p50, 8 GPUs", False, "≤ 1.5×"),
    ("bench_prolog", ["prolog_p99"], "Prolog p99, 8 GPUs", False, ""),
    ("bench_jobstats", ["jobstats_prometheus_p50"], "jobstats end to end p50, 3-day 8-GPU job, exact counters", False, "≤ 0.1×"),
    ("bench_jobstats", ["jobstats_summary_p50"], "jobstats from the stored summary p50", False, ""),
]

PEERS = {
    "node_exporter": "Debian prometheus-node-exporter",
    "node_exporter_tls": "node_exporter, same web config",
    "bash_prolog": "bash prolog (builtins, same 8 files)",
    "python_floor": "Python floor (requests, same queries)",
    "c_floor": "minimal C reader of the same files",
    "no_jobs": "same daemon, no jobs",
    "without_gpm": "same daemon, no GPM",
    "princeton_part": "Princeton's part of the summary alone (JS1)",
    "summary_budget": "the 16,000-byte budget of `jobtel summary`",
    "prometheus": "Prometheus, same samples",
}

WHAT = {
    "bench_exporter": "exporter memory, scrape latency and wrk throughput against node_exporter",
    "bench_prolog": "`jobtel prolog` wall time as slurmd pays it, against a bash prolog",
    "bench_jobstats": "one `jobstats` report end to end against a real Prometheus, against a Python floor",
    "bench_cgroup": "CPU per cgroup collection against a minimal C reader of the same files",
    "bench_idle_cpu": "the whole daemon's CPU at idle (8 fake GPUs, 1,250 cgroups), GPU and cgroup parts",
    "bench_hostile": "scrape latency during a hostile-client attack, against node_exporter under the same",
    "bench_tls": "TLS + basic auth scrape latency and RSS, against node_exporter with the same web config",
    "bench_accounting": "per-job accounting CPU and RSS, 64 jobs against no jobs",
    "bench_gpm": "GPM profiling CPU and RSS, against the same GPUs without GPM",
    "bench_summary_size": "the stored job summary (AdminComment) with per-GPU timelines, 1-hour, 1-day and 7-day"
                          " 8-GPU jobs, against Princeton's part alone and the 16,000-byte budget",
    "scale_sim": "a 100-node cluster's series in VictoriaMetrics against Prometheus (same samples, 2 h span):"
                 " ingest CPU, bytes per sample, RSS, a jobstats query and the recording rules",
}


def read_tsv(path, width):
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                cells = line.split("\t")
                rows.append(cells + [""] * (width - len(cells)))
    return rows


def num(text):
    try:
        return float(text)
    except ValueError:
        return None


def fmt(value, unit):
    v = num(value)
    if v is None:
        return value
    if unit in ("KiB",) and v >= 1024:
        return f"{v / 1024:.1f} MiB"
    if abs(v) >= 100:
        text = f"{v:,.0f}"
    elif abs(v) >= 10:
        text = f"{v:.1f}"
    else:
        text = f"{v:.3g}"
    if unit.startswith("of_"):
        return f"{text} of {unit[3:]}"
    if unit == "%core":
        return f"{text} % of a core"
    return f"{text} {unit}" if unit not in ("", "-") else text


def ratio(value, peer):
    a, b = num(value), num(peer)
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return f"{r:.2g}×" if r < 0.1 else f"{r:.2f}×"


def main():
    d = Path(sys.argv[1])
    env = {}
    for line in (d / "machine.env").read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    runs = read_tsv(d / "runs.tsv", 6)
    results = read_tsv(d / "results.tsv", 6)
    by = {(r[0], r[1]): r for r in results}
    loads = [float(x) for x in (d / "load.samples").read_text().split()] if (d / "load.samples").exists() else []

    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Generated by `bench/run-all`" + (" --quick" if env.get("mode") == "quick" else "") +
      " from the benchmarks under `bench/`; do not edit by hand. Regenerate with `bench/run-all` (a quarter of an"
      " hour) or `bench/run-all --quick` (a few minutes), after a plain (non-sanitizer) build.")
    if env.get("dry_run") == "1":
        w("")
        w("**Dry run: the figures below are the generator's sample, not measurements.**")
    w("")
    w("Every ratio is jobtel's figure over its peer's, both measured by the same script in the same run on the"
      " same machine, so machine load falls on both; below 1× jobtel is cheaper or faster (throughput: above"
      " 1× it serves more). Absolute figures move with the load shown beside each benchmark; the ratios are"
      " what to compare between runs.")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    ram = num(env.get("ram_kib", ""))
    for key, label in [("date", "Date"), ("commit", "jobtel commit"), ("cpu", "CPU"), ("cores", "Cores"),
                       ("ram", "RAM"), ("kernel", "Kernel"), ("os", "OS"), ("build_type", "Build type"),
                       ("compiler", "Compiler"), ("node_exporter", "prometheus-node-exporter"),
                       ("prometheus", "Prometheus"), ("python", "Python (floor)"), ("mode", "Run")]:
        value = f"{ram / 1048576:.1f} GiB" if key == "ram" and ram else env.get(key, "")
        if key == "build_type" and not value:
            value = "RelWithDebInfo (the project default)"
        w(f"| {label} | {value or 'unknown'} |")
    if loads:
        w(f"| Load average (1 min) during the run | min {min(loads):.2f}, mean {statistics.mean(loads):.2f},"
          f" max {max(loads):.2f} ({len(loads)} samples, 5 s apart) |")
    w("")

    w("## Headline figures")
    w("")
    w("| Figure | jobtel | Peer (same run) | Peer's figure | Ratio | Target |")
    w("|---|---|---|---|---|---|")
    for script, names, label, higher, target in HEADLINE:
        row = next((by[(script, n)] for n in names if (script, n) in by), None)
        if row is None:
            ran = any(r[0] == script and r[1] in ("ran", "partial") for r in runs)
            why = f"no `{names[0]}` from `{script}`" if ran else f"`{script}` not run"
            w(f"| {label} | not measured ({why}) | | | | {target} |")
            continue
        _, name, value, unit, peer_value, peer = row
        peer_text = PEERS.get(peer, peer) if peer != "-" else "none (absolute target)"
        r = ratio(value, peer_value) if peer != "-" else "–"
        if higher and r != "–":
            r += " (higher is better)"
        w(f"| {label} | {fmt(value, unit)} | {peer_text} | {fmt(peer_value, unit) if peer != '-' else '–'}"
          f" | {r} | {target} |")
    w("")

    w("## Every figure, by benchmark")
    for script, status, secs, l0, l1, why in runs:
        if status not in ("ran", "partial"):
            continue
        w("")
        w(f"### {script}")
        w("")
        w(f"{WHAT.get(script, 'found under bench/ (no description in bench/benchdoc.py)')}. "
          f"{status.capitalize()} in {secs} s; load average {l0} at the start, {l1} at the end."
          + (f" {why}." if why else ""))
        rows = [r for r in results if r[0] == script]
        if not rows:
            continue
        w("")
        w("| Result | jobtel | Peer | Peer's figure | Ratio |")
        w("|---|---|---|---|---|")
        for _, name, value, unit, peer_value, peer in rows:
            if peer == "-":
                w(f"| `{name}` | {fmt(value, unit)} | – | – | – |")
            else:
                w(f"| `{name}` | {fmt(value, unit)} | {PEERS.get(peer, peer)} | {fmt(peer_value, unit)}"
                  f" | {ratio(value, peer_value)} |")

    skipped = [r for r in runs if r[1] not in ("ran", "partial")]
    w("")
    w("## Not run")
    w("")
    if not skipped:
        w("Every benchmark found under `bench/` ran.")
    else:
        for script, status, secs, l0, l1, why in skipped:
            w(f"- `{script}`: {why or status}")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
