/* wire: aha messages over real ZeroMQ TCP sockets between two processes (fork). A ROUTER in this
 * process receives from a DEALER in a child process: valid envelopes arrive intact (a Group with
 * its routing record, a Hello) and the reply reaches the child; garbage bytes, another protocol
 * number, an empty envelope, a three-frame message, a frame over the cap and content that fails
 * the checks are each counted once, and the receiver keeps going; a frame over the hard
 * ZMQ_MAXMSGSIZE only costs the sender its connection; 300 random frames are all dropped.
 * Also: the protocol's own envelope checks, oversize sends are refused, receive times out, and
 * the drop log is limited per kind (aha_log_nth: 15 + 1000 + 15 drops of two kinds log 10 + 11). (The
 * task-message content checks are verifier/msg_check_test.c.) */
#include "core/err.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/testutil.h"
#include "core/wire.h"
#include "core/wire_testutil.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { CAP = 64 * 1024 };

/* The content check this test registers on its receiving socket (core knows no task content): a
 * Group must carry one log-prob per response token. */
static int test_content_check(const Aha__Envelope *env, const void *ctx, char *why, size_t cap) {
    (void)ctx;
    if (env->body_case == AHA__ENVELOPE__BODY_GROUP) {
        const Aha__Group *g = env->group;
        size_t responses = 0;
        for (size_t s = 0; s < g->n_total_len && s < g->n_prompt_len; s++)
            responses += g->total_len[s] - g->prompt_len[s];
        if (g->n_logprobs != responses) {
            snprintf(why, cap, "Group: %zu logprobs for %zu response tokens", g->n_logprobs,
                     responses);
            return AHA_ERR_FORMAT;
        }
    }
    return aha_wire_check_envelope(env, why, cap);
}

static int send_raw(void *sock, const void *data, size_t len) {
    return zmq_send(sock, data, len, 0) == (int)len ? 0 : -1;
}

/* ---- the child: a DEALER that sends good and bad frames, then waits for the reply ---- */
static int child(const char *endpoint) {
    void *ctx = zmq_ctx_new();
    aha_wire_t *w = NULL;
    int ok = ctx && aha_wire_new(ctx, ZMQ_DEALER, "actor/0", CAP, &w) == 0 &&
             aha_wire_set_identity(w, "actor-0") == 0 && aha_wire_connect(w, endpoint) == 0;
    void *s = ok ? aha_wire_socket(w) : NULL;
    if (ok) {
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        Aha__Hello hello = AHA__HELLO__INIT;
        hello.role = "actor";
        hello.name = "actor/0";
        hello.capacity = 2;
        env.body_case = AHA__ENVELOPE__BODY_HELLO;
        env.hello = &hello;
        ok &= aha_wire_send(w, NULL, &env) == 0;                /* 1. valid Hello */
        ok &= send_raw(s, "\xff\xff\xff\xff garbage", 13) == 0; /* 2. not protobuf */
        /* 3. another protocol number: pack by hand */
        Aha__Envelope other = AHA__ENVELOPE__INIT;
        other.protocol = 99;
        other.sender = "impostor";
        other.body_case = AHA__ENVELOPE__BODY_HELLO;
        other.hello = &hello;
        uint8_t buf[256];
        size_t n = aha__envelope__pack(&other, buf);
        ok &= send_raw(s, buf, n) == 0;
        /* 4. an envelope without a body */
        Aha__Envelope empty = AHA__ENVELOPE__INIT;
        empty.protocol = AHA_WIRE_PROTOCOL;
        n = aha__envelope__pack(&empty, buf);
        ok &= send_raw(s, buf, n) == 0;
        /* 5. three frames */
        ok &= zmq_send(s, "a", 1, ZMQ_SNDMORE) == 1 && zmq_send(s, "b", 1, ZMQ_SNDMORE) == 1 &&
              zmq_send(s, "c", 1, 0) == 1;
        /* 6. over the cap (but under the hard limit) */
        size_t big = CAP + 1000;
        char *junk = calloc(big, 1);
        ok &= junk && send_raw(s, junk, big) == 0;
        free(junk);
        /* 7. a Group whose lengths disagree */
        Aha__Problem prob = AHA__PROBLEM__INIT;
        Aha__Group g = tu_make_group(&prob);
        g.n_logprobs -= 1;
        Aha__Envelope genv = AHA__ENVELOPE__INIT;
        genv.body_case = AHA__ENVELOPE__BODY_GROUP;
        genv.group = &g;
        ok &= aha_wire_send(w, NULL, &genv) == 0;
        /* 8. random frames */
        aha_rng_t rng;
        aha_rng_seed(&rng, 5);
        for (int i = 0; i < 300; i++) {
            uint8_t r[200];
            size_t len = 1 + aha_rng_u64(&rng) % sizeof r;
            for (size_t j = 0; j < len; j++)
                r[j] = (uint8_t)aha_rng_u64(&rng);
            /* a random frame that happens to be a valid envelope with protocol 1 and a body
             * would be accepted; 0x08 0x01 would be needed at the start, so avoid it */
            if (r[0] == 0x08) r[0] = 0x09;
            ok &= send_raw(s, r, len) == 0;
        }
        /* 9. a valid Group, then wait for the Lease reply */
        g = tu_make_group(&prob);
        ok &= aha_wire_send(w, NULL, &genv) == 0;
        Aha__Envelope *reply = NULL;
        int rc = aha_wire_recv(w, 10000, NULL, &reply);
        ok &= rc == 0 && reply && reply->body_case == AHA__ENVELOPE__BODY_LEASE &&
              reply->lease->prompt_id == 99 && reply->lease->group_size == 8 &&
              !strcmp(reply->sender, "learner/0");
        aha_wire_free(&reply);
    }
    aha_wire_destroy(&w);
    /* 10. a frame over the hard limit on a second connection: libzmq drops that connection;
     * a third connection afterwards still gets through */
    void *rude = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int zero = 0;
    if (rude && zmq_setsockopt(rude, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
        zmq_connect(rude, endpoint) == 0) {
        size_t huge = 2 * CAP + 128 * 1024;
        char *junk = calloc(huge, 1);
        ok &= junk && send_raw(rude, junk, huge) == 0;
        free(junk);
        usleep(200 * 1000);
    } else {
        ok = 0;
    }
    if (rude) zmq_close(rude);
    aha_wire_t *late = NULL;
    if (ctx && aha_wire_new(ctx, ZMQ_DEALER, "actor/1", CAP, &late) == 0 &&
        aha_wire_connect(late, endpoint) == 0) {
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        Aha__Heartbeat hb = AHA__HEARTBEAT__INIT;
        hb.done = 5;
        env.body_case = AHA__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        ok &= aha_wire_send(late, NULL, &env) == 0;
        usleep(300 * 1000); /* LINGER 0: give the frame time to leave */
    } else {
        ok = 0;
    }
    aha_wire_destroy(&late);
    if (ctx) zmq_ctx_term(ctx);
    return ok ? 0 : 1;
}

static void test_two_processes(void) {
    /* fork before any ZeroMQ context exists (a context owns threads; forking a threaded process
     * can leave locks held in the child); the endpoint goes to the child through a pipe */
    int fds[2];
    if (pipe(fds) != 0) {
        CHECK(0, "pipe");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        char ep[256];
        _exit(tu_read_endpoint(fds[0], ep, sizeof ep) == 0 ? child(ep) : 2);
    }
    close(fds[0]);
    CHECK(pid > 0, "fork");
    void *ctx = zmq_ctx_new();
    aha_wire_t *w = NULL;
    char endpoint[256];
    if (!ctx || aha_wire_new(ctx, ZMQ_ROUTER, "learner/0", CAP, &w) != 0 ||
        aha_wire_bind(w, "tcp://127.0.0.1:*") != 0 ||
        aha_wire_endpoint(w, endpoint, sizeof endpoint) != 0) {
        CHECK(0, "router: %s", aha_last_error());
        close(fds[1]);
        if (pid > 0) tu_wait_child(pid, 20000);
        aha_wire_destroy(&w);
        if (ctx) zmq_ctx_term(ctx);
        return;
    }
    aha_wire_set_check(w, test_content_check, NULL);
    CHECK(write(fds[1], endpoint, strlen(endpoint)) == (ssize_t)strlen(endpoint), "pipe write");
    close(fds[1]);

    aha_peer_t from;
    Aha__Envelope *env = NULL;
    /* 1: the Hello, from identity actor-0 over tcp */
    CHECK(aha_wire_recv(w, 10000, &from, &env) == 0, "recv hello: %s", aha_last_error());
    CHECK(env && env->body_case == AHA__ENVELOPE__BODY_HELLO &&
              !strcmp(env->hello->role, "actor") && env->hello->capacity == 2 &&
              !strcmp(env->sender, "actor/0") && env->seq == 1,
          "hello content");
    CHECK(from.id_len == 7 && !memcmp(from.id, "actor-0", 7), "peer identity");
    CHECK(!strncmp(from.addr, "127.0.0.1", 9), "peer address '%s'", from.addr);
    aha_wire_free(&env);
    CHECK(env == NULL, "free NULLs");
    /* 9: the valid Group; everything in between is dropped */
    CHECK(aha_wire_recv(w, 10000, &from, &env) == 0, "recv group: %s", aha_last_error());
    Aha__Problem prob = AHA__PROBLEM__INIT;
    Aha__Group want = tu_make_group(&prob);
    const Aha__Group *g = env && env->body_case == AHA__ENVELOPE__BODY_GROUP ? env->group : NULL;
    CHECK(g && g->prompt_id == want.prompt_id && g->policy_version == 7 &&
              g->n_tokens == want.n_tokens &&
              !memcmp(g->tokens, want.tokens, sizeof(uint32_t) * want.n_tokens) &&
              g->n_logprobs == want.n_logprobs &&
              !memcmp(g->logprobs, want.logprobs, sizeof(float) * want.n_logprobs) &&
              g->n_expert_ids == want.n_expert_ids &&
              !memcmp(g->expert_ids, want.expert_ids, sizeof(int32_t) * want.n_expert_ids) &&
              g->problem && !strcmp(g->problem->kind, "countdown") && env->seq == 3,
          "group arrives intact (seq %llu)", env ? (unsigned long long)env->seq : 0ULL);
    aha_wire_free(&env);
    const aha_wire_stats_t *st = aha_wire_stats(w);
    CHECK(st->accepted == 2, "accepted %llu", (unsigned long long)st->accepted);
    CHECK(st->bad_framing == 1, "three-frame message counted once (%llu)",
          (unsigned long long)st->bad_framing);
    CHECK(st->oversize == 1, "oversize counted once (%llu)", (unsigned long long)st->oversize);
    CHECK(st->bad_protocol == 2, "other protocol + empty body (%llu)",
          (unsigned long long)st->bad_protocol);
    CHECK(st->invalid >= 1, "inconsistent group counted (%llu)", (unsigned long long)st->invalid);
    CHECK(st->malformed + st->invalid + st->bad_protocol >= 1 + 300 + 2,
          "garbage and 300 random frames all dropped (malformed %llu, invalid %llu)",
          (unsigned long long)st->malformed, (unsigned long long)st->invalid);
    /* reply to the child through the ROUTER */
    Aha__Envelope reply = AHA__ENVELOPE__INIT;
    Aha__Lease lease = AHA__LEASE__INIT;
    lease.prompt_id = 99;
    lease.group_size = 8;
    reply.body_case = AHA__ENVELOPE__BODY_LEASE;
    reply.lease = &lease;
    CHECK(aha_wire_send(w, &from, &reply) == 0, "reply: %s", aha_last_error());
    aha_peer_t nobody = {.id = "ghost", .id_len = 5};
    CHECK(aha_wire_send(w, &nobody, &reply) == AHA_ERR_NET, "unknown peer is an error");
    CHECK(aha_wire_send(w, NULL, &reply) == AHA_ERR_ARG, "ROUTER send without a peer");
    /* 10: after the rude peer's oversized frame, the late peer's heartbeat arrives */
    CHECK(aha_wire_recv(w, 10000, &from, &env) == 0, "recv after a hard-limit frame: %s",
          aha_last_error());
    CHECK(env && env->body_case == AHA__ENVELOPE__BODY_HEARTBEAT && env->heartbeat->done == 5 &&
              !strcmp(env->sender, "actor/1"),
          "heartbeat from the late peer");
    aha_wire_free(&env);
    int status = pid > 0 ? tu_wait_child(pid, 20000) : -1;
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child saw its sends succeed and the reply arrive (status %d)", status);
    /* nothing more: receive times out, roughly on time */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK(aha_wire_recv(w, 150, &from, &env) == AHA_ERR_TIMEOUT && env == NULL, "timeout");
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) * 1e-6;
    CHECK(ms >= 140 && ms < 5000, "timeout took %.0f ms", ms);
    printf("[two processes] accepted %llu, dropped: framing %llu, oversize %llu, malformed %llu, "
           "protocol %llu, invalid %llu\n",
           (unsigned long long)st->accepted, (unsigned long long)st->bad_framing,
           (unsigned long long)st->oversize, (unsigned long long)st->malformed,
           (unsigned long long)st->bad_protocol, (unsigned long long)st->invalid);
    aha_wire_destroy(&w);
    CHECK(w == NULL, "destroy NULLs");
    zmq_ctx_term(ctx);
}

/* ---- the protocol's own checks (task content is the role's: verifier/msg_check_test.c) ---- */
static void test_checks(void) {
    char why[200] = "";
    Aha__Envelope o = AHA__ENVELOPE__INIT;
    Aha__WeightAnnounce wa = AHA__WEIGHT_ANNOUNCE__INIT;
    uint8_t sum[32] = {0};
    tu_short_checksum_announce(&o, &wa, sum);
    CHECK(aha_wire_check_envelope(&o, why, sizeof why) == AHA_ERR_FORMAT, "short checksum");
    wa.checksum.len = 32;
    CHECK(aha_wire_check_envelope(&o, why, sizeof why) == 0, "announce ok");
    Aha__Hello hello = AHA__HELLO__INIT;
    o.body_case = AHA__ENVELOPE__BODY_HELLO;
    o.hello = &hello;
    hello.role = "actor";
    CHECK(aha_wire_check_envelope(&o, why, sizeof why) == AHA_ERR_FORMAT && strstr(why, "Hello"),
          "hello without a name: %s", why);
    CHECK(aha_wire_check_envelope(NULL, why, sizeof why) == AHA_ERR_FORMAT, "NULL envelope");
}

/* ---- aha_wire_decode: the receiving checks without a socket (what aha_wire_recv counts) ---- */
static int refuse_control(const Aha__Envelope *env, const void *ctx, char *why, size_t cap) {
    (void)ctx;
    if (env->body_case != AHA__ENVELOPE__BODY_CONTROL) return AHA_OK;
    snprintf(why, cap, "no control here");
    return AHA_ERR_FORMAT;
}

static int decode_packed(Aha__Envelope *env, aha_wire_check_fn check, char *why, size_t cap,
                         Aha__Envelope **out) {
    uint8_t buf[256];
    size_t n = aha__envelope__pack(env, buf);
    return aha_wire_decode(buf, n, check, NULL, why, cap, out);
}

static void test_decode(void) {
    char why[200];
    Aha__Envelope *out = NULL;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    CHECK(aha_wire_decode(junk, sizeof junk, NULL, NULL, why, sizeof why, &out) ==
                  AHA_WIRE_MALFORMED &&
              out == NULL && strstr(why, "5 bytes that are not an Envelope"),
          "junk: %s", why);
    Aha__Envelope e = AHA__ENVELOPE__INIT;
    Aha__Heartbeat hb = AHA__HEARTBEAT__INIT;
    e.sender = "actor/9";
    e.protocol = AHA_WIRE_PROTOCOL;
    CHECK(decode_packed(&e, NULL, why, sizeof why, &out) == AHA_WIRE_BAD_PROTOCOL && out &&
              strcmp(out->sender, "actor/9") == 0 && strstr(why, "without a body"),
          "no body: %s", why);
    aha_wire_free(&out);
    e.body_case = AHA__ENVELOPE__BODY_HEARTBEAT;
    e.heartbeat = &hb;
    e.protocol = 2;
    CHECK(decode_packed(&e, NULL, why, sizeof why, &out) == AHA_WIRE_BAD_PROTOCOL &&
              strstr(why, "protocol 2 (want 1)"),
          "protocol 2: %s", why);
    aha_wire_free(&out);
    e.protocol = AHA_WIRE_PROTOCOL;
    CHECK(decode_packed(&e, refuse_control, why, sizeof why, &out) == AHA_WIRE_ACCEPTED && out &&
              out->body_case == AHA__ENVELOPE__BODY_HEARTBEAT && why[0] == 0,
          "heartbeat accepted: %s", why);
    aha_wire_free(&out);
    Aha__Control ctl = AHA__CONTROL__INIT;
    ctl.command = "stop";
    e.body_case = AHA__ENVELOPE__BODY_CONTROL;
    e.control = &ctl;
    CHECK(decode_packed(&e, refuse_control, why, sizeof why, &out) == AHA_WIRE_INVALID && out &&
              strcmp(why, "no control here") == 0,
          "check refuses: %s", why);
    aha_wire_free(&out);
    CHECK(decode_packed(&e, refuse_control, NULL, 0, NULL) == AHA_WIRE_INVALID, "no why, no out");
}

/* ---- sending more than the cap is refused; bad arguments ---- */
static void test_send_limits(void) {
    void *ctx = zmq_ctx_new();
    aha_wire_t *a = NULL, *b = NULL;
    CHECK(aha_wire_new(ctx, ZMQ_PAIR, "a", 512, &a) == AHA_ERR_ARG && a == NULL, "cap < 1024");
    CHECK(aha_wire_new(NULL, ZMQ_PAIR, "a", CAP, &a) == AHA_ERR_ARG, "NULL context");
    if (aha_wire_new(ctx, ZMQ_PAIR, "a", 4096, &a) != 0 ||
        aha_wire_new(ctx, ZMQ_PAIR, "b", 4096, &b) != 0 || aha_wire_bind(a, "inproc://t") != 0 ||
        aha_wire_connect(b, "inproc://t") != 0) {
        CHECK(0, "pair: %s", aha_last_error());
    } else {
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        Aha__Chunk chunk = AHA__CHUNK__INIT;
        static uint8_t data[5000];
        chunk.data.data = data;
        chunk.data.len = sizeof data;
        env.body_case = AHA__ENVELOPE__BODY_CHUNK;
        env.chunk = &chunk;
        CHECK(aha_wire_send(b, NULL, &env) == AHA_ERR_RANGE, "oversize send refused");
        chunk.data.len = 3000;
        CHECK(aha_wire_send(b, NULL, &env) == 0, "send: %s", aha_last_error());
        Aha__Envelope *got = NULL;
        CHECK(aha_wire_recv(a, 2000, NULL, &got) == 0 && got &&
                  got->body_case == AHA__ENVELOPE__BODY_CHUNK && got->chunk->data.len == 3000,
              "chunk over inproc");
        aha_wire_free(&got);
        Aha__ChunkRequest req = AHA__CHUNK_REQUEST__INIT;
        req.index = 11;
        CHECK(aha_wire_send_body(b, NULL, &req.base) == 0, "send_body: %s", aha_last_error());
        CHECK(aha_wire_recv(a, 2000, NULL, &got) == 0 && got &&
                  got->body_case == AHA__ENVELOPE__BODY_CHUNK_REQUEST &&
                  got->chunk_request->index == 11,
              "send_body: the body in the field of its type");
        aha_wire_free(&got);
        Aha__Problem not_a_body = AHA__PROBLEM__INIT;
        CHECK(aha_wire_send_body(b, NULL, &not_a_body.base) == AHA_ERR_ARG &&
                  strstr(aha_last_error(), "Problem"),
              "send_body: a message that is no Envelope body refused (%s)", aha_last_error());
        CHECK(aha_wire_send_body(b, NULL, NULL) == AHA_ERR_ARG, "send_body: NULL body refused");
        CHECK(aha_wire_set_identity(b, "") == AHA_ERR_ARG, "empty identity");
        CHECK(aha_wire_bind(a, "nonsense://x") == AHA_ERR_NET, "bad endpoint");
    }
    aha_wire_destroy(&a);
    aha_wire_destroy(&b);
    aha_wire_destroy(&b); /* NULL-safe */
    zmq_ctx_term(ctx);
}

/* ---- the log limit is per kind: a flood of one kind neither fills the log nor hides another ---- */
static int count_lines(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    if (f) fclose(f);
    return n;
}

/* Sends N frames from RAW (garbage if GARBAGE, else a Heartbeat with protocol 99) and lets W drop
 * them all. */
static void flood(void *raw, aha_wire_t *w, int n, int garbage) {
    uint8_t buf[64];
    Aha__Envelope other = AHA__ENVELOPE__INIT;
    Aha__Heartbeat hb = AHA__HEARTBEAT__INIT;
    other.protocol = 99;
    other.sender = "flooder";
    other.body_case = AHA__ENVELOPE__BODY_HEARTBEAT;
    other.heartbeat = &hb;
    size_t len = garbage ? 9 : aha__envelope__pack(&other, buf);
    if (garbage) memcpy(buf, "\xff\xff\xff\xff junk", len);
    for (int i = 0; i < n; i++) {
        send_raw(raw, buf, len);
        if (i % 100 == 99 || i == n - 1) {
            Aha__Envelope *e = NULL;
            aha_wire_recv(w, 50, NULL, &e); /* drops what is there, then times out */
            aha_wire_free(&e);
        }
    }
}

static void test_log_limit_per_kind(void) {
    void *ctx = zmq_ctx_new();
    aha_wire_t *w = NULL;
    REQUIRE_OK(aha_wire_new(ctx, ZMQ_PAIR, "learner/0", 4096, &w));
    REQUIRE_OK(aha_wire_bind(w, "inproc://flood"));
    void *raw = zmq_socket(ctx, ZMQ_PAIR);
    REQUIRE(raw && zmq_connect(raw, "inproc://flood") == 0, "raw sender");
    char path[] = "/tmp/aha_wire_log_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0, "mkstemp");
    fflush(stderr);
    const int saved = dup(2);
    dup2(fd, 2);            /* the warnings of this case go to PATH */
    flood(raw, w, 15, 0);   /* 15 of one kind: the first 10 logged */
    flood(raw, w, 1000, 1); /* 1000 of another: its first 10 and its 1000th */
    flood(raw, w, 15, 0);   /* 15 more of the first kind: none */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    const aha_wire_stats_t *st = aha_wire_stats(w);
    CHECK(st->bad_protocol == 30 && st->malformed == 1000, "dropped: %llu protocol, %llu malformed",
          (unsigned long long)st->bad_protocol, (unsigned long long)st->malformed);
    const int lp = count_lines(path, "protocol 99"), lm = count_lines(path, "not an Envelope");
    CHECK(lp == AHA_LOG_FIRST, "wrong-protocol drops logged %d times (want %d)", lp, AHA_LOG_FIRST);
    CHECK(lm == AHA_LOG_FIRST + 1,
          "garbage drops logged %d times (want %d: the first %d and "
          "the %dth)",
          lm, AHA_LOG_FIRST + 1, AHA_LOG_FIRST, AHA_LOG_EVERY);
    CHECK(count_lines(path, "sender=flooder") == lp, "the wrong-protocol lines name the sender");
    CHECK(!aha_log_nth(0) && aha_log_nth(1) && aha_log_nth(AHA_LOG_FIRST) &&
              !aha_log_nth(AHA_LOG_FIRST + 1) && aha_log_nth(2 * AHA_LOG_EVERY),
          "aha_log_nth");
    unlink(path);
    zmq_close(raw);
    aha_wire_destroy(&w);
    zmq_ctx_term(ctx);
}

static const tu_case_t cases[] = {
    {"checks", test_checks},
    {"log_limit_per_kind", test_log_limit_per_kind},
    {"decode", test_decode},
    {"send_limits", test_send_limits},
    {"two_processes", test_two_processes},
};

TU_MAIN(cases)
