/* fuzz_counters_csv.c - libFuzzer target: the dcgm-exporter style counters CSV (-f / --collectors). */
#include "fuzz.h"

#include "collectors/counters_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct counter_list l = {0};
    char why[256];
    /* The raw buffer, not NUL-terminated: the parser must keep to [data, data + size). */
    if (counters_parse("fuzz.csv", (const char *)data, size, &l, why, sizeof why) == JT_OK) {
        for (size_t i = 0; i < l.n; i++)
            if (!l.e[i].field || !l.e[i].field[0] || !l.e[i].help)
                abort();
    } else if (l.n || !memchr(why, '\0', sizeof why)) {
        abort();
    }
    counters_free(&l);
    return 0;
}
