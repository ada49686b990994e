/* webconfig.h - the `--web.config.file` of node_exporter's exporter-toolkit: TLS, basic auth, headers.
 *
 * The file is exporter-toolkit's YAML, so an admin can put the one they use with node_exporter next to
 * jobtel. Parsing (webconfig_parse) is pure: text in, a plain struct out, every error with `file:line`,
 * so it is unit-tested from strings; loading the TLS material the struct names (webconfig_tls_load)
 * is separate, because it reads further files and is redone on SIGHUP.
 */
#ifndef JOBTEL_WEBCONFIG_H
#define JOBTEL_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define WEBCONFIG_MAX_BYTES (256 * 1024) /* a larger file is refused: real ones are a few hundred bytes */
#define WEBCONFIG_MAX_USERS 1024
#define WEBCONFIG_MAX_HEADERS 16
#define WEBCONFIG_MAX_DEPTH 8            /* YAML nesting; the format itself needs 3 */

/* Go's tls.ClientAuthType, spelled as exporter-toolkit spells it. */
enum webconfig_client_auth {
    WC_NO_CLIENT_CERT = 0,
    WC_REQUEST_CLIENT_CERT,
    WC_REQUIRE_ANY_CLIENT_CERT,
    WC_VERIFY_CLIENT_CERT_IF_GIVEN,
    WC_REQUIRE_AND_VERIFY_CLIENT_CERT,
};

struct webconfig_pair {
    char *name;
    char *value;
};

struct webconfig {
    /* tls_server_config; TLS is on when cert_file is set. Paths are resolved against the config
     * file's directory, as exporter-toolkit does. */
    bool tls;
    char *cert_file;
    char *key_file;
    char *client_ca_file;                  /* NULL = none */
    enum webconfig_client_auth client_auth;
    int min_version, max_version;          /* 10..13 for TLS 1.0..1.3; default 12 and 13 */
    char *priorities;                      /* GnuTLS priority string built from the TLS keys */
    /* basic_auth_users: name -> bcrypt hash; none = no authentication */
    struct webconfig_pair *users;
    size_t nusers;
    /* http_server_config.headers: added to every answer */
    struct webconfig_pair *headers;
    size_t nheaders;
};

/* Parses `len` bytes of YAML; `name` (the file's path) prefixes error messages and anchors relative
 * paths. On failure returns JT_ERR_USAGE (or JT_ERR_NOMEM) and writes "name:line: why" to err. The
 * result is the caller's, freed with webconfig_free. */
enum jt_err webconfig_parse(const char *text, size_t len, const char *name, struct webconfig **out, char *err,
                            size_t errlen);

/* Reads and parses `path` (at most WEBCONFIG_MAX_BYTES). */
enum jt_err webconfig_load(const char *path, struct webconfig **out, char *err, size_t errlen);

void webconfig_free(struct webconfig *wc);

/* The GnuTLS priority string for a Go cipher suite name's parts ("+ECDHE-RSA", "+AES-128-GCM",
 * "+AEAD"), NULL parts if unknown. Exposed for tests and the docs' table. */
bool webconfig_cipher_suite(const char *go_name, const char **kx, const char **cipher, const char **mac);

/* --- TLS material --------------------------------------------------------------------------------- */

/* The certificate, key and client CAs named by a webconfig, loaded into GnuTLS form. Opaque; one is
 * built per (re)load and handed to the HTTP front, which keeps it alive while handshakes may use it. */
struct webconfig_tls;

/* Loads wc's cert_file, key_file and client_ca_file, checks the key matches the certificate. On
 * failure writes why (naming the file) to err. */
enum jt_err webconfig_tls_load(const struct webconfig *wc, struct webconfig_tls **out, char *err, size_t errlen);
void webconfig_tls_free(struct webconfig_tls *t);

/* For the GnuTLS certificate callback: the chain and key (owned by t). */
void webconfig_tls_cert(const struct webconfig_tls *t, void **pcert, unsigned *npcert, void **privkey);

/* Verifies a client's certificate chain (DER, leaf first) against the client CAs. */
bool webconfig_tls_verify_client(const struct webconfig_tls *t, const void *der_list, unsigned n);

/* The serial of the serving certificate in hex, for the log line of a reload. */
void webconfig_tls_serial(const struct webconfig_tls *t, char *out, size_t outlen);

#endif
