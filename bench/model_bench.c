/* bench/model_bench.c — throughput of the model and the machine bounds it is compared with, as
 * "key value" lines (bench/run.sh collects them into one table, a JSON file and a chart).
 *
 *   model_bench info                         SIMD path of the model's kernels, OpenBLAS core
 *   model_bench peak                         sgemm 512^3 GFLOP/s (1 and 2 threads), memory read
 *                                            bandwidth (256 MiB and 24 MiB working sets)
 *   model_bench train PRESET B T ITERS THR   forward + CE + backward tokens/s and GFLOP/s, and the
 *                                            GFLOP/s OpenBLAS reaches on the step's own sgemm
 *                                            shapes, each timed alone (the ceiling of the step),
 *                                            and on 512^3 (1 thread: all in CPU time)
 *   model_bench decode PRESET ROWS POS REPS [PREFIX]
 *                                            aha_decode_step tokens/s (all rows) for POS positions,
 *                                            also per CPU-second of the thread (steadier than wall
 *                                            time on a loaded machine); with PREFIX the rows first
 *                                            share a prompt of PREFIX positions (prefilled once,
 *                                            aha_kv_copy_row, not timed) and decode POS - PREFIX
 *   model_bench generate PRESET G P NEW REPS GROUPS
 *                                            aha_generate of GROUPS groups of G samples of a P-token
 *                                            prompt (one call), up to NEW tokens each: groups/s
 *                                            with the prompts prefilled once and shared and with the
 *                                            stepwise reference path (wall time), and the shared
 *                                            path's groups per CPU-second of the thread
 *
 *   model_bench memory PRESET ROWS T G       bytes a learner (parameters, gradients, AdamW, the
 *                                            activations of ROWS x T) and an actor (parameters,
 *                                            KV cache of G rows x T) need
 *
 * PRESET: default (the demo model), grpo (d128, 4 layers, 4 heads, 1 shared + 8 routed experts
 * top-2, expert hidden 128, vocabulary 64), dense288 (d288, 6 layers, 6 heads, ffn 768, vocabulary
 * 105). Training FLOPs per token = 6 x active parameters (attention projections, router, shared
 * expert, top-k routed experts, lm_head; not the embedding lookup) + 12 x layers x dim x T
 * (attention scores and values, forward and backward, full T x T as k_attention computes it).
 * Every timing is the best of several repetitions. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor/rollout.h"
#include "bench/bench_util.h"
#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ < 0) {                                                                             \
            fprintf(stderr, "%s: %s\n", #call, aha_last_error());                                  \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int preset(const char *name, aha_model_config_t *c) {
    return bench_preset("model_bench", name, c);
}

/* The model of preset NAME with room for at least LEN positions into *out (the caller destroys
 * it): weights initialised for training from RNG seeded with SEED, which then goes on to the
 * bench's inputs; no RNG: zero weights. 2 for an unknown preset (message printed), 1 if the
 * model cannot be made. */
static int preset_model(const char *name, int len, uint64_t seed, aha_rng_t *rng,
                        aha_model_t **out) {
    aha_model_config_t cfg;
    if (preset(name, &cfg) != 0) return 2;
    if (len > cfg.max_seq_len) cfg.max_seq_len = len;
    CHECK(aha_model_new(&cfg, out));
    if (rng) {
        aha_rng_seed(rng, seed);
        aha_model_init_random(*out, rng);
    }
    return 0;
}

/* Parameters one token goes through (the FLOP count's "active parameters"). */
static double active_params(const aha_model_config_t *c) {
    double D = c->dim, act = 0.0;
    for (int l = 0; l < c->n_layers; l++) {
        act += 4 * D * D;
        if (aha_model_layer_is_moe(c, l))
            act += c->n_routed_experts * D +
                   3 * D * (double)c->moe_hidden * (c->n_shared_experts + c->top_k);
        else
            act += 3 * D * c->ffn_hidden;
    }
    return act + (double)c->vocab_size * D;
}

static int bench_peak(void) {
    const int n = 512;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) return 1;
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    for (int thr = 1; thr <= 2; thr++) {
        openblas_set_num_threads(thr);
        double best = 1e30;
        for (int r = 0; r < 12; r++) {
            double t0 = bench_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                        n);
            double dt = bench_now() - t0;
            if (r > 1 && dt < best) best = dt;
        }
        printf("sgemm_gflops_%dt %.1f\n", thr, 2.0 * n * n * n / best * 1e-9);
    }
    openblas_set_num_threads(1);
    free(a);
    free(b);
    free(c);
    /* read bandwidth: cblas_sasum (SIMD, one pass, no writes) over a buffer much larger than the
     * caches, and over 24 MiB repeated (the dense288 model's weights) */
    size_t sizes[2] = {(size_t)256 << 20, (size_t)24 << 20};
    const char *names[2] = {"mem_read_gbs", "mem_read_24mib_gbs"};
    for (int s = 0; s < 2; s++) {
        size_t nf = sizes[s] / sizeof(float);
        float *x = malloc(sizes[s]);
        if (!x) return 1;
        for (size_t i = 0; i < nf; i++)
            x[i] = 1e-3f;
        double best = 1e30, sink = 0.0;
        for (int r = 0; r < 10; r++) {
            double t0 = bench_now();
            sink += cblas_sasum((int)nf, x, 1);
            double dt = bench_now() - t0;
            if (dt < best) best = dt;
        }
        printf("%s %.1f\n", names[s], sizes[s] / best * 1e-9);
        if (sink < 0) printf("#\n");
        free(x);
    }
    return 0;
}

/* The sgemm calls of one training step of config C on B x T tokens, as the model makes them
 * (row-major; a linear layer y = x W^T is NT forward, dx = dy W NN and dW += dy^T x TN backward;
 * attention 2 + 4 calls per row and head; routed experts with their exact top-k share of the
 * rows), each timed alone (best of REPS) and summed: the rate OpenBLAS reaches on this model's
 * shapes, the ceiling of a step that only ran its matmuls. */
typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float beta;
    double count;
} mm_shape_t;

static int add_linear(mm_shape_t *s, int n, int rows, int in, int out, double count) {
    s[n++] = (mm_shape_t){0, 1, rows, out, in, in, in, out, 0.0f, count}; /* y = x W^T */
    s[n++] = (mm_shape_t){0, 0, rows, in, out, out, in, in, 0.0f, count}; /* dx = dy W */
    s[n++] = (mm_shape_t){1, 0, out, in, rows, out, in, in, 1.0f, count}; /* dW += dy^T x */
    return n;
}

static double shape_ceiling_gflops(const aha_model_config_t *c, int B, int T, int reps,
                                   double (*clock)(void)) {
    const int N = B * T, D = c->dim, nh = c->n_heads, hd = D / nh, E = c->n_routed_experts;
    const int H = c->moe_hidden, SH = c->n_shared_experts * H, K = c->top_k;
    mm_shape_t s[64 * 40 + 3]; /* <= 33 per layer, 64 layers, lm_head */
    int n = 0;
    for (int l = 0; l < c->n_layers; l++) {
        n = add_linear(s, n, N, D, 3 * D, 1);
        n = add_linear(s, n, N, D, D, 1);
        if (!aha_model_layer_is_moe(c, l)) {
            n = add_linear(s, n, N, D, c->ffn_hidden, 2);
            n = add_linear(s, n, N, c->ffn_hidden, D, 1);
        } else {
            n = add_linear(s, n, N, D, E, 1);
            if (SH > 0) {
                n = add_linear(s, n, N, D, SH, 2);
                n = add_linear(s, n, N, SH, D, 1);
            }
            const int ne = N * K / E; /* rows per routed expert, balanced */
            n = add_linear(s, n, ne, D, H, 2.0 * E);
            n = add_linear(s, n, ne, H, D, 1.0 * E);
        }
        const double bh = (double)B * nh, ld = 3 * D;
        s[n++] = (mm_shape_t){0, 1, T, T, hd, ld, ld, T, 0.0f, bh}; /* S = Q K^T */
        s[n++] = (mm_shape_t){0, 0, T, hd, T, T, ld, D, 0.0f, bh};  /* O = A V */
        s[n++] = (mm_shape_t){0, 1, T, T, hd, D, ld, T, 0.0f, bh};  /* dA = dO V^T */
        s[n++] = (mm_shape_t){1, 0, T, hd, T, T, D, ld, 0.0f, bh};  /* dV = A^T dO */
        s[n++] = (mm_shape_t){0, 0, T, hd, T, T, ld, ld, 0.0f, bh}; /* dQ = dS K */
        s[n++] = (mm_shape_t){1, 0, T, hd, T, T, ld, ld, 0.0f, bh}; /* dK = dS^T Q */
    }
    n = add_linear(s, n, N, D, c->vocab_size, 1);
    size_t big = (size_t)N * (3 * D > SH ? 3 * D : SH) + (size_t)N * 256;
    float *a = calloc(big, sizeof(float)), *b = calloc(big, sizeof(float));
    float *y = calloc(big, sizeof(float));
    if (!a || !b || !y) return 0.0;
    for (size_t i = 0; i < big; i++)
        a[i] = b[i] = 1e-3f * (float)(i % 97);
    double flops = 0.0, secs = 0.0;
    for (int i = 0; i < n; i++) {
        const mm_shape_t *m = &s[i];
        /* calls per timing: attention shapes are small, time a batch of them */
        const int calls = m->count > 64 ? 64 : 1;
        double best = 1e30;
        for (int r = 0; r < reps + 1; r++) {
            double t0 = clock();
            for (int k = 0; k < calls; k++)
                cblas_sgemm(CblasRowMajor, m->ta ? CblasTrans : CblasNoTrans,
                            m->tb ? CblasTrans : CblasNoTrans, m->M, m->N, m->K, 1.0f, a, m->lda, b,
                            m->ldb, m->beta, y, m->ldc);
            double dt = (clock() - t0) / calls;
            if (r > 0 && dt < best) best = dt;
        }
        flops += 2.0 * m->M * m->N * m->K * m->count;
        secs += best * m->count;
    }
    free(a);
    free(b);
    free(y);
    return flops / secs * 1e-9;
}

static int bench_train(const char *pname, int B, int T, int iters, int threads) {
    aha_model_t *m = NULL;
    aha_rng_t rng;
    int made = preset_model(pname, T, 1, &rng, &m);
    if (made != 0) return made;
    const aha_model_config_t *cfg = &m->cfg;
    openblas_set_num_threads(threads);
    aha_acts_t *a = NULL;
    CHECK(aha_model_alloc_grads(m));
    CHECK(aha_acts_new(m, B, T, &a));
    int N = B * T;
    int *tokens = malloc(sizeof(int) * N), *targets = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++) {
        tokens[i] = (int)aha_rng_below(&rng, cfg->vocab_size);
        targets[i] = (int)aha_rng_below(&rng, cfg->vocab_size);
    }
    aha_batch_t batch = {B, T, tokens, NULL, NULL};
    float loss;
    double best = 1e30, best_f = 1e30, best_cpu = 1e30;
    for (int i = 0; i < iters + 1; i++) { /* the first is a warm-up */
        double s = bench_now(), sc = bench_thread_cpu();
        CHECK(aha_forward(m, a, &batch));
        double f = bench_now() - s;
        CHECK(aha_ce_loss(a, targets, &loss));
        aha_model_zero_grads(m);
        CHECK(aha_backward(m, a, &batch));
        double dt = bench_now() - s, dc = bench_thread_cpu() - sc;
        if (i > 0 && dt < best) best = dt;
        if (i > 0 && f < best_f) best_f = f;
        if (i > 0 && dc < best_cpu) best_cpu = dc;
    }
    double flops_tok = 6.0 * active_params(cfg) + 12.0 * cfg->n_layers * cfg->dim * T;
    printf("params %zu\nactive_params %.0f\n", m->n_params, active_params(cfg));
    printf("train_tokens_per_s %.0f\n", N / best);
    printf("train_gflops %.1f\n", N / best * flops_tok * 1e-9);
    printf("forward_tokens_per_s %.0f\n", N / best_f);
    if (threads == 1) printf("train_tokens_per_cpu_s %.0f\n", N / best_cpu);
    /* in the same run: the sgemm rate on this step's own shapes (the real ceiling); one thread:
     * both in CPU time of this thread (steadier than wall time on a shared machine) */
    const double ceil_gf =
        shape_ceiling_gflops(cfg, B, T, iters, threads == 1 ? bench_thread_cpu : bench_now);
    const double step_gf = N / (threads == 1 ? best_cpu : best) * flops_tok * 1e-9;
    /* and the 512^3 sgemm peak with the same clock */
    double peak_gf = 0.0;
    {
        const int n = 512;
        float *pa = calloc((size_t)n * n, sizeof(float)),
              *pb = calloc((size_t)n * n, sizeof(float));
        float *pc = calloc((size_t)n * n, sizeof(float));
        double (*clock)(void) = threads == 1 ? bench_thread_cpu : bench_now, pbest = 1e30;
        for (int r = 0; pa && pb && pc && r < 8; r++) {
            double t0 = clock();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, pa, n, pb, n, 0.0f,
                        pc, n);
            double dt = clock() - t0;
            if (r > 1 && dt < pbest) pbest = dt;
        }
        peak_gf = 2.0 * n * n * n / pbest * 1e-9;
        free(pa);
        free(pb);
        free(pc);
    }
    printf("sgemm512_gflops %.1f\n", peak_gf);
    printf("shapes_sgemm_gflops %.1f\n", ceil_gf);
    printf("train_pct_of_sgemm512 %.1f\n", 100.0 * step_gf / peak_gf);
    printf("train_pct_of_shapes %.1f\n", 100.0 * step_gf / ceil_gf);
    if (threads == 1) printf("train_gflops_per_cpu_s %.1f\n", step_gf);
    free(tokens);
    free(targets);
    aha_acts_destroy(&a);
    aha_model_destroy(&m);
    return 0;
}

static int bench_decode(const char *pname, int rows, int P, int reps, int prefix) {
    if (prefix < 0 || prefix >= P) {
        fprintf(stderr, "model_bench decode: PREFIX %d outside [0, POS=%d)\n", prefix, P);
        return 2;
    }
    aha_model_t *m = NULL;
    aha_rng_t rng;
    int made = preset_model(pname, P, 2, &rng, &m);
    if (made != 0) return made;
    const aha_model_config_t *cfg = &m->cfg;
    openblas_set_num_threads(1);
    aha_kv_t *kv = NULL;
    CHECK(aha_kv_new(m, rows, P, &kv));
    float *logits = malloc(sizeof(float) * rows * cfg->vocab_size);
    int *step = malloc(sizeof(int) * (rows > prefix ? rows : prefix));
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        aha_kv_reset(kv);
        if (prefix > 0) { /* the group's prompt, prefilled once and shared */
            for (int t = 0; t < prefix; t++)
                step[t] = (int)aha_rng_below(&rng, cfg->vocab_size);
            CHECK(aha_kv_prefill(m, kv, 0, step, prefix, logits, NULL));
            for (int b = 1; b < rows; b++)
                CHECK(aha_kv_copy_row(kv, b, 0));
        }
        double t0 = bench_now(), c0 = bench_thread_cpu();
        for (int t = prefix; t < P; t++) {
            for (int b = 0; b < rows; b++)
                step[b] = (int)aha_rng_below(&rng, cfg->vocab_size);
            CHECK(aha_decode_step(m, kv, step, NULL, logits, NULL));
        }
        double dt = bench_now() - t0, dc = bench_thread_cpu() - c0;
        if (r > 0 && dt < best) best = dt;
        if (r > 0 && dc < best_cpu) best_cpu = dc;
    }
    /* bytes of weights one step reads (everything but the embedding table, which is gathered) */
    double wbytes = 4.0 * (double)(m->n_params - (size_t)cfg->vocab_size * cfg->dim);
    printf("params %zu\nweight_bytes %.0f\n", m->n_params, wbytes);
    printf("decode_tokens_per_s %.0f\n", (double)rows * (P - prefix) / best);
    printf("decode_tokens_per_cpu_s %.0f\n", (double)rows * (P - prefix) / best_cpu);
    free(logits);
    free(step);
    aha_kv_destroy(&kv);
    aha_model_destroy(&m);
    return 0;
}

static int bench_generate(const char *pname, int G, int P, int NEW, int reps, int groups) {
    aha_model_t *m = NULL;
    aha_rng_t rng;
    int made = preset_model(pname, P + NEW, 3, &rng, &m);
    if (made != 0) return made;
    const aha_model_config_t *cfg = &m->cfg;
    openblas_set_num_threads(1);
    const int n = G * groups;
    aha_kv_t *kv = NULL;
    aha_rollout_t *r = NULL;
    CHECK(aha_kv_new(m, n, P + NEW, &kv));
    CHECK(aha_rollout_new(m, n, P + NEW, 1, &r));
    int *prompt = malloc(sizeof(int) * (size_t)P * groups);
    const int **prompts = malloc(sizeof(int *) * n);
    int *lens = malloc(sizeof(int) * n);
    aha_rng_t *rngs = malloc(sizeof(aha_rng_t) * n);
    for (int i = 0; i < P * groups; i++)
        prompt[i] = 3 + (int)aha_rng_below(&rng, cfg->vocab_size - 3);
    for (int b = 0; b < n; b++) {
        prompts[b] = prompt + (size_t)(b / G) * P;
        lens[b] = P;
    }
    const aha_gen_config_t gen = {NEW, 1.0f, 1.0f};
    for (int stepwise = 0; stepwise <= 1; stepwise++) {
        double best = 1e30, best_cpu = 1e30;
        for (int rep = 0; rep < reps + 1; rep++) {
            for (int b = 0; b < n; b++)
                aha_rng_seed(&rngs[b], 100 + (uint64_t)b);
            double t0 = bench_now(), c0 = bench_thread_cpu();
            CHECK(stepwise ? aha_generate_stepwise(m, kv, prompts, lens, rngs, &gen, r)
                           : aha_generate(m, kv, prompts, lens, rngs, &gen, r));
            double dt = bench_now() - t0, dc = bench_thread_cpu() - c0;
            if (rep > 0 && dt < best) best = dt;
            if (rep > 0 && dc < best_cpu) best_cpu = dc;
        }
        printf("%s_groups_per_s %.1f\n", stepwise ? "stepwise" : "shared", groups / best);
        if (!stepwise) printf("shared_groups_per_cpu_s %.1f\n", groups / best_cpu);
    }
    free(prompt);
    free(prompts);
    free(lens);
    free(rngs);
    aha_rollout_destroy(&r);
    aha_kv_destroy(&kv);
    aha_model_destroy(&m);
    return 0;
}

/* What a learner and an actor need, from the config: parameters, gradients, AdamW's two moments,
 * the activations of ROWS x T tokens (aha_acts_new, as learner/grpo.c allocates them), and an
 * actor's KV cache for G rows of T positions (aha_kv_new, as actor/worker.c does). Bytes. */
static int bench_memory(const char *name, int rows, int T, int G) {
    aha_model_t *m = NULL;
    int made = preset_model(name, T, 0, NULL, &m);
    if (made != 0) return made;
    aha_acts_t *a = NULL;
    aha_kv_t *kv = NULL;
    CHECK(aha_acts_new(m, rows, T, &a));
    CHECK(aha_kv_new(m, G, T, &kv));
    const double p = 4.0 * (double)m->n_params;
    printf("params %zu\nparam_bytes %.0f\nacts_bytes %zu\nkv_bytes %zu\n", m->n_params, p,
           aha_acts_bytes(a), aha_kv_bytes(kv));
    printf("learner_need_bytes %.0f\n", 4 * p + (double)aha_acts_bytes(a));
    printf("actor_need_bytes %.0f\n", p + (double)aha_kv_bytes(kv));
    aha_kv_destroy(&kv);
    aha_acts_destroy(&a);
    aha_model_destroy(&m);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "peak")) return bench_peak();
    if (!strcmp(mode, "info")) {
        printf("simd_path %s\nopenblas_core %s\n", aha_model_simd_path(), openblas_get_corename());
        return 0;
    }
    if (!strcmp(mode, "train") && argc == 7)
        return bench_train(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    if (!strcmp(mode, "decode") && (argc == 6 || argc == 7))
        return bench_decode(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                            argc == 7 ? atoi(argv[6]) : 0);
    if (!strcmp(mode, "generate") && argc == 8)
        return bench_generate(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                              atoi(argv[7]));
    if (!strcmp(mode, "memory") && argc == 6)
        return bench_memory(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: model_bench info | peak | train PRESET B T ITERS THREADS | "
                    "decode PRESET ROWS POSITIONS REPS [PREFIX] | generate PRESET G P NEW REPS GROUPS | "
                    "memory PRESET ROWS T G\n");
    return 2;
}
