/* fuzz_jobstats_conf.c - libFuzzer target: jobstats.conf (jobstats/jobstats_conf.c), and the notes it
 * defines evaluated and expanded, since their conditions and templates come from the file.
 */
#include "fuzz.h"

#include "jobstats/jobstats_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct js_conf c;
    char err[256];
    js_conf_defaults(&c);
    if (js_conf_parse(&c, "fuzz.conf", (const char *)data, size, err, sizeof err) == JT_OK) {
        struct js_vars vs;
        memset(&vs, 0, sizeof vs);
        js_vars_settings(&vs, &c);
        for (int v = 0; v < JV_INTERACTIVE + 1; v++)
            js_vars_set(&vs, (enum js_var)v, v % 3 == 0 ? 0.5 : 1e6 * v);
        for (size_t i = 0; i < c.nnotes; i++) {
            struct buf out;
            buf_init(&out, 1u << 16);
            if (js_note_applies(&c.notes[i], &vs))
                (void)js_note_expand(&c.notes[i], &vs, &out);
            buf_free(&out);
        }
    }
    js_conf_free(&c);
    return 0;
}
