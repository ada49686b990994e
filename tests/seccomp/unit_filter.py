#!/usr/bin/python3
"""unit_filter.py UNIT PROFILE - the systemd unit's SystemCallFilter allows every syscall the seccomp profile
(OCI JSON) allows, but those only the uid-0 mode of the DaemonSet makes.

The unit's filter is expanded with `systemd-analyze syscall-filter` (groups nest): the first allow-list
line sets the list, each `~` line takes its syscalls out, as systemd applies them. The unit starts the
daemon as User=jobtel, so src/exporter/privdrop.c takes the unprivileged path there: it never changes its
groups or capabilities (setgroups, capset are in @privileged, denied by the unit). Exit 1 with the list of
syscalls the unit would refuse.
"""
import json
import re
import subprocess
import sys

UID0_ONLY = {"setgroups", "capset"}
_cache = {}


def expand(name):
    if not name.startswith("@"):
        return {name}
    if name in _cache:
        return _cache[name]
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name], check=True,
                         capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines()[1:]:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        found |= expand(s)
    _cache[name] = found
    return found


def main():
    unit, profile = sys.argv[1], sys.argv[2]
    allowed = None
    for line in open(unit):
        m = re.match(r"\s*SystemCallFilter=(.*)$", line)
        if not m:
            continue
        v = m.group(1).strip()
        deny = v.startswith("~")
        names = set()
        for tok in v.lstrip("~").split():
            names |= expand(tok)
        if deny:
            allowed = (allowed or set()) - names
        else:
            allowed = (allowed or set()) | names
    if not allowed:
        sys.exit("FAIL: %s has no SystemCallFilter allow-list" % unit)
    p = json.load(open(profile))
    wanted = {n for r in p["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    missing = sorted(wanted - allowed - UID0_ONLY)
    print("unit_filter: profile %d syscalls, unit allows %d; uid-0 mode only: %s" % (
        len(wanted), len(allowed), " ".join(sorted(UID0_ONLY & wanted))))
    if missing:
        sys.exit("FAIL: the unit's SystemCallFilter refuses what the profile allows: " + " ".join(missing))


if __name__ == "__main__":
    main()
