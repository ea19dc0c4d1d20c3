/* tasks/compare.c — the non-reasoning task max(a, b) (see compare.h). */
#include "tasks/compare.h"
#include "core/err.h"
#include "core/rng.h"
#include <stdio.h>
#include <string.h>

/* Copies TMP (N bytes from snprintf) into buf, or fails without touching it. */
static int emit(char *buf, size_t cap, const char *what, const char *tmp, int n) {
    if (n < 0 || (size_t)n + 1 > cap || !buf)
        return AHA_FAIL(AHA_ERR_RANGE, "compare: %s needs %d bytes, capacity is %zu", what, n + 1,
                        cap);
    memcpy(buf, tmp, (size_t)n + 1);
    return AHA_OK;
}

static int check(const aha_add_problem_t *p) {
    if (!p || p->a < 0 || p->b < 0 || p->a >= 1000000000000LL || p->b >= 1000000000000LL)
        return AHA_FAIL(AHA_ERR_ARG, "compare: operands must be in [0, 10^12)");
    return AHA_OK;
}

int aha_cmp_prompt(const aha_add_problem_t *p, char *buf, size_t cap) {
    AHA_TRY(check(p));
    char tmp[128];
    int n = snprintf(tmp, sizeof tmp, "<bos><|User|>max(%lld,%lld)<|Assistant|>", (long long)p->a,
                     (long long)p->b);
    return emit(buf, cap, "prompt", tmp, n);
}

int aha_cmp_reference(const aha_add_problem_t *p, char *buf, size_t cap) {
    AHA_TRY(check(p));
    char tmp[128];
    int n = snprintf(tmp, sizeof tmp, "<think></think><answer>%lld</answer><eos>",
                     (long long)(p->a > p->b ? p->a : p->b));
    return emit(buf, cap, "response", tmp, n);
}

int aha_cmp_document(const aha_corpus_config_t *cc, const aha_add_config_t *ac, uint64_t seed,
                     uint64_t index, char *buf, size_t cap) {
    if (!cc || !ac || !buf) return AHA_FAIL(AHA_ERR_ARG, "compare: NULL argument");
    if (!(cc->p_direct + cc->p_trace > 0))
        return AHA_FAIL(AHA_ERR_CONFIG, "corpus: p_direct + p_trace must be > 0");
    aha_add_problem_t p;
    AHA_TRY(aha_add_problem(ac, seed ^ 0x636d70ull, AHA_SPLIT_TRAIN, index, &p));
    const uint64_t ids[] = {AHA_STREAM_CMP_CORPUS, index};
    aha_rng_t r;
    aha_rng_derive(&r, seed, ids, 2);
    const int correct = aha_rng_uniform_d(&r) < 0.75;
    const int direct = aha_rng_uniform_d(&r) * (cc->p_direct + cc->p_trace) < cc->p_direct;
    const int malformed = aha_rng_uniform_d(&r) < cc->p_malformed;
    const int64_t hi = p.a > p.b ? p.a : p.b, lo = p.a > p.b ? p.b : p.a;
    char prompt[128], text[384];
    AHA_TRY(aha_cmp_prompt(&p, prompt, sizeof prompt));
    int n = snprintf(text, sizeof text, "%s%s<answer>%lld</answer>%.*s<eos>", prompt,
                     direct ? "" : "<think></think>", (long long)(correct ? hi : lo),
                     malformed ? 1 : 0, "7");
    return emit(buf, cap, "document", text, n);
}
