/* error.c - messages for the project's error codes.
 *
 * A switch with no default: adding a code to the enum without a message is a compiler warning,
 * and warnings are errors in CI.
 */
#include "common/error.h"

const char *jt_strerror(enum jt_err err)
{
    switch (err) {
    case JT_OK: return "success";
    case JT_ERR_NOMEM: return "out of memory";
    case JT_ERR_IO: return "input/output error";
    case JT_ERR_PARSE: return "malformed input";
    case JT_ERR_RANGE: return "number out of range";
    case JT_ERR_NOT_FOUND: return "not found";
    case JT_ERR_UNSUPPORTED: return "not supported";
    case JT_ERR_LIBRARY: return "library not loadable";
    case JT_ERR_TIMEOUT: return "timed out";
    case JT_ERR_GPU_LOST: return "GPU lost";
    case JT_ERR_USAGE: return "invalid usage";
    case JT_ERR_LIMIT: return "size limit reached";
    case JT_ERR_PERMISSION: return "permission denied";
    case JT_ERR_UNSAFE: return "unsafe filesystem state";
    case JT_ERR_INTERNAL: return "internal error";
    case JT_ERR_NOSPACE: return "no space left on device";
    case JT_ERR_NOT_REGULAR: return "not a regular file (FIFO, device, socket or directory)";
    }
    return "unknown error";
}
