/* verifier/reward.c — rule rewards (definitions in reward.h).
 *
 * Internally everything works on spans (pointer + length) of the caller's text: no copies, no
 * allocation, no error messages (internal helpers return -1 or a small code); only the public
 * functions that return aha_err_t record a message with AHA_FAIL. Every scan is a single pass or
 * a glibc strstr (two-way algorithm, linear). */
#include "verifier/reward.h"
#include "core/err.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *p;
    size_t n;
} span_t;

/* ---- tags and spans ---- */

#define TAG(s)                                                                                     \
    { s, sizeof s - 1 }
static const struct {
    const char *s;
    size_t n;
} k_tags[] = {TAG("<pad>"),     TAG("<bos>"),    TAG("<eos>"),
              TAG("<think>"),   TAG("</think>"), TAG("<answer>"),
              TAG("</answer>"), TAG("<|User|>"), TAG("<|Assistant|>")};
#undef TAG

static const char k_think[] = "<think>", k_think_end[] = "</think>", k_answer[] = "<answer>",
                  k_answer_end[] = "</answer>", k_eos[] = "<eos>";
#define LIT_LEN(s) (sizeof s - 1)

/* 1 if [s, s+n) contains any tag spelling. Linear: at most 9 short compares per '<'. */
static int has_tag(const char *s, size_t n) {
    const char *e = s + n;
    for (const char *p = memchr(s, '<', n); p; p = memchr(p + 1, '<', (size_t)(e - p - 1))) {
        for (size_t i = 0; i < sizeof k_tags / sizeof *k_tags; i++)
            if ((size_t)(e - p) >= k_tags[i].n && !memcmp(p, k_tags[i].s, k_tags[i].n)) return 1;
        if (p + 1 >= e) break;
    }
    return 0;
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int blank(span_t s) {
    for (size_t i = 0; i < s.n; i++)
        if (!is_ws(s.p[i])) return 0;
    return 1;
}

/* Strict format: on success (0) *think / *answer are X and Y of
 * "<think>X</think><answer>Y</answer>[<eos>]"; -1 otherwise. */
static int split_response(const char *r, span_t *think, span_t *answer) {
    static const char mid[] = "</think><answer>";
    if (strncmp(r, k_think, LIT_LEN(k_think))) return -1;
    const char *x = r + LIT_LEN(k_think);
    const char *x_end = strstr(x, mid);
    if (!x_end || has_tag(x, (size_t)(x_end - x))) return -1;
    const char *y = x_end + LIT_LEN(mid);
    const char *y_end = strstr(y, k_answer_end);
    if (!y_end) return -1;
    span_t ys = {y, (size_t)(y_end - y)};
    if (blank(ys) || has_tag(ys.p, ys.n)) return -1;
    const char *rest = y_end + LIT_LEN(k_answer_end);
    if (*rest && strcmp(rest, k_eos)) return -1;
    think->p = x;
    think->n = (size_t)(x_end - x);
    *answer = ys;
    return 0;
}

/* Text between the first OPEN and the first CLOSE after it; 0 on success, -1 if absent. */
static int first_block(const char *r, const char *open, size_t open_n, const char *close,
                       span_t *out) {
    const char *s = strstr(r, open);
    if (!s) return -1;
    s += open_n;
    const char *e = strstr(s, close);
    if (!e) return -1;
    out->p = s;
    out->n = (size_t)(e - s);
    return 0;
}

static int copy_span(span_t s, char *buf, size_t cap) {
    if (s.n >= cap)
        return AHA_FAIL(AHA_ERR_RANGE, "answer of %zu bytes does not fit in %zu", s.n, cap);
    memcpy(buf, s.p, s.n);
    buf[s.n] = 0;
    return AHA_OK;
}

int aha_reward_format_ok(const char *response) {
    span_t t, a;
    return response && split_response(response, &t, &a) == 0;
}

int aha_reward_extract_answer(const char *response, char *buf, size_t cap) {
    span_t t, a;
    if (!response || !buf) return AHA_FAIL(AHA_ERR_ARG, "extract_answer: NULL argument");
    if (split_response(response, &t, &a))
        return AHA_FAIL(AHA_ERR_FORMAT,
                        "response is not <think>..</think><answer>..</answer>[<eos>]");
    return copy_span(a, buf, cap);
}

int aha_reward_first_answer(const char *response, char *buf, size_t cap) {
    span_t a;
    if (!response || !buf) return AHA_FAIL(AHA_ERR_ARG, "first_answer: NULL argument");
    if (first_block(response, k_answer, LIT_LEN(k_answer), k_answer_end, &a))
        return AHA_FAIL(AHA_ERR_FORMAT, "no closed <answer>..</answer> in the response");
    return copy_span(a, buf, cap);
}

/* ---- numbers ---- */

/* "[+-]D[.F]" | "[+-].F" over [s, s+n), at most AHA_REWARD_MAX_DIGITS digits; -1 if malformed. */
static int parse_decimal(const char *s, size_t n, aha_rational_t *out) {
    const char *p = s, *e = s + n;
    int neg = 0;
    if (p < e && (*p == '+' || *p == '-')) neg = *p++ == '-';
    int64_t num = 0, den = 1;
    int digits = 0, n_int = 0, n_frac = 0, dot = 0;
    for (; p < e; p++) {
        if (*p == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > AHA_REWARD_MAX_DIGITS) return -1;
        num = num * 10 + (*p - '0'); /* < 10^18: no overflow */
        if (dot)
            den *= 10, n_frac++;
        else
            n_int++;
    }
    if (n_int + n_frac == 0 || (dot && n_frac == 0)) return -1;
    return aha_rat_make(neg ? -num : num, den, out);
}

int aha_reward_parse_number(const char *text, aha_rational_t *out) {
    if (!text || !out) return AHA_FAIL(AHA_ERR_ARG, "parse_number: NULL argument");
    size_t n = strnlen(text, 64);
    aha_rational_t r;
    if (n >= 64 || parse_decimal(text, n, &r))
        return AHA_FAIL(AHA_ERR_FORMAT, "\"%.40s\" is not a decimal number of at most %d digits",
                        text, AHA_REWARD_MAX_DIGITS);
    *out = r;
    return AHA_OK;
}

int aha_reward_numbers_equal(const char *a, const char *b) {
    aha_rational_t x, y;
    if (!a || !b) return 0;
    size_t na = strnlen(a, 64), nb = strnlen(b, 64);
    if (na >= 64 || nb >= 64 || parse_decimal(a, na, &x) || parse_decimal(b, nb, &y)) return 0;
    return x.num == y.num && x.den == y.den;
}

/* ---- addition ---- */

int aha_reward_addition(const char *answer, int64_t expected) {
    int64_t v;
    if (!answer) return 0;
    return aha_add_parse_int(answer, strnlen(answer, AHA_REWARD_MAX_DIGITS + 2), &v) == 0 &&
           v == expected;
}

/* ---- countdown ---- */

static int cd_args_ok(const int *numbers, int n) {
    return n >= 0 && n <= AHA_COUNTDOWN_MAX_NUMBERS && (numbers || n == 0);
}

int aha_reward_countdown_eval(const char *expr, const int *numbers, int n, aha_rational_t *out) {
    if (!expr || !out || !cd_args_ok(numbers, n))
        return AHA_FAIL(AHA_ERR_ARG, "countdown_eval: NULL argument or %d numbers (0..%d)", n,
                        AHA_COUNTDOWN_MAX_NUMBERS);
    aha_rational_t v;
    size_t at;
    switch (aha_cd_eval(expr, strnlen(expr, AHA_COUNTDOWN_MAX_LEN + 1), numbers, n, &v, &at)) {
    case AHA_CD_EVAL_OK:
        *out = v;
        return AHA_OK;
    case AHA_CD_EVAL_LIMIT:
        return AHA_FAIL(AHA_ERR_FORMAT,
                        "countdown: expression beyond %d bytes, %d nested parentheses or %d tokens",
                        AHA_COUNTDOWN_MAX_LEN, AHA_COUNTDOWN_MAX_DEPTH, AHA_COUNTDOWN_MAX_TOKENS);
    case AHA_CD_EVAL_NUMBER:
        return AHA_FAIL(AHA_ERR_NOTFOUND,
                        "countdown: number at offset %zu is not an unused given number", at);
    case AHA_CD_EVAL_ARITH:
        return AHA_FAIL(AHA_ERR_RANGE, "countdown: division by zero or overflow before offset %zu",
                        at);
    default:
        return AHA_FAIL(AHA_ERR_FORMAT, "countdown: syntax error at offset %zu", at);
    }
}

int aha_reward_countdown(const char *expr, const int *numbers, int n, int64_t target) {
    if (!expr || !cd_args_ok(numbers, n)) return 0;
    aha_reward_problem_t p;
    memset(&p, 0, sizeof p);
    p.kind = AHA_TASK_COUNTDOWN;
    p.n_numbers = n;
    if (n > 0) memcpy(p.numbers, numbers, sizeof(int) * (size_t)n);
    p.target = target;
    return aha_task_by_kind(AHA_TASK_COUNTDOWN)
        ->accuracy(&p, expr, strnlen(expr, AHA_COUNTDOWN_MAX_LEN + 1));
}

/* ---- language consistency ---- */

typedef struct {
    const char *name;
    int (*has)(int c);
} cs_class_t;

static int cs_digits(int c) {
    return c >= '0' && c <= '9';
}
static int cs_ops(int c) {
    return c && strchr("+-*/=;() ", c) != NULL;
}
static int cs_space(int c) {
    return c == ' ';
}
static int cs_newline(int c) {
    return c == '\n';
}
static int cs_lower(int c) {
    return c >= 'a' && c <= 'z';
}
static int cs_upper(int c) {
    return c >= 'A' && c <= 'Z';
}
static int cs_letters(int c) {
    return cs_lower(c) || cs_upper(c);
}
static int cs_printable(int c) {
    return c >= 32 && c <= 126;
}
static int cs_punct(int c) {
    return c > 32 && c <= 126 && !cs_letters(c) && !cs_digits(c);
}

static const cs_class_t k_classes[] = {
    {"digits", cs_digits},   {"ops", cs_ops},     {"space", cs_space},
    {"newline", cs_newline}, {"lower", cs_lower}, {"upper", cs_upper},
    {"letters", cs_letters}, {"punct", cs_punct}, {"printable", cs_printable}};

int aha_reward_charset(const char *spec, char *out, size_t cap) {
    if (!spec || !out) return AHA_FAIL(AHA_ERR_ARG, "charset: NULL argument");
    unsigned char set[256] = {0};
    const char *p = spec;
    for (;;) {
        const char *e;
        if (*p == '[') {
            e = strchr(p + 1, ']');
            if (!e || e == p + 1)
                return AHA_FAIL(AHA_ERR_CONFIG, "charset \"%.60s\": empty or unclosed [...]", spec);
            for (const char *q = p + 1; q < e; q++)
                set[(unsigned char)*q] = 1;
            e++;
        } else {
            e = p + strcspn(p, "+");
            size_t len = (size_t)(e - p), i;
            for (i = 0; i < sizeof k_classes / sizeof *k_classes; i++)
                if (strlen(k_classes[i].name) == len && !memcmp(k_classes[i].name, p, len)) break;
            if (i == sizeof k_classes / sizeof *k_classes)
                return AHA_FAIL(
                    AHA_ERR_CONFIG,
                    "charset \"%.60s\": unknown name \"%.*s\" (digits, ops, space, newline, lower, "
                    "upper, letters, punct, printable, [chars])",
                    spec, (int)(len > 40 ? 40 : len), p);
            for (int c = 1; c < 256; c++)
                set[c] |= (unsigned char)k_classes[i].has(c);
        }
        if (*e == 0) break;
        if (*e != '+')
            return AHA_FAIL(AHA_ERR_CONFIG, "charset \"%.60s\": expected '+' after \"]\"", spec);
        p = e + 1;
    }
    size_t n = 0;
    for (int c = 1; c < 256; c++)
        n += set[c];
    if (n + 1 > cap)
        return AHA_FAIL(AHA_ERR_RANGE, "charset \"%.60s\": %zu bytes do not fit in %zu", spec, n,
                        cap);
    size_t k = 0;
    for (int c = 1; c < 256; c++)
        if (set[c]) out[k++] = (char)c;
    out[k] = 0;
    return AHA_OK;
}

/* Language share of the first think block; CHARSET holds at most CS_CAP bytes (NUL-terminated
 * earlier or not). */
static double language(const char *response, const char *charset, size_t cs_cap) {
    span_t t;
    if (first_block(response, k_think, LIT_LEN(k_think), k_think_end, &t) || t.n == 0) return 0;
    unsigned char in[256] = {0};
    for (size_t i = 0; i < cs_cap && charset[i]; i++)
        in[(unsigned char)charset[i]] = 1;
    size_t hits = 0;
    for (size_t i = 0; i < t.n; i++)
        hits += in[(unsigned char)t.p[i]];
    return (double)hits / (double)t.n;
}

double aha_reward_language(const char *response, const char *charset) {
    if (!response || !charset) return 0;
    return language(response, charset, (size_t)-1);
}

int aha_reward_reflection(const char *response) {
    span_t t;
    if (!response || first_block(response, k_think, LIT_LEN(k_think), k_think_end, &t)) return 0;
    static const char k_marker[] = AHA_REWARD_REFLECTION_MARKER;
    const size_t m = sizeof k_marker - 1;
    for (size_t i = 0; i + m <= t.n; i++)
        if (!memcmp(t.p + i, k_marker, m)) return 1;
    return 0;
}

/* ---- overlong ---- */

double aha_reward_overlong(int len, int max_len, int cache) {
    if (max_len <= 0) return 0;
    int64_t l = len < 0 ? 0 : len, m = max_len, c = cache < 0 ? 0 : cache;
    if (c > m) c = m;
    if (l <= m - c) return 0;
    if (l > m) return -1;
    return (double)((m - c) - l) / (double)c; /* here c > 0: m - c < l <= m */
}

/* ---- combined ---- */

void aha_reward_config_default(aha_reward_config_t *c) {
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->w_format = 0.1;
    c->w_accuracy = 0.9;
    c->correct_requires_format = 1;
    c->max_len = 64;
    c->overlong_cache = 16;
    if (aha_reward_charset("digits+ops", c->charset, sizeof c->charset))
        c->charset[0] = 0; /* cannot fail */
}

int aha_reward_config_check(const aha_reward_config_t *c) {
    if (!c) return AHA_FAIL(AHA_ERR_ARG, "reward config: NULL");
    const double w[] = {c->w_format, c->w_accuracy, c->w_language, c->w_overlong};
    static const char *const names[] = {"w_format", "w_accuracy", "w_language", "w_overlong"};
    for (int i = 0; i < 4; i++)
        if (!isfinite(w[i]))
            return AHA_FAIL(AHA_ERR_CONFIG, "reward config: %s is not finite", names[i]);
    if (c->max_len < 0)
        return AHA_FAIL(AHA_ERR_CONFIG, "reward config: max_len %d < 0", c->max_len);
    if (c->overlong_cache < 0 || c->overlong_cache > c->max_len)
        return AHA_FAIL(AHA_ERR_CONFIG, "reward config: overlong_cache %d outside [0, max_len %d]",
                        c->overlong_cache, c->max_len);
    if (!memchr(c->charset, 0, sizeof c->charset))
        return AHA_FAIL(AHA_ERR_CONFIG, "reward config: charset is not NUL-terminated");
    return AHA_OK;
}

/* Accuracy of answer ANS by the rule of the problem's task (0 for a kind not in the table). */
static int accuracy(const aha_reward_problem_t *prob, span_t ans) {
    const aha_task_t *t = aha_task_by_kind(prob->kind);
    return t ? t->accuracy(prob, ans.p, ans.n) : 0;
}

/* The least and greatest of W * X for X in [LO, HI]. */
static void term_range(double w, double lo, double hi, double *mn, double *mx) {
    const double a = w * lo, b = w * hi;
    *mn += a < b ? a : b;
    *mx += a < b ? b : a;
}

int aha_reward_check_range(const aha_reward_config_t *cfg, const aha_reward_breakdown_t *b,
                           char *why, size_t cap) {
    if (!cfg || !b) return AHA_FAIL(AHA_ERR_ARG, "aha_reward_check_range: NULL argument");
    const struct {
        const char *name;
        double v, lo, hi;
    } f[] = {{"format", b->format, 0, 1},
             {"accuracy", b->accuracy, 0, 1},
             {"language", b->language, 0, 1},
             {"overlong", b->overlong, -1, 0}};
    char msg[160];
    double mn = 0, mx = 0;
    term_range(cfg->w_format, 0, 1, &mn, &mx);
    term_range(cfg->w_accuracy, 0, 1, &mn, &mx);
    term_range(cfg->w_language, 0, 1, &mn, &mx);
    term_range(cfg->w_overlong, -1, 0, &mn, &mx);
    const double tol = 1e-9 * (1 + fabs(mn) + fabs(mx));
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (!(f[i].v >= f[i].lo && f[i].v <= f[i].hi)) {
            snprintf(msg, sizeof msg, "%s score %g outside [%g, %g]", f[i].name, f[i].v, f[i].lo,
                     f[i].hi);
            goto bad;
        }
    if (!(b->total >= mn - tol && b->total <= mx + tol)) {
        snprintf(msg, sizeof msg, "total score %g outside [%g, %g] (the configured weights)",
                 b->total, mn, mx);
        goto bad;
    }
    return AHA_OK;
bad:
    if (why && cap) snprintf(why, cap, "%s", msg);
    return AHA_FAIL(AHA_ERR_RANGE, "%s", msg);
}

void aha_reward_score(const aha_reward_config_t *cfg, const aha_reward_problem_t *prob,
                      const char *response, int response_tokens, aha_reward_breakdown_t *out) {
    if (!out) return;
    aha_reward_breakdown_t r = {0};
    if (!cfg || !prob) {
        *out = r;
        return;
    }
    const char *resp = response ? response : "";
    span_t think, ans;
    int formed = split_response(resp, &think, &ans) == 0;
    r.format = formed;
    int have = cfg->correct_requires_format
                   ? formed
                   : first_block(resp, k_answer, LIT_LEN(k_answer), k_answer_end, &ans) == 0;
    r.accuracy = have ? accuracy(prob, ans) : 0;
    r.language = language(resp, cfg->charset, sizeof cfg->charset);
    const aha_task_t *task = aha_task_by_kind(prob->kind);
    if (task && !task->thinks) { /* nothing to read: an empty think block is consistent */
        span_t t;
        if (first_block(resp, k_think, LIT_LEN(k_think), k_think_end, &t) == 0 && t.n == 0)
            r.language = 1;
    }
    r.overlong = aha_reward_overlong(response_tokens, cfg->max_len, cfg->overlong_cache);
    r.total = cfg->w_format * r.format + cfg->w_accuracy * r.accuracy +
              cfg->w_language * r.language + cfg->w_overlong * r.overlong;
    *out = r;
}
