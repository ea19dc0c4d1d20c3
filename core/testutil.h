/* core/testutil.h — minimal checks for the core unit tests (header-only).
 *   CHECK(cond, fmt, ...)  records a failure with file:line and a message, keeps going.
 *   TEST_DONE()            prints the summary; use as `return TEST_DONE();` in main. */
#ifndef AHA_CORE_TESTUTIL_H
#define AHA_CORE_TESTUTIL_H
#include <stddef.h>
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

/* max|a - b| / max|b| over n floats (relative error of a against the reference b). */
static inline double tu_max_rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        if (d < 0) d = -d;
        double r = b[i] < 0 ? -(double)b[i] : (double)b[i];
        if (d > num) num = d;
        if (r > den) den = r;
    }
    return num / den;
}

#define TEST_DONE()                                                                                \
    (fprintf(stderr, "%s: %d checks, %d failed\n", __FILE__, tu_checks, tu_failures),              \
     tu_failures ? 1 : 0)

#endif
