/* blob: chunked weight transfer between two processes over TCP (fork). A fetcher gets a 1 MB
 * blob in 64 KiB chunks with 4 requests in flight, byte-exact; restarts when the version changes
 * in the middle of a fetch; rejects a tampered chunk (checksum), a blob over its cap, and waits
 * for a version that is not published yet. */
#include "core/blob.h"
#include <unistd.h>
#include <signal.h>
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/testutil.h"
#include "core/wire_testutil.h"
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sodium.h>
#include <zmq.h>

enum { BLOB = 1 << 20, CHUNK = 64 * 1024, PHASES = 5 };

static void fill(uint8_t *p, size_t n, uint64_t seed) {
    aha_rng_t r;
    aha_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)aha_rng_u64(&r);
}

typedef struct {
    int rc;
    uint64_t version;
    int content_ok; /* matches fill(seed = version) */
} result_t;

static void mark_phase(aha_wire_t *w, uint64_t phase) {
    aha_wire_send_heartbeat(w, NULL, phase);
}

static int fetcher(const char *ep, int out_fd) {
    void *ctx = zmq_ctx_new();
    aha_wire_t *w = NULL;
    if (aha_wire_new(ctx, ZMQ_DEALER, "actor/0", 2 * BLOB, &w) != 0 || aha_wire_connect(w, ep) != 0)
        return 1;
    const uint64_t min_v[PHASES] = {1, 2, 4, 4, 6};
    const size_t cap[PHASES] = {BLOB, BLOB, BLOB, 1000, BLOB};
    uint8_t *want = malloc(BLOB);
    for (int ph = 0; ph < PHASES; ph++) {
        result_t r = {0, 0, 0};
        uint8_t *data = NULL;
        size_t len = 0;
        r.rc = aha_blob_fetch(w, min_v[ph], cap[ph], 4, 5000, &r.version, &data, &len);
        if (r.rc == 0 && want) {
            fill(want, BLOB, r.version);
            r.content_ok = len == BLOB && !memcmp(data, want, BLOB);
        }
        free(data);
        if (write(out_fd, &r, sizeof r) != (ssize_t)sizeof r) return 1;
        mark_phase(w, (uint64_t)ph + 1);
    }
    free(want);
    usleep(100 * 1000);
    aha_wire_destroy(&w);
    zmq_ctx_term(ctx);
    return 0;
}

static void test_checksum(void) {
    uint8_t s1[32], s2[32];
    CHECK(aha_blob_checksum("abc", 3, s1) == 0 && aha_blob_checksum("abd", 3, s2) == 0 &&
              memcmp(s1, s2, 32) != 0,
          "checksum differs for different data");
    aha_blob_t tmp;
    CHECK(aha_blob_set(&tmp, 1, "x", 1, 0) == AHA_ERR_ARG, "chunk_bytes 0 rejected");
}

/* The transfer checksum is what blob.h documents: Poly1305 under BLAKE2b-256("aha weights transfer
 * v1\0" || version || len), then 16 zero bytes; it changes with the version, the length, one
 * flipped bit and two swapped chunks. */
static void test_transfer_sum(void) {
    enum { N = 3 * 1000 + 7 };
    uint8_t *d = malloc(N), *e = malloc(N);
    REQUIRE(d && e, "memory");
    fill(d, N, 42);
    uint8_t got[AHA_BLOB_SUM_BYTES], want[AHA_BLOB_SUM_BYTES] = {0}, other[AHA_BLOB_SUM_BYTES];
    REQUIRE(aha_blob_sum(7, d, N, got) == AHA_OK, "aha_blob_sum");
    static const char tag[] = "aha weights transfer v1";
    uint8_t in[sizeof tag + 16], key[crypto_onetimeauth_KEYBYTES];
    memcpy(in, tag, sizeof tag);
    const uint64_t version = 7, len = N;
    for (int i = 0; i < 8; i++) {
        in[sizeof tag + i] = (uint8_t)(version >> (8 * i));
        in[sizeof tag + 8 + i] = (uint8_t)(len >> (8 * i));
    }
    crypto_generichash(key, sizeof key, in, sizeof in, NULL, 0);
    crypto_onetimeauth(want, d, N, key);
    CHECK(!memcmp(got, want, AHA_BLOB_SUM_BYTES), "Poly1305 tag under the documented key, zero tail");
    REQUIRE(aha_blob_sum(8, d, N, other) == AHA_OK, "aha_blob_sum");
    CHECK(memcmp(got, other, AHA_BLOB_SUM_BYTES) != 0, "another version, another checksum");
    REQUIRE(aha_blob_sum(7, d, N - 1, other) == AHA_OK, "aha_blob_sum");
    CHECK(memcmp(got, other, AHA_BLOB_SUM_BYTES) != 0, "one byte shorter, another checksum");
    memcpy(e, d, N);
    e[1234] ^= 0x10;
    REQUIRE(aha_blob_sum(7, e, N, other) == AHA_OK, "aha_blob_sum");
    CHECK(memcmp(got, other, AHA_BLOB_SUM_BYTES) != 0, "one bit flipped, another checksum");
    memcpy(e, d + 1000, 1000); /* chunks 0 and 1 (1000 bytes each) swapped */
    memcpy(e + 1000, d, 1000);
    memcpy(e + 2000, d + 2000, N - 2000);
    REQUIRE(aha_blob_sum(7, e, N, other) == AHA_OK, "aha_blob_sum");
    CHECK(memcmp(got, other, AHA_BLOB_SUM_BYTES) != 0, "two chunks swapped, another checksum");
    aha_blob_t b;
    REQUIRE(aha_blob_set(&b, 7, d, N, 1000) == AHA_OK, "aha_blob_set");
    CHECK(!memcmp(b.sum, got, AHA_BLOB_SUM_BYTES), "aha_blob_set announces aha_blob_sum");
    free(d);
    free(e);
}

static void test_serve_fetch(void) {
    tu_forked_peer_t child;
    if (tu_fork_peer(&child, "learner/0", fetcher) != 0) return;
    aha_wire_t *w = child.w;

    uint8_t *data[7];
    for (int v = 1; v <= 6; v++) {
        data[v] = malloc(BLOB);
        if (data[v]) fill(data[v], BLOB, (uint64_t)v);
    }
    uint8_t *tampered = malloc(BLOB);
    if (tampered && data[4]) {
        memcpy(tampered, data[4], BLOB);
        tampered[BLOB / 2] ^= 1;
    }
    aha_blob_t blob, served;
    aha_blob_set(&blob, 1, data[1], BLOB, CHUNK);
    int phase = 0, chunks_in_phase = 0, announces_in_phase = 0;
    while (phase < PHASES) {
        aha_peer_t from;
        Aha__Envelope *e = NULL;
        if (aha_wire_recv(w, 10000, &from, &e) != 0) {
            CHECK(0, "server recv in phase %d: %s", phase, aha_last_error());
            break;
        }
        if (e->body_case == AHA__ENVELOPE__BODY_HEARTBEAT) { /* the fetcher finished a phase */
            phase = (int)e->heartbeat->done;
            chunks_in_phase = announces_in_phase = 0;
            if (phase == 1) aha_blob_set(&blob, 2, data[2], BLOB, CHUNK);
            if (phase == 2 || phase == 3) aha_blob_set(&blob, 4, data[4], BLOB, CHUNK);
            if (phase == 4) aha_blob_set(&blob, 5, data[5], BLOB, CHUNK);
        } else if (e->body_case == AHA__ENVELOPE__BODY_CHUNK_REQUEST) {
            const Aha__ChunkRequest *rq = e->chunk_request;
            served = blob;
            if (rq->index == AHA_BLOB_ANNOUNCE) {
                announces_in_phase++;
                /* phase 4: publish version 6 only after a few polls */
                if (phase == 4 && announces_in_phase == 4) {
                    aha_blob_set(&blob, 6, data[6], BLOB, CHUNK);
                    served = blob;
                }
            } else {
                chunks_in_phase++;
                /* phase 1: a new version after 3 chunks of version 2 */
                if (phase == 1 && chunks_in_phase == 3) {
                    aha_blob_set(&blob, 3, data[3], BLOB, CHUNK);
                    served = blob;
                }
                /* phase 2: chunks from tampered data, announced checksum of the original */
                if (phase == 2) served.data = tampered;
            }
            CHECK(aha_blob_serve(&served, w, &from, rq) == 0, "serve: %s", aha_last_error());
        }
        aha_wire_free(&e);
    }
    result_t r[PHASES];
    memset(r, 0, sizeof r);
    CHECK(read(child.from, r, sizeof r) == (ssize_t)sizeof r, "results from the fetcher");
    CHECK(r[0].rc == 0 && r[0].version == 1 && r[0].content_ok, "fetch v1: rc %d v%llu ok %d",
          r[0].rc, (unsigned long long)r[0].version, r[0].content_ok);
    CHECK(r[1].rc == 0 && r[1].version == 3 && r[1].content_ok,
          "version change mid-fetch restarts on v3: rc %d v%llu ok %d", r[1].rc,
          (unsigned long long)r[1].version, r[1].content_ok);
    CHECK(r[2].rc == AHA_ERR_FORMAT, "tampered chunk fails the checksum: rc %d", r[2].rc);
    CHECK(r[3].rc == AHA_ERR_RANGE, "blob over the fetcher's cap: rc %d", r[3].rc);
    CHECK(r[4].rc == 0 && r[4].version == 6 && r[4].content_ok,
          "waits for an unpublished version: rc %d v%llu", r[4].rc,
          (unsigned long long)r[4].version);
    int status = tu_wait_child(child.pid, 20000);
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "fetcher exit %d", status);
    for (int v = 1; v <= 6; v++)
        free(data[v]);
    free(tampered);
    aha_wire_destroy(&w);
    zmq_ctx_term(child.ctx);
}

static volatile sig_atomic_t stop_flag = 0;
static void on_alarm(int sig) {
    (void)sig;
    stop_flag = 1;
}

/* A fetch from a learner that never answers gives up within ~100 ms of its stop flag (SIGTERM in a
 * worker), not after its timeout; without a flag it waits for the timeout. */
static void test_fetch_stop(void) {
    void *ctx = zmq_ctx_new();
    aha_wire_t *w = NULL;
    REQUIRE_OK(aha_wire_new(ctx, ZMQ_DEALER, "actor/0", 1 << 20, &w));
    REQUIRE_OK(aha_wire_connect(w, "tcp://127.0.0.1:9"));
    uint64_t v = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    double t0 = aha_now_ms();
    int rc = aha_blob_fetch_until(w, 1, 1 << 20, 4, 300, NULL, &v, &data, &len);
    double t = aha_now_ms() - t0;
    CHECK(rc == AHA_ERR_TIMEOUT && t >= 250 && data == NULL,
          "no flag: timeout after %.0f ms (rc %d)", t, rc);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    stop_flag = 0;
    ualarm(200 * 1000, 0);
    t0 = aha_now_ms();
    rc = aha_blob_fetch_until(w, 1, 1 << 20, 4, 20000, &stop_flag, &v, &data, &len);
    t = aha_now_ms() - t0;
    CHECK(rc == AHA_ERR_STATE && t < 2000 && data == NULL,
          "stop flag set after 200 ms: gave up after %.0f ms (rc %d), not the 20 s timeout", t, rc);
    signal(SIGALRM, SIG_DFL);
    aha_wire_destroy(&w);
    zmq_ctx_term(ctx);
}

/* A fetch against a hand-driven server: a frame that is no Envelope is dropped; chunks arrive
 * out of order (2, 0, 1), chunk 0 with an unknown field (so it is not read in place but decoded
 * the ordinary way); the blob is byte-exact and its checksum passes. */
typedef struct {
    char ep[128];
    uint64_t min_version;
    int rc;
    uint64_t version;
    uint8_t *data;
    size_t len;
    pthread_t th;
} oo_fetch_t;

static void *oo_fetcher(void *arg) {
    oo_fetch_t *f = arg;
    void *ctx = zmq_ctx_new();
    aha_wire_t *w = NULL;
    f->rc = aha_wire_new(ctx, ZMQ_DEALER, "actor/0", 1 << 20, &w);
    if (f->rc == AHA_OK) f->rc = aha_wire_connect(w, f->ep);
    if (f->rc == AHA_OK) f->rc = aha_blob_fetch(w, f->min_version, 1 << 20, 4, 5000, &f->version, &f->data,
                                            &f->len);
    aha_wire_destroy(&w);
    zmq_ctx_term(ctx);
    return NULL;
}

/* A ROUTER "learner" on 127.0.0.1 in CTX that the test serves by hand, and the fetcher F of
 * version >= MIN_VERSION started against it on a thread (join F->th). */
static aha_wire_t *oo_start(void *ctx, uint64_t min_version, oo_fetch_t *f) {
    aha_wire_t *w = NULL;
    REQUIRE_OK(aha_wire_new(ctx, ZMQ_ROUTER, "learner", 1 << 20, &w));
    REQUIRE_OK(aha_wire_bind(w, "tcp://127.0.0.1:*"));
    *f = (oo_fetch_t){.min_version = min_version, .rc = -1};
    REQUIRE_OK(aha_wire_endpoint(w, f->ep, sizeof f->ep));
    REQUIRE(pthread_create(&f->th, NULL, oo_fetcher, f) == 0, "thread");
    return w;
}

static void send_frame_to(aha_wire_t *w, const aha_peer_t *to, const void *p, size_t n) {
    zmq_send(aha_wire_socket(w), to->id, to->id_len, ZMQ_SNDMORE);
    zmq_send(aha_wire_socket(w), p, n, 0);
}

static void test_out_of_order(void) {
    enum { SIZE = 3 * CHUNK - 100 };
    uint8_t *d = malloc(SIZE);
    REQUIRE(d, "memory");
    fill(d, SIZE, 3);
    aha_blob_t b;
    REQUIRE_OK(aha_blob_set(&b, 3, d, SIZE, CHUNK));
    void *ctx = zmq_ctx_new();
    oo_fetch_t f;
    aha_wire_t *w = oo_start(ctx, 3, &f);
    aha_peer_t from;
    Aha__Envelope *e = NULL;
    REQUIRE_OK(aha_wire_recv(w, 5000, &from, &e)); /* the announce request */
    CHECK(e->body_case == AHA__ENVELOPE__BODY_CHUNK_REQUEST, "announce asked for first");
    send_frame_to(w, &from, "\xff\xff\xff", 3); /* not an Envelope: dropped */
    CHECK(aha_blob_serve(&b, w, &from, e->chunk_request) == AHA_OK, "announce sent");
    aha_wire_free(&e);
    int asked = 0;
    for (int i = 0; i < 3; i++) {
        REQUIRE_OK(aha_wire_recv(w, 5000, &from, &e));
        asked += e->body_case == AHA__ENVELOPE__BODY_CHUNK_REQUEST && e->chunk_request->index == (uint32_t)i;
        aha_wire_free(&e);
    }
    CHECK(asked == 3, "chunks 0, 1, 2 asked for at once (%d)", asked);
    Aha__ChunkRequest r = AHA__CHUNK_REQUEST__INIT;
    r.version = 3;
    r.index = 2;
    CHECK(aha_blob_serve(&b, w, &from, &r) == AHA_OK, "chunk 2 first");
    { /* chunk 0, with an unknown field 30 after the Chunk */
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        Aha__Chunk c = AHA__CHUNK__INIT;
        c.version = 3;
        c.index = 0;
        c.data.data = d;
        c.data.len = CHUNK;
        env.protocol = AHA_WIRE_PROTOCOL;
        env.sender = "learner";
        env.body_case = AHA__ENVELOPE__BODY_CHUNK;
        env.chunk = &c;
        const size_t n = aha__envelope__get_packed_size(&env);
        uint8_t *buf = malloc(n + 3);
        REQUIRE(buf, "memory");
        aha__envelope__pack(&env, buf);
        buf[n] = 0xF0; /* field 30, varint */
        buf[n + 1] = 0x01;
        buf[n + 2] = 0x05;
        send_frame_to(w, &from, buf, n + 3);
        free(buf);
    }
    r.index = 1;
    CHECK(aha_blob_serve(&b, w, &from, &r) == AHA_OK, "chunk 1 last");
    pthread_join(f.th, NULL);
    CHECK(f.rc == AHA_OK && f.version == 3 && f.len == SIZE && f.data && !memcmp(f.data, d, SIZE),
          "fetched byte-exact out of order (rc %d, version %llu, %zu bytes)", f.rc,
          (unsigned long long)f.version, f.len);
    free(f.data);
    free(d);
    aha_wire_destroy(&w);
    zmq_ctx_term(ctx);
}

/* Chunks framed once (aha_blob_set_framed): the same checksum as aha_blob_set over the same bytes;
 * a fetch gets them byte-exact though the blob is released while its last frames may still be
 * queued in ZeroMQ; a frame decodes with protobuf-c (aha_wire_recv) to the Chunk aha_blob_serve
 * sends unframed. */
static void copy_fill(void *ctx, size_t off, uint8_t *dst, size_t n) {
    memcpy(dst, (const uint8_t *)ctx + off, n);
}

static void test_framed(void) {
    enum { SIZE = 3 * CHUNK - 100 };
    uint8_t *d = malloc(SIZE);
    REQUIRE(d, "memory");
    fill(d, SIZE, 5);
    aha_blob_t fb = {0}, pb;
    REQUIRE_OK(aha_blob_set_framed(&fb, 5, SIZE, CHUNK, "learner", copy_fill, d));
    REQUIRE_OK(aha_blob_set(&pb, 5, d, SIZE, CHUNK));
    CHECK(!memcmp(fb.sum, pb.sum, AHA_BLOB_SUM_BYTES), "framed: the same checksum");
    CHECK(aha_blob_set_framed(&fb, 6, SIZE, CHUNK, "learner", copy_fill, d) == AHA_ERR_ARG,
          "a blob still holding frames is refused");
    void *ctx = zmq_ctx_new();
    oo_fetch_t f;
    aha_wire_t *w = oo_start(ctx, 5, &f), *plain = NULL;
    for (int i = 0; i < 4; i++) { /* the announce request, then chunks 0..2 */
        aha_peer_t from;
        Aha__Envelope *e = NULL;
        REQUIRE_OK(aha_wire_recv(w, 5000, &from, &e));
        CHECK(e->body_case == AHA__ENVELOPE__BODY_CHUNK_REQUEST &&
                  aha_blob_serve(&fb, w, &from, e->chunk_request) == AHA_OK,
              "request %d served", i);
        aha_wire_free(&e);
    }
    REQUIRE_OK(aha_wire_new(ctx, ZMQ_DEALER, "actor/1", 1 << 20, &plain));
    REQUIRE_OK(aha_wire_connect(plain, f.ep));
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__ChunkRequest r = AHA__CHUNK_REQUEST__INIT;
    r.version = 5;
    r.index = 0; /* version and index 0 written explicitly: protobuf-c must read them */
    env.body_case = AHA__ENVELOPE__BODY_CHUNK_REQUEST;
    env.chunk_request = &r;
    REQUIRE_OK(aha_wire_send(plain, NULL, &env));
    aha_peer_t from;
    Aha__Envelope *e = NULL;
    REQUIRE_OK(aha_wire_recv(w, 5000, &from, &e));
    CHECK(aha_blob_serve(&fb, w, &from, e->chunk_request) == AHA_OK, "chunk 0 to a plain DEALER");
    aha_wire_free(&e);
    aha_blob_release(&fb); /* frames may still be queued: they live until sent */
    CHECK(fb.frames == NULL && fb.len == 0, "released");
    pthread_join(f.th, NULL);
    CHECK(f.rc == AHA_OK && f.version == 5 && f.len == SIZE && f.data && !memcmp(f.data, d, SIZE),
          "framed chunks fetched byte-exact (rc %d)", f.rc);
    REQUIRE_OK(aha_wire_recv(plain, 5000, NULL, &e));
    CHECK(e->body_case == AHA__ENVELOPE__BODY_CHUNK && e->chunk->version == 5 &&
              e->chunk->index == 0 && e->chunk->data.len == CHUNK &&
              !memcmp(e->chunk->data.data, d, CHUNK) && !strcmp(e->sender, "learner") &&
              e->protocol == AHA_WIRE_PROTOCOL,
          "a framed chunk is the Chunk message protobuf-c reads");
    aha_wire_free(&e);
    free(f.data);
    free(d);
    aha_wire_destroy(&plain);
    aha_wire_destroy(&w);
    zmq_ctx_term(ctx);
}

static const tu_case_t cases[] = {
    {"framed", test_framed},
    {"out_of_order", test_out_of_order},
    {"checksum", test_checksum},
    {"transfer_sum", test_transfer_sum},
    {"serve_fetch", test_serve_fetch},
    {"fetch_stop", test_fetch_stop},
};

TU_MAIN(cases)
