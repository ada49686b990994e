/* test_jobmap.c - mapping directories: add/remove with sharing, reading, safety, and the prolog/epilog
 * commands themselves, including many of them running at once and hostile environments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cli.h"
#include "slurm/jobmap.h"
#include "common/strparse.h"

static char root[64];
static char hpc[128], gst[128], procfs[128];

/* --- helpers ------------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void path_of(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void put(const char *dir, const char *name, const char *content)
{
    char p[256];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* The file's content (static buffer), or NULL if it does not exist. */
static const char *get(const char *dir, const char *name)
{
    static char content[1 << 16];
    char p[256];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    size_t n = fread(content, 1, sizeof content - 1, f);
    fclose(f);
    content[n] = '\0';
    return content;
}

static bool exists(const char *dir, const char *name)
{
    char p[256];
    struct stat st;
    path_of(p, sizeof p, dir, name);
    return lstat(p, &st) == 0;
}

/* Number of entries in dir other than ".", ".." and the lock file: temporary files count. */
static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, JOBMAP_LOCK_NAME))
            n++;
    }
    closedir(d);
    return n;
}

/* Checks that file `name` holds exactly jobs lo..hi, once each, in any order; uid = job + 1000 if with_uid. */
static void assert_jobs(const char *dir, const char *name, uint64_t lo, uint64_t hi, bool with_uid)
{
    const char *c = get(dir, name);
    assert_non_null(c);
    static unsigned seen[1024];
    memset(seen, 0, sizeof seen);
    struct cursor cur;
    const char *line;
    size_t n, lines = 0;
    cur_init(&cur, c, strlen(c));
    while (cur_line(&cur, &line, &n)) {
        uint64_t job, uid;
        const char *sp = memchr(line, ' ', n);
        size_t jl = sp ? (size_t)(sp - line) : n;
        assert_true(str_to_u64(line, jl, &job));
        assert_true(job >= lo && job <= hi && job < 1024);
        if (with_uid) {
            assert_non_null(sp);
            assert_true(str_to_u64(sp + 1, n - jl - 1, &uid));
            assert_int_equal(uid, job + 1000);
        } else {
            assert_null(sp);
        }
        seen[job]++;
        lines++;
    }
    assert_int_equal(lines, hi - lo + 1);
    for (uint64_t j = lo; j <= hi; j++)
        assert_int_equal(seen[j], 1);
}

static void write_gpu(const char *bus, const char *uuid, unsigned minor)
{
    char p[256];
    snprintf(p, sizeof p, "%s/driver/nvidia/gpus/%s", procfs, bus);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/driver/nvidia/gpus/%s/information", procfs, bus);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "Model: \t\t Tesla T4\nGPU UUID: \t %s\nBus Location: \t %s\nDevice Minor: \t %u\n", uuid, bus, minor);
    fclose(f);
}

static const char *uuids[4] = {
    "GPU-00000000-1111-2222-3333-000000000000",
    "GPU-00000000-1111-2222-3333-000000000001",
    "GPU-00000000-1111-2222-3333-000000000002",
    "GPU-00000000-1111-2222-3333-000000000003",
};

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/jobtel-jobmap.XXXXXX");
    if (!mkdtemp(root) || chmod(root, 0755) != 0)
        return -1;
    snprintf(hpc, sizeof hpc, "%s/hpc", root);
    snprintf(gst, sizeof gst, "%s/gpustat", root);
    snprintf(procfs, sizeof procfs, "%s/proc", root);
    char p[256];
    const char *dirs[] = {"proc", "proc/driver", "proc/driver/nvidia", "proc/driver/nvidia/gpus"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        if (mkdir(p, 0755) != 0)
            return -1;
    }
    for (unsigned i = 0; i < 4; i++) {
        char bus[32];
        snprintf(bus, sizeof bus, "0000:%02x:00.0", 0x10 * (i + 1));
        write_gpu(bus, uuids[i], i);
    }
    unsetenv("SLURM_JOB_GPUS");
    unsetenv("CUDA_VISIBLE_DEVICES");
    unsetenv("SLURM_JOB_ID");
    unsetenv("SLURM_JOB_UID");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void open_locked(struct jobmap_dir *d, const char *path, enum jobmap_format fmt)
{
    assert_int_equal(jobmap_dir_open(d, path, fmt, true), JT_OK);
    assert_int_equal(jobmap_dir_lock(d, 1.0), JT_OK);
}

/* --- names --------------------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    const char *good_both[] = {"0", "7", "12", "2.0", "3.10"};
    const char *good_gst[] = {"GPU-8e2b1a3c-1f2d-4c5e-9a7b-0123456789ab", "MIG-5c1f7e2d-3a4b"};
    const char *bad[] = {"", ".", "..", ".jobtel.lock", "a", "1.", ".1", "1.2.3", "-1", "1 ", "0/1", "../0",
                         "GPU-", "GPU-xyz", "gpu-abcd", "MIG-GPU-ab/1/0", "4294967296", "1.2147483648"};
    for (size_t i = 0; i < sizeof good_both / sizeof *good_both; i++) {
        assert_true(jobmap_name_valid(JOBMAP_HPC, good_both[i]));
        assert_true(jobmap_name_valid(JOBMAP_GPUSTAT, good_both[i]));
    }
    for (size_t i = 0; i < sizeof good_gst / sizeof *good_gst; i++) {
        assert_false(jobmap_name_valid(JOBMAP_HPC, good_gst[i]));
        assert_true(jobmap_name_valid(JOBMAP_GPUSTAT, good_gst[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(jobmap_name_valid(JOBMAP_HPC, bad[i]));
        assert_false(jobmap_name_valid(JOBMAP_GPUSTAT, bad[i]));
    }
}

/* --- writer -------------------------------------------------------------------------------- */

static void test_add_remove_sharing(void **state)
{
    (void)state;
    struct jobmap_dir d;
    bool changed;
    open_locked(&d, hpc, JOBMAP_HPC);
    assert_int_equal(jobmap_add(&d, "0", 10, 0, NULL), JT_OK);
    assert_string_equal(get(hpc, "0"), "10\n");
    assert_int_equal(jobmap_add(&d, "0", 11, 0, NULL), JT_OK);
    assert_string_equal(get(hpc, "0"), "10\n11\n");
    assert_int_equal(jobmap_add(&d, "0", 10, 0, NULL), JT_OK); /* a re-run prolog adds nothing */
    assert_string_equal(get(hpc, "0"), "10\n11\n");
    assert_int_equal(jobmap_remove(&d, "0", 99, &changed, NULL), JT_OK);
    assert_false(changed);
    assert_int_equal(jobmap_remove(&d, "0", 10, &changed, NULL), JT_OK);
    assert_true(changed);
    assert_string_equal(get(hpc, "0"), "11\n");
    assert_int_equal(jobmap_remove(&d, "0", 11, &changed, NULL), JT_OK);
    assert_true(changed);
    assert_false(exists(hpc, "0")); /* empty files are deleted */
    assert_int_equal(jobmap_remove(&d, "0", 11, &changed, NULL), JT_OK);
    assert_false(changed);
    assert_int_equal(jobmap_add(&d, "3.1", 12, 0, NULL), JT_OK);
    assert_string_equal(get(hpc, "3.1"), "12\n");
    assert_int_equal(count_entries(hpc), 1); /* no temporary file left behind */
    struct stat st;
    char p[256];
    path_of(p, sizeof p, hpc, "3.1");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    jobmap_dir_close(&d);
    jobmap_dir_close(&d); /* twice is harmless */
}

static void test_gpustat_lines(void **state)
{
    (void)state;
    struct jobmap_dir d;
    open_locked(&d, gst, JOBMAP_GPUSTAT);
    assert_int_equal(jobmap_add(&d, uuids[0], 10, 1000, NULL), JT_OK);
    assert_string_equal(get(gst, uuids[0]), "10 1000\n");
    assert_int_equal(jobmap_add(&d, uuids[0], 10, 1001, NULL), JT_OK); /* same job: line replaced */
    assert_string_equal(get(gst, uuids[0]), "10 1001\n");
    assert_int_equal(jobmap_add(&d, uuids[0], 11, 1002, NULL), JT_OK);
    assert_string_equal(get(gst, uuids[0]), "10 1001\n11 1002\n");
    assert_int_equal(jobmap_add(&d, "0", 10, 0, NULL), JT_OK);
    assert_string_equal(get(gst, "0"), "10 0\n");
    jobmap_dir_close(&d);
}

static void test_writer_repairs(void **state)
{
    (void)state;
    struct jobmap_dir d;
    unsigned dropped = 0;
    open_locked(&d, hpc, JOBMAP_HPC);
    put(hpc, "0", "garbage\n12\n\n  13  \r\n0\n12 5\n");
    assert_int_equal(jobmap_add(&d, "0", 14, 0, &dropped), JT_OK);
    assert_string_equal(get(hpc, "0"), "12\n13\n14\n");
    assert_int_equal(dropped, 3); /* "garbage", job 0, two fields in HPC */
    put(hpc, "1", "x\n");
    bool changed;
    assert_int_equal(jobmap_remove(&d, "1", 5, &changed, &dropped), JT_OK);
    assert_true(changed); /* only junk was left: the file goes */
    assert_false(exists(hpc, "1"));
    jobmap_dir_close(&d);
}

static void test_writer_refuses(void **state)
{
    (void)state;
    struct jobmap_dir d;
    assert_int_equal(jobmap_dir_open(&d, hpc, JOBMAP_HPC, true), JT_OK);
    assert_int_equal(jobmap_add(&d, "0", 1, 0, NULL), JT_ERR_INTERNAL); /* not locked */
    assert_int_equal(jobmap_dir_lock(&d, 1.0), JT_OK);
    assert_int_equal(jobmap_add(&d, "../0", 1, 0, NULL), JT_ERR_USAGE);
    assert_int_equal(jobmap_add(&d, uuids[0], 1, 0, NULL), JT_ERR_USAGE); /* UUIDs are GPUSTAT only */
    assert_int_equal(jobmap_add(&d, JOBMAP_LOCK_NAME, 1, 0, NULL), JT_ERR_USAGE);
    assert_int_equal(jobmap_add(&d, "0", 0, 0, NULL), JT_ERR_USAGE);

    /* A symlink planted as a mapping file is neither followed nor replaced. */
    put(root, "victim", "precious\n");
    char target[256], link[256];
    path_of(target, sizeof target, root, "victim");
    path_of(link, sizeof link, hpc, "1");
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(jobmap_add(&d, "1", 5, 0, NULL), JT_ERR_UNSAFE);
    assert_int_equal(jobmap_remove(&d, "1", 5, NULL, NULL), JT_ERR_UNSAFE);
    assert_string_equal(get(root, "victim"), "precious\n");

    /* A FIFO must not block the writer. */
    path_of(link, sizeof link, hpc, "2");
    assert_int_equal(mkfifo(link, 0644), 0);
    assert_int_equal(jobmap_add(&d, "2", 5, 0, NULL), JT_ERR_UNSAFE);

    /* A GPU already shared by the maximum number of jobs. */
    char big[JOBMAP_JOBS_PER_FILE_MAX * 8];
    size_t off = 0;
    for (unsigned i = 1; i <= JOBMAP_JOBS_PER_FILE_MAX; i++)
        off += (size_t)snprintf(big + off, sizeof big - off, "%u\n", i);
    put(hpc, "3", big);
    assert_int_equal(jobmap_add(&d, "3", 100000, 0, NULL), JT_ERR_LIMIT);
    assert_int_equal(jobmap_add(&d, "3", 7, 0, NULL), JT_OK); /* already there: fine */
    jobmap_dir_close(&d);
}

static void test_dir_open(void **state)
{
    (void)state;
    struct jobmap_dir d;
    char p[256];
    assert_int_equal(jobmap_dir_open(&d, "relative/dir", JOBMAP_HPC, true), JT_ERR_USAGE);
    assert_int_equal(jobmap_dir_open(&d, "/", JOBMAP_HPC, true), JT_ERR_USAGE);
    assert_int_equal(jobmap_dir_open(&d, "", JOBMAP_HPC, true), JT_ERR_USAGE);
    assert_int_equal(jobmap_dir_open(&d, hpc, JOBMAP_HPC, false), JT_ERR_NOT_FOUND);
    assert_int_equal(d.fd, -1);

    /* Created 0755 whatever the umask, parents too, trailing slash accepted. */
    mode_t old = umask(077);
    snprintf(p, sizeof p, "%s/a/b/map/", root);
    assert_int_equal(jobmap_dir_open(&d, p, JOBMAP_HPC, true), JT_OK);
    jobmap_dir_close(&d);
    umask(old);
    struct stat st;
    snprintf(p, sizeof p, "%s/a/b/map", root);
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    snprintf(p, sizeof p, "%s/a", root);
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);

    /* A symlinked mapping directory is refused, and nothing is created through it. */
    snprintf(p, sizeof p, "%s/real", root);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(symlink(p, hpc), 0);
    assert_int_equal(jobmap_dir_open(&d, hpc, JOBMAP_HPC, true), JT_ERR_UNSAFE);
    assert_int_equal(jobmap_dir_open(&d, hpc, JOBMAP_HPC, false), JT_ERR_UNSAFE);
    assert_int_equal(count_entries(p), 0);

    /* A regular file, a group-writable directory. */
    put(root, "file", "");
    path_of(p, sizeof p, root, "file");
    assert_int_equal(jobmap_dir_open(&d, p, JOBMAP_HPC, true), JT_ERR_UNSAFE);
    assert_int_equal(mkdir(gst, 0755), 0);
    assert_int_equal(chmod(gst, 0775), 0);
    assert_int_equal(jobmap_dir_open(&d, gst, JOBMAP_GPUSTAT, true), JT_ERR_UNSAFE);
    assert_int_equal(chmod(gst, 0755), 0);
    assert_int_equal(jobmap_dir_open(&d, gst, JOBMAP_GPUSTAT, true), JT_OK);
    jobmap_dir_close(&d);

    /* Owned by someone else (only testable as root). */
    if (geteuid() == 0) {
        assert_int_equal(chown(gst, 65534, 65534), 0);
        assert_int_equal(jobmap_dir_open(&d, gst, JOBMAP_GPUSTAT, true), JT_ERR_UNSAFE);
    }
}

static void test_lock_timeout(void **state)
{
    (void)state;
    struct jobmap_dir d;
    open_locked(&d, hpc, JOBMAP_HPC);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct jobmap_dir c;
        if (jobmap_dir_open(&c, hpc, JOBMAP_HPC, false) != JT_OK)
            _exit(10);
        _exit(jobmap_dir_lock(&c, 0.1) == JT_ERR_TIMEOUT ? 0 : 11);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    jobmap_dir_close(&d);
    open_locked(&d, hpc, JOBMAP_HPC); /* released by close */
    jobmap_dir_close(&d);
}

static void test_remove_everywhere(void **state)
{
    (void)state;
    struct jobmap_dir d;
    unsigned changed;
    open_locked(&d, hpc, JOBMAP_HPC);
    assert_int_equal(jobmap_add(&d, "0", 10, 0, NULL), JT_OK);
    assert_int_equal(jobmap_add(&d, "1", 11, 0, NULL), JT_OK);
    assert_int_equal(jobmap_add(&d, "1", 10, 0, NULL), JT_OK);
    assert_int_equal(jobmap_add(&d, "2.1", 10, 0, NULL), JT_OK);
    put(hpc, "notes.txt", "10\n"); /* not a mapping file: left alone */
    assert_int_equal(jobmap_remove_everywhere(&d, 10, &changed), JT_OK);
    assert_int_equal(changed, 3);
    assert_false(exists(hpc, "0"));
    assert_string_equal(get(hpc, "1"), "11\n");
    assert_false(exists(hpc, "2.1"));
    assert_string_equal(get(hpc, "notes.txt"), "10\n");
    jobmap_dir_close(&d);
}

/* An epilog's tombstone beats a prolog that started before it, not one that started after (requeue). */
static void test_tombstones(void **state)
{
    (void)state;
    struct jobmap_dir d;
    bool ended;
    open_locked(&d, hpc, JOBMAP_HPC);
    int64_t before = jobmap_clock_ms();
    assert_int_equal(jobmap_ended_since(&d, 10, before, &ended), JT_OK);
    assert_false(ended);
    assert_int_equal(jobmap_mark_ended(&d, 10), JT_OK);
    assert_int_equal(jobmap_ended_since(&d, 10, before, &ended), JT_OK);
    assert_true(ended);
    assert_int_equal(jobmap_ended_since(&d, 10, jobmap_clock_ms() + 1, &ended), JT_OK);
    assert_false(ended); /* a prolog that started after the epilog: the job was requeued */
    assert_int_equal(jobmap_ended_since(&d, 11, before, &ended), JT_OK);
    assert_false(ended);
    assert_int_equal(count_entries(hpc), 0); /* tombstones live in the lock file */

    /* Many job ends: the file is compacted, the newest JOBMAP_TOMBSTONES_MAX at least survive, the
     * oldest go, the size stays bounded. */
    for (uint64_t j = 1000; j < 9000; j++)
        assert_int_equal(jobmap_mark_ended(&d, j), JT_OK);
    for (uint64_t j = 9000 - JOBMAP_TOMBSTONES_MAX; j < 9000; j++) {
        assert_int_equal(jobmap_ended_since(&d, j, before, &ended), JT_OK);
        assert_true(ended);
    }
    assert_int_equal(jobmap_ended_since(&d, 10, before, &ended), JT_OK);
    assert_false(ended);
    struct stat st;
    char p[256];
    path_of(p, sizeof p, hpc, JOBMAP_LOCK_NAME);
    assert_int_equal(stat(p, &st), 0);
    assert_true(st.st_size <= 64 * 1024);

    /* Torn and hostile records are ignored; a record from the future (an earlier boot) is dropped. */
    FILE *f = fopen(p, "a");
    assert_non_null(f);
    fprintf(f, "\n77\n78 x\n0 5\n79 99999999999999999\n80 %lld", (long long)jobmap_clock_ms());
    fclose(f);
    assert_int_equal(jobmap_ended_since(&d, 77, 0, &ended), JT_OK);
    assert_false(ended);
    assert_int_equal(jobmap_ended_since(&d, 79, 0, &ended), JT_OK);
    assert_false(ended);
    assert_int_equal(jobmap_ended_since(&d, 80, before, &ended), JT_OK);
    assert_true(ended);
    assert_int_equal(jobmap_mark_ended(&d, 0), JT_ERR_USAGE);
    jobmap_dir_close(&d);
    assert_int_equal(jobmap_mark_ended(&d, 5), JT_ERR_INTERNAL); /* not locked */
}

/* Failure counts: one file per hook and reason whose size is the count; read with the mapping. */
static void test_hook_errors(void **state)
{
    (void)state;
    uint64_t counts[JOBMAP_HOOK_N][JOBMAP_REASON_N];
    assert_int_equal(jobmap_hook_error_record(hpc, JOBMAP_HOOK_PROLOG, JOBMAP_REASON_NO_SPACE), JT_ERR_NOT_FOUND);
    assert_false(exists(root, "hpc")); /* never creates the directory */
    assert_int_equal(jobmap_hook_errors_read(hpc, counts), JT_ERR_NOT_FOUND);
    assert_int_equal(mkdir(hpc, 0755), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(jobmap_hook_error_record(hpc, JOBMAP_HOOK_PROLOG, JOBMAP_REASON_LOCK_TIMEOUT), JT_OK);
    assert_int_equal(jobmap_hook_error_record(hpc, JOBMAP_HOOK_EPILOG, JOBMAP_REASON_NO_SPACE), JT_OK);
    assert_int_equal(jobmap_hook_error_record(hpc, JOBMAP_HOOK_N, JOBMAP_REASON_IO), JT_ERR_USAGE);
    assert_true(exists(hpc, ".jobtel-hook-errors.prolog.lock_timeout"));
    assert_int_equal(jobmap_hook_errors_read(hpc, counts), JT_OK);
    assert_int_equal(counts[JOBMAP_HOOK_PROLOG][JOBMAP_REASON_LOCK_TIMEOUT], 3);
    assert_int_equal(counts[JOBMAP_HOOK_EPILOG][JOBMAP_REASON_NO_SPACE], 1);
    assert_int_equal(counts[JOBMAP_HOOK_PROLOG][JOBMAP_REASON_NO_SPACE], 0);

    /* The reader of the mapping reports them too, and counts them as nothing else. */
    put(hpc, "0", "5\n");
    put(hpc, ".jobtel-hook-errors.prolog.bogus", "xx"); /* unknown reason: not a count */
    struct jobmap m = {0};
    assert_int_equal(jobmap_read_hpc_dir(hpc, &m), JT_OK);
    assert_true(m.stats.has_hook_errors);
    assert_int_equal(m.stats.hook_errors[JOBMAP_HOOK_PROLOG][JOBMAP_REASON_LOCK_TIMEOUT], 3);
    assert_int_equal(m.stats.hook_errors[JOBMAP_HOOK_EPILOG][JOBMAP_REASON_NO_SPACE], 1);
    assert_int_equal(m.stats.ignored, 0);
    assert_int_equal(m.stats.malformed, 0);
    assert_int_equal(m.nkeys, 1);
    jobmap_free(&m);

    /* A FIFO or a symlink as a count file is refused, never opened for blocking I/O. */
    char p[256];
    path_of(p, sizeof p, hpc, ".jobtel-hook-errors.epilog.io");
    assert_int_equal(mkfifo(p, 0644), 0);
    assert_int_equal(jobmap_hook_error_record(hpc, JOBMAP_HOOK_EPILOG, JOBMAP_REASON_IO), JT_ERR_UNSAFE);
    path_of(p, sizeof p, hpc, ".jobtel-hook-errors.epilog.unsafe");
    assert_int_equal(symlink("/etc/passwd", p), 0);
    assert_int_equal(jobmap_hook_error_record(hpc, JOBMAP_HOOK_EPILOG, JOBMAP_REASON_UNSAFE), JT_ERR_UNSAFE);
    assert_int_equal(jobmap_hook_errors_read(hpc, counts), JT_OK);
    assert_int_equal(counts[JOBMAP_HOOK_EPILOG][JOBMAP_REASON_IO], 0);
    assert_int_equal(counts[JOBMAP_HOOK_EPILOG][JOBMAP_REASON_UNSAFE], 0);
    assert_int_equal(chmod(hpc, 0777), 0); /* group/other-writable: not ours to write in */
    assert_int_equal(jobmap_hook_error_record(hpc, JOBMAP_HOOK_PROLOG, JOBMAP_REASON_IO), JT_ERR_UNSAFE);
    assert_int_equal(chmod(hpc, 0755), 0);

    assert_string_equal(jobmap_hook_name(JOBMAP_HOOK_EPILOG), "epilog");
    assert_string_equal(jobmap_reason_name(JOBMAP_REASON_NO_SPACE), "no_space");
    assert_int_equal(jobmap_reason_of(JT_ERR_NOSPACE), JOBMAP_REASON_NO_SPACE);
    assert_int_equal(jobmap_reason_of(JT_ERR_TIMEOUT), JOBMAP_REASON_LOCK_TIMEOUT);
    assert_int_equal(jobmap_reason_of(JT_ERR_PARSE), JOBMAP_REASON_BAD_INPUT);
    assert_string_equal(jt_strerror(JT_ERR_NOSPACE), "no space left on device");
}

/* --- reader -------------------------------------------------------------------------------- */

static void test_read_hpc(void **state)
{
    (void)state;
    struct jobmap m = {0};
    assert_int_equal(jobmap_read_hpc_dir(hpc, &m), JT_ERR_NOT_FOUND);
    assert_int_equal(mkdir(hpc, 0755), 0);
    put(hpc, "0", "10\n11\n");
    put(hpc, "1", "12");           /* no final newline */
    put(hpc, "2.3", "\n13\n\n");   /* blank lines are fine */
    put(hpc, "3", "14\nbad\n");    /* one bad line: whole file skipped */
    put(hpc, "4", "");             /* empty: no key, not malformed */
    put(hpc, "10", "15\n");
    put(hpc, "README", "x\n");     /* ignored */
    put(hpc, uuids[0], "16\n");    /* UUID names are not HPC names */
    put(hpc, ".jobtel.lock", "");  /* not counted */
    put(hpc, ".0.123.tmp", "17\n");
    char p[256];
    path_of(p, sizeof p, hpc, "sub");
    assert_int_equal(mkdir(p, 0755), 0);
    path_of(p, sizeof p, hpc, "5");
    assert_int_equal(mkfifo(p, 0644), 0); /* must not hang the reader */
    path_of(p, sizeof p, hpc, "6");
    assert_int_equal(symlink("/etc/passwd", p), 0);

    assert_int_equal(jobmap_read_hpc_dir(hpc, &m), JT_OK);
    assert_int_equal(m.nkeys, 4);
    assert_string_equal(m.keys[0].name, "0");
    assert_string_equal(m.keys[1].name, "1");
    assert_string_equal(m.keys[2].name, "2.3");
    assert_string_equal(m.keys[3].name, "10"); /* numeric order */
    const struct jobmap_key *k = jobmap_find_index(&m, 0, -1);
    assert_non_null(k);
    assert_int_equal(k->count, 2);
    assert_int_equal(jobmap_key_jobs(&m, k)[0].jobid, 10);
    assert_int_equal(jobmap_key_jobs(&m, k)[1].jobid, 11);
    assert_false(jobmap_key_jobs(&m, k)[0].has_uid);
    k = jobmap_find_index(&m, 2, 3);
    assert_non_null(k);
    assert_int_equal(k->kind, JOBMAP_KEY_INDEX);
    assert_int_equal(k->gpu, 2);
    assert_int_equal(k->gpu_instance, 3);
    assert_int_equal(jobmap_key_jobs(&m, k)[0].jobid, 13);
    assert_null(jobmap_find_index(&m, 2, -1));
    assert_null(jobmap_find_index(&m, 3, -1));
    assert_null(jobmap_find_index(&m, 4, -1));
    assert_null(jobmap_find_uuid(&m, uuids[0]));
    assert_int_equal(m.stats.files, 8);     /* 0 1 2.3 3 4 10 5 6 */
    assert_int_equal(m.stats.malformed, 3); /* 3 5 6 */
    assert_int_equal(m.stats.ignored, 2);   /* README, the UUID */
    assert_int_equal(m.stats.dropped, 0);
    assert_true(m.stats.first_malformed[0] != '\0');

    /* Reading again replaces the content. */
    assert_int_equal(jobmap_read_hpc_dir(hpc, &m), JT_OK);
    assert_int_equal(m.nkeys, 4);
    jobmap_free(&m);
    jobmap_free(&m);
}

static void test_read_gpustat(void **state)
{
    (void)state;
    struct jobmap m = {0};
    assert_int_equal(mkdir(gst, 0755), 0);
    put(gst, "0", "247609 223456\n");
    put(gst, uuids[1], "45916256 262563\n45916257 262564\n");
    put(gst, "MIG-5c1f7e2d-3a4b-5c6d-7e8f-9a0b1c2d3e4f", "77\n"); /* jobid only: accepted */
    put(gst, "2", "1 2 3\n");                                      /* three fields: malformed */
    put(gst, "3", "1 99999999999\n");                              /* uid out of range */
    put(gst, "4", "0 5\n");                                        /* job 0 */
    assert_int_equal(jobmap_read_gpustat_dir(gst, &m), JT_OK);
    assert_int_equal(m.nkeys, 3);
    assert_int_equal(m.keys[0].kind, JOBMAP_KEY_INDEX); /* index keys first */
    const struct jobmap_key *k = jobmap_find_index(&m, 0, -1);
    assert_non_null(k);
    assert_int_equal(jobmap_key_jobs(&m, k)[0].jobid, 247609);
    assert_int_equal(jobmap_key_jobs(&m, k)[0].uid, 223456);
    assert_true(jobmap_key_jobs(&m, k)[0].has_uid);
    k = jobmap_find_uuid(&m, "gpu-00000000-1111-2222-3333-000000000001");
    assert_non_null(k);
    assert_int_equal(k->kind, JOBMAP_KEY_UUID);
    assert_int_equal(k->count, 2);
    assert_int_equal(jobmap_key_jobs(&m, k)[1].jobid, 45916257);
    assert_int_equal(jobmap_key_jobs(&m, k)[1].uid, 262564);
    k = jobmap_find_uuid(&m, "MIG-5c1f7e2d-3a4b-5c6d-7e8f-9a0b1c2d3e4f");
    assert_non_null(k);
    assert_false(jobmap_key_jobs(&m, k)[0].has_uid);
    assert_int_equal(m.stats.malformed, 3);
    jobmap_free(&m);
}

static void test_read_caps(void **state)
{
    (void)state;
    struct jobmap m = {0};
    assert_int_equal(mkdir(hpc, 0755), 0);
    char *big = malloc(JOBMAP_FILE_MAX + 100);
    assert_non_null(big);
    size_t off = 0;
    for (unsigned i = 1; i <= JOBMAP_JOBS_PER_FILE_MAX + 44; i++)
        off += (size_t)snprintf(big + off, 32, "%u\n", i);
    put(hpc, "0", big); /* too many jobs: the first ones are kept */
    memset(big, '1', JOBMAP_FILE_MAX + 10);
    big[JOBMAP_FILE_MAX + 10] = '\0';
    put(hpc, "1", big); /* too large: skipped */
    free(big);
    assert_int_equal(jobmap_read_hpc_dir(hpc, &m), JT_OK);
    assert_int_equal(m.nkeys, 1);
    assert_int_equal(m.keys[0].count, JOBMAP_JOBS_PER_FILE_MAX);
    assert_int_equal(m.stats.dropped, 1);
    assert_int_equal(m.stats.dropped_jobs, 1);
    assert_int_equal(m.stats.malformed, 1);
    assert_string_equal(m.stats.first_malformed, "1");
    assert_int_equal(m.stats.first_malformed_err, JT_ERR_LIMIT);
    jobmap_free(&m);

    put(root, "plain", "");
    char p[256];
    path_of(p, sizeof p, root, "plain");
    /* A file where the directory belongs is a fault (unreadable), not an absent directory. */
    assert_int_equal(jobmap_read_hpc_dir(p, &m), JT_ERR_UNSAFE);
}

/* Many files: every GPU up to JOBMAP_FILES_MAX is mapped, the rest are counted, none silently lost.
 * The 16,387 names are hard links of one file, in /dev/shm when there is one: cheap to make and remove. */
static void test_read_many_files(void **state)
{
    (void)state;
    struct jobmap m = {0};
    char dir[160], first[192], name[224];
    snprintf(dir, sizeof dir, "/dev/shm/jobtel-jobmap-many.XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof dir, "%s/many", root);
        assert_int_equal(mkdir(dir, 0755), 0);
    }
    put(dir, "0", "7\n");
    path_of(first, sizeof first, dir, "0");
    for (unsigned i = 1; i < 5000; i++) {
        snprintf(name, sizeof name, "%s/%u", dir, i);
        assert_int_equal(link(first, name), 0);
    }
    assert_int_equal(jobmap_read_hpc_dir(dir, &m), JT_OK);
    assert_int_equal(m.nkeys, 5000);
    assert_int_equal(m.stats.dropped_files, 0);
    assert_int_equal(m.stats.dropped, 0);
    for (unsigned i = 0; i < 5000; i += 499)
        assert_non_null(jobmap_find_index(&m, i, -1));
    for (unsigned i = 5000; i < JOBMAP_FILES_MAX + 3; i++) {
        snprintf(name, sizeof name, "%s/%u", dir, i);
        assert_int_equal(link(first, name), 0);
    }
    assert_int_equal(jobmap_read_hpc_dir(dir, &m), JT_OK);
    assert_int_equal(m.nkeys, JOBMAP_FILES_MAX);
    assert_int_equal(m.stats.dropped_files, 3);
    assert_int_equal(m.stats.dropped_jobs, 0);
    assert_int_equal(m.stats.dropped, 3);
    jobmap_free(&m);
    assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* --- the commands -------------------------------------------------------------------------- */

/* Runs `jobtel prolog|epilog` with our dirs plus up to 3 extra arguments (NULL-terminated). */
static int run_cmd(bool prolog, const char *a1, const char *a2, const char *a3)
{
    char hpc_arg[160], gst_arg[160], proc_arg[160];
    snprintf(hpc_arg, sizeof hpc_arg, "--hpc-dir=%s", hpc);
    snprintf(gst_arg, sizeof gst_arg, "--gpustat-dir=%s", gst);
    snprintf(proc_arg, sizeof proc_arg, "--path.procfs=%s", procfs);
    char *argv[10] = {prolog ? "prolog" : "epilog", hpc_arg, gst_arg, proc_arg, "--no-syslog", "--log.level=error"};
    int argc = 6;
    const char *extra[] = {a1, a2, a3};
    for (size_t i = 0; i < 3 && extra[i]; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    return prolog ? cmd_prolog(argc, argv) : cmd_epilog(argc, argv);
}

static void set_job(const char *id, const char *uid, const char *gpus)
{
    setenv("SLURM_JOB_ID", id, 1);
    setenv("SLURM_JOB_UID", uid, 1);
    if (gpus)
        setenv("SLURM_JOB_GPUS", gpus, 1);
    else
        unsetenv("SLURM_JOB_GPUS");
}

static void test_cli_prolog_epilog(void **state)
{
    (void)state;
    set_job("77", "1077", "0,2");
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 0);
    assert_string_equal(get(hpc, "0"), "77\n");
    assert_string_equal(get(hpc, "2"), "77\n");
    assert_int_equal(count_entries(hpc), 2);
    assert_string_equal(get(gst, "0"), "77 1077\n");
    assert_string_equal(get(gst, "2"), "77 1077\n");
    assert_string_equal(get(gst, uuids[0]), "77 1077\n");
    assert_string_equal(get(gst, uuids[2]), "77 1077\n");
    assert_int_equal(count_entries(gst), 4);
    struct stat st;
    assert_int_equal(stat(hpc, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);

    /* A second job shares GPU 2. */
    set_job("78", "1078", "2-3");
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 0);
    assert_string_equal(get(hpc, "2"), "77\n78\n");
    assert_string_equal(get(gst, uuids[2]), "77 1077\n78 1078\n");

    /* The epilog needs only the job id; it leaves job 78 alone. */
    unsetenv("SLURM_JOB_GPUS");
    setenv("SLURM_JOB_ID", "77", 1);
    assert_int_equal(run_cmd(false, "--strict", NULL, NULL), 0);
    assert_false(exists(hpc, "0"));
    assert_string_equal(get(hpc, "2"), "78\n");
    assert_string_equal(get(gst, "2"), "78 1078\n");
    assert_false(exists(gst, uuids[0]));
    setenv("SLURM_JOB_ID", "78", 1);
    assert_int_equal(run_cmd(false, "--strict", NULL, NULL), 0);
    assert_int_equal(count_entries(hpc), 0);
    assert_int_equal(count_entries(gst), 0);
    assert_int_equal(run_cmd(false, "--strict", NULL, NULL), 0); /* again: nothing to do */
}

static void test_cli_sources(void **state)
{
    (void)state;
    /* CUDA_VISIBLE_DEVICES with a UUID, as Slurm 25.11 sets it, when SLURM_JOB_GPUS is absent. */
    set_job("5", "0", NULL);
    setenv("CUDA_VISIBLE_DEVICES", uuids[3], 1);
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 0);
    assert_string_equal(get(hpc, "3"), "5\n");
    assert_string_equal(get(gst, "3"), "5 0\n");
    assert_string_equal(get(gst, uuids[3]), "5 0\n");
    unsetenv("CUDA_VISIBLE_DEVICES");

    /* --gpus overrides; MIG by index and by new-style UUID. */
    set_job("6", "0", "0");
    assert_int_equal(run_cmd(true, "--strict", "--gpus", "1.2,MIG-5c1f7e2d-3a4b"), 0);
    assert_string_equal(get(hpc, "1.2"), "6\n");
    assert_false(exists(hpc, "0"));
    assert_string_equal(get(gst, "1.2"), "6 0\n");
    assert_string_equal(get(gst, "MIG-5c1f7e2d-3a4b"), "6 0\n");

    /* Minor numbering with a board whose minors are reversed: /dev/nvidia0 is the last by bus. */
    set_job("7", "0", "0");
    assert_int_equal(run_cmd(true, "--strict", "--gpu-numbering=minor", NULL), 0);
    assert_string_equal(get(hpc, "0"), "7\n"); /* our fixture has minor == index */
    assert_int_equal(run_cmd(true, "--strict", "--gpu-numbering=minor", "--gpus=9"), 1);

    /* A GPU UUID the driver does not know: UUID file only, reported under --strict. */
    set_job("8", "0", "GPU-0123abcd");
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 1);
    assert_string_equal(get(gst, "GPU-0123abcd"), "8 0\n");
    assert_int_equal(run_cmd(true, NULL, NULL, NULL), 0);

    /* One format disabled. */
    set_job("9", "0", "2");
    assert_int_equal(run_cmd(true, "--strict", "--gpustat-dir=", NULL), 0);
    assert_string_equal(get(hpc, "2"), "9\n");
    assert_false(exists(gst, "2"));
}

static void test_cli_no_gpus(void **state)
{
    (void)state;
    set_job("5", "0", NULL);
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 0);
    setenv("SLURM_JOB_GPUS", "", 1);
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 0);
    setenv("SLURM_JOB_GPUS", "NoDevFiles", 1);
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 0);
    set_job("6", "not-a-uid", NULL); /* the uid matters only when there are GPUs */
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 0);
    assert_false(exists(root, "hpc")); /* a CPU job creates nothing */
    assert_false(exists(root, "gpustat"));
    assert_int_equal(run_cmd(false, "--strict", NULL, NULL), 0);
}

static void test_cli_hostile_job_ids(void **state)
{
    (void)state;
    const char *bad[] = {"abc", "12abc", "-5", "0", "", " 12", "12 ", "1\n2", "0x10", "4294967295",
                         "99999999999999999999999", "../../etc", "12;reboot"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        set_job(bad[i], "0", "0");
        assert_int_equal(run_cmd(true, NULL, NULL, NULL), 0);
        assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 1);
        assert_int_equal(run_cmd(false, "--strict", NULL, NULL), 1);
    }
    unsetenv("SLURM_JOB_ID");
    assert_int_equal(run_cmd(true, NULL, NULL, NULL), 0);
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 1);
    assert_false(exists(root, "hpc"));
    assert_false(exists(root, "gpustat"));

    /* A bad uid: the HPC file (no uid in it) is still written. */
    set_job("12", "root", "1");
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 1);
    assert_string_equal(get(hpc, "1"), "12\n");
    assert_false(exists(root, "gpustat"));
    set_job("13", "4294967295", "1");
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 1);
}

static void test_cli_huge_env(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *huge = malloc(n + 1);
    assert_non_null(huge);
    for (size_t i = 0; i < n; i += 2) {
        huge[i] = '0';
        huge[i + 1] = ',';
    }
    huge[n - 1] = '1';
    huge[n] = '\0';
    set_job("5", "0", huge);
    assert_int_equal(run_cmd(true, NULL, NULL, NULL), 0);
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 1);
    set_job(huge, huge, "0");
    assert_int_equal(run_cmd(true, NULL, NULL, NULL), 0);
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 1);
    free(huge);
    assert_false(exists(root, "hpc"));
    assert_false(exists(root, "gpustat"));
}

static void test_cli_symlinked_dir(void **state)
{
    (void)state;
    char real[160];
    snprintf(real, sizeof real, "%s/elsewhere", root);
    assert_int_equal(mkdir(real, 0755), 0);
    assert_int_equal(symlink(real, hpc), 0);
    set_job("5", "0", "0");
    assert_int_equal(run_cmd(true, NULL, NULL, NULL), 0);
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 1);
    assert_int_equal(count_entries(real), 0);
    assert_string_equal(get(gst, "0"), "5 0\n"); /* the other directory is still served */
    assert_int_equal(run_cmd(false, "--strict", NULL, NULL), 1);
    assert_false(exists(gst, "0"));
}

static void test_cli_usage(void **state)
{
    (void)state;
    set_job("5", "0", "0");
    assert_int_equal(run_cmd(true, "--bogus", NULL, NULL), 0);
    assert_int_equal(run_cmd(true, "--bogus", "--strict", NULL), 2);
    assert_int_equal(run_cmd(true, "--strict", "--gpu-numbering=pci", NULL), 2);
    assert_int_equal(run_cmd(true, "--strict", "--log.level", "loud"), 2);
    assert_int_equal(run_cmd(true, "--strict", "--strict=yes", NULL), 2);
    assert_int_equal(run_cmd(true, "--strict", "--gpus", NULL), 2); /* value missing */
    char same[160];
    snprintf(same, sizeof same, "--gpustat-dir=%s", hpc);
    assert_int_equal(run_cmd(true, "--strict", same, NULL), 2);
    assert_false(exists(root, "hpc"));
    assert_int_equal(run_cmd(true, "--version", NULL, NULL), 0);
    assert_int_equal(run_cmd(false, "--help", NULL, NULL), 0);
}

/* Many prologs and epilogs at once, released together through a pipe: no line may be lost. */
static void run_many(int first_job, int count, bool prolog, const int barrier[2], pid_t *pids, int *npids)
{
    for (int i = 0; i < count; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char id[16], uid[16];
            snprintf(id, sizeof id, "%d", first_job + i);
            snprintf(uid, sizeof uid, "%d", first_job + i + 1000);
            set_job(id, uid, "0-3");
            close(barrier[1]);
            char c;
            ssize_t r = read(barrier[0], &c, 1); /* returns 0 when the parent closes the pipe */
            (void)r;
            _exit(run_cmd(prolog, "--strict", NULL, NULL));
        }
        pids[(*npids)++] = pid;
    }
}

static void wait_all(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

static void release(int fds[2])
{
    close(fds[1]);
    close(fds[0]);
}

static void test_cli_concurrency(void **state)
{
    (void)state;
    enum { N = 48 };
    pid_t pids[2 * N];
    int npids = 0, fds[2];
    const char *files[] = {"0", "1", "2", "3"};

    /* N prologs for jobs 1..N on GPUs 0-3, all at once. */
    assert_int_equal(pipe(fds), 0);
    run_many(1, N, true, fds, pids, &npids);
    release(fds);
    wait_all(pids, npids);
    for (size_t f = 0; f < 4; f++) {
        assert_jobs(hpc, files[f], 1, N, false);
        assert_jobs(gst, files[f], 1, N, true);
        assert_jobs(gst, uuids[f], 1, N, true);
    }

    /* Epilogs of jobs 1..N/2 racing prologs of jobs N+1..N+N/2. */
    npids = 0;
    assert_int_equal(pipe(fds), 0);
    run_many(1, N / 2, false, fds, pids, &npids);
    run_many(N + 1, N / 2, true, fds, pids, &npids);
    release(fds);
    wait_all(pids, npids);
    for (size_t f = 0; f < 4; f++) {
        assert_jobs(hpc, files[f], N / 2 + 1, N + N / 2, false);
        assert_jobs(gst, uuids[f], N / 2 + 1, N + N / 2, true);
    }

    /* Everything ends: every file goes, no temporary file stays. */
    npids = 0;
    assert_int_equal(pipe(fds), 0);
    run_many(N / 2 + 1, N, false, fds, pids, &npids);
    release(fds);
    wait_all(pids, npids);
    assert_int_equal(count_entries(hpc), 0);
    assert_int_equal(count_entries(gst), 0);
}

/* The failure paths of the commands count what they lose. */
static void test_cli_counts_failures(void **state)
{
    (void)state;
    uint64_t counts[JOBMAP_HOOK_N][JOBMAP_REASON_N];
    set_job("5", "0", "0");
    assert_int_equal(run_cmd(true, "--strict", NULL, NULL), 0);
    set_job("6", "0", "0-x");
    assert_int_equal(run_cmd(true, NULL, NULL, NULL), 0); /* exit 0 for slurmd, but counted */
    assert_int_equal(jobmap_hook_errors_read(hpc, counts), JT_OK);
    assert_int_equal(counts[JOBMAP_HOOK_PROLOG][JOBMAP_REASON_BAD_INPUT], 1);
    assert_int_equal(jobmap_hook_errors_read(gst, counts), JT_OK);
    assert_int_equal(counts[JOBMAP_HOOK_PROLOG][JOBMAP_REASON_BAD_INPUT], 1);
    setenv("SLURM_JOB_ID", "x", 1);
    assert_int_equal(run_cmd(false, NULL, NULL, NULL), 0);
    assert_int_equal(jobmap_hook_errors_read(hpc, counts), JT_OK);
    assert_int_equal(counts[JOBMAP_HOOK_EPILOG][JOBMAP_REASON_BAD_INPUT], 1);

    /* A lock held elsewhere past --lock-timeout: logged, counted as lock_timeout, exit 0. */
    struct jobmap_dir d;
    open_locked(&d, hpc, JOBMAP_HPC);
    set_job("7", "0", "1");
    assert_int_equal(run_cmd(true, "--lock-timeout=0.05", NULL, NULL), 0);
    assert_int_equal(run_cmd(true, "--lock-timeout=0.05", "--strict", NULL), 1);
    jobmap_dir_close(&d);
    assert_int_equal(jobmap_hook_errors_read(hpc, counts), JT_OK);
    assert_int_equal(counts[JOBMAP_HOOK_PROLOG][JOBMAP_REASON_LOCK_TIMEOUT], 2);
    assert_int_equal(jobmap_hook_errors_read(gst, counts), JT_OK);
    assert_int_equal(counts[JOBMAP_HOOK_PROLOG][JOBMAP_REASON_LOCK_TIMEOUT], 0);
    assert_string_equal(get(gst, "1"), "7 0\n"); /* the other directory was served */
    assert_int_equal(run_cmd(true, "--strict", "--lock-timeout=0", NULL), 2);
    assert_int_equal(run_cmd(true, "--strict", "--lock-timeout=301", NULL), 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_names),
        T(test_add_remove_sharing),
        T(test_gpustat_lines),
        T(test_writer_repairs),
        T(test_writer_refuses),
        T(test_dir_open),
        T(test_lock_timeout),
        T(test_remove_everywhere),
        T(test_tombstones),
        T(test_hook_errors),
        T(test_read_hpc),
        T(test_read_gpustat),
        T(test_read_caps),
        T(test_read_many_files),
        T(test_cli_prolog_epilog),
        T(test_cli_sources),
        T(test_cli_no_gpus),
        T(test_cli_hostile_job_ids),
        T(test_cli_huge_env),
        T(test_cli_symlinked_dir),
        T(test_cli_usage),
        T(test_cli_concurrency),
        T(test_cli_counts_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
