/* sacct_parse.h - one `sacct -P -X -n -o SACCT_FIELDS` line into a job's metadata.
 *
 * The job name is the last field so a '|' in it cannot shift the others: the first fields are split
 * on '|' and everything after the last expected separator is the name. Times come as epoch seconds
 * (SLURM_TIME_FORMAT=%s) or "Unknown"/"None" (pending, running). GPUs come from AllocTRES: the plain
 * `gres/gpu=N` when Slurm lists it, otherwise the sum of the typed `gres/gpu:TYPE=N` entries (newer
 * Slurm lists both for the same GPUs, so adding them all would count twice).
 */
#ifndef JOBTEL_SACCT_PARSE_H
#define JOBTEL_SACCT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define SACCT_FIELDS \
    "jobidraw,start,end,cluster,alloctres,admincomment,user,account,state,nnodes,ncpus,reqmem,qos,partition," \
    "timelimitraw,jobname"
#define SACCT_NFIELDS 16
/* Slurm >= 26.05 (`sacct -V` major > 25, as Princeton tests it): the job's SLUID, before the name. */
#define SACCT_FIELDS_SLUID \
    "jobidraw,start,end,cluster,alloctres,admincomment,user,account,state,nnodes,ncpus,reqmem,qos,partition," \
    "timelimitraw,sluid,jobname"
#define SACCT_SLUID_MAX 64
#define SACCT_ADMIN_COMMENT_MAX 16384

struct sacct_job {
    char jobid[32];          /* JobIDRaw */
    int64_t start;           /* epoch s; valid when has_start */
    int64_t end;             /* epoch s; valid when has_end (false while running) */
    bool has_start, has_end;
    char cluster[64];
    uint32_t gpus;
    char admin_comment[SACCT_ADMIN_COMMENT_MAX];
    char user[64], account[64];
    char state[48];          /* "CANCELLED by 123" normalised to CANCELLED */
    uint32_t nnodes, ncpus;
    double reqmem_bytes;     /* whole job; 0 when unknown */
    char reqmem[32];         /* ReqMem as sacct printed it ("10G", "4000Mc"), for the report header */
    char qos[64], partition[64];
    int64_t timelimit_min;   /* -1 = UNLIMITED / Partition_Limit / unknown */
    char jobname[256];
    char sluid[SACCT_SLUID_MAX]; /* "" before Slurm 26.05; letters, digits, '_', '-', '.' only */
};

/* Parses one line (without its newline). JT_ERR_PARSE if a field is missing or malformed. */
enum jt_err sacct_parse_line(const char *line, size_t n, struct sacct_job *job);
/* The same for SACCT_FIELDS_SLUID when with_sluid. */
enum jt_err sacct_parse_line_ex(const char *line, size_t n, bool with_sluid, struct sacct_job *job);
/* The major version in `sacct -V` output ("slurm 26.05.1" -> 26); false if it is not that. */
bool sacct_version_major(const char *text, unsigned *major);

/* GPUs in an AllocTRES string ("billing=8,cpu=8,gres/gpu:a100=2,gres/gpu=2,mem=8G,node=1"). */
uint32_t sacct_tres_gpus(const char *tres, size_t n);

/* "4000M", "16Gn", "2Gc" (per core: times ncpus, per node: times nnodes) into bytes; false if malformed. */
bool sacct_reqmem_bytes(const char *s, size_t n, uint32_t ncpus, uint32_t nnodes, double *out);

#endif
