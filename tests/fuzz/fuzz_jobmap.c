/* fuzz_jobmap.c - libFuzzer target: HPC and gpustat mapping files (the name, then the content).
 *
 * Input: one format byte, the file name up to the first newline, then the file's text.
 */
#include "fuzz.h"

#include "slurm/jobmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum jobmap_format fmt = (data[0] & 1) ? JOBMAP_GPUSTAT : JOBMAP_HPC;
    data++;
    size--;
    char *name = fuzz_take(&data, &size, '\n');
    (void)jobmap_name_valid(fmt, name);
    free(name);
    static struct jobmap_parsed pf;
    jobmap_parse_text(fmt, (const char *)data, size, &pf);
    if (pf.n > JOBMAP_JOBS_PER_FILE_MAX)
        abort();
    for (size_t i = 0; i < pf.n; i++)
        if (pf.jobs[i].jobid == 0 || (fmt == JOBMAP_HPC && pf.jobs[i].has_uid))
            abort();
    return 0;
}
