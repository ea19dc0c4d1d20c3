/* core/link.c — see link.h. */
#include "core/link.h"
#include "core/err.h"
#include <string.h>
#include <zmq.h>

void aha_link_default(aha_link_t *l) {
    memset(l, 0, sizeof *l);
    l->heartbeat_timeout_ms = 30000;
    l->peer_timeout_ms = 300000;
}

int aha_link_stopped(const aha_link_t *l) {
    return l->stop && *l->stop;
}

int aha_link_open(void *zctx, const aha_link_t *l, const char *id, size_t max_bytes,
                  int heartbeat_ms, const char *endpoint, aha_wire_t **out) {
    if (!zctx || !l || !id || !endpoint || !out)
        return AHA_FAIL(AHA_ERR_ARG, "aha_link_open: NULL argument");
    aha_wire_t *w = NULL;
    int rc = aha_wire_new(zctx, ZMQ_DEALER, id, max_bytes, &w);
    if (rc == AHA_OK) rc = aha_wire_set_identity(w, id);
    if (rc == AHA_OK && l->curve_server_public)
        rc = aha_wire_curve_client(w, l->curve_server_public, l->curve_client);
    if (rc == AHA_OK && l->peer_timeout_ms > 0)
        rc = aha_wire_watch(w, zctx, heartbeat_ms,
                            l->heartbeat_timeout_ms > 0 ? l->heartbeat_timeout_ms : 30000);
    if (rc == AHA_OK) rc = aha_wire_connect(w, endpoint);
    if (rc != AHA_OK) {
        aha_wire_destroy(&w);
        return rc;
    }
    *out = w;
    return AHA_OK;
}
