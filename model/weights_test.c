/* weights: pack / unpack round trip of the policy weights (parameters + routing biases) between
 * two models of the same shape, the layout (parameters first, biases last), a dense model without
 * biases, and refusals of a wrong length that leave the model untouched. */
#include "core/rng.h"
#include "model/model.h"
#include "model/weights.h"
#include "core/testutil.h"
#include <stdlib.h>
#include <string.h>
#include "core/err.h"

static aha_model_t *random_model(const aha_model_config_t *c, uint64_t seed) {
    aha_model_t *m = NULL;
    REQUIRE_OK(aha_model_new(c, &m));
    aha_rng_t rng;
    aha_rng_seed(&rng, seed);
    tu_init(m, &rng, 0.5f, m->expert_bias ? 0.3f : 0.0f);
    return m;
}

/* Two random models of the tiny config (dense: without experts), a from SEED and b from SEED + 1,
 * the size n of their packed weights, a's packed weights in packed (with room for 4 bytes more)
 * and n bytes of scratch; pair_free releases them all. */
typedef struct {
    aha_model_config_t c;
    aha_model_t *a, *b;
    size_t n;
    uint8_t *packed, *scratch;
} pair_t;

static pair_t pair_new(int dense, uint64_t seed) {
    pair_t p = {0};
    tu_tiny_config(&p.c);
    if (dense) {
        p.c.n_routed_experts = 0;
        p.c.n_shared_experts = 0;
        p.c.n_dense_layers = p.c.n_layers;
    }
    p.a = random_model(&p.c, seed);
    p.b = random_model(&p.c, seed + 1);
    p.n = aha_weights_bytes(p.a);
    p.packed = malloc(p.n + 4);
    p.scratch = malloc(p.n);
    REQUIRE(p.packed && p.scratch, "malloc");
    aha_weights_pack(p.a, p.packed);
    return p;
}

static void pair_free(pair_t *p) {
    free(p->packed);
    free(p->scratch);
    aha_model_destroy(&p->a);
    aha_model_destroy(&p->b);
}

static void test_round_trip(void) {
    pair_t p = pair_new(0, 1);
    const aha_model_t *a = p.a;
    const size_t nb = (size_t)p.c.n_layers * p.c.n_routed_experts;
    const size_t params_bytes = sizeof(float) * a->n_params;
    CHECK(p.n == sizeof(float) * (a->n_params + nb), "%zu bytes for %zu params + %zu biases", p.n,
          a->n_params, nb);
    CHECK(!memcmp(p.packed, a->params, params_bytes), "parameters come first");
    CHECK(!memcmp(p.packed + params_bytes, a->expert_bias, sizeof(float) * nb),
          "routing biases come last");
    CHECK(memcmp(a->params, p.b->params, params_bytes), "models differ before");
    REQUIRE_OK(aha_weights_unpack(p.b, p.packed, p.n));
    CHECK(!memcmp(a->params, p.b->params, params_bytes), "parameters bit-identical");
    CHECK(!memcmp(a->expert_bias, p.b->expert_bias, sizeof(float) * nb), "biases bit-identical");
    aha_weights_pack(p.b, p.scratch);
    CHECK(!memcmp(p.packed, p.scratch, p.n), "pack(unpack(x)) == x");
    pair_free(&p);
    CHECK(p.a == NULL && p.b == NULL, "destroy NULLs the pointer");
}

static void test_dense(void) {
    pair_t p = pair_new(1, 3);
    CHECK(p.n == sizeof(float) * p.a->n_params, "dense: %zu bytes for %zu params", p.n,
          p.a->n_params);
    REQUIRE_OK(aha_weights_unpack(p.b, p.packed, p.n));
    CHECK(!memcmp(p.a->params, p.b->params, p.n), "dense round trip");
    pair_free(&p);
}

static void test_wrong_length(void) {
    pair_t p = pair_new(0, 5);
    uint8_t *before = p.scratch;
    aha_weights_pack(p.b, before);
    CHECK(aha_weights_unpack(p.b, p.packed, p.n - 4) == AHA_ERR_FORMAT, "short blob refused");
    CHECK(aha_weights_unpack(p.b, p.packed, p.n + 4) == AHA_ERR_FORMAT, "long blob refused");
    CHECK(aha_weights_unpack(p.b, NULL, p.n) == AHA_ERR_FORMAT, "NULL data refused");
    CHECK(aha_weights_unpack(NULL, p.packed, p.n) == AHA_ERR_FORMAT, "NULL model refused");
    aha_weights_pack(p.b, p.packed);
    CHECK(!memcmp(p.packed, before, p.n), "a refused unpack leaves the model untouched");
    pair_free(&p);
}

/* The fetch sink: the packed bytes written in pieces of 7 and 1000 bytes, last piece first (one
 * piece spans the parameters' end and the biases' start) give the same model as unpack; a blob
 * of another size is refused before anything is written. */
static void test_sink(void) {
    pair_t p = pair_new(0, 3);
    const size_t n = p.n;
    uint8_t *got = p.scratch;
    const aha_blob_sink_t s = aha_weights_sink(p.b);
    CHECK(s.begin(s.ctx, n + 4) == AHA_ERR_FORMAT, "a blob 4 bytes too long refused");
    aha_weights_pack(p.b, got);
    CHECK(memcmp(got, p.packed, n) != 0, "the models differ before");
    REQUIRE(s.begin(s.ctx, n) == AHA_OK, "begin with the model's size");
    for (int piece = 0; piece < 2; piece++) {
        const size_t step = piece ? 1000 : 7;
        memset(got, 0, n);
        for (size_t end = n; end > 0;) {
            const size_t off = end > step ? end - step : 0;
            s.write(s.ctx, off, p.packed + off, end - off);
            end = off;
        }
        aha_weights_pack(p.b, got);
        CHECK(!memcmp(got, p.packed, n), "pieces of %zu bytes, last first: the packed weights",
              step);
    }
    CHECK(p.b->expert_bias && !memcmp(p.b->expert_bias, p.a->expert_bias,
                                      sizeof(float) * p.c.n_layers * p.c.n_routed_experts),
          "routing biases written");
    pair_free(&p);
}

static const tu_case_t cases[] = {{"round_trip", test_round_trip},
                                  {"sink", test_sink},
                                  {"dense", test_dense},
                                  {"wrong_length", test_wrong_length}};

TU_MAIN(cases)
