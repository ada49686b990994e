# cgroup_lib.sh - helpers for the cgroup end-to-end tests (sourced, not run): assertions against what the
# kernel counted and against collections known to be fresh, never against the clock or a cadence.
# Needs a `fail` function from the sourcing test.

# usage_all_s FILE : the user + system columns of a v1 cpuacct.usage_all, summed, in seconds (the
# counters the collector reads; on current kernels they come from the tick-based per-CPU statistics and
# may differ from cpuacct.usage by some ticks).
usage_all_s() { awk 'NR > 1 { s += $2 + $3 } END { printf "%.9f", s / 1e9 }' "$1"; }

# series_value FILE SERIES : the sample's value, or nothing.
series_value() { awk -v s="$2" 'index($0, s " ") == 1 { print $2 }' "$1"; }

# fresh_scrape URL FILE PID : a scrape of URL into FILE whose cgroup collection started after this call
# (its end minus its duration is later than now), however long the cadence and however loaded the
# machine; fails after 60 s or if PID exits.
fresh_scrape() {
    local url=$1 out=$2 pid=$3 t0 end dur
    t0=$(date +%s.%N)
    for _ in $(seq 600); do
        if curl -sf "$url" -o "$out" 2>/dev/null; then
            end=$(series_value "$out" 'jobtel_last_collection_timestamp_seconds{collector="cgroup"}')
            dur=$(series_value "$out" 'jobtel_scrape_collector_duration_seconds{collector="cgroup"}')
            if [ -n "$end" ] && [ -n "$dur" ] &&
                awk -v e="$end" -v d="$dur" -v t="$t0" 'BEGIN { exit !(e - d > t) }'; then
                return 0
            fi
        fi
        kill -0 "$pid" 2>/dev/null || fail "the daemon exited"
        sleep 0.1
    done
    fail "no cgroup collection started within 60 s"
}

# wait_usage_all FILE SECONDS PID : until the kernel has counted SECONDS of CPU in that usage_all (the
# job gets what the scheduler gives it; assertions use what was counted). Fails after 120 s or if PID
# (the job's process) is gone.
wait_usage_all() {
    local f=$1 want=$2 pid=$3
    for _ in $(seq 1200); do
        awk -v have="$(usage_all_s "$f")" -v want="$want" 'BEGIN { exit !(have >= want) }' && return 0
        [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || fail "the job's process is gone"
        sleep 0.1
    done
    fail "the job did not get $want s of CPU in 120 s"
}

# free_port : a loopback port the kernel picked (the caller retries if it is taken before it binds).
free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
