#!/bin/bash
# test_exporter_listen.sh - where and how the exporter listens: dcgm-exporter's -a / --address
# spellings, ":port" on a kernel without IPv6 (an LD_PRELOAD shim makes socket(AF_INET6) fail with
# EAFNOSUPPORT, as ipv6.disable=1 does), and content coding as Accept-Encoding asks for it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
export FAKE_NVML_SCENARIO="$SCENARIOS/one_gpu.json"
NVML=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup)
SHIM=${NOIPV6_SHIM:-$(dirname "$JOBTEL")/tests/shim/libjobtel_noipv6.so}
[ -f "$SHIM" ] || fail "the no-IPv6 shim $SHIM is not built"

# --- -a and --address, with a space or '=' ------------------------------------------------------------
n=0
for spelling in "-a" "-a=" "--address" "--address=" "--web.listen-address="; do
    n=$((n + 1))
    name="spelling$n"
    if [[ $spelling == *= ]]; then
        start_bg "$name" "$JOBTEL" exporter "${spelling}127.0.0.1:0" "${NVML[@]}"
    else
        start_bg "$name" "$JOBTEL" exporter "$spelling" 127.0.0.1:0 "${NVML[@]}"
    fi
    pid=$LAST_PID
    wait_for 10 grep -q 'listening on 127.0.0.1:0 (port [1-9]' "$T/$name.log" || fail "'$spelling' was not accepted: $(tail -n 3 "$T/$name.log")"
    port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/$name.log" | head -n1)
    wait_metrics "$port"
    stop_pid "$pid" || fail "exporter ($spelling) did not stop cleanly"
done
"$JOBTEL" exporter --help | grep -q -- '--web.listen-address, -a, --address' || fail "--help must list -a"
pass "-a, -a=, --address, --address= and --web.listen-address="

# --- no IPv6 in the kernel: ":port" falls back to the IPv4 wildcard -------------------------------------
# The shim itself must bite, or this test proves nothing.
LD_PRELOAD="$SHIM" "$PY" -c 'import socket, errno, sys
try:
    socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
except OSError as e:
    sys.exit(0 if e.errno == errno.EAFNOSUPPORT else 1)
sys.exit(1)' || fail "the shim does not make AF_INET6 sockets fail with EAFNOSUPPORT"
ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" LD_PRELOAD="$SHIM" start_exporter_ephemeral noipv6 ":0" "${NVML[@]}"
wait_metrics "$PORT"
# The body goes to a file first: `curl | grep -q` under pipefail fails when grep stops reading early.
curl -sf -o "$T/noipv6.prom" "http://127.0.0.1:$PORT/metrics" || fail "no answer over IPv4"
grep -q '^jobtel_build_info' "$T/noipv6.prom" || fail "no metrics over IPv4"
grep -q 'IPv6 is not available' "$T/noipv6.log" || fail "the fallback to IPv4 must be logged"
stop_pid "$EXPORTER_PID" || fail "exporter without IPv6 did not stop cleanly"
# With IPv6 present, ":port" still serves both families (dual stack).
if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    start_exporter_ephemeral dual ":0" "${NVML[@]}"
    wait_metrics "$PORT"
    curl -sf -o /dev/null "http://[::1]:$PORT/metrics" || fail "dual stack: no answer over IPv6"
    stop_pid "$EXPORTER_PID" || fail "dual-stack exporter did not stop cleanly"
fi
pass ":port without IPv6 serves IPv4"

# --- Accept-Encoding ------------------------------------------------------------------------------------
start_exporter_ephemeral enc 127.0.0.1:0 "${NVML[@]}"
wait_metrics "$PORT"
coding() { # ACCEPT-ENCODING -> the Content-Encoding answered ("none" if absent)
    local h
    h=$(curl -s -D - -o /dev/null -H "Accept-Encoding: $1" "http://127.0.0.1:$PORT/metrics" | tr -d '\r' |
        sed -n 's/^[Cc]ontent-[Ee]ncoding: *//p')
    echo "${h:-none}"
}
check_coding() {
    local got
    got=$(coding "$1")
    [ "$got" = "$2" ] || fail "Accept-Encoding '$1': got Content-Encoding $got, want $2"
}
check_coding "gzip" gzip
check_coding "gzip, deflate, br" gzip
check_coding "GZIP;q=0.5" gzip
check_coding "x-gzip" gzip
check_coding "*" gzip
check_coding "gzip;q=0" none
check_coding "gzip; q=0.000" none
check_coding "gzip;q=0, *" none
check_coding "*;q=0" none
check_coding "identity" none
check_coding "deflate" none
check_coding "gzipx" none
check_coding "gzip;q=2" none
# And the gzip body is the plain one, compressed.
curl -s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/metrics" | gzip -dc | grep -q '^jobtel_build_info' ||
    fail "gzip body does not decompress to the exposition"
stop_pid "$EXPORTER_PID"
pass "Accept-Encoding with q-values, x-gzip and *"
