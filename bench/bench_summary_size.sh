#!/bin/bash
# bench_summary_size.sh - the stored summary's size (AdminComment, as `jobtel summary --store` writes it)
# with the exact figures and the per-GPU timelines, for 1-hour, 1-day and 7-day 8-GPU jobs.
#
# Usage: bench/bench_summary_size.sh [BUILD_DIR]     (default: build)
# Runs the unit program tests/unit/test_summary_size.c: the daemon's integrator driven by a synthetic
# clock (1 s collections of 8 GPUs with noisy readings), the job's record folded into a Princeton-style
# summary through the records directory, encoded as stored (JS1 gzip + base64, and js1b32). Prints the
# Markdown table of docs/accounting.md; fails if a summary with its full timelines passes the 16000-byte
# budget of `jobtel summary`. RESULT lines, per job length (1h, 1d, 7d): the stored AdminComment (JS1,
# base64) against Princeton's part of it alone, and the js1b32 spelling (the larger) against the budget.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
PROG=$BUILD/test_summary_size
[ -x "$PROG" ] || { echo "missing $PROG: build first" >&2; exit 2; }
out=$("$PROG" 2>&1) || { echo "$out" >&2; exit 1; }
grep '^|' <<<"$out"

. "$SRC/bench/result.sh"
# Rows "| 1 hour | points | json B | js1 B | js1b32 B | princeton B |": a row missing or malformed fails
# the script instead of printing no figure.
rows=0
while IFS='|' read -r _ job _ _ js1 b32 princeton _; do
    case $job in
        " 1 hour ") tag=1h ;;
        " 1 day ") tag=1d ;;
        " 7 days ") tag=7d ;;
        *) continue ;;
    esac
    js1=${js1//[ B]/} b32=${b32//[ B]/} princeton=${princeton//[ B]/}
    for v in "$js1" "$b32" "$princeton"; do
        [[ $v =~ ^[0-9]+$ ]] || { echo "unexpected size '$v' in the $job row" >&2; exit 1; }
    done
    bench_result "summary_js1_bytes_$tag" "$js1" B "$princeton" princeton_part
    bench_result "summary_js1b32_bytes_$tag" "$b32" B 16000 summary_budget
    rows=$((rows + 1))
done <<<"$out"
[ "$rows" = 3 ] || { echo "expected the 1 hour, 1 day and 7 days rows, found $rows" >&2; exit 1; }
