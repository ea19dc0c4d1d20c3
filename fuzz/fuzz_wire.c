/* fuzz/fuzz_wire.c — one received frame through the learner's decode + check path:
 * aha_wire_decode (Envelope unpack, protocol number, body) with the content check the learner's
 * sockets register (verifier/msg_check.h, coordinator and verifier-pool limits, and the protocol's
 * own checks alone); an accepted Group is then converted to a rollout as the learner does
 * (aha_group_msg_to_rollout), which must not read or write out of bounds. */
#include "verifier/group_msg.h"
#include "core/err.h"
#include "core/log.h"
#include "core/wire.h"
#include "fuzz/fuzz.h"
#include "model/model.h"
#include "model/rollout.h"
#include "model/tokenizer.h"
#include "verifier/msg_check.h"

#define GROUP 4 /* rl.group_size of the harness's learner */
#define MAX_LEN 32

static aha_msg_limits_t g_coord, g_pool;
static aha_model_t *g_model;
static aha_rollout_t *g_rollout[GROUP + 1]; /* [n]: a rollout of n rows */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    aha_log_set_level(AHA_LOG_ERROR);
    aha_model_config_t c;
    aha_model_config_default(&c);
    c.vocab_size = AHA_TOK_VOCAB;
    c.dim = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.max_seq_len = MAX_LEN;
    c.n_dense_layers = 0;
    c.n_routed_experts = 4;
    c.top_k = 2;
    c.moe_hidden = 8;
    if (aha_model_new(&c, &g_model) != AHA_OK) {
        fprintf(stderr, "fuzz_wire: %s\n", aha_last_error());
        abort();
    }
    for (int n = 1; n <= GROUP; n++)
        if (aha_rollout_new(g_model, n, MAX_LEN, 1, &g_rollout[n]) != AHA_OK) abort();
    /* as learner/coordinator.c and learner/verifier_pool.c set them for this model */
    g_coord =
        (aha_msg_limits_t){AHA_TOK_VOCAB, MAX_LEN, c.n_layers, c.top_k, c.n_routed_experts, GROUP};
    g_pool = (aha_msg_limits_t){AHA_TOK_VOCAB, MAX_LEN, 0, 0, 0, AHA_GROUP_MAX};
    return 0;
}

static int check_wire_only(const Aha__Envelope *env, const void *ctx, char *why, size_t cap) {
    (void)ctx;
    return aha_wire_check_envelope(env, why, cap);
}

static void one(const uint8_t *data, size_t size, aha_wire_check_fn check, const void *ctx,
                int to_rollout) {
    char why[200];
    Aha__Envelope *env = NULL;
    int v = aha_wire_decode(data, size, check, ctx, why, sizeof why, &env);
    FUZZ_ASSERT(v >= AHA_WIRE_ACCEPTED && v <= AHA_WIRE_INVALID);
    FUZZ_ASSERT(strlen(why) < sizeof why);
    if (v == AHA_WIRE_MALFORMED) {
        FUZZ_ASSERT(env == NULL && why[0]);
        return;
    }
    FUZZ_ASSERT(env != NULL);
    if (v != AHA_WIRE_ACCEPTED) {
        FUZZ_ASSERT(why[0]);
    } else {
        FUZZ_ASSERT(env->protocol == AHA_WIRE_PROTOCOL);
        FUZZ_ASSERT(env->body_case != AHA__ENVELOPE__BODY__NOT_SET);
        const Aha__Group *g = env->body_case == AHA__ENVELOPE__BODY_GROUP ? env->group
                              : env->body_case == AHA__ENVELOPE__BODY_SCORED_GROUP
                                  ? env->scored_group->group
                                  : NULL;
        if (to_rollout && g && g->n_sample_index <= GROUP)
            (void)aha_group_msg_to_rollout(g, g_rollout[g->n_sample_index]);
    }
    aha_wire_free(&env);
    FUZZ_ASSERT(env == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one(data, size, aha_msg_check_fn, &g_coord, 1);
    one(data, size, aha_msg_check_fn, &g_pool, 0);
    one(data, size, aha_msg_check_fn, NULL, 0);
    one(data, size, check_wire_only, NULL, 0);
    one(data, size, NULL, NULL, 0);
    aha_error_clear();
    return 0;
}
