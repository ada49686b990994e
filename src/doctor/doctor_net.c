/* doctor_net.c - the checks that ask the daemons: the exporter's /metrics and Prometheus' query API.
 *
 * A plain HTTP/1.0 GET over a socket, not libcurl: the doctor runs on GPU nodes, where nothing goes
 * unless it must (libcurl and its TLS stack are for jobstats on login nodes), and both peers are
 * plain-HTTP daemons on the cluster network. HTTP/1.0 with `Connection: close` means the answer is
 * the bytes up to EOF: no chunked decoding. Everything runs under one deadline per request; the body
 * is capped. Prometheus' JSON is read with jansson, already a dependency of the node package.
 */
#include "doctor/doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/strparse.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int wait_fd(int fd, short ev, double deadline)
{
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int n = poll(&p, 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != 0)
            return n;
    }
}

/* Splits http://host[:port][/path] ([v6] hosts allowed). */
static bool split_url(const char *url, char *host, size_t hostsz, char *port, size_t portsz, const char **path)
{
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + 7, *end = h + strcspn(h, "/?");
    *path = *end ? end : "/";
    const char *colon, *hs = h, *he;
    if (*h == '[') {
        he = memchr(h, ']', (size_t)(end - h));
        if (!he)
            return false;
        hs = h + 1;
        colon = he + 1 < end && he[1] == ':' ? he + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        he = colon ? colon : end;
    }
    if (he == hs || !str_copy(host, hostsz, hs, (size_t)(he - hs)))
        return false;
    if (colon) {
        uint64_t p;
        if (!str_to_u64(colon + 1, (size_t)(end - colon - 1), &p) || p == 0 || p > 65535)
            return false;
        snprintf(port, portsz, "%u", (unsigned)p);
    } else {
        snprintf(port, portsz, "80");
    }
    return true;
}

enum jt_err doctor_http_get(const char *url, double timeout_s, size_t max, int *status, struct buf *body,
                            char *why, size_t whylen)
{
    char host[256], port[8];
    const char *path;
    enum jt_err rc = JT_ERR_IO;
    int fd = -1;
    struct addrinfo *ai = NULL;
    struct buf raw;
    buf_init(&raw, max + 16384);
    double deadline = now_s() + timeout_s;
    why[0] = '\0';
    if (!split_url(url, host, sizeof host, port, sizeof port, &path)) {
        snprintf(why, whylen, "not an http:// URL (https is not supported here)");
        rc = JT_ERR_USAGE;
        goto out;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0) {
        snprintf(why, whylen, "%s: %s", host, gai_strerror(g));
        rc = JT_ERR_NOT_FOUND;
        goto out;
    }
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int err = 0;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                if (wait_fd(fd, POLLOUT, deadline) == 0) {
                    snprintf(why, whylen, "connect to %s:%s timed out", host, port);
                    rc = JT_ERR_TIMEOUT;
                    close(fd);
                    fd = -1;
                    goto out;
                }
                socklen_t l = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
            }
        }
        if (err == 0)
            break;
        snprintf(why, whylen, "%s:%s: %s", host, port, strerror(err));
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        goto out;
    char req[2048];
    int rl = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: jobtel-doctor\r\n"
                                       "Accept-Encoding: identity\r\nConnection: close\r\n\r\n", path, host);
    if (rl < 0 || (size_t)rl >= sizeof req) {
        snprintf(why, whylen, "URL too long");
        rc = JT_ERR_USAGE;
        goto out;
    }
    for (size_t off = 0; off < (size_t)rl;) {
        ssize_t w = send(fd, req + off, (size_t)rl - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) == 0) {
                snprintf(why, whylen, "sending the request timed out");
                rc = JT_ERR_TIMEOUT;
                goto out;
            }
            continue;
        }
        snprintf(why, whylen, "send: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        if (wait_fd(fd, POLLIN, deadline) == 0) {
            snprintf(why, whylen, "no complete answer within %.0f s", timeout_s);
            rc = JT_ERR_TIMEOUT;
            goto out;
        }
        char chunk[16384];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            snprintf(why, whylen, "recv: %s", strerror(errno));
            goto out;
        }
        if (buf_append(&raw, chunk, (size_t)n) != JT_OK) {
            snprintf(why, whylen, "answer larger than %zu bytes", max);
            rc = JT_ERR_LIMIT;
            goto out;
        }
    }
    const char *s = buf_str(&raw), *hdr_end = strstr(s, "\r\n\r\n");
    uint64_t code;
    if (strncmp(s, "HTTP/1.", 7) != 0 || raw.len < 12 || s[8] != ' ' || !str_to_u64(s + 9, 3, &code) || !hdr_end) {
        snprintf(why, whylen, "the answer is not HTTP");
        rc = JT_ERR_PARSE;
        goto out;
    }
    *status = (int)code;
    hdr_end += 4;
    if (buf_append(body, hdr_end, raw.len - (size_t)(hdr_end - s)) != JT_OK) {
        rc = JT_ERR_LIMIT;
        goto out;
    }
    rc = JT_OK;
out:
    if (fd >= 0)
        close(fd);
    if (ai)
        freeaddrinfo(ai);
    buf_free(&raw);
    return rc;
}

int doctor_parse_collectors(const char *body, struct buf *failed)
{
    static const char prefix[] = "jobtel_scrape_collector_success{collector=\"";
    struct cursor c;
    cur_init(&c, body, strlen(body));
    const char *line;
    size_t len;
    int seen = 0;
    while (cur_line(&c, &line, &len)) {
        if (len <= sizeof prefix - 1 || strncmp(line, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *name = line + sizeof prefix - 1;
        const char *q = memchr(name, '"', len - (size_t)(name - line));
        if (!q || q + 2 >= line + len || q[1] != '}' || q[2] != ' ')
            continue;
        const char *v = q + 3;
        size_t vl = (size_t)(line + len - v);
        const char *sp = memchr(v, ' ', vl); /* an optional timestamp */
        if (sp)
            vl = (size_t)(sp - v);
        double val;
        if (!str_to_double(v, vl, &val))
            continue;
        seen++;
        if (val == 0)
            buf_printf(failed, "%s%.*s", failed->len ? "," : "", (int)(q - name), name);
    }
    return seen;
}

void doctor_check_exporter(const struct doctor_opts *o, struct doctor_report *rep)
{
    struct buf body, failed;
    buf_init(&body, 64 << 20);
    buf_init(&failed, 1024);
    char why[512];
    int status = 0;
    enum jt_err rc = doctor_http_get(o->exporter_url, o->timeout_s, 64 << 20, &status, &body, why, sizeof why);
    if (rc != JT_OK) {
        doctor_add(rep, "exporter", DOCTOR_FAIL,
                   "systemctl status jobtel-exporter; journalctl -u jobtel-exporter; check --web.listen-address "
                   "matches --exporter.url",
                   "%s not answering: %s", o->exporter_url, why);
    } else if (status == 503) {
        doctor_add(rep, "exporter", DOCTOR_FAIL, "curl the exporter's /health: it names the collector and why",
                   "%s answers 503: a collector has not reported yet or is stuck", o->exporter_url);
    } else if (status != 200) {
        doctor_add(rep, "exporter", DOCTOR_FAIL, "check --exporter.url points at the exporter's /metrics",
                   "%s answers HTTP %d", o->exporter_url, status);
    } else {
        int n = doctor_parse_collectors(buf_str(&body), &failed);
        if (n == 0)
            doctor_add(rep, "exporter", DOCTOR_FAIL, "check --exporter.url points at jobtel's /metrics",
                       "%s answers but reports no jobtel collector", o->exporter_url);
        else if (failed.len)
            doctor_add(rep, "exporter", DOCTOR_FAIL,
                       "journalctl -u jobtel-exporter says why; the exporter's /health names the stale collector; "
                       "gpu: run this doctor's nvml check, cgroup: check --path.cgroupfs",
                       "%s answers; collector(s) failing: %s", o->exporter_url, buf_str(&failed));
        else
            doctor_add(rep, "exporter", DOCTOR_OK, NULL, "%s answers; %d collector(s) healthy", o->exporter_url, n);
    }
    buf_free(&body);
    buf_free(&failed);
}

/* Appends s to b, escaped for a regex inside a PromQL double-quoted string. */
static bool regex_quote(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
            return false;
        if (strchr(".+*?()[]{}|^$", *s))
            buf_puts(b, "\\\\");
        buf_putc(b, *s);
    }
    return true;
}

static void url_encode(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch))
            buf_putc(b, (char)ch);
        else
            buf_printf(b, "%%%02X", ch);
    }
}

void doctor_check_prometheus(const struct doctor_opts *o, struct doctor_report *rep)
{
    struct buf q, url, body;
    buf_init(&q, 4096);
    buf_init(&url, 8192);
    buf_init(&body, 16 << 20);
    json_t *root = NULL;
    bool node = o->role == DOCTOR_ROLE_GPU;
    if (node) {
        buf_printf(&q, "up{job=\"%s\",instance=~\"", o->prometheus_job);
        if (!regex_quote(&q, o->instance)) {
            doctor_add(rep, "prometheus", DOCTOR_FAIL, "pass --instance=NAME", "bad instance name");
            goto out;
        }
        buf_puts(&q, "(:[0-9]+)?\"}");
    } else {
        buf_puts(&q, "count(up == 1)");
    }
    size_t base = strlen(o->prometheus_url);
    while (base && o->prometheus_url[base - 1] == '/')
        base--;
    buf_printf(&url, "%.*s/api/v1/query?query=", (int)base, o->prometheus_url);
    url_encode(&url, buf_str(&q));
    char why[512];
    int status = 0;
    enum jt_err rc = doctor_http_get(buf_str(&url), o->timeout_s, 16 << 20, &status, &body, why, sizeof why);
    if (rc != JT_OK) {
        doctor_add(rep, "prometheus", DOCTOR_FAIL,
                   "check --prometheus.url (or JOBTEL_PROMETHEUS_URL); on the server: systemctl status prometheus",
                   "%s not reachable: %s", o->prometheus_url, why);
        goto out;
    }
    json_error_t jerr;
    root = json_loadb(buf_str(&body), body.len, 0, &jerr);
    json_t *result = root ? json_object_get(json_object_get(root, "data"), "result") : NULL;
    const char *st = root ? json_string_value(json_object_get(root, "status")) : NULL;
    if (status != 200 || !st || strcmp(st, "success") != 0 || !json_is_array(result)) {
        doctor_add(rep, "prometheus", DOCTOR_FAIL, "check --prometheus.url points at Prometheus itself",
                   "%s answers HTTP %d without a Prometheus query result", o->prometheus_url, status);
        goto out;
    }
    if (!node) {
        doctor_add(rep, "prometheus", DOCTOR_OK, NULL, "%s reachable", o->prometheus_url);
        goto out;
    }
    size_t n = json_array_size(result), up = 0;
    const char *down_inst = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(result, i);
        const char *v = json_string_value(json_array_get(json_object_get(e, "value"), 1));
        if (v && strcmp(v, "1") == 0)
            up++;
        else if (!down_inst)
            down_inst = json_string_value(json_object_get(json_object_get(e, "metric"), "instance"));
    }
    if (n == 0)
        doctor_add(rep, "prometheus", DOCTOR_FAIL,
                   "add this node to Prometheus' targets (`jobtel targets` file_sd, or static_configs), or pass "
                   "--instance with the name Prometheus uses for it",
                   "%s has no up{job=\"%s\"} series for instance %s: this node is not scraped", o->prometheus_url,
                   o->prometheus_job, o->instance);
    else if (up < n)
        doctor_add(rep, "prometheus", DOCTOR_FAIL,
                   "Prometheus' /targets page shows the scrape error; check the exporter port is open to the Prometheus server",
                   "%s cannot scrape %s (up == 0)", o->prometheus_url, down_inst ? down_inst : o->instance);
    else
        doctor_add(rep, "prometheus", DOCTOR_OK, NULL, "%s scrapes this node (%s, job %s)", o->prometheus_url,
                   o->instance, o->prometheus_job);
out:
    json_decref(root);
    buf_free(&q);
    buf_free(&url);
    buf_free(&body);
}
