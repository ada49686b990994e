/* fuzz_records.c - libFuzzer target: a node's exact accounting record (summary/records.c records_fold),
 * as `jobtel summary --store --records-dir` reads it from DIR/JOBID/NODE.json (written by the node
 * epilog, so by any node of the cluster), then thinned until nothing is left to remove, as the size
 * budget does.
 *
 * Input: the record file's bytes.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "summary/records.h"

static char dir[64], file[128];

static void remove_dir(void)
{
    char p[128];
    unlink(file);
    snprintf(p, sizeof p, "%s/77", dir);
    rmdir(p);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_setup(LOG_LVL_ERROR, "fuzz", false);
    fuzz_mkdtemp(dir, sizeof dir, "jt_fuzz_rec");
    char p[128];
    snprintf(p, sizeof p, "%s/77", dir);
    if (mkdir(p, 0700) != 0)
        abort();
    snprintf(file, sizeof file, "%s/gn1.json", p);
    atexit(remove_dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    close(fd);
    json_t *summary = json_pack("{s:{s:{}}, s:i}", "nodes", "gn1", "total_time", 100);
    if (!summary)
        abort();
    struct records_sum sum;
    size_t n = records_fold(dir, "77", summary, &sum);
    if (n > 1)
        abort();
    for (int i = 0; i < 64 && records_thin(summary); i++)
        ;
    char *text = json_dumps(summary, JSON_COMPACT);
    if (!text)
        abort();
    free(text);
    json_decref(summary);
    return 0;
}
