/* verifier/msg_check.h — content checks of the task messages (Group, ScoredGroup, Lease), the
 * check a role registers on its sockets with aha_wire_set_check (core/wire.h knows only framing,
 * size caps and protobuf). Beyond what protobuf guarantees: array lengths agree with each other,
 * lengths and ids are in range, floats are finite, log-probs are <= 0, required sub-messages are
 * present, the problem names a task of the task table. Every other body gets the protocol's own
 * checks (aha_wire_check_envelope). */
#ifndef AHA_VERIFIER_MSG_CHECK_H
#define AHA_VERIFIER_MSG_CHECK_H
#include "core/wire.h"
#include <stddef.h>

/* Bounds the checks enforce (0 = not checked for that field). */
typedef struct {
    int vocab;     /* tokens in [0, vocab) */
    int max_len;   /* total_len of a sample */
    int n_layers;  /* routing records: exactly this many layers ... */
    int top_k;     /* ... and this top-k */
    int n_experts; /* expert ids in [-1, n_experts) */
    int max_group; /* samples per group, group_size of a lease */
} aha_msg_limits_t;

/* 0 if ENV is acceptable under LIMITS (NULL: no bounds), else AHA_ERR_FORMAT with a message naming
 * the message and field (also written to why[0..cap) if WHY is not NULL). */
int aha_msg_check(const Aha__Envelope *env, const aha_msg_limits_t *limits, char *why, size_t cap);

/* aha_msg_check as an aha_wire_check_fn: CTX is the const aha_msg_limits_t *. Register with
 * aha_wire_set_check(w, aha_msg_check_fn, &limits) (limits must outlive the socket). */
int aha_msg_check_fn(const Aha__Envelope *env, const void *ctx, char *why, size_t cap);

#endif
