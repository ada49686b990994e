/* js1.h - job summaries as stored in a job's AdminComment: "JS1:" + base64(gzip(compact JSON)).
 *
 * Princeton's format is kept exactly so reportseff and Job Defense Shield read what we write. Slurm
 * 22.05's sacctmgr lowercases the value it stores, which destroys base64, so there is a second,
 * case-proof spelling: "js1b32:" + lowercase RFC 4648 base32 (no padding) of the same gzip bytes. We
 * write JS1 where the store round-trips and js1b32 where it does not (see docs/jobstats.md); both are
 * read. Decoding is bounded: at most JS1_JSON_MAX bytes of JSON come out of any input.
 */
#ifndef JOBTEL_JS1_H
#define JOBTEL_JS1_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/error.h"

#define JS1_JSON_MAX (4u << 20)

enum js1_kind {
    JS1_NONE_STORED = 0, /* not a summary at all (empty or someone else's comment) */
    JS1_SHORT,           /* "JS1:Short": the job ran too briefly to have data */
    JS1_NODATA,          /* "JS1:None": Prometheus had nothing */
    JS1_DATA,            /* a decoded summary */
};

enum js1_encoding { JS1_ENC_BASE64, JS1_ENC_BASE32 };

/* Appends base64 (std alphabet, padded) / lowercase base32 (no padding) of [p, p+n). */
enum jt_err js1_base64_encode(const unsigned char *p, size_t n, struct buf *out);
enum jt_err js1_base32_encode(const unsigned char *p, size_t n, struct buf *out);
/* Decode into out; white space is skipped; base32 is case-insensitive. JT_ERR_PARSE on bad input. */
enum jt_err js1_base64_decode(const char *s, size_t n, struct buf *out);
enum jt_err js1_base32_decode(const char *s, size_t n, struct buf *out);

/* gzip (RFC 1952, mtime 0) and gunzip with an output cap. */
enum jt_err js1_gzip(const void *p, size_t n, struct buf *out);
enum jt_err js1_gunzip(const void *p, size_t n, size_t max, struct buf *out);

/* The payload alone, as `jobstats -b` prints it: base64 or base32 of gzip of compact JSON. */
enum jt_err js1_encode(const json_t *summary, enum js1_encoding enc, struct buf *out);

/* The full AdminComment value: "JS1:<base64>" or "js1b32:<base32>". */
enum jt_err js1_encode_comment(const json_t *summary, enum js1_encoding enc, struct buf *out);

/* Reads an AdminComment. On JS1_DATA *summary is a new reference the caller owns (json_decref).
 * A comment that is not a summary gives JS1_NONE_STORED and JT_OK; a corrupt one JT_ERR_PARSE. */
enum jt_err js1_decode_comment(const char *comment, enum js1_kind *kind, json_t **summary);

#endif
