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

static const ProtobufCMessageDescriptor *const g_bodies[] = {
    &aha__group__descriptor, &aha__scored_group__descriptor, &aha__lease__descriptor};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const ProtobufCMessageDescriptor *kind = g_bodies[data[0] % 3];
    ProtobufCMessage *body = protobuf_c_message_unpack(kind, NULL, size - 1, data + 1);
    if (body) {
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        env.protocol = AHA_WIRE_PROTOCOL;
        FUZZ_ASSERT(aha_wire_envelope_set_body(&env, body) == AHA_OK);
        check_all(&env);
        protobuf_c_message_free_unpacked(body, NULL);
    }
    aha_error_clear();
    return 0;
}
