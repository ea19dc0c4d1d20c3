/* core/testutil.h — minimal checks for the core unit tests (header-only).
 *   CHECK(cond, fmt, ...)  records a failure with file:line and a message, keeps going.
 *   TEST_DONE()            prints the summary; use as `return TEST_DONE();` in main.
 *   tu_wait_child(pid, ms) reaps a forked test peer, killing it if it hangs. */
#ifndef AHA_CORE_TESTUTIL_H
#define AHA_CORE_TESTUTIL_H
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Waits up to TIMEOUT_MS for child PID (a test's forked peer), SIGKILLs it after that so a hung
 * child cannot hang the test. Returns the wait status, or -1 if it had to be killed / failed. */
static inline int tu_wait_child(pid_t pid, int timeout_ms) {
    int status = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        usleep(10 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

#define TEST_DONE()                                                                                \
    (fprintf(stderr, "%s: %d checks, %d failed\n", __FILE__, tu_checks, tu_failures),              \
     tu_failures ? 1 : 0)

#endif
