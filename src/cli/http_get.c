/* http_get.c - bounded HTTP GET with libcurl (see http_get.h). */
#include "cli/http_get.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    return buf_append(b, p, n) == JT_OK ? n : 0; /* 0 aborts the transfer at the cap */
}

enum jt_err http_get(const char *base_url, const struct http_param *params, size_t nparams, double connect_s,
                     double total_s, struct buf *body, long *status, char *err, size_t errsz)
{
    static int inited;
    enum jt_err rc = JT_OK;
    struct buf url;
    buf_init(&url, 1u << 20);
    *status = 0;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        rc = JT_ERR_NOMEM;
        goto out;
    }
    buf_puts(&url, base_url);
    for (size_t i = 0; i < nparams; i++) {
        char *v = curl_easy_escape(c, params[i].value, 0);
        if (!v) {
            rc = JT_ERR_NOMEM;
            goto out;
        }
        buf_printf(&url, "%c%s=%s", i == 0 ? '?' : '&', params[i].name, v);
        curl_free(v);
    }
    if (url.err != JT_OK) {
        rc = url.err;
        goto out;
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, buf_str(&url));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_s * 1000));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(total_s * 1000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "jobtel-jobstats/" JOBTEL_VERSION);
    CURLcode cr = curl_easy_perform(c);
    if (cr != CURLE_OK) {
        if (body->err != JT_OK) {
            snprintf(err, errsz, "answer larger than %zu bytes", body->max);
            rc = JT_ERR_LIMIT;
        } else {
            snprintf(err, errsz, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cr));
            rc = cr == CURLE_OPERATION_TIMEDOUT ? JT_ERR_TIMEOUT : JT_ERR_IO;
        }
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
out:
    if (c)
        curl_easy_cleanup(c);
    buf_free(&url);
    return rc;
}
