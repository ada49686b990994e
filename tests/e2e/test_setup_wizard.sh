#!/bin/bash
# test_setup_wizard.sh - `jobtel setup`, run as installed (the front execs ../lib/jobtel/jobtel-setup,
# which finds ../../share/jobtel/deploy/ansible): non-interactive from an answers file into a dry run
# (the plan per host, nothing written), then applied from the saved answers to a prefix this machine
# hosts (local connection, every host of the lab in one root, files from this build's install tree),
# then re-run: zero changes. Then interactively, through a real terminal (tmux): the answers, one of
# them refused and asked again, give the expected inventory; a second session keeping every saved
# answer with Enter rewrites nothing.
. "$(dirname "$0")/lib.sh"
for tool in ansible-playbook tmux promtool; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"
done
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP="$T/ansible-tmp" ANSIBLE_HOME="$T/ansible-home"
# Every host is this machine's one root: one host at a time.
export ANSIBLE_FORKS=1

DESTDIR="$T/tree" cmake --install "$(dirname "$JOBTEL")" --prefix /usr >"$T/install.log" 2>&1 || fail "cmake --install"
SETUP=("$T/tree/usr/bin/jobtel" setup)
"${SETUP[@]}" --help >"$T/help.out" 2>&1 || fail "jobtel setup --help: $(cat "$T/help.out")"
grep -q -- '--non-interactive' "$T/help.out" || fail "jobtel setup --help lacks --non-interactive"
pass "jobtel setup runs the installed wizard"

# recap HOST FIELD LOG: the PLAY RECAP's count for HOST.
recap() { sed -n "s/^$1 *: .*[[:space:]]$2=\([0-9]*\).*/\1/p" "$3" | tail -n 1; }
sums() { find "$1" \( -type f -o -type l \) | sort | while read -r f; do printf '%s %s\n' "$f" "$(md5sum <"$f")"; done; }

# sinfo as Slurm prints `-h -N -o '%N %G'`: a node once per partition, CPU nodes with (null).
install -d "$T/bin"
cat >"$T/bin/sinfo" <<'EOF'
#!/bin/sh
printf '%s\n' 'gpu01 gpu:h100:4(S:0-1)' 'cpu01 (null)' 'gpu01 gpu:h100:4(S:0-1)' 'bigmem01 (null)'
EOF
# scontrol show config as Slurm 23.02 prints it: the wizard's defaults for the cluster and controller.
cat >"$T/bin/scontrol" <<'EOF'
#!/bin/sh
[ "$*" = "show config" ] || exit 1
printf '%s\n' 'Configuration data as of 2026-11-30T01:00:00' 'AccountingStorageTRES   = cpu,mem,energy,node,billing' \
    'ClusterName             = lab' 'SlurmctldHost[0]        = ctl01(10.0.0.1)' 'SlurmctldPort           = 6817'
EOF
chmod 0755 "$T/bin/sinfo" "$T/bin/scontrol"
export PATH="$T/bin:$PATH"

R=$T/root
install -d "$R/etc/slurm"
printf 'ClusterName=lab\nSlurmctldHost=ctl\nNodeName=gpu01 Gres=gpu:h100:4\n' >"$R/etc/slurm/slurm.conf"
cat >"$T/answers.conf" <<EOF
# the lab: one GPU node, the controller, Prometheus and Grafana (all this machine, under $R)
cluster=lab
nodes_source=slurm
bcm=no
controller=ctl
login_nodes=none
prometheus_host=prom
prometheus_mode=new
grafana_host=graf
install_method=tree
package_dir=$T/tree
connection=local
root=$R
EOF

# --- non-interactive dry run ------------------------------------------------------------------------
D=$T/setup
before=$(sums "$R")
"${SETUP[@]}" --dir "$D" --non-interactive --config "$T/answers.conf" --dry-run >"$T/dry.log" 2>&1 \
    || fail "dry run: $(tail -n 30 "$T/dry.log")"
[ "$before" = "$(sums "$R")" ] || fail "the dry run changed the target: $(diff <(echo "$before") <(sums "$R"))"
cat >"$T/want-hosts.yml" <<EOF
# Written by jobtel setup from $D/setup.conf: run \`jobtel setup --dir $D\` to change it.
all:
  children:
    gpu_nodes:
      hosts:
        gpu01: {}
    slurm_controller:
      hosts:
        ctl: {}
    login_nodes:
      hosts: {}
    prometheus:
      hosts:
        prom: {}
    grafana:
      hosts:
        graf: {}
EOF
diff "$T/want-hosts.yml" "$D/inventory/hosts.yml" || fail "inventory from sinfo's node list"
for l in "jobtel_cluster: 'lab'" 'jobtel_targets_source: slurm' 'jobtel_prometheus_mode: new' \
    "jobtel_prometheus_url: 'http://prom:9090'" 'jobtel_install_method: tree' "jobtel_root: '$R'" 'bcm: false'; do
    grep -qxF "$l" "$D/inventory/group_vars/all.yml" || fail "group_vars lack '$l': $(cat "$D/inventory/group_vars/all.yml")"
done
P=$D/plan.txt
[ -f "$P" ] || fail "no plan.txt"
grep -q '^Nothing was changed' "$P" || fail "the plan does not say nothing changed"
for h in gpu01 ctl prom graf; do
    grep -Eq "^$h: [0-9]+ change\(s\)$" "$P" || fail "plan: no changes listed for $h: $(cat "$P")"
done
# Each change sits under its host.
awk '/^gpu01:/ {h=1; next} /^[a-z0-9]+:/ {h=0} h && /Write \/etc\/slurm\/slurm.conf/ {f=1} END {exit !f}' "$P" \
    || fail "plan: gpu01's slurm.conf change missing: $(cat "$P")"
awk '/^prom:/ {h=1; next} /^[a-z0-9]+:/ {h=0} h && /Write prometheus.yml/ {f=1} END {exit !f}' "$P" \
    || fail "plan: prom's prometheus.yml missing"
grep -q '^+Prolog=/usr/lib/jobtel/jobtel-prolog.sh' "$D/dry-run.log" || fail "the dry run's log lacks the slurm.conf diff"
pass "non-interactive dry run: inventory from sinfo (GPU nodes only, once), a plan per host, nothing written"

# --- apply from the saved answers, then again ----------------------------------------------------
"${SETUP[@]}" --dir "$D" --non-interactive >"$T/apply.log" 2>&1 || fail "apply: $(tail -n 30 "$T/apply.log")"
grep -q "^$D/inventory/hosts.yml: unchanged" "$T/apply.log" || fail "resuming rewrote the inventory"
for h in gpu01 ctl prom graf; do
    [ "$(recap "$h" failed "$D/last-run.log")" = 0 ] || fail "$h failed"
done
grep -qx 'Prolog=/usr/lib/jobtel/jobtel-prolog.sh' "$R/etc/slurm/slurm.conf" || fail "slurm.conf Prolog"
grep -qx 'EpilogSlurmctld=/usr/lib/jobtel/jobtel-epilog-slurmctld.sh' "$R/etc/slurm/slurm.conf" || fail "slurm.conf EpilogSlurmctld"
[ -x "$R/usr/bin/jobtel-exporter" ] && [ -f "$R/lib/systemd/system/jobtel-exporter.service" ] || fail "GPU node files"
grep -q -- '--source=slurm --cluster=lab' "$R/etc/jobtel/jobtel-targets.env" || fail "targets source: $(cat "$R/etc/jobtel/jobtel-targets.env")"
promtool check config "$R/etc/prometheus/prometheus.yml" >"$T/promtool.log" 2>&1 || fail "promtool check config: $(cat "$T/promtool.log")"
grep -q '/var/lib/jobtel/targets/\*.json' "$R/etc/prometheus/prometheus.yml" || fail "prometheus.yml without the file_sd file"
grep -q '^  - /etc/prometheus/rules/jobtel/\*.rules.yml' "$R/etc/prometheus/prometheus.yml" || fail "prometheus.yml without the rules"
for f in jobtel-alerts.rules.yml jobtel-recording.rules.yml; do
    cmp -s "$SRC/deploy/prometheus/rules/$f" "$R/etc/prometheus/rules/jobtel/$f" || fail "rules $f"
done
for f in dashboards/jobtel.yaml datasources/jobtel.yaml; do
    cmp -s "$SRC/deploy/grafana/provisioning/$f" "$R/etc/grafana/provisioning/$f" || fail "Grafana provisioning $f"
done
cmp -s "$SRC/deploy/grafana/dashboards/jobtel-job.json" "$R/usr/share/jobtel/grafana/dashboards/jobtel-job.json" || fail "dashboards"
grep -qx 'JOBTEL_PROMETHEUS_URL=http://prom:9090' "$R/etc/default/grafana-server" || fail "Grafana's Prometheus URL"
grep -qx 'prometheus_url = http://prom:9090' "$R/etc/jobtel/jobstats.conf" || fail "jobstats.conf"
pass "applied from the saved answers: node, controller, Prometheus (promtool-clean, rules), Grafana"

before=$(sums "$R")
"${SETUP[@]}" --dir "$D" --non-interactive >"$T/again.log" 2>&1 || fail "re-run: $(tail -n 30 "$T/again.log")"
for h in gpu01 ctl prom graf; do
    [ "$(recap "$h" changed "$D/last-run.log")" = 0 ] || fail "re-run changed $h: $(grep -B2 "changed: \[$h" "$D/last-run.log")"
done
[ "$before" = "$(sums "$R")" ] || fail "the re-run changed files"
grep -q "group_vars/all.yml: unchanged" "$T/again.log" || fail "the re-run rewrote group_vars"
pass "re-run: changed=0 on every host, nothing rewritten"

# --- interactive, through a terminal --------------------------------------------------------------
TM=(tmux -L "jobtel-wizard-$$" -f /dev/null)
trap '"${TM[@]}" kill-server 2>/dev/null || true; cleanup' EXIT
D2=$T/setup2
session() { # session NAME: the wizard in a fresh tmux session; its exit status lands in $T/NAME.rc
    "${TM[@]}" new-session -d -s "$1" -x 200 -y 60 \
        "env PATH='$PATH' '${SETUP[0]}' setup --dir '$D2'; echo \$? >'$T/$1.rc'; sleep 30"
}
# last_line_is NAME TEXT: the terminal's last non-empty line starts with TEXT (the wizard waits there).
last_line_is() {
    "${TM[@]}" capture-pane -p -t "$1" >"$T/pane.txt" 2>/dev/null || return 1
    [ "$(grep -v '^[[:space:]]*$' "$T/pane.txt" | tail -n 1 | cut -c1-${#2})" = "$2" ]
}
answer() { # answer NAME PROMPT TEXT: once the wizard waits at PROMPT, type TEXT and Enter
    wait_for 30 last_line_is "$1" "$2" || fail "the wizard did not ask '$2'; screen: $(cat "$T/pane.txt")"
    [ -z "$3" ] || "${TM[@]}" send-keys -t "$1" -l "$3"
    "${TM[@]}" send-keys -t "$1" Enter
}
refused() { # refused NAME PROMPT: the hint is on screen and the wizard asks PROMPT again
    last_line_is "$1" "$2" && grep -q 'please answer one of: new existing' "$T/pane.txt"
}
session w1
answer w1 'Cluster name (the cluster label of every series) [lab]' 'mars'
answer w1 'Where does the GPU node list come from' 'list'
answer w1 'GPU nodes' 'gpu-a gpu-b'
answer w1 'Is Slurm managed by BCM' ''
answer w1 'Slurm controller host (none: no Slurm) [ctl01]' ''
answer w1 'Login nodes' 'login1 login2'
answer w1 'Prometheus host [ctl01]' ''
answer w1 'A new Prometheus' 'maybe'
wait_for 30 refused w1 'A new Prometheus' || fail "a bad answer was not refused and asked again: $(cat "$T/pane.txt")"
answer w1 'A new Prometheus' 'existing'
answer w1 'Grafana host' 'none'
answer w1 'Packages from' 'deb'
answer w1 'Directory holding the jobtel .deb files' '/srv/debs'
answer w1 'How Ansible reaches the hosts' ''
answer w1 'SSH user' 'admin'
answer w1 'Become root with sudo [yes]' ''
answer w1 'Run the playbook now' 'no'
wait_for 30 test -s "$T/w1.rc" || fail "the wizard did not finish: $(cat "$T/pane.txt")"
[ "$(cat "$T/w1.rc")" = 0 ] || fail "the wizard exited $(cat "$T/w1.rc")"
cat >"$T/want2.yml" <<EOF
# Written by jobtel setup from $D2/setup.conf: run \`jobtel setup --dir $D2\` to change it.
all:
  children:
    gpu_nodes:
      hosts:
        gpu-a: {}
        gpu-b: {}
    slurm_controller:
      hosts:
        ctl01: {}
    login_nodes:
      hosts:
        login1: {}
        login2: {}
    prometheus:
      hosts:
        ctl01: {}
    grafana:
      hosts: {}
EOF
diff "$T/want2.yml" "$D2/inventory/hosts.yml" || fail "the interactive answers gave another inventory"
for l in "jobtel_cluster: 'mars'" 'jobtel_prometheus_mode: existing' 'jobtel_targets_source: inventory' \
    "jobtel_deb_dir: '/srv/debs'" 'jobtel_install_method: deb' "ansible_user: 'admin'" 'jobtel_become: true' \
    "jobtel_prometheus_url: 'http://ctl01:9090'"; do
    grep -qxF "$l" "$D2/inventory/group_vars/all.yml" || fail "interactive group_vars lack '$l': $(cat "$D2/inventory/group_vars/all.yml")"
done
pass "interactive (tmux): 16 answers (defaults from scontrol), a bad one asked again, the expected inventory and variables"

# A second session: every question offers the saved answer; Enter keeps it; nothing is rewritten.
cp -p "$D2/inventory/hosts.yml" "$T/hosts2.before"
session w2
for q in 'Cluster name (the cluster label of every series) [mars]' 'Where does the GPU node list come from' \
    'GPU nodes (separated by blanks) [gpu-a gpu-b]' 'Is Slurm managed by BCM' 'Slurm controller host (none: no Slurm) [ctl01]' \
    'Login nodes (separated by blanks, none) [login1 login2]' 'Prometheus host [ctl01]' 'A new Prometheus' \
    'Grafana host (none: no Grafana) [none]' 'Packages from' 'Directory holding the jobtel .deb files [/srv/debs]' \
    'How Ansible reaches the hosts' 'SSH user [admin]' 'Become root with sudo [yes]'; do
    answer w2 "$q" ''
done
answer w2 'Run the playbook now' 'no'
wait_for 30 test -s "$T/w2.rc" || fail "the second session did not finish: $(cat "$T/pane.txt")"
[ "$(cat "$T/w2.rc")" = 0 ] || fail "the second session exited $(cat "$T/w2.rc")"
"${TM[@]}" capture-pane -p -t w2 -S -100 >"$T/pane2.txt"
grep -q 'Resuming from' "$T/pane2.txt" || fail "the second session did not resume: $(cat "$T/pane2.txt")"
grep -q "hosts.yml: unchanged" "$T/pane2.txt" || fail "the second session rewrote the inventory"
cmp -s "$T/hosts2.before" "$D2/inventory/hosts.yml" || fail "the inventory changed"
pass "interactive re-run: every saved answer offered and kept with Enter, nothing rewritten"
