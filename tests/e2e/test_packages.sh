#!/bin/bash
# test_packages.sh - the Debian packages, as an admin gets them: dpkg-buildpackage builds every role
# package from a copy of the tree (the tree itself stays clean), lintian finds no error or warning,
# apt installs them, every installed program runs (the exporter as the unprivileged `jobtel` user
# against the fake NVML), `systemd-analyze verify` accepts every unit at its installed path and
# `systemd-analyze security` scores each service, and a purge leaves nothing behind.
# The packages are installed system-wide, so runs from several worktrees take turns (flock).
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
for tool in dpkg-buildpackage dh lintian systemd-analyze apt-get flock setpriv; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"
done
PKGS="jobtel jobtel-node jobtel-jobstats jobtel-controller jobtel-targets jobtel-deploy"
APT=(apt-get -y -qq -o DPkg::Lock::Timeout=600)

exec 9>/tmp/jobtel-packages.lock
flock 9

# --- build from a copy of the tree --------------------------------------------------------------
before=$(git -C "$SRC" status --porcelain --untracked-files=all)
mkdir -p "$T/src"
git -C "$SRC" ls-files -z --cached --others --exclude-standard | (cd "$SRC" && tar --null -cf - -T -) | tar -xf - -C "$T/src"
(cd "$T/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -b -us -uc >"$T/build.log" 2>&1) \
    || { tail -n 40 "$T/build.log"; fail "dpkg-buildpackage failed"; }
grep -q 'ninja' "$T/build.log" || fail "the package build did not use the CMake/Ninja build"
after=$(git -C "$SRC" status --porcelain --untracked-files=all)
[ "$before" = "$after" ] || fail "the package build changed the source tree: $(diff <(echo "$before") <(echo "$after"))"
for p in $PKGS; do
    ls "$T"/"${p}"_*.deb >/dev/null 2>&1 || fail "no package $p"
done
pass "dpkg-buildpackage built: $(cd "$T" && ls ./*.deb | grep -v dbgsym | tr '\n' ' ')"

# Errors and warnings fail; the info tags left are overridden in debian/*.lintian-overrides.
lintian --fail-on error,warning --pedantic "$T"/*.changes >"$T/lintian.log" 2>&1 || { cat "$T/lintian.log"; fail "lintian"; }
if grep -E '^[EWP]:' "$T/lintian.log"; then fail "lintian findings"; fi
pass "lintian clean"

# Only jobtel-jobstats may pull libcurl; the GPU node gets no HTTP client library at all.
for p in $PKGS; do
    deps=$(dpkg-deb -f "$T"/"${p}"_*.deb Depends)
    if [ "$p" != jobtel-jobstats ] && echo "$deps" | grep -q libcurl; then fail "$p depends on libcurl: $deps"; fi
done
dpkg-deb -f "$T"/jobtel-jobstats_*.deb Depends | grep -q libcurl || fail "jobstats without libcurl?"
pass "only jobtel-jobstats depends on libcurl"

# --- install --------------------------------------------------------------------------------------
purge_all() { # the ones dpkg knows (installed or config-files)
    local p known=()
    for p in $PKGS; do
        case $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) in '' | not-installed) ;; *) known+=("$p") ;; esac
    done
    [ "${#known[@]}" -eq 0 ] || "${APT[@]}" purge "${known[@]}" >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; return 1; }
}
# Paths the maintainer scripts create, so the purge check knows which were ours.
OURS="/etc/jobtel /var/lib/jobtel /var/spool/jobtel /usr/lib/jobtel /run/dcgm-job-map /run/gpustat /run/jobtel"
purge_all # a previous run that died half-way
declare -A existed=()
for d in $OURS; do [ ! -e "$d" ] || existed[$d]=1; done
trap 'purge_all || true; cleanup' EXIT
debs=()
for p in $PKGS; do debs+=("$(ls "$T"/"${p}"_*.deb)"); done
"${APT[@]}" install --no-install-recommends "${debs[@]}" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "apt-get install"; }
pass "apt-get install of the six packages"

for p in $PKGS; do
    dpkg-query -W -f='${db:Status-Status}\n' "$p" | grep -qx installed || fail "$p not installed"
done
getent passwd jobtel | grep -q ':/usr/sbin/nologin$' || fail "no jobtel system user: $(getent passwd jobtel)"
[ "$(stat -c %U:%a /var/lib/jobtel/targets)" = jobtel:755 ] || fail "/var/lib/jobtel/targets: $(stat -c %U:%a /var/lib/jobtel/targets)"
[ -d /var/spool/jobtel/summaries ] || fail "no summary spool"
[ -d /run/dcgm-job-map ] && [ -d /run/gpustat ] || fail "tmpfiles did not create the mapping dirs"
# The exporter (user jobtel) keeps its per-job totals and the epilog's socket in /run/jobtel.
[ "$(stat -c %U:%a /run/jobtel 2>&1)" = jobtel:755 ] || fail "/run/jobtel: $(stat -c %U:%a /run/jobtel 2>&1)"
for f in /etc/jobtel/jobtel-exporter.env:jobtel-node /etc/jobtel/jobstats.conf:jobtel-jobstats /etc/jobtel/jobtel-targets.env:jobtel-targets; do
    dpkg-query -W -f='${Conffiles}\n' "${f#*:}" | grep -q " ${f%%:*} " || fail "${f%%:*} is not a conffile of ${f#*:}"
done
pass "user, directories and conffiles"

# --- every installed program runs ---------------------------------------------------------------
for prog in jobtel jobtel-exporter jobtel-targets; do
    "/usr/bin/$prog" --version | grep -q "version" || fail "$prog --version"
done
/usr/bin/jobstats --help | grep -q '^Usage: jobstats' || fail "jobstats --help"
/usr/bin/jobtel targets --version | grep -q '^jobtel-targets version' || fail "jobtel targets (sibling exec)"
/usr/bin/jobtel summary --help | grep -q 'retry-spool' || fail "jobtel summary (sibling exec)"
/usr/bin/jobtel doctor --help | grep -q -- "--role" || fail "jobtel doctor (sibling exec)"
/usr/bin/jobtel setup --help | grep -q -- "--non-interactive" || fail "jobtel setup (the wizard in /usr/lib/jobtel)"
[ -f /usr/share/jobtel/deploy/ansible/site.yml ] && [ -f /usr/share/jobtel/deploy/prometheus/prometheus.yml ] || fail "jobtel-deploy: no playbook"
env -i /usr/lib/jobtel/jobtel-epilog-slurmctld.sh || fail "EpilogSlurmctld wrapper without a job must exit 0"
env -i SLURM_JOB_ID=1 /usr/lib/jobtel/jobtel-epilog.sh || fail "epilog wrapper"
# The exporter as the service runs it: user jobtel, no capabilities, against the fake GPUs.
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cp "$FAKE_NVML_LIB" "$T/libnvidia-ml.so.1"
cp "$SCENARIOS/one_gpu.json" "$T/scenario.json"
chmod 0755 "$T"
chmod 0644 "$T/libnvidia-ml.so.1" "$T/scenario.json"
FAKE_NVML_SCENARIO="$T/scenario.json" start_bg exporter setpriv --reuid=jobtel --regid=jobtel --init-groups \
    --inh-caps=-all --bounding-set=-all --no-new-privs /usr/bin/jobtel-exporter \
    --web.listen-address="127.0.0.1:$PORT" --collector.gpu.nvml-library="$T/libnvidia-ml.so.1"
EXP=$LAST_PID
wait_for 15 scrape_has "$PORT" '^DCGM_FI_DEV_GPU_TEMP\{' || fail "installed exporter (user jobtel) serves no GPU metrics"
[ "$(stat -c %U /proc/"$EXP")" = jobtel ] || fail "exporter not running as jobtel"
# Its default --path.accounting is usable by that user: the record socket is there, the state lock is its.
wait_for 15 test -S /run/jobtel/accounting.sock || fail "no /run/jobtel/accounting.sock: $(ls -la /run/jobtel 2>&1)"
stop_pid "$EXP" || fail "exporter exit status after SIGTERM"
[ "$(stat -c %U /run/jobtel/job_accounting.state.lock 2>&1)" = jobtel ] ||
    fail "the exporter could not keep its per-job totals in /run/jobtel: $(ls -la /run/jobtel 2>&1)"
pass "installed programs run; the exporter serves the fake GPU as user jobtel"

# --- units ----------------------------------------------------------------------------------------
UNITS=$(dpkg -L $PKGS | grep -E '^/lib/systemd/system/.*\.(service|timer)$' | sort)
[ "$(echo "$UNITS" | wc -l)" -eq 4 ] || fail "want 4 units, got: $UNITS"
# shellcheck disable=SC2086
out=$(systemd-analyze verify $UNITS 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
for u in $UNITS; do
    case $u in *.service) ;; *) continue ;; esac
    score=$(systemd-analyze security --offline=yes "$u" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    [ -n "$score" ] || fail "no security score for $u"
    echo "systemd-analyze security: $(basename "$u") exposure $score"
    "$PY" -c "import sys; sys.exit(0 if float('$score') <= 3.0 else 1)" || fail "$u exposure $score > 3.0"
done
grep -q '^User=jobtel$' /lib/systemd/system/jobtel-exporter.service || fail "exporter unit runs as root"
pass "systemd-analyze verify and security on every unit"

# --- purge leaves nothing -------------------------------------------------------------------------
FILES=$(dpkg -L $PKGS | sort -u)
purge_all || fail "apt-get purge"
trap cleanup EXIT
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ -z "$st" ] || [ "$st" = not-installed ] || fail "$p still $st after purge"
done
# Files the packages held (their directories are shared ones, or ours below, or named *jobtel*).
while read -r f; do
    [ -z "$f" ] || [ -d "$f" ] || [ ! -e "$f" ] || fail "$f remains after purge"
done <<<"$FILES"
for d in $OURS; do
    [ -n "${existed[$d]:-}" ] || [ ! -e "$d" ] || fail "$d remains after purge"
done
! getent passwd jobtel >/dev/null || fail "the jobtel user remains after purge"
! getent group jobtel >/dev/null || fail "the jobtel group remains after purge"
left=$(find /etc /lib /usr /var -xdev -name '*jobtel*' -not -path '/var/log/*' -not -path '/var/cache/*' \
    -not -path '/var/lib/dpkg/*' -not -path '/var/lib/apt/*' -not -path '/var/tmp/*' 2>/dev/null || true)
[ -z "$left" ] || fail "left after purge: $left"
pass "purge leaves nothing"
