/* targets.c - node lists from scontrol / host lists, and their file_sd JSON (see targets.h).
 *
 * The input is untrusted text (a command's output): every name is checked against a strict host-name
 * alphabet before it is kept, so nothing from it can reach the JSON except plain host names.
 */
#include "targets/targets.h"

#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/strparse.h"

void node_list_free(struct node_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
    l->rejected = 0;
}

bool targets_valid_host(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '-' || c == '_' || c == ':';
        if (!ok)
            return false;
    }
    return s[0] != '-' && s[0] != '.';
}

enum jt_err node_list_add(struct node_list *l, const char *name, size_t name_len, const char *addr, size_t addr_len)
{
    if (!targets_valid_host(name, name_len) || !targets_valid_host(addr, addr_len))
        return JT_ERR_PARSE;
    struct target_node *v = array_grow(l->v, &l->cap, l->n + 1, sizeof *v, 64);
    if (!v)
        return JT_ERR_NOMEM;
    l->v = v;
    struct target_node *t = &l->v[l->n];
    str_copy(t->name, sizeof t->name, name, name_len);
    str_copy(t->addr, sizeof t->addr, addr, addr_len);
    l->n++;
    return JT_OK;
}

static int cmp_node(const void *a, const void *b)
{
    const struct target_node *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    /* qsort is not stable: break ties by position so "the first address wins" holds. */
    return c ? c : (x < y ? -1 : x > y);
}

void node_list_normalise(struct node_list *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_node);
    size_t w = 1;
    for (size_t r = 1; r < l->n; r++) {
        if (strcmp(l->v[r].name, l->v[w - 1].name) != 0)
            l->v[w++] = l->v[r];
    }
    l->n = w;
}

/* The value of the first word "key=..." in [line, line + n): words are separated by spaces. Values
 * of later keys (OS=, Reason=) may hold spaces, so only the first occurrence counts, and the keys
 * we need come before them in scontrol's output. */
static bool find_key(const char *line, size_t n, const char *key, const char **val, size_t *vlen)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl <= n; i++) {
        if ((i == 0 || line[i - 1] == ' ') && memcmp(line + i, key, kl) == 0) {
            size_t j = i + kl;
            size_t k = j;
            while (k < n && line[k] != ' ')
                k++;
            *val = line + j;
            *vlen = k - j;
            return true;
        }
    }
    return false;
}

/* Gres=gpu:a100:4(S:0-1),nic:1 : true if an item at parenthesis depth 0 is "gpu" or "gpu:...". */
static bool gres_has_gpu(const char *s, size_t n)
{
    size_t start = 0;
    int depth = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? s[i] : ',';
        if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        else if (c == ',' && depth == 0) {
            const char *item = s + start;
            size_t len = i - start;
            if (len >= 3 && memcmp(item, "gpu", 3) == 0 && (len == 3 || item[3] == ':' || item[3] == '('))
                return true;
            start = i + 1;
        }
    }
    return false;
}

enum jt_err targets_parse_scontrol(const char *text, size_t len, struct node_list *out)
{
    struct cursor c;
    cur_init(&c, text, len);
    const char *line;
    size_t n;
    while (cur_line(&c, &line, &n)) {
        const char *name, *addr, *gres;
        size_t name_len, addr_len, gres_len;
        if (!find_key(line, n, "NodeName=", &name, &name_len))
            continue; /* "No nodes in the system", blank lines */
        if (!find_key(line, n, "Gres=", &gres, &gres_len) || !gres_has_gpu(gres, gres_len))
            continue;
        if (!find_key(line, n, "NodeAddr=", &addr, &addr_len) || addr_len == 0) {
            addr = name;
            addr_len = name_len;
        }
        enum jt_err e = node_list_add(out, name, name_len, addr, addr_len);
        if (e == JT_ERR_PARSE)
            out->rejected++;
        else if (e != JT_OK)
            return e;
    }
    return JT_OK;
}

enum jt_err targets_parse_hosts(const char *text, size_t len, unsigned column, unsigned skip, struct node_list *out)
{
    if (column == 0)
        return JT_ERR_USAGE;
    struct cursor c;
    cur_init(&c, text, len);
    const char *line;
    size_t n;
    for (unsigned i = 0; i < skip && cur_line(&c, &line, &n); i++)
        ;
    while (cur_line(&c, &line, &n)) {
        str_trim(&line, &n);
        if (n == 0 || line[0] == '#')
            continue;
        struct cursor w;
        cur_init(&w, line, n);
        const char *tok = NULL;
        size_t tl = 0;
        for (unsigned col = 0; col < column; col++) {
            while (!cur_eof(&w) && (*w.p == ' ' || *w.p == '\t'))
                w.p++;
            tl = cur_token(&w, " \t", &tok);
        }
        if (tl > 0 && tok[tl - 1] == '\r')
            tl--;
        enum jt_err e = node_list_add(out, tok, tl, tok, tl);
        if (e == JT_ERR_PARSE)
            out->rejected++;
        else if (e != JT_OK)
            return e;
    }
    return JT_OK;
}

/* A JSON string body: label values come from the command line, so escape what JSON requires. */
static void json_str(struct buf *b, const char *s)
{
    buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            buf_printf(b, "\\u%04x", ch);
        else
            buf_putc(b, (char)ch);
    }
    buf_putc(b, '"');
}

static void render_group(struct buf *b, const struct target_node *t, const struct targets_labels *lab,
                         unsigned port, const char *exporter, bool *first)
{
    bool v6 = strchr(t->addr, ':') != NULL;
    buf_puts(b, *first ? "\n" : ",\n");
    *first = false;
    buf_printf(b, "  {\"targets\": [\"%s%s%s:%u\"], \"labels\": {\"__meta_jobtel_exporter\": \"%s\"", v6 ? "[" : "",
               t->addr, v6 ? "]" : "", port, exporter);
    if (lab->cluster && *lab->cluster) {
        buf_puts(b, ", \"cluster\": ");
        json_str(b, lab->cluster);
    }
    buf_puts(b, ", \"role\": ");
    json_str(b, lab->role ? lab->role : "");
    buf_puts(b, ", \"node\": ");
    json_str(b, t->name);
    buf_puts(b, "}}");
}

enum jt_err targets_render(const struct node_list *l, const struct targets_labels *lab, struct buf *out)
{
    bool first = true;
    buf_putc(out, '[');
    for (size_t i = 0; i < l->n; i++) {
        if (lab->jobtel_port)
            render_group(out, &l->v[i], lab, lab->jobtel_port, "jobtel", &first);
        if (lab->node_exporter_port)
            render_group(out, &l->v[i], lab, lab->node_exporter_port, "node", &first);
    }
    buf_puts(out, first ? "]\n" : "\n]\n");
    return out->err;
}
