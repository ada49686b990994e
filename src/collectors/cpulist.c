/* cpulist.c - counting CPUs in a kernel CPU list (see cpulist.h). */
#include "collectors/cpulist.h"

#include "common/strparse.h"

/* One CPU number at the cursor, no larger than CPULIST_MAX_CPU. */
static bool cpulist_number(struct cursor *c, uint32_t *out)
{
    uint64_t v;
    if (!cur_u64(c, &v) || v > CPULIST_MAX_CPU)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool cpulist_count(const char *s, size_t n, uint32_t *count)
{
    str_trim(&s, &n);
    struct cursor c;
    cur_init(&c, s, n);
    uint32_t total = 0;
    bool first = true;
    uint32_t prev_hi = 0;
    while (!cur_eof(&c)) {
        if (!first && !cur_skip_char(&c, ','))
            return false;
        uint32_t lo, hi;
        if (!cpulist_number(&c, &lo))
            return false;
        hi = lo;
        if (cur_skip_char(&c, '-') && (!cpulist_number(&c, &hi) || hi < lo))
            return false;
        /* Items must ascend: anything else would count a CPU twice. */
        if (!first && lo <= prev_hi)
            return false;
        total += hi - lo + 1;
        prev_hi = hi;
        first = false;
    }
    *count = total;
    return true;
}
