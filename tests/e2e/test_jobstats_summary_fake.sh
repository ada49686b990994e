#!/bin/bash
# test_jobstats_summary_fake.sh - `jobtel summary` against sacct/sacctmgr stand-ins that record every
# call, for what the live Slurm test cannot arrange on demand:
# 1. `jobtel stats --help` / `jobtel summary --help` name the command the user typed.
# 2. A fresh install (no /var/spool/jobtel): the spool directory is created with its parents, so a
#    summary that cannot be stored is spooled, not lost.
# 3. An array task whose raw id is the array's id, spooled from the epilog (SLURM_ARRAY_* set) and stored
#    by --retry-spool (no SLURM_* at all): stored as ARRAY_TASK, never on the array's record.
# 4. Spool entries older than --spool-max-age (old one-line entries by mtime) are dropped, with a log line.
# 5. slurmdbd lagging (the job's end never shows): sacct is asked a bounded number of times, spaced out.
source "$(dirname "$0")/lib.sh"
JOBSTATS=$(dirname "$JOBTEL")/jobstats
mkdir -p "$T/bin" "$T/db"

# sacct stand-in: `-j ID` prints $T/db/ID.line with @C@ replaced by $T/db/ID.comment.
cat >"$T/bin/sacct" <<EOS
#!/bin/sh
echo "\$*" >>"$T/sacct.calls"
id=
while [ \$# -gt 0 ]; do [ "\$1" = -j ] && id=\$2; shift; done
[ -f "$T/db/\$id.line" ] || exit 0
c=\$(cat "$T/db/\$id.comment" 2>/dev/null || true)
sed "s|@C@|\$c|" "$T/db/\$id.line"
EOS
# sacctmgr stand-in: fails like a down slurmdbd while $T/sacctmgr.fail exists; else stores the comment.
cat >"$T/bin/sacctmgr" <<EOS
#!/bin/sh
echo "\$*" >>"$T/sacctmgr.calls"
if [ -e "$T/sacctmgr.fail" ]; then echo "sacctmgr: error: Problem talking to the database" >&2; exit 1; fi
id=; val=
for a in "\$@"; do
  case "\$a" in jobid=*) id=\${a#jobid=} ;; AdminComment=*) val=\${a#AdminComment=} ;; esac
done
printf '%s' "\$val" >"$T/db/\$id.comment"
EOS
chmod 755 "$T/bin/sacct" "$T/bin/sacctmgr"
SPOOL="$T/fresh/var/spool/jobtel/summaries"
cat >"$T/jobstats.conf" <<EOS
sacct = $T/bin/sacct
sacctmgr = $T/bin/sacctmgr
prometheus_url = http://127.0.0.1:9
sampling_period = 30
spool_dir = $SPOOL
EOS
line() { # ID NAME END: a 10-second (so "Short": no Prometheus needed) completed job
    echo "$1|1700000000|$3|tc|cpu=1,mem=1G,node=1|@C@|alice|physics|${4:-COMPLETED}|1|1|1G|normal|cpu|60|$2"
}

# --- 1. the name the user typed ---------------------------------------------------------------------------
"$JOBTEL" stats --help | head -1 | grep -qx "Usage: jobtel stats \[options\] JOBID\.\.\." \
    || fail "jobtel stats --help: $("$JOBTEL" stats --help | head -1)"
"$JOBSTATS" --help | head -1 | grep -q "^Usage: jobstats " || fail "jobstats --help lost its own name"
"$JOBTEL" summary --help | head -1 | grep -q "^Usage: jobtel summary" || fail "jobtel summary --help"
"$JOBTEL" summary --help | grep -q -- "--spool-max-age" || fail "--spool-max-age not in --help"
pass "--help names the command typed"

# --- 2. fresh install: no spool directory, slurmdbd down ---------------------------------------------------
line 600 fresh 1700000010 >"$T/db/600.line"
touch "$T/sacctmgr.fail"
[ ! -e "$T/fresh" ] || fail "setup"
"$JOBTEL" summary --store 600 --config "$T/jobstats.conf" 2>"$T/store600.log" || fail "--store 600 failed: $(cat "$T/store600.log")"
[ -f "$SPOOL/600" ] || fail "job 600 not spooled on a fresh install: $(cat "$T/store600.log")"
[ "$(stat -c %a "$SPOOL")" = 750 ] || fail "spool mode $(stat -c %a "$SPOOL")"
[ "$(stat -c %a "$T/fresh/var/spool/jobtel")" = 755 ] || fail "parent mode"
pass "fresh install: spool directory created with its parents (0755/0750), job spooled"

# --- 3. an array task spooled from the epilog, stored by the timer -----------------------------------------
line 500 arraytask 1700000010 >"$T/db/500_3.line"
line 501 othertask 1700000010 >"$T/db/500.line"  # `sacct -j 500` would list the tasks
SLURM_JOB_ID=500 SLURM_ARRAY_JOB_ID=500 SLURM_ARRAY_TASK_ID=3 \
    "$JOBTEL" summary --store 500 --config "$T/jobstats.conf" 2>"$T/store500.log" || fail "--store 500"
[ -f "$SPOOL/500" ] || fail "array task not spooled: $(cat "$T/store500.log")"
grep -q "array_task_id=3" "$SPOOL/500" || fail "spool entry lacks the task id: $(cat "$SPOOL/500")"
rm -f "$T/sacctmgr.fail" "$T/sacctmgr.calls"
env -u SLURM_JOB_ID -u SLURM_ARRAY_JOB_ID -u SLURM_ARRAY_TASK_ID \
    "$JOBTEL" summary --retry-spool --config "$T/jobstats.conf" 2>"$T/retry.log" || fail "retry: $(cat "$T/retry.log")"
grep -q "jobid=500_3 " "$T/sacctmgr.calls" || fail "array task stored under $(cat "$T/sacctmgr.calls")"
! grep -q "jobid=500 " "$T/sacctmgr.calls" || fail "the array's record was written: $(cat "$T/sacctmgr.calls")"
[ "$(cat "$T/db/500_3.comment")" = "JS1:Short" ] || fail "task comment: $(cat "$T/db/500_3.comment" 2>&1)"
[ ! -e "$T/db/500.comment" ] || fail "array record got a comment"
[ ! -e "$SPOOL/500" ] && [ ! -e "$SPOOL/600" ] || fail "spool not emptied: $(ls "$SPOOL")"
pass "array task stored as 500_3 by --retry-spool without SLURM_* in the environment"

# --- 4. expiry ---------------------------------------------------------------------------------------------
line 601 old 1700000010 >"$T/db/601.line"
line 602 oldnew 1700000010 >"$T/db/602.line"
line 603 recent 1700000010 >"$T/db/603.line"
echo 601 >"$SPOOL/601" && touch -d '8 days ago' "$SPOOL/601"     # an entry from before this change
printf 'jobid=602\narray_job_id=\narray_task_id=\nspooled_at=%s\n' $(( $(date +%s) - 3 * 86400 )) >"$SPOOL/602"
printf 'jobid=603\narray_job_id=\narray_task_id=\nspooled_at=%s\n' "$(date +%s)" >"$SPOOL/603"
touch "$T/sacctmgr.fail"
rc=0
"$JOBTEL" summary --retry-spool --spool-max-age 2d --config "$T/jobstats.conf" 2>"$T/expire.log" || rc=$?
[ "$rc" = 1 ] || fail "retry with a job left should exit 1, got $rc"
[ ! -e "$SPOOL/601" ] && [ ! -e "$SPOOL/602" ] || fail "old entries kept: $(ls "$SPOOL")"
[ -e "$SPOOL/603" ] || fail "a recent entry was dropped"
grep -q 'job 601: spooled .* dropped' "$T/expire.log" || fail "no log line for 601: $(cat "$T/expire.log")"
grep -q 'job 602: spooled .* dropped' "$T/expire.log" || fail "no log line for 602"
"$JOBTEL" summary --retry-spool --spool-max-age 0 --config "$T/jobstats.conf" 2>/dev/null && fail "age 0 accepted"
pass "spooled jobs older than --spool-max-age are dropped and logged"
rm -f "$SPOOL/603"

# --- 5. slurmdbd lagging: a bounded number of spaced sacct queries -----------------------------------------
line 700 lagging Unknown RUNNING >"$T/db/700.line"
rm -f "$T/sacct.calls"
"$JOBTEL" summary --store 700 --config "$T/jobstats.conf" 2>"$T/store700.log" || fail "--store 700"
n=$(grep -c -- "-j 700" "$T/sacct.calls")
[ "$n" -le 4 ] || fail "sacct asked $n times for one job end"
[ -f "$SPOOL/700" ] || fail "job 700 not spooled: $(cat "$T/store700.log")"
grep -q "has not recorded the end" "$T/store700.log" || fail "no reason logged: $(cat "$T/store700.log")"
pass "lagging slurmdbd: $n sacct queries, then spooled"
