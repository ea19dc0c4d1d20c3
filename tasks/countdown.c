/* tasks/countdown.c — countdown problems, prompts, reference responses and the pretraining corpus
 * (formats and rules in countdown.h). */
#include "tasks/countdown.h"
#include "core/err.h"
#include "core/rational.h"
#include "tasks/addition.h" /* AHA_SPLIT_TRAIN / AHA_SPLIT_TEST */
#include <stdio.h>
#include <string.h>

#define MAX_ATTEMPTS (1u << 16)
#define MAX_PRODUCT 1000 /* '*' only while the product stays <= this */
#define TEXT_MAX 512     /* scratch for one prompt / response / document */

/* splitmix64 finaliser: a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void aha_cd_config_default(aha_cd_config_t *c) {
    if (!c) return;
    c->min_numbers = 3;
    c->max_numbers = 4;
    c->max_value = 25;
    c->test_fraction = 0.1;
}

static int check_cfg(const aha_cd_config_t *c) {
    if (!c) return AHA_FAIL(AHA_ERR_ARG, "countdown: NULL config");
    if (c->min_numbers < 2 || c->max_numbers > AHA_CD_MAX_NUMBERS ||
        c->min_numbers > c->max_numbers)
        return AHA_FAIL(AHA_ERR_CONFIG,
                        "countdown: numbers must satisfy 2 <= min (%d) <= max (%d) <= %d",
                        c->min_numbers, c->max_numbers, AHA_CD_MAX_NUMBERS);
    if (c->max_value < 2 || c->max_value > 1000)
        return AHA_FAIL(AHA_ERR_CONFIG, "countdown: max_value %d must be in 2..1000", c->max_value);
    if (!(c->test_fraction > 0 && c->test_fraction < 1))
        return AHA_FAIL(AHA_ERR_CONFIG, "countdown: test_fraction %g must be in (0, 1)",
                        c->test_fraction);
    return AHA_OK;
}

static int check_problem(const aha_cd_problem_t *p) {
    if (!p) return AHA_FAIL(AHA_ERR_ARG, "countdown: NULL problem");
    if (p->n < 1 || p->n > AHA_CD_MAX_NUMBERS)
        return AHA_FAIL(AHA_ERR_ARG, "countdown: %d numbers (1..%d)", p->n, AHA_CD_MAX_NUMBERS);
    return AHA_OK;
}

int aha_cd_is_test(const aha_cd_config_t *cfg, const aha_cd_problem_t *p) {
    if (!cfg || !p || p->n < 1 || p->n > AHA_CD_MAX_NUMBERS) return 0;
    int s[AHA_CD_MAX_NUMBERS];
    memcpy(s, p->numbers, sizeof(int) * (size_t)p->n);
    for (int i = 1; i < p->n; i++) /* insertion sort: the split ignores the order */
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            int t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    uint64_t h = mix64((uint64_t)p->target);
    for (int i = 0; i < p->n; i++)
        h = mix64(h ^ (uint64_t)(uint32_t)s[i]);
    return (double)(h % 1000000u) < cfg->test_fraction * 1e6;
}

/* ---- computations: a plan of n-1 steps over a pool of values ---- */

typedef struct {
    int i, j; /* pool indices of the operands A, B (ordered) */
    char op;
} step_t;

typedef struct {
    int n; /* given numbers, in combination order (numbers[k] starts in pool slot k) */
    int numbers[AHA_CD_MAX_NUMBERS];
    step_t steps[AHA_CD_MAX_NUMBERS - 1];
} plan_t;

static int op_ok(int64_t a, int64_t b, char op) {
    switch (op) {
    case '+':
        return 1;
    case '-':
        return a > b;
    case '*':
        return a > 1 && b > 1 && a * b <= MAX_PRODUCT;
    case '/':
        return b > 1 && a % b == 0;
    default:
        return 0;
    }
}

static int64_t apply(int64_t a, int64_t b, char op) {
    return op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
}

typedef struct {
    int64_t v;
    int prec; /* 3 atom, 2 top-level * or /, 1 top-level + or - */
    char e[96];
} slot_t;

typedef struct {
    int64_t value;
    char expr[96];
    char trace[160];
} run_t;

/* Executes PLAN; with FALLBACK a step whose operator does not apply uses '+' (and the plan is
 * updated), else that is an error. Pool update: the result replaces A's slot, B's slot is removed
 * by moving the last slot into it. -1 on an infeasible step or a text overflow. */
static int run_plan(plan_t *plan, int fallback, run_t *out) {
    slot_t pool[AHA_CD_MAX_NUMBERS];
    int m = plan->n;
    for (int k = 0; k < m; k++) {
        pool[k].v = plan->numbers[k];
        pool[k].prec = 3;
        snprintf(pool[k].e, sizeof pool[k].e, "%d", plan->numbers[k]);
    }
    size_t tpos = 0;
    out->trace[0] = 0;
    for (int s = 0; s < plan->n - 1; s++, m--) {
        step_t *st = &plan->steps[s];
        if (st->i < 0 || st->j < 0 || st->i >= m || st->j >= m || st->i == st->j) return -1;
        slot_t *a = &pool[st->i], *b = &pool[st->j];
        if (!op_ok(a->v, b->v, st->op)) {
            if (!fallback) return -1;
            st->op = '+';
        }
        const char op = st->op;
        const int64_t v = apply(a->v, b->v, op);
        int w = snprintf(out->trace + tpos, sizeof out->trace - tpos, "%lld%c%lld=%lld;",
                         (long long)a->v, op, (long long)b->v, (long long)v);
        if (w < 0 || (size_t)w >= sizeof out->trace - tpos) return -1;
        tpos += (size_t)w;
        const int pa = (op == '*' || op == '/') && a->prec == 1;
        const int pb = (op == '-' && b->prec == 1) || (op == '*' && b->prec == 1) ||
                       (op == '/' && b->prec < 3);
        char e[96];
        w = snprintf(e, sizeof e, "%s%s%s%c%s%s%s", pa ? "(" : "", a->e, pa ? ")" : "", op,
                     pb ? "(" : "", b->e, pb ? ")" : "");
        if (w < 0 || (size_t)w >= sizeof e) return -1;
        memcpy(a->e, e, (size_t)w + 1);
        a->v = v;
        a->prec = (op == '+' || op == '-') ? 1 : 2;
        if (st->j != m - 1) pool[st->j] = pool[m - 1];
    }
    out->value = pool[0].v;
    memcpy(out->expr, pool[0].e, sizeof out->expr);
    return 0;
}

/* Draws a problem (numbers, plan) from R; -1 if the draw is unusable (retry with another stream).
 */
static int draw_plan(aha_rng_t *r, const aha_cd_config_t *c, plan_t *plan) {
    memset(plan, 0, sizeof *plan);
    plan->n =
        c->min_numbers + (int)aha_rng_below(r, (uint64_t)(c->max_numbers - c->min_numbers + 1));
    int64_t pool[AHA_CD_MAX_NUMBERS];
    for (int k = 0; k < plan->n; k++)
        pool[k] = plan->numbers[k] = 1 + (int)aha_rng_below(r, (uint64_t)c->max_value);
    for (int s = 0, m = plan->n; s < plan->n - 1; s++, m--) {
        int i = (int)aha_rng_below(r, (uint64_t)m);
        int j = (int)aha_rng_below(r, (uint64_t)(m - 1));
        j += j >= i; /* uniform ordered pair, i != j */
        char ops[4];
        int n_ops = 0;
        for (const char *o = "+-*/"; *o; o++)
            if (op_ok(pool[i], pool[j], *o)) ops[n_ops++] = *o;
        const char op = ops[aha_rng_below(r, (uint64_t)n_ops)]; /* '+' always applies */
        plan->steps[s] = (step_t){i, j, op};
        pool[i] = apply(pool[i], pool[j], op);
        if (j != m - 1) pool[j] = pool[m - 1];
    }
    return 0;
}

/* Fills *p from PLAN with the prompt order shuffled by R; -1 if the problem is rejected. */
static int make_problem(aha_rng_t *r, plan_t *plan, aha_cd_problem_t *p) {
    run_t run;
    if (run_plan(plan, 0, &run)) return -1;
    memset(p, 0, sizeof *p);
    p->n = plan->n;
    p->target = run.value;
    for (int k = 0; k < p->n; k++) {
        if (plan->numbers[k] == p->target) return -1; /* trivial: the target is given */
        p->numbers[k] = plan->numbers[k];
    }
    snprintf(p->solution, sizeof p->solution, "%s", run.expr);
    snprintf(p->trace, sizeof p->trace, "%s", run.trace);
    for (int i = p->n - 1; i > 0; i--) { /* Fisher-Yates: the prompt does not give the order away */
        int j = (int)aha_rng_below(r, (uint64_t)(i + 1));
        int t = p->numbers[i];
        p->numbers[i] = p->numbers[j];
        p->numbers[j] = t;
    }
    return 0;
}

/* Problem INDEX of SPLIT from the streams (seed, {tag, split, index, attempt}); also its plan. */
static int draw_problem(const aha_cd_config_t *cfg, uint64_t seed, uint64_t tag, int split,
                        uint64_t index, aha_cd_problem_t *out, plan_t *plan_out) {
    AHA_TRY(check_cfg(cfg));
    if (split != AHA_SPLIT_TRAIN && split != AHA_SPLIT_TEST)
        return AHA_FAIL(AHA_ERR_ARG, "countdown: unknown split %d", split);
    if (!out) return AHA_FAIL(AHA_ERR_ARG, "countdown: NULL output");
    for (uint64_t attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const uint64_t ids[] = {tag, (uint64_t)split, index, attempt};
        aha_rng_t r;
        aha_rng_derive(&r, seed, ids, 4);
        plan_t plan;
        aha_cd_problem_t p;
        if (draw_plan(&r, cfg, &plan) || make_problem(&r, &plan, &p)) continue;
        if (aha_cd_is_test(cfg, &p) != (split == AHA_SPLIT_TEST)) continue;
        *out = p;
        if (plan_out) *plan_out = plan;
        return AHA_OK;
    }
    return AHA_FAIL(AHA_ERR_STATE,
                    "countdown: no %s problem in %u attempts (%d..%d numbers of 1..%d)",
                    split == AHA_SPLIT_TEST ? "test" : "train", MAX_ATTEMPTS, cfg->min_numbers,
                    cfg->max_numbers, cfg->max_value);
}

int aha_cd_problem(const aha_cd_config_t *cfg, uint64_t seed, int split, uint64_t index,
                   aha_cd_problem_t *out) {
    return draw_problem(cfg, seed, AHA_STREAM_CD_PROBLEM, split, index, out, NULL);
}

/* ---- text ---- */

/* Copies TMP (LEN bytes + NUL) into buf or fails without touching it. */
static int emit(const char *tmp, int len, char *buf, size_t cap, const char *what) {
    if (len < 0 || len >= TEXT_MAX)
        return AHA_FAIL(AHA_ERR_RANGE, "countdown: %s exceeds %d bytes", what, TEXT_MAX);
    if (!buf || (size_t)len + 1 > cap)
        return AHA_FAIL(AHA_ERR_RANGE, "countdown: %s needs %d bytes, capacity is %zu", what,
                        len + 1, cap);
    memcpy(buf, tmp, (size_t)len + 1);
    return AHA_OK;
}

static int write_prompt(const aha_cd_problem_t *p, char *tmp) {
    int len = snprintf(tmp, TEXT_MAX, "<bos><|User|>");
    for (int i = 0; i < p->n; i++)
        len += snprintf(tmp + len, (size_t)(TEXT_MAX - len), i ? " %d" : "%d", p->numbers[i]);
    len += snprintf(tmp + len, (size_t)(TEXT_MAX - len), " -> %lld<|Assistant|>",
                    (long long)p->target);
    return len; /* < TEXT_MAX: at most 6 numbers of 11 chars */
}

int aha_cd_prompt(const aha_cd_problem_t *p, char *buf, size_t cap) {
    AHA_TRY(check_problem(p));
    char tmp[TEXT_MAX];
    return emit(tmp, write_prompt(p, tmp), buf, cap, "prompt");
}

int aha_cd_response(const aha_cd_problem_t *p, char *buf, size_t cap) {
    AHA_TRY(check_problem(p));
    char tmp[TEXT_MAX];
    int len = snprintf(tmp, sizeof tmp, "<think>%.*s</think><answer>%.*s</answer><eos>",
                       (int)sizeof p->trace, p->trace, (int)sizeof p->solution, p->solution);
    return emit(tmp, len, buf, cap, "response");
}

/* A wrong computation: PLAN with one step changed (another operator and/or the operands swapped),
 * later steps re-run with '+' where their operator no longer applies, ending away from TARGET.
 * Picks uniformly among all such variants; -1 if there is none. */
static int wrong_run(aha_rng_t *r, const plan_t *plan, int64_t target, run_t *out) {
    int n_var = 0;
    int chosen = -1;
    /* two passes: count the variants that miss, then run the chosen one again */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (n_var == 0) return -1;
            chosen = (int)aha_rng_below(r, (uint64_t)n_var);
        }
        int k = 0;
        for (int s = 0; s < plan->n - 1; s++)
            for (int swap = 0; swap < 2; swap++)
                for (const char *o = "+-*/"; *o; o++) {
                    const step_t orig = plan->steps[s];
                    if (!swap && *o == orig.op) continue;
                    if (swap && (*o == '+' || *o == '*') && orig.op == *o)
                        continue; /* same value */
                    plan_t v = *plan;
                    v.steps[s] = (step_t){swap ? orig.j : orig.i, swap ? orig.i : orig.j, *o};
                    run_t run; /* the changed step itself must apply (not fall back to '+') */
                    if (run_plan(&v, 1, &run) || v.steps[s].op != *o || run.value == target)
                        continue;
                    if (pass == 1 && k == chosen) {
                        *out = run;
                        return 0;
                    }
                    k++;
                }
        n_var = k;
    }
    return -1;
}

static int check_p(double p, const char *name) {
    if (!(p >= 0 && p <= 1))
        return AHA_FAIL(AHA_ERR_CONFIG, "countdown corpus: %s %g outside [0, 1]", name, p);
    return AHA_OK;
}

int aha_cd_document(const aha_cd_config_t *cfg, uint64_t seed, uint64_t index, double p_direct,
                    double p_mistake, double p_malformed, char *buf, size_t cap) {
    AHA_TRY(check_p(p_direct, "p_direct"));
    AHA_TRY(check_p(p_mistake, "p_mistake"));
    AHA_TRY(check_p(p_malformed, "p_malformed"));
    if (!buf) return AHA_FAIL(AHA_ERR_ARG, "countdown: NULL buffer");
    aha_cd_problem_t p;
    plan_t plan;
    AHA_TRY(
        draw_problem(cfg, seed, AHA_STREAM_CD_CORPUS_PROBLEM, AHA_SPLIT_TRAIN, index, &p, &plan));
    const uint64_t ids[] = {AHA_STREAM_CD_CORPUS, index};
    aha_rng_t r;
    aha_rng_derive(&r, seed, ids, 2);
    /* independent draws, always consumed in the same order */
    const int direct = aha_rng_uniform_d(&r) < p_direct;
    const int direct_correct = aha_rng_uniform_d(&r) < 0.25;
    const int mistake = aha_rng_uniform_d(&r) < p_mistake;
    const int malformed = aha_rng_uniform_d(&r) < p_malformed;
    run_t wrong;
    int have_wrong = 0;
    if ((direct && !direct_correct) || (!direct && mistake))
        have_wrong = wrong_run(&r, &plan, p.target, &wrong) == 0;
    if (!have_wrong) { /* no wrong variant (tiny problems): a lone given number, never the target */
        wrong.trace[0] = 0;
        snprintf(wrong.expr, sizeof wrong.expr, "%d", p.numbers[0]);
    }
    char tmp[TEXT_MAX];
    int len = write_prompt(&p, tmp);
    if (direct) {
        len += snprintf(tmp + len, (size_t)(TEXT_MAX - len), "<answer>%s</answer><eos>",
                        direct_correct ? p.solution : wrong.expr);
    } else {
        const char *trace = mistake ? wrong.trace : p.trace,
                   *ans = mistake ? wrong.expr : p.solution;
        len += snprintf(tmp + len, (size_t)(TEXT_MAX - len), "<think>%s%s<answer>%s</answer><eos>",
                        trace, malformed ? "" : "</think>", ans);
    }
    return emit(tmp, len, buf, cap, "document");
}

/* ---- answer: bounded recursive descent over exact rationals ---- */

static int cd_is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

typedef struct {
    const char *s, *e; /* cursor, end */
    const int *numbers;
    int n;
    unsigned char used[AHA_CD_EXPR_MAX_NUMBERS];
    int depth, tokens;
    int err; /* first error (CD_*), 0 while fine; parsing stops at the first */
} cd_parser_t;

static void cd_fail(cd_parser_t *p, int err) {
    if (!p->err) p->err = err;
}

/* Skips whitespace; returns the next byte (0 at the end) without consuming it. */
static char cd_peek(cd_parser_t *p) {
    while (p->s < p->e && cd_is_ws(*p->s))
        p->s++;
    return p->s < p->e ? *p->s : 0;
}

/* Consumes one single-byte token. */
static void cd_take(cd_parser_t *p) {
    p->s++;
    if (++p->tokens > AHA_CD_EXPR_MAX_TOKENS) cd_fail(p, AHA_CD_EVAL_LIMIT);
}

static aha_rational_t cd_expr(cd_parser_t *p);

static aha_rational_t cd_factor(cd_parser_t *p) {
    aha_rational_t v = {0, 1};
    char c = cd_peek(p);
    if (c == '(') {
        if (++p->depth > AHA_CD_EXPR_MAX_DEPTH) {
            cd_fail(p, AHA_CD_EVAL_LIMIT);
            return v;
        }
        cd_take(p);
        if (p->err) return v;
        v = cd_expr(p);
        if (p->err) return v;
        if (cd_peek(p) != ')') {
            cd_fail(p, AHA_CD_EVAL_SYNTAX);
            return v;
        }
        cd_take(p);
        p->depth--;
        return v;
    }
    if (c < '0' || c > '9') {
        cd_fail(p, AHA_CD_EVAL_SYNTAX);
        return v;
    }
    /* NUMBER: '0' or [1-9][0-9]{0,9} */
    const char *start = p->s;
    int64_t x = 0;
    while (p->s < p->e && *p->s >= '0' && *p->s <= '9') {
        if (p->s - start >= 10) {
            cd_fail(p, AHA_CD_EVAL_NUMBER); /* longer than any int: not a given number */
            return v;
        }
        x = x * 10 + (*p->s++ - '0');
    }
    if (*start == '0' && p->s - start > 1) {
        cd_fail(p, AHA_CD_EVAL_SYNTAX); /* leading zero: not spelled as given */
        return v;
    }
    if (++p->tokens > AHA_CD_EXPR_MAX_TOKENS) {
        cd_fail(p, AHA_CD_EVAL_LIMIT);
        return v;
    }
    for (int i = 0; i < p->n; i++)
        if (!p->used[i] && (int64_t)p->numbers[i] == x) {
            p->used[i] = 1;
            v.num = x;
            return v;
        }
    cd_fail(p, AHA_CD_EVAL_NUMBER);
    return v;
}

/* A left-associative chain OPERAND (OPS[0] | OPS[1]) OPERAND ...: COMBINE(v, r, inverse, &v) folds
 * each operand in (inverse: the operator was OPS[1]); an arithmetic failure (division by zero,
 * overflow) ends the parse. */
static aha_rational_t
cd_chain(cd_parser_t *p, const char ops[2], aha_rational_t (*operand)(cd_parser_t *),
         int (*combine)(aha_rational_t, aha_rational_t, int, aha_rational_t *)) {
    aha_rational_t v = operand(p);
    for (;;) {
        if (p->err) return v;
        const char op = cd_peek(p);
        if (op != ops[0] && op != ops[1]) return v;
        cd_take(p);
        const aha_rational_t r = operand(p);
        if (!p->err && combine(v, r, op == ops[1], &v)) cd_fail(p, AHA_CD_EVAL_ARITH);
    }
}

static aha_rational_t cd_term(cd_parser_t *p) {
    return cd_chain(p, "*/", cd_factor, aha_rat_mul);
}

static aha_rational_t cd_expr(cd_parser_t *p) {
    return cd_chain(p, "+-", cd_term, aha_rat_add);
}

int aha_cd_eval(const char *expr, size_t len, const int *numbers, int n, aha_rational_t *out,
                size_t *at) {
    *at = 0;
    if (len > AHA_CD_EXPR_MAX_LEN) return AHA_CD_EVAL_LIMIT;
    cd_parser_t p = {.s = expr, .e = expr + len, .numbers = numbers, .n = n};
    aha_rational_t v = cd_expr(&p);
    if (!p.err && cd_peek(&p)) p.err = AHA_CD_EVAL_SYNTAX; /* trailing input */
    *at = (size_t)(p.s - expr);
    if (p.err) return p.err;
    *out = v;
    return AHA_CD_EVAL_OK;
}
