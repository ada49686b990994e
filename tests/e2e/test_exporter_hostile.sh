#!/bin/bash
# test_exporter_hostile.sh - a local user attacks the exporter's port and Prometheus's scrapes must
# still all get through. The attacker (hostile_http.py) holds 1,000 connections from 127.0.0.1 and
# 127.0.0.2 that trickle one header line every 3 s and never finish, reopening each one the server
# closes; every 0.5 s it also sends a /metrics query of 500 arguments and half a request followed by a
# close. During the attack N scrapes (curl, new connection each, bounded by Prometheus's default
# 10 s scrape timeout) must all be answered 200 with a valid body; the big queries must all get an
# HTTP answer; the half-closed sockets must all be closed by the server. What is asserted is what
# each client received, never how long it took.
# HOSTILE_TLS=1 (test_exporter_hostile_tls.sh) runs the same attack against a TLS exporter: every
# attacker connection completes its handshake first, and the scrapes are made over HTTPS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
export FAKE_NVML_SCENARIO="$SCENARIOS/one_gpu.json"
NSCRAPES=${NSCRAPES:-50}

"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' || fail "cannot bind 127.0.0.2 (loopback /8)"
if [ "${HOSTILE_TLS:-0}" = 1 ]; then
    . "$(dirname "$0")/tlscerts.sh"
    make_ca ca
    make_cert ca server 0x42 server
    printf 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n' >"$T/web.yml"
    start_exporter_ephemeral exporter 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup \
        --web.config.file="$T/web.yml"
    BASE="https://localhost:$PORT"
    CURL=(curl --cacert "$T/ca.crt")
    ATTACK_TLS=(--tls 1)
    wait_for 10 "${CURL[@]}" -sf -o /dev/null "$BASE/metrics" || fail "exporter never served metrics over TLS"
else
    start_exporter_ephemeral exporter 127.0.0.1:0 --collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup
    BASE="http://127.0.0.1:$PORT"
    CURL=(curl)
    ATTACK_TLS=()
    wait_metrics "$PORT"
fi

# attack SOURCES NSCRAPES : runs the attack from SOURCES (comma list) while NSCRAPES scrapes are made;
# fails unless every scrape and every probe got its answer. Prints what it measured.
attack() {
    local sources=$1 nscrapes=$2 tag=$3 probes=ok
    rm -f "$T/ready" "$T/stop" "$T/report.json"
    start_bg "attacker-$tag" "$PY" "$SRC/tests/e2e/hostile_http.py" "$PORT" "$T/ready" "$T/report.json" "$T/stop" \
        --conns 1000 --sources "$sources" --max-seconds 120 "${ATTACK_TLS[@]}"
    ATTACKER=$LAST_PID
    wait_for 30 test -s "$T/ready" || fail "the attacker did not get its connections opened"

    ok=0
    : >"$T/scrapes.txt"
    for i in $(seq 1 "$nscrapes"); do
        code=$("${CURL[@]}" -s --max-time 10 -H 'Accept-Encoding: gzip' --compressed -o "$T/body.txt" \
            -w '%{http_code} %{time_total} %{exitcode} %{errormsg}' "$BASE/metrics" || true)
        echo "$code" >>"$T/scrapes.txt"
        if [ "${code%% *}" = 200 ] && grep -q '^jobtel_build_info{' "$T/body.txt" &&
            grep -q '^jobtel_scrape_collector_success{collector="gpu"} 1$' "$T/body.txt"; then
            ok=$((ok + 1))
        fi
        sleep 0.1 # pacing, as a scraper does; it also lets the attacker's probes run meanwhile
    done
    touch "$T/stop"
    wait "$ATTACKER" || fail "attacker failed"
    kill -0 "$EXPORTER_PID" || fail "exporter died under attack"
    "$PY" "$SRC/tests/e2e/hostile_report.py" "$T/report.json" "$T/scrapes.txt" >"$T/summary-$tag.txt" || probes=bad
    cat "$T/summary-$tag.txt"
    [ "$ok" = "$nscrapes" ] || fail "only $ok of $nscrapes scrapes were answered during the attack: $(sort "$T/scrapes.txt" | uniq -c | head)"
    [ "${probes:-}" != bad ] || fail "hostile probes (see above)"
}

# The attack as reported: two source addresses, so the per-address limit is what is fought over.
# With TLS the attacker keeps to addresses of its own: during a scrape's handshake (a round trip and
# the client's key exchange) nothing tells it from an attacker's connection on the same address, so
# the per-address limit is what protects it, as it protects a Prometheus scraping from its own host.
if [ "${HOSTILE_TLS:-0}" = 1 ]; then A=(127.0.0.2,127.0.0.3 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9)
else A=(127.0.0.1,127.0.0.2 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8); fi
attack "${A[0]}" "$NSCRAPES" two
pass "two addresses: all $NSCRAPES scrapes answered, big queries answered, half-closed sockets closed"
# Eight addresses: together they pass the total limit as well.
attack "${A[1]}" 20 eight
pass "eight addresses: all 20 scrapes answered"

# After the attack: still serving, and liveness says so.
"${CURL[@]}" -sf -o /dev/null "$BASE/-/healthy" || fail "/-/healthy after the attack"
stop_pid "$EXPORTER_PID" || fail "exporter did not stop cleanly after the attack"
pass "still serving and alive after the attacks"
