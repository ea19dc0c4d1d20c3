/* What the benchmarks share: clocks, and the model shapes (docs/model.md, Performance):
 *   default   the demo model (model/model.h defaults)
 *   grpo      the GRPO-sized MoE: 4 layers, vocabulary 64
 *   dense288  a dense d288, 6-layer, ffn 768 model (24 MB of weights), for the decoding bound */
#ifndef AHA_BENCH_UTIL_H
#define AHA_BENCH_UTIL_H

#include "model/model.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Wall time in seconds (monotonic). */
static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread in seconds: with one thread on a loaded machine, a steadier
 * figure than wall time. */
static inline double bench_thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Writes preset NAME into *c; -1 (and a message naming PROG) for an unknown name. */
static inline int bench_preset(const char *prog, const char *name, aha_model_config_t *c) {
    aha_model_config_default(c);
    if (!strcmp(name, "default")) return 0;
    if (!strcmp(name, "grpo")) {
        c->n_layers = 4;
        c->vocab_size = 64;
        return 0;
    }
    if (!strcmp(name, "dense288")) {
        c->dim = 288;
        c->n_layers = 6;
        c->n_heads = 6;
        c->ffn_hidden = 768;
        c->n_routed_experts = 0;
        c->n_shared_experts = 0;
        c->top_k = 0;
        c->moe_hidden = 0;
        c->max_seq_len = 256;
        return 0;
    }
    fprintf(stderr, "%s: unknown preset '%s' (default | grpo | dense288)\n", prog, name);
    return -1;
}

#endif
