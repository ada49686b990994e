/* http_get.c - bounded HTTP GET with libcurl (see http_get.h). */
#include "jobstats/http_get.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    return buf_append(b, p, n) == JT_OK ? n : 0; /* 0 aborts the transfer at the cap */
}

static void global_init_once(void)
{
    static int inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
}

/* The options every request shares. */
static void setup_easy(CURL *c, const char *url, double connect_s, double total_s, struct buf *body, char *ebuf)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_s * 1000));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(total_s * 1000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "jobtel-jobstats/" JOBTEL_VERSION);
}

/* Turns a finished transfer's outcome into our error code and message. */
static enum jt_err transfer_result(CURLcode cr, const struct buf *body, const char *ebuf, char *err, size_t errsz)
{
    if (cr == CURLE_OK)
        return JT_OK;
    if (body->err != JT_OK) {
        snprintf(err, errsz, "answer larger than %zu bytes", body->max);
        return JT_ERR_LIMIT;
    }
    snprintf(err, errsz, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cr));
    return cr == CURLE_OPERATION_TIMEDOUT ? JT_ERR_TIMEOUT : JT_ERR_IO;
}

enum jt_err http_build_url(const char *base_url, const struct http_param *params, size_t nparams, struct buf *out)
{
    global_init_once();
    buf_puts(out, base_url);
    for (size_t i = 0; i < nparams; i++) {
        char *v = curl_easy_escape(NULL, params[i].value, 0);
        if (!v)
            return JT_ERR_NOMEM;
        buf_printf(out, "%c%s=%s", i == 0 ? '?' : '&', params[i].name, v);
        curl_free(v);
    }
    return out->err;
}

enum jt_err http_get_all(struct http_request *reqs, size_t n, double connect_s, double total_s)
{
    global_init_once();
    enum jt_err rc = JT_OK;
    CURLM *m = curl_multi_init();
    CURL **easy = calloc(n ? n : 1, sizeof *easy);
    char (*ebuf)[CURL_ERROR_SIZE] = calloc(n ? n : 1, sizeof *ebuf);
    if (!m || !easy || !ebuf) {
        rc = JT_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        reqs[i].rc = JT_ERR_IO;
        reqs[i].status = 0;
        snprintf(reqs[i].err, sizeof reqs[i].err, "not run");
        easy[i] = curl_easy_init();
        if (!easy[i]) {
            rc = JT_ERR_NOMEM;
            goto out;
        }
        setup_easy(easy[i], reqs[i].url, connect_s, total_s, reqs[i].body, ebuf[i]);
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (void *)(uintptr_t)i);
        curl_multi_add_handle(m, easy[i]);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            rc = JT_ERR_IO;
            break;
        }
        if (running && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK) {
            rc = JT_ERR_IO;
            break;
        }
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        void *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        size_t i = (size_t)(uintptr_t)priv;
        if (i >= n)
            continue;
        reqs[i].err[0] = '\0';
        reqs[i].rc = transfer_result(msg->data.result, reqs[i].body, ebuf[i], reqs[i].err, sizeof reqs[i].err);
        if (reqs[i].rc == JT_OK)
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &reqs[i].status);
    }
out:
    for (size_t i = 0; easy && i < n; i++) {
        if (easy[i]) {
            curl_multi_remove_handle(m, easy[i]);
            curl_easy_cleanup(easy[i]);
        }
    }
    if (m)
        curl_multi_cleanup(m);
    free(easy);
    free(ebuf);
    return rc;
}

enum jt_err http_get(const char *base_url, const struct http_param *params, size_t nparams, double connect_s,
                     double total_s, struct buf *body, long *status, char *err, size_t errsz)
{
    struct buf url;
    buf_init(&url, 1u << 20);
    *status = 0;
    enum jt_err rc = http_build_url(base_url, params, nparams, &url);
    if (rc == JT_OK) {
        struct http_request r = {buf_str(&url), body, JT_OK, 0, ""};
        rc = http_get_all(&r, 1, connect_s, total_s);
        if (rc == JT_OK)
            rc = r.rc;
        *status = r.status;
        snprintf(err, errsz, "%s", r.err);
    }
    buf_free(&url);
    return rc;
}
