#!/bin/bash
# test_exporter_tls.sh - --web.config.file with real clients: curl, openssl s_client and a real
# Prometheus scraping over TLS with basic auth. Wrong or missing passwords get 401 and the probes do
# not need one; plain HTTP to the TLS port fails and the daemon keeps serving; TLS 1.1 is refused
# (by the server: the client is told to allow it); a flood of wrong passwords is bounded (429) while
# the right one keeps getting 200; a client certificate is required when configured; a certificate
# swap plus SIGHUP is picked up with no scrape lost, and a broken new file keeps the old one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ephemeral.sh"
. "$(dirname "$0")/tlscerts.sh"
: "${FAKE_NVML_LIB:?}" "${SCENARIOS:?}"
export FAKE_NVML_SCENARIO="$SCENARIOS/one_gpu.json"
NVML=(--collector.gpu.nvml-library="$FAKE_NVML_LIB" --no-collector.cgroup)
command -v openssl >/dev/null || fail "openssl is not installed (scripts/install-deps.sh)"

make_ca ca
make_cert ca server1 0x5151 server
make_cert ca server2 0x5252 server
make_ca clientca
make_cert clientca client 0x77 client
make_ca rogue
make_cert rogue rogueclient 0x66 client
cp "$T/server1.crt" "$T/tls.crt"
cp "$T/server1.key" "$T/tls.key"
HASH=$(bcrypt_hash s3cret)
[[ $HASH == '$2b$'* ]] || fail "cannot make a bcrypt hash: $HASH"
cat >"$T/web.yml" <<YML
# as node_exporter takes it; relative paths are relative to this file
tls_server_config:
  cert_file: tls.crt
  key_file: tls.key
  min_version: TLS12
basic_auth_users:
  prom: '$HASH'
http_server_config:
  headers:
    X-Frame-Options: deny
YML

# --web-config-file: dcgm-exporter's spelling
start_exporter_ephemeral tls 127.0.0.1:0 "${NVML[@]}" --web-config-file "$T/web.yml"
grep -q "port $PORT), metrics at /metrics, TLS, basic auth" "$T/tls.log" || fail "the log does not say TLS and basic auth"
URL="https://localhost:$PORT"
C=(curl -s --max-time 10 --cacert "$T/ca.crt")
wait_for 10 "${C[@]}" -f -u prom:s3cret -o /dev/null "$URL/metrics" || fail "never served metrics over TLS"

# --- basic auth ----------------------------------------------------------------------------------------
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 401 ] || fail "no credentials: got $code, want 401"
"${C[@]}" -D - -o /dev/null "$URL/metrics" | grep -qi '^WWW-Authenticate: Basic realm="jobtel"' || fail "401 without WWW-Authenticate"
code=$("${C[@]}" -u prom:wrong -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 401 ] || fail "wrong password: got $code, want 401"
code=$("${C[@]}" -u nobody:s3cret -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 401 ] || fail "unknown user: got $code, want 401"
"${C[@]}" -u prom:s3cret -D "$T/h.txt" -o "$T/m.txt" "$URL/metrics"
grep -q '^HTTP/1.1 200' "$T/h.txt" || fail "right password: $(head -n1 "$T/h.txt")"
grep -qi '^X-Frame-Options: deny' "$T/h.txt" || fail "configured header missing: $(cat "$T/h.txt")"
validate "$T/m.txt"
# the JSON API and /health are behind the same file; the probes are not, and say only up or down
for p in /api/v1/gpus /health /; do
    code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL$p")
    [ "$code" = 401 ] || fail "$p without credentials: got $code, want 401"
done
code=$("${C[@]}" -u prom:s3cret -o "$T/api.json" -w '%{http_code}' "$URL/api/v1/gpus")
[ "$code" = 200 ] || fail "/api/v1/gpus with credentials: got $code"
for p in /-/ready /-/healthy; do
    code=$("${C[@]}" -o "$T/probe.txt" -w '%{http_code}' "$URL$p")
    [ "$code" = 200 ] || fail "$p without credentials: got $code, want 200 (Kubernetes probes)"
    [ "$(cat "$T/probe.txt")" = OK ] || fail "$p without credentials tells more than OK: $(cat "$T/probe.txt")"
done
pass "basic auth: 401 without, with a wrong password or user; 200 and headers with it; probes open"

# --- plain HTTP to the TLS port ---------------------------------------------------------------------------
rc=0
out=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics") || rc=$?
[ "$rc" -ne 0 ] && [ "$out" = 000 ] || fail "plain HTTP to the TLS port: rc $rc, status $out"
for i in 1 2 3; do printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 openssl s_client -quiet \
    -connect "127.0.0.1:$PORT" >/dev/null 2>&1 || true; done # and an HTTP request inside TLS without auth
kill -0 "$EXPORTER_PID" || fail "the exporter died of plain HTTP"
code=$("${C[@]}" -u prom:s3cret -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 200 ] || fail "after plain HTTP: got $code"
pass "plain HTTP to the TLS port fails cleanly (curl rc $rc) and the daemon keeps serving"

# --- versions -------------------------------------------------------------------------------------------
# SECLEVEL=0 lets this OpenSSL offer TLS 1.1, so a refusal is the server's.
s_client() { openssl s_client -connect "127.0.0.1:$1" -servername localhost -cipher 'DEFAULT@SECLEVEL=0' "${@:2}" </dev/null >"$T/sc.txt" 2>&1; }
s_client "$PORT" -tls1_1 && fail "TLS 1.1 was accepted: $(grep -E 'Protocol|Cipher' "$T/sc.txt")"
s_client "$PORT" -tls1_2 || fail "TLS 1.2 refused: $(tail -n 5 "$T/sc.txt")"
s_client "$PORT" -tls1_3 || fail "TLS 1.3 refused: $(tail -n 5 "$T/sc.txt")"
# The client can do TLS 1.1 when the server allows it (otherwise the refusal above proves nothing).
sed 's/min_version: TLS12/min_version: TLS11/' "$T/web.yml" >"$T/web11.yml"
MAIN_PID=$EXPORTER_PID MAIN_PORT=$PORT
start_exporter_ephemeral tls11 127.0.0.1:0 "${NVML[@]}" --web.config.file "$T/web11.yml"
wait_for 10 s_client "$PORT" -tls1_1 ||
    fail "TLS 1.1 against min_version TLS11 failed: the client cannot do 1.1 here: $(tail -n 5 "$T/sc.txt")"
stop_pid "$EXPORTER_PID" || fail "the TLS 1.1 exporter did not stop cleanly"
EXPORTER_PID=$MAIN_PID PORT=$MAIN_PORT
pass "TLS 1.1 refused with min_version TLS12 (and accepted with TLS11), 1.2 and 1.3 accepted"

# --- a flood of wrong passwords ------------------------------------------------------------------------------
# 16 clients keep guessing while the right password scrapes; its check is cached, the guesses draw
# from a bounded budget of bcrypt runs and past it get 429 without any hashing.
rm -f "$T/flood.stop"
flood() {
    local i=0
    while [ ! -e "$T/flood.stop" ] && [ "$i" -lt 2000 ]; do
        "${C[@]}" -u "prom:guess$i" -o /dev/null -w '%{http_code}\n' "$URL/metrics" >>"$T/flood-$1.txt" || true
        i=$((i + 1))
    done
}
LOOPS=()
for f in $(seq 1 16); do
    flood "$f" &
    LOOPS+=($!)
done
wait_for 30 bash -c "cat $T/flood-*.txt 2>/dev/null | grep -q 429" || fail "no guess was ever refused as too many"
ok=0
for i in $(seq 1 20); do
    code=$("${C[@]}" -u prom:s3cret -o /dev/null -w '%{http_code}' "$URL/metrics" || true)
    [ "$code" = 200 ] && ok=$((ok + 1))
done
touch "$T/flood.stop"
wait_loops() { local j; for j in "${LOOPS[@]}"; do wait "$j" || true; done; LOOPS=(); }
wait_loops
codes=$(cat "$T"/flood-*.txt | sort | uniq -c | tr '\n' ' ')
[ "$ok" = 20 ] || fail "only $ok of 20 scrapes with the right password got 200 during the flood ($codes)"
cat "$T"/flood-*.txt | grep -v -q -E '^(401|429)$' && fail "a guess got something other than 401 or 429: $codes"
pass "a flood of wrong passwords ($codes) is bounded, and all 20 scrapes with the right one got 200"

# --- a real Prometheus over TLS with basic auth -------------------------------------------------------------
mkdir -p "$T/prom"
cat >"$T/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: good
    scrape_interval: 1s
    scrape_timeout: 1s
    scheme: https
    tls_config:
      ca_file: $T/ca.crt
    basic_auth:
      username: prom
      password: s3cret
    static_configs:
      - targets: ['127.0.0.1:$PORT']
  - job_name: badpass
    scrape_interval: 1s
    scrape_timeout: 1s
    scheme: https
    tls_config:
      ca_file: $T/ca.crt
    basic_auth:
      username: prom
      password: wrong
    static_configs:
      - targets: ['127.0.0.1:$PORT']
YML
promtool check config "$T/prom/prometheus.yml" >/dev/null || fail "bad prometheus config"
start_bg prometheus prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
    --web.listen-address=127.0.0.1:0 --log.level=warn
PROM_PID=$LAST_PID
# Prometheus does not log the port it got: ask the kernel which one its process listens on.
prom_port() { ss -Hltnp 2>/dev/null | grep "pid=$PROM_PID," | sed -n 's/.*127\.0\.0\.1:\([0-9]*\) .*/\1/p' | head -n1; }
prom_listens() { [ -n "$(prom_port)" ]; }
wait_for 20 prom_listens || fail "prometheus does not listen"
PROM_PORT=$(prom_port)
wait_for 10 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" || fail "prometheus not ready"
wait_for 30 prom_is 'up{job="good"}' 1 || fail "Prometheus cannot scrape over TLS with basic auth: $(prom_query 'up')"
wait_for 30 prom_is 'count(DCGM_FI_DEV_GPU_TEMP{job="good"})' 1 || fail "no GPU series through TLS"
wait_for 30 prom_is 'up{job="badpass"}' 0 || fail "a wrong password scraped: $(prom_query 'up')"
pass "Prometheus scrapes over TLS with basic auth (up 1); with a wrong password up is 0"

# --- certificate swap plus SIGHUP, scrapes running -----------------------------------------------------------
serial_of() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'; }
S1=$(serial_of "$T/server1.crt") S2=$(serial_of "$T/server2.crt")
[ "$(served_serial "$PORT")" = "$S1" ] || fail "serving serial $(served_serial "$PORT"), want $S1"
scrape_loop() { # new connections, and keep-alive ones (several URLs on one curl)
    local i=0
    while [ ! -e "$T/swap.stop" ] && [ "$i" -lt 3000 ]; do
        "${C[@]}" -u prom:s3cret -o /dev/null -w '%{http_code}\n' "$URL/metrics" >>"$T/swap-$1.txt" || echo "rc$?" >>"$T/swap-$1.txt"
        "${C[@]}" -u prom:s3cret -o /dev/null -o /dev/null -o /dev/null -w '%{http_code}\n' \
            "$URL/metrics" "$URL/metrics" "$URL/metrics" >>"$T/swap-$1.txt" || echo "rc$?" >>"$T/swap-$1.txt"
        i=$((i + 1))
    done
}
rm -f "$T/swap.stop"
scrape_loop a &
LOOPS+=($!)
scrape_loop b &
LOOPS+=($!)
wait_for 10 test -s "$T/swap-a.txt" || fail "the scrape loop does not run"
cp "$T/server2.crt" "$T/tls.crt.new" && cp "$T/server2.key" "$T/tls.key.new"
mv "$T/tls.key.new" "$T/tls.key" && mv "$T/tls.crt.new" "$T/tls.crt"
kill -HUP "$EXPORTER_PID"
wait_for 10 grep -q "web config reloaded from $T/web.yml, TLS certificate serial" "$T/tls.log" || fail "no reload logged"
wait_for 10 bash -c "[ \"\$(. $SRC/tests/e2e/tlscerts.sh; served_serial $PORT)\" = $S2 ]" || fail "new certificate not served: $(served_serial "$PORT")"
before=$(cat "$T"/swap-*.txt | wc -l)
wait_for 20 bash -c "[ \$(cat $T/swap-*.txt | wc -l) -ge $((before + 20)) ]" || fail "scrapes stopped after the swap"
touch "$T/swap.stop"
wait_loops
n=$(cat "$T"/swap-*.txt | wc -l)
bad=$(cat "$T"/swap-*.txt | grep -v -c '^200$' || true)
[ "$bad" = 0 ] || fail "$bad of $n scrapes across the swap failed: $(sort "$T"/swap-*.txt | uniq -c | tr '\n' ' ')"
kill -0 "$EXPORTER_PID" || fail "the exporter died on SIGHUP"
wait_for 10 prom_is 'up{job="good"}' 1 || fail "Prometheus lost the target after the swap"
pass "certificate $S1 -> $S2 on SIGHUP with all $n scrapes across it 200 (new and keep-alive connections)"

# --- a broken new file keeps the old one -------------------------------------------------------------------
cp "$T/tls.crt" "$T/good.crt"
echo "not a certificate" >"$T/tls.crt"
kill -HUP "$EXPORTER_PID"
wait_for 10 grep -q "web config not reloaded, the previous one stays in force: $T/tls.crt: not a PEM certificate" "$T/tls.log" ||
    fail "a broken certificate was not reported: $(tail -n 3 "$T/tls.log")"
cp "$T/good.crt" "$T/tls.crt"
cp "$T/web.yml" "$T/web.good"
printf 'tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  cert_flie: typo\n' >"$T/web.yml"
kill -HUP "$EXPORTER_PID"
wait_for 10 grep -q "web config not reloaded, the previous one stays in force: $T/web.yml:4: tls_server_config: unknown key 'cert_flie'" "$T/tls.log" ||
    fail "an unknown key was not reported with file:line: $(tail -n 3 "$T/tls.log")"
[ "$(served_serial "$PORT")" = "$S2" ] || fail "a failed reload changed the certificate"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 401 ] || fail "a failed reload dropped basic auth: got $code"
code=$("${C[@]}" -u prom:s3cret -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 200 ] || fail "after a failed reload: $code"
# turning TLS off needs a restart: refused, old one kept
printf 'basic_auth_users:\n  prom: %s\n' "'$HASH'" >"$T/web.yml"
kill -HUP "$EXPORTER_PID"
wait_for 10 grep -q "turning TLS off needs a restart" "$T/tls.log" || fail "turning TLS off on SIGHUP was not refused"
[ "$(served_serial "$PORT")" = "$S2" ] || fail "TLS went off on SIGHUP"
cp "$T/web.good" "$T/web.yml"
pass "a broken certificate, an unknown key (file:line) and TLS off on SIGHUP keep the previous config"
stop_pid "$PROM_PID" || true
stop_pid "$EXPORTER_PID" || fail "the TLS exporter did not stop cleanly"

# --- client certificates -------------------------------------------------------------------------------------
cat >"$T/mtls.yml" <<YML
tls_server_config:
  cert_file: $T/server1.crt
  key_file: $T/server1.key
  client_ca_file: $T/clientca.crt
  client_auth_type: RequireAndVerifyClientCert
YML
start_exporter_ephemeral mtls 127.0.0.1:0 "${NVML[@]}" --web.config.file="$T/mtls.yml"
URL="https://localhost:$PORT"
wait_for 10 "${C[@]}" -f --cert "$T/client.crt" --key "$T/client.key" -o /dev/null "$URL/metrics" ||
    fail "a client certificate from client_ca_file was refused"
rc=0
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL/metrics") || rc=$?
[ "$rc" -ne 0 ] && [ "$code" = 000 ] || fail "no client certificate: rc $rc, status $code"
rc=0
code=$("${C[@]}" --cert "$T/rogueclient.crt" --key "$T/rogueclient.key" -o /dev/null -w '%{http_code}' "$URL/metrics") || rc=$?
[ "$rc" -ne 0 ] && [ "$code" = 000 ] || fail "a client certificate from another CA: rc $rc, status $code"
openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 </dev/null >"$T/sc.txt" 2>&1 && grep -q 'Verify return code: 0' "$T/sc.txt" &&
    printf 'GET /metrics HTTP/1.0\r\n\r\n' | openssl s_client -quiet -connect "127.0.0.1:$PORT" -tls1_2 2>/dev/null | grep -q '^HTTP/1.1 200' &&
    fail "TLS 1.2 without a client certificate got an answer"
kill -0 "$EXPORTER_PID" || fail "the mTLS exporter died"
# relaxed on SIGHUP to VerifyClientCertIfGiven: no certificate is fine, a rogue one still is not
sed -i 's/RequireAndVerifyClientCert/VerifyClientCertIfGiven/' "$T/mtls.yml"
kill -HUP "$EXPORTER_PID"
wait_for 10 "${C[@]}" -f -o /dev/null "$URL/metrics" || fail "VerifyClientCertIfGiven after SIGHUP refused a client without a certificate"
rc=0
code=$("${C[@]}" --cert "$T/rogueclient.crt" --key "$T/rogueclient.key" -o /dev/null -w '%{http_code}' "$URL/metrics") || rc=$?
[ "$code" != 200 ] || fail "VerifyClientCertIfGiven let a certificate from another CA in"
stop_pid "$EXPORTER_PID" || fail "the mTLS exporter did not stop cleanly"
pass "RequireAndVerifyClientCert: no certificate or another CA's refused at the handshake; relaxed on SIGHUP"
