/* tasks/countdown_testutil.h — a test helper shared by the countdown task and reward tests
 * (header only): tu_cd_parse_prompt. */
#ifndef AHA_TASKS_COUNTDOWN_TESTUTIL_H
#define AHA_TASKS_COUNTDOWN_TESTUTIL_H
#include <stdlib.h>
#include <string.h>

/* Reads "<|User|>N N N -> T<|Assistant|>" of a prompt or document into NUMBERS (at most MAX), *N
 * and *TARGET. Returns 0, or -1 if DOC is not of that form. */
static inline int tu_cd_parse_prompt(const char *doc, int *numbers, int max, int *n,
                                     long long *target) {
    const char *s = strstr(doc, "<|User|>");
    if (!s) return -1;
    s += 8;
    *n = 0;
    for (;;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || *n == max) return -1;
        numbers[(*n)++] = (int)v;
        if (!strncmp(end, " -> ", 4)) {
            s = end + 4;
            break;
        }
        if (*end != ' ') return -1;
        s = end + 1;
    }
    char *end;
    *target = strtoll(s, &end, 10);
    return end != s && !strncmp(end, "<|Assistant|>", 13) ? 0 : -1;
}

#endif
