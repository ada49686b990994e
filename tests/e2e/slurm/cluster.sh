# cluster.sh - a one-node Slurm cluster on loopback for end-to-end tests (sourced after ../lib.sh).
#
# munged, slurmctld and slurmd run in the foreground (-F/-D) as children of the test's shell, so
# lib.sh's cleanup can stop them with kill + wait; a daemon that forks away would linger as a zombie
# here. GPUs are character devices with the nvidia major (195) made with mknod: slurmd rejects regular
# files in gres.conf. Needs root and the Debian packages slurmctld slurmd slurm-client munge.
#
# Usage: slurm_require; slurm_up NGPUS PROLOG EPILOG; ... sbatch ...; slurm_down
# Sets S (the cluster's directory) and exports SLURM_CONF for the Slurm clients.
# SLURM_CGROUP=1 before slurm_up: proctrack/cgroup + task/cgroup + jobacct_gather/cgroup (cgroup v1
# here), so each job gets /sys/fs/cgroup/<ctrl>/slurm_<node>/uid_U/job_J/...; jobs then need --mem.
# SLURM_ACCOUNTING=1 before slurm_up: also mariadbd + slurmdbd (foreground children, stopped by
# slurm_down), so sacct and sacctmgr work; needs the Debian packages slurmdbd mariadb-server.
# SLURM_EPILOG_CTLD=FILE before slurm_up: EpilogSlurmctld script.
# Every daemon listens on a port the kernel handed out (lib.sh free_port), never a fixed one: other
# tests and other checkouts run beside this one. SLURM_{CTLD,D,DBD,DB}_PORT say which, once up.

# slurm_accounting_install : a fresh mariadb datadir (once per cluster, kept across port retries).
slurm_accounting_install() {
    local c
    for c in slurmdbd mariadbd mariadb-install-db mariadb mariadb-admin sacct sacctmgr; do
        command -v "$c" >/dev/null || fail "$c not found (Debian: slurmdbd mariadb-server)"
    done
    mkdir -p "$S/mysql"
    chown mysql:mysql "$S/mysql"
    mariadb-install-db --user=mysql --datadir="$S/mysql" --auth-root-authentication-method=socket \
        --skip-test-db >"$T/mariadb-install.log" 2>&1 || fail "mariadb-install-db failed"
}

# slurm_accounting_up : mariadbd, then slurmdbd; both in the foreground. Returns 2 when a port was taken.
slurm_accounting_up() {
    local rc=0
    start_listening mariadbd "$SLURM_DB_PORT" 60 setpriv --reuid=mysql --regid=mysql --clear-groups -- mariadbd \
        --no-defaults --datadir="$S/mysql" --socket="$S/mysql/mysqld.sock" --pid-file="$S/mysql/mysqld.pid" \
        --bind-address=127.0.0.1 --port="$SLURM_DB_PORT" --innodb-buffer-pool-size=64M --skip-log-bin || rc=$?
    [ "$rc" = 0 ] || return "$rc"
    MARIADB_PID=$LAST_PID
    wait_for 60 mariadb-admin --no-defaults -S "$S/mysql/mysqld.sock" ping || fail "mariadbd did not answer"
    mariadb --no-defaults -S "$S/mysql/mysqld.sock" -u root -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || fail "cannot create the slurm DB user"
    # slurmdbd has no -f: it reads slurmdbd.conf next to $SLURM_CONF, which must be mode 600.
    {
        echo "AuthType=auth/munge"
        echo "AuthInfo=socket=$S/munge/munge.sock"
        echo "DbdHost=localhost"
        echo "DbdAddr=127.0.0.1"
        echo "DbdPort=$SLURM_DBD_PORT"
        echo "SlurmUser=root"
        echo "PidFile=$S/slurmdbd.pid"
        echo "LogFile=$T/slurmdbd.log"
        echo "StorageType=accounting_storage/mysql"
        echo "StorageHost=127.0.0.1"
        echo "StoragePort=$SLURM_DB_PORT"
        echo "StorageUser=slurm"
        echo "StoragePass=slurmpw"
        echo "StorageLoc=slurm_acct_db"
    } >"$S/slurmdbd.conf"
    chmod 600 "$S/slurmdbd.conf"
    start_listening slurmdbd-fg "$SLURM_DBD_PORT" 60 slurmdbd -D || rc=$?
    [ "$rc" = 0 ] || return "$rc"
    SLURMDBD_PID=$LAST_PID
    wait_for 60 sacctmgr -n show cluster || fail "slurmdbd did not answer"
}

# Fails (never skips) when the cluster cannot be built here.
slurm_require() {
    local c
    for c in munged slurmctld slurmd sbatch scontrol squeue sinfo scancel setpriv mknod; do
        command -v "$c" >/dev/null || fail "$c not found (Debian: slurmctld slurmd slurm-client munge util-linux)"
    done
    [ "$(id -u)" = 0 ] || fail "the Slurm end-to-end test needs root (munge user switch, mknod, slurmd)"
    id munge >/dev/null 2>&1 || fail "no munge user (Debian package munge)"
    command -v ss >/dev/null || fail "ss not found (Debian: iproute2)"
}

# slurm_write_wrapper FILE ARGS... : a Prolog/Epilog script that execs ARGS with stderr appended to
# $T/<basename FILE>.log. slurmd gives scripts no PATH, so ARGS[0] must be an absolute path.
slurm_write_wrapper() {
    local file=$1 log
    shift
    log="$T/$(basename "$file" .sh).log"
    {
        echo '#!/bin/sh'
        printf 'exec'
        printf " '%s'" "$@"
        printf " 2>>'%s'\n" "$log"
    } >"$file"
    chmod 755 "$file"
}

# slurm_up NGPUS PROLOG EPILOG : starts munged, slurmctld and slurmd and waits until the node is idle.
slurm_up() {
    local ngpus=$1 prolog=$2 epilog=$3 host i
    host=$(hostname -s)
    # One cluster on this machine at a time, across ctest runs and checkouts too: clusters share the
    # host's cgroup tree (slurm_<node>/...). ctest's RESOURCE_LOCK covers only one run. The lock is
    # released when the test's shell exits.
    exec {SLURM_LOCK_FD}>/tmp/jobtel-e2e-slurm-cluster.lock
    flock -w 900 "$SLURM_LOCK_FD" || fail "another Slurm test cluster held the lock for 15 minutes"
    S=$T/slurm
    mkdir -p "$S"/{munge,state,spool,dev}
    chmod 755 "$T" "$S"

    dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none
    chown -R munge:munge "$S/munge"
    chmod 711 "$S/munge"
    chmod 600 "$S/munge/munge.key"
    start_bg munged setpriv --reuid=munge --regid=munge --clear-groups -- munged -F \
        --socket="$S/munge/munge.sock" --key-file="$S/munge/munge.key" --pid-file="$S/munge/munged.pid" \
        --log-file="$S/munge/munged.log" --seed-file="$S/munge/munged.seed"
    MUNGED_PID=$LAST_PID
    wait_for 10 test -S "$S/munge/munge.sock" || fail "munged did not create its socket"

    for ((i = 0; i < ngpus; i++)); do
        mknod "$S/dev/nvidia$i" c 195 "$i"
    done
    local proctrack=proctrack/linuxproc task=task/none acct=jobacct_gather/none sel=CR_Core flags=""
    SLURM_CGROUP_ON=${SLURM_CGROUP:-0} # remembered for slurm_down
    if [ "$SLURM_CGROUP_ON" = 1 ]; then
        proctrack=proctrack/cgroup task=task/cgroup,task/affinity acct=jobacct_gather/cgroup sel=CR_Core_Memory
        flags="PrologFlags=Contain"
        printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nConstrainCores=yes\nConstrainDevices=yes\nConstrainRAMSpace=yes\n' \
            >"$S/cgroup.conf"
        chmod 644 "$S/cgroup.conf"
    fi
    if [ "${SLURM_ACCOUNTING:-0}" = 1 ]; then slurm_accounting_install; fi
    # Job ids from a random start: the exporter walks the host's whole cgroup tree, where other tests
    # build job cgroups of their own; a job 1 of theirs must not pass for ours.
    SLURM_FIRST_JOB=$((1000000 + RANDOM * 16 + RANDOM % 16))
    local try rc
    for try in 1 2 3 4 5; do
        rc=0
        slurm_daemons_up "$ngpus" "$prolog" "$epilog" || rc=$?
        [ "$rc" = 2 ] || break
        slurm_daemons_stop
    done
    [ "$rc" = 0 ] || fail "the Slurm daemons' ports were taken 5 times in a row"
    # shellcheck disable=SC2016 # expanded by the inner sh, each poll
    wait_for 60 sh -c '[ "$(sinfo -h -o %T)" = idle ]' || fail "node not idle: $(sinfo -h -N -o '%N %T %G %E' 2>&1)"
}

# slurm_daemons_up NGPUS PROLOG EPILOG : fresh ports, slurm.conf, then (slurmdbd and mariadbd,) slurmctld
# and slurmd. Returns 2 when another process took one of the ports first.
slurm_daemons_up() {
    local ngpus=$1 prolog=$2 epilog=$3 host rc=0
    host=$(hostname -s)
    SLURM_CTLD_PORT=$(free_port) SLURM_D_PORT=$(free_port) SLURM_DBD_PORT=$(free_port) SLURM_DB_PORT=$(free_port)
    [ "$(printf '%s\n' "$SLURM_CTLD_PORT" "$SLURM_D_PORT" "$SLURM_DBD_PORT" "$SLURM_DB_PORT" | sort -u | wc -l)" = 4 ] || return 2
    local accounting="AccountingStorageType=accounting_storage/none" ectld="#EpilogSlurmctld="
    if [ "${SLURM_ACCOUNTING:-0}" = 1 ]; then
        # With a non-default munge socket, slurmctld reaches slurmdbd only with AccountingStoragePass.
        accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$SLURM_DBD_PORT
AccountingStoragePass=$S/munge/munge.sock
AccountingStorageTRES=gres/gpu"
    fi
    [ -z "${SLURM_EPILOG_CTLD:-}" ] || ectld="EpilogSlurmctld=$SLURM_EPILOG_CTLD"
    cat >"$S/slurm.conf" <<EOF
ClusterName=jobtele2e
FirstJobId=$SLURM_FIRST_JOB
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket=$S/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$SLURM_CTLD_PORT
SlurmdPort=$SLURM_D_PORT
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=$proctrack
TaskPlugin=$task
JobAcctGatherType=$acct
$flags
SelectType=select/cons_tres
SelectTypeParameters=$sel
SchedulerType=sched/backfill
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0
GresTypes=gpu
Prolog=$prolog
Epilog=$epilog
$ectld
$accounting
JobCompType=jobcomp/none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 Gres=gpu:$ngpus State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=10 State=UP OverSubscribe=NO
EOF
    {
        echo "AutoDetect=off"
        echo "Name=gpu File=$S/dev/nvidia[0-$((ngpus - 1))]"
    } >"$S/gres.conf"
    chmod 644 "$S/slurm.conf" "$S/gres.conf"
    export SLURM_CONF=$S/slurm.conf
    if [ "${SLURM_ACCOUNTING:-0}" = 1 ]; then
        slurm_accounting_up || return $?
    fi

    start_listening slurmctld-fg "$SLURM_CTLD_PORT" 60 slurmctld -D -c || rc=$?
    [ "$rc" = 0 ] || return "$rc"
    SLURMCTLD_PID=$LAST_PID
    wait_for 60 sh -c 'scontrol ping | grep -q UP' || fail "slurmctld did not come up"
    start_listening slurmd-fg "$SLURM_D_PORT" 60 slurmd -D || rc=$?
    [ "$rc" = 0 ] || return "$rc"
    SLURMD_PID=$LAST_PID
}

# slurm_daemons_stop : stops whichever of the daemons slurm_daemons_up started (munged stays).
slurm_daemons_stop() {
    local v pid
    for v in SLURMD_PID SLURMCTLD_PID SLURMDBD_PID MARIADB_PID; do
        pid=${!v:-}
        [ -n "$pid" ] && { stop_pid "$pid" || true; }
        printf -v "$v" '%s' ""
    done
}


# slurm_node_state : idle, mixed, allocated, drained, ...
slurm_node_state() {
    sinfo -h -o %T
}

# slurm_gres_idx JOB : the GPU indices Slurm gave JOB, one per line ("IDX:0-1,3" expanded).
slurm_gres_idx() {
    local idx part
    idx=$(scontrol show job -d "$1" | grep -o 'IDX:[0-9,-]*' | head -n1)
    idx=${idx#IDX:}
    [ -n "$idx" ] || return 1
    local IFS=,
    for part in $idx; do
        if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
    done
}

# slurm_down : cancels what is left and stops the daemons (all TERMed at once: faster than in turn).
slurm_down() {
    [ -n "${SLURMD_PID:-}" ] || return 0
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
    # shellcheck disable=SC2016 # expanded by the inner sh, each poll
    wait_for 10 sh -c '[ -z "$(squeue -h 2>/dev/null)" ]' || true
    kill -TERM "$SLURMD_PID" "$SLURMCTLD_PID" 2>/dev/null || true
    stop_pid "$SLURMD_PID" || true
    stop_pid "$SLURMCTLD_PID" || true
    if [ -n "${SLURMDBD_PID:-}" ]; then
        kill -TERM "$SLURMDBD_PID" "$MARIADB_PID" 2>/dev/null || true
        stop_pid "$SLURMDBD_PID" || true
        stop_pid "$MARIADB_PID" || true
        SLURMDBD_PID=
    fi
    stop_pid "$MUNGED_PID" || true
    # Slurm leaves empty slurm_<node> cgroups behind (cgroup v1): remove them, deepest first.
    if [ "${SLURM_CGROUP_ON:-0}" = 1 ]; then
        local c node
        node=$(hostname -s)
        for c in /sys/fs/cgroup/*/; do
            [ -d "${c}slurm_$node" ] && find "${c}slurm_$node" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    fi
    SLURMD_PID=
    return 0
}
