/* tasks/addition.c — addition problems, carry traces, answer parsing and the pretraining corpus
 * (formats and the corpus mix are specified in addition.h). */
#include "tasks/addition.h"
#include "core/err.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_ATTEMPTS (1u << 20)
#define TEXT_MAX 1024 /* scratch for one document; the longest is ~250 bytes */

static const int64_t k_max_operand = 1000000000000LL; /* 10^AHA_ADD_MAX_DIGITS */

/* splitmix64 finaliser (with the golden-ratio increment): a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t pow10i(int d) {
    int64_t p = 1;
    while (d-- > 0)
        p *= 10;
    return p;
}

/* Decimal digits of v >= 0 (0 has one). */
static int ndigits(int64_t v) {
    int n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

/* ---- small string builder: appends until full, then remembers the overflow ---- */

typedef struct {
    char *p;
    size_t cap, len;
    int overflow;
} sb_t;

static void sb_printf(sb_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *s, const char *fmt, ...) {
    if (s->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= s->cap - s->len) {
        s->overflow = 1;
        s->p[s->len] = 0;
    } else {
        s->len += (size_t)n;
    }
}

/* Copies the finished text of S into buf (cap bytes) or fails without touching buf. */
static int sb_emit(const sb_t *s, char *buf, size_t cap, const char *what) {
    if (s->overflow)
        return AHA_FAIL(AHA_ERR_RANGE, "addition: %s exceeds the internal %zu-byte limit", what,
                        s->cap);
    if (!buf || s->len + 1 > cap)
        return AHA_FAIL(AHA_ERR_RANGE, "addition: %s needs %zu bytes, capacity is %zu", what,
                        s->len + 1, cap);
    memcpy(buf, s->p, s->len + 1);
    return AHA_OK;
}

/* ---- problems ---- */

static int check_cfg(const aha_add_config_t *c) {
    if (!c) return AHA_FAIL(AHA_ERR_ARG, "addition: NULL config");
    if (c->min_digits < 1 || c->max_digits > AHA_ADD_MAX_DIGITS || c->min_digits > c->max_digits)
        return AHA_FAIL(AHA_ERR_CONFIG,
                        "addition: digits must satisfy 1 <= min (%d) <= max (%d) <= %d",
                        c->min_digits, c->max_digits, AHA_ADD_MAX_DIGITS);
    if (!(c->test_fraction > 0 && c->test_fraction < 1))
        return AHA_FAIL(AHA_ERR_CONFIG, "addition: test_fraction %g must be in (0, 1)",
                        c->test_fraction);
    return AHA_OK;
}

static int check_problem(const aha_add_problem_t *p) {
    if (!p) return AHA_FAIL(AHA_ERR_ARG, "addition: NULL problem");
    if (p->a < 0 || p->b < 0 || p->a >= k_max_operand || p->b >= k_max_operand)
        return AHA_FAIL(AHA_ERR_ARG, "addition: operands %lld, %lld outside [0, 10^%d)",
                        (long long)p->a, (long long)p->b, AHA_ADD_MAX_DIGITS);
    return AHA_OK;
}

/* Returns 1 if the problem is in the test split, 0 otherwise (also for NULL arguments). */
int aha_add_is_test(const aha_add_config_t *cfg, const aha_add_problem_t *p) {
    if (!cfg || !p) return 0;
    uint64_t h = mix64(mix64((uint64_t)p->a) ^ (uint64_t)p->b);
    return (double)(h % 1000000u) < cfg->test_fraction * 1e6;
}

static int64_t draw_operand(aha_rng_t *r, const aha_add_config_t *c) {
    int d = c->min_digits + (int)aha_rng_below(r, (uint64_t)(c->max_digits - c->min_digits + 1));
    int64_t lo = d == 1 ? 0 : pow10i(d - 1), hi = pow10i(d) - 1;
    return lo + (int64_t)aha_rng_below(r, (uint64_t)(hi - lo + 1));
}

/* Problem INDEX of SPLIT from the streams (seed, {tag, split, index, attempt}). */
static int draw_problem(const aha_add_config_t *cfg, uint64_t seed, uint64_t tag, int split,
                        uint64_t index, aha_add_problem_t *out) {
    AHA_TRY(check_cfg(cfg));
    if (split != AHA_SPLIT_TRAIN && split != AHA_SPLIT_TEST)
        return AHA_FAIL(AHA_ERR_ARG, "addition: unknown split %d", split);
    if (!out) return AHA_FAIL(AHA_ERR_ARG, "addition: NULL output");
    for (uint64_t attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const uint64_t ids[] = {tag, (uint64_t)split, index, attempt};
        aha_rng_t r;
        aha_rng_derive(&r, seed, ids, 4);
        aha_add_problem_t p;
        p.a = draw_operand(&r, cfg);
        p.b = draw_operand(&r, cfg);
        if (aha_add_is_test(cfg, &p) == (split == AHA_SPLIT_TEST)) {
            *out = p;
            return AHA_OK;
        }
    }
    return AHA_FAIL(AHA_ERR_STATE,
                    "addition: no %s problem in %u attempts (digits %d..%d, test_fraction %g)",
                    split == AHA_SPLIT_TEST ? "test" : "train", MAX_ATTEMPTS, cfg->min_digits,
                    cfg->max_digits, cfg->test_fraction);
}

/* Draws problem INDEX of SPLIT for SEED (see addition.h); *out written only on success. */
int aha_add_problem(const aha_add_config_t *cfg, uint64_t seed, int split, uint64_t index,
                    aha_add_problem_t *out) {
    return draw_problem(cfg, seed, AHA_STREAM_ADD_PROBLEM, split, index, out);
}

/* ---- text ---- */

static void write_prompt(sb_t *s, const aha_add_problem_t *p) {
    sb_printf(s, "<bos><|User|>%lld+%lld<|Assistant|>", (long long)p->a, (long long)p->b);
}

/* Writes "<bos><|User|>A+B<|Assistant|>" into buf. */
int aha_add_prompt(const aha_add_problem_t *p, char *buf, size_t cap) {
    AHA_TRY(check_problem(p));
    char tmp[TEXT_MAX];
    sb_t s = {tmp, sizeof tmp, 0, 0};
    write_prompt(&s, p);
    return sb_emit(&s, buf, cap, "prompt");
}

enum { MISTAKE_NONE = 0, MISTAKE_SUM, MISTAKE_CARRY };

typedef struct {
    int kind;  /* MISTAKE_* */
    int col;   /* column (0 = least significant) of the mistake */
    int delta; /* MISTAKE_SUM: +1 or -1 added to the column sum */
} mistake_t;

/* How a trace is written: which steps are in the second language and where a self-check is. */
typedef struct {
    uint64_t lang2_mask; /* bit c: step c in the second language (aha_add_lang2) */
    uint64_t ops2_mask;  /* bit c: step c with the second language's operators, digits kept */
    int check_col;       /* column written wrong (sum + check_delta), then "wait" and redone; -1 */
    int check_delta;
} style_t;

static const style_t k_plain = {0, 0, -1, 0};

char aha_add_lang2(char c) {
    if (c >= '0' && c <= '9') return (char)('A' + (c - '0'));
    switch (c) {
    case '+': return '&';
    case '=': return ':';
    case ';': return '|';
    default: return c;
    }
}

/* Appends one step "x+y[+1]=SS;" (in the second language if LANG2; with its operators only, the
 * digits kept, if OPS2). */
static void write_step(sb_t *s, int da, int db, int carry_in, int sum, int lang2, int ops2) {
    char step[32];
    snprintf(step, sizeof step, "%d+%d%s=%02d;", da, db, carry_in ? "+1" : "", sum);
    for (char *q = step; *q && (lang2 || ops2); q++)
        if (lang2 || *q < '0' || *q > '9') *q = aha_add_lang2(*q);
    sb_printf(s, "%s", step);
}

/* Appends the trace steps (no tags) of P with an optional mistake, in style ST; returns the value
 * the trace spells (the answer that follows it). */
static int64_t write_trace_styled(sb_t *s, const aha_add_problem_t *p, const mistake_t *m,
                                  const style_t *st) {
    const int na = ndigits(p->a), nb = ndigits(p->b), cols = na > nb ? na : nb;
    int64_t a = p->a, b = p->b, result = 0, place = 1;
    int carry = 0;
    for (int c = 0; c < cols; c++) {
        const int da = (int)(a % 10), db = (int)(b % 10), has_a = c < na, has_b = c < nb;
        int carry_in = carry;
        if (m->kind == MISTAKE_CARRY && c == m->col)
            carry_in = 0; /* the incoming carry is ignored */
        int sum = (has_a ? da : 0) + (has_b ? db : 0) + carry_in;
        if (m->kind == MISTAKE_SUM && c == m->col) sum += m->delta;
        const int lang2 = c < 64 && (st->lang2_mask >> c & 1);
        const int ops2 = c < 64 && (st->ops2_mask >> c & 1);
        if (c == st->check_col) { /* a slip, caught: "wait", and the column again */
            write_step(s, has_a ? da : 0, has_b ? db : 0, carry_in, sum + st->check_delta, lang2, ops2);
            sb_printf(s, "wait");
        }
        /* both digits always, 0 past an operand's end: every step has the same shape */
        write_step(s, has_a ? da : 0, has_b ? db : 0, carry_in, sum, lang2, ops2);
        result += (int64_t)(sum % 10) * place;
        place *= 10;
        carry = sum / 10;
        a /= 10;
        b /= 10;
    }
    return result + carry * place;
}

static int64_t write_trace(sb_t *s, const aha_add_problem_t *p, const mistake_t *m) {
    return write_trace_styled(s, p, m, &k_plain);
}

/* "<think>TRACE</think><answer>V</answer><eos>"; returns V. */
static int64_t write_trace_response(sb_t *s, const aha_add_problem_t *p, const mistake_t *m) {
    sb_printf(s, "<think>");
    int64_t v = write_trace(s, p, m);
    sb_printf(s, "</think><answer>%lld</answer><eos>", (long long)v);
    return v;
}

/* Writes the correct trace response of P into buf. */
int aha_add_response(const aha_add_problem_t *p, char *buf, size_t cap) {
    AHA_TRY(check_problem(p));
    char tmp[TEXT_MAX];
    sb_t s = {tmp, sizeof tmp, 0, 0};
    const mistake_t none = {MISTAKE_NONE, -1, 0};
    write_trace_response(&s, p, &none);
    return sb_emit(&s, buf, cap, "response");
}

int aha_add_parse_int(const char *text, size_t len, int64_t *out) {
    const char *q = text, *e = text + len;
    const int neg = q < e && *q == '-';
    q += neg;
    const size_t nd = (size_t)(e - q);
    if (nd == 0 || nd > 18) return -1;
    int64_t v = 0;
    for (; q < e; q++) {
        if (*q < '0' || *q > '9') return -1;
        v = v * 10 + (*q - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* Parses the integer of the first <answer>…</answer> in RESPONSE into *out. */
int aha_add_parse_answer(const char *response, int64_t *out) {
    if (!response || !out) return AHA_FAIL(AHA_ERR_ARG, "parse_answer: NULL argument");
    const char *s = strstr(response, "<answer>");
    if (!s) return AHA_FAIL(AHA_ERR_FORMAT, "parse_answer: no <answer> tag");
    s += strlen("<answer>");
    const char *e = strstr(s, "</answer>");
    if (!e) return AHA_FAIL(AHA_ERR_FORMAT, "parse_answer: <answer> is not closed");
    if (aha_add_parse_int(s, (size_t)(e - s), out))
        return AHA_FAIL(AHA_ERR_FORMAT,
                        "parse_answer: answer \"%.*s\" is not a number of 1..18 digits",
                        (int)(e - s > 40 ? 40 : e - s), s);
    return AHA_OK;
}

/* ---- corpus ---- */

#define CF(member_, def_, help_)                                                                   \
    {                                                                                              \
        .key = #member_, .type = AHA_CFG_FLOAT, .offset = offsetof(aha_corpus_config_t, member_),  \
        .def = def_, .min = 0, .max = 1, .help = help_                                             \
    }
/* The one list of the corpus settings and their defaults (docs/corpus.md); the run config's
 * corpus.* keys are this table. */
// clang-format off
const aha_cfg_field_t aha_corpus_config_fields[] = {
    CF(p_direct, "0.6", "share of direct answers"),
    CF(p_direct_correct, "0.25", "correct share of direct answers"),
    CF(p_trace, "0.4", "share of think traces"),
    CF(p_trace_mistake, "0.25", "traces with one injected mistake"),
    CF(p_malformed, "0.1", "malformed documents"),
    CF(p_lang_mix, "0", "traces whose steps are each, with probability 1/2, in the second language (A-J for digits, & : | for + = ;)"),
    CF(p_selfcheck, "0", "correct traces with one slip caught by \"wait\" and the column redone"),
    CF(p_lang_ops, "0", "traces whose + = ; are the second language's & : | (digits as in the first): half wholly, half each step with probability 1/2"),
    CF(p_lang_carry, "0", "traces (without p_lang_ops) whose steps that take a carry (x+y+1=) write + = ; as & : |, the other steps in the first language"),
};
// clang-format on
#undef CF
const size_t aha_corpus_config_n_fields =
    sizeof aha_corpus_config_fields / sizeof *aha_corpus_config_fields;

void aha_corpus_config_default(aha_corpus_config_t *c) {
    if (!c) return;
    /* cannot fail: the table is fixed and its defaults are checked by the tests */
    (void)aha_cfg_defaults(c, sizeof *c, aha_corpus_config_fields, aha_corpus_config_n_fields);
}

static int check_corpus_cfg(const aha_corpus_config_t *c) {
    if (!c) return AHA_FAIL(AHA_ERR_ARG, "corpus: NULL config");
    AHA_TRY(aha_cfg_check(c, aha_corpus_config_fields, aha_corpus_config_n_fields, "corpus"));
    if (!(c->p_direct + c->p_trace > 0))
        return AHA_FAIL(AHA_ERR_CONFIG, "corpus: p_direct + p_trace must be > 0");
    return AHA_OK;
}

/* A plausible wrong answer for V >= 0: one digit moved by 1 or 2 (the leading digit never becomes
 * 0), one digit dropped, or V +- 10^k. Never negative, never V. */
static int64_t wrong_answer(aha_rng_t *r, int64_t v) {
    const int n = ndigits(v);
    for (;;) {
        const int64_t place = pow10i((int)aha_rng_below(r, (uint64_t)n));
        int64_t w = v;
        switch (aha_rng_below(r, 3)) {
        case 0: { /* nudge one digit */
            int digit = (int)(v / place % 10);
            int step = 1 + (int)aha_rng_below(r, 2);
            int nd = aha_rng_below(r, 2) ? digit + step : digit - step;
            int leading = place * 10 > v && n > 1;
            if (nd < (leading ? 1 : 0) || nd > 9) continue;
            w = v + (int64_t)(nd - digit) * place;
            break;
        }
        case 1: /* drop one digit */
            if (n == 1) continue;
            w = v / (place * 10) * place + v % place;
            break;
        default: /* a forgotten or spurious carry */
            w = aha_rng_below(r, 2) ? v + place : v - place;
            break;
        }
        if (w != v && w >= 0) return w;
    }
}

/* 1 if column COL of a + b receives a carry. */
static int carry_into(const aha_add_problem_t *p, int col) {
    int64_t m = pow10i(col);
    return p->a % m + p->b % m >= m;
}

enum {
    MAL_UNCLOSED_THINK = 0,
    MAL_MISSING_ANSWER_TAG,
    MAL_DUPLICATE_ANSWER,
    MAL_TEXT_AFTER,
    MAL_ANSWER_FIRST
};

/* Writes document INDEX (see addition.h for the mix) into buf. */
int aha_corpus_document(const aha_corpus_config_t *cc, const aha_add_config_t *ac, uint64_t seed,
                        uint64_t index, char *buf, size_t cap) {
    AHA_TRY(check_corpus_cfg(cc));
    aha_add_problem_t p;
    AHA_TRY(draw_problem(ac, seed, AHA_STREAM_ADD_CORPUS_PROBLEM, AHA_SPLIT_TRAIN, index, &p));
    const uint64_t ids[] = {AHA_STREAM_ADD_CORPUS, index};
    aha_rng_t r;
    aha_rng_derive(&r, seed, ids, 2);

    /* the three independent draws, always in this order so the stream layout is fixed */
    const int direct = aha_rng_uniform_d(&r) * (cc->p_direct + cc->p_trace) < cc->p_direct;
    const int flawed =
        aha_rng_uniform_d(&r) < (direct ? 1.0 - cc->p_direct_correct : cc->p_trace_mistake);
    const int malformed = aha_rng_uniform_d(&r) < cc->p_malformed;

    /* content: the answer V and (traces) the think text T */
    char trace[TEXT_MAX] = "";
    sb_t t = {trace, sizeof trace, 0, 0};
    int64_t v = p.a + p.b;
    if (direct) {
        if (flawed) v = wrong_answer(&r, v);
    } else {
        mistake_t m = {MISTAKE_NONE, -1, 0};
        if (flawed) {
            const int cols = ndigits(p.a) > ndigits(p.b) ? ndigits(p.a) : ndigits(p.b);
            m.col = (int)aha_rng_below(&r, (uint64_t)cols);
            const int has_carry = carry_into(&p, m.col);
            if (has_carry && aha_rng_below(&r, 2)) {
                m.kind = MISTAKE_CARRY;
            } else {
                const int64_t col_a = m.col < ndigits(p.a) ? p.a / pow10i(m.col) % 10 : 0;
                const int64_t col_b = m.col < ndigits(p.b) ? p.b / pow10i(m.col) % 10 : 0;
                const int sum = (int)(col_a + col_b) + has_carry;
                m.kind = MISTAKE_SUM;
                m.delta = sum == 0 ? 1 : sum == 19 ? -1 : aha_rng_below(&r, 2) ? 1 : -1;
            }
        }
        /* language mixing and self-checks: their own stream, so documents without them are the
         * same as before these settings existed */
        const uint64_t ids2[] = {AHA_STREAM_ADD_CORPUS, index, 1};
        aha_rng_t r2;
        aha_rng_derive(&r2, seed, ids2, 3);
        style_t st = k_plain;
        const int cols = ndigits(p.a) > ndigits(p.b) ? ndigits(p.a) : ndigits(p.b);
        if (aha_rng_uniform_d(&r2) < cc->p_lang_mix) {
            st.lang2_mask = aha_rng_u64(&r2) & ((cols >= 64 ? 0 : (uint64_t)1 << cols) - 1);
            if (!st.lang2_mask) st.lang2_mask = (uint64_t)1 << aha_rng_below(&r2, (uint64_t)cols);
        }
        if (aha_rng_uniform_d(&r2) < cc->p_selfcheck && !flawed) {
            st.check_col = (int)aha_rng_below(&r2, (uint64_t)cols);
            const int64_t col_a = st.check_col < ndigits(p.a) ? p.a / pow10i(st.check_col) % 10 : 0;
            const int64_t col_b = st.check_col < ndigits(p.b) ? p.b / pow10i(st.check_col) % 10 : 0;
            const int sum = (int)(col_a + col_b) + carry_into(&p, st.check_col);
            st.check_delta = sum == 0 ? 1 : sum == 19 ? -1 : aha_rng_below(&r2, 2) ? 1 : -1;
        }
        /* second-language operators: a third stream, so recipes using only p_lang_mix keep their
         * documents */
        const uint64_t ids3[] = {AHA_STREAM_ADD_CORPUS, index, 2};
        aha_rng_t r3;
        aha_rng_derive(&r3, seed, ids3, 3);
        if (aha_rng_uniform_d(&r3) < cc->p_lang_ops) {
            const uint64_t all = cols >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << cols) - 1;
            const int whole = aha_rng_below(&r3, 2) == 0;
            st.ops2_mask = whole ? all : aha_rng_u64(&r3) & all;
            if (!st.ops2_mask) st.ops2_mask = (uint64_t)1 << aha_rng_below(&r3, (uint64_t)cols);
            st.lang2_mask &= ~st.ops2_mask; /* those steps keep their digits */
        }
        /* a dialect that mixes by content: a fourth stream, so the settings above keep their
         * documents */
        const uint64_t ids4[] = {AHA_STREAM_ADD_CORPUS, index, 3};
        aha_rng_t r4;
        aha_rng_derive(&r4, seed, ids4, 3);
        if (!st.ops2_mask && aha_rng_uniform_d(&r4) < cc->p_lang_carry) {
            for (int c = 0; c < cols && c < 64; c++)
                if (carry_into(&p, c)) st.ops2_mask |= (uint64_t)1 << c;
            st.lang2_mask &= ~st.ops2_mask;
        }
        v = write_trace_styled(&t, &p, &m, &st);
    }

    char doc[TEXT_MAX];
    sb_t s = {doc, sizeof doc, 0, 0};
    write_prompt(&s, &p);
    const long long V = (long long)v;
    if (!malformed) {
        if (direct)
            sb_printf(&s, "<answer>%lld</answer><eos>", V);
        else
            sb_printf(&s, "<think>%s</think><answer>%lld</answer><eos>", trace, V);
    } else {
        const char *T = trace; /* empty for direct documents */
        const char *think_open = direct ? "" : "<think>", *think_close = direct ? "" : "</think>";
        switch ((int)aha_rng_below(&r, direct ? 4 : 5)) {
        case MAL_UNCLOSED_THINK:
            sb_printf(&s, "<think>%s<answer>%lld</answer><eos>", T, V);
            break;
        case MAL_MISSING_ANSWER_TAG:
            if (aha_rng_below(&r, 2))
                sb_printf(&s, "%s%s%s%lld</answer><eos>", think_open, T, think_close, V);
            else
                sb_printf(&s, "%s%s%s<answer>%lld<eos>", think_open, T, think_close, V);
            break;
        case MAL_DUPLICATE_ANSWER:
            sb_printf(&s, "%s%s%s<answer>%lld</answer><answer>%lld</answer><eos>", think_open, T,
                      think_close, V, V);
            break;
        case MAL_TEXT_AFTER: {
            const int nd = 1 + (int)aha_rng_below(&r, 3);
            sb_printf(&s, "%s%s%s<answer>%lld</answer>%0*lld<eos>", think_open, T, think_close, V,
                      nd, (long long)aha_rng_below(&r, (uint64_t)pow10i(nd)));
            break;
        }
        default: /* MAL_ANSWER_FIRST, traces only */
            sb_printf(&s, "<answer>%lld</answer><think>%s</think><eos>", V, T);
            break;
        }
    }
    return sb_emit(&s, buf, cap, "corpus document");
}
