#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_level = -1;
static char g_role[64] = "aha";

void aha_log_set_level(aha_log_level_t level) {
    g_level = (int)level;
}
void aha_log_set_role(const char *role) {
    snprintf(g_role, sizeof g_role, "%s", role ? role : "aha");
}

static int current_level(void) {
    if (g_level < 0) {
        const char *e = getenv("AHA_LOG");
        g_level = AHA_LOG_INFO;
        if (e) {
            if (!strcmp(e, "debug"))
                g_level = AHA_LOG_DEBUG;
            else if (!strcmp(e, "warn"))
                g_level = AHA_LOG_WARN;
            else if (!strcmp(e, "error"))
                g_level = AHA_LOG_ERROR;
        }
    }
    return g_level;
}

void aha_log(aha_log_level_t level, const char *fmt, ...) {
    if ((int)level < current_level()) return;
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    char msg[2048], ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s [%s] %s\n", ts, names[level & 3], g_role, msg);
}

int aha_log_nth(uint64_t n) {
    return n >= 1 && (n <= AHA_LOG_FIRST || n % AHA_LOG_EVERY == 0);
}
