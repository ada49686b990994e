#!/bin/bash
# test_jobstats_timeline.sh - `jobstats --timeline` of a finished job whose Prometheus data is gone (the
# configured Prometheus does not listen), from the timeline stored in its summary: golden output.
#
# tests/fixtures/jobstats/timeline/job.json is a 2-hour, 2-node, 4-GPU job whose stored timeline has dense
# first and last minutes and coarse middle points, an idle GPU (0 %: the lowest block, never a gap) with
# unknown values (null) and a stretch without points (gaps: '·', or ' ' in ASCII), a GPU whose columns are
# in another order plus one this jobstats does not know (looked up by name), malformed points (skipped),
# and a node CPU timeline. The expected texts (job.utf8.txt, job.ascii.txt) were reviewed by hand.
source "$(dirname "$0")/lib.sh"
JOBSTATS=$(dirname "$JOBTEL")/jobstats
FX=$SRC/tests/fixtures/jobstats/timeline
source "$(dirname "$0")/stored_job.sh"
stored_job_setup train

TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8 "$JOBSTATS" --config "$T/jobstats.conf" -d --timeline 5005 >"$T/utf8.txt" 2>"$T/utf8.err" \
    || fail "--timeline: $(cat "$T/utf8.err")"
diff -u "$FX/job.utf8.txt" "$T/utf8.txt" || fail "--timeline (UTF-8) differs from the golden text"
grep -q "^DEBUG: timeline: Prometheus at http://127.0.0.1:$DEAD: .*the stored timeline instead" "$T/utf8.err" \
    || fail "-d does not say why the stored timeline was used: $(grep timeline "$T/utf8.err")"
pass "--timeline from the stored summary, UTF-8 sparklines: golden output"

TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8 "$JOBSTATS" --config "$T/jobstats.conf" --timeline --ascii 5005 >"$T/ascii.txt" || fail "--ascii"
diff -u "$FX/job.ascii.txt" "$T/ascii.txt" || fail "--timeline --ascii differs from the golden text"
TZ=UTC LANG=C LC_ALL=C "$JOBSTATS" --config "$T/jobstats.conf" --timeline 5005 >"$T/c.txt" || fail "C locale"
diff -u "$FX/job.ascii.txt" "$T/c.txt" || fail "a non-UTF-8 locale must give the ASCII view"
LC_ALL=C grep -q "$(printf '[\x80-\xff]')" "$T/ascii.txt" && fail "the ASCII view has non-ASCII bytes"
pass "--ascii and a non-UTF-8 locale: the plain-ASCII view, golden output"

# A job with neither Prometheus data nor a stored timeline: a clear error, exit 1, nothing on stdout.
cat >"$T/sacct" <<EOF
#!/bin/sh
echo '5006|1700000000|1700007200|tc|billing=16,cpu=16,gres/gpu=4,mem=128G,node=2||alice|physics|COMPLETED|2|16|128G|normal|gpu|240|train'
EOF
rc=0
"$JOBSTATS" --config "$T/jobstats.conf" --timeline 5006 >"$T/none.out" 2>"$T/none.err" || rc=$?
[ "$rc" = 1 ] && [ ! -s "$T/none.out" ] && grep -q "no timeline for job 5006: Prometheus at http://127.0.0.1:$DEAD" "$T/none.err" \
    || fail "no timeline anywhere: rc $rc, $(cat "$T/none.err")"
pass "no timeline anywhere: exit 1 with a message naming Prometheus"
