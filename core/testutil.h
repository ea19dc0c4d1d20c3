/* core/testutil.h — the unit-test harness (header only), after nng's nuts.h and acutest.
 *
 * A test file is a table of named cases, each a void function:
 *
 *     static void test_parse(void) { CHECK(n == 3, "n is %d", n); ... }
 *     static const tu_case_t cases[] = {{"parse", test_parse}, ...};
 *     TU_MAIN(cases)
 *
 * (a file that needs set-up before its cases writes its own main() and calls tu_main_n, or
 * tu_main with a table that ends in {NULL, NULL}).
 *
 *   ./build/<test>          runs every case, in table order
 *   ./build/<test> a b      runs only the cases named a and b (an unknown name is an error)
 *   ./build/<test> --list   prints the case names, one a line
 * Each case prints one line (ok / FAIL, checks, time); the run ends with the summary
 * "<file>: N checks, M failed" and exits 1 when a check failed, 2 on a usage error.
 * A case that makes no check at all counts as failed: a test must be able to fail.
 *
 *   CHECK(cond, fmt, ...)    records a failure with file:line and a message, keeps going.
 *   REQUIRE(cond, fmt, ...)  records a failure and ends the current case: it jumps back to the
 *                            runner (from any depth), so the next case runs; what the case had
 *                            allocated is leaked, which only happens on a failure. In a forked
 *                            child it ends the child with status 1 instead.
 *   REQUIRE_OK(call)         REQUIRE that an aha_* call returns >= 0; prints the error trace.
 *   tu_max_rel_err / tu_max_abs_diff  compare float arrays.
 *   tu_wait_child(pid, ms)   reaps a forked test peer, killing it if it hangs.
 *   tu_tmp_dir()             a scratch directory, removed when the run ends.
 * With model/model.h included before this header, also tu_tiny_config and tu_init (small model
 * fixtures for the exact model tests), tu_init_model, tu_small_config and tu_random_model. */
#ifndef AHA_CORE_TESTUTIL_H
#define AHA_CORE_TESTUTIL_H
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

typedef struct {
    const char *name;
    void (*fn)(void);
} tu_case_t;

static int tu_failures = 0, tu_checks = 0;
static int tu_in_case = 0; /* a case is running: REQUIRE may jump back */
static pid_t tu_pid = 0;   /* the runner's process; REQUIRE in a forked child exits instead */
static jmp_buf tu_case_jmp;

static inline void tu_fail_(const char *file, int line, const char *cond) {
    tu_failures++;
    fprintf(stderr, "FAIL %s:%d: %s: ", file, line, cond);
}

/* Ends the current case after a failed REQUIRE. */
static inline void tu_abort_case_(void) {
    fputs("  (case ended by the failed REQUIRE)\n", stderr);
    if (tu_pid && getpid() != tu_pid) _exit(1);
    if (tu_in_case) longjmp(tu_case_jmp, 1);
    _exit(1); /* outside a case (set-up in main): nothing sensible to continue with */
}

/* CHECK and REQUIRE: count the check; on failure record it, print the message, then ON_FAIL. */
#define TU_CHECK_(cond, text, on_fail, ...)                                                        \
    do {                                                                                           \
        tu_checks++;                                                                               \
        if (!(cond)) {                                                                             \
            tu_fail_(__FILE__, __LINE__, text);                                                    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            on_fail;                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK(cond, ...) TU_CHECK_(cond, #cond, (void)0, __VA_ARGS__)
#define REQUIRE(cond, ...) TU_CHECK_(cond, #cond, tu_abort_case_(), __VA_ARGS__)

#define REQUIRE_OK(call)                                                                           \
    do {                                                                                           \
        tu_checks++;                                                                               \
        int tu_rc_ = (call);                                                                       \
        if (tu_rc_ < 0) {                                                                          \
            tu_fail_(__FILE__, __LINE__, #call);                                                   \
            fprintf(stderr, "%s\n%s\n", aha_strerror(tu_rc_), aha_last_error());                   \
            tu_abort_case_();                                                                      \
        }                                                                                          \
    } while (0)

static inline double tu_now_ms_(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline const tu_case_t *tu_find_(const tu_case_t *cases, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(cases[i].name, name)) return &cases[i];
    return NULL;
}

static inline void tu_run_case_(const tu_case_t *c) {
    const int checks0 = tu_checks, failures0 = tu_failures;
    const double t0 = tu_now_ms_();
    fflush(NULL);
    tu_in_case = 1;
    if (setjmp(tu_case_jmp) == 0) c->fn();
    tu_in_case = 0;
    fflush(stdout);
    const int checks = tu_checks - checks0, failed = tu_failures - failures0;
    if (checks == 0) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: the case made no check\n", c->name);
    }
    fprintf(stderr, "%-4s %s (%d checks, %d failed, %.0f ms)\n", failed || !checks ? "FAIL" : "ok",
            c->name, checks, failed, tu_now_ms_() - t0);
}

/* rm -rf DIR (DIR quoted for the shell; it must not hold a single quote). 0 when it worked. */
static inline int tu_rm_rf(const char *dir) {
    char cmd[1200];
    int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (n < 0 || (size_t)n >= sizeof cmd || strchr(dir, '\'')) return -1;
    return system(cmd) == 0 ? 0 : -1;
}

static char tu_tmp_[256];

/* A scratch directory for the test run, made on first use and removed, with what is in it, when
 * tu_main_n ends; "" if it could not be made. */
static inline const char *tu_tmp_dir(void) {
    if (!tu_tmp_[0]) {
        snprintf(tu_tmp_, sizeof tu_tmp_, "/tmp/aha_test.XXXXXX");
        if (!mkdtemp(tu_tmp_)) tu_tmp_[0] = 0;
    }
    return tu_tmp_;
}

/* Runs the N cases named on the command line (all of them without a name); see the top. */
static inline int tu_main_n(int argc, char **argv, const tu_case_t *cases, size_t n,
                            const char *file) {
    tu_pid = getpid();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list")) {
            for (size_t k = 0; k < n; k++)
                printf("%s\n", cases[k].name);
            return 0;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !tu_find_(cases, n, argv[i])) {
            if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h"))
                fprintf(stderr, "%s: no case named '%s'\n", argv[0], argv[i]);
            fprintf(stderr, "usage: %s [--list] [case...]\ncases:", argv[0]);
            for (size_t k = 0; k < n; k++)
                fprintf(stderr, " %s", cases[k].name);
            fputc('\n', stderr);
            return 2;
        }
    }
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            tu_run_case_(tu_find_(cases, n, argv[i]));
    else
        for (size_t k = 0; k < n; k++)
            tu_run_case_(&cases[k]);
    fprintf(stderr, "%s: %d checks, %d failed\n", file, tu_checks, tu_failures);
    if (tu_tmp_[0] && tu_rm_rf(tu_tmp_) != 0) fprintf(stderr, "could not remove %s\n", tu_tmp_);
    return tu_failures ? 1 : 0;
}

/* tu_main_n over a table that ends in {NULL, NULL}. */
static inline int tu_main(int argc, char **argv, const tu_case_t *cases, const char *file) {
    size_t n = 0;
    while (cases[n].name)
        n++;
    return tu_main_n(argc, argv, cases, n, file);
}

/* The main() of a test file whose table CASES needs no set-up: names the log lines after the
 * file (core/blob_test.c logs as [blob_test]) and runs the cases. */
#define TU_MAIN(cases)                                                                             \
    int main(int argc, char **argv) {                                                              \
        tu_log_role_(__FILE__);                                                                    \
        return tu_main_n(argc, argv, cases, sizeof(cases) / sizeof((cases)[0]), __FILE__);         \
    }

/* Log lines of the test in FILE say [<file name without folder and .c>]. */
static inline void tu_log_role_(const char *file) {
    const char *base = strrchr(file, '/');
    char role[64];
    snprintf(role, sizeof role, "%s", base ? base + 1 : file);
    char *dot = strrchr(role, '.');
    if (dot) *dot = '\0';
    aha_log_set_role(role);
}

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

/* max|a - b| over n floats; infinite when any difference is NaN. */
static inline double tu_max_abs_diff(const float *a, const float *b, size_t n) {
    double mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > mx || isnan(d)) mx = isnan(d) ? INFINITY : d;
    }
    return mx;
}

/* The reference log softmax(z / temp)[tok] over V logits, in double (temp <= 0 means 1). */
static inline double tu_log_softmax_at(const float *z, int V, double temp, int tok) {
    const double s = temp > 0 ? temp : 1.0;
    double mx = -INFINITY, sum = 0.0;
    for (int v = 0; v < V; v++)
        mx = fmax(mx, z[v] / s);
    for (int v = 0; v < V; v++)
        sum += exp(z[v] / s - mx);
    return z[tok] / s - mx - log(sum);
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

#ifdef AHA_MODEL_MODEL_H
#include "core/rng.h"

/* A tiny MoE config (D=16, 2 heads, 4 experts, top-2) for fast exact tests. */
static inline void tu_tiny_config(aha_model_config_t *c) {
    aha_model_config_default(c);
    c->vocab_size = 11;
    c->dim = 16;
    c->n_layers = 2;
    c->n_heads = 2;
    c->max_seq_len = 16;
    c->ffn_hidden = 12;
    c->n_dense_layers = 0;
    c->n_routed_experts = 4;
    c->n_shared_experts = 1;
    c->top_k = 2;
    c->moe_hidden = 6;
    c->seq_aux_alpha = 0.1f;
}

/* Random parameters with a larger spread than the training init (so routing, attention and
 * norms all matter): matrices N(0, std), norm weights 1 + N(0, 0.1), expert bias N(0, bias_std). */
static inline void tu_init(aha_model_t *m, aha_rng_t *rng, float std, float bias_std) {
    size_t nt = aha_model_tensor_count(&m->cfg);
    for (size_t i = 0; i < nt; i++) {
        aha_tensor_info_t ti;
        if (aha_model_tensor_info(&m->cfg, i, &ti) < 0) return;
        float *p = m->params + ti.offset;
        for (size_t j = 0; j < ti.numel; j++)
            p[j] = ti.ndim == 1 ? 1.0f + 0.1f * aha_rng_normal(rng) : std * aha_rng_normal(rng);
    }
    size_t nb = (size_t)m->cfg.n_layers * m->cfg.n_routed_experts;
    for (size_t i = 0; i < nb; i++)
        m->expert_bias[i] = bias_std * aha_rng_normal(rng);
}

/* A new model of config C (the failed REQUIRE ends the case if C is invalid). */
static inline aha_model_t *tu_new_model_(const aha_model_config_t *c) {
    aha_model_t *m = NULL;
    REQUIRE_OK(aha_model_new(c, &m));
    return m;
}

/* A model of config C with tu_init parameters: seeds RNG from SEED, then draws them (the test goes
 * on drawing from RNG); the failed REQUIRE ends the case if C is invalid. */
static inline aha_model_t *tu_init_model(const aha_model_config_t *c, aha_rng_t *rng, uint64_t seed,
                                         float std, float bias_std) {
    aha_model_t *m = tu_new_model_(c);
    aha_rng_seed(rng, seed);
    tu_init(m, rng, std, bias_std);
    return m;
}

/* A small mixed model for the actor tests: dim 32, 4 heads, 3 layers (1 dense, 2 MoE), dense and
 * expert hidden sizes 32 and 16, max_seq_len 48; the rest is the default. */
static inline void tu_small_config(aha_model_config_t *c) {
    aha_model_config_default(c);
    c->dim = 32;
    c->n_heads = 4;
    c->n_layers = 3;
    c->n_dense_layers = 1;
    c->ffn_hidden = 32;
    c->moe_hidden = 16;
    c->max_seq_len = 48;
}

/* A model of config C with the training init (aha_model_init_random) from SEED; the failed
 * REQUIRE ends the case if C is invalid. */
static inline aha_model_t *tu_random_model(const aha_model_config_t *c, uint64_t seed) {
    aha_model_t *m = tu_new_model_(c);
    aha_rng_t rng;
    aha_rng_seed(&rng, seed);
    aha_model_init_random(m, &rng);
    return m;
}
#endif

#endif
