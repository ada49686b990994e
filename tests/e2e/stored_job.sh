# stored_job.sh - the finished job of tests/fixtures/jobstats/timeline/job.json for the --timeline and --html
# tests (sourced after lib.sh): its summary stored in AdminComment (JS1), a sacct stand-in that prints it,
# and a config whose Prometheus does not listen (the job is past retention).
#
# stored_job_setup JOBNAME : writes $T/sacct and $T/jobstats.conf for job 5005; sets DEAD (the port).
stored_job_setup() {
    DEAD=$(free_port)
    local comment
    comment=$("$PY" -c 'import base64, gzip, json, sys
s = json.load(open(sys.argv[1]))
print("JS1:" + base64.b64encode(gzip.compress(json.dumps(s, separators=(",", ":")).encode())).decode())' \
        "$SRC/tests/fixtures/jobstats/timeline/job.json")
    cat >"$T/sacct" <<EOF
#!/bin/sh
echo '5005|1700000000|1700007200|tc|billing=16,cpu=16,gres/gpu=4,mem=128G,node=2|$comment|alice|physics|COMPLETED|2|16|128G|normal|gpu|240|$1'
EOF
    chmod 755 "$T/sacct"
    printf 'prometheus_url = http://127.0.0.1:%s\nsacct = %s\nconnect_timeout = 2\ntimeout = 5\n' "$DEAD" "$T/sacct" >"$T/jobstats.conf"
}
