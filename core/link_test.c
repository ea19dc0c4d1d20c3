/* link: the defaults, the stop flag, and aha_link_open — a DEALER that reaches a ROUTER (the
 * identity is the one given), a CURVE server key without the client's keypair refused, a bad
 * endpoint refused, and *out left alone on every failure. */
#include "core/err.h"
#include "core/link.h"
#include "core/testutil.h"
#include <zmq.h>

static void test_default_and_stop(void) {
    aha_link_t l;
    aha_link_default(&l);
    CHECK(l.heartbeat_timeout_ms == 30000 && l.peer_timeout_ms == 300000, "default timeouts");
    CHECK(!l.curve_server_public && !l.curve_client && !l.stop, "no CURVE, no stop flag");
    CHECK(!aha_link_stopped(&l), "no flag: not stopped");
    volatile sig_atomic_t flag = 0;
    l.stop = &flag;
    CHECK(!aha_link_stopped(&l), "flag clear: not stopped");
    flag = 1;
    CHECK(aha_link_stopped(&l), "flag set: stopped");
}

static void test_open(void) {
    void *ctx = zmq_ctx_new();
    aha_wire_t *server = NULL, *w = NULL;
    REQUIRE_OK(aha_wire_new(ctx, ZMQ_ROUTER, "server", 1 << 20, &server));
    REQUIRE_OK(aha_wire_bind(server, "tcp://127.0.0.1:*"));
    char ep[256];
    REQUIRE_OK(aha_wire_endpoint(server, ep, sizeof ep));
    aha_link_t l;
    aha_link_default(&l);
    REQUIRE_OK(aha_link_open(ctx, &l, "worker/1", 1 << 20, 1000, ep, &w));
    REQUIRE(w != NULL, "opened");
    REQUIRE_OK(aha_wire_send_heartbeat(w, NULL, 7));
    aha_peer_t from;
    Aha__Envelope *e = NULL;
    REQUIRE_OK(aha_wire_recv(server, 5000, &from, &e));
    CHECK(from.id_len == 8 && !memcmp(from.id, "worker/1", 8), "the server sees the identity");
    aha_wire_free(&e);

    aha_wire_t *kept = w;
    l.curve_server_public = "0000000000000000000000000000000000000000";
    CHECK(aha_link_open(ctx, &l, "worker/2", 1 << 20, 1000, ep, &w) == AHA_ERR_ARG,
          "a server key without the client's keypair is refused");
    CHECK(w == kept, "*out left alone");
    aha_link_default(&l);
    CHECK(aha_link_open(ctx, &l, "worker/3", 1 << 20, 1000, "nowhere", &w) < 0,
          "a bad endpoint is refused");
    CHECK(w == kept, "*out left alone");
    CHECK(aha_link_open(ctx, NULL, "worker/4", 1 << 20, 1000, ep, &w) == AHA_ERR_ARG,
          "NULL link refused");
    aha_wire_destroy(&w);
    aha_wire_destroy(&server);
    zmq_ctx_term(ctx);
}

static const tu_case_t cases[] = {
    {"default_and_stop", test_default_and_stop},
    {"open", test_open},
};

TU_MAIN(cases)
