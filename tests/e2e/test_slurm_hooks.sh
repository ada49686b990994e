#!/bin/bash
# test_slurm_hooks.sh - `jobtel prolog`/`epilog` as slurmd runs them, without a Slurm: a burst of job
# starts and ends loses no line and leaves none stale, a prolog that reaches the lock after its job's
# epilog adds nothing, a full disk says "no space" and is counted, FIFOs block nothing.
#
# Every hook is the real binary in its own process, as slurmd starts it. Outcomes are checked against
# what the scenario implies (which jobs still run), never against the clock: the lock wait is bounded
# at 30 s, far beyond what a burst needs, and the "late prolog" is made late by SIGSTOP, not by luck.
source "$SRC/tests/e2e/lib.sh"

[ -x "$JOBTEL" ] || fail "JOBTEL=$JOBTEL is not executable"
command -v flock >/dev/null || fail "flock (util-linux) is needed"
NGPUS=8
UUID_PREFIX=GPU-00000000-1111-2222-3333-00000000000
mkdir -p "$T/proc/driver/nvidia/gpus"
chmod 755 "$T"
for ((i = 0; i < NGPUS; i++)); do
    d="$T/proc/driver/nvidia/gpus/0000:$((i + 1))0:00.0"
    mkdir -p "$d"
    printf 'Model: \t\t Tesla T4\nGPU UUID: \t %s%d\nDevice Minor: \t %d\n' "$UUID_PREFIX" "$i" "$i" >"$d/information"
done
HPC=$T/hpc
GST=$T/gpustat
args=(--strict --no-syslog --hpc-dir "$HPC" --gpustat-dir "$GST" --path.procfs "$T/proc")

# gpus_of JOB : the 4 GPUs job JOB gets (i..i+3 mod NGPUS), so every job shares files with others.
gpus_of() { echo "$(($1 % NGPUS)),$((($1 + 1) % NGPUS)),$((($1 + 2) % NGPUS)),$((($1 + 3) % NGPUS))"; }

# hook prolog|epilog JOB [ARGS...] : one hook process for JOB, as slurmd would run it.
hook() {
    local what=$1 job=$2
    shift 2
    SLURM_JOB_ID=$job SLURM_JOB_UID=$((job + 1000)) SLURM_JOB_GPUS=$(gpus_of "$job") \
        "$JOBTEL" "$what" "${args[@]}" "$@"
}

# jobs_in FILE : the job ids in a mapping file, sorted (nothing if the file does not exist).
jobs_in() { [ -f "$1" ] && awk '{ print $1 }' "$1" | sort -n || true; }

# expect_mapping JOB... : every mapping file names exactly the jobs given that hold its GPU. Prints
# the stale and lost lines it finds and fails if there is any.
expect_mapping() {
    local g f want got stale=0 lost=0 job
    for ((g = 0; g < NGPUS; g++)); do
        want=$(for job in "$@"; do if [[ ",$(gpus_of "$job")," == *",$g,"* ]]; then echo "$job"; fi; done | sort -n)
        for f in "$HPC/$g" "$GST/$g" "$GST/$UUID_PREFIX$g"; do
            got=$(jobs_in "$f")
            stale=$((stale + $(comm -13 <(echo "$want") <(echo "$got") | grep -c . || true)))
            lost=$((lost + $(comm -23 <(echo "$want") <(echo "$got") | grep -c . || true)))
        done
    done
    echo "mapping: $stale stale line(s), $lost lost line(s)"
    [ "$stale" = 0 ] && [ "$lost" = 0 ] || fail "$stale stale and $lost lost mapping line(s)"
}

# hook_errors DIR : "<file> <count>" for every failure count in DIR (sizes are the counts).
hook_errors() {
    local f
    for f in "$1"/.jobtel-hook-errors.*; do
        [ -e "$f" ] && echo "$(basename "$f") $(stat -c %s "$f")"
    done
    return 0
}

# --- 1. a burst: 200 prolog->epilog pairs racing 100 epilogs and 50 new prologs ------------------
# Before: 100 running jobs that end in the burst (2001-2100) and 20 that keep running (3001-3020).
for ((j = 2001; j <= 2100; j++)); do hook prolog "$j" || fail "prolog $j"; done
for ((j = 3001; j <= 3020; j++)); do hook prolog "$j" || fail "prolog $j"; done
expect_mapping $(seq 2001 2100) $(seq 3001 3020)

# All hooks wait on one gate (a shared flock the test holds exclusively) and start together.
exec 9>"$T/gate"
flock 9
pids=()
for ((j = 1001; j <= 1200; j++)); do
    (exec 9>&-; flock -s "$T/gate" true && hook prolog "$j" && hook epilog "$j") 2>>"$T/burst.log" &
    pids+=($!)
done
for ((j = 2001; j <= 2100; j++)); do
    (exec 9>&-; flock -s "$T/gate" true && hook epilog "$j") 2>>"$T/burst.log" &
    pids+=($!)
done
for ((j = 4001; j <= 4050; j++)); do
    (exec 9>&-; flock -s "$T/gate" true && hook prolog "$j") 2>>"$T/burst.log" &
    pids+=($!)
done
flock -u 9
exec 9>&-
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
timeouts=$(grep -c 'timed out' "$T/burst.log" || true)
echo "burst: ${#pids[@]} hook chains, $failed failed (--strict), $timeouts lock time-out(s)"
[ "$timeouts" = 0 ] || fail "lock time-outs in the burst: $(grep -m3 'timed out' "$T/burst.log")"
[ "$failed" = 0 ] || fail "$failed hook chains failed: $(head -n 5 "$T/burst.log")"
expect_mapping $(seq 3001 3020) $(seq 4001 4050)
[ -z "$(hook_errors "$HPC")$(hook_errors "$GST")" ] || fail "failures counted: $(hook_errors "$HPC") $(hook_errors "$GST")"
[ -z "$(find "$HPC" "$GST" -name '.*.tmp')" ] || fail "temporary files left: $(find "$HPC" "$GST" -name '.*.tmp')"
pass "burst of 350 hook chains: no time-out, no stale line, no lost line, nothing counted"

# --- 2. a prolog that gets the lock after its job's epilog adds nothing ------------------------
# Hold both locks, start the prolog, see it wait in flock (/proc/locks), stop it, let the epilog run
# to the end, then let the prolog go on: the epilog's tombstone is newer than the prolog's start.
exec 7>>"$HPC/.jobtel.lock" 8>>"$GST/.jobtel.lock"
flock 7
flock 8
hook prolog 5001 2>"$T/late.log" 7>&- 8>&- &
late=$!
# waiter_of FILE : the pid blocked in flock on FILE, from the kernel's own table.
waiter_of() {
    awk -v ino=":$(stat -c %i "$1")" '$2 == "->" && $3 == "FLOCK" && substr($7, length($7) - length(ino) + 1) == ino {
        print $6; found = 1; exit } END { exit !found }' /proc/locks
}
wait_for 20 waiter_of "$HPC/.jobtel.lock" || fail "the late prolog never waited for the lock"
late_hook=$(waiter_of "$HPC/.jobtel.lock")
kill -STOP "$late_hook"
# kill returns before the target stops, and a target still running may yet take the lock.
stopped() { grep -q '^State:[[:space:]]*T' "/proc/$late_hook/status"; }
wait_for 20 stopped || fail "the late prolog did not stop"
flock -u 7
flock -u 8
hook epilog 5001 7>&- 8>&- || fail "epilog 5001"
kill -CONT "$late_hook"
wait "$late" || fail "late prolog failed: $(cat "$T/late.log")"
exec 7>&- 8>&-
expect_mapping $(seq 3001 3020) $(seq 4001 4050)
pass "a prolog that reached the lock after its job's epilog mapped nothing"
# The same job requeued: a prolog that starts after the epilog maps it again.
hook prolog 5001 || fail "requeued prolog 5001"
expect_mapping $(seq 3001 3020) $(seq 4001 4050) 5001
hook epilog 5001 || fail "epilog 5001"
pass "a requeued job (prolog after its epilog) is mapped again"
for j in $(seq 3001 3020) $(seq 4001 4050); do hook epilog "$j" || fail "epilog $j"; done
expect_mapping
[ -z "$(find "$HPC" "$GST" -mindepth 1 ! -name .jobtel.lock)" ] || fail "left behind: $(ls -A "$HPC" "$GST")"

# --- 3. FIFOs where files should be block nothing ------------------------------------------------
mkfifo "$HPC/2"
rc=0
SLURM_JOB_ID=6001 SLURM_JOB_UID=0 SLURM_JOB_GPUS=1,2 timeout 20 "$JOBTEL" prolog "${args[@]}" 2>"$T/fifo.log" || rc=$?
[ "$rc" = 1 ] || fail "prolog with a FIFO as hpc/2: exit $rc, want 1 (--strict): $(cat "$T/fifo.log")"
grep -q 'unsafe' "$T/fifo.log" || fail "FIFO not reported: $(cat "$T/fifo.log")"
[ "$(jobs_in "$HPC/1" | grep -c '^6001$')" = 1 ] || fail "hpc/1 lacks job 6001 beside the FIFO"
rc=0
SLURM_JOB_ID=6001 timeout 20 "$JOBTEL" epilog "${args[@]}" 2>>"$T/fifo.log" || rc=$?
[ "$rc" = 1 ] || fail "epilog with a FIFO as hpc/2: exit $rc, want 1 (--strict)"
[ -z "$(grep -D skip -l '^6001' "$HPC"/[0-9] "$GST"/[0-9G]* 2>/dev/null)" ] || fail "job 6001 left beside the FIFO"
[ "$(hook_errors "$HPC" | grep -c unsafe)" = 2 ] || fail "FIFO failures not counted: $(hook_errors "$HPC")"
rm "$HPC/2"
# A FIFO as the driver's information file, and as a failure count file.
mv "$T/proc/driver/nvidia/gpus/0000:10:00.0/information" "$T/info.saved"
mkfifo "$T/proc/driver/nvidia/gpus/0000:10:00.0/information" "$GST/.jobtel-hook-errors.prolog.bad_input"
rc=0
SLURM_JOB_ID=6002 SLURM_JOB_UID=0 SLURM_JOB_GPUS=0 timeout 20 "$JOBTEL" prolog "${args[@]}" 2>>"$T/fifo.log" || rc=$?
[ "$rc" != 124 ] || fail "prolog hung on a FIFO in procfs or a FIFO count file"
rc=0
SLURM_JOB_ID=bad timeout 20 "$JOBTEL" prolog "${args[@]}" 2>>"$T/fifo.log" || rc=$?
[ "$rc" = 1 ] || fail "bad job id with a FIFO as the failure count file: exit $rc, want 1 (124: hung)"
grep -q 'cannot count the failure (bad_input): unsafe' "$T/fifo.log" || fail "FIFO count file not reported"
rm "$T/proc/driver/nvidia/gpus/0000:10:00.0/information" "$GST/.jobtel-hook-errors.prolog.bad_input"
mv "$T/info.saved" "$T/proc/driver/nvidia/gpus/0000:10:00.0/information"
SLURM_JOB_ID=6002 "$JOBTEL" epilog "${args[@]}" || fail "epilog 6002"
pass "FIFOs as a mapping file, a procfs file and a count file: refused, counted, nothing hangs"

# --- 4. a full filesystem: "no space left on device", counted, exit 0 without --strict ----------
M=$T/full
mkdir -p "$M"
mount -t tmpfs -o size=64k,mode=0755 jobtel-full "$M" || fail "cannot mount a tmpfs (root needed)"
umount_full() { umount "$M" 2>/dev/null || true; }
trap 'rc=$?; set +e; umount_full; (exit $rc); cleanup' EXIT
full_args=(--no-syslog --hpc-dir "$M/hpc" --gpustat-dir "" --path.procfs "$T/proc")
SLURM_JOB_ID=7001 SLURM_JOB_GPUS=0,1 "$JOBTEL" prolog --strict "${full_args[@]}" || fail "prolog on the empty tmpfs"
SLURM_JOB_ID=7002 SLURM_JOB_GPUS=1 "$JOBTEL" prolog --strict "${full_args[@]}" || fail "prolog on the empty tmpfs"
dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null && fail "the tmpfs did not fill up"
rc=0
SLURM_JOB_ID=7003 SLURM_JOB_GPUS=2 "$JOBTEL" prolog "${full_args[@]}" 2>"$T/full.log" || rc=$?
[ "$rc" = 0 ] || fail "prolog on a full disk without --strict: exit $rc, want 0"
grep -q 'no space left on device' "$T/full.log" || fail "full disk not reported as such: $(cat "$T/full.log")"
! grep -q 'input/output error' "$T/full.log" || fail "full disk reported as an I/O error"
rc=0
SLURM_JOB_ID=7003 SLURM_JOB_GPUS=2 "$JOBTEL" prolog --strict "${full_args[@]}" 2>>"$T/full.log" || rc=$?
[ "$rc" = 1 ] || fail "prolog on a full disk with --strict: exit $rc, want 1"
[ "$(hook_errors "$M/hpc")" = ".jobtel-hook-errors.prolog.no_space 2" ] ||
    fail "full disk not counted: '$(hook_errors "$M/hpc")'"
[ -z "$(find "$M/hpc" -name '.*.tmp')" ] || fail "temporary files left on the full disk"
[ "$(jobs_in "$M/hpc/1")" = $'7001\n7002' ] || fail "hpc/1 damaged on the full disk: $(jobs_in "$M/hpc/1")"
rm "$M/filler"
SLURM_JOB_ID=7003 SLURM_JOB_GPUS=2 "$JOBTEL" prolog --strict "${full_args[@]}" || fail "prolog after space was freed"
[ "$(jobs_in "$M/hpc/2")" = 7003 ] || fail "job 7003 not mapped after space was freed"
umount_full
pass "full disk: 'no space left on device', exit 0 (1 with --strict), counted as no_space, nothing damaged"

# --- 5. the exporter exports the counts --------------------------------------------------------
: "${FAKE_NVML_LIB:?FAKE_NVML_LIB must point at the fake NVML}"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FAKE_NVML_SCENARIO="$SCENARIOS/dgx_h100.json" start_exporter "$PORT" --collector.gpu.nvml-library="$FAKE_NVML_LIB" \
    --no-collector.cgroup --hpc-job-mapping-dir="$HPC" --slurm.gpustat-dir="$GST"
curl -sf "http://127.0.0.1:$PORT/metrics" -o "$T/scrape.txt" || fail "no scrape"
"$PY" "$SRC/tests/e2e/promtext.py" validate "$T/scrape.txt" || fail "invalid exposition"
n=0
for f in "$HPC"/.jobtel-hook-errors.* "$GST"/.jobtel-hook-errors.*; do
    [ -f "$f" ] || continue
    format=hpc
    [ "$(dirname "$f")" = "$GST" ] && format=gpustat
    IFS=. read -r _ _ hook reason <<<"$(basename "$f")"
    want=$(stat -c %s "$f")
    got=$("$PY" "$SRC/tests/e2e/promtext.py" value "$T/scrape.txt" \
        "jobtel_slurm_hook_errors_total{format=\"$format\",hook=\"$hook\",reason=\"$reason\"}" || true)
    [ "$got" = "$want" ] || fail "jobtel_slurm_hook_errors_total{format=$format,hook=$hook,reason=$reason} '$got', want $want"
    n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "only $n count files to check"
grep -q '^jobtel_slurm_hook_errors_total{format="hpc",hook="epilog",reason="lock_timeout"} 0$' "$T/scrape.txt" ||
    fail "no zero series for a reason that never failed"
grep -q '^jobtel_gpu_job_mapping_dropped_files{format="hpc"} 0$' "$T/scrape.txt" || fail "no dropped-files gauge"
pass "exporter: jobtel_slurm_hook_errors_total equals the $n count files, zeros included"
