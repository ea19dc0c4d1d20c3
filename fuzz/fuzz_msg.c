/* fuzz/fuzz_msg.c — the content checks of the task messages (verifier/msg_check.h) on bodies the
 * fuzzer builds directly: the first input byte picks Group, ScoredGroup or Lease, the rest is
 * unpacked as that message and checked inside an Envelope under no limits, the learner
 * coordinator's limits and the verifier pool's. (fuzz_wire reaches the same checks through a
 * whole frame; starting from the body lets the fuzzer spend its time on the checks.) */
#include "core/err.h"
#include "core/log.h"
#include "core/wire.h"
#include "fuzz/fuzz.h"
#include "model/rollout.h"
#include "model/tokenizer.h"
#include "verifier/msg_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    aha_log_set_level(AHA_LOG_ERROR);
    return 0;
}

static const aha_msg_limits_t g_limits[] = {
    {0, 0, 0, 0, 0, 0},
    {AHA_TOK_VOCAB, 32, 2, 2, 4, 4},              /* coordinator of a small MoE */
    {AHA_TOK_VOCAB, 128, 0, 0, 0, AHA_GROUP_MAX}, /* verifier pool */
};

static void check_all(const Aha__Envelope *env) {
    char why[200];
    for (size_t i = 0; i < sizeof g_limits / sizeof *g_limits; i++) {
        why[0] = '\0';
        int rc = aha_msg_check(env, &g_limits[i], why, sizeof why);
        FUZZ_ASSERT(rc == AHA_OK || rc == AHA_ERR_FORMAT);
        FUZZ_ASSERT(rc == AHA_OK || why[0]);
        FUZZ_ASSERT(strlen(why) < sizeof why);
    }
    int rc = aha_msg_check(env, NULL, NULL, 0);
    FUZZ_ASSERT(rc == AHA_OK || rc == AHA_ERR_FORMAT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    env.protocol = AHA_WIRE_PROTOCOL;
    switch (data[0] % 3) {
    case 0: {
        Aha__Group *g = aha__group__unpack(NULL, size - 1, data + 1);
        if (!g) break;
        env.body_case = AHA__ENVELOPE__BODY_GROUP;
        env.group = g;
        check_all(&env);
        aha__group__free_unpacked(g, NULL);
        break;
    }
    case 1: {
        Aha__ScoredGroup *sg = aha__scored_group__unpack(NULL, size - 1, data + 1);
        if (!sg) break;
        env.body_case = AHA__ENVELOPE__BODY_SCORED_GROUP;
        env.scored_group = sg;
        check_all(&env);
        aha__scored_group__free_unpacked(sg, NULL);
        break;
    }
    default: {
        Aha__Lease *l = aha__lease__unpack(NULL, size - 1, data + 1);
        if (!l) break;
        env.body_case = AHA__ENVELOPE__BODY_LEASE;
        env.lease = l;
        check_all(&env);
        aha__lease__free_unpacked(l, NULL);
        break;
    }
    }
    aha_error_clear();
    return 0;
}
