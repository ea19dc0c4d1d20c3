/* actor/rollout.h — batched generation with the KV cache: one call samples a continuation for
 * each row (a GRPO group is one call with G copies of a prompt), recording each sampled token's
 * behaviour log-prob and, optionally, the routed expert ids (routing record for R3).
 *
 * Row b's randomness comes only from rngs[b], so a row's output does not depend on which other
 * rows share the batch or which process runs it. The rollout owns its buffers. */
#ifndef AHA_ACTOR_ROLLOUT_H
#define AHA_ACTOR_ROLLOUT_H
#include "core/rng.h"
#include "model/model.h"

typedef struct {
    int max_new_tokens;
    float temperature; /* 0 = greedy */
    float top_p;       /* 1 = off */
} aha_gen_config_t;

typedef struct {
    int n;       /* rows */
    int max_len; /* capacity of each row: prompt + response */
    int n_layers, top_k;
    int *tokens;     /* [n*max_len]: prompt then response */
    int *prompt_len; /* [n] */
    int *total_len;  /* [n] prompt + response */
    float *logprobs; /* [n*max_len]: behaviour log-prob of the token at each response position */
    int *expert_ids; /* [n_layers*n*max_len*top_k] (layout of aha_batch_t.replay_ids with B=n,
                        T=max_len), -1 where nothing was routed; NULL unless recorded */
    int *finished;   /* [n] 1 if the row ended with <eos> */
} aha_rollout_t;

/* A rollout for N rows of MAX_LEN tokens (2 <= max_len <= the model's max_seq_len) of model M
 * (its layer count and top-k are fixed here); expert ids are recorded iff RECORD_EXPERTS and the
 * model has routed experts. *out written only on success. */
int aha_rollout_new(const aha_model_t *m, int n, int max_len, int record_experts,
                    aha_rollout_t **out);
void aha_rollout_destroy(aha_rollout_t **r);

/* Generates rows 0..r->n-1 from prompts[b][0..prompt_lens[b]) until <eos>, max_new_tokens or
 * max_len. KV must have r->n rows and hold at least max_len - 1 positions; it is reset first.
 * After success, row b is tokens[0..total_len) then <pad>; logprobs are 0 outside the response;
 * the last token of a row is never fed to the model, so its expert ids are -1 like everything
 * from total_len on. Every argument (NULLs, a rollout or KV of another shape, prompt lengths in
 * [1, max_len), prompt tokens in the vocabulary, max_new_tokens >= 1, a finite temperature >= 0,
 * top_p in (0, 1]) is checked before anything is written: AHA_ERR_ARG / AHA_ERR_RANGE. */
int aha_generate(const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                 const int *prompt_lens, aha_rng_t *rngs, const aha_gen_config_t *gen,
                 aha_rollout_t *r);

/* Response text of row b (tokenizer spellings, <eos> included if generated) into buf. */
int aha_rollout_response_text(const aha_rollout_t *r, int b, char *buf, size_t cap);

#endif
