/* core/wire_testutil.h — a test fixture shared by the wire and message-check tests (header only,
 * include after core/testutil.h): tu_make_group, a consistent Group message,
 * tu_short_checksum_announce, and tu_router_for_peer / tu_read_endpoint, the two ends of a test
 * whose peer is a forked process, which tu_fork_peer puts together. */
#ifndef AHA_CORE_WIRE_TESTUTIL_H
#define AHA_CORE_WIRE_TESTUTIL_H
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <zmq.h>
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

/* A ROUTER wire named IDENTITY (message cap CAP) bound to a free loopback TCP port; its endpoint
 * goes to EP and, for a forked peer, into the pipe FD, which is then closed. NULL after a failed
 * check. */
static inline aha_wire_t *tu_router_for_peer(void *ctx, const char *identity, size_t cap, int fd,
                                             char *ep, size_t ep_cap) {
    aha_wire_t *w = NULL;
    if (aha_wire_new(ctx, ZMQ_ROUTER, identity, cap, &w) != 0 ||
        aha_wire_bind(w, "tcp://127.0.0.1:*") != 0 || aha_wire_endpoint(w, ep, ep_cap) != 0) {
        CHECK(0, "router %s: %s", identity, aha_last_error());
        aha_wire_destroy(&w);
        close(fd);
        return NULL;
    }
    CHECK(write(fd, ep, strlen(ep)) == (ssize_t)strlen(ep), "endpoint to the peer");
    close(fd);
    return w;
}

/* The forked peer's end: the endpoint from the pipe FD (read to its end) into EP; 0, or -1 when
 * none came. */
static inline int tu_read_endpoint(int fd, char *ep, size_t cap);

/* A test peer in a forked process and the ROUTER the test talks to it on. */
typedef struct {
    pid_t pid;     /* the child (tu_wait_child reaps it) */
    int from;      /* read end of the pipe the peer reports on */
    void *ctx;     /* ZeroMQ context made after the fork (the test terminates it) */
    aha_wire_t *w; /* the ROUTER on a free loopback port (the test destroys it) */
    char ep[256];  /* its endpoint */
} tu_forked_peer_t;

/* Forks (before any ZeroMQ context: the child inherits no threads) a child that runs PEER(ep, fd)
 * with the endpoint of the parent's ROUTER named IDENTITY and FD the write end of p->from, and
 * exits with its result; then makes that ROUTER. 0, or -1 after a failed check (the child
 * killed). */
static inline int tu_fork_peer(tu_forked_peer_t *p, const char *identity,
                               int (*peer)(const char *ep, int fd)) {
    int to_child[2], from_child[2];
    REQUIRE(pipe(to_child) == 0 && pipe(from_child) == 0, "pipe");
    fflush(NULL);
    p->pid = fork();
    if (p->pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        char ep[256];
        if (tu_read_endpoint(to_child[0], ep, sizeof ep) < 0) _exit(2);
        _exit(peer(ep, from_child[1]));
    }
    close(to_child[0]);
    close(from_child[1]);
    p->from = from_child[0];
    CHECK(p->pid > 0, "fork");
    p->ctx = zmq_ctx_new();
    p->w = tu_router_for_peer(p->ctx, identity, 1 << 20, to_child[1], p->ep, sizeof p->ep);
    if (p->w) return 0;
    if (p->pid > 0) kill(p->pid, SIGKILL);
    return -1;
}

static inline int tu_read_endpoint(int fd, char *ep, size_t cap) {
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, ep + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    ep[got] = 0;
    return got > 0 ? 0 : -1;
}

#endif
