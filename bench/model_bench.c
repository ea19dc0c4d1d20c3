/* bench/model_bench.c — throughput of the default model: forward+backward (training), forward
 * only, and KV-cache decoding. Built by `make bench` (target model_bench), run by bench/run.sh:
 *   OPENBLAS_NUM_THREADS=1 build/model_bench [B T iters] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ < 0) {                                                                             \
            fprintf(stderr, "%s: %s\n", #call, aha_last_error());                                  \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 16, T = argc > 2 ? atoi(argv[2]) : 64;
    int iters = argc > 3 ? atoi(argv[3]) : 20;
    aha_model_config_t cfg;
    aha_model_config_default(&cfg);
    aha_model_t *m = NULL;
    aha_acts_t *a = NULL;
    aha_kv_t *kv = NULL;
    CHECK(aha_model_new(&cfg, &m));
    aha_rng_t rng;
    aha_rng_seed(&rng, 1);
    aha_model_init_random(m, &rng);
    CHECK(aha_model_alloc_grads(m));
    CHECK(aha_acts_new(m, B, T, &a));
    int N = B * T;
    int *tokens = malloc(sizeof(int) * N), *targets = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++) {
        tokens[i] = (int)aha_rng_below(&rng, cfg.vocab_size);
        targets[i] = (int)aha_rng_below(&rng, cfg.vocab_size);
    }
    aha_batch_t batch = {B, T, tokens, NULL, NULL};
    float loss;
    printf("default model: %zu parameters, B=%d T=%d\n", m->n_params, B, T);

    for (int i = 0; i < 2; i++) { /* warm-up */
        CHECK(aha_forward(m, a, &batch));
        CHECK(aha_ce_loss(a, targets, &loss));
        CHECK(aha_backward(m, a, &batch));
    }
    double t0 = now(), tf = 0.0;
    for (int i = 0; i < iters; i++) {
        double s = now();
        CHECK(aha_forward(m, a, &batch));
        tf += now() - s;
        CHECK(aha_ce_loss(a, targets, &loss));
        aha_model_zero_grads(m);
        CHECK(aha_backward(m, a, &batch));
    }
    double dt = now() - t0;
    printf("forward+backward: %.1f ms/step, %.0f tokens/s (forward alone %.0f tokens/s)\n",
           1e3 * dt / iters, (double)N * iters / dt, (double)N * iters / tf);
    printf("c_fwd_bwd_tokens_per_s %.0f\n", (double)N * iters / dt);

    /* decoding: B rows, T positions each */
    CHECK(aha_kv_new(m, B, T, &kv));
    float *logits = malloc(sizeof(float) * B * cfg.vocab_size);
    int *step = malloc(sizeof(int) * B);
    t0 = now();
    int reps = 3;
    for (int r = 0; r < reps; r++) {
        aha_kv_reset(kv);
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < B; b++)
                step[b] = tokens[b * T + t];
            CHECK(aha_decode_step(m, kv, step, NULL, logits, NULL));
        }
    }
    dt = now() - t0;
    printf("decode (KV cache, %d rows): %.0f tokens/s\n", B, (double)B * T * reps / dt);

    free(logits);
    free(step);
    free(tokens);
    free(targets);
    aha_kv_destroy(&kv);
    aha_acts_destroy(&a);
    aha_model_destroy(&m);
    return 0;
}
