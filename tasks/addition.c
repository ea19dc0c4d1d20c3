#include "tasks/addition.h"
#include "core/err.h"
#include <stdio.h>
#include <string.h>

enum { STREAM_PROBLEM = 0xADD, STREAM_CORPUS = 0xC0B5 };

static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t pow10i(int d) {
    int64_t p = 1;
    while (d-- > 0) p *= 10;
    return p;
}

static int ndigits(int64_t v) {
    int n = 1;
    while (v >= 10) v /= 10, n++;
    return n;
}

static int check_cfg(const aha_add_config_t *c) {
    if (c->min_digits < 1 || c->max_digits > 12 || c->min_digits > c->max_digits)
        return AHA_FAIL(AHA_ERR_CONFIG, "addition: digits must satisfy 1 <= min (%d) <= max (%d) <= 12",
                        c->min_digits, c->max_digits);
    if (!(c->test_fraction > 0 && c->test_fraction < 1))
        return AHA_FAIL(AHA_ERR_CONFIG, "addition: test_fraction %g must be in (0, 1)", c->test_fraction);
    return AHA_OK;
}

int aha_add_is_test(const aha_add_config_t *cfg, const aha_add_problem_t *p) {
    uint64_t h = mix64(mix64((uint64_t)p->a) ^ (uint64_t)p->b);
    return (double)(h % 1000000u) < cfg->test_fraction * 1e6;
}

static int64_t draw_operand(aha_rng_t *r, const aha_add_config_t *c) {
    int d = c->min_digits + (int)aha_rng_below(r, (uint64_t)(c->max_digits - c->min_digits + 1));
    int64_t lo = d == 1 ? 0 : pow10i(d - 1), hi = pow10i(d) - 1;
    return lo + (int64_t)aha_rng_below(r, (uint64_t)(hi - lo + 1));
}

int aha_add_problem(const aha_add_config_t *cfg, uint64_t seed, int split, uint64_t index,
                    aha_add_problem_t *out) {
    AHA_TRY(check_cfg(cfg));
    if (split != AHA_SPLIT_TRAIN && split != AHA_SPLIT_TEST)
        return AHA_FAIL(AHA_ERR_ARG, "addition: unknown split %d", split);
    for (uint64_t attempt = 0; attempt < 100000; attempt++) {
        const uint64_t ids[] = {STREAM_PROBLEM, (uint64_t)split, index, attempt};
        aha_rng_t r;
        aha_rng_derive(&r, seed, ids, 4);
        aha_add_problem_t p = {draw_operand(&r, cfg), draw_operand(&r, cfg)};
        if (aha_add_is_test(cfg, &p) == (split == AHA_SPLIT_TEST)) {
            *out = p;
            return AHA_OK;
        }
    }
    return AHA_FAIL(AHA_ERR_STATE, "addition: no problem found for split %d", split);
}

int aha_add_prompt(const aha_add_problem_t *p, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "<bos><|User|>%lld+%lld<|Assistant|>", (long long)p->a, (long long)p->b);
    if (n < 0 || (size_t)n >= cap) return AHA_FAIL(AHA_ERR_RANGE, "addition: prompt exceeds %zu bytes", cap);
    return AHA_OK;
}

/* Appends the carry trace to buf at *pos. mistake_col >= 0 adds DELTA to that column's sum (the
 * rest of the trace and the returned value follow the mistake). Returns the trace's result. */
static int64_t write_trace(const aha_add_problem_t *p, int mistake_col, int delta, char *buf,
                           size_t cap, size_t *pos, int *overflow) {
    const int cols = ndigits(p->a) > ndigits(p->b) ? ndigits(p->a) : ndigits(p->b);
    int64_t a = p->a, b = p->b, result = 0, place = 1;
    int carry = 0;
    for (int c = 0; c < cols; c++) {
        int da = (int)(a % 10), db = (int)(b % 10);
        int has_a = c < ndigits(p->a), has_b = c < ndigits(p->b);
        int sum = (has_a ? da : 0) + (has_b ? db : 0) + carry;
        if (c == mistake_col) sum = (sum + delta + 20) % 20;
        char step[32];
        int n = 0;
        if (has_a) n += snprintf(step + n, sizeof step - n, "%d", da);
        if (has_b) n += snprintf(step + n, sizeof step - n, "%s%d", n ? "+" : "", db);
        if (carry) n += snprintf(step + n, sizeof step - n, "+1");
        n += snprintf(step + n, sizeof step - n, "=%02d;", sum);
        if (*pos + (size_t)n >= cap) *overflow = 1;
        else memcpy(buf + *pos, step, (size_t)n + 1), *pos += (size_t)n;
        result += (int64_t)(sum % 10) * place;
        place *= 10;
        carry = sum / 10;
        a /= 10;
        b /= 10;
    }
    if (carry) result += place;
    return result;
}

static int append(char *buf, size_t cap, size_t *pos, const char *fmt, long long v, int use_v) {
    int n = use_v ? snprintf(buf + *pos, cap - *pos, fmt, v) : snprintf(buf + *pos, cap - *pos, "%s", fmt);
    if (n < 0 || *pos + (size_t)n >= cap) return AHA_FAIL(AHA_ERR_RANGE, "addition: text exceeds %zu bytes", cap);
    *pos += (size_t)n;
    return AHA_OK;
}

/* "<think>TRACE</think><answer>R</answer><eos>" with an optional mistake. */
static int trace_response(const aha_add_problem_t *p, int mistake_col, int delta, char *buf, size_t cap) {
    size_t pos = 0;
    int overflow = 0;
    AHA_TRY(append(buf, cap, &pos, "<think>", 0, 0));
    int64_t r = write_trace(p, mistake_col, delta, buf, cap, &pos, &overflow);
    if (overflow) return AHA_FAIL(AHA_ERR_RANGE, "addition: text exceeds %zu bytes", cap);
    AHA_TRY(append(buf, cap, &pos, "</think><answer>%lld</answer><eos>", (long long)r, 1));
    return AHA_OK;
}

int aha_add_response(const aha_add_problem_t *p, char *buf, size_t cap) {
    return trace_response(p, -1, 0, buf, cap);
}

int aha_add_parse_answer(const char *response, int64_t *out) {
    const char *s = strstr(response, "<answer>");
    if (!s) return AHA_FAIL(AHA_ERR_FORMAT, "no <answer> tag");
    s += strlen("<answer>");
    const char *e = strstr(s, "</answer>");
    if (!e) return AHA_FAIL(AHA_ERR_FORMAT, "unclosed <answer>");
    const char *p = s;
    int neg = 0;
    if (p < e && *p == '-') neg = 1, p++;
    size_t nd = (size_t)(e - p);
    if (nd == 0 || nd > 18) return AHA_FAIL(AHA_ERR_FORMAT, "answer is not a number of 1..18 digits");
    int64_t v = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9') return AHA_FAIL(AHA_ERR_FORMAT, "answer is not a number");
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return AHA_OK;
}

void aha_corpus_config_default(aha_corpus_config_t *c) {
    c->p_direct = 0.4;
    c->p_direct_correct = 0.25;
    c->p_trace = 0.6;
    c->p_trace_mistake = 0.25;
    c->p_malformed = 0.1;
}

/* A plausible wrong answer: one digit changed, a digit dropped, or off by a power of ten. */
static int64_t wrong_answer(aha_rng_t *r, int64_t v) {
    for (;;) {
        int n = ndigits(v), kind = (int)aha_rng_below(r, 3);
        int64_t w = v;
        if (kind == 0) {
            int64_t place = pow10i((int)aha_rng_below(r, (uint64_t)n));
            int digit = (int)(v / place % 10);
            int nd = (digit + 1 + (int)aha_rng_below(r, 9)) % 10;
            w = v + (int64_t)(nd - digit) * place;
        } else if (kind == 1 && n > 1) {
            int64_t place = pow10i((int)aha_rng_below(r, (uint64_t)n));
            w = v / (place * 10) * place + v % place;
        } else {
            w = v + (aha_rng_below(r, 2) ? 1 : -1) * pow10i((int)aha_rng_below(r, (uint64_t)n));
        }
        if (w != v && w >= 0) return w;
    }
}

#define TOO_LONG AHA_FAIL(AHA_ERR_RANGE, "corpus: document too long")

int aha_corpus_document(const aha_corpus_config_t *cc, const aha_add_config_t *ac, uint64_t seed,
                        uint64_t index, char *buf, size_t cap) {
    double mix = cc->p_direct + cc->p_trace;
    if (!(mix > 0) || cc->p_malformed < 0 || cc->p_malformed > 1)
        return AHA_FAIL(AHA_ERR_CONFIG, "corpus: p_direct + p_trace must be > 0, p_malformed in [0, 1]");
    aha_add_problem_t p;
    AHA_TRY(aha_add_problem(ac, seed, AHA_SPLIT_TRAIN, index, &p));
    const uint64_t ids[] = {STREAM_CORPUS, index};
    aha_rng_t r;
    aha_rng_derive(&r, seed, ids, 2);
    size_t pos = 0;
    AHA_TRY(aha_add_prompt(&p, buf, cap));
    pos = strlen(buf);
    char resp[512];
    const int malformed = aha_rng_uniform_d(&r) < cc->p_malformed;
    if (aha_rng_uniform_d(&r) * mix < cc->p_direct) {
        int64_t v = p.a + p.b;
        if (aha_rng_uniform_d(&r) >= cc->p_direct_correct) v = wrong_answer(&r, v);
        snprintf(resp, sizeof resp, "<answer>%lld</answer><eos>", (long long)v);
    } else {
        int cols = ndigits(p.a) > ndigits(p.b) ? ndigits(p.a) : ndigits(p.b);
        int mistake = aha_rng_uniform_d(&r) < cc->p_trace_mistake ? (int)aha_rng_below(&r, (uint64_t)cols) : -1;
        int delta = aha_rng_below(&r, 2) ? 1 : -1;
        AHA_TRY(trace_response(&p, mistake, delta, resp, sizeof resp));
    }
    if (malformed) {
        /* break the format in one of five ways */
        char tmp[512];
        char *x;
        switch ((int)aha_rng_below(&r, 5)) {
        case 0: /* unclosed think */
            if ((x = strstr(resp, "</think>"))) memmove(x, x + 8, strlen(x + 8) + 1);
            else if (snprintf(tmp, sizeof tmp, "<think>%s", resp) >= (int)sizeof tmp) return TOO_LONG;
            else memcpy(resp, tmp, sizeof tmp);
            break;
        case 1: /* missing answer tag */
            if ((x = strstr(resp, "<answer>"))) memmove(x, x + 8, strlen(x + 8) + 1);
            break;
        case 2: /* duplicated answer */
            if ((x = strstr(resp, "<eos>"))) {
                *x = 0;
                const char *a = strstr(resp, "<answer>");
                if (snprintf(tmp, sizeof tmp, "%s%s<eos>", resp, a ? a : "<answer>0</answer>") >= (int)sizeof tmp)
                    return TOO_LONG;
                memcpy(resp, tmp, sizeof tmp);
            }
            break;
        case 3: /* text after </answer> */
            if ((x = strstr(resp, "<eos>"))) {
                *x = 0;
                if (snprintf(tmp, sizeof tmp, "%s%lld<eos>", resp, (long long)(p.a % 10)) >= (int)sizeof tmp)
                    return TOO_LONG;
                memcpy(resp, tmp, sizeof tmp);
            }
            break;
        default: /* answer before think */
            if (snprintf(tmp, sizeof tmp, "<answer>%lld</answer>%s", (long long)(p.a + p.b), resp) >= (int)sizeof tmp)
                return TOO_LONG;
            memcpy(resp, tmp, sizeof tmp);
            break;
        }
    }
    if (pos + strlen(resp) + 1 > cap) return AHA_FAIL(AHA_ERR_RANGE, "corpus: document exceeds %zu bytes", cap);
    memcpy(buf + pos, resp, strlen(resp) + 1);
    return AHA_OK;
}
