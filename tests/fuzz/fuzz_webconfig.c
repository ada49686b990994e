/* fuzz_webconfig.c - libFuzzer target: the web-config YAML (--web.config.file, exporter/webconfig.c),
 * exporter-toolkit's format, parsed from a buffer as webconfig_load hands it over.
 */
#include "fuzz.h"

#include "exporter/webconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct webconfig *wc = NULL;
    char err[256];
    enum jt_err e = webconfig_parse((const char *)data, size, "/etc/jobtel/web.yml", &wc, err, sizeof err);
    if ((e == JT_OK) != (wc != NULL) || !memchr(err, '\0', sizeof err))
        abort();
    webconfig_free(wc);
    return 0;
}
