#!/bin/bash
# test_soak.sh - the soak test, shortened for the suite (tests/soak/soak.py; the full simulated day is
# `make soak`): 10,000 collection cycles at 10 ms with jobs starting and ending, cgroups churning, GPU 1
# lost, kubelet restarts, SIGHUPs and scrapes; RSS flat, no fd or thread growth, a clean stop.
# In the ASan build (make check's second pass) the daemon runs under ASan+LSan (leaks, memory errors, fd
# and thread floors; RSS is ASan's, reported only); in the plain build it runs natively (RSS slope too),
# then a shorter span under valgrind's memcheck.
. "$(dirname "$0")/lib.sh"
: "${FAKE_NVML_LIB:?}"
EXP="$(dirname "$JOBTEL")/jobtel-exporter"
CYCLES=${SOAK_CYCLES:-10000}
VG_CYCLES=${SOAK_VALGRIND_CYCLES:-300}
# RSS slope bound for the short run, KiB per 1,000 cycles: the first minutes still include the
# allocator's warm-up (per-thread arenas reaching their high-water marks), which the full day amortises
# (make soak asserts 1 KiB): RSS reaches the same plateau with and without job churn, by 7,000 to
# 20,000 cycles. 32 KiB per 1,000 cycles is still below one leaked allocation (32 bytes) per cycle.
SLOPE=${SOAK_MAX_SLOPE:-32}

soak() {
    local mode=$1 cycles=$2
    mkdir -p "$T/$mode"
    "$PY" "$SRC/tests/soak/soak.py" --exporter "$EXP" --nvml-lib "$FAKE_NVML_LIB" --src "$SRC" --work "$T/$mode" \
        --cycles "$cycles" --mode "$mode" --max-slope "$SLOPE" --kubelet-every 10 --hup-every 2 \
        || fail "soak ($mode, $cycles cycles) failed"
}

if ldd "$EXP" | grep -q libasan; then
    soak asan "$CYCLES"
else
    command -v valgrind >/dev/null || fail "valgrind is not installed (scripts/install-deps.sh)"
    soak native "$CYCLES"
    soak valgrind "$VG_CYCLES"
fi
pass "soak"
