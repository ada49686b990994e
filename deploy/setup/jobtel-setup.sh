#!/bin/sh
# jobtel-setup - `jobtel setup`, the deployment wizard: a few questions (cluster, where the node list
# comes from, the Slurm controller and login nodes, where Prometheus and Grafana run, new or existing
# Prometheus, where the packages come from), then the Ansible inventory and variables for
# deploy/ansible/site.yml, then the playbook: a dry run (--check --diff, with a plan per host) or the
# real thing.
#
# A POSIX shell script rather than C: it only asks, writes two YAML files and runs ansible-playbook, and
# the front `jobtel` (libc only) execs it from its libexec directory. Answers are saved after each
# question in DIR/setup.conf (KEY=VALUE lines, read back by a parser, never sourced), so a run that
# stopped half-way resumes, and a re-run offers the saved answers: Enter keeps them. Files are rewritten
# only when their content changes; the playbook itself is idempotent.
set -u

PROG="jobtel setup"
usage() {
    cat <<'EOF'
Usage: jobtel setup [options]

Asks where things run, writes an Ansible inventory for deploy/ansible/site.yml, and runs it.

Options:
  --dir DIR           where the answers, inventory, plan and logs live (default /etc/jobtel/setup)
  --dry-run           run the playbook in check mode (--check --diff): nothing is changed; writes
                      DIR/plan.txt, what would change on each host
  --non-interactive   ask nothing: answers from --config FILE, else the saved DIR/setup.conf
  --config FILE       answers (KEY=VALUE lines, the format of DIR/setup.conf; see jobtel(8))
  --no-run            write the inventory and stop
  --playbook-dir DIR  deploy/ansible to use (default: the installed one)
  --help, -h          this help

Keys of the answers file: cluster, nodes_source (slurm|bcm|file|list), nodes_file, nodes,
bcm_category, bcm (yes|no), controller, login_nodes, prometheus_host, prometheus_mode (new|existing),
grafana_host, install_method (apt|deb|tree|none), package_dir, connection (ssh|local), ssh_user,
become (yes|no), root (a prefix for every file; default /). "none" leaves a host list empty.

Exit codes: 0 success, 1 the playbook or a command failed, 2 usage error or bad answer.
EOF
}

err() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { err "$*"; exit 1; }
usage_die() { err "$*"; exit 2; }

DIR=/etc/jobtel/setup
DRY=0
INTERACTIVE=1
CONFIG=
RUN=1
PLAYDIR=${JOBTEL_DEPLOY_DIR:+$JOBTEL_DEPLOY_DIR/ansible}
while [ $# -gt 0 ]; do
    case $1 in
    --dir) [ $# -ge 2 ] || usage_die "--dir needs a value"; DIR=$2; shift ;;
    --dir=*) DIR=${1#*=} ;;
    --dry-run) DRY=1 ;;
    --non-interactive) INTERACTIVE=0 ;;
    --config) [ $# -ge 2 ] || usage_die "--config needs a value"; CONFIG=$2; shift ;;
    --config=*) CONFIG=${1#*=} ;;
    --no-run) RUN=0 ;;
    --playbook-dir) [ $# -ge 2 ] || usage_die "--playbook-dir needs a value"; PLAYDIR=$2; shift ;;
    --playbook-dir=*) PLAYDIR=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) usage_die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
[ -n "$DIR" ] || usage_die "--dir is empty"
if [ -n "$CONFIG" ] && [ ! -f "$CONFIG" ]; then usage_die "--config $CONFIG: not a regular file"; fi

# The playbook: given, in the source tree next to this script, or installed (PREFIX/lib/jobtel ->
# PREFIX/share/jobtel/deploy/ansible).
if [ -z "$PLAYDIR" ]; then
    here=$(dirname "$0")
    for d in "$here/../ansible" "$here/../../share/jobtel/deploy/ansible"; do
        if [ -f "$d/site.yml" ]; then PLAYDIR=$d; break; fi
    done
fi
[ -n "$PLAYDIR" ] && [ -f "$PLAYDIR/site.yml" ] || die "no deploy/ansible/site.yml found (install jobtel-deploy, or --playbook-dir)"
PLAYDIR=$(cd "$PLAYDIR" && pwd) || die "cannot enter $PLAYDIR"

# --- answers ------------------------------------------------------------------------------------------
KEYS="cluster nodes_source nodes_file nodes bcm_category bcm controller login_nodes prometheus_host
prometheus_mode grafana_host install_method package_dir connection ssh_user become root"

# get KEY: the current answer ("" when none). Stored in variables a_KEY (KEY is one of ours).
get() { eval "printf '%s' \"\${a_$1-}\""; }
set_answer() { eval "a_$1=\$2"; }
have() { eval "[ \"\${a_$1+set}\" = set ]"; }

# load FILE: KEY=VALUE lines; blank lines and # comments skipped; unknown keys refused.
load() {
    n=0
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        case $line in '' | '#'*) continue ;; esac
        key=${line%%=*}
        [ "$key" != "$line" ] || usage_die "$1:$n: not KEY=VALUE: $line"
        val=${line#*=}
        case " $(echo $KEYS) " in *" $key "*) ;; *) usage_die "$1:$n: unknown key '$key'" ;; esac
        set_answer "$key" "$val"
    done <"$1"
}

# save: DIR/setup.conf from the answers so far (after every question: an interrupted run resumes).
save() {
    tmp="$DIR/.setup.conf.$$"
    {
        echo "# jobtel setup answers: \`jobtel setup --dir $DIR\` offers them again, --non-interactive uses them."
        for k in $KEYS; do
            if have "$k"; then printf '%s=%s\n' "$k" "$(get "$k")"; fi
        done
    } >"$tmp" || die "cannot write $tmp"
    replace "$tmp" "$DIR/setup.conf" >/dev/null
}

# replace TMP FILE: TMP becomes FILE unless they are equal; prints "written" or "unchanged".
replace() {
    if [ -f "$2" ] && cmp -s "$1" "$2"; then
        rm -f "$1"
        echo unchanged
    else
        mv -f "$1" "$2" || die "cannot write $2"
        echo written
    fi
}

# Checks, so that nothing unexpected reaches YAML or a command line.
valid() { # valid KIND VALUE
    case $1 in
    name) case $2 in '' | *[!A-Za-z0-9_.-]*) return 1 ;; esac ;;
    hosts) [ -n "$2" ] || return 1
        [ "$2" = none ] && return 0
        for h in $2; do case $h in *[!A-Za-z0-9_.-]* | [-.]*) return 1 ;; esac; done ;;
    host) [ "$2" = none ] && return 0; case $2 in '' | *[!A-Za-z0-9_.-]* | [-.]* | *' '*) return 1 ;; esac ;;
    path) case $2 in /*) ;; *) return 1 ;; esac
        case $2 in *[!A-Za-z0-9_./+@:-]*) return 1 ;; esac ;;
    choice:*) c=${1#choice:}; case "|$c|" in *"|$2|"*) return 0 ;; esac; return 1 ;;
    esac
    return 0
}
why() {
    case $1 in
    name) echo "letters, digits, '.', '_' and '-' only" ;;
    hosts) echo "host names separated by blanks (letters, digits, '.', '_', '-'), or none" ;;
    host) echo "one host name (letters, digits, '.', '_', '-'), or none" ;;
    path) echo "an absolute path (no blanks or quotes)" ;;
    choice:*) echo "one of: $(echo "${1#choice:}" | tr '|' ' ')" ;;
    esac
}

# ask KEY KIND QUESTION DEFAULT: the answer to KEY (saved one, else DEFAULT, offered in brackets).
ask() {
    key=$1 kind=$2 q=$3 def=$4
    if have "$key"; then def=$(get "$key"); fi
    if [ "$INTERACTIVE" = 0 ]; then
        have "$key" || [ -n "$def" ] || usage_die "the answers lack '$key' ($q)"
        valid "$kind" "$def" || usage_die "$key=$def: want $(why "$kind")"
        set_answer "$key" "$def"
        return 0
    fi
    while :; do
        if [ -n "$def" ]; then printf '%s [%s]: ' "$q" "$def"; else printf '%s: ' "$q"; fi
        IFS= read -r ans || { echo; die "no answer (end of input); answers so far are in $DIR/setup.conf"; }
        ans=$(printf '%s' "$ans" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
        [ -n "$ans" ] || ans=$def
        if valid "$kind" "$ans"; then break; fi
        echo "  -> please answer $(why "$kind")"
    done
    set_answer "$key" "$ans"
    save
}

yesno() { case $1 in y | yes | true | 1) echo true ;; *) echo false ;; esac; }

# slurm_config KEY: its value in `scontrol show config` when Slurm answers here within 10 s (a
# controller that is down makes scontrol retry for a long time). SlurmctldHost[0] = host(addr) -> host.
# Asked only when the answer it would propose is not saved yet.
SLURM_CONFIG=
slurm_config() {
    if [ -z "$SLURM_CONFIG" ]; then
        SLURM_CONFIG=none
        if command -v scontrol >/dev/null 2>&1; then
            SLURM_CONFIG=$(timeout 10 scontrol show config 2>/dev/null) || SLURM_CONFIG=none
        fi
    fi
    printf '%s\n' "$SLURM_CONFIG" | sed -n "s/^$1\(\[0\]\)\{0,1\} *= *\([^ (]*\).*/\2/p" | head -n 1
}

# The GPU nodes from the chosen source, one per line.
gpu_nodes() {
    case $(get nodes_source) in
    slurm)
        command -v sinfo >/dev/null 2>&1 || die "sinfo not found: answer file or list for the node list, or run on a host with slurm-client"
        # %N node, %G its gres ("gpu:h100:8(S:0-1)", or "(null)"); a node in several partitions repeats.
        out=$(sinfo -h -N -o '%N %G' 2>&1) || die "sinfo failed: $out"
        printf '%s\n' "$out" | awk '$2 ~ /(^|,)gpu[:(,]|(^|,)gpu$/ {print $1}' | sort -u ;;
    bcm)
        cmsh=/cm/local/apps/cmd/bin/cmsh
        command -v cmsh >/dev/null 2>&1 && cmsh=cmsh
        out=$("$cmsh" -c "device; foreach -c $(get bcm_category) (get hostname)" 2>&1) || die "cmsh failed: $out"
        printf '%s\n' "$out" | awk 'NF == 1 {print $1}' | sort -u ;;
    file)
        [ -f "$(get nodes_file)" ] || die "$(get nodes_file): no such file"
        sed 's/#.*//' "$(get nodes_file)" | awk 'NF {print $1}' | sort -u ;;
    list)
        [ "$(get nodes)" = none ] || for h in $(get nodes); do echo "$h"; done | sort -u ;;
    esac
}

mkdir -p "$DIR/inventory/group_vars" || die "cannot create $DIR"
chmod 0750 "$DIR" 2>/dev/null || true
if [ -n "$CONFIG" ]; then
    load "$CONFIG"
elif [ -f "$DIR/setup.conf" ]; then
    load "$DIR/setup.conf"
    [ "$INTERACTIVE" = 0 ] || echo "Resuming from $DIR/setup.conf (Enter keeps an answer)."
elif [ "$INTERACTIVE" = 0 ]; then
    usage_die "--non-interactive needs --config FILE or a saved $DIR/setup.conf"
fi

[ "$INTERACTIVE" = 0 ] || cat <<EOF
jobtel setup: a few questions, then an Ansible inventory in $DIR/inventory and a run of
$PLAYDIR/site.yml (a dry run first if you like: nothing changes until you say apply).

EOF

def=
have cluster || def=$(slurm_config ClusterName)
ask cluster name "Cluster name (the cluster label of every series)" "$def"
src_def=file
command -v sinfo >/dev/null 2>&1 && src_def=slurm
ask nodes_source "choice:slurm|bcm|file|list" "Where does the GPU node list come from (slurm, bcm, file, list)" "$src_def"
case $(get nodes_source) in
file) ask nodes_file path "File with one GPU node per line" "/etc/jobtel/gpu-hosts" ;;
list) ask nodes hosts "GPU nodes (separated by blanks)" "" ;;
bcm) ask bcm_category name "BCM category of the GPU nodes" "dgx" ;;
esac
NODES=$(gpu_nodes) || exit 1
for h in $NODES; do valid host "$h" || die "node list: bad host name '$h'"; done
[ -n "$NODES" ] || die "the node list ($(get nodes_source)) is empty"
[ "$INTERACTIVE" = 0 ] || echo "  $(echo "$NODES" | wc -l) GPU nodes: $(echo $NODES)"
bcm_def=no
[ "$(get nodes_source)" = bcm ] && bcm_def=yes
ask bcm "choice:yes|no" "Is Slurm managed by BCM (slurm.conf through cmsh)" "$bcm_def"
def=
have controller || def=$(slurm_config SlurmctldHost)
ask controller host "Slurm controller host (none: no Slurm)" "$def"
ask login_nodes hosts "Login nodes (separated by blanks, none)" "none"
ask prometheus_host host "Prometheus host" "$(get controller | sed 's/^none$//')"
ask prometheus_mode "choice:new|existing" "A new Prometheus, or an existing one you keep configuring (new, existing)" "new"
ask grafana_host host "Grafana host (none: no Grafana)" "$(get prometheus_host)"
ask install_method "choice:apt|deb|tree|none" "Packages from (apt: the hosts' apt sources, deb: a directory of .debs, tree: an install tree, none: installed already)" "apt"
case $(get install_method) in
deb) ask package_dir path "Directory holding the jobtel .deb files" "" ;;
tree) ask package_dir path "Install tree (DESTDIR of cmake --install)" "" ;;
esac
ask connection "choice:ssh|local" "How Ansible reaches the hosts (ssh, local: this machine is every host)" "ssh"
if [ "$(get connection)" = ssh ]; then
    ask ssh_user name "SSH user" "root"
    become_def=no
    [ "$(get ssh_user)" = root ] || become_def=yes
    ask become "choice:yes|no" "Become root with sudo" "$become_def"
fi
have root || set_answer root /
valid path "$(get root)" || usage_die "root=$(get root): want $(why path)"
save

# --- inventory ------------------------------------------------------------------------------------------
group() { # group NAME HOSTS...
    printf '    %s:\n' "$1"
    shift
    if [ $# -eq 0 ]; then printf '      hosts: {}\n'; return; fi
    printf '      hosts:\n'
    for h in "$@"; do printf '        %s: {}\n' "$h"; done
}
hosts_of() { [ "$(get "$1")" = none ] || get "$1"; }
tmp="$DIR/inventory/.hosts.yml.$$"
{
    echo "# Written by jobtel setup from $DIR/setup.conf: run \`jobtel setup --dir $DIR\` to change it."
    echo "all:"
    echo "  children:"
    # shellcheck disable=SC2046 # host lists split on blanks, validated above
    group gpu_nodes $NODES
    group slurm_controller $(hosts_of controller)
    group login_nodes $(hosts_of login_nodes)
    group prometheus $(hosts_of prometheus_host)
    group grafana $(hosts_of grafana_host)
} >"$tmp" || die "cannot write $tmp"
echo "$DIR/inventory/hosts.yml: $(replace "$tmp" "$DIR/inventory/hosts.yml")"

case $(get nodes_source) in slurm) tsrc=slurm ;; bcm) tsrc=bcm ;; *) tsrc=inventory ;; esac
prom=$(get prometheus_host)
tmp="$DIR/inventory/group_vars/.all.yml.$$"
{
    echo "# Written by jobtel setup from $DIR/setup.conf; every variable: deploy/ansible/roles/jobtel_common/defaults/main.yml"
    echo "jobtel_cluster: '$(get cluster)'"
    echo "bcm: $(yesno "$(get bcm)")"
    [ "$(get nodes_source)" != bcm ] || echo "jobtel_bcm_category: '$(get bcm_category)'"
    echo "jobtel_targets_source: $tsrc"
    echo "jobtel_prometheus_mode: $(get prometheus_mode)"
    [ "$prom" = none ] || echo "jobtel_prometheus_url: 'http://$prom:9090'"
    echo "jobtel_install_method: $(get install_method)"
    case $(get install_method) in
    deb) echo "jobtel_deb_dir: '$(get package_dir)'" ;;
    tree) echo "jobtel_tree_dir: '$(get package_dir)'" ;;
    esac
    echo "jobtel_root: '$(get root)'"
    if [ "$(get connection)" = local ]; then
        echo "ansible_connection: local"
        echo "ansible_python_interpreter: /usr/bin/python3"
    else
        echo "ansible_user: '$(get ssh_user)'"
        echo "jobtel_become: $(yesno "$(get become)")"
    fi
} >"$tmp" || die "cannot write $tmp"
echo "$DIR/inventory/group_vars/all.yml: $(replace "$tmp" "$DIR/inventory/group_vars/all.yml")"

# --- run ------------------------------------------------------------------------------------------------
if [ "$INTERACTIVE" = 1 ] && [ "$RUN" = 1 ] && [ "$DRY" = 0 ]; then
    while :; do
        printf 'Run the playbook now: a dry run, apply, or no [dry-run]: '
        IFS= read -r ans || { echo; ans=no; }
        case ${ans:-dry-run} in
        dry-run | dry | d) DRY=1; break ;;
        apply | a) break ;;
        no | n) RUN=0; break ;;
        *) echo "  -> please answer dry-run, apply or no" ;;
        esac
    done
fi
if [ "$RUN" = 0 ]; then
    echo "Not run. Dry run: jobtel setup --dir $DIR --non-interactive --dry-run"
    exit 0
fi
command -v ansible-playbook >/dev/null 2>&1 || die "ansible-playbook not found (Debian: apt-get install ansible-core)"

# plan LOG: what the check run would change, per host, for an admin to read.
plan() {
    awk -v inv="$DIR/inventory/hosts.yml" -v logf="$1" -v when="$(date -u '+%Y-%m-%d %H:%M UTC')" '
        function add(h, s) { if (!(h in seen)) { seen[h] = 1; order[++nh] = h } lines[h] = lines[h] "  " s "\n" }
        /^TASK \[/ { task = $0; sub(/^TASK \[/, "", task); sub(/\] \**$/, "", task); next }
        /^changed: \[/ {
            h = $0; sub(/^changed: \[/, "", h); sub(/\].*/, "", h)
            it = ""; if (match($0, /\(item=[^)]*\)/)) it = " " substr($0, RSTART, RLENGTH)
            add(h, "change: " task it); nch[h]++; next
        }
        /^(fatal|failed): \[/ {
            h = $0; sub(/^(fatal|failed): \[/, "", h); sub(/\].*/, "", h)
            m = $0; if (match(m, /"msg": "[^"]*/)) m = substr(m, RSTART + 8, RLENGTH - 8)
            add(h, "FAILED: " task ": " m); nf[h]++; next
        }
        /^ok: \[[^]]*\] => \{$/ { nh_ = $0; sub(/^ok: \[/, "", nh_); sub(/\].*/, "", nh_); note = nh_; next }
        note != "" && /^\}$/ { note = ""; next }
        note != "" && /^        "/ { s = $0; sub(/^ *"/, "", s); sub(/",?$/, "", s); gsub(/\\"/, "\"", s); add(note, "note: " s); next }
        note != "" && /^    "msg": "/ { s = $0; sub(/^    "msg": "/, "", s); sub(/"$/, "", s); gsub(/\\"/, "\"", s); add(note, "note: " s); next }
        /^PLAY RECAP/ { recap = 1; next }
        recap && / : ok=/ { h = $1; if (!(h in seen)) { seen[h] = 1; order[++nh] = h } }
        END {
            print "jobtel setup plan (dry run), " when
            print "Inventory: " inv
            print "Nothing was changed. The diffs are in " logf "."
            print ""
            for (i = 1; i <= nh; i++) {
                h = order[i]
                if (nf[h]) s = nf[h] " failure(s), " (nch[h] + 0) " change(s)"
                else if (nch[h]) s = nch[h] " change(s)"
                else s = "nothing to change"
                print h ": " s
                printf "%s", lines[h]
                print ""
            }
        }' "$1"
}

log="$DIR/last-run.log"
set -- ansible-playbook -i "$DIR/inventory/hosts.yml" "$PLAYDIR/site.yml"
[ "$DRY" = 0 ] || { set -- "$@" --check --diff; log="$DIR/dry-run.log"; }
echo "Running: $*"
rcfile="$DIR/.rc.$$"
{
    ANSIBLE_CONFIG="$PLAYDIR/ansible.cfg" ANSIBLE_NOCOLOR=1 "$@" 2>&1
    echo $? >"$rcfile"
} | tee "$log"
rc=$(cat "$rcfile" 2>/dev/null || echo 1)
rm -f "$rcfile"
echo "Log: $log"
if [ "$DRY" = 1 ]; then
    plan "$log" >"$DIR/plan.txt.$$" && mv -f "$DIR/plan.txt.$$" "$DIR/plan.txt"
    echo "Plan: $DIR/plan.txt"
    cat "$DIR/plan.txt"
    [ "$rc" != 0 ] || echo "To apply: jobtel setup --dir $DIR --non-interactive"
fi
[ "$rc" = 0 ] || { err "ansible-playbook exited $rc (see $log)"; exit 1; }
exit 0
