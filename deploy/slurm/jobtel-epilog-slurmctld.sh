#!/bin/sh
# jobtel-epilog-slurmctld.sh - slurm.conf: EpilogSlurmctld=/usr/lib/jobtel/jobtel-epilog-slurmctld.sh
#
# slurmctld runs this at every job end with no PATH and no SLURM_CONF, so both are set here; without
# SLURM_CONF, sacct/sacctmgr cannot find the cluster ("Could not establish a configuration source").
# `jobtel summary --store` stores the job's JS1 summary in AdminComment, or spools the job id when
# Prometheus or slurmdbd is down (jobtel-summary-retry.timer stores it later). It logs to syslog.
# Always exit 0: a failing EpilogSlurmctld only adds noise to slurmctld's log.
SLURM_CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SLURM_CONF PATH
[ -n "$SLURM_JOB_ID" ] || exit 0
/usr/bin/jobtel summary --store "$SLURM_JOB_ID" --config /etc/jobtel/jobstats.conf
exit 0
