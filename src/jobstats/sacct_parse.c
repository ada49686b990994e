/* sacct_parse.c - sacct line parsing for jobstats (see sacct_parse.h). */
#include "jobstats/sacct_parse.h"

#include <math.h>
#include <string.h>

#include "common/strparse.h"

static bool field_copy(char *dst, size_t dstsz, const char *s, size_t n)
{
    return str_copy(dst, dstsz, s, n);
}

/* Epoch seconds, or "Unknown"/"None"/"" which leave *has false. */
static bool parse_time(const char *s, size_t n, int64_t *out, bool *has)
{
    *has = false;
    if (n == 0 || (n == 7 && memcmp(s, "Unknown", 7) == 0) || (n == 4 && memcmp(s, "None", 4) == 0))
        return true;
    if (!str_to_i64(s, n, out))
        return false;
    *has = true;
    return true;
}

uint32_t sacct_tres_gpus(const char *tres, size_t n)
{
    struct cursor c;
    uint64_t plain = 0, typed = 0;
    bool has_plain = false;
    cur_init(&c, tres, n);
    while (!cur_eof(&c)) {
        const char *tok;
        size_t len = cur_token(&c, ",", &tok);
        cur_skip_char(&c, ',');
        const char *eq = memchr(tok, '=', len);
        if (!eq)
            continue;
        size_t klen = (size_t)(eq - tok);
        uint64_t v;
        if (!str_to_u64(eq + 1, len - klen - 1, &v) || v > UINT32_MAX)
            continue;
        if (klen == 8 && memcmp(tok, "gres/gpu", 8) == 0) {
            plain += v;
            has_plain = true;
        } else if (klen > 9 && memcmp(tok, "gres/gpu:", 9) == 0) {
            typed += v;
        }
    }
    uint64_t g = has_plain ? plain : typed;
    return g > UINT32_MAX ? UINT32_MAX : (uint32_t)g;
}

bool sacct_reqmem_bytes(const char *s, size_t n, uint32_t ncpus, uint32_t nnodes, double *out)
{
    double mult = 1.0;
    if (n > 0 && (s[n - 1] == 'n' || s[n - 1] == 'c')) {
        mult = s[n - 1] == 'c' ? (double)ncpus : (double)nnodes;
        n--;
    }
    double unit = 1024.0 * 1024.0; /* Slurm's default unit is MB (MiB) */
    if (n > 0) {
        switch (s[n - 1]) {
        case 'K': unit = 1024.0; n--; break;
        case 'M': unit = 1024.0 * 1024.0; n--; break;
        case 'G': unit = 1024.0 * 1024.0 * 1024.0; n--; break;
        case 'T': unit = 1024.0 * 1024.0 * 1024.0 * 1024.0; n--; break;
        default: break;
        }
    }
    double v;
    if (!str_to_double(s, n, &v) || v < 0 || !isfinite(v * unit * mult))
        return false;
    *out = v * unit * mult;
    return true;
}

enum jt_err sacct_parse_line(const char *line, size_t n, struct sacct_job *job)
{
    return sacct_parse_line_ex(line, n, false, job);
}

bool sacct_version_major(const char *text, unsigned *major)
{
    const char *p = strstr(text, "slurm ");
    if (!p)
        return false;
    p += 6;
    size_t l = strspn(p, "0123456789");
    uint64_t v;
    if (l == 0 || p[l] != '.' || !str_to_u64(p, l, &v) || v > 1000)
        return false;
    *major = (unsigned)v;
    return true;
}

enum jt_err sacct_parse_line_ex(const char *line, size_t n, bool with_sluid, struct sacct_job *job)
{
    const char *f[SACCT_NFIELDS + 1];
    size_t fl[SACCT_NFIELDS + 1];
    const int nf = with_sluid ? SACCT_NFIELDS + 1 : SACCT_NFIELDS;
    struct cursor c;
    cur_init(&c, line, n);
    for (int i = 0; i < nf - 1; i++) {
        fl[i] = cur_token(&c, "|", &f[i]);
        if (!cur_skip_char(&c, '|'))
            return JT_ERR_PARSE;
    }
    /* The name is the rest of the line, '|' and all. */
    f[nf - 1] = c.p;
    fl[nf - 1] = (size_t)(c.end - c.p);
    const char *sluid = "";
    size_t sluid_len = 0;
    if (with_sluid) { /* move the SLUID out so the name is at index 15 as without it */
        sluid = f[15];
        sluid_len = fl[15];
        f[15] = f[16];
        fl[15] = fl[16];
        for (size_t i = 0; i < sluid_len; i++) {
            char ch = sluid[i];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                  ch == '-' || ch == '.'))
                return JT_ERR_PARSE;
        }
        if (sluid_len >= SACCT_SLUID_MAX)
            return JT_ERR_PARSE;
    }

    struct sacct_job j;
    memset(&j, 0, sizeof j);
    if (fl[0] == 0 || !field_copy(j.jobid, sizeof j.jobid, f[0], fl[0]))
        return JT_ERR_PARSE;
    for (size_t i = 0; i < fl[0]; i++)
        if (!((f[0][i] >= '0' && f[0][i] <= '9') || f[0][i] == '_' || f[0][i] == '.'))
            return JT_ERR_PARSE;
    if (!parse_time(f[1], fl[1], &j.start, &j.has_start) || !parse_time(f[2], fl[2], &j.end, &j.has_end))
        return JT_ERR_PARSE;
    field_copy(j.cluster, sizeof j.cluster, f[3], fl[3]);
    j.gpus = sacct_tres_gpus(f[4], fl[4]);
    if (!field_copy(j.admin_comment, sizeof j.admin_comment, f[5], fl[5]))
        j.admin_comment[0] = '\0'; /* too long to be ours: ignore rather than decode half */
    field_copy(j.user, sizeof j.user, f[6], fl[6]);
    field_copy(j.account, sizeof j.account, f[7], fl[7]);
    if (fl[8] >= 9 && memcmp(f[8], "CANCELLED", 9) == 0)
        field_copy(j.state, sizeof j.state, "CANCELLED", 9);
    else
        field_copy(j.state, sizeof j.state, f[8], fl[8]);
    uint64_t v;
    if (!str_to_u64(f[9], fl[9], &v) || v > UINT32_MAX)
        return JT_ERR_PARSE;
    j.nnodes = (uint32_t)v;
    if (!str_to_u64(f[10], fl[10], &v) || v > UINT32_MAX)
        return JT_ERR_PARSE;
    j.ncpus = (uint32_t)v;
    if (fl[11] > 0 && (!sacct_reqmem_bytes(f[11], fl[11], j.ncpus, j.nnodes, &j.reqmem_bytes) ||
                       !field_copy(j.reqmem, sizeof j.reqmem, f[11], fl[11])))
        return JT_ERR_PARSE;
    field_copy(j.qos, sizeof j.qos, f[12], fl[12]);
    field_copy(j.partition, sizeof j.partition, f[13], fl[13]);
    int64_t lim;
    j.timelimit_min = str_to_i64(f[14], fl[14], &lim) && lim >= 0 ? lim : -1;
    field_copy(j.jobname, sizeof j.jobname, f[15], fl[15]);
    field_copy(j.sluid, sizeof j.sluid, sluid, sluid_len);
    *job = j;
    return JT_OK;
}
