/* core/wire_testutil.h — a test fixture shared by the wire and message-check tests (header only,
 * include after core/testutil.h): tu_make_group, a consistent Group message, and
 * tu_short_checksum_announce. */
#ifndef AHA_CORE_WIRE_TESTUTIL_H
#define AHA_CORE_WIRE_TESTUTIL_H
#include <stdint.h>
#include "core/wire.h"

/* The group's shape: SAMPLES samples of a model with LAYERS layers, top-TOPK of EXPERTS experts,
 * vocabulary VOCAB. */
enum { SAMPLES = 3, LAYERS = 2, TOPK = 2, EXPERTS = 8, VOCAB = 105 };

/* A consistent group of SAMPLES samples; arrays are static storage (valid until the next call). */
static inline Aha__Group tu_make_group(Aha__Problem *prob) {
    static uint32_t idx[SAMPLES], plen[SAMPLES], tlen[SAMPLES], fin[SAMPLES], tokens[64];
    static float lps[64];
    static int32_t eids[64 * LAYERS * TOPK];
    Aha__Group g = AHA__GROUP__INIT;
    size_t nt = 0, nl = 0, ne = 0;
    for (int s = 0; s < SAMPLES; s++) {
        idx[s] = (uint32_t)s;
        plen[s] = 4;
        tlen[s] = 4 + 2 + (uint32_t)s;
        fin[s] = s != 1;
        for (uint32_t t = 0; t < tlen[s]; t++) {
            tokens[nt++] = (7 * s + 3 * t) % VOCAB;
            if (t >= plen[s]) lps[nl++] = -0.25f * (float)(t + 1);
            if (t + 1 < tlen[s])
                for (int l = 0; l < LAYERS; l++)
                    for (int k = 0; k < TOPK; k++)
                        eids[ne++] = l == 0 ? -1 : (int32_t)((s + t + k) % EXPERTS);
        }
    }
    g.lease_id = 42;
    g.prompt_id = 1234567890123ULL;
    g.policy_version = 7;
    g.n_sample_index = g.n_prompt_len = g.n_total_len = g.n_finished = SAMPLES;
    g.sample_index = idx;
    g.prompt_len = plen;
    g.total_len = tlen;
    g.finished = fin;
    g.n_tokens = nt;
    g.tokens = tokens;
    g.n_logprobs = nl;
    g.logprobs = lps;
    g.n_layers = LAYERS;
    g.top_k = TOPK;
    g.n_expert_ids = ne;
    g.expert_ids = eids;
    prob->kind = "countdown";
    g.problem = prob;
    g.actor = "actor/0";
    return g;
}

/* O as a WeightAnnounce envelope carrying WA, whose checksum is SUM (32 bytes) but declared 31
 * bytes long: invalid until the test sets wa->checksum.len = 32. */
static inline void tu_short_checksum_announce(Aha__Envelope *o, Aha__WeightAnnounce *wa,
                                              uint8_t *sum) {
    o->body_case = AHA__ENVELOPE__BODY_WEIGHT_ANNOUNCE;
    o->weight_announce = wa;
    wa->chunk_bytes = 1 << 20;
    wa->checksum.data = sum;
    wa->checksum.len = 31;
}

#endif
