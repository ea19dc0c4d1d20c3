/* core/testutil.h — minimal checks for the core unit tests (header-only).
 *   CHECK(cond, fmt, ...)  records a failure with file:line and a message, keeps going.
 *   TEST_DONE()            prints the summary; use as `return TEST_DONE();` in main. */
#ifndef AHA_CORE_TESTUTIL_H
#define AHA_CORE_TESTUTIL_H
#include <stdio.h>

static int tu_failures = 0, tu_checks = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        tu_checks++;                                                                               \
        if (!(cond)) {                                                                             \
            tu_failures++;                                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define TEST_DONE()                                                                                \
    (fprintf(stderr, "%s: %d checks, %d failed\n", __FILE__, tu_checks, tu_failures),              \
     tu_failures ? 1 : 0)

#endif
