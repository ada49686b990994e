/* fuzz_cgpath.c - libFuzzer target: Slurm cgroup paths and /proc/<pid>/cgroup texts (slurm/cgpath.c).
 * Input: one selector byte, then the path or text.
 */
#include "fuzz.h"

#include "slurm/cgpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    struct cgpath_job job;
    const char *id;
    size_t idlen;
    uint32_t uid;
    switch (data[0] % 3) {
    case 0:
        (void)cgpath_parse(s, n, &job);
        break;
    case 1:
        (void)cgpath_from_proc_cgroup(s, n, &job);
        break;
    default:
        (void)cgpath_is_v1_base(s, n);
        (void)cgpath_is_uid(s, n, &uid);
        (void)cgpath_is_scope(s, n);
        if (cgpath_is_job_v1(s, n, &id, &idlen) && (id < s || id + idlen > s + n))
            abort();
        if (cgpath_is_job_v2(s, n, &id, &idlen) && (id < s || id + idlen > s + n))
            abort();
        (void)cgpath_is_sluid(s, n);
        (void)cgpath_is_step(s, n);
        (void)cgpath_is_task(s, n);
        break;
    }
    return 0;
}
