#!/bin/bash
# test_prometheus_rules.sh - deploy/prometheus/rules: promtool accepts every rule file, the unit tests in
# jobtel-alerts.test.yml pass, and they cover every alert both firing and not firing; every alert has a
# runbook annotation. promtool missing is a failure (scripts/install-deps.sh installs it).
. "$(dirname "$0")/lib.sh"

R="$SRC/deploy/prometheus/rules"
command -v promtool >/dev/null || fail "promtool not installed"
files=("$R"/*.rules.yml)
[ -f "${files[0]}" ] || fail "no rule files in $R"
promtool check rules "${files[@]}" || fail "promtool check rules"
(cd "$R" && promtool test rules jobtel-alerts.test.yml) || fail "promtool test rules"

# Coverage: each alert (and each recording rule) is exercised; alerts both ways.
"$PY" - "$R" <<'PY' || fail "rule tests do not cover every rule"
import glob, os, sys, yaml
r = sys.argv[1]
alerts, records = {}, set()
for f in sorted(glob.glob(os.path.join(r, "*.rules.yml"))):
    for g in yaml.safe_load(open(f))["groups"]:
        for rule in g["rules"]:
            if "alert" in rule:
                alerts[rule["alert"]] = rule
            else:
                records.add(rule["record"])
t = yaml.safe_load(open(os.path.join(r, "jobtel-alerts.test.yml")))
firing, quiet, exprs = set(), set(), ""
for case in t["tests"]:
    for a in case.get("alert_rule_test", []):
        (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
    for e in case.get("promql_expr_test", []):
        exprs += e["expr"] + "\n"
bad = []
for name, rule in alerts.items():
    if name not in firing: bad.append(f"{name}: no firing case")
    if name not in quiet: bad.append(f"{name}: no not-firing case")
    if not rule.get("annotations", {}).get("runbook"): bad.append(f"{name}: no runbook annotation")
    if not rule.get("labels", {}).get("severity"): bad.append(f"{name}: no severity")
for rec in records:
    if rec not in exprs: bad.append(f"{rec}: recording rule not tested")
if len(alerts) < 13: bad.append(f"only {len(alerts)} alerts")
for b in bad: print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
pass "prometheus rules: check, unit tests, coverage"
