#!/bin/bash
# day.sh - the full simulated day behind `make soak`: day.sh CI_BUILD ASAN_BUILD
#
# SOAK_CYCLES (86,400) collections natively, where RSS is the allocator's true footprint, asserting a
# slope under 1 KiB per 1,000 cycles over the second half; then the same day under ASan+LSan for leaks
# and memory errors. ASan's own allocator (quarantine, per-thread caches) moves RSS by a megabyte or two
# either way, so there the slope is reported, not asserted: LeakSanitizer is the leak check.
set -euo pipefail
ci=$1 asan=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
cycles=${SOAK_CYCLES:-86400}
work=$(mktemp -d /tmp/jobtel-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
run() {
    local mode=$1 build=$2 slope=$3
    mkdir -p "$work/$mode"
    /usr/bin/python3 "$src/tests/soak/soak.py" --mode "$mode" --cycles "$cycles" --max-slope "$slope" \
        --exporter "$build/jobtel-exporter" --nvml-lib "$build/tests/fake_nvml/libnvidia-ml.so.1" \
        --src "$src" --work "$work/$mode"
}
run native "$ci" 1
run asan "$asan" 1
