/* error.h - the project's one error enum and its messages.
 *
 * Every function that can fail returns one of these codes (0 = success). New codes are appended and
 * never reused or renumbered, because they surface in logs and in the `jobtel_*_errors` metrics.
 */
#ifndef JOBTEL_ERROR_H
#define JOBTEL_ERROR_H

enum jt_err {
    JT_OK = 0,
    JT_ERR_NOMEM = 1,       /* allocation failed */
    JT_ERR_IO = 2,          /* a read/write/open failed; errno-level detail is logged by the caller */
    JT_ERR_PARSE = 3,       /* input did not match the expected format */
    JT_ERR_RANGE = 4,       /* a number overflowed or was out of the accepted range */
    JT_ERR_NOT_FOUND = 5,   /* a file, GPU, job or key does not exist */
    JT_ERR_UNSUPPORTED = 6, /* the hardware or library cannot provide this */
    JT_ERR_LIBRARY = 7,     /* a vendor library could not be loaded or a required symbol is missing */
    JT_ERR_TIMEOUT = 8,     /* an operation did not finish in time */
    JT_ERR_GPU_LOST = 9,    /* the GPU fell off the bus */
    JT_ERR_USAGE = 10,      /* bad command line or configuration */
    JT_ERR_LIMIT = 11,      /* a hard size cap was reached */
    JT_ERR_PERMISSION = 12, /* the caller lacks the privilege */
    JT_ERR_UNSAFE = 13,     /* refused: a symlink, wrong owner or other unsafe filesystem state */
    JT_ERR_INTERNAL = 14,   /* a bug: an invariant did not hold */
    JT_ERR_NOSPACE = 15,    /* the filesystem is full or the quota is used up (ENOSPC, EDQUOT) */
    JT_ERR_NOT_REGULAR = 16, /* refused: a FIFO, device, socket or directory where a regular file belongs */
};

/* Returns a static, human-readable message for `err`. */
const char *jt_strerror(enum jt_err err);

#endif
