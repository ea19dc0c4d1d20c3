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

static void test_round_trip(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    aha_model_t *a = random_model(&c, 1), *b = random_model(&c, 2);
    const size_t nb = (size_t)c.n_layers * c.n_routed_experts;
    const size_t n = aha_weights_bytes(a);
    CHECK(n == sizeof(float) * (a->n_params + nb), "%zu bytes for %zu params + %zu biases", n,
          a->n_params, nb);
    uint8_t *buf = malloc(n), *again = malloc(n);
    REQUIRE(buf && again, "malloc");
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
    free(buf);
    free(again);
    aha_model_destroy(&a);
    aha_model_destroy(&b);
    CHECK(a == NULL && b == NULL, "destroy NULLs the pointer");
}

static void test_dense(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    c.n_routed_experts = 0;
    c.n_shared_experts = 0;
    c.n_dense_layers = c.n_layers;
    aha_model_t *a = random_model(&c, 3), *b = random_model(&c, 4);
    const size_t n = aha_weights_bytes(a);
    CHECK(n == sizeof(float) * a->n_params, "dense: %zu bytes for %zu params", n, a->n_params);
    uint8_t *buf = malloc(n);
    REQUIRE(buf, "malloc");
    aha_weights_pack(a, buf);
    REQUIRE_OK(aha_weights_unpack(b, buf, n));
    CHECK(!memcmp(a->params, b->params, n), "dense round trip");
    free(buf);
    aha_model_destroy(&a);
    aha_model_destroy(&b);
}

static void test_wrong_length(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    aha_model_t *a = random_model(&c, 5), *b = random_model(&c, 6);
    const size_t n = aha_weights_bytes(a);
    uint8_t *buf = malloc(n + 4), *before = malloc(n);
    REQUIRE(buf && before, "malloc");
    aha_weights_pack(a, buf);
    aha_weights_pack(b, before);
    CHECK(aha_weights_unpack(b, buf, n - 4) == AHA_ERR_FORMAT, "short blob refused");
    CHECK(aha_weights_unpack(b, buf, n + 4) == AHA_ERR_FORMAT, "long blob refused");
    CHECK(aha_weights_unpack(b, NULL, n) == AHA_ERR_FORMAT, "NULL data refused");
    CHECK(aha_weights_unpack(NULL, buf, n) == AHA_ERR_FORMAT, "NULL model refused");
    aha_weights_pack(b, buf);
    CHECK(!memcmp(buf, before, n), "a refused unpack leaves the model untouched");
    free(buf);
    free(before);
    aha_model_destroy(&a);
    aha_model_destroy(&b);
}

/* The fetch sink: the packed bytes written in pieces of 7 and 1000 bytes, last piece first (one
 * piece spans the parameters' end and the biases' start) give the same model as unpack; a blob
 * of another size is refused before anything is written. */
static void test_sink(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    aha_model_t *a = random_model(&c, 3), *b = random_model(&c, 4);
    const size_t n = aha_weights_bytes(a);
    uint8_t *buf = malloc(n), *got = malloc(n);
    REQUIRE(buf && got, "malloc");
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
    free(buf);
    free(got);
    aha_model_destroy(&a);
    aha_model_destroy(&b);
}

static const tu_case_t cases[] = {{"round_trip", test_round_trip},
                                  {"sink", test_sink},
                                  {"dense", test_dense},
                                  {"wrong_length", test_wrong_length}};

TU_MAIN(cases)
