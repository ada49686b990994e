/* fuzz_promq.c - libFuzzer target: Prometheus /api/v1/query answers as jobstats reads them
 * (jobstats/promq.c). Input: one byte choosing the query key, then the HTTP body.
 */
#include "fuzz.h"

#include "jobstats/promq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum promq_key k = (enum promq_key)(data[0] % PQ_COUNT);
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    char err[256];
    json_t *nodes = json_object();
    if (!nodes)
        abort();
    (void)promq_parse_answer(k, body, n, nodes, err, sizeof err);
    /* A second answer merges into the same object, as jobstats does key after key. */
    (void)promq_parse_answer((enum promq_key)((data[0] + 1) % PQ_COUNT), body, n, nodes, err, sizeof err);
    json_decref(nodes);
    double count;
    (void)promq_parse_count(body, n, &count, err, sizeof err);
    return 0;
}
