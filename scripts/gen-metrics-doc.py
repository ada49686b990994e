#!/usr/bin/python3
"""gen-metrics-doc.py - writes docs/metrics.md from the metric tables in the source.

Reads the tables the exporter emits from (dcgm_fields and jobstats_metrics in
src/collectors/gpu_fields.c, cg_metrics in src/collectors/cgroup.c), every expo_family() call with a
literal name, and the literal "# HELP"/"# TYPE" lines of the self metrics. tests/e2e/test_metrics_doc.sh
fails when docs/metrics.md differs from what this prints, and when a live scrape has a family the
tables do not list. Usage: gen-metrics-doc.py SRC_ROOT > docs/metrics.md
"""
import glob
import os
import re
import sys

STR = r'((?:"(?:[^"\\]|\\.)*"\s*)+)'  # one C string literal or several concatenated


def cstr(lits):
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', lits)
    return "".join(parts).replace('\\"', '"').replace("\\n", "")


def main(root):
    fams = {}  # name -> [type, help, file, extra]

    def add(name, typ, help_, path, extra=""):
        rel = os.path.relpath(path, root)
        if name in fams:
            if not fams[name][1] and help_:
                fams[name][1] = help_
            if extra and extra not in fams[name][3]:
                fams[name][3] = (fams[name][3] + ", " + extra).strip(", ")
            return
        fams[name] = [typ, help_, rel, extra]

    gf = os.path.join(root, "src/collectors/gpu_fields.c")
    text = open(gf).read()
    body = text[text.index("dcgm_fields[] = {"):]
    body = body[:body.index("};")]
    for m in re.finditer(r'\{\s*"(DCGM_[A-Z0-9_]+)",\s*R_\w+,\s*[^,]+,\s*\w+,\s*(CT_\w+),\s*' + STR + r',\s*(\w+)\s*\}', body):
        add(m.group(1), "counter" if m.group(2) == "CT_COUNTER" else "gauge", cstr(m.group(3)), gf,
            "per MIG instance too" if m.group(4) == "true" else "")
    defaults = set(re.findall(r'"(DCGM_FI_[A-Z0-9_]+), (?:gauge|counter)', text[text.index("dcgm_default_counters_csv"):]))
    # --collector.gpu.fields=minimal keeps these (render_dcgm.c, render_jobstats.c)
    rd = open(os.path.join(root, "src/collectors/render_dcgm.c")).read()
    minimal = set(re.findall(r'"(DCGM_FI_[A-Z0-9_]+), (?:gauge|counter)', rd[rd.index("dcgm_minimal_counters_csv"):]))
    rj = open(os.path.join(root, "src/collectors/render_jobstats.c")).read()
    rj = rj[rj.index("jobstats_minimal_names[] = {"):]
    minimal |= set(re.findall(r'"(nvidia_gpu_\w+)"', rj[:rj.index("};")]))
    body = text[text.index("jobstats_metrics[] = {"):]
    body = body[:body.index("};")]
    for m in re.finditer(r'\{\s*"(nvidia_gpu_\w+)",\s*R_\w+,\s*[^,]+,\s*(NULL|' + STR + r'),\s*(NULL|"(\w+)")', body):
        add(m.group(1), "gauge", "" if m.group(2) == "NULL" else cstr(m.group(2)), gf,
            f"label `{m.group(5)}`" if m.group(5) else "")

    rd = os.path.join(root, "src/collectors/render_dcgm.c")
    body = open(rd).read()
    body = body[body.index("exp_defs[DCGM_EXP_N] = {"):]
    body = body[:body.index("};")]
    for m in re.finditer(r'\[DCGM_EXP_\w+\]\s*=\s*\{\s*"(DCGM_EXP_\w+)",\s*' + STR + r'\}', body):
        add(m.group(1), "as the CSV", cstr(m.group(2)), rd, "synthesised; type and help from the counters file")

    cg = os.path.join(root, "src/collectors/cgroup.c")
    text = open(cg).read()
    body = text[text.index("cg_metrics[CG_NFIELDS] = {"):]
    body = body[:body.index("};")]
    for m in re.finditer(r'\{\s*"(\w+)",\s*' + STR + r',\s*CG_\w+,\s*\w+\s*\}', body):
        add(m.group(1), "gauge", cstr(m.group(2)), cg)

    for path in sorted(glob.glob(os.path.join(root, "src/**/*.c"), recursive=True)):
        text = open(path).read()
        for m in re.finditer(r'expo_family\(\s*\w+,\s*"(\w+)",\s*METRIC_(\w+),\s*' + STR + r'\)', text):
            add(m.group(1), m.group(2).lower(), cstr(m.group(3)), path)
        for m in re.finditer(r'"# HELP (\w+) ((?:[^"\\]|\\.)*?)\\n"\s*"# TYPE \1 (\w+)\\n"', text):
            add(m.group(1), m.group(3), m.group(2), path)

    groups = [
        ("dcgm-exporter names (`DCGM_FI_*`, `DCGM_EXP_*`)", lambda n: n.startswith("DCGM_"),
         "Labels and units as dcgm-exporter ([exporter.md](exporter.md)). *default*: in dcgm-exporter's default "
         "field list, which jobtel serves when no counters file (`-f`) is given; the others need a counters file naming them. "
         "*minimal*: kept by `--collector.gpu.fields=minimal` ([scaling.md](scaling.md))."),
        ("Princeton names (`nvidia_gpu_*`)", lambda n: n.startswith("nvidia_gpu_"),
         "As plazonic/nvidia_gpu_prometheus_exporter names them; switched off with `--no-collector.gpu.jobstats-names`. "
         "*minimal*: kept by `--collector.gpu.fields=minimal` (`nvidia_gpu_num_devices`, `_jobId`, `_jobUid` and "
         "`_last_error` are always served)."),
        ("Per-job CPU and memory (`cgroup_*`)", lambda n: n.startswith("cgroup_"),
         "As Princeton's cgroup_exporter names them; labels `jobid`, `step`, `task` ([cgroup.md](cgroup.md))."),
        ("jobtel's own (`jobtel_*`)", lambda n: n.startswith("jobtel_"), ""),
    ]
    out = ["# Metrics reference", "",
           "Generated by `scripts/gen-metrics-doc.py` from the metric tables in the source; do not edit by hand.",
           "`tests/e2e/test_metrics_doc.sh` fails when this file and the code differ.", ""]
    seen = set()
    for title, pred, note in groups:
        names = sorted(n for n in fams if pred(n))
        if not names:
            continue
        out += [f"## {title}", ""]
        if note:
            out += [note, ""]
        out += ["| metric | type | help | notes | defined in |", "|---|---|---|---|---|"]
        for n in names:
            typ, help_, rel, extra = fams[n]
            notes = extra
            if n in minimal:
                notes = ("minimal, " + notes).strip(", ")
            if n.startswith("DCGM_FI_") and n in defaults:
                notes = ("default, " + notes).strip(", ")
            cell = help_.replace("|", "\\|")
            out.append(f"| `{n}` | {typ} | {cell} | {notes} | `{rel}` |")
            seen.add(n)
        out.append("")
    rest = sorted(set(fams) - seen)
    if rest:
        out += ["## Other", "", "| metric | type | help | notes | defined in |", "|---|---|---|---|---|"]
        for n in rest:
            typ, help_, rel, extra = fams[n]
            out.append(f"| `{n}` | {typ} | {help_} | {extra} | `{rel}` |")
        out.append("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
