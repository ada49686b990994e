/* fuzz_gpulist.c - libFuzzer target: GPU lists from Slurm's environment (CUDA_VISIBLE_DEVICES,
 * SLURM_JOB_GPUS, SLURM_STEP_GPUS: slurm/gpulist.c).
 */
#include "fuzz.h"

#include "slurm/gpulist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strdup(data, size);
    static struct gpulist l;
    size_t errpos = 0;
    enum jt_err e = gpulist_parse(s, &l, &errpos);
    if (e == JT_OK && l.n > GPULIST_MAX)
        abort();
    if (e != JT_OK && errpos > strlen(s))
        abort();
    free(s);
    return 0;
}
