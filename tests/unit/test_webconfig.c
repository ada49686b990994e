/* test_webconfig.c - the web-config parser from strings: every key, unknown keys with file:line, bad
 * values and wrong types, hostile YAML (alias bombs, anchors, deep nesting, huge documents, several
 * documents), the Go cipher-suite mapping, and basic auth's cache and bound on bcrypt work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/webauth.h"
#include "exporter/webconfig.h"

/* bcrypt of "s3cret" at cost 4 ($2b$) and of "hunter2" ($2y$, as htpasswd writes it) */
#define HASH_S3CRET "$2b$04$Ex9ZNDvn8DbHb/wcRIWtzeqNk/Bdat2N8kYTd3qpHCuepKnODeyQW"

static struct webconfig *parse_ok(const char *yaml)
{
    struct webconfig *wc = NULL;
    char err[512];
    enum jt_err rc = webconfig_parse(yaml, strlen(yaml), "/etc/jobtel/web.yml", &wc, err, sizeof err);
    if (rc != JT_OK)
        fail_msg("refused: %s\n--- yaml:\n%s", err, yaml);
    return wc;
}

/* Parses `yaml`, which must be refused with an error containing `want`. */
static void parse_bad(const char *yaml, size_t len, const char *want)
{
    struct webconfig *wc = NULL;
    char err[512];
    enum jt_err rc = webconfig_parse(yaml, len, "/etc/jobtel/web.yml", &wc, err, sizeof err);
    if (rc == JT_OK)
        fail_msg("accepted, want an error with '%s'\n--- yaml:\n%.300s", want, yaml);
    assert_null(wc);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
}

#define BAD(yaml, want) parse_bad(yaml, strlen(yaml), want)

static void test_full(void **state)
{
    (void)state;
    struct webconfig *wc = parse_ok("tls_server_config:\n"
                                    "  cert_file: tls/server.crt\n"
                                    "  key_file: /abs/server.key\n"
                                    "  client_ca_file: ca.crt\n"
                                    "  client_auth_type: RequireAndVerifyClientCert\n"
                                    "  min_version: TLS13\n"
                                    "  max_version: TLS13\n"
                                    "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"
                                    "  curve_preferences: [X25519, CurveP256]\n"
                                    "  prefer_server_cipher_suites: false\n"
                                    "http_server_config:\n"
                                    "  http2: false\n"
                                    "  headers:\n"
                                    "    Strict-Transport-Security: max-age=31536000\n"
                                    "    x-frame-options: deny\n"
                                    "basic_auth_users:\n"
                                    "  prom: " HASH_S3CRET "\n"
                                    "  other: '$2y$04$Ex9ZNDvn8DbHb/wcRIWtzeqNk/Bdat2N8kYTd3qpHCuepKnODeyQW'\n");
    assert_true(wc->tls);
    assert_string_equal(wc->cert_file, "/etc/jobtel/tls/server.crt"); /* relative to the file */
    assert_string_equal(wc->key_file, "/abs/server.key");
    assert_string_equal(wc->client_ca_file, "/etc/jobtel/ca.crt");
    assert_int_equal(wc->client_auth, WC_REQUIRE_AND_VERIFY_CLIENT_CERT);
    assert_int_equal(wc->min_version, 13);
    assert_int_equal(wc->max_version, 13);
    assert_non_null(strstr(wc->priorities, "-VERS-ALL:+VERS-TLS1.3"));
    assert_null(strstr(wc->priorities, "TLS1.2"));
    assert_non_null(strstr(wc->priorities, "+ECDHE-RSA"));
    assert_non_null(strstr(wc->priorities, "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1"));
    assert_null(strstr(wc->priorities, "SERVER_PRECEDENCE"));
    assert_int_equal(wc->nheaders, 2);
    assert_string_equal(wc->headers[1].name, "X-Frame-Options"); /* canonical spelling */
    assert_string_equal(wc->headers[1].value, "deny");
    assert_int_equal(wc->nusers, 2);
    assert_string_equal(wc->users[0].name, "prom");
    assert_string_equal(wc->users[0].value, HASH_S3CRET);
    webconfig_free(wc);
}

static void test_defaults_and_empty(void **state)
{
    (void)state;
    static const char *const empties[] = {"", "# nothing\n", "---\n", "tls_server_config:\n",
                                          "basic_auth_users: {}\nhttp_server_config: ~\n"};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        struct webconfig *wc = parse_ok(empties[i]);
        assert_false(wc->tls);
        assert_int_equal(wc->nusers, 0);
        webconfig_free(wc);
    }
    struct webconfig *wc = parse_ok("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n");
    assert_true(wc->tls);
    assert_int_equal(wc->min_version, 12); /* exporter-toolkit's default */
    assert_int_equal(wc->client_auth, WC_NO_CLIENT_CERT);
    assert_string_equal(wc->priorities, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE");
    webconfig_free(wc);
    wc = parse_ok("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS10\n");
    assert_non_null(strstr(wc->priorities, "+VERS-TLS1.1:+VERS-TLS1.0"));
    webconfig_free(wc);
    static const char *const auths[] = {"NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                                        "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"};
    for (int i = 0; i < 5; i++) {
        char y[256];
        snprintf(y, sizeof y, "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: %s\n%s", auths[i],
                 i >= 3 ? "  client_ca_file: c\n" : "");
        wc = parse_ok(y);
        assert_int_equal(wc->client_auth, i);
        webconfig_free(wc);
    }
}

static void test_unknown_keys_with_line(void **state)
{
    (void)state;
    BAD("basic_auth_users: {}\ntls_config:\n  cert_file: x\n", "/etc/jobtel/web.yml:2: unknown key 'tls_config'");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  cert_flie: c\n",
        "web.yml:4: tls_server_config: unknown key 'cert_flie'");
    BAD("http_server_config:\n  http3: true\n", "web.yml:2: http_server_config: unknown key 'http3'");
    BAD("http_server_config:\n  headers:\n    Server: jobtel\n", "web.yml:3: headers: 'Server' cannot be configured");
    BAD("http_server_config:\n  headers:\n    Content-Length: 5\n", "cannot be configured");
    BAD("rate_limit:\n  interval: 1s\n", "web.yml:1: 'rate_limit' is not supported");
    BAD("tls_server_config:\n  client_allowed_sans: [a]\n", "web.yml:2: tls_server_config: 'client_allowed_sans' is not supported");
    BAD("tls_server_config:\n  cert: |\n    x\n", "'cert' is not supported");
}

static void test_bad_values(void **state)
{
    (void)state;
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n", "web.yml:4: min_version: want one of");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: 1.2\n", "min_version: want one of");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n",
        "min_version is above max_version");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Require\n", "web.yml:4: client_auth_type: want one of");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
        "web.yml:4: cipher_suites: 'TLS_RSA_WITH_RC4_128_SHA' is insecure");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites:\n    - TLS_RSA_WITH_3DES_EDE_CBC_SHA\n", "web.yml:5:");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", "TLS 1.3 suite");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [NOPE]\n", "unknown cipher suite 'NOPE'");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [P256]\n", "unknown curve 'P256'");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  prefer_server_cipher_suites: maybe\n", "want true or false");
    BAD("tls_server_config:\n  cert_file: a\n", "web.yml:1: tls_server_config: missing key_file");
    BAD("tls_server_config:\n  key_file: a\n", "missing cert_file");
    BAD("tls_server_config:\n  client_auth_type: RequireAnyClientCert\n", "missing cert_file");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n", "client_auth_type is NoClientCert");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: VerifyClientCertIfGiven\n",
        "client_ca_file is not set");
    BAD("basic_auth_users:\n  prom: plaintext\n", "web.yml:2: basic_auth_users: the password of 'prom' is not a bcrypt hash");
    BAD("basic_auth_users:\n  prom: $1$abc$def\n", "not a bcrypt hash");
    BAD("basic_auth_users:\n  prom: '$2b$04$short'\n", "not a bcrypt hash");
    BAD("basic_auth_users:\n  'a:b': " HASH_S3CRET "\n", "contains ':'");
    BAD("basic_auth_users:\n  '': " HASH_S3CRET "\n", "empty user name");
    BAD("basic_auth_users:\n  prom: " HASH_S3CRET "\n  prom: " HASH_S3CRET "\n", "web.yml:3: basic_auth_users: duplicate key 'prom'");
    BAD("tls_server_config: {}\ntls_server_config: {}\n", "duplicate key");
    BAD("http_server_config:\n  headers:\n    X-Frame-Options: \"a\\nb\"\n", "control character");
}

static void test_wrong_types(void **state)
{
    (void)state;
    BAD("- a\n- b\n", "web.yml:1: the web config must be a mapping");
    BAD("just a string\n", "must be a mapping");
    BAD("tls_server_config: [a, b]\n", "web.yml:1: tls_server_config: want a mapping, got a list");
    BAD("tls_server_config: yes\n", "want a mapping, got a scalar");
    BAD("tls_server_config:\n  cert_file: [a]\n", "web.yml:2: cert_file: want a string, got a list");
    BAD("tls_server_config:\n  cert_file: {a: b}\n", "want a string, got a mapping");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: TLS_RSA_WITH_AES_128_CBC_SHA\n", "want a list");
    BAD("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [[a]]\n", "items must be strings");
    BAD("basic_auth_users:\n  prom: [x]\n", "want a string");
    BAD("basic_auth_users: [prom]\n", "want a mapping");
    BAD("http_server_config:\n  headers: [a]\n", "headers: want a mapping");
    BAD("http_server_config:\n  http2: 1\n", "want true or false");
    BAD("? [a, b]\n: c\n", "keys must be strings");
}

static void test_hostile_yaml(void **state)
{
    (void)state;
    /* The billion laughs: refused at the first anchor, nothing expanded. */
    BAD("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
        "web.yml:1: YAML anchors are not accepted");
    BAD("basic_auth_users:\n  prom: &h " HASH_S3CRET "\n  other: *h\n", "web.yml:2: YAML anchors are not accepted");
    BAD("basic_auth_users:\n  prom: *h\n", "web.yml:2:"); /* an undefined alias: refused as an alias */
    BAD("tls_server_config: !!binary aGVsbG8=\n", "want a mapping");
    BAD("basic_auth_users: {}\n---\nbasic_auth_users: {}\n", "web.yml:2: only one YAML document is allowed");
    BAD("tls_server_config:\n  cert_file: \"unterminated\n", "invalid YAML");
    BAD("http_server_config: {http2: true\n", "invalid YAML");
    BAD("\t- tab\n", "invalid YAML");
    /* deep nesting: refused at the limit, without recursing further */
    {
        char y[4096];
        size_t n = 0;
        n += (size_t)snprintf(y + n, sizeof y - n, "http_server_config:\n  headers:\n    X-Frame-Options: ");
        for (int i = 0; i < 1000 && n < sizeof y - 2; i++)
            y[n++] = '[';
        y[n] = '\0';
        BAD(y, "want a string");
    }
    {
        char y[8192];
        size_t n = (size_t)snprintf(y, sizeof y, "tls_server_config:");
        for (int i = 0; i < 500 && n < sizeof y - 8; i++)
            n += (size_t)snprintf(y + n, sizeof y - n, "{a:");
        BAD(y, "");
    }
    /* a NUL byte inside the text */
    parse_bad("basic_auth_users:\n  prom: a\0b\n", 28, "control characters are not allowed");
    /* a huge document: refused by size before parsing */
    size_t big = WEBCONFIG_MAX_BYTES + 1;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, '#', big);
    huge[big] = '\0';
    parse_bad(huge, big, "larger than");
    /* a long value */
    char *longv = malloc(20000);
    assert_non_null(longv);
    int k = snprintf(longv, 20000, "tls_server_config:\n  cert_file: ");
    memset(longv + k, 'a', 10000);
    strcpy(longv + k + 10000, "\n  key_file: b\n");
    BAD(longv, "web.yml:2: cert_file: value longer than");
    /* too many users */
    char *many = malloc(200000);
    assert_non_null(many);
    size_t m = (size_t)snprintf(many, 200000, "basic_auth_users:\n");
    for (int i = 0; i <= WEBCONFIG_MAX_USERS && m < 199000; i++)
        m += (size_t)snprintf(many + m, 200000 - m, "  u%d: x\n", i);
    BAD(many, "not a bcrypt hash"); /* the first refusal; the count limit is checked before the hash */
    m = (size_t)snprintf(many, 200000, "basic_auth_users:\n");
    for (int i = 0; i <= WEBCONFIG_MAX_USERS && m < 199000; i++)
        m += (size_t)snprintf(many + m, 200000 - m, "  u%d: " HASH_S3CRET "\n", i);
    BAD(many, "more than 1024 users");
    free(huge);
    free(longv);
    free(many);
}

static void test_cipher_table(void **state)
{
    (void)state;
    const char *kx, *c, *m;
    assert_true(webconfig_cipher_suite("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", &kx, &c, &m));
    assert_string_equal(kx, "+ECDHE-ECDSA");
    assert_string_equal(c, "+AES-256-GCM");
    assert_string_equal(m, "+AEAD");
    assert_true(webconfig_cipher_suite("TLS_RSA_WITH_AES_128_CBC_SHA", &kx, &c, &m));
    assert_string_equal(m, "+SHA1");
    assert_false(webconfig_cipher_suite("TLS_RSA_WITH_RC4_128_SHA", &kx, &c, &m));
    /* every suite GnuTLS accepts in a TLS 1.2-only list */
    struct webconfig *wc = parse_ok("tls_server_config:\n  cert_file: a\n  key_file: b\n  max_version: TLS12\n"
                                    "  cipher_suites:\n    - TLS_RSA_WITH_AES_128_CBC_SHA\n"
                                    "    - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305\n"
                                    "    - TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256\n");
    assert_non_null(strstr(wc->priorities, "-KX-ALL:+RSA:+ECDHE-RSA:+ECDHE-ECDSA"));
    assert_non_null(strstr(wc->priorities, "-CIPHER-ALL:+AES-128-CBC:+CHACHA20-POLY1305"));
    assert_non_null(strstr(wc->priorities, "-MAC-ALL:+SHA1:+AEAD:+SHA256"));
    webconfig_free(wc);
}

static void test_load_missing_and_tls_material(void **state)
{
    (void)state;
    struct webconfig *wc = NULL;
    char err[512];
    assert_int_equal(webconfig_load("/nonexistent/web.yml", &wc, err, sizeof err), JT_ERR_USAGE);
    assert_non_null(strstr(err, "/nonexistent/web.yml: no such file"));
    wc = parse_ok("tls_server_config:\n  cert_file: /nonexistent/a.crt\n  key_file: /nonexistent/a.key\n");
    struct webconfig_tls *t = NULL;
    assert_int_equal(webconfig_tls_load(wc, &t, err, sizeof err), JT_ERR_USAGE);
    assert_null(t);
    assert_non_null(strstr(err, "/nonexistent/a.crt: no such file"));
    webconfig_free(wc);
}

/* The shipped example parses (the cert files it names need not exist for that). */
static void test_deploy_example(void **state)
{
    (void)state;
    const char *fx = getenv("FIXTURES");
    assert_non_null(fx);
    char path[1024];
    snprintf(path, sizeof path, "%s/../../deploy/web-config.yml", fx);
    struct webconfig *wc = NULL;
    char err[512];
    if (webconfig_load(path, &wc, err, sizeof err) != JT_OK)
        fail_msg("%s", err);
    assert_true(wc->tls);
    assert_int_equal(wc->nusers, 1);
    assert_int_equal(wc->nheaders, 2);
    webconfig_free(wc);
}

static void test_auth_cache_and_budget(void **state)
{
    (void)state;
    struct webconfig *wc = parse_ok("basic_auth_users:\n  prom: " HASH_S3CRET "\n");
    struct webauth *a = webauth_new();
    assert_non_null(a);
    double now = 100.0;
    assert_int_equal(webauth_check(a, wc, "prom", "s3cret", now), WEBAUTH_OK);
    assert_int_equal(webauth_bcrypt_runs(a), 1);
    /* cached: no more bcrypt, however many scrapes */
    for (int i = 0; i < 100; i++)
        assert_int_equal(webauth_check(a, wc, "prom", "s3cret", now), WEBAUTH_OK);
    assert_int_equal(webauth_bcrypt_runs(a), 1);
    assert_int_equal(webauth_check(a, wc, NULL, "s3cret", now), WEBAUTH_DENIED);
    assert_int_equal(webauth_check(a, wc, "prom", NULL, now), WEBAUTH_DENIED);
    /* a flood of wrong passwords and unknown users at one instant: the budget, then busy */
    int denied = 0, busy = 0;
    for (int i = 0; i < 50; i++) {
        char pw[16];
        snprintf(pw, sizeof pw, "guess%d", i);
        enum webauth_result r = webauth_check(a, wc, i % 2 ? "prom" : "mallory", pw, now);
        denied += r == WEBAUTH_DENIED;
        busy += r == WEBAUTH_BUSY;
    }
    assert_int_equal(denied + 1, (int)WEBAUTH_BCRYPT_PER_S); /* the right one took a token */
    assert_int_equal(busy, 50 - denied);
    assert_int_equal(webauth_bcrypt_runs(a), (uint64_t)WEBAUTH_BCRYPT_PER_S);
    /* the cached scraper is never refused meanwhile */
    assert_int_equal(webauth_check(a, wc, "prom", "s3cret", now), WEBAUTH_OK);
    /* a wrong password is never cached, and the bucket refills with time */
    assert_int_equal(webauth_check(a, wc, "prom", "guess0", now + 1.0), WEBAUTH_DENIED);
    assert_int_equal(webauth_check(a, wc, "prom", "s3cret2", now + 1.0), WEBAUTH_DENIED);
    /* a changed hash (a reloaded file: same password, new salt) is checked anew, not from the cache */
    struct webconfig *wc2 = parse_ok("basic_auth_users:\n  prom: '$2b$04$H3fDt3/HY8WvcrP1kxMyB.AcDaclm/oHM48NwvMXYW0FNu7V5rQ8C'\n");
    uint64_t runs = webauth_bcrypt_runs(a);
    assert_int_equal(webauth_check(a, wc2, "prom", "s3cret", now + 10.0), WEBAUTH_OK);
    assert_int_equal(webauth_bcrypt_runs(a), runs + 1);
    webauth_free(a);
    webconfig_free(wc);
    webconfig_free(wc2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults_and_empty),
        cmocka_unit_test(test_unknown_keys_with_line),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_hostile_yaml),
        cmocka_unit_test(test_cipher_table),
        cmocka_unit_test(test_load_missing_and_tls_material),
        cmocka_unit_test(test_deploy_example),
        cmocka_unit_test(test_auth_cache_and_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
