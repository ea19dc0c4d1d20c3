#include "err.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[4096];

const char *aha_strerror(int err) {
    switch (err) {
    case AHA_OK:
        return "ok";
    case AHA_ERR_NOMEM:
        return "out of memory";
    case AHA_ERR_IO:
        return "I/O error";
    case AHA_ERR_FORMAT:
        return "bad format";
    case AHA_ERR_ARG:
        return "bad argument";
    case AHA_ERR_CONFIG:
        return "bad configuration";
    case AHA_ERR_RANGE:
        return "out of range";
    case AHA_ERR_STATE:
        return "invalid state";
    case AHA_ERR_NET:
        return "network error";
    case AHA_ERR_TIMEOUT:
        return "timed out";
    case AHA_ERR_NOTFOUND:
        return "not found";
    default:
        return "unknown error";
    }
}

int aha_errorf(int err, const char *file, int line, const char *fmt, ...) {
    /* Format into a local buffer first: the arguments may point into g_msg (e.g. wrapping the
     * previous message with aha_last_error()), and vsnprintf must not overlap its input. */
    char msg[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = strlen(msg);
    if (n + 1 < sizeof msg) snprintf(msg + n, sizeof msg - n, "\n  at %s:%d", file, line);
    memcpy(g_msg, msg, sizeof g_msg);
    return err;
}

void aha_error_trace(const char *file, int line, const char *expr) {
    size_t n = strlen(g_msg);
    if (n + 1 < sizeof g_msg)
        snprintf(g_msg + n, sizeof g_msg - n, "\n  at %s:%d: %s", file, line, expr);
}

const char *aha_last_error(void) {
    return g_msg;
}
void aha_error_clear(void) {
    g_msg[0] = 0;
}
