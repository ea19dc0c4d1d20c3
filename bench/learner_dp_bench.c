/* learner_dp_bench: GRPO learner step throughput of the data-parallel learner (learner/dist.h).
 * Run by bench/mpi_bench.sh alone and under `mpirun -np N`. The GRPO-sized model (d128, 4 layers,
 * 1 shared + 8 routed experts top-2) on a fixed batch of 128 sequences x 96 tokens (16 groups of
 * 8, prompts of 16 tokens); prints ranks, ms per step, tokens/s, the share of the step inside
 * MPI calls, the optimizer state per rank (ZeRO-1) and, with ranks, the time of a plain
 * MPI_Allreduce of the gradient's bytes vs the reduce-scatter + allgather a step does.
 * Usage: learner_dp_bench [steps] [ep]   (ep: learner.expert_parallel, routed experts split) */
#include "core/clock.h"
#include "core/err.h"
#include "learner/dist.h"
#include "learner/grpo.h"
#include "model/model.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_SEQ = 128, LEN = 96, G = 8, PROMPT = 16 };

int main(int argc, char **argv) {
    const int steps = argc > 1 ? atoi(argv[1]) : 5;
    const int ep = argc > 2 && strcmp(argv[2], "ep") == 0;
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
    gc.expert_parallel = ep;
    aha_grpo_t *g = NULL;
    if (aha_grpo_new(m, &gc, N_SEQ, LEN, &g) != AHA_OK || aha_grpo_set_dist(g, d, G) != AHA_OK) {
        fprintf(stderr, "%s\n", aha_last_error());
        return 1;
    }
    aha_grpo_stats_t st;
    int rc = aha_grpo_step(g, &b, &st); /* warm-up */
    aha_dist_barrier(d);
    const double t0 = aha_now_ms(), c0 = aha_dist_comm_ms(d), e0 = aha_grpo_ep_bytes(g);
    for (int s = 0; rc == AHA_OK && s < steps; s++)
        rc = aha_grpo_step(g, &b, &st);
    aha_dist_barrier(d);
    const double step_ms = (aha_now_ms() - t0) / steps;
    const double ep_mb = (aha_grpo_ep_bytes(g) - e0) / steps / 1e6;
    double comm[2] = {(aha_dist_comm_ms(d) - c0) / steps, 0}; /* this rank's, then max */
    comm[1] = comm[0];
    aha_dist_allreduce_f64(d, &comm[1], 1, 1);
    /* the collectives of a step on the gradient's bytes: one MPI_Allreduce (plain, one call),
     * and ZeRO-1's reduce-scatter + allgather (what the step does), 10 each */
    double ar_ms = 0, rs_ms = 0, ag_ms = 0, a2a_ms = 0, a2a_mb = 0, a2a_ar_ms = 0;
    if (aha_dist_active(d)) {
        float *buf = calloc(m->n_params, sizeof(float));
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)m->n_params, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (int rep = 0; rep < 3; rep++) { /* best of 3 rounds of 10 */
            double a = aha_now_ms();
            for (int i = 0; i < 10; i++)
                MPI_Allreduce(MPI_IN_PLACE, buf, (int)m->n_params, MPI_FLOAT, MPI_SUM,
                              MPI_COMM_WORLD);
            const double t_ar = (aha_now_ms() - a) / 10;
            a = aha_now_ms();
            for (int i = 0; i < 10; i++)
                aha_dist_reduce_scatter_f32(d, buf, m->n_params);
            const double t_rs = (aha_now_ms() - a) / 10;
            a = aha_now_ms();
            for (int i = 0; i < 10; i++)
                aha_dist_allgather_f32(d, buf, m->n_params);
            const double t_ag = (aha_now_ms() - a) / 10;
            if (rep == 0 || t_ar < ar_ms) ar_ms = t_ar;
            if (rep == 0 || t_rs < rs_ms) rs_ms = t_rs;
            if (rep == 0 || t_ag < ag_ms) ag_ms = t_ag;
        }
        free(buf);
        /* expert parallel's exchange (not built yet; its cost for the model in docs/mpi.md): one
         * MPI_Alltoallv of a MoE layer's dispatch, this rank's share of the batch's routed slots
         * (tokens x top_k rows of D floats), experts spread evenly over the ranks */
        int ntok_all = 0;
        for (int i = 0; i < N_SEQ; i++)
            ntok_all += tlen[i] - 1;
        const int P = aha_dist_size(d);
        const size_t rows = (size_t)ntok_all * c.top_k / P, floats = rows * c.dim;
        float *sb = calloc(floats, sizeof(float)), *rb = calloc(floats, sizeof(float));
        int cnt[256], dsp[256];
        for (int r = 0; r < P && r < 256; r++) {
            cnt[r] = (int)(rows * (r + 1) / P - rows * r / P) * c.dim;
            dsp[r] = (int)(rows * r / P) * c.dim;
        }
        MPI_Alltoallv(sb, cnt, dsp, MPI_FLOAT, rb, cnt, dsp, MPI_FLOAT, MPI_COMM_WORLD);
        for (int rep = 0; rep < 3; rep++) {
            const double a = aha_now_ms();
            for (int i = 0; i < 10; i++)
                MPI_Alltoallv(sb, cnt, dsp, MPI_FLOAT, rb, cnt, dsp, MPI_FLOAT, MPI_COMM_WORLD);
            const double t = (aha_now_ms() - a) / 10;
            if (rep == 0 || t < a2a_ms) a2a_ms = t;
            const double b = aha_now_ms();
            for (int i = 0; i < 10; i++)
                MPI_Allreduce(MPI_IN_PLACE, sb, (int)floats, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            const double u = (aha_now_ms() - b) / 10;
            if (rep == 0 || u < a2a_ar_ms) a2a_ar_ms = u;
        }
        a2a_mb = floats * 4 / 1e6;
        free(sb), free(rb);
    }
    /* ZeRO-1: the optimizer state this rank holds (moments + decay mask) vs a replicated one */
    const aha_adamw_t *opt = aha_grpo_optimizer(g);
    const double opt_mb = opt->n * (2 * sizeof(float) + 1) / 1e6,
                 full_mb = opt->total * (2 * sizeof(float) + 1) / 1e6;
    int ntok = 0;
    for (int i = 0; i < N_SEQ; i++)
        ntok += tlen[i];
    if (rc != AHA_OK) fprintf(stderr, "%s\n", aha_last_error());
    const double mb = m->n_params * 4 / 1e6;
    if (aha_dist_rank(d) == 0) {
        printf("ranks %d%s  params %zu  step %.1f ms  %.0f tokens/s  in MPI %.1f%% (rank 0) %.1f%% "
               "(max)  optimizer state %.2f MB per rank (replicated %.2f MB)",
               aha_dist_size(d), ep ? " (expert parallel)" : "", m->n_params, step_ms,
               ntok / (step_ms / 1e3), 100 * comm[0] / step_ms, 100 * comm[1] / step_ms, opt_mb,
               full_mb);
        if (ep) printf("  expert rows sent to other ranks %.1f MB per step (rank 0)", ep_mb);
        printf("\n");
        if (aha_dist_active(d))
            printf("gradient %.1f MB: MPI_Allreduce %.2f ms (%.2f GB/s); ZeRO-1 reduce-scatter "
                   "%.2f ms + allgather %.2f ms = %.2f ms (%.2f GB/s)\n",
                   mb, ar_ms, mb / ar_ms, rs_ms, ag_ms, rs_ms + ag_ms,
                   mb / (rs_ms + ag_ms));
        if (aha_dist_active(d))
            printf("MoE dispatch of one layer (%.1f MB per rank, %.0f%% to other ranks): "
                   "MPI_Alltoallv %.2f ms; MPI_Allreduce of the same bytes %.2f ms\n",
                   a2a_mb, 100.0 * (aha_dist_size(d) - 1) / aha_dist_size(d), a2a_ms,
                   a2a_ar_ms);
    }
    aha_grpo_destroy(&g);
    aha_model_destroy(&m);
    aha_dist_finalize(&d);
    return rc == AHA_OK ? 0 : 1;
}
