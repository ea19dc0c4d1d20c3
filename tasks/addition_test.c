/* addition: deterministic problems, disjoint splits, digit ranges, traces that re-add correctly. */
#include "core/err.h"
#include "core/testutil.h"
#include "model/tokenizer.h"
#include "tasks/addition.h"
#include <stdlib.h>
#include <string.h>

static int digits(int64_t v) {
    int n = 1;
    while (v >= 10) v /= 10, n++;
    return n;
}

/* Re-reads a trace "<think>s;s;...</think><answer>N</answer><eos>": checks every column's sum
 * from the problem's digits and the carry, and that N == a + b. */
static int check_trace(const aha_add_problem_t *p, const char *resp) {
    const char *s = resp + strlen("<think>");
    int64_t a = p->a, b = p->b;
    int carry = 0, col = 0, cols = digits(p->a) > digits(p->b) ? digits(p->a) : digits(p->b);
    while (strncmp(s, "</think>", 8)) {
        int terms[3], nt = 0;
        while (*s >= '0' && *s <= '9') {
            if (nt == 3) return 0;
            terms[nt++] = *s++ - '0';
            if (*s == '+') s++;
        }
        if (*s++ != '=') return 0;
        int sum = (s[0] - '0') * 10 + (s[1] - '0');
        s += 2;
        if (*s++ != ';') return 0;
        int want = (col < digits(p->a) ? a % 10 : 0) + (col < digits(p->b) ? b % 10 : 0) + carry;
        int expect_terms = (col < digits(p->a)) + (col < digits(p->b)) + carry;
        int got = 0;
        for (int i = 0; i < nt; i++) got += terms[i];
        if (sum != want || got != want || nt != expect_terms) return 0;
        carry = sum / 10;
        a /= 10, b /= 10, col++;
    }
    if (col != cols) return 0;
    int64_t ans;
    return aha_add_parse_answer(resp, &ans) == 0 && ans == p->a + p->b;
}

int main(void) {
    aha_add_config_t cfg = {1, 3, 0.1};
    aha_add_problem_t p, q;
    /* determinism and ranges */
    int seen_digits[4] = {0};
    int n_test = 0;
    for (uint64_t i = 0; i < 20000; i++) {
        CHECK(aha_add_problem(&cfg, 5, AHA_SPLIT_TRAIN, i, &p) == 0, "problem");
        CHECK(aha_add_problem(&cfg, 5, AHA_SPLIT_TRAIN, i, &q) == 0 && p.a == q.a && p.b == q.b, "deterministic");
        CHECK(p.a >= 0 && p.a <= 999 && p.b >= 0 && p.b <= 999, "range %lld %lld", (long long)p.a, (long long)p.b);
        CHECK(!aha_add_is_test(&cfg, &p), "train problem in the test split");
        seen_digits[digits(p.a)]++;
        CHECK(aha_add_problem(&cfg, 5, AHA_SPLIT_TEST, i, &q) == 0, "test problem");
        CHECK(aha_add_is_test(&cfg, &q), "test problem not in the test split");
        n_test += aha_add_is_test(&cfg, &p);
    }
    CHECK(n_test == 0, "train/test overlap: %d", n_test);
    for (int d = 1; d <= 3; d++) CHECK(seen_digits[d] > 5000, "digit count %d drawn %d times", d, seen_digits[d]);
    aha_add_problem_t r5;
    CHECK(aha_add_problem(&cfg, 6, AHA_SPLIT_TRAIN, 0, &r5) == 0, "seed 6");
    int differ = 0;
    for (uint64_t i = 0; i < 50; i++) {
        aha_add_problem(&cfg, 5, AHA_SPLIT_TRAIN, i, &p);
        aha_add_problem(&cfg, 6, AHA_SPLIT_TRAIN, i, &q);
        differ += p.a != q.a || p.b != q.b;
    }
    CHECK(differ > 40, "different seeds give different problems (%d/50)", differ);
    /* traces */
    char resp[512], prompt[128];
    int ids[512], n;
    aha_add_config_t wide = {1, 12, 0.1};
    for (uint64_t i = 0; i < 10000; i++) {
        CHECK(aha_add_problem(&wide, 9, AHA_SPLIT_TRAIN, i, &p) == 0, "problem");
        CHECK(aha_add_response(&p, resp, sizeof resp) == 0, "response");
        CHECK(check_trace(&p, resp), "trace of %lld+%lld: %s", (long long)p.a, (long long)p.b, resp);
        CHECK(aha_add_prompt(&p, prompt, sizeof prompt) == 0, "prompt");
        CHECK(aha_tok_encode(prompt, ids, 512, &n) == 0 && aha_tok_encode(resp, ids, 512, &n) == 0, "tokenizes");
    }
    aha_add_problem_t edge[] = {{999, 1}, {0, 0}, {123, 9}, {9, 999999999999LL}, {5, 5}};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        CHECK(aha_add_response(&edge[i], resp, sizeof resp) == 0 && check_trace(&edge[i], resp), "edge %zu: %s", i, resp);
    }
    aha_add_response(&edge[2], resp, sizeof resp);
    CHECK(!strcmp(resp, "<think>3+9=12;2+1=03;1=01;</think><answer>132</answer><eos>"), "documented example: %s", resp);
    aha_add_response(&edge[0], resp, sizeof resp);
    CHECK(!strcmp(resp, "<think>9+1=10;9+1=10;9+1=10;</think><answer>1000</answer><eos>"), "carry chain: %s", resp);
    /* capacity and config errors */
    CHECK(aha_add_response(&edge[0], resp, 20) == AHA_ERR_RANGE, "response capacity");
    CHECK(aha_add_prompt(&edge[0], prompt, 10) == AHA_ERR_RANGE, "prompt capacity");
    aha_add_config_t bad = {3, 2, 0.1};
    CHECK(aha_add_problem(&bad, 1, 0, 0, &p) == AHA_ERR_CONFIG, "min > max");
    aha_add_config_t bad2 = {1, 2, 0};
    CHECK(aha_add_problem(&bad2, 1, 0, 0, &p) == AHA_ERR_CONFIG, "test_fraction 0");
    CHECK(aha_add_problem(&cfg, 1, 7, 0, &p) == AHA_ERR_ARG, "bad split");
    /* answer parsing */
    int64_t v = 0;
    CHECK(aha_add_parse_answer("<answer>-42</answer>", &v) == 0 && v == -42, "negative");
    CHECK(aha_add_parse_answer("x<answer>7</answer><answer>8</answer>", &v) == 0 && v == 7, "first tag wins");
    CHECK(aha_add_parse_answer("<answer></answer>", &v) == AHA_ERR_FORMAT, "empty");
    CHECK(aha_add_parse_answer("<answer>1234567890123456789</answer>", &v) == AHA_ERR_FORMAT, "19 digits");
    CHECK(aha_add_parse_answer("<answer>12a</answer>", &v) == AHA_ERR_FORMAT, "letters");
    CHECK(aha_add_parse_answer("<answer>12", &v) == AHA_ERR_FORMAT, "unclosed");
    return TEST_DONE();
}
