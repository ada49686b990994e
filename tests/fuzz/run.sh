#!/bin/bash
# run.sh - runs one libFuzzer target: run.sh FUZZER SEED_DIR WORK_DIR [libFuzzer options...]
#
# New inputs go to WORK_DIR (never into the committed seeds), crashes to WORK_DIR/artifacts/. Every seed
# is replayed first, so a seed that crashes fails even a one-second run. Exit status: libFuzzer's (0: no
# crash, leak, timeout or out-of-memory found).
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3
shift 3
[ -x "$fuzzer" ] || { echo "run.sh: no fuzzer $fuzzer (build with -DJOBTEL_FUZZ=ON)" >&2; exit 2; }
[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || { echo "run.sh: no seed corpus in $seeds" >&2; exit 2; }
mkdir -p "$work/corpus" "$work/artifacts"
dict=$(dirname "$seeds")/../$(basename "$seeds").dict
opts=(-artifact_prefix="$work/artifacts/" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1)
[ -f "$dict" ] && opts+=(-dict="$dict")
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    exec "$fuzzer" "${opts[@]}" "$@" "$work/corpus" "$seeds"
