#!/bin/sh
# jobtel-epilog.sh - slurm.conf: Epilog=/usr/lib/jobtel/jobtel-epilog.sh (or link it into epilog.d,
# or on BCM as /cm/local/apps/slurm/var/epilogs/60-epilog-jobtel.sh). Forgets the job's GPUs.
exec /usr/bin/jobtel epilog
