#include "verifier/reward.h"
#include "core/err.h"
#include <stdio.h>
#include <string.h>

static const char *const k_tags[] = {"<think>", "</think>", "<answer>", "</answer>",
                                     "<eos>",   "<bos>",    "<|User|>", "<|Assistant|>"};

/* 1 if [s, e) contains any tag spelling. */
static int has_tag(const char *s, const char *e) {
    for (const char *p = s; p < e; p++) {
        if (*p != '<') continue;
        for (size_t i = 0; i < sizeof k_tags / sizeof *k_tags; i++) {
            size_t n = strlen(k_tags[i]);
            if ((size_t)(e - p) >= n && !memcmp(p, k_tags[i], n)) return 1;
        }
    }
    return 0;
}

/* Locates X and Y of "<think>X</think><answer>Y</answer>[<eos>]"; 0 on success. */
static int split_response(const char *r, const char **ans, size_t *ans_len) {
    static const char T0[] = "<think>", T1[] = "</think><answer>", T2[] = "</answer>";
    if (strncmp(r, T0, sizeof T0 - 1)) return -1;
    const char *x = r + sizeof T0 - 1;
    const char *x_end = strstr(x, T1);
    if (!x_end || has_tag(x, x_end)) return -1;
    const char *y = x_end + sizeof T1 - 1;
    const char *y_end = strstr(y, T2);
    if (!y_end || y_end == y || has_tag(y, y_end)) return -1;
    const char *rest = y_end + sizeof T2 - 1;
    if (*rest && strcmp(rest, "<eos>")) return -1;
    *ans = y;
    *ans_len = (size_t)(y_end - y);
    return 0;
}

int aha_reward_format_ok(const char *response) {
    const char *a;
    size_t n;
    return response && split_response(response, &a, &n) == 0;
}

int aha_reward_extract_answer(const char *response, char *buf, size_t cap) {
    const char *a;
    size_t n;
    if (!response || split_response(response, &a, &n))
        return AHA_FAIL(AHA_ERR_FORMAT, "response is not <think>..</think><answer>..</answer>");
    if (n + 1 > cap) return AHA_FAIL(AHA_ERR_RANGE, "answer of %zu bytes", n);
    memcpy(buf, a, n);
    buf[n] = 0;
    return AHA_OK;
}

/* ---- rationals ---- */

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a ? a : 1;
}

/* Normalises to lowest terms with den > 0; 0 on success, -1 on overflow/zero den. */
static int rat_norm(aha_rational_t *r) {
    if (r->den == 0 || r->den == INT64_MIN || r->num == INT64_MIN) return -1;
    if (r->den < 0) r->num = -r->num, r->den = -r->den;
    int64_t g = gcd64(r->num, r->den);
    r->num /= g;
    r->den /= g;
    return 0;
}

static int rat_add(aha_rational_t a, aha_rational_t b, int sub, aha_rational_t *out) {
    int64_t x, y, d;
    if (__builtin_mul_overflow(a.num, b.den, &x) || __builtin_mul_overflow(b.num, a.den, &y) ||
        __builtin_mul_overflow(a.den, b.den, &d))
        return -1;
    int64_t n;
    if (sub ? __builtin_sub_overflow(x, y, &n) : __builtin_add_overflow(x, y, &n)) return -1;
    out->num = n;
    out->den = d;
    return rat_norm(out);
}

static int rat_mul(aha_rational_t a, aha_rational_t b, int div, aha_rational_t *out) {
    if (div) {
        if (b.num == 0) return -1;
        int64_t t = b.num;
        b.num = b.den;
        b.den = t;
    }
    int64_t n, d;
    if (__builtin_mul_overflow(a.num, b.num, &n) || __builtin_mul_overflow(a.den, b.den, &d)) return -1;
    out->num = n;
    out->den = d;
    return rat_norm(out);
}

int aha_reward_parse_number(const char *text, aha_rational_t *out) {
    const char *p = text;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    int64_t num = 0, den = 1;
    int digits = 0, frac = 0, any_int = 0, any_frac = 0;
    for (; *p; p++) {
        if (*p == '.' && !frac) {
            frac = 1;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > 18) return AHA_FAIL(AHA_ERR_FORMAT, "not a number");
        num = num * 10 + (*p - '0');
        if (frac) den *= 10, any_frac = 1;
        else any_int = 1;
    }
    if (!any_int && !any_frac) return AHA_FAIL(AHA_ERR_FORMAT, "not a number");
    if (frac && !any_frac) return AHA_FAIL(AHA_ERR_FORMAT, "number ends with '.'");
    aha_rational_t r = {neg ? -num : num, den};
    rat_norm(&r);
    *out = r;
    return AHA_OK;
}

int aha_reward_numbers_equal(const char *a, const char *b) {
    aha_rational_t x, y;
    if (aha_reward_parse_number(a, &x) < 0 || aha_reward_parse_number(b, &y) < 0) return 0;
    return x.num == y.num && x.den == y.den;
}

/* ---- countdown: recursive descent over rationals ---- */

typedef struct {
    const char *s;
    int depth;
    int used[AHA_COUNTDOWN_MAX_NUMBERS];
    const int *numbers;
    int n;
    int ok;
} cd_parser_t;

static void cd_space(cd_parser_t *p) {
    while (*p->s == ' ') p->s++;
}

static aha_rational_t cd_expr(cd_parser_t *p);

static aha_rational_t cd_factor(cd_parser_t *p) {
    aha_rational_t zero = {0, 1};
    cd_space(p);
    if (*p->s == '(') {
        if (++p->depth > AHA_COUNTDOWN_MAX_DEPTH) {
            p->ok = 0;
            return zero;
        }
        p->s++;
        aha_rational_t v = cd_expr(p);
        cd_space(p);
        if (*p->s != ')') p->ok = 0;
        else p->s++;
        p->depth--;
        return v;
    }
    if (*p->s < '0' || *p->s > '9') {
        p->ok = 0;
        return zero;
    }
    int64_t v = 0;
    int nd = 0;
    while (*p->s >= '0' && *p->s <= '9') {
        if (++nd > 9) {
            p->ok = 0;
            return zero;
        }
        v = v * 10 + (*p->s++ - '0');
    }
    /* must be an unused given number */
    int found = 0;
    for (int i = 0; i < p->n && !found; i++)
        if (!p->used[i] && p->numbers[i] == v) p->used[i] = found = 1;
    if (!found) p->ok = 0;
    aha_rational_t r = {v, 1};
    return r;
}

static aha_rational_t cd_term(cd_parser_t *p) {
    aha_rational_t v = cd_factor(p);
    for (;;) {
        cd_space(p);
        char op = *p->s;
        if (!p->ok || (op != '*' && op != '/')) return v;
        p->s++;
        aha_rational_t r = cd_factor(p);
        if (p->ok && rat_mul(v, r, op == '/', &v) < 0) p->ok = 0;
    }
}

static aha_rational_t cd_expr(cd_parser_t *p) {
    aha_rational_t v = cd_term(p);
    for (;;) {
        cd_space(p);
        char op = *p->s;
        if (!p->ok || (op != '+' && op != '-')) return v;
        p->s++;
        aha_rational_t r = cd_term(p);
        if (p->ok && rat_add(v, r, op == '-', &v) < 0) p->ok = 0;
    }
}

int aha_reward_countdown(const char *expr, const int *numbers, int n, int64_t target) {
    if (!expr || n < 0 || n > AHA_COUNTDOWN_MAX_NUMBERS) return 0;
    if (strnlen(expr, AHA_COUNTDOWN_MAX_LEN + 1) > AHA_COUNTDOWN_MAX_LEN) return 0;
    cd_parser_t p = {.s = expr, .numbers = numbers, .n = n, .ok = 1};
    aha_rational_t v = cd_expr(&p);
    cd_space(&p);
    if (!p.ok || *p.s) return 0;
    return v.den == 1 && v.num == target;
}

/* ---- shaping ---- */

double aha_reward_language(const char *response, const char *charset) {
    if (!response) return 0;
    const char *s = strstr(response, "<think>");
    if (!s) return 0;
    s += 7;
    const char *e = strstr(s, "</think>");
    if (!e || e == s) return 0;
    size_t in = 0;
    for (const char *p = s; p < e; p++) in += *p && strchr(charset, *p) != NULL;
    return (double)in / (double)(e - s);
}

double aha_reward_overlong(int len, int max_len, int cache) {
    if (len <= max_len - cache) return 0;
    if (len <= max_len && cache > 0) return (double)(max_len - cache - len) / cache;
    return -1;
}

/* ---- combined ---- */

void aha_reward_config_default(aha_reward_config_t *c) {
    memset(c, 0, sizeof *c);
    c->w_format = 0.1;
    c->w_accuracy = 0.9;
    c->correct_requires_format = 1;
    c->max_len = 64;
    c->overlong_cache = 16;
    snprintf(c->charset, sizeof c->charset, "%s", "0123456789+-*=/;() ");
}

int aha_reward_first_answer(const char *r, char *buf, size_t cap) {
    const char *s = r ? strstr(r, "<answer>") : NULL;
    if (!s) return AHA_FAIL(AHA_ERR_FORMAT, "no <answer> tag");
    s += 8;
    const char *e = strstr(s, "</answer>");
    if (!e) return AHA_FAIL(AHA_ERR_FORMAT, "unclosed <answer>");
    if ((size_t)(e - s) + 1 > cap) return AHA_FAIL(AHA_ERR_RANGE, "answer of %zu bytes", (size_t)(e - s));
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = 0;
    return AHA_OK;
}

void aha_reward_score(const aha_reward_config_t *cfg, const aha_reward_problem_t *prob,
                      const char *response, int response_tokens, aha_reward_breakdown_t *out) {
    aha_reward_breakdown_t r = {0};
    const char *resp = response ? response : "";
    r.format = aha_reward_format_ok(resp);
    char ans[AHA_COUNTDOWN_MAX_LEN + 1];
    int have = cfg->correct_requires_format
                   ? (r.format && aha_reward_extract_answer(resp, ans, sizeof ans) == 0)
                   : aha_reward_first_answer(resp, ans, sizeof ans) == 0;
    if (have) {
        if (prob->kind == AHA_TASK_ADDITION) {
            char want[32];
            snprintf(want, sizeof want, "%lld", (long long)prob->expected);
            r.accuracy = aha_reward_numbers_equal(ans, want);
        } else {
            r.accuracy = aha_reward_countdown(ans, prob->numbers, prob->n_numbers, prob->target);
        }
    }
    aha_error_clear();
    r.language = aha_reward_language(resp, cfg->charset);
    r.overlong = aha_reward_overlong(response_tokens, cfg->max_len, cfg->overlong_cache);
    r.total = cfg->w_format * r.format + cfg->w_accuracy * r.accuracy + cfg->w_language * r.language +
              cfg->w_overlong * r.overlong;
    *out = r;
}
