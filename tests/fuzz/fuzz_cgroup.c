/* fuzz_cgroup.c - libFuzzer target: the cgroup files' text formats (cpu.stat, memory.stat and other
 * flat-keyed files, cpuacct.usage_all, single numbers, memory.max, /proc/<pid>/status, cpuset lists).
 *
 * The readers in cgroup_parse.c read a file into a buffer and hand it to these functions, so fuzzing them
 * on the raw bytes covers what a hostile cgroup tree can say. Input: one selector byte, then the text.
 */
#include "fuzz.h"

#include "collectors/cgroup_parse.h"
#include "collectors/cpulist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    static const char *const keys[] = {"usage_usec", "user_usec", "system_usec", "anon", "file", "kernel",
                                       "oom", "oom_kill", "max", "user", "system", "total_rss", "rss",
                                       "cache", "hierarchical_memory_limit", "nr_throttled"};
    uint64_t vals[sizeof keys / sizeof keys[0]], a, b;
    uint32_t found = 0, u32;
    bool unlimited = false;
    char name[16];
    switch (sel % 6) {
    case 0:
        if (cg_parse_keyed(s, n, keys, sel >> 3 & 1 ? 16 : 3, vals, &found) && (found >> 16))
            abort();
        break;
    case 1:
        (void)cg_parse_usage_all(s, n, &a, &b);
        break;
    case 2:
        (void)cg_parse_u64(s, n, &a);
        break;
    case 3:
        (void)cg_parse_limit(s, n, &a, &unlimited);
        break;
    case 4:
        if (cg_parse_proc_status(s, n, name, (size_t)(sel >> 3) % sizeof name + 1, &u32) &&
            !memchr(name, '\0', sizeof name))
            abort();
        break;
    default:
        (void)cpulist_count(s, n, &u32);
        break;
    }
    return 0;
}
