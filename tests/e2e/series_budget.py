"""series_budget.py - series counts, set differences and the budget table for test_series_budget.sh.

A series is a metric name and its label set, as Prometheus stores it.
  series_budget.py state FILE                 "<gpu>:<job> ...|<cgroup job> ..." the scrape shows
  series_budget.py count FILE                 number of series
  series_budget.py families FILE              "<family> <count>" per family, largest first
  series_budget.py diff BEFORE AFTER          "<created> <removed>" series between two scrapes
  series_budget.py difffam BEFORE AFTER       "<family> <created> <removed>" per family
  series_budget.py joblabels FILE             GPU series carrying a job or pod label (for info mode)
  series_budget.py budget DOC                 "<settings> <scenario> <budget>" rows of the doc's table
  series_budget.py measure DOC DIR REPORT SETTINGS STATES CHURNS
                                              every count against the budget, in one pass (the test's check)
"""
import re
import sys

# Labels that name a job or a pod: dcgm-exporter's hpc_job and pod labels, Princeton's jobid/userid.
JOB_LABELS = {"hpc_job", "jobid", "userid", "pod", "namespace", "container"}
# Series that are per job by nature: the info series (the join keys) and the per-job families
# (cgroup_*, jobtel_job_*), which carry the job in either mode.
PER_JOB = re.compile(r"^(jobtel_gpu_job_info|jobtel_gpu_process_job_info|jobtel_kubernetes_gpu_pod_info|"
                     r"nvidia_gpu_job(Id|Uid)|cgroup_.*|jobtel_cgroup_.*|jobtel_job_.*)$")


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def series(path):
    """{(family, labels text, value)}: one entry per sample line. The exporter writes each label set in one
    order, so the text is the series' identity; the tests validate the scrapes with promtool and
    prometheus_client (lib.sh validate) separately. Plain parsing keeps the polls cheap."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            m = LINE.match(line.rstrip("\n"))
            if not m:
                raise SystemExit(f"{path}: unparsable line {line!r}")
            out.append((m.group(1), m.group(3) or "", float(m.group(4))))
    return out


def labels(text):
    return dict(LABEL.findall(text))


def keys(path):
    return {(f, l) for f, l, _v in series(path)}


# The groups docs/scaling.md's tables break a count into, first match wins.
GROUPS = [
    ("DCGM_FI_*", re.compile(r"^DCGM_")),
    ("nvidia_gpu_*", re.compile(r"^nvidia_gpu_")),
    ("cgroup_*", re.compile(r"^(cgroup_|jobtel_cgroup_memory_peak_bytes$)")),
    ("jobtel_job_gpu_*", re.compile(r"^jobtel_job_gpu_")),
    ("jobtel_gpu_job_info", re.compile(r"^jobtel_gpu_job_info$")),
    ("other jobtel_*", re.compile(r".")),
]


def group_counts(ks):
    n = {g: 0 for g, _r in GROUPS}
    for f, _l in ks:
        for g, r in GROUPS:
            if r.match(f):
                n[g] += 1
                break
    return n


def budget_rows(doc):
    """(settings, scenario, budget) of the table between the two markers of DOC:
    | settings | scenario | measured | budget |"""
    text = open(doc, encoding="utf-8").read()
    m = re.search(r"<!-- series-budget:begin -->(.*?)<!-- series-budget:end -->", text, re.S)
    if not m:
        raise SystemExit("no series-budget table in " + doc)
    rows = []
    for line in m.group(1).splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[3].isdigit():
            rows.append((cells[0], cells[1], cells[3]))
    if not rows:
        raise SystemExit("empty series-budget table in " + doc)
    return rows


def main():
    cmd = sys.argv[1]
    if cmd == "state":
        pairs, cg = set(), set()
        for fam, text, v in series(sys.argv[2]):
            d = labels(text)
            if fam == "jobtel_job_gpu_active" and v == 1:
                pairs.add(f"{d['gpu']}:{d['jobid']}")
            if fam.startswith("cgroup_") and "jobid" in d:
                cg.add(d["jobid"])
        print(" ".join(sorted(pairs)) + "|" + " ".join(sorted(cg)))
    elif cmd == "count":
        print(len(keys(sys.argv[2])))
    elif cmd == "families":
        n = {}
        for f, _l in keys(sys.argv[2]):
            n[f] = n.get(f, 0) + 1
        for f, c in sorted(n.items(), key=lambda x: (-x[1], x[0])):
            print(f, c)
    elif cmd in ("diff", "difffam"):
        a, b = keys(sys.argv[2]), keys(sys.argv[3])
        if cmd == "diff":
            print(len(b - a), len(a - b))
            return
        fams = {}
        for k in b - a:
            fams.setdefault(k[0], [0, 0])[0] += 1
        for k in a - b:
            fams.setdefault(k[0], [0, 0])[1] += 1
        for f, (c, r) in sorted(fams.items(), key=lambda x: (-x[1][0] - x[1][1], x[0])):
            print(f, c, r)
    elif cmd == "joblabels":
        for f, text in sorted(keys(sys.argv[2])):
            if PER_JOB.match(f):
                continue
            if any(k in JOB_LABELS for k in labels(text)):
                print(f + "{" + text + "}")
    elif cmd == "measure":
        # measure DOC DIR REPORT SETTINGS STATES CHURNS: counts <DIR>/<settings>.<state>.txt and the churn
        # between the two states of each "before:after", prints the table, writes the report, and exits 1
        # when a count has no budget row or exceeds it.
        doc, d, report = sys.argv[2:5]
        settings, states, churns = (a.split() for a in sys.argv[5:8])
        budget = {(s, c): int(b) for s, c, b in budget_rows(doc)}
        rows, bad = [], []
        for st in settings:
            measured = [(sc, len(keys(f"{d}/{st}.{sc}.txt"))) for sc in states]
            for ch in churns:
                before, after = (keys(f"{d}/{st}.{x}.txt") for x in ch.split(":"))
                if not after - before:
                    bad.append(f"{st}, {ch}: a job's end created no series (the diff does not see the job)")
                measured.append(("churn-" + ch.split(":")[0], len(after - before) + len(before - after)))
            for sc, n in measured:
                b = budget.get((st, sc))
                rows.append(f"| `{st}` | {sc} | {n} | {b if b is not None else '?'} |")
                if b is None:
                    bad.append(f"no budget row for {st} / {sc} in {doc}")
                elif n > b:
                    bad.append(f"{st} / {sc}: {n} series, over the budget of {b}")
        table = ["| settings | scenario | measured | budget |", "|---|---|---|---|"] + rows
        with open(report, "w", encoding="utf-8") as out:
            out.write("## budget\n" + "\n".join(table) + "\n\n## per family, default settings\n")
            for sc in states:
                n = {}
                for f, _l in keys(f"{d}/default.{sc}.txt"):
                    n[f] = n.get(f, 0) + 1
                out.write(f"### {sc}\n")
                out.writelines(f"{f} {c}\n" for f, c in sorted(n.items(), key=lambda x: (-x[1], x[0])))
            out.write("\n## by group (" + ", ".join(g for g, _r in GROUPS) + ")\n")
            for st in settings:
                for sc in states:
                    n = group_counts(keys(f"{d}/{st}.{sc}.txt"))
                    out.write(f"| `{st}` | {sc} | " + " | ".join(str(n[g]) for g, _r in GROUPS) + " |\n")
                for ch in churns:
                    before, after = (keys(f"{d}/{st}.{x}.txt") for x in ch.split(":"))
                    n = group_counts((after - before) | (before - after))
                    out.write(f"| `{st}` | churn-{ch.split(':')[0]} | " + " | ".join(str(n[g]) for g, _r in GROUPS) + " |\n")
            for st in settings:
                out.write(f"## churn by family: {st}\n")
                for ch in churns:
                    before, after = (keys(f"{d}/{st}.{x}.txt") for x in ch.split(":"))
                    fams = {}
                    for k in after - before:
                        fams.setdefault(k[0], [0, 0])[0] += 1
                    for k in before - after:
                        fams.setdefault(k[0], [0, 0])[1] += 1
                    out.write(f"### {ch} (created removed)\n")
                    out.writelines(f"{f} {c} {r}\n" for f, (c, r) in sorted(fams.items(), key=lambda x: (-sum(x[1]), x[0])))
        print("\n".join(table))
        for b in bad:
            print(b, file=sys.stderr)
        sys.exit(1 if bad else 0)
    elif cmd == "budget":
        for row in budget_rows(sys.argv[2]):
            print(*row)
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
