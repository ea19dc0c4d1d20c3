/* bench/weights_bench.c — weight transfer (core/blob.h) to 1, 2 and 4 actors against raw ZeroMQ
 * loopback bandwidth for the same bytes, measured in the same run, as "key value" lines.
 *
 *   weights_bench PRESET REPS
 *
 * PRESET: default (the demo model), grpo, dense288 (as in model_bench). A server thread plays the
 * learner's coordinator: a ROUTER on tcp://127.0.0.1 answering ChunkRequests with aha_blob_serve,
 * exactly as learner/coordinator.c does. Per round the main thread publishes a new version as the
 * coordinator does (aha_blob_set_framed: chunks framed once, checksummed) and N actor
 * threads each fetch it as actor/worker.c does (aha_blob_fetch_sink, 4 chunk requests in flight,
 * each chunk written into their own model as it arrives). The raw figure: the same N threads each receive the
 * same bytes in the same chunk sizes from a plain ROUTER that sends them back to back (zmq_send
 * from the buffer, zmq_recv into the receiver's buffer: the fewest copies ZeroMQ allows), no
 * protocol, no checksum. Bandwidth = N x bytes / wall time from start until the last actor has
 * its copy. Publishing time per step = the publish (pack + checksum, wall) plus the server
 * thread's CPU time serving that version to the N actors. Best of REPS rounds for each figure. */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "bench/bench_util.h"
#include "core/blob.h"
#include "core/err.h"
#include "core/rng.h"
#include "core/wire.h"
#include "model/model.h"
#include "model/weights.h"

enum { MAX_N = 4, CREDIT = 4, TIMEOUT_MS = 30000 };
static const uint32_t CHUNK = 1u << 20; /* learner/coordinator.c's chunk size */

#define CHECK(call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ < 0) {                                                                             \
            fprintf(stderr, "%s: %s\n", #call, aha_last_error());                                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int preset(const char *name, aha_model_config_t *c) {
    return bench_preset("weights_bench", name, c);
}

typedef struct {
    void *zctx;
    aha_model_config_t cfg;
    size_t bytes;
    char ep[128], raw_ep[128];
    /* the served blob: written by the main thread only while no round runs */
    aha_blob_t blob;
    uint8_t *raw_data;
    pthread_mutex_t mu;
    double serve_cpu; /* server thread CPU seconds (under mu) */
    volatile int stop;
    /* a round: N fetchers, raw or not */
    pthread_barrier_t start, done;
    int n, raw;
    uint64_t version;
    int failed;
} bench_t;

static void *server(void *arg) {
    bench_t *b = arg;
    aha_wire_t *w = NULL;
    CHECK(aha_wire_new(b->zctx, ZMQ_ROUTER, "learner", 2 * b->bytes + 4096, &w));
    CHECK(aha_wire_bind(w, "tcp://127.0.0.1:*"));
    CHECK(aha_wire_endpoint(w, b->ep, sizeof b->ep));
    void *raw = zmq_socket(b->zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(raw, ZMQ_SNDHWM, &zero, sizeof zero);
    if (zmq_bind(raw, "tcp://127.0.0.1:*") != 0) exit(1);
    size_t cap = sizeof b->raw_ep;
    zmq_getsockopt(raw, ZMQ_LAST_ENDPOINT, b->raw_ep, &cap);
    pthread_barrier_wait(&b->start); /* endpoints known */
    while (!b->stop) {
        zmq_pollitem_t items[2] = {{aha_wire_socket(w), 0, ZMQ_POLLIN, 0}, {raw, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, 50) <= 0) continue;
        if (items[0].revents & ZMQ_POLLIN) {
            Aha__Envelope *e = NULL;
            aha_peer_t from;
            if (aha_wire_recv(w, 0, &from, &e) == AHA_OK) {
                pthread_mutex_lock(&b->mu);
                const double t0 = bench_thread_cpu();
                if (e->body_case == AHA__ENVELOPE__BODY_CHUNK_REQUEST)
                    CHECK(aha_blob_serve(&b->blob, w, &from, e->chunk_request));
                aha_wire_free(&e);
                b->serve_cpu += bench_thread_cpu() - t0;
                pthread_mutex_unlock(&b->mu);
            }
        }
        if (items[1].revents & ZMQ_POLLIN) { /* raw: identity + "go", answered with every byte */
            char id[256], go[8];
            int idn = zmq_recv(raw, id, sizeof id, 0);
            if (idn < 0 || zmq_recv(raw, go, sizeof go, 0) < 0) continue;
            for (size_t off = 0; off < b->bytes; off += CHUNK) {
                const size_t n = b->bytes - off < CHUNK ? b->bytes - off : CHUNK;
                zmq_send(raw, id, (size_t)idn, ZMQ_SNDMORE);
                zmq_send(raw, b->raw_data + off, n, 0);
            }
        }
    }
    zmq_close(raw);
    aha_wire_destroy(&w);
    return NULL;
}

typedef struct {
    bench_t *b;
    int idx;
} fetcher_arg_t;

static void *fetcher(void *arg) {
    fetcher_arg_t *fa = arg;
    bench_t *b = fa->b;
    char name[32];
    snprintf(name, sizeof name, "actor/%d", fa->idx);
    aha_model_t *m = NULL;
    CHECK(aha_model_new(&b->cfg, &m));
    aha_wire_t *w = NULL;
    CHECK(aha_wire_new(b->zctx, ZMQ_DEALER, name, 2 * b->bytes + 4096, &w));
    CHECK(aha_wire_connect(w, b->ep));
    void *raw = zmq_socket(b->zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(raw, ZMQ_RCVHWM, &zero, sizeof zero);
    if (zmq_connect(raw, b->raw_ep) != 0) exit(1);
    uint8_t *dst = malloc(b->bytes);
    if (!dst) exit(1);
    for (;;) {
        pthread_barrier_wait(&b->start);
        if (b->stop) break;
        if (fa->idx < b->n) {
            if (b->raw) {
                if (zmq_send(raw, "go", 2, 0) < 0) b->failed = 1;
                for (size_t off = 0; off < b->bytes; off += CHUNK) {
                    const size_t n = b->bytes - off < CHUNK ? b->bytes - off : CHUNK;
                    if (zmq_recv(raw, dst + off, n, 0) != (int)n) b->failed = 1;
                }
            } else {
                uint64_t v = 0; /* as actor/worker.c: straight into the model */
                const aha_blob_sink_t sink = aha_weights_sink(m);
                if (aha_blob_fetch_sink(w, b->version, &sink, CREDIT, TIMEOUT_MS, NULL, &v) !=
                        AHA_OK ||
                    v != b->version || m->params[0] != (float)b->version) {
                    fprintf(stderr, "fetch: %s\n", aha_last_error());
                    b->failed = 1;
                }
            }
        }
        pthread_barrier_wait(&b->done);
    }
    free(dst);
    zmq_close(raw);
    aha_wire_destroy(&w);
    aha_model_destroy(&m);
    return NULL;
}

static void weights_fill(void *m, size_t off, uint8_t *dst, size_t n) {
    aha_weights_read(m, off, dst, n);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: weights_bench PRESET REPS\n");
        return 2;
    }
    const int reps = atoi(argv[2]);
    bench_t b;
    memset(&b, 0, sizeof b);
    if (preset(argv[1], &b.cfg) != 0 || reps < 1) return 2;
    aha_model_t *m = NULL;
    CHECK(aha_model_new(&b.cfg, &m));
    aha_rng_t rng;
    aha_rng_seed(&rng, 1);
    aha_model_init_random(m, &rng);
    b.bytes = aha_weights_bytes(m);
    b.raw_data = malloc(b.bytes);
    if (!b.raw_data) return 1;
    aha_weights_pack(m, b.raw_data);
    b.zctx = zmq_ctx_new();
    pthread_mutex_init(&b.mu, NULL);
    pthread_barrier_init(&b.start, NULL, 2); /* server + main: endpoints known */
    pthread_barrier_init(&b.done, NULL, MAX_N + 1);
    pthread_t srv, f[MAX_N];
    fetcher_arg_t fa[MAX_N];
    pthread_create(&srv, NULL, server, &b);
    pthread_barrier_wait(&b.start); /* wait: the server's endpoints */
    pthread_barrier_destroy(&b.start);
    pthread_barrier_init(&b.start, NULL, MAX_N + 1);
    for (int i = 0; i < MAX_N; i++) {
        fa[i] = (fetcher_arg_t){&b, i};
        pthread_create(&f[i], NULL, fetcher, &fa[i]);
    }
    printf("weights_bytes %zu\n", b.bytes);
    const int ns[3] = {1, 2, 4};
    uint64_t version = 0;
    for (int k = 0; k < 3; k++) {
        const int n = ns[k];
        double best_raw = 1e30, best_aha = 1e30, best_pub = 1e30, best_serve = 1e30, best_step = 1e30;
        for (int r = 0; r < reps; r++) {
            for (int raw = 1; raw >= 0; raw--) {
                double pub = 0;
                if (!raw) { /* the learner's publish: framed chunks + checksum */
                    pthread_mutex_lock(&b.mu);
                    m->params[0] = (float)++version; /* a new version's bytes */
                    const double t0 = bench_now(); /* as learner/coordinator.c publishes */
                    aha_blob_release(&b.blob);
                    CHECK(aha_blob_set_framed(&b.blob, version, b.bytes, CHUNK,
                                              "learner/coordinator", weights_fill, m));
                    pub = bench_now() - t0;
                    b.serve_cpu = 0;
                    pthread_mutex_unlock(&b.mu);
                }
                b.n = n;
                b.raw = raw;
                b.version = version;
                const double t0 = bench_now();
                pthread_barrier_wait(&b.start);
                pthread_barrier_wait(&b.done);
                const double t = bench_now() - t0;
                if (b.failed) {
                    fprintf(stderr, "weights_bench: a transfer failed\n");
                    return 1;
                }
                if (raw) {
                    if (t < best_raw) best_raw = t;
                } else {
                    pthread_mutex_lock(&b.mu);
                    const double serve = b.serve_cpu;
                    pthread_mutex_unlock(&b.mu);
                    if (t < best_aha) best_aha = t;
                    if (pub < best_pub) best_pub = pub;
                    if (serve < best_serve) best_serve = serve;
                    if (pub + serve < best_step) best_step = pub + serve;
                }
            }
        }
        const double total = (double)n * (double)b.bytes;
        printf("raw_gbs_%d %.3f\n", n, total / best_raw / 1e9);
        printf("aha_gbs_%d %.3f\n", n, total / best_aha / 1e9);
        printf("aha_pct_raw_%d %.1f\n", n, 100.0 * best_raw / best_aha);
        printf("publish_ms_%d %.3f\n", n, best_pub * 1e3);
        printf("serve_cpu_ms_%d %.3f\n", n, best_serve * 1e3);
        printf("publish_step_ms_%d %.3f\n", n, best_step * 1e3);
        fflush(stdout);
    }
    b.stop = 1;
    pthread_barrier_wait(&b.start);
    for (int i = 0; i < MAX_N; i++)
        pthread_join(f[i], NULL);
    pthread_join(srv, NULL);
    zmq_ctx_term(b.zctx);
    aha_blob_release(&b.blob);
    free(b.raw_data);
    aha_model_destroy(&m);
    return 0;
}
