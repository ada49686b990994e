#!/bin/bash
# test_jobstats_html.sh - `jobstats --html FILE JOBID` from the stored summary alone (the configured
# Prometheus does not listen), rendered by headless Chromium (Debian's chromium):
# - a screenshot is taken and decoded: the heatmaps' colours (both ends of the ramp, the grey of "no
#   data") and the node chart's mean line are on screen;
# - the DOM Chromium built has the charts and series the job has: one heatmap per metric, one row per GPU
#   (per node for CPU), gaps where the stored timeline has none, one mean/min-max chart per node, the
#   text report;
# - the page loads nothing: the file has no URL at all, and Chromium, behind a proxy that does not listen,
#   logs no request the page made (its own background requests, initiated by no origin, are told apart;
#   a control page with one remote image shows the check catches a page's request).
source "$(dirname "$0")/lib.sh"
JOBSTATS=$(dirname "$JOBTEL")/jobstats
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] || fail "chromium is not installed (scripts/install-deps.sh installs it)"
FX=$SRC/tests/fixtures/jobstats/timeline
source "$(dirname "$0")/stored_job.sh"
stored_job_setup 'a <b>&"name"'

"$JOBSTATS" --config "$T/jobstats.conf" --html "$T/job.html" 5005 >"$T/html.out" 2>"$T/html.err" || fail "--html: $(cat "$T/html.err")"
[ -s "$T/job.html" ] && [ ! -e "$T/job.html.tmp" ] || fail "--html wrote no page (or left its temporary file)"
[ ! -s "$T/html.out" ] || fail "--html printed to stdout: $(head -c 300 "$T/html.out")"
# No URL of any kind, no script, nothing for a browser to fetch; the user's job name is escaped.
if grep -Eni '<script|<link|<img|<iframe|<object|<embed|@import|url\(|src=|href=|xmlns|https?:|//' "$T/job.html" >"$T/urls"; then
    fail "the page has something a browser could load: $(head -c 400 "$T/urls")"
fi
grep -qF 'a &lt;b&gt;&amp;&quot;name&quot;' "$T/job.html" || fail "the job name is not HTML-escaped"
pass "--html from the stored summary alone: one file, no URL, no script"

# Chromium, isolated: a new profile directory per run, and a proxy that does not listen.
chrome() {
    local profile
    profile=$(mktemp -d "$T/chromium.XXXXXX")
    timeout -k 10 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
        --proxy-server="127.0.0.1:$DEAD" "$@"
}
chrome --screenshot="$T/shot.png" --window-size=1000,2400 "file://$T/job.html" >"$T/shot.log" 2>&1 \
    || fail "chromium --screenshot failed: $(tail -n 5 "$T/shot.log")"
[ -s "$T/shot.png" ] || fail "no screenshot"
# The ramp's two ends (dark purple 440154, yellow fde725), the grey of unknown cells (d9d9d9), the node
# chart's mean line (08519c): what a blank or half-drawn page would not have.
"$PY" "$SRC/tests/e2e/pngstats.py" "$T/shot.png" 440154 fde725 d9d9d9 08519c >"$T/png.txt" \
    || fail "the screenshot lacks the charts: $(cat "$T/png.txt")"
"$PY" - "$T/png.txt" <<'EOP' || fail "screenshot: $(cat "$T/png.txt")"
import re, sys
w, h, n = map(int, re.match(r"(\d+)x(\d+), (\d+) colours", open(sys.argv[1]).read()).groups())
assert (w, h) == (1000, 2400) and n >= 20, (w, h, n)
EOP
pass "Chromium screenshot: $(cat "$T/png.txt"), the heatmap colours, the gap grey and the mean line on screen"

chrome --log-net-log="$T/net.json" --dump-dom "file://$T/job.html" >"$T/dom.html" 2>"$T/dom.log" \
    || fail "chromium --dump-dom failed: $(tail -n 5 "$T/dom.log")"
"$PY" - "$T/dom.html" <<'EOP' || fail "the charts in Chromium's DOM"
import sys
from html.parser import HTMLParser

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts, self.cur = [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.cur = {"chart": a.get("data-chart"), "metric": a.get("data-metric"), "node": a.get("data-node"),
                        "rows": [], "gaps": {}, "series": []}
            self.charts.append(self.cur)
        elif self.cur is not None and tag == "g" and "data-row" in a:
            self.cur["rows"].append(a["data-row"])
        elif self.cur is not None and tag == "rect" and a.get("class") == "gap" and self.cur["rows"]:
            r = self.cur["rows"][-1]
            self.cur["gaps"][r] = self.cur["gaps"].get(r, 0) + 1
        elif self.cur is not None and "data-series" in a:
            self.cur["series"].append(a["data-series"])
    def handle_endtag(self, tag):
        if tag == "svg":
            self.cur = None

p = P()
dom = open(sys.argv[1]).read()
p.feed(dom)
heat = {c["metric"]: c for c in p.charts if c["chart"] == "heatmap"}
gpus = ["gpu-n1 GPU 0", "gpu-n1 GPU 1", "gpu-n2 GPU 0", "gpu-n2 GPU 1"]
assert sorted(heat) == sorted(["util", "power", "mem", "sm", "clock", "throttle", "cpu_cpu", "cpu_mem"]), sorted(heat)
for m in ("util", "power", "mem", "sm", "clock", "throttle"):
    assert heat[m]["rows"] == gpus, (m, heat[m]["rows"])
    # gpu-n1 GPU 1 has unknown values and a stretch without points; the others are complete.
    assert heat[m]["gaps"].get("gpu-n1 GPU 1", 0) >= 20 and set(heat[m]["gaps"]) == {"gpu-n1 GPU 1"}, (m, heat[m]["gaps"])
assert heat["cpu_cpu"]["rows"] == ["gpu-n1"], heat["cpu_cpu"]["rows"]
avg = [c for c in p.charts if c["chart"] == "node-average"]
assert [c["node"] for c in avg] == ["gpu-n1", "gpu-n2"], [c["node"] for c in avg]
for c in avg:
    assert "mean" in c["series"] and "band" in c["series"], c["series"]
# gpu-n1's chart breaks where its GPUs have no data at all: only GPU 1 has gaps, so one run each.
assert 'data-chart="report"' in dom and "Exact GPU Accounting" in dom and "GPU utilization (exact)  43.8%" in dom
print("charts:", {m: len(c["rows"]) for m, c in heat.items()}, "node charts:", len(avg))
EOP

# The network: every request Chromium logged. A request the page made has the page as its initiator;
# Chromium's own background requests (update checks, time, accounts) have "not an origin". Only file://
# may appear as the page's.
cat >"$T/netcheck.py" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
names = {v: k for k, v in d["constants"]["logEventTypes"].items()}
page, browser = [], []
for e in d["events"]:
    p = e.get("params", {})
    if names.get(e["type"]) != "URL_REQUEST_START_JOB" or "url" not in p:
        continue
    (browser if p.get("initiator") == "not an origin" else page).append(p["url"])
bad = [u for u in page if not u.startswith("file://")]
print(f"{len(page)} request(s) by the page, {len(browser)} by Chromium itself")
if bad:
    print("the page requested:", bad)
    sys.exit(1)
EOP
"$PY" "$T/netcheck.py" "$T/net.json" >"$T/net.txt" || fail "the page loaded something: $(cat "$T/net.txt")"
# Control: the same check catches a page that loads one remote image.
printf '<!DOCTYPE html><html><body><img src="http://127.0.0.1:%s/x.png"></body></html>\n' "$DEAD" >"$T/control.html"
chrome --log-net-log="$T/net-control.json" --dump-dom "file://$T/control.html" >/dev/null 2>&1 || fail "chromium (control page)"
if "$PY" "$T/netcheck.py" "$T/net-control.json" >"$T/net-control.txt"; then
    fail "the network check does not see a page's request: $(cat "$T/net-control.txt")"
fi
pass "Chromium's DOM has every chart and series, and its net log shows no request by the page ($(cat "$T/net.txt"))"
