#!/bin/bash
# test_exporter_hostile_tls.sh - the hostile-client attack of test_exporter_hostile.sh (hostile_http.py
# with --tls 1: 1,000 trickling connections that completed their TLS handshake, big queries, half
# requests) against an exporter serving TLS from --web.config.file; every scrape over HTTPS must
# still be answered.
HOSTILE_TLS=1 exec bash "$(dirname "$0")/test_exporter_hostile.sh"
