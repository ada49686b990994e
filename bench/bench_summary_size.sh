#!/bin/bash
# bench_summary_size.sh - the stored summary's size (AdminComment, as `jobtel summary --store` writes it)
# with the exact figures and the per-GPU timelines, for 1-hour, 1-day and 7-day 8-GPU jobs.
#
# Usage: bench/bench_summary_size.sh [BUILD_DIR]     (default: build)
# Runs the unit program tests/unit/test_summary_size.c: the daemon's integrator driven by a synthetic
# clock (1 s collections of 8 GPUs with noisy readings), the job's record folded into a Princeton-style
# summary through the records directory, encoded as stored (JS1 gzip + base64, and js1b32). Prints the
# Markdown table of docs/accounting.md; fails if a summary with its full timelines passes the 16000-byte
# budget of `jobtel summary`.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
PROG=$BUILD/test_summary_size
[ -x "$PROG" ] || { echo "missing $PROG: build first" >&2; exit 2; }
out=$("$PROG" 2>&1) || { echo "$out" >&2; exit 1; }
grep '^|' <<<"$out"
