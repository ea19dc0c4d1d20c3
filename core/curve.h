/* core/curve.h — CURVE encryption and authentication for core/wire.h sockets, required for
 * anything beyond loopback (docs/rl.md, Across machines).
 *
 * Keys live in a directory on storage every node can read (`aha keygen DIR`):
 *   DIR/server.key    the learner's keypair (its public half is how workers recognise it)
 *   DIR/client.key    the keypair workers present; it passes the server's ZAP check as "worker"
 *   DIR/operator.key  the operator's keypair (aha ctl from another host); the learner needs only
 *   DIR/operator.pub  its public half, so operator.key may be moved off the shared storage
 * each .key file "PUBLIC\nSECRET\n" in Z85 (40 characters each), mode 0600; a .pub file
 * "PUBLIC\n", mode 0644.
 * A server socket gets aha_wire_curve_server; a ZAP handler (aha_zap_start, one per ZeroMQ
 * context, before any bind) admits only the listed client public keys ("worker") and the
 * operator's ("operator": the peer's user in core/wire.h, which may send control commands),
 * counts and logs the rest. A client socket gets aha_wire_curve_client. Set both before bind /
 * connect. */
#ifndef AHA_CORE_CURVE_H
#define AHA_CORE_CURVE_H
#include "core/wire.h"
#include <stdint.h>

#define AHA_Z85_KEY 41 /* 40 characters + NUL */

typedef struct {
    char public_key[AHA_Z85_KEY];
    char secret_key[AHA_Z85_KEY];
} aha_keypair_t;

/* Creates DIR (if needed) with fresh server.key, client.key and operator.key + operator.pub, each
 * that is not there yet (a directory from before operator keys gets just those). AHA_ERR_STATE
 * if all are there (keys are never overwritten), AHA_ERR_IO on a write error. */
int aha_keys_generate(const char *dir);
/* Reads DIR/NAME.key ("server", "client", "operator"). AHA_ERR_IO if missing, AHA_ERR_FORMAT if
 * malformed (message names the file). *out written only on success. */
int aha_keys_load(const char *dir, const char *name, aha_keypair_t *out);
/* The same for the key file PATH. */
int aha_keys_load_file(const char *path, aha_keypair_t *out);
/* Reads the public key DIR/NAME.pub into out[0..AHA_Z85_KEY). AHA_ERR_IO if missing,
 * AHA_ERR_FORMAT if malformed (naming the file); out written only on success. */
int aha_keys_load_public(const char *dir, const char *name, char *out);

/* Makes W a CURVE server with keypair SERVER. */
int aha_wire_curve_server(aha_wire_t *w, const aha_keypair_t *server);
/* Makes W a CURVE client that only talks to the server whose public key is SERVER_PUBLIC,
 * presenting keypair CLIENT. */
int aha_wire_curve_client(aha_wire_t *w, const char *server_public, const aha_keypair_t *client);

/* ZAP handler thread in context ZCTX admitting the N client public keys ALLOWED (Z85; copied) as
 * user "worker" and, if OPERATOR (Z85) is not NULL, that key as user "operator". Stop it
 * (aha_zap_stop) before zmq_ctx_term. */
typedef struct aha_zap aha_zap_t;
int aha_zap_start(void *zctx, const char *const *allowed, int n, const char *operator_key,
                  aha_zap_t **out);
void aha_zap_stop(aha_zap_t **z);
/* Handshakes accepted / refused so far. */
uint64_t aha_zap_accepted(const aha_zap_t *z);
uint64_t aha_zap_rejected(const aha_zap_t *z);

#endif
