#include "actor/rollout.h"
#include "core/err.h"
#include "model/tokenizer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* aha_generate's scratch, laid out in the rollout's workspace (one allocation, reused). */
typedef struct {
    int *feed, *active, *stopped; /* [n]; stopped: no more tokens (<eos> or a length limit) */
    float *logits;                /* [n*V] */
    aha_sample_cand_t *cands;     /* [V] sampler scratch */
    int *step_ids;                /* [L*n*K] or NULL */
    int *leader;                  /* [n] first row with the same prompt */
    int *prefill_ids;             /* [L*max_len*K] or NULL */
} gen_work_t;

/* Carves N elements of SIZE bytes (16-byte aligned) from *at; with BASE NULL only counts. */
static void *carve(char *base, size_t *at, size_t n, size_t size) {
    void *p = base ? base + *at : NULL;
    *at += (n * size + 15) & ~(size_t)15;
    return p;
}

/* Points W into BASE (NULL: only measures); returns the bytes needed. */
static size_t layout_work(gen_work_t *w, char *base, int n, int V, int L, int K, int max_len) {
    size_t at = 0;
    w->feed = carve(base, &at, (size_t)n, sizeof(int));
    w->active = carve(base, &at, (size_t)n, sizeof(int));
    w->stopped = carve(base, &at, (size_t)n, sizeof(int));
    w->logits = carve(base, &at, (size_t)n * V, sizeof(float));
    w->cands = carve(base, &at, (size_t)V, sizeof(aha_sample_cand_t));
    w->step_ids = K > 0 ? carve(base, &at, (size_t)L * n * K, sizeof(int)) : NULL;
    w->leader = carve(base, &at, (size_t)n, sizeof(int));
    w->prefill_ids = K > 0 ? carve(base, &at, (size_t)L * max_len * K, sizeof(int)) : NULL;
    return at;
}

/* Everything aha_generate can reject, checked before anything is written. */
static int check_generate_args(const aha_model_t *m, const aha_kv_t *kv, const int *const *prompts,
                               const int *prompt_lens, const aha_rng_t *rngs,
                               const aha_gen_config_t *gen, const aha_rollout_t *r) {
    if (!m || !kv || !prompts || !prompt_lens || !rngs || !gen || !r)
        return AHA_FAIL(AHA_ERR_ARG, "generate: NULL argument");
    const int K = m->cfg.n_routed_experts > 0 ? m->cfg.top_k : 0;
    if (r->n_layers != m->cfg.n_layers || r->top_k != K)
        return AHA_FAIL(AHA_ERR_ARG, "generate: rollout made for another model (%d layers, top-%d)",
                        r->n_layers, r->top_k);
    if (aha_kv_rows(kv) != r->n)
        return AHA_FAIL(AHA_ERR_ARG, "generate: KV cache has %d rows, rollout %d", aha_kv_rows(kv),
                        r->n);
    if (aha_kv_capacity(kv) < r->max_len - 1)
        return AHA_FAIL(AHA_ERR_RANGE, "generate: KV cache holds %d positions, rows need %d",
                        aha_kv_capacity(kv), r->max_len - 1);
    if (gen->max_new_tokens < 1 || !(gen->temperature >= 0) || isinf(gen->temperature) ||
        !(gen->top_p > 0 && gen->top_p <= 1))
        return AHA_FAIL(AHA_ERR_ARG,
                        "generate: max_new_tokens %d (>= 1), temperature %g (finite, >= 0), top_p "
                        "%g (in (0, 1])",
                        gen->max_new_tokens, gen->temperature, gen->top_p);
    for (int b = 0; b < r->n; b++) {
        if (!prompts[b] || prompt_lens[b] <= 0 || prompt_lens[b] >= r->max_len)
            return AHA_FAIL(AHA_ERR_ARG, "generate: row %d prompt length %d (max_len %d)", b,
                            prompt_lens[b], r->max_len);
        for (int t = 0; t < prompt_lens[b]; t++)
            if (prompts[b][t] < 0 || prompts[b][t] >= m->cfg.vocab_size)
                return AHA_FAIL(AHA_ERR_ARG, "generate: row %d token %d is %d (vocab %d)", b, t,
                                prompts[b][t], m->cfg.vocab_size);
    }
    return AHA_OK;
}

/* Samples row b's token after position pos (its logits in LOGITS[V]) with its own RNG: appends
 * it with its behaviour log-prob; stops the row on <eos> or a length limit. */
static int sample_next(aha_rollout_t *r, int b, int pos, const float *logits, int V,
                       const aha_gen_config_t *gen, aha_rng_t *rng, aha_sample_cand_t *scratch,
                       int *stopped) {
    float lp = 0;
    int tok = aha_sample_logits(logits, V, gen->temperature, gen->top_p, rng, scratch, &lp);
    if (tok < 0) return tok;
    r->tokens[(size_t)b * r->max_len + pos + 1] = tok;
    r->logprobs[(size_t)b * r->max_len + pos + 1] = lp;
    r->total_len[b]++;
    /* the last token is never fed: nothing would read its logits */
    if (tok == AHA_TOK_EOS) r->finished[b] = stopped[b] = 1;
    if (r->total_len[b] - r->prompt_len[b] >= gen->max_new_tokens || r->total_len[b] >= r->max_len)
        stopped[b] = 1;
    return AHA_OK;
}

/* The prompts: each distinct one prefilled once into its first row (aha_kv_prefill), the rows
 * with the same prompt copy that row's cache, logits and routing record; then every row samples
 * its first token. */
static int prefill_prompts(const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                           const int *prompt_lens, aha_rng_t *rngs, const aha_gen_config_t *gen,
                           aha_rollout_t *r, gen_work_t *w) {
    const int n = r->n, V = m->cfg.vocab_size, L = m->cfg.n_layers, K = r->top_k;
    for (int b = 0; b < n; b++) {
        int lead = b;
        for (int a = 0; a < b && lead == b; a++)
            if (w->leader[a] == a && prompt_lens[a] == prompt_lens[b] &&
                (prompts[a] == prompts[b] ||
                 !memcmp(prompts[a], prompts[b], sizeof(int) * prompt_lens[b])))
                lead = a;
        w->leader[b] = lead;
        const int P = prompt_lens[b];
        float *lg = w->logits + (size_t)b * V;
        if (lead == b) {
            AHA_TRY(aha_kv_prefill(m, kv, b, prompts[b], P, lg, w->prefill_ids));
        } else {
            AHA_TRY(aha_kv_copy_row(kv, b, lead));
            memcpy(lg, w->logits + (size_t)lead * V, sizeof(float) * V);
        }
        if (r->expert_ids && lead == b) /* prefill_ids still holds this prompt's record */
            for (int l = 0; l < L; l++)
                for (int t = 0; t < P; t++)
                    memcpy(r->expert_ids + (((size_t)l * n + b) * r->max_len + t) * K,
                           w->prefill_ids + ((size_t)l * P + t) * K, sizeof(int) * K);
        else if (r->expert_ids)
            for (int l = 0; l < L; l++)
                memcpy(r->expert_ids + ((size_t)l * n + b) * r->max_len * K,
                       r->expert_ids + ((size_t)l * n + lead) * r->max_len * K,
                       sizeof(int) * (size_t)P * K);
    }
    for (int b = 0; b < n; b++)
        AHA_TRY(sample_next(r, b, prompt_lens[b] - 1, w->logits + (size_t)b * V, V, gen, &rngs[b],
                            w->cands, w->stopped));
    return AHA_OK;
}

static int generate(const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                    const int *prompt_lens, aha_rng_t *rngs, const aha_gen_config_t *gen,
                    int stepwise_prompt, aha_rollout_t *r) {
    AHA_TRY(check_generate_args(m, kv, prompts, prompt_lens, rngs, gen, r));
    const int n = r->n, V = m->cfg.vocab_size, L = m->cfg.n_layers, K = r->top_k;
    gen_work_t w;
    const size_t need = layout_work(&w, NULL, n, V, L, K, r->max_len);
    if (r->work_bytes < need) { /* first call (or a larger vocabulary): allocated once */
        void *p = realloc(r->work, need);
        if (!p) return AHA_FAIL(AHA_ERR_NOMEM, "generate workspace of %zu bytes", need);
        r->work = p;
        r->work_bytes = need;
    }
    layout_work(&w, r->work, n, V, L, K, r->max_len);
    int *feed = w.feed, *active = w.active, *stopped = w.stopped, *step_ids = w.step_ids;
    float *logits = w.logits;
    aha_sample_cand_t *scratch = w.cands;
    int rc = AHA_OK;
    aha_kv_reset(kv);
    memset(r->logprobs, 0, sizeof(float) * (size_t)n * r->max_len);
    if (r->expert_ids) {
        size_t cells = (size_t)L * n * r->max_len * K;
        for (size_t i = 0; i < cells; i++)
            r->expert_ids[i] = -1;
    }
    for (int b = 0; b < n; b++) {
        int *row = r->tokens + (size_t)b * r->max_len;
        memcpy(row, prompts[b], sizeof(int) * prompt_lens[b]);
        for (int t = prompt_lens[b]; t < r->max_len; t++)
            row[t] = AHA_TOK_PAD;
        r->prompt_len[b] = r->total_len[b] = prompt_lens[b];
        r->finished[b] = 0;
        stopped[b] = 0;
    }
    if (!stepwise_prompt) AHA_TRY(prefill_prompts(m, kv, prompts, prompt_lens, rngs, gen, r, &w));
    for (;;) {
        /* Feed position pos = kv_len of each live row: prompt tokens first, then sampled ones. */
        int any = 0;
        for (int b = 0; b < n; b++) {
            int pos = aha_kv_len(kv, b);
            int live = !stopped[b] && pos < r->total_len[b];
            active[b] = live;
            if (live) feed[b] = r->tokens[(size_t)b * r->max_len + pos];
            any |= live;
        }
        if (!any) break;
        AHA_TRY_GOTO(rc, aha_decode_step(m, kv, feed, active, logits, step_ids), done);
        for (int b = 0; b < n; b++) {
            if (!active[b]) continue;
            int pos = aha_kv_len(kv, b) - 1; /* position just fed */
            if (r->expert_ids)
                for (int l = 0; l < L; l++)
                    for (int k = 0; k < K; k++)
                        r->expert_ids[(((size_t)l * n + b) * r->max_len + pos) * K + k] =
                            step_ids[((size_t)l * n + b) * K + k];
            if (pos + 1 < r->total_len[b]) continue; /* still in the prompt */
            AHA_TRY_GOTO(
                rc,
                sample_next(r, b, pos, logits + (size_t)b * V, V, gen, &rngs[b], scratch, stopped),
                done);
        }
    }
done:
    return rc;
}

int aha_generate(const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                 const int *prompt_lens, aha_rng_t *rngs, const aha_gen_config_t *gen,
                 aha_rollout_t *r) {
    return generate(m, kv, prompts, prompt_lens, rngs, gen, 0, r);
}

int aha_generate_stepwise(const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                          const int *prompt_lens, aha_rng_t *rngs, const aha_gen_config_t *gen,
                          aha_rollout_t *r) {
    return generate(m, kv, prompts, prompt_lens, rngs, gen, 1, r);
}
