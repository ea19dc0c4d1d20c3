/* curve: CURVE + ZAP on core/wire sockets over TCP. Keys from aha_keys_generate (0600 files,
 * never overwritten, malformed files rejected with the path). A client with the client key
 * reaches the server; a client with another key is refused by ZAP (counted), one that expects
 * another server key and a plaintext one never get a message through; the server keeps serving.
 * The operator key (operator.key/.pub): its peer is named "operator" and may send control
 * commands, the workers' key may not. */
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

/* Writes TEXT to DIR/NAME. */
static void write_text(const char *dir, const char *name, const char *text) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

/* A key load returned RC: WANT, with an error message naming FILE. */
static void load_error(int rc, int want, const char *file) {
    CHECK(rc == want && strstr(aha_last_error(), file), "%s: got %d (want %d): %s", file, rc, want,
          aha_last_error());
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
    load_error(aha_keys_load(keys, "nobody", &other), AHA_ERR_IO, "nobody.key");
    write_text(keys, "bad.key", "not a key\nat all\n");
    load_error(aha_keys_load(keys, "bad", &other), AHA_ERR_FORMAT, "bad.key");
    CHECK(zmq_curve_keypair(other.public_key, other.secret_key) == 0, "a stranger's keypair");

    void *ctx = zmq_ctx_new();
    aha_zap_t *zap = NULL;
    const char *allowed[] = {cli.public_key};
    CHECK(aha_zap_start(ctx, allowed, 1, NULL, &zap) == 0, "zap: %s", aha_last_error());
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
    CHECK(aha_zap_start(ctx, bad_allowed, 1, NULL, &z2) == AHA_ERR_ARG && !z2, "bad allowed key");

    aha_wire_destroy(&stranger);
    aha_wire_destroy(&wrong_server);
    aha_wire_destroy(&plain);
    aha_wire_destroy(&good);
    aha_wire_destroy(&srv);
    aha_zap_stop(&zap);
    CHECK(zap == NULL, "zap stop NULLs");
    zmq_ctx_term(ctx);
    CHECK(tu_rm_rf(dir) == 0, "cleanup");
}

/* The operator key: keygen writes operator.key + operator.pub (and adds them to a directory from
 * before operator keys); the ZAP handler names a peer with that key "operator" and one with the
 * workers' key "worker"; only the operator may send control commands over tcp, and a refused
 * Control is counted. */
static void test_operator_key(void) {
    char dir[] = "/tmp/aha_curve_op_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char keys[300], path[400];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    REQUIRE_OK(aha_keys_generate(keys));
    snprintf(path, sizeof path, "%s/operator.key", keys);
    REQUIRE(remove(path) == 0, "remove operator.key");
    snprintf(path, sizeof path, "%s/operator.pub", keys);
    REQUIRE(remove(path) == 0, "remove operator.pub");
    aha_keypair_t server, cli, op, server2;
    REQUIRE_OK(aha_keys_load(keys, "server", &server));
    CHECK(aha_keys_generate(keys) == 0, "keygen adds the operator key: %s", aha_last_error());
    REQUIRE_OK(aha_keys_load(keys, "server", &server2));
    CHECK(!strcmp(server.public_key, server2.public_key), "the server key was not replaced");
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "operator.pub mode %o",
          st.st_mode & 0777);
    char op_pub[AHA_Z85_KEY];
    REQUIRE_OK(aha_keys_load(keys, "client", &cli));
    REQUIRE_OK(aha_keys_load(keys, "operator", &op));
    REQUIRE_OK(aha_keys_load_public(keys, "operator", op_pub));
    CHECK(!strcmp(op_pub, op.public_key) && strcmp(op_pub, cli.public_key),
          "operator.pub is operator.key's public half, not the client's");
    load_error(aha_keys_load_public(keys, "server", op_pub), AHA_ERR_IO, "server.pub");
    write_text(keys, "bad.pub", "short\n");
    load_error(aha_keys_load_public(keys, "bad", op_pub), AHA_ERR_FORMAT, "bad.pub");

    void *ctx = zmq_ctx_new();
    aha_zap_t *zap = NULL;
    const char *allowed[] = {cli.public_key};
    REQUIRE_OK(aha_zap_start(ctx, allowed, 1, op.public_key, &zap));
    aha_wire_t *srv = NULL;
    char ep[256];
    REQUIRE_OK(aha_wire_new(ctx, ZMQ_ROUTER, "learner/0", 1 << 16, &srv));
    REQUIRE_OK(aha_wire_curve_server(srv, &server));
    REQUIRE_OK(aha_wire_bind(srv, "tcp://127.0.0.1:*"));
    REQUIRE_OK(aha_wire_endpoint(srv, ep, sizeof ep));
    aha_wire_t *worker = client(ctx, ep, server.public_key, &cli),
               *oper = client(ctx, ep, server.public_key, &op);
    REQUIRE(worker && oper, "clients: %s", aha_last_error());
    uint64_t refused = 0;
    int seen_worker = 0, seen_op = 0;
    Aha__Envelope ctl = AHA__ENVELOPE__INIT;
    Aha__Control c = AHA__CONTROL__INIT;
    c.command = "status";
    ctl.body_case = AHA__ENVELOPE__BODY_CONTROL;
    ctl.control = &c;
    CHECK(aha_wire_send(worker, NULL, &ctl) == 0 && aha_wire_send(oper, NULL, &ctl) == 0,
          "send: %s", aha_last_error());
    for (int i = 0; i < 2; i++) {
        Aha__Envelope *e = NULL;
        aha_peer_t from;
        if (aha_wire_recv(srv, 5000, &from, &e) != AHA_OK) break;
        char text[512];
        const int allowed_ =
            aha_wire_control_allowed(&from, e, "test", &refused, text, sizeof text);
        if (!strcmp(from.user, "worker"))
            seen_worker = !allowed_ && strstr(text, "refused") ? 1 : -1;
        if (!strcmp(from.user, "operator")) seen_op = allowed_ ? 1 : -1;
        aha_wire_free(&e);
    }
    CHECK(seen_worker == 1, "the workers' key may not control (%d)", seen_worker);
    CHECK(seen_op == 1, "the operator key may (%d)", seen_op);
    CHECK(refused == 1, "one refusal counted (%llu)", (unsigned long long)refused);
    aha_peer_t plain = {.id = "x", .id_len = 1};
    CHECK(!aha_wire_peer_may_control(&plain) && !aha_wire_peer_may_control(NULL),
          "a peer without CURVE or local credentials may not control");
    const char *none[] = {cli.public_key};
    aha_zap_t *z2 = NULL;
    CHECK(aha_zap_start(ctx, none, 1, "not z85", &z2) == AHA_ERR_ARG && !z2, "bad operator key");
    aha_wire_destroy(&worker);
    aha_wire_destroy(&oper);
    aha_wire_destroy(&srv);
    aha_zap_stop(&zap);
    zmq_ctx_term(ctx);
    CHECK(tu_rm_rf(dir) == 0, "cleanup");
}

static const tu_case_t cases[] = {
    {"keys_and_zap", test_keys_and_zap},
    {"operator_key", test_operator_key},
};

TU_MAIN(cases)
