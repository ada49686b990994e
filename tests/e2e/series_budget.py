"""series_budget.py - series counts, set differences and the budget table for test_series_budget.sh.

A series is a metric name and its label set, as Prometheus stores it.
  series_budget.py state FILE                 "<gpu>:<job> ...|<cgroup job> ..." the scrape shows
  series_budget.py count FILE                 number of series
  series_budget.py families FILE              "<family> <count>" per family, largest first
  series_budget.py diff BEFORE AFTER          "<created> <removed>" series between two scrapes
  series_budget.py difffam BEFORE AFTER       "<family> <created> <removed>" per family
  series_budget.py joblabels FILE             GPU series carrying a job or pod label (for info mode)
  series_budget.py budget DOC                 "<settings> <scenario> <budget>" rows of the doc's table
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
    elif cmd == "budget":
        # The table between the two markers: | settings | scenario | measured | budget |
        text = open(sys.argv[2], encoding="utf-8").read()
        m = re.search(r"<!-- series-budget:begin -->(.*?)<!-- series-budget:end -->", text, re.S)
        if not m:
            raise SystemExit("no series-budget table in " + sys.argv[2])
        for line in m.group(1).splitlines():
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if len(cells) != 4 or not cells[3].isdigit():
                continue
            print(cells[0], cells[1], cells[3])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
