/* webconfig.c - exporter-toolkit's web-config YAML (see webconfig.h), and the TLS material it names.
 *
 * The YAML is read with libyaml's event parser, never its document loader: events are consumed in
 * one pass against the known shape of the file, so an unknown key, a wrong type or a second document
 * is an error at its line, and an "alias bomb" cannot expand (anchors and aliases are refused: the
 * format has no use for them). Depth, size and counts are bounded before anything is allocated for
 * them. The TLS keys become one GnuTLS priority string, checked by GnuTLS itself at parse time so a
 * bad combination is a configuration error rather than a failed handshake at the first scrape.
 */
#include "exporter/webconfig.h"

#include <crypt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/fileio.h"

#define WC_MAX_CHAIN 16
#define WC_MAX_VALUE 4096 /* one scalar: a path, a hash, a header value */

/* --- Go cipher suite names -> GnuTLS priority parts ----------------------------------------------- */

/* GnuTLS selects key exchange, cipher and MAC independently, so a list of suites becomes the union of
 * their parts (docs/exporter.md has the table). Go's RC4 and 3DES suites are refused as insecure. */
static const struct {
    const char *go, *kx, *cipher, *mac;
} cipher_table[] = {
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "+RSA", "+AES-128-CBC", "+SHA1"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "+RSA", "+AES-256-CBC", "+SHA1"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "+RSA", "+AES-128-CBC", "+SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "+RSA", "+AES-128-GCM", "+AEAD"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "+RSA", "+AES-256-GCM", "+AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "+ECDHE-ECDSA", "+AES-128-CBC", "+SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "+ECDHE-ECDSA", "+AES-256-CBC", "+SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "+ECDHE-RSA", "+AES-128-CBC", "+SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "+ECDHE-RSA", "+AES-256-CBC", "+SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "+ECDHE-ECDSA", "+AES-128-CBC", "+SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "+ECDHE-RSA", "+AES-128-CBC", "+SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "+ECDHE-RSA", "+AES-128-GCM", "+AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "+ECDHE-ECDSA", "+AES-128-GCM", "+AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "+ECDHE-RSA", "+AES-256-GCM", "+AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "+ECDHE-ECDSA", "+AES-256-GCM", "+AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "+ECDHE-RSA", "+CHACHA20-POLY1305", "+AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "+ECDHE-ECDSA", "+CHACHA20-POLY1305", "+AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "+ECDHE-RSA", "+CHACHA20-POLY1305", "+AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "+ECDHE-ECDSA", "+CHACHA20-POLY1305", "+AEAD"},
};

bool webconfig_cipher_suite(const char *go_name, const char **kx, const char **cipher, const char **mac)
{
    for (size_t i = 0; i < sizeof cipher_table / sizeof cipher_table[0]; i++) {
        if (strcmp(cipher_table[i].go, go_name) == 0) {
            *kx = cipher_table[i].kx;
            *cipher = cipher_table[i].cipher;
            *mac = cipher_table[i].mac;
            return true;
        }
    }
    *kx = *cipher = *mac = NULL;
    return false;
}

static const struct {
    const char *go, *group;
} curve_table[] = {
    {"CurveP256", "+GROUP-SECP256R1"},
    {"CurveP384", "+GROUP-SECP384R1"},
    {"CurveP521", "+GROUP-SECP521R1"},
    {"X25519", "+GROUP-X25519"},
};

/* Headers exporter-toolkit lets a web config set; anything that frames the answer is ours. */
static const char *const allowed_headers[] = {
    "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "X-XSS-Protection",
    "Content-Security-Policy",
};

/* --- parser ------------------------------------------------------------------------------------- */

struct parser {
    yaml_parser_t y;
    yaml_event_t ev;
    bool have_ev;
    const char *name;
    char *err;
    size_t errlen;
    enum jt_err rc;     /* first failure */
    struct webconfig *wc;
    /* collected TLS settings, turned into a priority string at the end */
    struct buf kx, cipher, mac, groups;
    bool have_suites, have_curves;
    int prefer_server; /* -1 unset */
    bool tls_keys_seen;
    size_t tls_line;
};

__attribute__((format(printf, 3, 4))) static bool fail_at(struct parser *p, size_t line, const char *fmt, ...)
{
    if (p->rc != JT_OK)
        return false;
    p->rc = JT_ERR_USAGE;
    int n = snprintf(p->err, p->errlen, "%s:%zu: ", p->name, line);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool nomem(struct parser *p)
{
    if (p->rc == JT_OK) {
        p->rc = JT_ERR_NOMEM;
        snprintf(p->err, p->errlen, "%s: out of memory", p->name);
    }
    return false;
}

static size_t ev_line(const struct parser *p)
{
    return p->ev.start_mark.line + 1;
}

/* Advances to the next event; refuses anchors, aliases and libyaml's own errors. */
static bool next(struct parser *p)
{
    if (p->have_ev)
        yaml_event_delete(&p->ev);
    p->have_ev = false;
    if (!yaml_parser_parse(&p->y, &p->ev))
        return fail_at(p, p->y.problem_mark.line + 1, "invalid YAML: %s", p->y.problem ? p->y.problem : "?");
    p->have_ev = true;
    const yaml_char_t *anchor = NULL;
    switch (p->ev.type) {
    case YAML_ALIAS_EVENT:
        return fail_at(p, ev_line(p), "YAML aliases are not accepted in a web config");
    case YAML_SCALAR_EVENT:
        anchor = p->ev.data.scalar.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = p->ev.data.sequence_start.anchor;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = p->ev.data.mapping_start.anchor;
        break;
    default:
        break;
    }
    if (anchor)
        return fail_at(p, ev_line(p), "YAML anchors are not accepted in a web config");
    return true;
}

static const char *scalar(const struct parser *p)
{
    return (const char *)p->ev.data.scalar.value;
}

/* A plain empty, "~" or "null" scalar: the key is present with no value. */
static bool is_null(const struct parser *p)
{
    if (p->ev.type != YAML_SCALAR_EVENT || p->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = scalar(p);
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *type_name(yaml_event_type_t t)
{
    return t == YAML_MAPPING_START_EVENT ? "a mapping" : t == YAML_SEQUENCE_START_EVENT ? "a list" : "a scalar";
}

/* The current event must be a non-null scalar; copies it. */
static bool take_string(struct parser *p, const char *key, char **out)
{
    if (p->ev.type != YAML_SCALAR_EVENT)
        return fail_at(p, ev_line(p), "%s: want a string, got %s", key, type_name(p->ev.type));
    size_t n = p->ev.data.scalar.length;
    if (n > WC_MAX_VALUE)
        return fail_at(p, ev_line(p), "%s: value longer than %d bytes", key, WC_MAX_VALUE);
    if (memchr(scalar(p), '\0', n))
        return fail_at(p, ev_line(p), "%s: value contains a NUL byte", key);
    free(*out);
    *out = strdup(scalar(p));
    return *out ? true : nomem(p);
}

static bool take_bool(struct parser *p, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    if (p->ev.type == YAML_SCALAR_EVENT && p->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            if (strcmp(scalar(p), yes[i]) == 0)
                return *out = true;
            if (strcmp(scalar(p), no[i]) == 0)
                return !(*out = false);
        }
    }
    return fail_at(p, ev_line(p), "%s: want true or false", key);
}

/* Resolves a path against the config file's directory, as exporter-toolkit does. */
static bool take_path(struct parser *p, const char *key, char **out)
{
    char *v = NULL;
    if (!take_string(p, key, &v))
        return false;
    if (!*v) { /* empty = unset */
        free(v);
        free(*out);
        *out = NULL;
        return true;
    }
    const char *slash = strrchr(p->name, '/');
    if (v[0] == '/' || !slash) {
        free(*out);
        *out = v;
        return true;
    }
    size_t dl = (size_t)(slash - p->name) + 1, vl = strlen(v);
    char *full = malloc(dl + vl + 1);
    if (!full) {
        free(v);
        return nomem(p);
    }
    memcpy(full, p->name, dl);
    memcpy(full + dl, v, vl + 1);
    free(v);
    free(*out);
    *out = full;
    return true;
}

/* Iterates a mapping: on entry the current event is MAPPING_START; calls `each` with the key's event
 * current for the value (after advancing). Duplicate keys are refused. */
typedef bool (*entry_fn)(struct parser *p, const char *key, size_t line, int depth);

static bool mapping(struct parser *p, int depth, const char *what, entry_fn each)
{
    if (depth > WEBCONFIG_MAX_DEPTH)
        return fail_at(p, ev_line(p), "nested too deeply");
    char *seen[64];
    size_t nseen = 0;
    bool ok = true;
    for (;;) {
        if (!next(p)) {
            ok = false;
            break;
        }
        if (p->ev.type == YAML_MAPPING_END_EVENT)
            break;
        if (p->ev.type != YAML_SCALAR_EVENT) {
            ok = fail_at(p, ev_line(p), "%s: keys must be strings", what);
            break;
        }
        size_t line = ev_line(p);
        char *key = strdup(scalar(p));
        if (!key) {
            ok = nomem(p);
            break;
        }
        bool dup = false;
        for (size_t i = 0; i < nseen; i++)
            dup |= strcmp(seen[i], key) == 0;
        if (dup) {
            ok = fail_at(p, line, "%s: duplicate key '%s'", what, key);
            free(key);
            break;
        }
        if (!next(p)) {
            free(key);
            ok = false;
            break;
        }
        ok = each(p, key, line, depth + 1);
        if (ok && nseen < sizeof seen / sizeof seen[0])
            seen[nseen++] = key;
        else
            free(key);
        if (!ok)
            break;
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    return ok;
}

/* A list of scalars; calls `each` per item. A null value is an empty list. */
typedef bool (*item_fn)(struct parser *p, const char *key, const char *item, size_t line);

static bool sequence(struct parser *p, const char *key, item_fn each)
{
    if (is_null(p))
        return true;
    if (p->ev.type != YAML_SEQUENCE_START_EVENT)
        return fail_at(p, ev_line(p), "%s: want a list, got %s", key, type_name(p->ev.type));
    for (size_t n = 0;; n++) {
        if (!next(p))
            return false;
        if (p->ev.type == YAML_SEQUENCE_END_EVENT)
            return true;
        if (p->ev.type != YAML_SCALAR_EVENT)
            return fail_at(p, ev_line(p), "%s: items must be strings, got %s", key, type_name(p->ev.type));
        if (n >= 64)
            return fail_at(p, ev_line(p), "%s: more than 64 items", key);
        if (!each(p, key, scalar(p), ev_line(p)))
            return false;
    }
}

/* Appends ":part" to b unless already there. */
static bool add_part(struct parser *p, struct buf *b, const char *part)
{
    size_t pl = strlen(part);
    const char *s = buf_str(b);
    for (const char *f = strstr(s, part); f; f = strstr(f + 1, part)) {
        if (f[-1] == ':' && (f[pl] == ':' || f[pl] == '\0'))
            return true;
    }
    if (buf_putc(b, ':') != JT_OK || buf_puts(b, part) != JT_OK)
        return nomem(p);
    return true;
}

static bool cipher_item(struct parser *p, const char *key, const char *item, size_t line)
{
    const char *kx, *cipher, *mac;
    if (!webconfig_cipher_suite(item, &kx, &cipher, &mac)) {
        if (strstr(item, "RC4") || strstr(item, "3DES"))
            return fail_at(p, line, "%s: '%s' is insecure and not supported", key, item);
        if (strncmp(item, "TLS_AES_", 8) == 0 || strncmp(item, "TLS_CHACHA20_", 13) == 0)
            return fail_at(p, line, "%s: '%s' is a TLS 1.3 suite; like Go, TLS 1.3 suites are not configurable",
                           key, item);
        return fail_at(p, line, "%s: unknown cipher suite '%s' (want Go's names, e.g. "
                                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", key, item);
    }
    p->have_suites = true;
    return add_part(p, &p->kx, kx) && add_part(p, &p->cipher, cipher) && add_part(p, &p->mac, mac);
}

static bool curve_item(struct parser *p, const char *key, const char *item, size_t line)
{
    for (size_t i = 0; i < sizeof curve_table / sizeof curve_table[0]; i++) {
        if (strcmp(curve_table[i].go, item) == 0) {
            p->have_curves = true;
            return add_part(p, &p->groups, curve_table[i].group);
        }
    }
    return fail_at(p, line, "%s: unknown curve '%s' (want CurveP256, CurveP384, CurveP521 or X25519)", key, item);
}

static bool take_version(struct parser *p, const char *key, int *out)
{
    static const char *const names[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
    if (p->ev.type == YAML_SCALAR_EVENT) {
        for (int i = 0; i < 4; i++) {
            if (strcmp(scalar(p), names[i]) == 0) {
                *out = 10 + i;
                return true;
            }
        }
    }
    return fail_at(p, ev_line(p), "%s: want one of TLS10, TLS11, TLS12, TLS13", key);
}

static bool take_client_auth(struct parser *p, const char *key)
{
    static const char *const names[] = {"NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                                        "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"};
    if (p->ev.type == YAML_SCALAR_EVENT) {
        if (is_null(p))
            return true;
        for (int i = 0; i < 5; i++) {
            if (strcmp(scalar(p), names[i]) == 0) {
                p->wc->client_auth = (enum webconfig_client_auth)i;
                return true;
            }
        }
    }
    return fail_at(p, ev_line(p), "%s: want one of NoClientCert, RequestClientCert, RequireAnyClientCert, "
                                  "VerifyClientCertIfGiven, RequireAndVerifyClientCert", key);
}

static bool tls_entry(struct parser *p, const char *key, size_t line, int depth)
{
    (void)depth;
    struct webconfig *wc = p->wc;
    if (strcmp(key, "cert_file") == 0)
        return p->tls_keys_seen = true, take_path(p, key, &wc->cert_file);
    if (strcmp(key, "key_file") == 0)
        return p->tls_keys_seen = true, take_path(p, key, &wc->key_file);
    if (strcmp(key, "client_ca_file") == 0)
        return p->tls_keys_seen = true, take_path(p, key, &wc->client_ca_file);
    if (strcmp(key, "client_auth_type") == 0)
        return p->tls_keys_seen = true, take_client_auth(p, key);
    if (strcmp(key, "min_version") == 0)
        return take_version(p, key, &wc->min_version);
    if (strcmp(key, "max_version") == 0)
        return take_version(p, key, &wc->max_version);
    if (strcmp(key, "cipher_suites") == 0)
        return sequence(p, key, cipher_item);
    if (strcmp(key, "curve_preferences") == 0)
        return sequence(p, key, curve_item);
    if (strcmp(key, "prefer_server_cipher_suites") == 0) {
        bool b;
        if (!take_bool(p, key, &b))
            return false;
        p->prefer_server = b;
        return true;
    }
    if (strcmp(key, "cert") == 0 || strcmp(key, "key") == 0 || strcmp(key, "client_ca") == 0 ||
        strcmp(key, "client_allowed_sans") == 0)
        return fail_at(p, line, "tls_server_config: '%s' is not supported by jobtel (use cert_file, key_file, "
                                "client_ca_file)", key);
    return fail_at(p, line, "tls_server_config: unknown key '%s'", key);
}

static bool valid_header_value(const char *v)
{
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        if (*s < 0x20 && *s != '\t')
            return false;
        if (*s == 0x7f)
            return false;
    }
    return true;
}

static bool header_entry(struct parser *p, const char *key, size_t line, int depth)
{
    (void)depth;
    struct webconfig *wc = p->wc;
    const char *canon = NULL;
    for (size_t i = 0; i < sizeof allowed_headers / sizeof allowed_headers[0]; i++)
        if (strcasecmp(allowed_headers[i], key) == 0)
            canon = allowed_headers[i];
    if (!canon)
        return fail_at(p, line, "headers: '%s' cannot be configured (allowed: Strict-Transport-Security, "
                                "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)",
                       key);
    if (wc->nheaders >= WEBCONFIG_MAX_HEADERS)
        return fail_at(p, line, "headers: more than %d", WEBCONFIG_MAX_HEADERS);
    char *v = NULL;
    if (!take_string(p, key, &v))
        return false;
    if (!valid_header_value(v)) {
        free(v);
        return fail_at(p, line, "headers: the value of '%s' contains a control character", key);
    }
    struct webconfig_pair *pair = &wc->headers[wc->nheaders];
    pair->name = strdup(canon);
    pair->value = v;
    if (!pair->name) {
        free(v);
        return nomem(p);
    }
    wc->nheaders++;
    return true;
}

static bool http_entry(struct parser *p, const char *key, size_t line, int depth)
{
    if (strcmp(key, "http2") == 0) {
        bool b;
        return take_bool(p, key, &b); /* accepted for compatibility: jobtel speaks HTTP/1.1 */
    }
    if (strcmp(key, "headers") == 0) {
        if (is_null(p))
            return true;
        if (p->ev.type != YAML_MAPPING_START_EVENT)
            return fail_at(p, ev_line(p), "headers: want a mapping, got %s", type_name(p->ev.type));
        return mapping(p, depth, "headers", header_entry);
    }
    return fail_at(p, line, "http_server_config: unknown key '%s'", key);
}

static bool user_entry(struct parser *p, const char *key, size_t line, int depth)
{
    (void)depth;
    struct webconfig *wc = p->wc;
    if (!*key)
        return fail_at(p, line, "basic_auth_users: empty user name");
    if (strchr(key, ':'))
        return fail_at(p, line, "basic_auth_users: user name '%s' contains ':'", key);
    if (wc->nusers >= WEBCONFIG_MAX_USERS)
        return fail_at(p, line, "basic_auth_users: more than %d users", WEBCONFIG_MAX_USERS);
    char *hash = NULL;
    if (!take_string(p, key, &hash))
        return false;
    /* bcrypt only, as exporter-toolkit; libxcrypt must know the method (crypt_checksalt). */
    bool bcrypt = strncmp(hash, "$2a$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2y$", 4) == 0;
    int cs = bcrypt ? crypt_checksalt(hash) : CRYPT_SALT_INVALID;
    if (!bcrypt || strlen(hash) != 60 || (cs != CRYPT_SALT_OK && cs != CRYPT_SALT_METHOD_LEGACY)) {
        free(hash);
        return fail_at(p, line, "basic_auth_users: the password of '%s' is not a bcrypt hash ($2y$, $2b$ or $2a$, "
                                "60 characters; e.g. from htpasswd -nBC 10)", key);
    }
    struct webconfig_pair *pair = &wc->users[wc->nusers];
    pair->name = strdup(key);
    pair->value = hash;
    if (!pair->name) {
        free(hash);
        return nomem(p);
    }
    wc->nusers++;
    return true;
}

static bool root_entry(struct parser *p, const char *key, size_t line, int depth)
{
    const char *what = NULL;
    entry_fn fn = NULL;
    if (strcmp(key, "tls_server_config") == 0) {
        what = key;
        fn = tls_entry;
        p->tls_line = line;
    } else if (strcmp(key, "http_server_config") == 0) {
        what = key;
        fn = http_entry;
    } else if (strcmp(key, "basic_auth_users") == 0) {
        what = key;
        fn = user_entry;
    } else if (strcmp(key, "rate_limit") == 0) {
        return fail_at(p, line, "'rate_limit' is not supported by jobtel (it bounds bcrypt work itself)");
    } else {
        return fail_at(p, line, "unknown key '%s' (want tls_server_config, http_server_config, basic_auth_users)",
                       key);
    }
    if (is_null(p))
        return true;
    if (p->ev.type != YAML_MAPPING_START_EVENT)
        return fail_at(p, ev_line(p), "%s: want a mapping, got %s", what, type_name(p->ev.type));
    return mapping(p, depth, what, fn);
}

/* Builds and checks the GnuTLS priority string. */
static bool build_priorities(struct parser *p)
{
    struct webconfig *wc = p->wc;
    if (wc->min_version > wc->max_version)
        return fail_at(p, p->tls_line, "tls_server_config: min_version is above max_version");
    struct buf b;
    buf_init(&b, 4096);
    buf_puts(&b, "NORMAL:-VERS-ALL");
    static const char *const vers[] = {"+VERS-TLS1.0", "+VERS-TLS1.1", "+VERS-TLS1.2", "+VERS-TLS1.3"};
    for (int v = wc->max_version; v >= wc->min_version; v--)
        buf_printf(&b, ":%s", vers[v - 10]);
    if (p->have_suites) {
        /* Go leaves TLS 1.3 suites out of cipher_suites; keep them when 1.3 is allowed. */
        if (wc->max_version >= 13) {
            add_part(p, &p->kx, "+ECDHE-RSA");
            add_part(p, &p->cipher, "+AES-128-GCM");
            add_part(p, &p->cipher, "+AES-256-GCM");
            add_part(p, &p->cipher, "+CHACHA20-POLY1305");
            add_part(p, &p->mac, "+AEAD");
        }
        buf_printf(&b, ":-KX-ALL%s:-CIPHER-ALL%s:-MAC-ALL%s", buf_str(&p->kx), buf_str(&p->cipher),
                   buf_str(&p->mac));
    }
    if (p->have_curves)
        buf_printf(&b, ":-GROUP-ALL%s", buf_str(&p->groups));
    if (p->prefer_server != 0)
        buf_puts(&b, ":%SERVER_PRECEDENCE");
    if (b.err != JT_OK) {
        buf_free(&b);
        return nomem(p);
    }
    gnutls_priority_t pc;
    const char *errpos = NULL;
    int r = gnutls_priority_init(&pc, buf_str(&b), &errpos);
    if (r < 0) {
        fail_at(p, p->tls_line, "tls_server_config: GnuTLS refuses the resulting priorities '%s' at '%s': %s",
                buf_str(&b), errpos ? errpos : "?", gnutls_strerror(r));
        buf_free(&b);
        return false;
    }
    gnutls_priority_deinit(pc);
    wc->priorities = buf_detach(&b, NULL);
    buf_free(&b);
    return wc->priorities ? true : nomem(p);
}

/* exporter-toolkit's consistency rules between the TLS keys. */
static bool check_tls(struct parser *p)
{
    struct webconfig *wc = p->wc;
    if (!p->tls_keys_seen && !wc->cert_file && !wc->key_file)
        return true; /* no TLS: plain HTTP, as exporter-toolkit */
    if (!wc->cert_file)
        return fail_at(p, p->tls_line, "tls_server_config: missing cert_file");
    if (!wc->key_file)
        return fail_at(p, p->tls_line, "tls_server_config: missing key_file");
    if (wc->client_ca_file && wc->client_auth == WC_NO_CLIENT_CERT)
        return fail_at(p, p->tls_line,
                       "tls_server_config: client_ca_file is set but client_auth_type is NoClientCert");
    if (!wc->client_ca_file &&
        (wc->client_auth == WC_VERIFY_CLIENT_CERT_IF_GIVEN || wc->client_auth == WC_REQUIRE_AND_VERIFY_CLIENT_CERT))
        return fail_at(p, p->tls_line, "tls_server_config: client_auth_type verifies client certificates but "
                                       "client_ca_file is not set");
    wc->tls = true;
    return build_priorities(p);
}

void webconfig_free(struct webconfig *wc)
{
    if (!wc)
        return;
    free(wc->cert_file);
    free(wc->key_file);
    free(wc->client_ca_file);
    free(wc->priorities);
    for (size_t i = 0; i < wc->nusers; i++) {
        free(wc->users[i].name);
        /* the hash is not a secret, but a user table has no business lingering */
        explicit_bzero(wc->users[i].value, strlen(wc->users[i].value));
        free(wc->users[i].value);
    }
    free(wc->users);
    for (size_t i = 0; i < wc->nheaders; i++) {
        free(wc->headers[i].name);
        free(wc->headers[i].value);
    }
    free(wc->headers);
    free(wc);
}

enum jt_err webconfig_parse(const char *text, size_t len, const char *name, struct webconfig **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    struct parser p = {.name = name, .err = err, .errlen = errlen, .prefer_server = -1};
    if (len > WEBCONFIG_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %d bytes", name, WEBCONFIG_MAX_BYTES);
        return JT_ERR_USAGE;
    }
    struct webconfig *wc = calloc(1, sizeof *wc);
    if (!wc || !(wc->users = calloc(WEBCONFIG_MAX_USERS, sizeof *wc->users)) ||
        !(wc->headers = calloc(WEBCONFIG_MAX_HEADERS, sizeof *wc->headers))) {
        if (wc)
            free(wc->users);
        free(wc);
        snprintf(err, errlen, "%s: out of memory", name);
        return JT_ERR_NOMEM;
    }
    wc->min_version = 12; /* exporter-toolkit's default */
    wc->max_version = 13;
    p.wc = wc;
    buf_init(&p.kx, 1024);
    buf_init(&p.cipher, 1024);
    buf_init(&p.mac, 1024);
    buf_init(&p.groups, 1024);
    if (!yaml_parser_initialize(&p.y)) {
        nomem(&p);
        goto out;
    }
    yaml_parser_set_input_string(&p.y, (const unsigned char *)text, len);
    if (!next(&p))
        goto done;
    if (p.ev.type != YAML_STREAM_START_EVENT) {
        fail_at(&p, ev_line(&p), "invalid YAML stream");
        goto done;
    }
    if (!next(&p))
        goto done;
    if (p.ev.type == YAML_DOCUMENT_START_EVENT) {
        if (!next(&p))
            goto done;
        if (p.ev.type == YAML_MAPPING_START_EVENT) {
            if (!mapping(&p, 0, "web config", root_entry))
                goto done;
        } else if (!is_null(&p)) {
            fail_at(&p, ev_line(&p), "the web config must be a mapping, got %s", type_name(p.ev.type));
            goto done;
        }
        if (!next(&p))
            goto done;
        if (p.ev.type != YAML_DOCUMENT_END_EVENT) {
            fail_at(&p, ev_line(&p), "unexpected content");
            goto done;
        }
        if (!next(&p))
            goto done;
    }
    if (p.ev.type != YAML_STREAM_END_EVENT) {
        fail_at(&p, ev_line(&p), "only one YAML document is allowed");
        goto done;
    }
    check_tls(&p);
done:
    if (p.have_ev)
        yaml_event_delete(&p.ev);
    yaml_parser_delete(&p.y);
out:
    buf_free(&p.kx);
    buf_free(&p.cipher);
    buf_free(&p.mac);
    buf_free(&p.groups);
    if (p.rc != JT_OK) {
        webconfig_free(wc);
        return p.rc;
    }
    *out = wc;
    return JT_OK;
}

enum jt_err webconfig_load(const char *path, struct webconfig **out, char *err, size_t errlen)
{
    *out = NULL;
    struct buf b;
    buf_init(&b, WEBCONFIG_MAX_BYTES);
    enum jt_err rc = file_read(path, WEBCONFIG_MAX_BYTES, &b);
    if (rc != JT_OK) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == JT_ERR_LIMIT ? "larger than 256 KiB" : rc == JT_ERR_NOT_FOUND ? "no such file" : "cannot read");
        buf_free(&b);
        return rc == JT_ERR_NOMEM ? rc : JT_ERR_USAGE;
    }
    rc = webconfig_parse(b.data ? b.data : "", b.len, path, out, err, errlen);
    buf_free(&b);
    return rc;
}

/* --- TLS material --------------------------------------------------------------------------------- */

struct webconfig_tls {
    gnutls_pcert_st chain[WC_MAX_CHAIN];
    unsigned nchain;
    gnutls_privkey_t key;
    gnutls_x509_trust_list_t cas; /* NULL without client_ca_file */
    char serial[64];
};

void webconfig_tls_free(struct webconfig_tls *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < t->nchain; i++)
        gnutls_pcert_deinit(&t->chain[i]);
    if (t->key)
        gnutls_privkey_deinit(t->key);
    if (t->cas)
        gnutls_x509_trust_list_deinit(t->cas, 1);
    free(t);
}

static enum jt_err read_pem(const char *path, struct buf *b, char *err, size_t errlen)
{
    buf_init(b, 1024 * 1024);
    enum jt_err rc = file_read(path, 1024 * 1024, b);
    if (rc != JT_OK || b->len == 0) {
        snprintf(err, errlen, "%s: %s", path, rc == JT_OK ? "empty" : rc == JT_ERR_NOT_FOUND ? "no such file"
                                              : rc == JT_ERR_LIMIT ? "larger than 1 MiB" : "cannot read");
        buf_free(b);
        return JT_ERR_USAGE;
    }
    return JT_OK;
}

enum jt_err webconfig_tls_load(const struct webconfig *wc, struct webconfig_tls **out, char *err, size_t errlen)
{
    *out = NULL;
    struct webconfig_tls *t = calloc(1, sizeof *t);
    if (!t)
        return JT_ERR_NOMEM;
    struct buf cert, key, ca;
    buf_init(&cert, 0);
    buf_init(&key, 0);
    buf_init(&ca, 0);
    enum jt_err rc = JT_ERR_USAGE;
    int r;
    if (read_pem(wc->cert_file, &cert, err, errlen) != JT_OK || read_pem(wc->key_file, &key, err, errlen) != JT_OK)
        goto out;
    gnutls_datum_t d = {(unsigned char *)cert.data, (unsigned)cert.len};
    t->nchain = WC_MAX_CHAIN;
    r = gnutls_pcert_list_import_x509_raw(t->chain, &t->nchain, &d, GNUTLS_X509_FMT_PEM, 0);
    if (r < 0) {
        t->nchain = 0;
        snprintf(err, errlen, "%s: not a PEM certificate chain: %s", wc->cert_file, gnutls_strerror(r));
        goto out;
    }
    gnutls_datum_t kd = {(unsigned char *)key.data, (unsigned)key.len};
    if ((r = gnutls_privkey_init(&t->key)) < 0 ||
        (r = gnutls_privkey_import_x509_raw(t->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "%s: not a PEM private key: %s", wc->key_file, gnutls_strerror(r));
        goto out;
    }
    /* The key must sign what the certificate's public key verifies. */
    {
        gnutls_pubkey_t pub = t->chain[0].pubkey;
        gnutls_datum_t probe = {(unsigned char *)"jobtel key check", 16}, sig = {NULL, 0};
        gnutls_sign_algorithm_t algo;
        unsigned bits = 0;
        int pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);
        r = gnutls_pubkey_get_preferred_hash_algorithm(pub, NULL, NULL);
        gnutls_digest_algorithm_t dig = r > 0 ? (gnutls_digest_algorithm_t)r : GNUTLS_DIG_SHA256;
        algo = gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, dig);
        if (pk == GNUTLS_PK_EDDSA_ED25519)
            algo = GNUTLS_SIGN_EDDSA_ED25519;
        r = gnutls_privkey_sign_data2(t->key, algo, 0, &probe, &sig);
        if (r >= 0)
            r = gnutls_pubkey_verify_data2(pub, algo, 0, &probe, &sig);
        gnutls_free(sig.data);
        if (r < 0) {
            snprintf(err, errlen, "%s does not match the certificate in %s", wc->key_file, wc->cert_file);
            goto out;
        }
    }
    if (wc->client_ca_file) {
        if (read_pem(wc->client_ca_file, &ca, err, errlen) != JT_OK)
            goto out;
        gnutls_datum_t cd = {(unsigned char *)ca.data, (unsigned)ca.len};
        if ((r = gnutls_x509_trust_list_init(&t->cas, 0)) < 0 ||
            (r = gnutls_x509_trust_list_add_trust_mem(t->cas, &cd, NULL, GNUTLS_X509_FMT_PEM, 0, 0)) <= 0) {
            snprintf(err, errlen, "%s: no PEM CA certificate in it%s%s", wc->client_ca_file, r < 0 ? ": " : "",
                     r < 0 ? gnutls_strerror(r) : "");
            goto out;
        }
    }
    {
        gnutls_x509_crt_t crt;
        unsigned char ser[40];
        size_t sl = sizeof ser;
        t->serial[0] = '\0';
        if (gnutls_x509_crt_init(&crt) >= 0) {
            if (gnutls_x509_crt_import(crt, &t->chain[0].cert, GNUTLS_X509_FMT_DER) >= 0 &&
                gnutls_x509_crt_get_serial(crt, ser, &sl) >= 0) {
                for (size_t i = 0; i < sl && 2 * i + 2 < sizeof t->serial; i++)
                    snprintf(t->serial + 2 * i, 3, "%02x", ser[i]);
            }
            gnutls_x509_crt_deinit(crt);
        }
    }
    rc = JT_OK;
out:
    if (key.data)
        explicit_bzero(key.data, key.len);
    buf_free(&cert);
    buf_free(&key);
    buf_free(&ca);
    if (rc != JT_OK) {
        webconfig_tls_free(t);
        return rc;
    }
    *out = t;
    return JT_OK;
}

void webconfig_tls_cert(const struct webconfig_tls *t, void **pcert, unsigned *npcert, void **privkey)
{
    *pcert = (void *)(uintptr_t)t->chain;
    *npcert = t->nchain;
    *privkey = t->key;
}

bool webconfig_tls_verify_client(const struct webconfig_tls *t, const void *der_list, unsigned n)
{
    if (!t->cas || n == 0 || n > WC_MAX_CHAIN)
        return false;
    const gnutls_datum_t *ders = der_list;
    gnutls_x509_crt_t crts[WC_MAX_CHAIN];
    unsigned got = 0;
    bool ok = false;
    for (; got < n; got++) {
        if (gnutls_x509_crt_init(&crts[got]) < 0)
            goto out;
        if (gnutls_x509_crt_import(crts[got], &ders[got], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(crts[got]);
            goto out;
        }
    }
    unsigned status = 0;
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
    ok = gnutls_x509_trust_list_verify_crt2(t->cas, crts, n, &purpose, 1, 0, &status, NULL) >= 0 && status == 0;
out:
    for (unsigned i = 0; i < got; i++)
        gnutls_x509_crt_deinit(crts[i]);
    return ok;
}

void webconfig_tls_serial(const struct webconfig_tls *t, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", t->serial[0] ? t->serial : "?");
}
