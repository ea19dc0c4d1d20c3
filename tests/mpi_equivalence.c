/* learner_mpi_equivalence (run by tests/mpi_run.sh under `mpirun -np 2`): one GRPO learner
 * step on a fixed batch with the update data parallel over the ranks (learner/dist.h) equals the
 * same step in one process: loss, grad norm, every parameter (1e-5 relative) and the expert bias
 * (aux-loss-free update from the global load), for a dense and a MoE model, with and without R3,
 * for each loss normalisation (sequence mean, token mean, constant, sequence ratio), with a KL
 * reference, several minibatches and epochs, the off-policy corrections (tis; decoupled, with its
 * proximal pass), and uneven group counts (a rank with no group).
 *
 * Rank 0 builds the batch and broadcasts it (aha_dist_bcast_batch); it alone also runs the
 * single-process step on its own copy of the model, and checks. */
#include "model/model.h" /* before testutil.h: the model fixtures */
#include "core/err.h"
#include "core/testutil.h"
#include "learner/dist.h"
#include "learner/grpo.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static aha_dist_t *g_dist;
enum { MAX_LEN = 40 };

typedef struct {
    int moe, r3, minibatches, epochs, n_groups, group;
    const char *loss;
    double beta;
    const char *off_policy; /* NULL: clip */
    int ep;                 /* expert parallel (learner.expert_parallel) */
} case_t;

static void model_config(int moe, aha_model_config_t *c) {
    aha_model_config_default(c);
    c->dim = 32;
    c->n_heads = 4;
    c->max_seq_len = MAX_LEN;
    c->moe_hidden = 16;
    c->ffn_hidden = 48;
    if (!moe) {
        c->n_routed_experts = 0;
        c->n_shared_experts = 0;
        c->top_k = 0;
        c->moe_hidden = 0;
        c->n_dense_layers = c->n_layers;
    } else {
        c->n_dense_layers = 1;
        c->n_layers = 3;
        c->bias_update_speed = 1e-2f; /* visible in one step */
        c->seq_aux_alpha = 1e-2f;
    }
}

/* Arrays of a batch (rank 0 fills them; the others receive the broadcast). */
typedef struct {
    int *tokens, *prompt_len, *total_len, *ids;
    float *behav, *adv;
} batch_mem_t;

static void batch_mem_free(batch_mem_t *b) {
    free(b->tokens), free(b->prompt_len), free(b->total_len), free(b->ids), free(b->behav),
        free(b->adv);
}

/* A fixed batch for model M: random prompts and responses (some rows without a response token),
 * behaviour log-probs = the model's own at temperature 1 plus noise (so some ratios clip), and
 * with R3 the routing record of that forward. */
static void make_batch(const aha_model_t *m, const case_t *k, batch_mem_t *bm, aha_rl_batch_t *b) {
    const aha_model_config_t *c = &m->cfg;
    const int n = k->n_groups * k->group, L = c->n_layers;
    const int K = c->n_routed_experts > 0 ? c->top_k : 0, T = MAX_LEN - 1;
    bm->tokens = calloc((size_t)n * MAX_LEN, sizeof(int));
    bm->prompt_len = calloc(n, sizeof(int));
    bm->total_len = calloc(n, sizeof(int));
    bm->behav = calloc((size_t)n * MAX_LEN, sizeof(float));
    bm->adv = calloc(n, sizeof(float));
    bm->ids = K ? calloc((size_t)L * n * MAX_LEN * K, sizeof(int)) : NULL;
    aha_rng_t r;
    aha_rng_seed(&r, 77);
    for (int i = 0; i < n; i++) {
        bm->prompt_len[i] = 3 + (int)(aha_rng_uniform(&r) * 6);
        bm->total_len[i] =
            i % 5 == 4 ? bm->prompt_len[i] /* no response */
                       : bm->prompt_len[i] + 1 + (int)(aha_rng_uniform(&r) * (MAX_LEN - 1 - 8));
        for (int p = 0; p < MAX_LEN; p++)
            bm->tokens[i * MAX_LEN + p] = (int)(aha_rng_uniform(&r) * c->vocab_size);
        bm->adv[i] = aha_rng_normal(&r);
    }
    /* the model's log-probs of the batch (one forward over all rows) */
    aha_acts_t *acts = NULL;
    REQUIRE_OK(aha_acts_new(m, n, T, &acts));
    int *tok = calloc((size_t)n * T, sizeof(int)), *tgt = calloc((size_t)n * T, sizeof(int));
    int *len = calloc(n, sizeof(int));
    float *lp = calloc((size_t)n * T, sizeof(float));
    for (int i = 0; i < n; i++) {
        len[i] = bm->total_len[i] - 1;
        for (int p = 0; p < T; p++) {
            tok[i * T + p] = p < len[i] ? bm->tokens[i * MAX_LEN + p] : 0;
            tgt[i * T + p] =
                p < len[i] && p + 1 >= bm->prompt_len[i] ? bm->tokens[i * MAX_LEN + p + 1] : -1;
        }
    }
    aha_batch_t fb = {n, T, tok, len, NULL};
    REQUIRE_OK(aha_forward(m, acts, &fb));
    aha_gather_logp(aha_acts_logits(acts), tgt, n * T, c->vocab_size, 1.0f, lp, NULL);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < T; p++)
            if (tgt[i * T + p] >= 0)
                bm->behav[i * MAX_LEN + p + 1] = lp[i * T + p] + 0.3f * aha_rng_normal(&r);
    if (K) {
        const int *rec = aha_acts_expert_ids(acts);
        for (int l = 0; l < L; l++)
            for (int i = 0; i < n; i++)
                for (int p = 0; p < MAX_LEN; p++)
                    for (int q = 0; q < K; q++) {
                        /* every third position replays other experts than its router would
                         * pick (shifted ids stay distinct), so R3 changes the numbers */
                        int e = p < T ? rec[(((size_t)l * n + i) * T + p) * K + q] : -1;
                        if (e >= 0 && p % 3 == 0) e = (e + 1) % c->n_routed_experts;
                        bm->ids[(((size_t)l * n + i) * MAX_LEN + p) * K + q] = e;
                    }
    }
    aha_acts_destroy(&acts);
    free(tok), free(tgt), free(len), free(lp);
    *b = (aha_rl_batch_t){n,
                          MAX_LEN,
                          bm->tokens,
                          bm->prompt_len,
                          bm->total_len,
                          bm->behav,
                          k->r3 && K ? bm->ids : NULL,
                          bm->adv};
}

static void grpo_config(const case_t *k, aha_grpo_config_t *gc) {
    memset(gc, 0, sizeof *gc);
    aha_loss_kind_t kind;
    if (aha_loss_kind_parse(k->loss, &kind) != AHA_OK) kind = AHA_LOSS_GRPO;
    aha_loss_config_default(kind, &gc->loss);
    gc->loss.beta = k->beta;
    if (k->off_policy && aha_off_policy_parse(k->off_policy, &gc->loss.off_policy) != AHA_OK)
        gc->loss.off_policy = AHA_OFFPOL_CLIP;
    gc->loss.max_len = MAX_LEN;
    gc->epochs = k->epochs;
    gc->minibatches = k->minibatches;
    gc->r3 = k->r3;
    gc->temperature = 1.0;
    /* AdamW's first steps are lr * g / (|g| + eps): a gradient component that cancels to near 0
     * across rows keeps a rounding error of the rows' size (the summation order differs with the
     * split), which the normalisation turns into up to ~1e-3 of a step (measured: 1.6e-6 at lr
     * 1e-3). At lr 1e-5 that is far below 1e-5 of the parameters' scale; the summed gradient is
     * compared separately (1e-5 of its largest entry). */
    gc->lr = 1e-5;
    gc->grad_clip = 1.0;
    gc->adamw = (aha_adamw_config_t){0.9, 0.99, 1e-8, 0.01};
    gc->update_expert_bias = 1;
    gc->expert_parallel = k->ep;
}

/* max over the parameters of |a - b| / max(|a|, |b|, rms of the tensor in P0): relative error,
 * where an entry that happens to be near zero is measured at its tensor's scale. *worst: its
 * index. */
static double rel_err(const aha_model_config_t *c, const float *a, const float *b, const float *p0,
                      size_t *worst) {
    double w = 0;
    for (size_t t = 0; t < aha_model_tensor_count(c); t++) {
        aha_tensor_info_t ti;
        if (aha_model_tensor_info(c, t, &ti) != AHA_OK) return INFINITY;
        double ss = 0;
        for (size_t i = ti.offset; i < ti.offset + ti.numel; i++)
            ss += (double)p0[i] * p0[i];
        const double rms = sqrt(ss / ti.numel);
        for (size_t i = ti.offset; i < ti.offset + ti.numel; i++) {
            double e = fabs((double)a[i] - b[i]) / fmax(fmax(fabs(a[i]), fabs(b[i])), rms);
            if (e > w) w = e, *worst = i;
        }
    }
    return w;
}

static void run_case(const case_t *k) {
    const int rank = aha_dist_rank(g_dist);
    REQUIRE(aha_dist_size(g_dist) >= 2, "needs >= 2 ranks (mpirun -np 2), got %d",
            aha_dist_size(g_dist));
    aha_model_config_t c;
    model_config(k->moe, &c);
    aha_model_t *dp = tu_random_model(&c, 5);
    /* rank 0 makes the batch; everyone gets it by broadcast */
    batch_mem_t bm;
    memset(&bm, 0, sizeof bm);
    aha_rl_batch_t b;
    memset(&b, 0, sizeof b);
    if (rank == 0) make_batch(dp, k, &bm, &b);
    aha_dist_batch_buf_t recv = {0};
    uint64_t extra[2] = {rank == 0 ? 123u : 0u, rank == 0 ? 9u : 0u};
    REQUIRE_OK(aha_dist_bcast_batch(g_dist, &b, c.n_layers, c.n_routed_experts ? c.top_k : 0, extra,
                                    2, &recv));
    CHECK(extra[0] == 123 && extra[1] == 9 && b.n_seq == k->n_groups * k->group,
          "broadcast: extra %llu %llu, %d rows", (unsigned long long)extra[0],
          (unsigned long long)extra[1], b.n_seq);
    aha_grpo_config_t gc;
    grpo_config(k, &gc);
    aha_grpo_stats_t s1, s2;
    memset(&s1, 0, sizeof s1);
    aha_model_t *one = NULL;
    if (rank == 0) { /* the single-process step */
        one = tu_random_model(&c, 5);
        aha_grpo_t *g1 = NULL;
        REQUIRE_OK(aha_grpo_new(one, &gc, b.n_seq, MAX_LEN, &g1));
        REQUIRE_OK(aha_grpo_step(g1, &b, &s1));
        aha_grpo_destroy(&g1);
    }
    aha_grpo_t *g2 = NULL;
    REQUIRE_OK(aha_grpo_new(dp, &gc, b.n_seq, MAX_LEN, &g2));
    REQUIRE_OK(aha_grpo_set_dist(g2, g_dist, k->group));
    REQUIRE_OK(aha_grpo_step(g2, &b, &s2));
    /* expert parallel: rows really travelled (rank 0 always routes to rank 1's experts) */
    const double ep_bytes = aha_grpo_ep_bytes(g2);
    if (rank == 0)
        CHECK(k->ep ? ep_bytes > 0 : ep_bytes == 0, "expert rows sent to other ranks: %.0f bytes",
              ep_bytes);
    /* every rank ends with the same weights */
    double mine = 0;
    for (size_t i = 0; i < dp->n_params; i++)
        mine += dp->params[i] * (double)(i % 97 + 1);
    double lo = mine, hi = mine;
    REQUIRE_OK(aha_dist_allreduce_f64(g_dist, &hi, 1, 1));
    lo = -lo;
    REQUIRE_OK(aha_dist_allreduce_f64(g_dist, &lo, 1, 1));
    CHECK(hi == -lo, "ranks disagree on the weights: checksum %.17g vs %.17g", hi, -lo);
    if (rank == 0) {
        size_t wi = 0;
        aha_model_t *p0 = tu_random_model(&c, 5);
        const double ep = rel_err(&c, one->params, dp->params, p0->params, &wi);
        double ea = 0; /* plain relative error, for the record */
        for (size_t i = 0; i < dp->n_params; i++)
            ea = fmax(ea, fabs((double)one->params[i] - dp->params[i]));
        aha_model_destroy(&p0);
        /* the last update's summed (clipped) gradient: ZeRO-1 leaves it on rank 0's shard */
        const aha_adamw_t *o = aha_grpo_optimizer(g2);
        CHECK(o->offset == 0 && o->n < dp->n_params && o->total == dp->n_params,
              "rank 0 optimizer shard [%zu, +%zu) of %zu", o->offset, o->n, o->total);
        double gmax = 0, gdiff = 0;
        for (size_t i = o->offset; i < o->offset + o->n; i++) {
            gmax = fmax(gmax, fabs(one->grads[i]));
            gdiff = fmax(gdiff, fabs((double)one->grads[i] - dp->grads[i]));
        }
        printf("  gradient: max |g| %.3g, max diff %.2g (%.2g of max)\n", gmax, gdiff,
               gdiff / gmax);
        CHECK(gdiff <= 1e-5 * gmax, "gradient differs by %.3g of its max", gdiff / gmax);
        const double el = fabs(s1.loss - s2.loss) / fmax(fabs(s1.loss), 1e-6);
        const double eg = fabs(s1.grad_norm - s2.grad_norm) / s1.grad_norm;
        printf("  %d ranks: loss %.9g vs %.9g (rel %.2g), grad norm %.9g (rel %.2g), params max "
               "rel %.2g at %zu (max abs diff %.2g), clip %.4f/%.4f, tokens %d/%d\n",
               aha_dist_size(g_dist), s1.loss, s2.loss, el, s1.grad_norm, eg, ep, wi, ea,
               s1.clip_frac, s2.clip_frac, s1.n_tokens, s2.n_tokens);
        CHECK(el < 1e-5, "loss %.9g vs %.9g", s1.loss, s2.loss);
        CHECK(eg < 1e-5, "grad norm %.9g vs %.9g", s1.grad_norm, s2.grad_norm);
        CHECK(ep < 1e-5, "parameter %zu: %.9g vs %.9g (rel %.3g)", wi, one->params[wi],
              dp->params[wi], ep);
        CHECK(s1.n_tokens == s2.n_tokens && s1.n_updates == s2.n_updates, "tokens %d/%d",
              s1.n_tokens, s2.n_tokens);
        CHECK(fabs(s1.clip_frac - s2.clip_frac) < 1e-9 && fabs(s1.entropy - s2.entropy) < 1e-5 &&
                  fabs(s1.kl - s2.kl) < 1e-6 && fabs(s1.logp_diff_max - s2.logp_diff_max) < 1e-5,
              "statistics: clip %g/%g entropy %g/%g kl %g/%g", s1.clip_frac, s2.clip_frac,
              s1.entropy, s2.entropy, s1.kl, s2.kl);
        if (k->moe) {
            const size_t nb = (size_t)c.n_layers * c.n_routed_experts;
            int same = 1, moved = 0;
            for (size_t i = 0; i < nb; i++) {
                same &= one->expert_bias[i] == dp->expert_bias[i];
                moved |= dp->expert_bias[i] != 0;
            }
            CHECK(same && moved, "expert bias (global load): same %d, moved %d", same, moved);
        }
        aha_model_destroy(&one);
    }
    aha_grpo_destroy(&g2);
    aha_model_destroy(&dp);
    aha_dist_batch_buf_free(&recv);
    batch_mem_free(&bm);
}

#define CASE(name, ...)                                                                            \
    static void name(void) {                                                                       \
        case_t k = {__VA_ARGS__};                                                                  \
        run_case(&k);                                                                              \
    }
/* name, moe, r3, minibatches, epochs, groups, G, loss, beta, off-policy correction */
CASE(dense_grpo, 0, 0, 1, 1, 4, 4, "grpo", 0, NULL, 0)
CASE(moe_grpo, 1, 0, 1, 1, 4, 4, "grpo", 0, NULL, 0)
CASE(moe_grpo_r3, 1, 1, 1, 1, 4, 4, "grpo", 0, NULL, 0)
CASE(dense_dapo_minibatches, 0, 0, 2, 2, 5, 4, "dapo", 0, NULL, 0)
CASE(moe_dapo_r3_minibatches, 1, 1, 2, 2, 5, 4, "dapo", 0, NULL, 0)
CASE(moe_dr_grpo_kl, 1, 0, 1, 1, 3, 4, "dr_grpo", 0.05, NULL, 0)
CASE(moe_gspo_r3, 1, 1, 1, 1, 3, 4, "gspo", 0, NULL, 0)
CASE(moe_one_group, 1, 1, 1, 1, 1, 6, "grpo", 0, NULL, 0) /* rank 1 has nothing to do */
CASE(dense_tis, 0, 0, 1, 1, 4, 4, "grpo", 0, "tis", 0)
CASE(moe_decoupled_minibatches, 1, 1, 2, 2, 5, 4, "dapo", 0, "decoupled", 0) /* proximal pass */
/* expert parallel: the same cases with the routed experts split over the ranks */
CASE(ep_moe_grpo, 1, 0, 1, 1, 4, 4, "grpo", 0, NULL, 1)
CASE(ep_moe_grpo_r3, 1, 1, 1, 1, 4, 4, "grpo", 0, NULL, 1)
CASE(ep_moe_dapo_r3_minibatches, 1, 1, 2, 2, 5, 4, "dapo", 0, NULL, 1)
CASE(ep_moe_dr_grpo_kl, 1, 0, 1, 1, 3, 4, "dr_grpo", 0.05, NULL, 1) /* reference forward too */
CASE(ep_moe_one_group, 1, 1, 1, 1, 1, 6, "grpo", 0, NULL, 1)        /* rank 1 only serves */
CASE(ep_moe_decoupled_minibatches, 1, 1, 2, 2, 5, 4, "dapo", 0, "decoupled", 1)

static void test_share(void) {
    /* 5 groups of 4 over 2 ranks: 3 + 2 groups; cut points on group boundaries */
    int a, b;
    aha_dist_share(0, 20, 4, 0, 2, &a, &b);
    CHECK(a == 0 && b == 12, "rank 0 [%d, %d)", a, b);
    aha_dist_share(0, 20, 4, 1, 2, &a, &b);
    CHECK(a == 12 && b == 20, "rank 1 [%d, %d)", a, b);
    /* a minibatch cutting a group: rows [10, 20) of groups of 4 -> groups 2..4 */
    aha_dist_share(10, 20, 4, 0, 2, &a, &b);
    CHECK(a == 10 && b == 16, "cut minibatch rank 0 [%d, %d)", a, b);
    aha_dist_share(10, 20, 4, 1, 2, &a, &b);
    CHECK(a == 16 && b == 20, "cut minibatch rank 1 [%d, %d)", a, b);
    aha_dist_share(0, 4, 4, 1, 2, &a, &b);
    CHECK(a == b, "one group: rank 1 empty [%d, %d)", a, b);
    CHECK(aha_dist_loss_scale(AHA_LOSS_DAPO, 2, 30, 4, 120) == 0.25 &&
              aha_dist_loss_scale(AHA_LOSS_GRPO, 2, 30, 4, 120) == 0.5 &&
              aha_dist_loss_scale(AHA_LOSS_GRPO, 0, 0, 4, 120) == 0,
          "loss scales");
}

/* ZeRO-1 collectives over more than one bucket (AHA_DIST_BUCKET floats): reduce-scatter leaves
 * each rank's shard the exact sum (small integers), allgather gives every rank every shard. */
static void test_zero1_collectives(void) {
    const size_t n = 2 * (size_t)AHA_DIST_BUCKET + 12345;
    const int rank = aha_dist_rank(g_dist), size = aha_dist_size(g_dist);
    float *x = malloc(n * sizeof(float));
    REQUIRE(x != NULL, "alloc");
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i % 1000) * (size_t)(rank + 1));
    REQUIRE_OK(aha_dist_reduce_scatter_f32(g_dist, x, n));
    size_t lo = 0, cnt = 0, bad = 0, total = 0;
    aha_dist_shard(g_dist, n, &lo, &cnt);
    const float ranks_sum = (float)(size * (size + 1) / 2);
    for (size_t i = lo; i < lo + cnt; i++)
        bad += x[i] != (float)(i % 1000) * ranks_sum;
    CHECK(bad == 0, "reduce-scatter: %zu wrong entries in rank %d's shard [%zu, +%zu)", bad, rank,
          lo, cnt);
    for (size_t i = 0; i < n; i++) /* the shard: rank-specific values; elsewhere garbage */
        x[i] = i >= lo && i < lo + cnt ? (float)(i % 777) : -1.0f;
    REQUIRE_OK(aha_dist_allgather_f32(g_dist, x, n));
    bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += x[i] != (float)(i % 777);
    CHECK(bad == 0, "allgather: %zu wrong entries", bad);
    for (int r = 0; r < size; r++) { /* the shards tile [0, n) */
        double c = r == rank ? (double)cnt : 0;
        REQUIRE_OK(aha_dist_allreduce_f64(g_dist, &c, 1, 0));
        total += (size_t)c;
    }
    CHECK(total == n && cnt >= n / size && cnt <= n / size + 1, "shards: %zu of %zu, mine %zu",
          total, n, cnt);
    free(x);
}

static const tu_case_t cases[] = {{"share", test_share},
                                  {"zero1_collectives", test_zero1_collectives},
                                  {"dense_grpo", dense_grpo},
                                  {"moe_grpo", moe_grpo},
                                  {"moe_grpo_r3", moe_grpo_r3},
                                  {"dense_dapo_minibatches", dense_dapo_minibatches},
                                  {"moe_dapo_r3_minibatches", moe_dapo_r3_minibatches},
                                  {"moe_dr_grpo_kl", moe_dr_grpo_kl},
                                  {"moe_gspo_r3", moe_gspo_r3},
                                  {"moe_one_group", moe_one_group},
                                  {"dense_tis", dense_tis},
                                  {"moe_decoupled_minibatches", moe_decoupled_minibatches},
                                  {"ep_moe_grpo", ep_moe_grpo},
                                  {"ep_moe_grpo_r3", ep_moe_grpo_r3},
                                  {"ep_moe_dapo_r3_minibatches", ep_moe_dapo_r3_minibatches},
                                  {"ep_moe_dr_grpo_kl", ep_moe_dr_grpo_kl},
                                  {"ep_moe_one_group", ep_moe_one_group},
                                  {"ep_moe_decoupled_minibatches", ep_moe_decoupled_minibatches},
                                  {NULL, NULL}};

int main(int argc, char **argv) {
    if (aha_dist_init(&g_dist) != AHA_OK) {
        fprintf(stderr, "dist init: %s\n", aha_last_error());
        return 1;
    }
    int rc = tu_main(argc, argv, cases, __FILE__);
    /* a failure on any rank fails the run */
    double f = rc;
    aha_dist_allreduce_f64(g_dist, &f, 1, 1);
    aha_dist_finalize(&g_dist);
    return (int)f;
}
