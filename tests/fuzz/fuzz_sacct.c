/* fuzz_sacct.c - libFuzzer target: sacct's parsable output (one line per job), `sacct -V`, AllocTRES
 * and ReqMem strings (jobstats/sacct_parse.c). Input: one selector byte, then the text.
 */
#include "fuzz.h"

#include "jobstats/sacct_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    static struct sacct_job job;
    unsigned major;
    double bytes;
    switch (sel % 4) {
    case 0:
    case 1:
        (void)sacct_parse_line_ex(s, n, sel & 1, &job);
        break;
    case 2: {
        char *t = fuzz_strdup(data + 1, n);
        (void)sacct_version_major(t, &major);
        free(t);
        (void)sacct_tres_gpus(s, n);
        break;
    }
    default:
        (void)sacct_reqmem_bytes(s, n, sel >> 2, (sel >> 5) + 1, &bytes);
        break;
    }
    return 0;
}
