#!/bin/bash
# test_cli_args.sh - the command lines of every program: exit codes of --help, --version and usage
# errors, error messages that name the option, and help text that lists every option (generated
# from the same table the parser reads, common/args.c), wrapped at 100 columns.
. "$(dirname "$0")/lib.sh"
BIN=$(dirname "$JOBTEL")

# rc WANT CMD... : CMD exits WANT; its stdout+stderr are in $T/out.
rc() {
    local want=$1 got=0
    shift
    "$@" >"$T/out" 2>&1 || got=$?
    [ "$got" = "$want" ] || fail "$*: exit $got, want $want: $(head -c 600 "$T/out")"
}
has() { grep -q -F -- "$1" "$T/out" || fail "want '$1' in the output of the last command: $(head -c 600 "$T/out")"; }
narrow() { awk 'length > 100 { print; bad = 1 } END { exit bad }' "$T/out" || fail "help wider than 100 columns"; }

# --- jobtel (front) ---
rc 0 "$JOBTEL" --help; has 'Usage: jobtel <command>'; has 'prolog'; has 'summary'; narrow
rc 0 "$JOBTEL" -h; rc 0 "$JOBTEL" help
rc 0 "$JOBTEL" --version; has 'jobtel version'
rc 0 "$JOBTEL" version
rc 2 "$JOBTEL"; has 'Usage: jobtel'
rc 2 "$JOBTEL" nosuch; has "nosuch"
rc 2 "$JOBTEL" --nosuch; has "--nosuch"

# --- job-record (node epilog, exact accounting) ---
rc 0 "$JOBTEL" job-record --help; has 'Usage: jobtel job-record'; has '--records-dir'; has '--socket'; narrow
rc 2 "$JOBTEL" job-record --nosuch; has "--nosuch"
rc 2 "$JOBTEL" job-record 1 2; has "one job id"
rc 2 env -u SLURM_JOB_ID "$JOBTEL" job-record --records-dir=-; has "need a job id"
# --- prolog / epilog: usage errors exit 0 (a slurm.conf typo must not drain nodes) unless --strict ---
for c in prolog epilog; do
    rc 0 "$JOBTEL" $c --help; has "Usage: jobtel $c"; has '--hpc-job-mapping-dir'; has '--gpu-numbering'; narrow
    rc 0 "$JOBTEL" $c --version; has "jobtel $c version"
    rc 0 env -u SLURM_JOB_ID "$JOBTEL" $c --nosuch; has "usage error at '--nosuch'"
    rc 2 env -u SLURM_JOB_ID "$JOBTEL" $c --nosuch --strict
    rc 2 env -u SLURM_JOB_ID "$JOBTEL" $c --strict --gpu-numbering=sideways; has "--gpu-numbering"
    rc 2 env -u SLURM_JOB_ID "$JOBTEL" $c --strict --hpc-dir; has "--hpc-dir"
    rc 2 env -u SLURM_JOB_ID "$JOBTEL" $c --strict --hpc-dir="$T/x" --gpustat-dir="$T/x"; has 'must differ'
    rc 2 env -u SLURM_JOB_ID "$JOBTEL" $c --strict --log.level=loud
    rc 2 env -u SLURM_JOB_ID "$JOBTEL" $c --strict --lock-timeout=0; has '--lock-timeout'
    rc 2 env -u SLURM_JOB_ID "$JOBTEL" $c --strict --lock-timeout 301; has '--lock-timeout'
    # Accepted spellings; without a job id the run itself fails (1 with --strict, 0 without).
    rc 1 env -u SLURM_JOB_ID "$JOBTEL" $c --strict --hpc-dir "$T/h" --slurm.gpustat-dir="$T/g" --no-syslog \
        --gpu-numbering minor --log.level=error --path.procfs=/proc --gpus=0 --lock-timeout 0.5
    rc 0 env -u SLURM_JOB_ID "$JOBTEL" $c --hpc-job-mapping-dir="$T/h" --gpustat-dir "$T/g" --syslog --no-syslog
done

# --- exporter ---
for ex in "$JOBTEL exporter" "$BIN/jobtel-exporter"; do
    rc 0 $ex --help; has 'Usage: jobtel exporter'; has '--collector.gpu.nvml-library'; has '-rbmn'; has 'cgroup'; narrow
    rc 0 $ex -h
    rc 0 $ex --version; has 'jobtel exporter version'
    rc 2 $ex --nosuch; has "'--nosuch'"
    rc 2 $ex -f; has "'-f'"
    rc 2 $ex --collect.interval=soon; has '--collect.interval'
    rc 2 $ex --no-collector.nosuch
done

# --- jobstats / jobtel stats ---
rc 0 "$BIN/jobstats" --help; has 'Usage: jobstats'; has '--batch-script'; narrow
rc 0 "$BIN/jobstats" -h
rc 0 "$JOBTEL" stats --help; has '--prometheus'; has 'Usage: jobtel stats [options] JOBID...'
rc 2 "$JOBTEL" stats --nosuch; has "jobtel stats: unknown option '--nosuch'"
rc 2 "$JOBTEL" stats --config="$T/none.conf" 1; has 'jobtel stats: config:'
rc 2 "$BIN/jobstats"; has 'Usage:'
rc 2 "$BIN/jobstats" --nosuch 1; has "'--nosuch'"
rc 2 "$BIN/jobstats" -c; has "-c"
rc 2 "$BIN/jobstats" --config="$T/none.conf" 1; has 'none.conf'
rc 2 "$BIN/jobstats" --config "$T/none.conf" -j -b -f -n -d -S -B -c x --cluster=y --prometheus=http://h 1; has 'none.conf'

# --- jobtel summary ---
rc 0 "$JOBTEL" summary --help; has 'Usage: jobtel summary --store JOBID'; has '--retry-spool'; narrow
rc 0 "$JOBTEL" summary -h
rc 2 "$JOBTEL" summary; has 'Usage:'
rc 2 "$JOBTEL" summary --nosuch; has "'--nosuch'"
rc 2 "$JOBTEL" summary --store; has '--store'
rc 2 "$JOBTEL" summary --retry-spool --encoding=b64; has '--encoding'
rc 2 "$JOBTEL" summary --retry-spool --encoding b64; has '--encoding'
rc 2 "$JOBTEL" summary --retry-spool --config "$T/none.conf"; has 'none.conf'
rc 2 "$JOBTEL" summary --retry-spool --spool-max-age=0; has '--spool-max-age'
rc 2 "$JOBTEL" summary --retry-spool --spool-max-age 12x; has '--spool-max-age'
rc 2 "$JOBTEL" summary --retry-spool --spool-max-age 12h --config "$T/none.conf"; has 'none.conf'
rc 2 "$JOBTEL" summary --store 1 -d --debug --encoding js1 --spool-dir "$T/s" --prometheus http://h --config "$T/none.conf"
has 'none.conf'
pass "command lines of jobtel, prolog/epilog, exporter, jobstats and summary"
