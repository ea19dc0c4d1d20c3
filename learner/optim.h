/* learner/optim.h — AdamW (decoupled weight decay, PyTorch semantics), global-norm gradient
 * clipping and the warmup + cosine learning-rate schedule.
 * The optimizer owns its moment buffers (m, v mirror the parameter buffer); parameters and
 * gradients belong to the caller. */
#ifndef AHA_LEARNER_OPTIM_H
#define AHA_LEARNER_OPTIM_H
#include <stddef.h>
#include <stdint.h>

#define AHA_ADAMW_EPS 1e-8 /* the eps of every AdamW in the project (pretraining and RL) */

typedef struct {
    double beta1, beta2, eps, weight_decay;
} aha_adamw_config_t;

typedef struct {
    size_t n;       /* moments held: parameters [offset, offset + n) of a vector of total */
    size_t offset;  /* 0 unless a shard (ZeRO-1, learner/dist.h) */
    size_t total;   /* parameters of the whole vector (n unless a shard) */
    float *m, *v;   /* [n] first and second moments */
    int64_t t;      /* steps taken */
    uint8_t *decay; /* [n] 1 where weight decay applies (matrices), 0 for norms; owned */
} aha_adamw_t;

/* Moments zeroed; decay mask all ones (use aha_adamw_set_decay to exclude ranges). */
int aha_adamw_new(size_t n, aha_adamw_t **out);
/* The optimizer of parameters [offset, offset + count) of a vector of TOTAL (ZeRO-1: each rank
 * holds the moments of its shard). AHA_ERR_ARG if the range is not inside TOTAL. */
int aha_adamw_new_shard(size_t total, size_t offset, size_t count, aha_adamw_t **out);
void aha_adamw_destroy(aha_adamw_t **opt);
/* Sets the decay of parameters [offset, offset+count) of the whole vector = on (the part inside
 * the optimizer's range). */
void aha_adamw_set_decay(aha_adamw_t *opt, size_t offset, size_t count, int on);
/* One step, as torch.optim.AdamW: p -= lr*wd*p (if decay); m,v update; p -=
 * lr*mhat/(sqrt(vhat)+eps). PARAMS and GRADS are the whole vector (total); a shard updates
 * params[offset .. offset + n) only. */
void aha_adamw_step(aha_adamw_t *opt, float *params, const float *grads, double lr,
                    const aha_adamw_config_t *cfg);

/* Saves / restores the moments and step count as safetensors (m, v: F32 [n]; t: I64 [1]) so a
 * resumed run continues bit-exactly. Load checks the size matches. Whole optimizers only (shards:
 * learner/run_state.h). */
int aha_adamw_save(const aha_adamw_t *opt, const char *path);
int aha_adamw_load(aha_adamw_t *opt, const char *path);

/* L2 norm of g[0..n) computed in double. */
double aha_grad_norm(const float *g, size_t n);
/* Scales g so its norm is at most max_norm (max_norm <= 0: no clipping). Returns the norm before.
 */
double aha_grad_clip(float *g, size_t n, double max_norm);

/* Linear warmup over `warmup` steps to lr_max, then cosine decay to lr_min at `total` steps
 * (step counts from 0; past total stays at lr_min). */
double aha_lr_schedule(int64_t step, int64_t warmup, int64_t total, double lr_max, double lr_min);

#endif
