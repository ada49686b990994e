# result.sh - the one machine-readable line a benchmark prints per figure (sourced, not run).
#
#   RESULT <name> <value> <unit> <peer_value> <peer>
#
# bench/run-all collects these lines from every bench/*.sh it runs and writes docs/benchmarks.md from them;
# the human-readable table each script prints stays as it was. <peer_value> is the same figure for the
# peer measured in the same run (node_exporter, a bash prolog, the Python floor, the minimal C reader...),
# "-" where the figure has none; <peer> names it in one token. Names and units are single tokens.
bench_result() {
    local name=$1 value=$2 unit=$3 peer_value=${4:--} peer=${5:--}
    printf 'RESULT %s %s %s %s %s\n' "$name" "${value:--}" "$unit" "${peer_value:--}" "$peer"
}
