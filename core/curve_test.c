/* curve: CURVE + ZAP on core/wire sockets over TCP. Keys from aha_keys_generate (0600 files,
 * never overwritten, malformed files rejected with the path). A client with the client key
 * reaches the server; a client with another key is refused by ZAP (counted), one that expects
 * another server key and a plaintext one never get a message through; the server keeps serving. */
#include "core/curve.h"
#include "core/err.h"
#include "core/log.h"
#include "core/testutil.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

static aha_wire_t *client(void *ctx, const char *ep, const char *server_pub,
                          const aha_keypair_t *kp) {
    aha_wire_t *w = NULL;
    if (aha_wire_new(ctx, ZMQ_DEALER, "actor/t", 1 << 16, &w) != 0) return NULL;
    if (server_pub && aha_wire_curve_client(w, server_pub, kp) != 0) {
        aha_wire_destroy(&w);
        return NULL;
    }
    if (aha_wire_connect(w, ep) != 0) aha_wire_destroy(&w);
    return w;
}

static int say(aha_wire_t *w, uint64_t done) {
    return aha_wire_send_heartbeat(w, NULL, done);
}

static void test_keys_and_zap(void) {
    char dir[] = "/tmp/aha_curve_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char keys[300];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    CHECK(aha_keys_generate(keys) == 0, "keygen: %s", aha_last_error());
    CHECK(aha_keys_generate(keys) == AHA_ERR_STATE, "keys are never overwritten");
    char path[400];
    snprintf(path, sizeof path, "%s/server.key", keys);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "key file mode %o",
          st.st_mode & 0777);
    aha_keypair_t server, cli, other;
    CHECK(aha_keys_load(keys, "server", &server) == 0 && aha_keys_load(keys, "client", &cli) == 0,
          "load: %s", aha_last_error());
    CHECK(strcmp(server.public_key, cli.public_key) != 0, "two different keypairs");
    CHECK(aha_keys_load(keys, "nobody", &other) == AHA_ERR_IO &&
              strstr(aha_last_error(), "nobody.key"),
          "missing key file names the path");
    snprintf(path, sizeof path, "%s/bad.key", keys);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("not a key\nat all\n", f);
        fclose(f);
    }
    CHECK(aha_keys_load(keys, "bad", &other) == AHA_ERR_FORMAT &&
              strstr(aha_last_error(), "bad.key"),
          "malformed key file");
    CHECK(zmq_curve_keypair(other.public_key, other.secret_key) == 0, "a stranger's keypair");

    void *ctx = zmq_ctx_new();
    aha_zap_t *zap = NULL;
    const char *allowed[] = {cli.public_key};
    CHECK(aha_zap_start(ctx, allowed, 1, &zap) == 0, "zap: %s", aha_last_error());
    aha_wire_t *srv = NULL;
    char ep[256];
    CHECK(aha_wire_new(ctx, ZMQ_ROUTER, "learner/0", 1 << 16, &srv) == 0 &&
              aha_wire_curve_server(srv, &server) == 0 &&
              aha_wire_bind(srv, "tcp://127.0.0.1:*") == 0 &&
              aha_wire_endpoint(srv, ep, sizeof ep) == 0,
          "server: %s", aha_last_error());

    /* refused: a stranger's client key (ZAP), a wrong server key, plaintext */
    aha_wire_t *stranger = client(ctx, ep, server.public_key, &other);
    aha_wire_t *wrong_server = client(ctx, ep, other.public_key, &cli);
    aha_wire_t *plain = client(ctx, ep, NULL, NULL);
    CHECK(stranger && wrong_server && plain, "clients: %s", aha_last_error());
    /* DEALER sends queue until the handshake completes, which it never does for these */
    if (stranger) say(stranger, 1);
    if (wrong_server) say(wrong_server, 2);
    if (plain) say(plain, 3);
    Aha__Envelope *e = NULL;
    CHECK(aha_wire_recv(srv, 700, NULL, &e) == AHA_ERR_TIMEOUT,
          "nothing from the refused clients (got %llu)",
          e && e->heartbeat ? (unsigned long long)e->heartbeat->done : 0ULL);
    aha_wire_free(&e);
    CHECK(aha_zap_rejected(zap) >= 1, "ZAP refused the stranger (%llu)",
          (unsigned long long)aha_zap_rejected(zap));

    /* admitted: the client key, both ways */
    aha_wire_t *good = client(ctx, ep, server.public_key, &cli);
    CHECK(good && say(good, 42) == 0, "good client");
    aha_peer_t from;
    CHECK(aha_wire_recv(srv, 5000, &from, &e) == 0 && e->heartbeat->done == 42,
          "encrypted message arrives: %s", aha_last_error());
    aha_wire_free(&e);
    CHECK(aha_zap_accepted(zap) >= 1, "ZAP accepted the client");
    Aha__Envelope reply = AHA__ENVELOPE__INIT;
    Aha__Heartbeat hb = AHA__HEARTBEAT__INIT;
    hb.done = 7;
    reply.body_case = AHA__ENVELOPE__BODY_HEARTBEAT;
    reply.heartbeat = &hb;
    CHECK(aha_wire_send(srv, &from, &reply) == 0, "reply");
    CHECK(good && aha_wire_recv(good, 5000, NULL, &e) == 0 && e->heartbeat->done == 7,
          "reply arrives at the client");
    aha_wire_free(&e);
    printf("[curve] ZAP accepted %llu, refused %llu\n", (unsigned long long)aha_zap_accepted(zap),
           (unsigned long long)aha_zap_rejected(zap));

    CHECK(aha_wire_curve_client(good, "short", &cli) == AHA_ERR_ARG, "bad server key");
    const char *bad_allowed[] = {"nope"};
    aha_zap_t *z2 = NULL;
    CHECK(aha_zap_start(ctx, bad_allowed, 1, &z2) == AHA_ERR_ARG && !z2, "bad allowed key");

    aha_wire_destroy(&stranger);
    aha_wire_destroy(&wrong_server);
    aha_wire_destroy(&plain);
    aha_wire_destroy(&good);
    aha_wire_destroy(&srv);
    aha_zap_stop(&zap);
    CHECK(zap == NULL, "zap stop NULLs");
    zmq_ctx_term(ctx);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static const tu_case_t cases[] = {
    {"keys_and_zap", test_keys_and_zap},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    aha_log_set_role("curve_test");
    return tu_main(argc, argv, cases, __FILE__);
}
