/* core/err.h — error codes, last-error message, checked-call macro.
 *
 * Contract (nng style): functions return 0 (AHA_OK) or a negative aha_err_t; out-params are written
 * only on success. The failing site records a human-readable message with aha_errorf(); callers
 * propagate with AHA_TRY(), which appends "file:line: call" to a per-thread trace so main() can
 * print where things went wrong. Library code never calls exit(). */
#ifndef AHA_CORE_ERR_H
#define AHA_CORE_ERR_H

typedef enum {
    AHA_OK = 0,
    AHA_ERR_NOMEM = -1,    /* allocation failed */
    AHA_ERR_IO = -2,       /* open/read/write failed */
    AHA_ERR_FORMAT = -3,   /* malformed file or message */
    AHA_ERR_ARG = -4,      /* bad argument from the caller */
    AHA_ERR_CONFIG = -5,   /* bad configuration value or key */
    AHA_ERR_RANGE = -6,    /* index / size out of range */
    AHA_ERR_STATE = -7,    /* call not valid in the current state */
    AHA_ERR_NET = -8,      /* network failure */
    AHA_ERR_TIMEOUT = -9,  /* deadline passed */
    AHA_ERR_NOTFOUND = -10 /* named thing does not exist */
} aha_err_t;

/* Static name of an error code ("out of memory", ...). Never NULL. */
const char *aha_strerror(int err);

/* Records a formatted message for the current thread (replaces the previous one) and returns err,
 * so sites can write `return aha_errorf(AHA_ERR_IO, __FILE__, __LINE__, "open %s", p);` — use the
 * AHA_FAIL macro instead of spelling file/line. */
int aha_errorf(int err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Message recorded by the last aha_errorf() on this thread, with the AHA_TRY trace appended;
 * "" if none. The pointer stays valid until the next aha_errorf()/aha_error_clear() on this thread.
 */
const char *aha_last_error(void);
void aha_error_clear(void);

/* Appends "\n  at file:line: expr" to the current thread's trace (used by AHA_TRY). */
void aha_error_trace(const char *file, int line, const char *expr);

#define AHA_FAIL(err, ...) aha_errorf((err), __FILE__, __LINE__, __VA_ARGS__)

/* Evaluates call (an int-returning expression); if negative, records file:line and returns it. */
#define AHA_TRY(call)                                                                              \
    do {                                                                                           \
        int aha_try_rc_ = (call);                                                                  \
        if (aha_try_rc_ < 0) {                                                                     \
            aha_error_trace(__FILE__, __LINE__, #call);                                            \
            return aha_try_rc_;                                                                    \
        }                                                                                          \
    } while (0)

/* Same, but jumps to a cleanup label with rc set: `AHA_TRY_GOTO(rc, f(), done);` */
#define AHA_TRY_GOTO(rc, call, label)                                                              \
    do {                                                                                           \
        (rc) = (call);                                                                             \
        if ((rc) < 0) {                                                                            \
            aha_error_trace(__FILE__, __LINE__, #call);                                            \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

#endif
