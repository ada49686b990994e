#!/bin/bash
# test_bench_run_all.sh - bench/run-all's document generator works, without running a benchmark (no
# timing is asserted): --dry-run checks every bench script parses and prints RESULT lines, then writes the
# document from bench/testdata/results.sample. The machine facts must be this machine's, every ratio the
# sample's figure over its peer's, the benchmarks that did not run listed with their reason; a bench script
# that no longer prints a RESULT line must fail the dry run.
. "$(dirname "$0")/lib.sh"

BUILD=$(dirname "$JOBTEL")
"$SRC/bench/run-all" --dry-run --quick --build "$BUILD" --out "$T/benchmarks.md" >"$T/run.log" 2>&1 ||
    { cat "$T/run.log" >&2; fail "run-all --dry-run failed"; }
D=$T/benchmarks.md
has() { grep -qF -- "$1" "$D" || fail "benchmarks.md lacks: $1"; }
has "# Benchmarks"
has "**Dry run: the figures below are the generator's sample, not measurements.**"
has "| CPU | $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1) |"
has "| Cores | $(nproc) |"
has "| Kernel | $(uname -r) |"
if git -C "$SRC" rev-parse --short=12 HEAD >/dev/null 2>&1; then
    has "| jobtel commit | $(git -C "$SRC" rev-parse --short=12 HEAD)"
fi
# Ratios: jobtel over the peer of the same run (6144 / 21504 KiB, 9000 / 600 req/s, 46.2 / 35.2 ms).
has "| Exporter RSS, 8 GPUs | 6.0 MiB | Debian prometheus-node-exporter | 21.0 MiB | 0.29× |"
has "| Scrape throughput | 9,000 req/s | Debian prometheus-node-exporter | 600 req/s | 15.00× (higher is better) |"
has "| Collection CPU per pass, 1,000 cgroups | 46.2 ms | minimal C reader of the same files | 35.2 ms | 1.31× | ≤ 1.5× |"
has "| Prolog p50, 8 GPUs | 1.22 ms | bash prolog (builtins, same 8 files) | 1.68 ms | 0.73× | ≤ 1.5× |"
has "| \`prolog_both_dirs_p50\` | 2 ms | – | – | – |"
has "| Idle daemon CPU, 8 GPUs + 1,250 cgroups | not measured (\`bench_idle_cpu\` not run) |"
has "| Prolog p99, 8 GPUs | not measured (no \`prolog_p99\` from \`bench_prolog\`) |"
has "- \`bench_hostile\`: missing: prometheus-node-exporter"
has "- \`bench_gpm\`: exit 1: missing /x/jobtel: build first"

# A known benchmark that prints no RESULT line fails the dry run (a copy of bench/, one script unwired).
mkdir -p "$T/copy"
cp -r "$SRC/bench" "$T/copy/"
sed -i '/bench_result /d' "$T/copy/bench/bench_prolog.sh"
rc=0
"$T/copy/bench/run-all" --dry-run --build "$BUILD" --out "$T/copy.md" >"$T/copy.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "run-all --dry-run with an unwired bench_prolog.sh: exit $rc, want 1"
grep -q "bench_prolog.sh prints no RESULT line" "$T/copy.log" || fail "no reason given: $(cat "$T/copy.log")"
[ ! -e "$T/copy.md" ] || fail "a failed dry run must write no document"
pass "bench/run-all --dry-run writes docs/benchmarks.md from its sample with this machine's facts"
