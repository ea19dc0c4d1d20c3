/* learner_dp_bench: GRPO learner step throughput of the data-parallel learner (learner/dist.h).
 * Run by bench/mpi_bench.sh alone and under `mpirun -np N`. The GRPO-sized model (d128, 4 layers,
 * 1 shared + 8 routed experts top-2) on a fixed batch of 128 sequences x 96 tokens (16 groups of
 * 8, prompts of 16 tokens); prints one line: ranks, ms per step, tokens/s, and the time of one
 * MPI_Allreduce of the gradient's bytes (the communication of a step).
 * Usage: learner_dp_bench [steps] */
#include "core/clock.h"
#include "core/err.h"
#include "learner/dist.h"
#include "learner/grpo.h"
#include "model/model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_SEQ = 128, LEN = 96, G = 8, PROMPT = 16 };

int main(int argc, char **argv) {
    const int steps = argc > 1 ? atoi(argv[1]) : 5;
    aha_dist_t *d = NULL;
    if (aha_dist_init(&d) != AHA_OK) {
        fprintf(stderr, "%s\n", aha_last_error());
        return 1;
    }
    aha_model_config_t c;
    aha_model_config_default(&c);
    c.dim = 128;
    c.n_layers = 4;
    c.n_heads = 4;
    c.n_routed_experts = 8;
    c.n_shared_experts = 1;
    c.top_k = 2;
    c.moe_hidden = 128;
    c.max_seq_len = LEN;
    aha_model_t *m = NULL;
    if (aha_model_new(&c, &m) != AHA_OK) return 1;
    aha_rng_t r;
    aha_rng_seed(&r, 1);
    aha_model_init_random(m, &r);
    static int tokens[N_SEQ * LEN], plen[N_SEQ], tlen[N_SEQ];
    static float behav[N_SEQ * LEN], adv[N_SEQ];
    for (int i = 0; i < N_SEQ; i++) {
        plen[i] = PROMPT;
        tlen[i] = LEN - (i % 4) * 8; /* ragged responses */
        adv[i] = (i % G) < G / 2 ? 1.0f : -1.0f;
        for (int p = 0; p < LEN; p++) {
            tokens[i * LEN + p] = (int)(aha_rng_uniform(&r) * c.vocab_size);
            behav[i * LEN + p] = -4.65f; /* about log(1/105): ratios near 1 */
        }
    }
    aha_rl_batch_t b = {N_SEQ, LEN, tokens, plen, tlen, behav, NULL, adv};
    aha_grpo_config_t gc;
    memset(&gc, 0, sizeof gc);
    aha_loss_config_default(AHA_LOSS_GRPO, &gc.loss);
    gc.epochs = gc.minibatches = 1;
    gc.temperature = 1.0;
    gc.lr = 1e-4;
    gc.grad_clip = 1.0;
    gc.adamw = (aha_adamw_config_t){0.9, 0.99, 1e-8, 0.0};
    gc.update_expert_bias = 1;
    aha_grpo_t *g = NULL;
    if (aha_grpo_new(m, &gc, N_SEQ, LEN, &g) != AHA_OK || aha_grpo_set_dist(g, d, G) != AHA_OK) {
        fprintf(stderr, "%s\n", aha_last_error());
        return 1;
    }
    aha_grpo_stats_t st;
    int rc = aha_grpo_step(g, &b, &st); /* warm-up */
    aha_dist_barrier(d);
    const double t0 = aha_now_ms(), c0 = aha_dist_comm_ms(d);
    for (int s = 0; rc == AHA_OK && s < steps; s++)
        rc = aha_grpo_step(g, &b, &st);
    aha_dist_barrier(d);
    const double step_ms = (aha_now_ms() - t0) / steps;
    double comm[2] = {(aha_dist_comm_ms(d) - c0) / steps, 0}; /* this rank's, then max */
    comm[1] = comm[0];
    aha_dist_allreduce_f64(d, &comm[1], 1, 1);
    /* one allreduce of the gradient's bytes, as a step does */
    double ar_ms = 0;
    if (aha_dist_active(d)) {
        float *buf = calloc(m->n_params, sizeof(float));
        aha_dist_allreduce_f32(d, buf, m->n_params);
        const double a = aha_now_ms();
        for (int i = 0; i < 10; i++)
            aha_dist_allreduce_f32(d, buf, m->n_params);
        ar_ms = (aha_now_ms() - a) / 10;
        free(buf);
    }
    int ntok = 0;
    for (int i = 0; i < N_SEQ; i++)
        ntok += tlen[i];
    if (rc != AHA_OK) fprintf(stderr, "%s\n", aha_last_error());
    if (aha_dist_rank(d) == 0)
        printf("ranks %d  params %zu  step %.1f ms  %.0f tokens/s  in MPI %.1f%% (rank 0) %.1f%% "
               "(max)  one allreduce of the gradient (%.1f MB) %.2f ms\n",
               aha_dist_size(d), m->n_params, step_ms, ntok / (step_ms / 1e3),
               100 * comm[0] / step_ms, 100 * comm[1] / step_ms, m->n_params * 4 / 1e6, ar_ms);
    aha_grpo_destroy(&g);
    aha_model_destroy(&m);
    aha_dist_finalize(&d);
    return rc == AHA_OK ? 0 : 1;
}
