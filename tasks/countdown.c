#include "tasks/countdown.h"
#include "core/err.h"
#include "tasks/addition.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STREAM_CD = 0xCD01, STREAM_CD_DOC = 0xCD02 };

void aha_cd_config_default(aha_cd_config_t *c) {
    c->min_numbers = 3;
    c->max_numbers = 4;
    c->max_value = 25;
    c->test_fraction = 0.1;
}

static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int aha_cd_is_test(const aha_cd_config_t *cfg, const aha_cd_problem_t *p) {
    int s[AHA_CD_MAX_NUMBERS];
    memcpy(s, p->numbers, sizeof(int) * p->n);
    for (int i = 1; i < p->n; i++) /* insertion sort: the split ignores the order */
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            int t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    uint64_t h = mix64((uint64_t)p->target);
    for (int i = 0; i < p->n; i++) h = mix64(h ^ (uint64_t)s[i]);
    return (double)(h % 1000000u) < cfg->test_fraction * 1e6;
}

/* Builds a problem from the numbers in order: picks a feasible op per step. */
static int build(aha_rng_t *r, const aha_cd_config_t *c, aha_cd_problem_t *p) {
    memset(p, 0, sizeof *p);
    p->n = c->min_numbers + (int)aha_rng_below(r, (uint64_t)(c->max_numbers - c->min_numbers + 1));
    for (int i = 0; i < p->n; i++) p->numbers[i] = 1 + (int)aha_rng_below(r, (uint64_t)c->max_value);
    int64_t v = p->numbers[0];
    char expr[96];
    snprintf(expr, sizeof expr, "%d", p->numbers[0]);
    int top_additive = 0; /* expr's top-level operator is + or - */
    size_t tpos = 0;
    for (int i = 1; i < p->n; i++) {
        int x = p->numbers[i];
        char ops[4];
        int n_ops = 0;
        ops[n_ops++] = '+';
        if (v > x) ops[n_ops++] = '-';
        if (v * x <= 1000 && x > 1) ops[n_ops++] = '*';
        if (x > 1 && v % x == 0) ops[n_ops++] = '/';
        char op = ops[aha_rng_below(r, (uint64_t)n_ops)];
        int64_t nv = op == '+' ? v + x : op == '-' ? v - x : op == '*' ? v * x : v / x;
        int w = snprintf(p->trace + tpos, sizeof p->trace - tpos, "%lld%c%d=%lld;", (long long)v, op, x, (long long)nv);
        if (w < 0 || (size_t)w >= sizeof p->trace - tpos) return -1;
        tpos += (size_t)w;
        char next[96];
        if ((op == '*' || op == '/') && top_additive) w = snprintf(next, sizeof next, "(%s)%c%d", expr, op, x);
        else w = snprintf(next, sizeof next, "%s%c%d", expr, op, x);
        if (w < 0 || (size_t)w >= sizeof next) return -1;
        memcpy(expr, next, sizeof expr);
        top_additive = op == '+' || op == '-';
        v = nv;
    }
    p->target = v;
    snprintf(p->solution, sizeof p->solution, "%s", expr);
    /* shuffle the prompt order so the solution order is not given away */
    for (int i = p->n - 1; i > 0; i--) {
        int j = (int)aha_rng_below(r, (uint64_t)(i + 1));
        int t = p->numbers[i];
        p->numbers[i] = p->numbers[j];
        p->numbers[j] = t;
    }
    return 0;
}

int aha_cd_problem(const aha_cd_config_t *cfg, uint64_t seed, int split, uint64_t index,
                   aha_cd_problem_t *out) {
    if (cfg->min_numbers < 2 || cfg->max_numbers > AHA_CD_MAX_NUMBERS || cfg->min_numbers > cfg->max_numbers ||
        cfg->max_value < 1 || cfg->max_value > 1000 || !(cfg->test_fraction > 0 && cfg->test_fraction < 1))
        return AHA_FAIL(AHA_ERR_CONFIG, "countdown: need 2 <= min_numbers <= max_numbers <= %d, 1 <= max_value <= 1000, test_fraction in (0,1)",
                        AHA_CD_MAX_NUMBERS);
    for (uint64_t attempt = 0; attempt < 100000; attempt++) {
        const uint64_t ids[] = {STREAM_CD, (uint64_t)split, index, attempt};
        aha_rng_t r;
        aha_rng_derive(&r, seed, ids, 4);
        aha_cd_problem_t p;
        if (build(&r, cfg, &p) == 0 && aha_cd_is_test(cfg, &p) == (split == AHA_SPLIT_TEST)) {
            *out = p;
            return AHA_OK;
        }
    }
    return AHA_FAIL(AHA_ERR_STATE, "countdown: no problem found");
}

int aha_cd_prompt(const aha_cd_problem_t *p, char *buf, size_t cap) {
    size_t pos = 0;
    int w = snprintf(buf, cap, "<bos><|User|>");
    for (int i = 0; w >= 0 && (size_t)w < cap - pos && i < p->n; i++) {
        pos += (size_t)w;
        w = snprintf(buf + pos, cap - pos, i ? " %d" : "%d", p->numbers[i]);
    }
    if (w < 0 || (size_t)w >= cap - pos) return AHA_FAIL(AHA_ERR_RANGE, "countdown: prompt exceeds %zu bytes", cap);
    pos += (size_t)w;
    w = snprintf(buf + pos, cap - pos, " -> %lld<|Assistant|>", (long long)p->target);
    if (w < 0 || (size_t)w >= cap - pos) return AHA_FAIL(AHA_ERR_RANGE, "countdown: prompt exceeds %zu bytes", cap);
    return AHA_OK;
}

int aha_cd_response(const aha_cd_problem_t *p, char *buf, size_t cap) {
    int w = snprintf(buf, cap, "<think>%s</think><answer>%s</answer><eos>", p->trace, p->solution);
    if (w < 0 || (size_t)w >= cap) return AHA_FAIL(AHA_ERR_RANGE, "countdown: response exceeds %zu bytes", cap);
    return AHA_OK;
}

int aha_cd_document(const aha_cd_config_t *cfg, uint64_t seed, uint64_t index, double p_direct,
                    double p_mistake, double p_malformed, char *buf, size_t cap) {
    aha_cd_problem_t p;
    AHA_TRY(aha_cd_problem(cfg, seed, AHA_SPLIT_TRAIN, index, &p));
    const uint64_t ids[] = {STREAM_CD_DOC, index};
    aha_rng_t r;
    aha_rng_derive(&r, seed, ids, 2);
    AHA_TRY(aha_cd_prompt(&p, buf, cap));
    size_t pos = strlen(buf);
    char resp[400];
    if (aha_rng_uniform_d(&r) < p_direct) {
        /* answer only: the solution, or (75%) the numbers joined by + */
        if (aha_rng_uniform_d(&r) < 0.25) snprintf(resp, sizeof resp, "<answer>%s</answer><eos>", p.solution);
        else {
            char e[96] = "";
            size_t n = 0;
            for (int i = 0; i < p.n; i++) n += (size_t)snprintf(e + n, sizeof e - n, i ? "+%d" : "%d", p.numbers[i]);
            snprintf(resp, sizeof resp, "<answer>%s</answer><eos>", e);
        }
    } else {
        if (aha_rng_uniform_d(&r) < p_mistake) {
            /* one step's result off by one: the final value misses the target */
            char *eq = p.trace;
            int steps = 0;
            for (char *q = p.trace; *q; q++) steps += *q == '=';
            int k = (int)aha_rng_below(&r, (uint64_t)steps);
            for (int i = 0; i <= k; i++) eq = strchr(eq, '=') + 1;
            long long v = strtoll(eq, NULL, 10);
            char rest[160];
            snprintf(rest, sizeof rest, "%s", strchr(eq, ';'));
            snprintf(eq, sizeof p.trace - (size_t)(eq - p.trace), "%lld%s", v + 1, rest);
            snprintf(resp, sizeof resp, "<think>%s</think><answer>%s+1</answer><eos>", p.trace, p.solution);
        } else {
            AHA_TRY(aha_cd_response(&p, resp, sizeof resp));
        }
        if (aha_rng_uniform_d(&r) < p_malformed) {
            char *x = strstr(resp, "</think>");
            if (x) memmove(x, x + 8, strlen(x + 8) + 1);
        }
    }
    if (pos + strlen(resp) + 1 > cap) return AHA_FAIL(AHA_ERR_RANGE, "countdown: document exceeds %zu bytes", cap);
    memcpy(buf + pos, resp, strlen(resp) + 1);
    return AHA_OK;
}
