/* learner/dist.h — the learner's MPI layer (docs/mpi.md): data-parallel GRPO over N ranks.
 *
 * `aha train` calls aha_dist_init once: launched by mpirun / srun (Open MPI, PMIx or Slurm
 * variables in the environment, or AHA_MPI=1) it initialises MPI and reports the world's rank
 * and size; otherwise it does not touch MPI at all and is the singleton (rank 0 of 1), so a plain
 * `aha train` runs exactly as without this layer. A world of one rank is treated like the
 * singleton everywhere (no communication).
 *
 * Data parallel (what is sharded now): rank 0 alone samples, scores and talks ZeroMQ; it
 * broadcasts the step's scored batch (aha_dist_bcast_batch); every minibatch of the update is
 * split into whole groups across the ranks (aha_dist_share); each rank runs forward/backward on
 * its share with the loss normalised as the whole minibatch's would be (aha_dist_loss_scale);
 * gradients and the routed expert load are summed (aha_dist_allreduce_f32, in buckets) and every
 * rank owns the AdamW moments of one contiguous shard of the parameters (ZeRO-1): the gradient is
 * reduce-scattered (aha_dist_reduce_scatter_f32), each rank clips (global norm) and updates its
 * shard, and the parameters are allgathered (aha_dist_allgather_f32), so every rank ends the step
 * with the same bytes. Checkpoints: every rank writes its optimizer shard (learner/run_state.h);
 * rank 0 the model, state and metrics. Not yet: expert parallel.
 *
 * Every MPI call happens on the thread that called aha_dist_init (the main thread). Errors are
 * AHA_ERR_NET with the MPI error string. */
#ifndef AHA_LEARNER_DIST_H
#define AHA_LEARNER_DIST_H
#include "learner/grpo.h"
#include "learner/pg_loss.h"
#include <stddef.h>

typedef struct aha_dist aha_dist_t;

/* Floats per MPI_Allreduce of the gradient (1 Mi floats = 4 MiB buckets). */
enum { AHA_DIST_BUCKET = 1 << 20 };

/* 1 if the environment says this process was started by an MPI launcher (mpirun / mpiexec of
 * Open MPI, srun with PMI/PMIx) or AHA_MPI=1 asks for MPI; AHA_MPI=0 forces the singleton. */
int aha_dist_launched(void);
/* The world of this process: MPI_Init_thread (FUNNELED) when aha_dist_launched(), else the
 * singleton without MPI. *out written only on success. */
int aha_dist_init(aha_dist_t **out);
/* MPI_Finalize (if this layer initialised MPI) and free. NULL-safe; NULLs *d. */
void aha_dist_finalize(aha_dist_t **d);
/* Ends every rank (MPI_Abort) after an error on one of them: the others may be waiting in a
 * collective. Only for the command's main(); a singleton returns. */
void aha_dist_abort(const aha_dist_t *d, int code);

int aha_dist_rank(const aha_dist_t *d); /* 0 for NULL */
int aha_dist_size(const aha_dist_t *d); /* 1 for NULL */
/* 1 when there is more than one rank (the data-parallel paths are taken). */
int aha_dist_active(const aha_dist_t *d);

/* In-place sum over the ranks of BUF[n], AHA_DIST_BUCKET floats per MPI_Allreduce. */
int aha_dist_allreduce_f32(const aha_dist_t *d, float *buf, size_t n);
/* ZeRO-1 shards: rank r of N owns elements [n*r/N, n*(r+1)/N) of a vector of N elements
 * (contiguous, in rank order, sizes differing by at most one). */
void aha_dist_shard(const aha_dist_t *d, size_t n, size_t *lo, size_t *count);
/* Reduce-scatter: sums BUF[n] over the ranks, AHA_DIST_BUCKET floats per MPI_Reduce_scatter;
 * afterwards this rank's shard of BUF (aha_dist_shard) holds the sum, the rest is undefined. */
int aha_dist_reduce_scatter_f32(const aha_dist_t *d, float *buf, size_t n);
/* Allgather: every rank's shard of BUF[n] (aha_dist_shard) to every rank (MPI_Allgatherv in
 * place); afterwards BUF is the same on every rank. */
int aha_dist_allgather_f32(const aha_dist_t *d, float *buf, size_t n);
/* In-place sum (or max, with is_max) over the ranks of BUF[n] doubles. */
int aha_dist_allreduce_f64(const aha_dist_t *d, double *buf, int n, int is_max);
/* Broadcast of BYTES bytes of BUF from ROOT (chunked below INT_MAX). */
int aha_dist_bcast(const aha_dist_t *d, void *buf, size_t bytes, int root);
int aha_dist_barrier(const aha_dist_t *d);
/* A collective agreement on an outcome: AHA_OK on every rank if E is AHA_OK on every rank;
 * otherwise E where it failed (its message kept) and AHA_ERR_STATE ("another learner rank
 * failed") on the others. Waits with short sleeps, not Open MPI's busy wait (a rank arriving
 * early leaves the CPU to the others). Singleton: E. */
int aha_dist_all_ok(const aha_dist_t *d, int e);
/* Wall time spent so far in the collectives above (ms), waiting for slower ranks included. */
double aha_dist_comm_ms(const aha_dist_t *d);

/* ---- data-parallel GRPO ---- */

/* The share of RANK of SIZE in rows [r0, r1) of a batch of groups of GROUP rows laid out from
 * row 0: contiguous whole groups (cut points rounded to multiples of GROUP, clamped to the
 * range), the first ranks getting the extra group. Writes [*a, *b) (possibly empty). */
void aha_dist_share(int r0, int r1, int group, int rank, int size, int *a, int *b);

/* The factor turning a loss (and its d loss / d logp) computed by aha_pg_loss over a rank's
 * share (n_seq_local sequences, n_tok_local tokens) into that share's part of the loss of the
 * whole minibatch (n_seq, n_tok): token-mean kinds (dapo) scale by tokens, sequence-mean kinds
 * (grpo, dr_grpo, gspo) by sequences. 0 for an empty share. */
double aha_dist_loss_scale(aha_loss_kind_t kind, int n_seq_local, int n_tok_local, int n_seq,
                           int n_tok);

/* Storage of a received batch (grown as needed). */
typedef struct {
    void *mem;
    size_t cap;
} aha_dist_batch_buf_t;
void aha_dist_batch_buf_free(aha_dist_batch_buf_t *s);

/* Broadcasts a scored batch and EXTRA (n_extra uint64 words: the trainer's step and data cursor)
 * from rank 0: rank 0 sends *b (read only), the others receive it into *b with its arrays in S.
 * n_seq 0 is a valid (empty) batch. */
int aha_dist_bcast_batch(const aha_dist_t *d, aha_rl_batch_t *b, int n_layers, int top_k,
                         uint64_t *extra, int n_extra, aha_dist_batch_buf_t *s);

/* ---- expert parallel (learner.expert_parallel) ---- */

/* The routed experts of every MoE layer are split over the ranks: rank r owns experts
 * [E*r/P, E*(r+1)/P) (aha_dist_ep_experts). In the forward of a MoE layer each rank sends the
 * input row of every routed slot (token, k) to the rank owning the slot's expert (MPI_Alltoallv,
 * the counts by MPI_Alltoall), the owner runs its experts on the rows it received from all ranks
 * and sends the expert outputs back, and the sender gates them into its output; the backward
 * sends the gated output gradient the same way and returns the input gradient. The expert
 * weights' gradients are accumulated only on the owner (the others hold zero there), so the
 * data-parallel sum of the gradient is the whole gradient. Routing (R3 replay included) stays
 * with the sending rank: only rows travel. Every rank must run the same sequence of forwards and
 * backwards (a rank without rows calls aha_dist_ep_idle in their place). Weights stay replicated
 * (ZeRO-1 shards only the optimizer state). */
typedef struct aha_dist_ep aha_dist_ep_t;
void aha_dist_ep_experts(const aha_dist_t *d, int E, int rank, int *lo, int *hi);
/* AHA_ERR_CONFIG if the model has fewer routed experts than there are ranks. */
int aha_dist_ep_new(const aha_dist_t *d, const aha_model_config_t *c, aha_dist_ep_t **out);
void aha_dist_ep_destroy(aha_dist_ep_t **p);
/* The model hook (aha_acts_set_expert_fn(acts, aha_dist_ep_call, ep)). */
int aha_dist_ep_call(void *ctx, int backward, const aha_expert_call_t *c);
/* A forward (backward = 0) or backward of model M with no rows of this rank: serves the other
 * ranks' rows of every MoE layer, in the order aha_forward / aha_backward visit them. */
int aha_dist_ep_idle(aha_dist_ep_t *p, aha_model_t *m, int backward);
/* Bytes of rows this rank has sent to other ranks so far (all exchanges). */
double aha_dist_ep_bytes(const aha_dist_ep_t *p);

#endif
