/* http_get.h - a bounded HTTP GET for the CLI tools (libcurl).
 *
 * jobstats runs on login nodes where a hung Prometheus must not hang the user's shell: every request
 * has a connect timeout and a total timeout, and the answer goes into a capped buffer.
 */
#ifndef JOBTEL_HTTP_GET_H
#define JOBTEL_HTTP_GET_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

struct http_param {
    const char *name;
    const char *value; /* URL-encoded by http_get */
};

/* GETs base_url + "?" + params into body (capped by body->max). *status gets the HTTP status (0 if
 * none). On a transport failure writes curl's reason into err. */
enum jt_err http_get(const char *base_url, const struct http_param *params, size_t nparams, double connect_s,
                     double total_s, struct buf *body, long *status, char *err, size_t errsz);

/* One request of a batch: in: url (with its query string already encoded, see http_build_url), body
 * (initialised, capped); out: rc, status, err. */
struct http_request {
    const char *url;
    struct buf *body;
    enum jt_err rc;
    long status;
    char err[256];
};

/* base_url + "?" + params, each value URL-encoded, appended to *out. */
enum jt_err http_build_url(const char *base_url, const struct http_param *params, size_t nparams, struct buf *out);

/* Runs every request at once (one libcurl multi handle), each with the connect and total timeouts, and
 * returns when all are done. Returns JT_OK unless the batch itself could not be set up; each request's
 * own result is in its rc. A report's queries are independent: in parallel they cost the slowest one,
 * not the sum. */
enum jt_err http_get_all(struct http_request *reqs, size_t n, double connect_s, double total_s);

#endif
