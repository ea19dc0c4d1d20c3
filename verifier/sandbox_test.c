/* sandbox: user verifier commands under a deadline and rlimits. A well-behaved command's numbers
 * come back in order; one that hangs is killed at the deadline (with what it left running), one
 * that exits non-zero, prints garbage, too few lines or too much output, ignores its input, or
 * tries to allocate beyond the memory limit scores 0 — each counted, none an error. */
#include "core/err.h"
#include "core/log.h"
#include "core/testutil.h"
#include "verifier/sandbox.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char k_input[] = "{\"answer\":\"7\"}\n{\"answer\":\"8\"}\n{\"answer\":null}\n";

/* Runs CMD on INPUT; OUT is set to 9s first, so a score of 0 is the sandbox's, not a leftover. */
static double run(const char *cmd, int deadline_ms, double *out, aha_sandbox_stats_t *st,
                  const char *input, size_t len) {
    aha_sandbox_config_t c;
    aha_sandbox_config_default(&c);
    c.command = cmd;
    c.deadline_ms = deadline_ms;
    c.memory_bytes = (size_t)256 << 20;
    out[0] = out[1] = out[2] = 9;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = aha_sandbox_run(&c, input, len, 3, out, st);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK(rc == 0, "'%s': rc %d (%s)", cmd, rc, aha_last_error());
    return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) * 1e-6;
}

static int zeros(const double *v) {
    return v[0] == 0 && v[1] == 0 && v[2] == 0;
}

static void print_stats(const aha_sandbox_stats_t *st) {
    printf("[sandbox] %llu calls: %llu ok, %llu timeouts, %llu failed, %llu bad output\n",
           (unsigned long long)st->calls, (unsigned long long)st->ok,
           (unsigned long long)st->timeouts, (unsigned long long)st->failed_exit,
           (unsigned long long)st->bad_output);
}

static void test_judge(void) {
    aha_sandbox_stats_t st;
    memset(&st, 0, sizeof st);
    double out[3];
    const size_t len = strlen(k_input);
    /* a real judge: reads each line, 1 if the answer is "7" */
    run("while read -r l; do case \"$l\" in *'\"answer\":\"7\"'*) echo 1;; *) echo 0;; esac; done",
        5000, out, &st, k_input, len);
    CHECK(out[0] == 1 && out[1] == 0 && out[2] == 0 && st.ok == 1, "judge: %g %g %g", out[0],
          out[1], out[2]);
    run("cat >/dev/null; printf '0.5\\n1\\n0.25\\n'", 5000, out, &st, k_input, len);
    CHECK(out[0] == 0.5 && out[1] == 1 && out[2] == 0.25, "fractions: %g %g %g", out[0], out[1],
          out[2]);
    print_stats(&st);
}

static void test_hang(void) {
    aha_sandbox_stats_t st;
    memset(&st, 0, sizeof st);
    double out[3];
    /* hangs, with a child of its own: killed at the deadline */
    double ms = run("sleep 37 & sleep 37", 300, out, &st, k_input, strlen(k_input));
    CHECK(zeros(out) && st.timeouts == 1 && ms < 3000, "hang: %.0f ms, timeouts %llu", ms,
          (unsigned long long)st.timeouts);
    CHECK(system("pgrep -f '^sleep 37$' > /dev/null") != 0, "nothing left running");
    print_stats(&st);
}

static void test_bad_output(void) {
    aha_sandbox_stats_t st;
    memset(&st, 0, sizeof st);
    double out[3];
    const size_t len = strlen(k_input);
    /* exits non-zero, garbage, too few lines, a number out of range, too much output */
    run("cat >/dev/null; echo 1; echo 1; echo 1; exit 3", 5000, out, &st, k_input, len);
    CHECK(zeros(out) && st.failed_exit == 1, "non-zero exit");
    run("cat >/dev/null; echo yes", 5000, out, &st, k_input, len);
    CHECK(zeros(out), "garbage");
    run("cat >/dev/null; echo 1; echo 1", 5000, out, &st, k_input, len);
    CHECK(zeros(out), "too few lines");
    run("cat >/dev/null; echo 1; echo 2; echo 1", 5000, out, &st, k_input, len);
    CHECK(zeros(out), "out of [0, 1]");
    double ms = run("yes 1", 5000, out, &st, k_input, len);
    CHECK(zeros(out) && ms < 3000, "endless output stops at the cap (%.0f ms)", ms);
    CHECK(st.bad_output == 4, "bad outputs counted: %llu", (unsigned long long)st.bad_output);
    print_stats(&st);
}

static void test_memory_limit(void) {
    aha_sandbox_stats_t st;
    memset(&st, 0, sizeof st);
    double out[3];
    /* memory beyond the limit (256 MiB): the allocation fails, the command fails */
    run("awk 'BEGIN { s = sprintf(\"%400000000s\", \"\"); print 1; print 1; print 1 }'", 10000, out,
        &st, k_input, strlen(k_input));
    CHECK(zeros(out), "memory limit");
}

static void test_unread_input(void) {
    aha_sandbox_stats_t st;
    memset(&st, 0, sizeof st);
    double out[3];
    /* ignores a 1 MB input it never reads: no deadlock */
    size_t big = 1 << 20;
    char *in = malloc(big);
    REQUIRE(in, "malloc");
    memset(in, 'x', big);
    double ms = run("printf '1\\n1\\n1\\n'", 5000, out, &st, in, big);
    CHECK(out[0] == 1 && out[2] == 1 && ms < 3000, "unread input: %.0f ms", ms);
    free(in);
}

static void test_no_command(void) {
    aha_sandbox_stats_t st;
    memset(&st, 0, sizeof st);
    double out[3];
    aha_sandbox_config_t c;
    aha_sandbox_config_default(&c);
    CHECK(aha_sandbox_run(&c, k_input, strlen(k_input), 3, out, &st) == AHA_ERR_ARG, "no command");
}

static const tu_case_t cases[] = {
    {"judge", test_judge},
    {"hang", test_hang},
    {"bad_output", test_bad_output},
    {"memory_limit", test_memory_limit},
    {"unread_input", test_unread_input},
    {"no_command", test_no_command},
};

TU_MAIN(cases)
