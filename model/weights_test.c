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

/* Two random models of one config (a from seed, b from seed + 1), the size n of their packed
 * weights and two buffers of n bytes; pair_free releases them all. */
typedef struct {
    aha_model_t *a, *b;
    size_t n;
    uint8_t *buf, *other;
} pair_t;

static pair_t pair_new(const aha_model_config_t *c, uint64_t seed) {
    pair_t p = {random_model(c, seed), random_model(c, seed + 1), 0, NULL, NULL};
    p.n = aha_weights_bytes(p.a);
    p.buf = malloc(p.n + 4); /* room for the too-long blob of test_wrong_length */
    p.other = malloc(p.n);
    REQUIRE(p.buf && p.other, "malloc");
    return p;
}

static void pair_free(pair_t *p) {
    free(p->buf);
    free(p->other);
    aha_model_destroy(&p->a);
    aha_model_destroy(&p->b);
}

static void test_round_trip(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    pair_t p = pair_new(&c, 1);
    aha_model_t *a = p.a, *b = p.b;
    const size_t nb = (size_t)c.n_layers * c.n_routed_experts;
    const size_t n = p.n;
    uint8_t *buf = p.buf, *again = p.other;
    CHECK(n == sizeof(float) * (a->n_params + nb), "%zu bytes for %zu params + %zu biases", n,
          a->n_params, nb);
    aha_weights_pack(a, buf);
    CHECK(!memcmp(buf, a->params, sizeof(float) * a->n_params), "parameters come first");
    CHECK(!memcmp(buf + sizeof(float) * a->n_params, a->expert_bias, sizeof(float) * nb),
          "routing biases come last");
    CHECK(memcmp(a->params, b->params, sizeof(float) * a->n_params), "models differ before");
    REQUIRE_OK(aha_weights_unpack(b, buf, n));
    CHECK(!memcmp(a->params, b->params, sizeof(float) * a->n_params), "parameters bit-identical");
    CHECK(!memcmp(a->expert_bias, b->expert_bias, sizeof(float) * nb), "biases bit-identical");
    aha_weights_pack(b, again);
    CHECK(!memcmp(buf, again, n), "pack(unpack(x)) == x");
    pair_free(&p);
    CHECK(p.a == NULL && p.b == NULL, "destroy NULLs the pointer");
}

static void test_dense(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    c.n_routed_experts = 0;
    c.n_shared_experts = 0;
    c.n_dense_layers = c.n_layers;
    pair_t p = pair_new(&c, 3);
    CHECK(p.n == sizeof(float) * p.a->n_params, "dense: %zu bytes for %zu params", p.n,
          p.a->n_params);
    aha_weights_pack(p.a, p.buf);
    REQUIRE_OK(aha_weights_unpack(p.b, p.buf, p.n));
    CHECK(!memcmp(p.a->params, p.b->params, p.n), "dense round trip");
    pair_free(&p);
}

static void test_wrong_length(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    pair_t p = pair_new(&c, 5);
    aha_model_t *a = p.a, *b = p.b;
    const size_t n = p.n;
    uint8_t *buf = p.buf, *before = p.other;
    aha_weights_pack(a, buf);
    aha_weights_pack(b, before);
    CHECK(aha_weights_unpack(b, buf, n - 4) == AHA_ERR_FORMAT, "short blob refused");
    CHECK(aha_weights_unpack(b, buf, n + 4) == AHA_ERR_FORMAT, "long blob refused");
    CHECK(aha_weights_unpack(b, NULL, n) == AHA_ERR_FORMAT, "NULL data refused");
    CHECK(aha_weights_unpack(NULL, buf, n) == AHA_ERR_FORMAT, "NULL model refused");
    aha_weights_pack(b, buf);
    CHECK(!memcmp(buf, before, n), "a refused unpack leaves the model untouched");
    pair_free(&p);
}

/* The fetch sink: the packed bytes written in pieces of 7 and 1000 bytes, last piece first (one
 * piece spans the parameters' end and the biases' start) give the same model as unpack; a blob
 * of another size is refused before anything is written. */
static void test_sink(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    pair_t p = pair_new(&c, 3);
    aha_model_t *a = p.a, *b = p.b;
    const size_t n = p.n;
    uint8_t *buf = p.buf, *got = p.other;
    aha_weights_pack(a, buf);
    const aha_blob_sink_t s = aha_weights_sink(b);
    CHECK(s.begin(s.ctx, n + 4) == AHA_ERR_FORMAT, "a blob 4 bytes too long refused");
    aha_weights_pack(b, got);
    CHECK(memcmp(got, buf, n) != 0, "the models differ before");
    REQUIRE(s.begin(s.ctx, n) == AHA_OK, "begin with the model's size");
    for (int piece = 0; piece < 2; piece++) {
        const size_t step = piece ? 1000 : 7;
        memset(got, 0, n);
        for (size_t end = n; end > 0;) {
            const size_t off = end > step ? end - step : 0;
            s.write(s.ctx, off, buf + off, end - off);
            end = off;
        }
        aha_weights_pack(b, got);
        CHECK(!memcmp(got, buf, n), "pieces of %zu bytes, last first: the packed weights", step);
    }
    CHECK(b->expert_bias && !memcmp(b->expert_bias, a->expert_bias,
                                    sizeof(float) * c.n_layers * c.n_routed_experts),
          "routing biases written");
    pair_free(&p);
}

static const tu_case_t cases[] = {{"round_trip", test_round_trip},
                                  {"sink", test_sink},
                                  {"dense", test_dense},
                                  {"wrong_length", test_wrong_length}};

TU_MAIN(cases)
