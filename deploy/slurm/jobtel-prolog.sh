#!/bin/sh
# jobtel-prolog.sh - slurm.conf: Prolog=/usr/lib/jobtel/jobtel-prolog.sh (or link it into prolog.d,
# or on BCM as /cm/local/apps/slurm/var/prologs/60-prolog-jobtel.sh). Records which GPUs the job got in
# /run/dcgm-job-map and /run/gpustat. Prolog= takes no arguments, hence this wrapper; slurmd gives it
# no PATH. `jobtel prolog` exits 0 on runtime failures, so a broken mapping dir never drains a node.
exec /usr/bin/jobtel prolog
