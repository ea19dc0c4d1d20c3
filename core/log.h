/* core/log.h — leveled logging to stderr: "2026-11-25T05:00:00Z INFO  [role] message".
 * Thread-safe (one fprintf per line). Level from aha_log_set_level() or env
 * AHA_LOG=debug|info|warn|error. */
#ifndef AHA_CORE_LOG_H
#define AHA_CORE_LOG_H
#include <stdint.h>

typedef enum {
    AHA_LOG_DEBUG = 0,
    AHA_LOG_INFO = 1,
    AHA_LOG_WARN = 2,
    AHA_LOG_ERROR = 3
} aha_log_level_t;

void aha_log_set_level(aha_log_level_t level);
/* Tag shown in brackets on every line of this process (e.g. "learner0"); copied. */
void aha_log_set_role(const char *role);
void aha_log(aha_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The log limit of a repeated warning (a dropped message, a refused peer): whether its Nth
 * occurrence (N counted from 1, one count per kind) is logged — the first AHA_LOG_FIRST, then
 * every AHA_LOG_EVERY-th, so a flood of one kind neither fills the log nor hides another kind. */
#define AHA_LOG_FIRST 10
#define AHA_LOG_EVERY 1000
int aha_log_nth(uint64_t n);

#define AHA_DEBUG(...) aha_log(AHA_LOG_DEBUG, __VA_ARGS__)
#define AHA_INFO(...) aha_log(AHA_LOG_INFO, __VA_ARGS__)
#define AHA_WARN(...) aha_log(AHA_LOG_WARN, __VA_ARGS__)
#define AHA_ERROR(...) aha_log(AHA_LOG_ERROR, __VA_ARGS__)

#endif
