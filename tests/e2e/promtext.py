"""promtext.py - an independent reader of the Prometheus text format for the e2e tests.

Uses prometheus_client's parser (Debian python3-prometheus-client), so what jobtel writes is checked
by a second implementation, and adds the check neither it nor promtool makes: no duplicate series.
  promtext.py validate FILE
  promtext.py value FILE 'name{a="b"}'     exact label set; prints the value
  promtext.py count FILE NAME [KEY=VALUE ...]   samples of NAME (* for any name) with these labels
  promtext.py select FILE name KEY=VALUE LABEL   distinct LABEL values of matching samples
"""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families


def names(fam, s):
    """Names a sample may be asked for: prometheus_client renames a counter's samples <family>_total
    whether or not the file spelled the suffix (DCGM's counters do not)."""
    if fam.type == "counter" and s.name == fam.name + "_total":
        return (s.name, fam.name)
    return (s.name,)


def samples(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            yield fam, s


def parse_conds(args):
    conds = []
    for a in args:
        k, sep, v = a.partition("=")
        if not sep:
            raise SystemExit("bad label condition " + a + " (want KEY=VALUE)")
        conds.append((k, v))
    return conds


def parse_selector(sel):
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?', sel)
    if not m:
        raise SystemExit("bad selector " + sel)
    labels = {}
    if m.group(3):
        for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3)):
            labels[k] = v.encode().decode("unicode_escape")
    return m.group(1), labels


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "validate":
        seen = set()
        n = 0
        for _fam, s in samples(path):
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                print("duplicate series:", s.name, s.labels, file=sys.stderr)
                sys.exit(1)
            seen.add(key)
            n += 1
        if n == 0:
            print("no samples", file=sys.stderr)
            sys.exit(1)
        return
    if cmd == "value":
        name, labels = parse_selector(sys.argv[3])
        for fam, s in samples(path):
            if name in names(fam, s) and s.labels == labels:
                print(repr(s.value) if s.value != int(s.value) else int(s.value))
                return
        sys.exit(1)
    if cmd == "select":
        # select FILE NAME KEY=VALUE LABEL: sorted distinct LABEL values of NAME's samples with KEY=VALUE
        name, cond, out = sys.argv[3], sys.argv[4], sys.argv[5]
        k, v = cond.split("=", 1)
        vals = sorted({s.labels.get(out, "") for f, s in samples(path) if name in names(f, s) and s.labels.get(k) == v})
        print(" ".join(vals))
        return
    if cmd == "count":
        # A file with no sample at all is an error: "none of X" must not pass on an empty scrape.
        name, conds = sys.argv[3], parse_conds(sys.argv[4:])
        total = n = 0
        for f, s in samples(path):
            total += 1
            if (name == "*" or name in names(f, s)) and all(s.labels.get(k) == v for k, v in conds):
                n += 1
        if total == 0:
            print("no samples in " + path, file=sys.stderr)
            sys.exit(1)
        print(n)
        return
    raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
