#!/bin/bash
# test_ansible.sh - deploy/ansible as an admin runs it, against throwaway targets this machine hosts:
# each inventory host is a local connection to its own prefix (jobtel_root), and the packages' files come
# from this build's install tree (`cmake --install` to a DESTDIR; jobtel_install_method: tree). The
# hosts of one play run in parallel, so four cases cost one run: a GPU node editing its slurm.conf, a
# GPU node on BCM (links in BCM's prologs dir, slurm.conf untouched), the controller, the controller on
# BCM (prints the cmsh commands), and a GPU node whose slurm.conf names a site's own Prolog (refused).
# A Prometheus host in existing mode rides along (targets from cmsh, prometheus.yml untouched). Then:
# applied again, zero changes; --check --diff on fresh roots writes nothing and reports the change.
. "$(dirname "$0")/lib.sh"
for tool in ansible-playbook promtool; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"
done
PLAYBOOK="$SRC/deploy/ansible/site.yml"
export ANSIBLE_CONFIG="$SRC/deploy/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP="$T/ansible-tmp" \
    ANSIBLE_HOME="$T/ansible-home"

# recap HOST FIELD LOG: the PLAY RECAP's count (ok, changed, failed...) for HOST.
recap() {
    sed -n "s/^$1 *: .*[[:space:]]$2=\([0-9]*\).*/\1/p" "$3" | tail -n 1
}

# The playbook, and the two example inventories with their group_vars.
EX=$SRC/deploy/ansible/inventories
ansible-playbook --syntax-check -i "$EX/new-deployment" -i "$EX/existing-prometheus" "$PLAYBOOK" >"$T/syntax.log" 2>&1 \
    || fail "syntax-check: $(cat "$T/syntax.log")"
! grep -q WARNING "$T/syntax.log" || fail "syntax-check warns: $(cat "$T/syntax.log")"
ansible-inventory -i "$EX/new-deployment" --host dgx003 >"$T/inv1.json" 2>&1 || fail "new-deployment inventory: $(cat "$T/inv1.json")"
grep -q '"jobtel_deb_dir": "/srv/jobtel-debs"' "$T/inv1.json" || fail "new-deployment group_vars not read: $(cat "$T/inv1.json")"
ansible-inventory -i "$EX/existing-prometheus" --host dgx-16 >"$T/inv2.json" 2>&1 || fail "existing-prometheus inventory: $(cat "$T/inv2.json")"
grep -q '"jobtel_prometheus_mode": "existing"' "$T/inv2.json" || fail "existing-prometheus group_vars not read: $(cat "$T/inv2.json")"
pass "ansible-playbook --syntax-check; the example inventories parse"

# The files the packages hold, from this build (the same install rules debian/rules uses).
DESTDIR="$T/tree" cmake --install "$(dirname "$JOBTEL")" --prefix /usr >"$T/install.log" 2>&1 || fail "cmake --install"

SITE_CONF='ClusterName=lab
SlurmctldHost=ctl(127.0.0.1)
AccountingStorageTRES=gres/shard
PrologFlags=Alloc
NodeName=gpu01 Gres=gpu:4 State=UNKNOWN
'
mkroot() { # mkroot DIR: a fresh host root holding the site's slurm.conf
    install -d "$1/etc/slurm"
    printf '%s' "$SITE_CONF" >"$1/etc/slurm/slurm.conf"
}
for h in gpu gpubcm ctl ctlbcm siteprolog fgpu promx; do mkroot "$T/r-$h"; done
printf 'Prolog=/etc/slurm/site-prolog.sh\n' >>"$T/r-siteprolog/etc/slurm/slurm.conf"
cp "$T/r-siteprolog/etc/slurm/slurm.conf" "$T/siteprolog.conf"
cp "$T/r-gpubcm/etc/slurm/slurm.conf" "$T/gpubcm.conf"
chmod 0640 "$T/r-ctl/etc/slurm/slurm.conf" # rewriting it keeps its mode
# A site's edit of a conffile survives (the tree method copies conffiles only when missing).
install -d "$T/r-gpu/etc/jobtel"
printf '# site edit\nJOBTEL_EXPORTER_ARGS="--old"\n' >"$T/r-gpu/etc/jobtel/jobtel-exporter.env"

inventory() { # inventory FILE HOST[:bcm|:svc|:existing] ... (GPU nodes, after "--" controllers, after "++" Prometheus)
    local f=$1 group=gpu_nodes h
    shift
    {
        printf 'all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: /usr/bin/python3\n'
        printf '    jobtel_install_method: tree\n    jobtel_tree_dir: %s\n    jobtel_cluster: lab\n' "$T/tree"
        printf '    jobtel_exporter_args: "--web.listen-address=:9400 --collect.interval=2s"\n'
        printf '    jobtel_prometheus_url: http://prom.example:9090\n  children:\n    gpu_nodes:\n      hosts:\n'
        for h in "$@"; do
            if [ "$h" = -- ]; then printf '    slurm_controller:\n      hosts:\n'; continue; fi
            if [ "$h" = ++ ]; then printf '    prometheus:\n      hosts:\n'; continue; fi
            printf '        %s:\n          jobtel_root: %s\n' "${h%%:*}" "$T/r-${h%%:*}"
            # BCM nodes get the packages from their software image: configuration only.
            case $h in *:bcm) printf '          bcm: true\n          jobtel_install_method: none\n' ;; esac
            # A dry run as on a real host: services managed, their units not installed yet.
            case $h in *:svc) printf '          jobtel_manage_services: true\n' ;; esac
            # The site's own Prometheus on a BCM head node: targets from cmsh, prometheus.yml untouched.
            case $h in *:existing) printf '          jobtel_prometheus_mode: existing\n          jobtel_targets_source: bcm\n' ;; esac
        done
    } >"$f"
}
inventory "$T/hosts.yml" gpu gpubcm:bcm siteprolog -- ctl ctlbcm:bcm ++ promx:existing

# --- first run -------------------------------------------------------------------------------------
rc=0
ansible-playbook -i "$T/hosts.yml" "$PLAYBOOK" >"$T/run1.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "first run: exit $rc, want 2 (one host refused): $(tail -n 30 "$T/run1.log")"
for h in gpu gpubcm ctl ctlbcm promx; do
    [ "$(recap "$h" failed "$T/run1.log")" = 0 ] || fail "$h failed: $(grep -E "(fatal|failed): \[$h\]" "$T/run1.log")"
    [ "$(recap "$h" changed "$T/run1.log")" -gt 0 ] || fail "$h: first run changed nothing"
done
[ "$(recap siteprolog failed "$T/run1.log")" = 1 ] || fail "a site's own Prolog= was not refused"
grep -q 'has Prolog=/etc/slurm/site-prolog.sh' "$T/run1.log" || fail "the refusal does not name the site's Prolog"
cmp -s "$T/siteprolog.conf" "$T/r-siteprolog/etc/slurm/slurm.conf" || fail "the refused host's slurm.conf changed"
pass "first run: 4 hosts configured, the site's own Prolog refused with its name and left alone"

# The GPU node: programs, unit, options, mapping dirs, slurm.conf.
R=$T/r-gpu
"$R/usr/bin/jobtel" --version | grep -q version || fail "installed jobtel does not run"
[ -x "$R/usr/bin/jobtel-exporter" ] && [ -x "$R/usr/lib/jobtel/jobtel-prolog.sh" ] || fail "exporter or prolog wrapper not installed"
cmp -s "$SRC/deploy/systemd/jobtel-exporter.service" "$R/lib/systemd/system/jobtel-exporter.service" || fail "unit file"
grep -qx 'JOBTEL_EXPORTER_ARGS="--web.listen-address=:9400 --collect.interval=2s"' "$R/etc/jobtel/jobtel-exporter.env" \
    || fail "exporter options: $(cat "$R/etc/jobtel/jobtel-exporter.env")"
grep -qx '# site edit' "$R/etc/jobtel/jobtel-exporter.env" || fail "the site's edit of the conffile is gone"
[ "$(grep -c JOBTEL_EXPORTER_ARGS "$R/etc/jobtel/jobtel-exporter.env")" = 1 ] || fail "two JOBTEL_EXPORTER_ARGS lines"
for d in run/dcgm-job-map run/gpustat; do
    [ "$(stat -c %U:%a "$R/$d")" = root:755 ] || fail "$d: $(stat -c %U:%a "$R/$d" 2>&1)"
done
want_conf() { # want_conf FILE: the site's lines kept, jobtel's lines present exactly once
    local f=$1 l
    for l in 'ClusterName=lab' 'PrologFlags=Alloc' 'NodeName=gpu01 Gres=gpu:4 State=UNKNOWN' \
        'Prolog=/usr/lib/jobtel/jobtel-prolog.sh' 'Epilog=/usr/lib/jobtel/jobtel-epilog.sh' \
        'EpilogSlurmctld=/usr/lib/jobtel/jobtel-epilog-slurmctld.sh' 'GresTypes=gpu' \
        'AccountingStorageTRES=gres/shard,gres/gpu'; do
        [ "$(grep -cxF "$l" "$f")" = 1 ] || fail "$f: want one line '$l':
$(cat "$f")"
    done
    [ "$(grep -ci '^accountingstoragetres' "$f")" = 1 ] || fail "$f: AccountingStorageTRES twice"
}
want_conf "$R/etc/slurm/slurm.conf"
pass "GPU node: programs, unit, options (site edit kept), mapping dirs root:755, slurm.conf lines"

# The controller: the same slurm.conf lines (copies must not differ), the spool, jobstats.conf.
R=$T/r-ctl
want_conf "$R/etc/slurm/slurm.conf"
[ "$(stat -c %a "$R/etc/slurm/slurm.conf")" = 640 ] || fail "slurm.conf mode changed to $(stat -c %a "$R/etc/slurm/slurm.conf")"
cmp -s "$T/r-gpu/etc/slurm/slurm.conf" "$R/etc/slurm/slurm.conf" || fail "GPU node and controller slurm.conf differ"
[ -x "$R/usr/bin/jobstats" ] && [ -x "$R/usr/lib/jobtel/jobtel-epilog-slurmctld.sh" ] || fail "controller programs"
[ -f "$R/lib/systemd/system/jobtel-summary-retry.timer" ] && [ -d "$R/var/spool/jobtel/summaries" ] || fail "timer or spool"
grep -qx 'cluster = lab' "$R/etc/jobtel/jobstats.conf" || fail "jobstats.conf cluster"
grep -qx 'prometheus_url = http://prom.example:9090' "$R/etc/jobtel/jobstats.conf" || fail "jobstats.conf prometheus_url"
[ "$(grep -c '^prometheus_url' "$R/etc/jobtel/jobstats.conf")" = 1 ] || fail "two prometheus_url lines"
pass "controller: slurm.conf identical to the node's (mode kept), programs, timer, spool, jobstats.conf"

# BCM: slurm.conf untouched, hooks linked into BCM's dirs, cmsh commands printed.
cmp -s "$T/gpubcm.conf" "$T/r-gpubcm/etc/slurm/slurm.conf" || fail "BCM GPU node: slurm.conf was edited"
cmp -s "$T/gpubcm.conf" "$T/r-ctlbcm/etc/slurm/slurm.conf" || fail "BCM controller: slurm.conf was edited"
for l in prologs/60-prolog-jobtel.sh:jobtel-prolog.sh epilogs/60-epilog-jobtel.sh:jobtel-epilog.sh; do
    [ "$(readlink "$T/r-gpubcm/cm/local/apps/slurm/var/${l%%:*}")" = "/usr/lib/jobtel/${l#*:}" ] || fail "BCM link ${l%%:*}"
done
grep -q 'cmsh -c \\"wlm; use slurm; set epilogslurmctld /usr/lib/jobtel/jobtel-epilog-slurmctld.sh; commit\\"' "$T/run1.log" \
    || fail "BCM controller: no cmsh command for EpilogSlurmctld printed"
grep -q 'imageupdate -w -c dgx' "$T/run1.log" || fail "BCM GPU node: no image commands printed"
pass "BCM: slurm.conf untouched, hooks linked in prologs/epilogs, cmsh commands printed"

# An existing Prometheus: prometheus.yml left alone; the scrape jobs to merge form a configuration
# promtool accepts; the rules installed; targets from cmsh through the ExecStart= drop-in.
R=$T/r-promx
[ ! -e "$R/etc/prometheus/prometheus.yml" ] || fail "existing Prometheus: prometheus.yml was written"
promtool check config "$R/etc/jobtel/prometheus-jobtel.yml" >"$T/promx.log" 2>&1 || fail "the scrape jobs to merge: $(cat "$T/promx.log")"
grep -q -- '- job_name: jobtel' "$R/etc/jobtel/prometheus-jobtel.yml" && grep -q -- '- job_name: node' "$R/etc/jobtel/prometheus-jobtel.yml" \
    || fail "the scrape jobs to merge lack jobtel or node"
cmp -s "$SRC/deploy/prometheus/rules/jobtel-alerts.rules.yml" "$R/etc/prometheus/rules/jobtel/jobtel-alerts.rules.yml" || fail "alert rules"
grep -q -- '--source=command --cluster=lab .* -- /cm/local/apps/cmd/bin/cmsh -c "device; foreach -c dgx (get hostname)"$' \
    "$R/etc/systemd/system/jobtel-targets.service.d/jobtel-bcm.conf" || fail "the cmsh drop-in"
! grep -q '^JOBTEL_TARGETS_ARGS=' "$R/etc/jobtel/jobtel-targets.env" || fail "targets env still sets a source"
grep -q 'rule_files: /etc/prometheus/rules/jobtel/\*.rules.yml' "$T/run1.log" || fail "no merge instructions printed"
pass "existing Prometheus: prometheus.yml untouched, scrape jobs to merge (promtool-clean), rules, cmsh source"

# --- second run: nothing to change (the two editing hosts: fewer hosts, less CPU) -------------------
inventory "$T/again.yml" gpu -- ctl
# A link by its target, never by what it points at: the packages test installs /usr/lib/jobtel meanwhile.
sums() {
    find "$@" \( -type f -o -type l \) | sort | while read -r f; do
        if [ -L "$f" ]; then printf '%s -> %s\n' "$f" "$(readlink "$f")"; else printf '%s %s\n' "$f" "$(md5sum <"$f")"; fi
    done
}
before=$(sums "$T"/r-*)
rc=0
ansible-playbook -i "$T/again.yml" "$PLAYBOOK" >"$T/run2.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "second run: exit $rc: $(tail -n 30 "$T/run2.log")"
for h in gpu ctl; do
    [ "$(recap "$h" failed "$T/run2.log")" = 0 ] || fail "$h failed on the second run"
    [ "$(recap "$h" changed "$T/run2.log")" = 0 ] || fail "$h: second run changed something: $(grep -B2 "changed: \[$h" "$T/run2.log")"
done
[ "$before" = "$(sums "$T"/r-*)" ] || fail "the second run changed files: $(diff <(echo "$before") <(sums "$T"/r-*))"
pass "second run: changed=0 on every host, no file touched"

# --- dry run: --check --diff on fresh roots (and on the configured node) ---------------------------
inventory "$T/fresh.yml" fgpu:svc gpu
before=$(sums "$T"/r-*)
ansible-playbook -i "$T/fresh.yml" "$PLAYBOOK" --check --diff >"$T/check.log" 2>&1 || fail "check run: $(tail -n 30 "$T/check.log")"
[ "$before" = "$(sums "$T"/r-*)" ] || fail "--check changed files: $(diff <(echo "$before") <(sums "$T"/r-*))"
[ ! -e "$T/r-fgpu/usr" ] && [ ! -e "$T/r-fgpu/run" ] || fail "--check created directories"
[ "$(recap fgpu changed "$T/check.log")" -gt 0 ] || fail "the dry run reports no change on a fresh host"
[ "$(recap gpu changed "$T/check.log")" = 0 ] || fail "the dry run reports changes on a configured node"
grep -q '^+Prolog=/usr/lib/jobtel/jobtel-prolog.sh' "$T/check.log" || fail "the dry run's diff lacks the Prolog line"
grep -q '^+AccountingStorageTRES=gres/shard,gres/gpu' "$T/check.log" || fail "the dry run's diff lacks the TRES change"
grep -q 'changed: \[fgpu\]' <(sed -n '/jobtel-exporter.service would be enabled and started/,/^$/p' "$T/check.log") \
    || fail "the dry run does not report the exporter's unit to be enabled"
pass "--check --diff: nothing written, changes reported on a fresh host with the slurm.conf diff, none on a configured one"
