#!/bin/bash
# long.sh - the long fuzz run behind `make fuzz`: long.sh BUILD_DIR [TARGET...]
#
# Runs each target (all of tests/fuzz/fuzz_*.c by default) in turn until FUZZ_RUNS executions (10^7)
# or FUZZ_TIME seconds (3600), whichever comes first, keeping what it finds in BUILD_DIR/fuzz-work/<target>/
# (corpus/ grows across runs; artifacts/ holds any crash). One line per target: executions, new corpus
# size, verdict. Exit status 1 if any target found a crash, leak, timeout or out-of-memory.
set -uo pipefail
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
runs=${FUZZ_RUNS:-10000000}
secs=${FUZZ_TIME:-3600}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$here"/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
status=0
for t in "${targets[@]}"; do
    work="$build/fuzz-work/$t"
    mkdir -p "$work"
    bash "$here/run.sh" "$build/fuzz/fuzz_$t" "$here/corpus/$t" "$work" -runs="$runs" -max_total_time="$secs" \
        >"$work/long.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$work/long.log" | tail -1)
    secs_used=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work/long.log" | tail -1)
    corpus=$(ls "$work/corpus" | wc -l)
    verdict=ok
    [ $rc -eq 0 ] || { verdict="FOUND (exit $rc; see $work/long.log, $work/artifacts/)"; status=1; }
    printf '%-16s execs=%-10s seconds=%-6s corpus=%-6s %s\n' "$t" "${execs:-?}" "${secs_used:-?}" "$corpus" "$verdict"
done
exit $status
