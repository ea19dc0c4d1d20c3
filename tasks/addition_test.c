/* addition: deterministic problems, digit ranges, disjoint splits, traces that re-add correctly
 * (checked by an independent parser), prompts/responses that tokenize, capacity errors and
 * answer parsing. */
#include "core/err.h"
#include "core/testutil.h"
#include "model/tokenizer.h"
#include "tasks/addition.h"
#include "tasks/trace_check.h"
#include <stdlib.h>
#include <string.h>

static int cmp_problem(const void *x, const void *y) {
    const aha_add_problem_t *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return 0;
}

/* Full check of a response "<think>T</think><answer>N</answer><eos>" for P: the trace re-adds
 * with no wrong step and N == a + b. */
static int response_ok(const aha_add_problem_t *p, const char *resp) {
    if (strncmp(resp, "<think>", 7)) return 0;
    const char *end = strstr(resp, "</think>");
    tc_result_t tr;
    if (!end || tc_check(p, resp + 7, end, &tr) != 0) return 0;
    if (tr.errors || tr.value != p->a + p->b) return 0;
    int64_t ans;
    if (aha_add_parse_answer(resp, &ans) != 0 || ans != p->a + p->b) return 0;
    char want[64];
    snprintf(want, sizeof want, "</think><answer>%lld</answer><eos>", (long long)(p->a + p->b));
    return !strcmp(end, want);
}

static void test_problems(void) {
    aha_add_config_t cfg = {1, 3, 0.1};
    aha_add_problem_t p, q;
    /* determinism: same (seed, split, index) -> same problem; other seeds differ */
    for (uint64_t i = 0; i < 2000; i++) {
        for (int split = 0; split < 2; split++) {
            CHECK(aha_add_problem(&cfg, 5, split, i, &p) == 0, "problem");
            CHECK(aha_add_problem(&cfg, 5, split, i, &q) == 0 && p.a == q.a && p.b == q.b,
                  "deterministic");
        }
    }
    int differ = 0, differ_split = 0, differ_index = 0;
    for (uint64_t i = 0; i < 200; i++) {
        aha_add_problem(&cfg, 5, AHA_SPLIT_TRAIN, i, &p);
        aha_add_problem(&cfg, 6, AHA_SPLIT_TRAIN, i, &q);
        differ += p.a != q.a || p.b != q.b;
        aha_add_problem(&cfg, 5, AHA_SPLIT_TEST, i, &q);
        differ_split += p.a != q.a || p.b != q.b;
        aha_add_problem(&cfg, 5, AHA_SPLIT_TRAIN, i + 1, &q);
        differ_index += p.a != q.a || p.b != q.b;
    }
    CHECK(differ > 190 && differ_split > 190 && differ_index > 190,
          "streams differ: seed %d split %d index %d", differ, differ_split, differ_index);
    /* known value pins the stream layout (changing it silently reshuffles every run's data) */
    CHECK(aha_add_problem(&cfg, 1, AHA_SPLIT_TRAIN, 0, &p) == 0 && p.a == 190 && p.b == 30,
          "seed 1 train 0 is 190+30, got %lld+%lld", (long long)p.a, (long long)p.b);

    /* digit ranges: uniform digit counts, no leading zeros, 0 only as a 1-digit number */
    const int ranges[][2] = {{1, 1}, {1, 3}, {2, 4}, {5, 5}, {12, 12}, {1, 12}};
    for (size_t k = 0; k < sizeof ranges / sizeof *ranges; k++) {
        aha_add_config_t c = {ranges[k][0], ranges[k][1], 0.1};
        int hist[AHA_ADD_MAX_DIGITS + 1] = {0}, zeros = 0;
        const int N = 20000;
        for (int i = 0; i < N; i++) {
            CHECK(aha_add_problem(&c, 11, AHA_SPLIT_TRAIN, (uint64_t)i, &p) == 0, "problem: %s",
                  aha_last_error());
            int64_t v[2] = {p.a, p.b};
            for (int j = 0; j < 2; j++) {
                int d = tc_digits(v[j]);
                CHECK(v[j] >= 0 && d >= c.min_digits && d <= c.max_digits,
                      "operand %lld outside %d..%d digits", (long long)v[j], c.min_digits,
                      c.max_digits);
                if (d >= 0 && d <= AHA_ADD_MAX_DIGITS) hist[d]++;
                zeros += v[j] == 0;
            }
        }
        const int span = c.max_digits - c.min_digits + 1;
        for (int d = c.min_digits; d <= c.max_digits; d++) {
            double share = hist[d] / (2.0 * N);
            CHECK(share > 1.0 / span - 0.02 && share < 1.0 / span + 0.02,
                  "digits %d..%d: %d-digit share %.3f", c.min_digits, c.max_digits, d, share);
        }
        if (c.min_digits == 1)
            CHECK(zeros > 0, "0 is drawn as a 1-digit operand (%d..%d)", c.min_digits,
                  c.max_digits);
    }

    /* splits: 20k draws each, disjoint as sets, membership matches aha_add_is_test */
    const int N = 20000;
    aha_add_problem_t *train = malloc(sizeof *train * (size_t)N),
                      *test = malloc(sizeof *test * (size_t)N);
    int bad_member = 0;
    for (int i = 0; i < N; i++) {
        CHECK(aha_add_problem(&cfg, 3, AHA_SPLIT_TRAIN, (uint64_t)i, &train[i]) == 0, "train");
        CHECK(aha_add_problem(&cfg, 3, AHA_SPLIT_TEST, (uint64_t)i, &test[i]) == 0, "test");
        bad_member += aha_add_is_test(&cfg, &train[i]) || !aha_add_is_test(&cfg, &test[i]);
    }
    CHECK(bad_member == 0, "split membership wrong for %d problems", bad_member);
    qsort(train, (size_t)N, sizeof *train, cmp_problem);
    qsort(test, (size_t)N, sizeof *test, cmp_problem);
    int overlap = 0, distinct_test = 0;
    for (int i = 0, j = 0; i < N && j < N;) {
        int c = cmp_problem(&train[i], &test[j]);
        if (c == 0)
            overlap++, i++;
        else if (c < 0)
            i++;
        else
            j++;
    }
    for (int j = 0; j < N; j++)
        distinct_test += j == 0 || cmp_problem(&test[j - 1], &test[j]);
    CHECK(overlap == 0, "train/test overlap: %d", overlap);
    CHECK(distinct_test > 2000, "test split has many distinct problems (%d)", distinct_test);
    free(train);
    free(test);
    /* the test share of the problem space is test_fraction */
    {
        aha_rng_t r;
        aha_rng_seed(&r, 99);
        int in_test = 0;
        for (int i = 0; i < 100000; i++) {
            aha_add_problem_t u = {(int64_t)aha_rng_below(&r, 1000000),
                                   (int64_t)aha_rng_below(&r, 1000000)};
            in_test += aha_add_is_test(&cfg, &u);
        }
        CHECK(in_test > 9000 && in_test < 11000, "test share %.4f (want 0.1)", in_test / 100000.0);
    }

    /* config and argument errors; out untouched */
    aha_add_problem_t keep = {-5, -5};
    aha_add_config_t bad[] = {{3, 2, 0.1}, {0, 2, 0.1}, {1, 13, 0.1},
                              {1, 2, 0},   {1, 2, 1},   {1, 2, -0.5}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        p = keep;
        CHECK(aha_add_problem(&bad[k], 1, 0, 0, &p) == AHA_ERR_CONFIG && p.a == -5,
              "bad config %zu", k);
    }
    CHECK(aha_add_problem(&cfg, 1, 7, 0, &p) == AHA_ERR_ARG, "bad split");
    CHECK(aha_add_problem(&cfg, 1, -1, 0, &p) == AHA_ERR_ARG, "negative split");
    CHECK(aha_add_problem(NULL, 1, 0, 0, &p) == AHA_ERR_ARG, "NULL config");
    CHECK(aha_add_problem(&cfg, 1, 0, 0, NULL) == AHA_ERR_ARG, "NULL out");
    /* a split with no problems (1-digit space, 1e-6 test share: none of the 100 pairs hashes to 0)
     * fails cleanly instead of looping forever */
    aha_add_config_t tiny = {1, 1, 1e-6};
    int n_tiny_test = 0;
    for (int64_t a = 0; a < 10; a++)
        for (int64_t b = 0; b < 10; b++)
            n_tiny_test += aha_add_is_test(&tiny, &(aha_add_problem_t){a, b});
    CHECK(n_tiny_test == 0, "tiny space has %d test problems", n_tiny_test);
    p = keep;
    CHECK(aha_add_problem(&tiny, 1, AHA_SPLIT_TEST, 0, &p) == AHA_ERR_STATE && p.a == -5,
          "empty split");
    CHECK(strstr(aha_last_error(), "no test problem") != NULL, "message: %s", aha_last_error());
    CHECK(aha_add_problem(&tiny, 1, AHA_SPLIT_TRAIN, 0, &p) == 0, "its train split is everything");
}

static void test_text(void) {
    char resp[512], prompt[128];
    int ids[512], n;
    /* 10k traces over all lengths, checked by the independent parser */
    aha_add_config_t wide = {1, 12, 0.1};
    aha_add_problem_t p;
    int carry_all = 0, unequal = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        CHECK(aha_add_problem(&wide, 9, AHA_SPLIT_TRAIN, i, &p) == 0, "problem");
        CHECK(aha_add_response(&p, resp, sizeof resp) == 0, "response");
        CHECK(response_ok(&p, resp), "trace of %lld+%lld: %s", (long long)p.a, (long long)p.b,
              resp);
        CHECK(aha_add_prompt(&p, prompt, sizeof prompt) == 0, "prompt");
        CHECK(aha_tok_encode(prompt, ids, 512, &n) == 0 && aha_tok_encode(resp, ids, 512, &n) == 0,
              "tokenizes: %s", aha_last_error());
        aha_add_problem_t back;
        CHECK(tc_parse_problem(prompt, &back) == 0 && back.a == p.a && back.b == p.b,
              "prompt spells the problem");
        unequal += tc_digits(p.a) != tc_digits(p.b);
        carry_all += tc_digits(p.a + p.b) >
                     (tc_digits(p.a) > tc_digits(p.b) ? tc_digits(p.a) : tc_digits(p.b));
    }
    CHECK(unequal > 5000 && carry_all > 500, "coverage: %d unequal lengths, %d final carries",
          unequal, carry_all);
    /* exhaustive small problems: every 0..199 + 0..199 */
    for (int64_t a = 0; a < 200; a++)
        for (int64_t b = 0; b < 200; b++) {
            aha_add_problem_t q = {a, b};
            CHECK(aha_add_response(&q, resp, sizeof resp) == 0 && response_ok(&q, resp),
                  "%lld+%lld: %s", (long long)a, (long long)b, resp);
        }
    /* edges: carries through every digit, different lengths both ways, the largest operands */
    const aha_add_problem_t edge[] = {{999, 1},
                                      {1, 999},
                                      {0, 0},
                                      {9, 999999999999LL},
                                      {999999999999LL, 999999999999LL},
                                      {123, 9},
                                      {9, 123},
                                      {5, 5},
                                      {10, 90},
                                      {100000000000LL, 0},
                                      {99999, 99999}};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        CHECK(aha_add_response(&edge[i], resp, sizeof resp) == 0 && response_ok(&edge[i], resp),
              "edge %zu: %s", i, resp);
        CHECK(aha_tok_encode(resp, ids, 512, &n) == 0, "edge %zu tokenizes", i);
    }
    /* the documented examples, byte for byte */
    const struct {
        aha_add_problem_t p;
        const char *resp;
    } docs[] = {
        {{57, 68}, "<think>7+8=15;5+6+1=12;</think><answer>125</answer><eos>"},
        {{123, 9}, "<think>3+9=12;2+0+1=03;1+0=01;</think><answer>132</answer><eos>"},
        {{9, 123}, "<think>9+3=12;0+2+1=03;0+1=01;</think><answer>132</answer><eos>"},
        {{999, 1}, "<think>9+1=10;9+0+1=10;9+0+1=10;</think><answer>1000</answer><eos>"},
        {{0, 0}, "<think>0+0=00;</think><answer>0</answer><eos>"},
        {{50, 7}, "<think>0+7=07;5+0=05;</think><answer>57</answer><eos>"},
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        CHECK(aha_add_response(&docs[i].p, resp, sizeof resp) == 0 && !strcmp(resp, docs[i].resp),
              "documented example %zu: %s", i, resp);
    }
    CHECK(aha_add_prompt(&docs[0].p, prompt, sizeof prompt) == 0 &&
              !strcmp(prompt, "<bos><|User|>57+68<|Assistant|>"),
          "documented prompt: %s", prompt);

    /* capacity: every cap below the need fails with buf untouched (exact heap buffers for ASan) */
    const aha_add_problem_t big = {999999999999LL, 999999999999LL};
    char full[512];
    CHECK(aha_add_response(&big, full, sizeof full) == 0, "big response");
    const size_t need = strlen(full) + 1;
    for (size_t cap = 0; cap <= need; cap++) {
        char *b = malloc(cap ? cap : 1);
        if (cap) b[0] = 'Z';
        int rc = aha_add_response(&big, b, cap);
        if (cap < need)
            CHECK(rc == AHA_ERR_RANGE && (cap == 0 || b[0] == 'Z'), "response cap %zu: %d", cap,
                  rc);
        else
            CHECK(rc == 0 && !strcmp(b, full), "response exact cap");
        free(b);
    }
    CHECK(aha_add_prompt(&big, full, sizeof full) == 0, "big prompt");
    const size_t pneed = strlen(full) + 1;
    for (size_t cap = 0; cap <= pneed; cap++) {
        char *b = malloc(cap ? cap : 1);
        int rc = aha_add_prompt(&big, b, cap);
        CHECK(cap < pneed ? rc == AHA_ERR_RANGE : rc == 0, "prompt cap %zu: %d", cap, rc);
        free(b);
    }
    CHECK(strstr(aha_last_error(), "capacity") != NULL, "capacity message: %s", aha_last_error());
    CHECK(aha_add_prompt(&big, NULL, 0) == AHA_ERR_RANGE, "NULL buffer, cap 0");
    /* operands outside the supported range */
    const aha_add_problem_t out_of_range[] = {
        {-1, 5}, {5, -1}, {1000000000000LL, 1}, {1, INT64_MAX}};
    for (size_t i = 0; i < sizeof out_of_range / sizeof *out_of_range; i++) {
        CHECK(aha_add_response(&out_of_range[i], resp, sizeof resp) == AHA_ERR_ARG,
              "response operand range %zu", i);
        CHECK(aha_add_prompt(&out_of_range[i], prompt, sizeof prompt) == AHA_ERR_ARG,
              "prompt operand range %zu", i);
    }
    CHECK(aha_add_response(NULL, resp, sizeof resp) == AHA_ERR_ARG, "NULL problem");
}

static void test_parse_answer(void) {
    const struct {
        const char *text;
        int ok;
        int64_t v;
    } cases[] = {
        {"<answer>125</answer>", 1, 125},
        {"<think>7+8=15;</think><answer>15</answer><eos>", 1, 15},
        {"<answer>-42</answer>", 1, -42},
        {"<answer>0</answer>", 1, 0},
        {"<answer>-0</answer>", 1, 0},
        {"<answer>007</answer>", 1, 7},
        {"<answer>999999999999999999</answer>", 1, 999999999999999999LL},
        {"<answer>-999999999999999999</answer>", 1, -999999999999999999LL},
        {"x<answer>7</answer><answer>8</answer>", 1, 7},
        {"<answer>7</answer>trailing <junk", 1, 7},
        {"<answer>5</answer><answer>x</answer>", 1, 5},
        {"<answer>1234567890123456789</answer>", 0, 0},
        {"<answer></answer>", 0, 0},
        {"<answer>-</answer>", 0, 0},
        {"<answer>--5</answer>", 0, 0},
        {"<answer>+5</answer>", 0, 0},
        {"<answer> 5</answer>", 0, 0},
        {"<answer>5 </answer>", 0, 0},
        {"<answer>12a</answer>", 0, 0},
        {"<answer>1.5</answer>", 0, 0},
        {"<answer>5-</answer>", 0, 0},
        {"<answer>x</answer><answer>5</answer>", 0, 0}, /* the first answer decides */
        {"<answer>1<answer>2</answer>", 0, 0},
        {"<answer>12", 0, 0},
        {"12</answer>", 0, 0},
        {"", 0, 0},
        {"<answer", 0, 0},
        {"</answer><answer>", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t v = -777;
        int rc = aha_add_parse_answer(cases[i].text, &v);
        if (cases[i].ok)
            CHECK(rc == 0 && v == cases[i].v, "'%s' -> rc %d, %lld", cases[i].text, rc,
                  (long long)v);
        else
            CHECK(rc == AHA_ERR_FORMAT && v == -777, "'%s' must fail (rc %d, out %lld)",
                  cases[i].text, rc, (long long)v);
    }
    int64_t v;
    CHECK(aha_add_parse_answer(NULL, &v) == AHA_ERR_ARG &&
              aha_add_parse_answer("<answer>1</answer>", NULL) == AHA_ERR_ARG,
          "NULL arguments");
}

/* The trace alone determines the problem: every step is "x+y=SS;" or "x+y+1=SS;", and reading the
 * x and y of the steps as the digits of a and b (least significant first) gives a and b back.
 * This is the property behind the learning-parity fix (docs/rl.md "Learning parity"): with a
 * shorter operand contributing no term, "2+1=03;" in 123+9 could not be told from a digit 1 of b,
 * a model had to learn where each operand ends, and on 3-5 digit problems it learned the traces
 * far more slowly than with the padded form. */
static void test_trace_determines_problem(void) {
    const aha_add_config_t cfg = {1, 6, 0.1};
    char resp[512];
    int unequal = 0;
    for (uint64_t i = 0; i < 3000; i++) {
        aha_add_problem_t p;
        REQUIRE_OK(aha_add_problem(&cfg, 9, AHA_SPLIT_TRAIN, i, &p));
        REQUIRE_OK(aha_add_response(&p, resp, sizeof resp));
        unequal += tc_digits(p.a) != tc_digits(p.b);
        const char *s = resp + strlen("<think>"), *end = strstr(resp, "</think>");
        REQUIRE(end != NULL, "no </think> in %s", resp);
        int64_t a = 0, b = 0, place = 1;
        int ok = 1, steps = 0;
        while (s < end && ok) {
            /* x '+' y ('+' '1')? '=' d d ';' */
            ok = s + 7 <= end && s[0] >= '0' && s[0] <= '9' && s[1] == '+' && s[2] >= '0' &&
                 s[2] <= '9';
            if (!ok) break;
            a += (s[0] - '0') * place;
            b += (s[2] - '0') * place;
            s += 3;
            if (s[0] == '+') ok = s[1] == '1', s += 2;
            ok = ok && s + 4 <= end && s[0] == '=' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
                 s[2] <= '9' && s[3] == ';';
            s += 4;
            place *= 10;
            steps++;
        }
        CHECK(ok && a == p.a && b == p.b &&
                  steps == (tc_digits(p.a) > tc_digits(p.b) ? tc_digits(p.a) : tc_digits(p.b)),
              "%lld+%lld: trace %s reads back as %lld+%lld", (long long)p.a, (long long)p.b, resp,
              (long long)a, (long long)b);
    }
    CHECK(unequal > 1000, "only %d problems with operands of unequal length", unequal);
}

static const tu_case_t cases[] = {
    {"problems", test_problems},
    {"text", test_text},
    {"parse_answer", test_parse_answer},
    {"trace_determines_problem", test_trace_determines_problem},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    return tu_main(argc, argv, cases, __FILE__);
}
