# cgroup_tree.sh - Slurm-shaped cgroup trees of ordinary files for the benchmarks (sourced, not run).
#
# build_v1_fixture ROOT JOBS and build_v2_fixture ROOT JOBS make JOBS jobs of four cgroups each (job,
# step_batch, step_extern, step_0; v2 adds step_0/user/task_0), with the files a kernel shows and the
# values a collector parses. Job ids start above JOB0 (default 3000000000), far above any test
# cluster's, so a Slurm test running meanwhile never shares one with a benchmark.
JOB0=${JOB0:-3000000000}

put() { printf '%s\n' "$2" >"$1"; }

# v1 fixture: one cgroup directory in each controller tree.
v1_cgroup() {
    local root=$1 rel=$2 n=$3 d
    d=$root/cpuacct/$rel
    mkdir -p "$d"
    put "$d/cgroup.procs" ""
    put "$d/cpuacct.usage" "$((n * 1000003))"
    put "$d/cpuacct.usage_user" "$((n * 900001))"
    put "$d/cpuacct.usage_sys" "$((n * 100002))"
    put "$d/cpuacct.stat" "$(printf 'user %d\nsystem %d' "$n" "$n")"
    put "$d/cpuacct.usage_all" "$(printf 'cpu user system\n0 %d %d\n1 %d %d' "$((n * 450000))" "$((n * 50001))" "$((n * 450001))" "$((n * 50001))")"
    d=$root/memory/$rel
    mkdir -p "$d"
    put "$d/cgroup.procs" ""
    put "$d/memory.usage_in_bytes" "$((n * 4096))"
    put "$d/memory.limit_in_bytes" 4294967296
    put "$d/memory.failcnt" 0
    put "$d/memory.max_usage_in_bytes" "$((n * 8192))"
    put "$d/memory.stat" "$(printf 'cache %d\nrss %d\nshmem 0\nmapped_file 0\ninactive_file 0\nactive_file 0\nhierarchical_memory_limit 4294967296\ntotal_cache %d\ntotal_rss %d\ntotal_shmem 0\ntotal_mapped_file 0\ntotal_inactive_file 0\ntotal_active_file 0\ntotal_unevictable 0' "$n" "$n" "$n" "$n")"
    d=$root/cpuset/$rel
    mkdir -p "$d"
    put "$d/cgroup.procs" ""
    put "$d/cpuset.cpus" "0-3"
}

v2_cgroup() {
    local d=$1 n=$2
    mkdir -p "$d"
    put "$d/cgroup.procs" ""
    put "$d/cpu.stat" "$(printf 'usage_usec %d\nuser_usec %d\nsystem_usec %d\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0' "$n" "$n" 0)"
    put "$d/memory.current" "$((n * 4096))"
    put "$d/memory.peak" "$((n * 8192))"
    put "$d/memory.max" max
    put "$d/memory.events" "$(printf 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0')"
    put "$d/memory.stat" "$(printf 'anon %d\nfile %d\nkernel 0\nshmem 0\nswapcached 0\ninactive_file 0\nactive_file 0' "$n" "$n")"
    put "$d/cpuset.cpus.effective" "0-3"
}

build_v1_fixture() {
    local root=$1 jobs=$2 j s
    for j in $(seq $((JOB0 + 1)) $((JOB0 + jobs))); do
        v1_cgroup "$root" "slurm/uid_1000/job_$j" "$((j - JOB0))"
        for s in batch extern 0; do
            v1_cgroup "$root" "slurm/uid_1000/job_$j/step_$s" "$((j - JOB0))"
        done
    done
}

build_v2_fixture() {
    local root=$1 jobs=$2 j s scope
    mkdir -p "$root"
    put "$root/cgroup.controllers" "cpuset cpu io memory pids"
    scope=$root/system.slice/slurmstepd.scope
    v2_cgroup "$root/system.slice" 1
    v2_cgroup "$scope" 1
    for j in $(seq $((JOB0 + 1)) $((JOB0 + jobs))); do
        v2_cgroup "$scope/job_$j" "$((j - JOB0))"
        for s in batch extern 0; do
            v2_cgroup "$scope/job_$j/step_$s" "$((j - JOB0))"
        done
        v2_cgroup "$scope/job_$j/step_0/user" 1
        v2_cgroup "$scope/job_$j/step_0/user/task_0" "$((j - JOB0))"
    done
}

