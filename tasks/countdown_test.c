/* countdown: deterministic problems, sizes and ranges, disjoint splits, traces that re-compute
 * correctly (checked by an independent parser here, not by the verifier — the verifier test
 * `countdown_reward` checks that solutions score 1), solutions that use each given number once,
 * exact prompt/response formats, capacity and config errors, and the corpus (mistakes are
 * consistent traces that miss the target, malformed documents, tokenization). */
#include "core/err.h"
#include "core/testutil.h"
#include "model/tokenizer.h"
#include "tasks/addition.h"
#include "tasks/countdown.h"
#include "tasks/countdown_testutil.h"
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* Re-runs a trace "A op B=V;..." over the multiset numbers[0..n): every operand must be an
 * available value (used up), V must be the exact result (positive integer), V joins the pool.
 * Returns the number of steps and the last value, or -1 if inconsistent. */
static int trace_run(const char *t, const int *numbers, int n, long long *last) {
    long long pool[16];
    int m = n, steps = 0;
    for (int i = 0; i < n; i++)
        pool[i] = numbers[i];
    while (*t) {
        char *end;
        long long a = strtoll(t, &end, 10);
        if (end == t || !strchr("+-*/", *end)) return -1;
        char op = *end;
        t = end + 1;
        long long b = strtoll(t, &end, 10);
        if (end == t || *end != '=') return -1;
        t = end + 1;
        long long v = strtoll(t, &end, 10);
        if (end == t || *end != ';') return -1;
        t = end + 1;
        long long want = op == '+'   ? a + b
                         : op == '-' ? a - b
                         : op == '*' ? a * b
                                     : (b ? a / b : -1);
        if (op == '/' && (b == 0 || a % b)) return -1;
        if (v != want || v <= 0) return -1;
        for (int k = 0; k < 2; k++) { /* remove a, then b, from the pool */
            long long x = k ? b : a;
            int i = 0;
            while (i < m && pool[i] != x)
                i++;
            if (i == m) return -1;
            pool[i] = pool[--m];
        }
        pool[m++] = v;
        *last = v;
        steps++;
    }
    return m == 1 ? steps : -1;
}

/* 1 if the number literals of EXPR are exactly the multiset numbers[0..n). */
static int uses_all_once(const char *expr, const int *numbers, int n) {
    int lit[32], k = 0, want[16];
    for (const char *s = expr; *s;) {
        if (*s >= '0' && *s <= '9') {
            char *end;
            long v = strtol(s, &end, 10);
            if (k == 32) return 0;
            lit[k++] = (int)v;
            s = end;
        } else {
            if (!strchr("+-*/() ", *s)) return 0;
            s++;
        }
    }
    if (k != n) return 0;
    memcpy(want, numbers, sizeof(int) * (size_t)n);
    qsort(lit, (size_t)k, sizeof(int), cmp_int);
    qsort(want, (size_t)n, sizeof(int), cmp_int);
    return !memcmp(lit, want, sizeof(int) * (size_t)n);
}

typedef struct {
    int n, numbers[AHA_CD_MAX_NUMBERS];
    long long target;
} key_t_;

static int cmp_key(const void *x, const void *y) {
    return memcmp(x, y, sizeof(key_t_));
}

static key_t_ key_of(const aha_cd_problem_t *p) {
    key_t_ k;
    memset(&k, 0, sizeof k);
    k.n = p->n;
    memcpy(k.numbers, p->numbers, sizeof(int) * (size_t)p->n);
    qsort(k.numbers, (size_t)p->n, sizeof(int), cmp_int);
    k.target = p->target;
    return k;
}

static void test_problems(void) {
    aha_cd_config_t c;
    aha_cd_config_default(&c);
    CHECK(c.min_numbers == 3 && c.max_numbers == 4 && c.max_value == 25 && c.test_fraction == 0.1,
          "defaults");
    aha_cd_problem_t p, q;
    int sizes[AHA_CD_MAX_NUMBERS + 1] = {0}, n_bad_trace = 0, n_bad_sol = 0, n_same_seed = 0,
                                   n_ops[4] = {0};
    char buf[512];
    int ids[512], n;
    for (uint64_t i = 0; i < 4000; i++) {
        for (int split = 0; split < 2; split++) {
            CHECK(aha_cd_problem(&c, 7, split, i, &p) == 0, "problem %d/%llu", split,
                  (unsigned long long)i);
            CHECK(aha_cd_problem(&c, 7, split, i, &q) == 0 && !memcmp(&p, &q, sizeof p),
                  "deterministic");
            CHECK(aha_cd_is_test(&c, &p) == split, "split membership");
            CHECK(p.n >= 3 && p.n <= 4, "size %d", p.n);
            sizes[p.n]++;
            int in_range = 1, target_given = 0;
            for (int k = 0; k < p.n; k++) {
                in_range &= p.numbers[k] >= 1 && p.numbers[k] <= 25;
                target_given |= p.numbers[k] == p.target;
            }
            CHECK(in_range, "numbers in 1..25");
            CHECK(!target_given && p.target > 0, "target %lld positive and not given",
                  (long long)p.target);
            long long last = 0;
            n_bad_trace += trace_run(p.trace, p.numbers, p.n, &last) != p.n - 1 || last != p.target;
            n_bad_sol += !uses_all_once(p.solution, p.numbers, p.n);
            for (const char *s = p.solution; *s; s++) {
                const char *o = strchr("+-*/", *s);
                if (o) n_ops[o - "+-*/"]++;
            }
            CHECK(aha_cd_prompt(&p, buf, sizeof buf) == 0 && aha_tok_encode(buf, ids, 512, &n) == 0,
                  "prompt tokenizes");
            int pn, pnum[AHA_CD_MAX_NUMBERS];
            long long pt;
            CHECK(tu_cd_parse_prompt(buf, pnum, AHA_CD_MAX_NUMBERS, &pn, &pt) == 0 && pn == p.n &&
                      pt == p.target && !memcmp(pnum, p.numbers, sizeof(int) * (size_t)pn),
                  "prompt round trip: %s", buf);
            CHECK(aha_cd_response(&p, buf, sizeof buf) == 0 &&
                      aha_tok_encode(buf, ids, 512, &n) == 0,
                  "response tokenizes");
            CHECK(n < 80, "response of %d tokens fits the countdown config's max_new_tokens", n);
        }
        CHECK(aha_cd_problem(&c, 8, AHA_SPLIT_TRAIN, i, &q) == 0, "other seed");
        aha_cd_problem(&c, 7, AHA_SPLIT_TRAIN, i, &p);
        n_same_seed += !memcmp(&p, &q, sizeof p);
    }
    CHECK(n_bad_trace == 0, "%d traces do not re-compute to the target", n_bad_trace);
    CHECK(n_bad_sol == 0, "%d solutions do not use every number exactly once", n_bad_sol);
    CHECK(sizes[3] > 3000 && sizes[4] > 3000, "3 and 4 numbers both drawn (%d, %d)", sizes[3],
          sizes[4]);
    CHECK(n_ops[0] > 1000 && n_ops[1] > 1000 && n_ops[2] > 1000 && n_ops[3] > 300,
          "all operators used (%d %d %d %d)", n_ops[0], n_ops[1], n_ops[2], n_ops[3]);
    CHECK(n_same_seed < 40, "seeds give different problems (%d equal)", n_same_seed);

    /* disjoint splits: no train problem (as a multiset + target) is a test problem */
    enum { NT = 3000, NR = 30000 };
    key_t_ *test = malloc(sizeof *test * NT);
    for (int i = 0; i < NT; i++) {
        aha_cd_problem(&c, 11, AHA_SPLIT_TEST, (uint64_t)i, &p);
        test[i] = key_of(&p);
    }
    qsort(test, NT, sizeof *test, cmp_key);
    int overlap = 0;
    for (int i = 0; i < NR; i++) {
        aha_cd_problem(&c, 11, AHA_SPLIT_TRAIN, (uint64_t)i, &p);
        key_t_ k = key_of(&p);
        overlap += bsearch(&k, test, NT, sizeof *test, cmp_key) != NULL;
    }
    CHECK(overlap == 0, "%d train problems are test problems", overlap);
    free(test);

    /* a wider config: 2..6 numbers up to 100 */
    aha_cd_config_t w = {2, 6, 100, 0.2};
    int bad = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        CHECK(aha_cd_problem(&w, 3, (int)(i & 1), i, &p) == 0, "wide problem");
        long long last = 0;
        bad += trace_run(p.trace, p.numbers, p.n, &last) != p.n - 1 || last != p.target ||
               !uses_all_once(p.solution, p.numbers, p.n) || aha_cd_is_test(&w, &p) != (int)(i & 1);
        CHECK(aha_cd_response(&p, buf, sizeof buf) == 0, "wide response fits");
    }
    CHECK(bad == 0, "%d bad wide problems", bad);
}

static void test_text(void) {
    char buf[512];
    aha_cd_problem_t p = {.n = 3,
                          .numbers = {3, 7, 25},
                          .target = 46,
                          .solution = "3*7+25",
                          .trace = "3*7=21;21+25=46;"};
    CHECK(aha_cd_prompt(&p, buf, sizeof buf) == 0 &&
              !strcmp(buf, "<bos><|User|>3 7 25 -> 46<|Assistant|>"),
          "prompt format: %s", buf);
    CHECK(aha_cd_response(&p, buf, sizeof buf) == 0 &&
              !strcmp(buf, "<think>3*7=21;21+25=46;</think><answer>3*7+25</answer><eos>"),
          "response format: %s", buf);
    /* capacity: exact fit works, one byte less fails and leaves buf untouched */
    size_t need = strlen("<bos><|User|>3 7 25 -> 46<|Assistant|>") + 1;
    CHECK(aha_cd_prompt(&p, buf, need) == 0, "exact capacity");
    memset(buf, 'x', sizeof buf);
    CHECK(aha_cd_prompt(&p, buf, need - 1) == AHA_ERR_RANGE && buf[0] == 'x',
          "too small, untouched");
    CHECK(aha_cd_response(&p, buf, 10) == AHA_ERR_RANGE && buf[0] == 'x',
          "response too small, untouched");
    CHECK(aha_cd_prompt(NULL, buf, sizeof buf) == AHA_ERR_ARG, "NULL problem");
    aha_cd_problem_t bad = p;
    bad.n = 7;
    CHECK(aha_cd_prompt(&bad, buf, sizeof buf) == AHA_ERR_ARG && aha_cd_is_test(NULL, &p) == 0,
          "bad n");
    bad.n = 0;
    aha_cd_config_t c;
    aha_cd_config_default(&c);
    CHECK(aha_cd_is_test(&c, &bad) == 0, "is_test on n = 0");

    /* config and argument errors; out untouched */
    aha_cd_problem_t out;
    memset(&out, 0x5a, sizeof out);
    aha_cd_config_t e = c;
    e.min_numbers = 1;
    CHECK(aha_cd_problem(&e, 1, 0, 0, &out) == AHA_ERR_CONFIG, "min_numbers 1");
    e = c, e.max_numbers = 7;
    CHECK(aha_cd_problem(&e, 1, 0, 0, &out) == AHA_ERR_CONFIG, "max_numbers 7");
    e = c, e.min_numbers = 4, e.max_numbers = 3;
    CHECK(aha_cd_problem(&e, 1, 0, 0, &out) == AHA_ERR_CONFIG, "min > max");
    e = c, e.max_value = 1;
    CHECK(aha_cd_problem(&e, 1, 0, 0, &out) == AHA_ERR_CONFIG, "max_value 1");
    e = c, e.test_fraction = 1;
    CHECK(aha_cd_problem(&e, 1, 0, 0, &out) == AHA_ERR_CONFIG, "test_fraction 1");
    CHECK(aha_cd_problem(&c, 1, 2, 0, &out) == AHA_ERR_ARG, "unknown split");
    CHECK(aha_cd_problem(NULL, 1, 0, 0, &out) == AHA_ERR_ARG &&
              aha_cd_problem(&c, 1, 0, 0, NULL) == AHA_ERR_ARG,
          "NULL");
    CHECK(((unsigned char *)&out)[0] == 0x5a, "out untouched on errors");
    CHECK(aha_cd_problem(&c, 1, 2, 0, &out) < 0 && strstr(aha_last_error(), "unknown split 2"),
          "message: %s", aha_last_error());
}

static void test_corpus(void) {
    aha_cd_config_t c;
    aha_cd_config_default(&c);
    char buf[512], again[512];
    int ids[512], n;
    const int N = 3000;
    int n_wrong_trace = 0, n_bad = 0, n_direct = 0, n_malformed = 0, n_tok = 0;
    for (int i = 0; i < N; i++) {
        int pn, pnum[AHA_CD_MAX_NUMBERS];
        long long target, last = 0;
        /* mistakes: a consistent trace over the given numbers that ends away from the target,
         * and an answer that uses every number once */
        CHECK(aha_cd_document(&c, 5, (uint64_t)i, 0, 1, 0, buf, sizeof buf) == 0,
              "mistake document");
        CHECK(aha_cd_document(&c, 5, (uint64_t)i, 0, 1, 0, again, sizeof again) == 0 &&
                  !strcmp(buf, again),
              "deterministic document");
        n_tok += aha_tok_encode(buf, ids, 512, &n) != 0;
        const char *th = strstr(buf, "<think>"), *te = strstr(buf, "</think><answer>"),
                   *ae = strstr(buf, "</answer><eos>");
        if (tu_cd_parse_prompt(buf, pnum, AHA_CD_MAX_NUMBERS, &pn, &target) || !th || !te || !ae) {
            n_bad++;
            continue;
        }
        char trace[256], ans[128];
        snprintf(trace, sizeof trace, "%.*s", (int)(te - th - 7), th + 7);
        snprintf(ans, sizeof ans, "%.*s", (int)(ae - te - 16), te + 16);
        n_wrong_trace += trace_run(trace, pnum, pn, &last) == pn - 1 && last != target &&
                         uses_all_once(ans, pnum, pn);
        aha_cd_problem_t dp = {.n = pn, .target = target};
        memcpy(dp.numbers, pnum, sizeof(int) * (size_t)pn);
        n_bad += aha_cd_is_test(&c, &dp); /* corpus problems are never test problems */
        /* the correct trace document of the same index reaches the target */
        CHECK(aha_cd_document(&c, 5, (uint64_t)i, 0, 0, 0, buf, sizeof buf) == 0, "trace document");
        th = strstr(buf, "<think>"), te = strstr(buf, "</think><answer>");
        if (!th || !te) {
            n_bad++;
            continue;
        }
        snprintf(trace, sizeof trace, "%.*s", (int)(te - th - 7), th + 7);
        n_bad += trace_run(trace, pnum, pn, &last) != pn - 1 || last != target;
        /* direct answers and malformed documents */
        CHECK(aha_cd_document(&c, 5, (uint64_t)i, 1, 0, 0, buf, sizeof buf) == 0,
              "direct document");
        n_direct += strstr(buf, "<|Assistant|><answer>") != NULL && !strstr(buf, "<think>");
        CHECK(aha_cd_document(&c, 5, (uint64_t)i, 0, 0.5, 1, buf, sizeof buf) == 0,
              "malformed document");
        n_malformed += strstr(buf, "<think>") && !strstr(buf, "</think>");
        n_tok += aha_tok_encode(buf, ids, 512, &n) != 0;
    }
    CHECK(n_wrong_trace == N, "injected mistakes are consistent traces missing the target (%d/%d)",
          n_wrong_trace, N);
    CHECK(n_bad == 0, "%d documents unreadable or incorrect", n_bad);
    CHECK(n_direct == N && n_malformed == N, "direct %d, malformed %d of %d", n_direct, n_malformed,
          N);
    CHECK(n_tok == 0, "%d documents do not tokenize", n_tok);
    /* the defaults' mix: about p_direct direct documents */
    int direct = 0;
    for (int i = 0; i < 4000; i++) {
        aha_cd_document(&c, 9, (uint64_t)i, 0.6, 0.25, 0.1, buf, sizeof buf);
        direct += !strstr(buf, "<think>");
    }
    CHECK(direct > 2250 && direct < 2550, "direct share %d/4000 (0.6 expected)", direct);
    /* corpus problems are train problems and errors leave buf untouched */
    memset(buf, 'x', sizeof buf);
    CHECK(aha_cd_document(&c, 5, 0, 1.5, 0, 0, buf, sizeof buf) == AHA_ERR_CONFIG,
          "bad probability");
    CHECK(aha_cd_document(&c, 5, 0, 0, 0, 0, buf, 20) == AHA_ERR_RANGE && buf[0] == 'x',
          "too small");
    CHECK(aha_cd_document(&c, 5, 0, 0, 0, 0, NULL, 20) == AHA_ERR_ARG, "NULL buffer");
}

static const tu_case_t cases[] = {
    {"problems", test_problems},
    {"text", test_text},
    {"corpus", test_corpus},
};

TU_MAIN(cases)
