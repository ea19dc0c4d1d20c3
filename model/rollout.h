/* model/rollout.h — the rollout: sampled rows of a model (prompt + response tokens, behaviour
 * log-probs, optional routing record), the data type shared by the actor (which fills it,
 * actor/rollout.h), the wire conversion (verifier/group_msg.h) and the learner (which trains on it,
 * learner/group_batch.h). It lives in model/ because its layout is the model's: the routing
 * record is aha_batch_t.replay_ids of the model's forward with B = n, T = max_len, and the row
 * shape is fixed by the model's layer count and top-k. */
#ifndef AHA_MODEL_ROLLOUT_H
#define AHA_MODEL_ROLLOUT_H
#include <stddef.h>
#include "model/model.h"

/* Most samples in one group (rl.group_size): the config, the wire checks and the fixed per-group
 * arrays of the trainer and the actor all use this bound. */
#define AHA_GROUP_MAX 1024

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
    void *mem;       /* the arrays above, one allocation; owned */
    void *work;      /* generation workspace (aha_generate), allocated on first use; owned */
    size_t work_bytes;
} aha_rollout_t;

/* A rollout for N rows of MAX_LEN tokens (2 <= max_len <= the model's max_seq_len) of model M
 * (its layer count and top-k are fixed here); expert ids are recorded iff RECORD_EXPERTS and the
 * model has routed experts. *out written only on success. */
int aha_rollout_new(const aha_model_t *m, int n, int max_len, int record_experts,
                    aha_rollout_t **out);
void aha_rollout_destroy(aha_rollout_t **r);

/* Response text of row b (tokenizer spellings, <eos> included if generated) into buf. */
int aha_rollout_response_text(const aha_rollout_t *r, int b, char *buf, size_t cap);

#endif
