#!/bin/bash
# test_metrics_doc.sh - docs/metrics.md is what scripts/gen-metrics-doc.py makes of the code's metric
# tables, and every family a live exporter serves (fake NVML with every reading, cgroup fixtures, job
# mapping dirs, a process-attributed GPU, an XID) is in it. Regenerate with
#   /usr/bin/python3 scripts/gen-metrics-doc.py . > docs/metrics.md
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"

"$PY" "$SRC/scripts/gen-metrics-doc.py" "$SRC" >"$T/metrics.md" || fail "gen-metrics-doc.py failed"
diff -u "$SRC/docs/metrics.md" "$T/metrics.md" >&2 ||
    fail "docs/metrics.md differs from the code: run /usr/bin/python3 scripts/gen-metrics-doc.py . > docs/metrics.md"

if ! declare -F free_port >/dev/null; then
    free_port() {
        "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    }
fi
mkdir -p "$T/hpc" "$T/gpustat"
printf '301\n' >"$T/hpc/0"
printf '301 5000\n' >"$T/gpustat/0"
export FAKE_NVML_SCENARIO="$SCENARIOS/gpu_lost.json" # values, a lost GPU (jobtel_gpu_up 0) and an XID
P=$(free_port)
start_exporter "$P" --collector.gpu.nvml-library="$FAKE_NVML_LIB" --hpc-job-mapping-dir="$T/hpc" \
    --slurm.gpustat-dir="$T/gpustat" --path.cgroupfs="$FIXTURES/cgroup_v2" --path.procfs="$FIXTURES/cgroup_procfs"
wait_for 20 scrape_has "$P" '^jobtel_gpu_xid_errors_total\{' || fail "no XID series"
scrape "$P" "$T/m.txt"
n=0
while read -r name; do
    n=$((n + 1))
    grep -q "^| \`$name\` |" "$SRC/docs/metrics.md" || fail "$name is served but not in docs/metrics.md"
done < <(sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$T/m.txt")
[ "$n" -gt 40 ] || fail "only $n families served"
stop_pid "$EXPORTER_PID"
pass "docs/metrics.md matches the code ($n served families checked)"
