#include "core/curve.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

enum { MAX_ALLOWED = 64 };

static int valid_z85(const char *k) {
    if (strlen(k) != 40) return 0;
    uint8_t bin[32];
    return zmq_z85_decode(bin, k) != NULL;
}

/* Writes DIR/NAME.key (and DIR/NAME.pub if PUB_TOO) with a fresh keypair; never overwrites. */
static int write_key(const char *dir, const char *name, int pub_too) {
    char path[1024], pub[AHA_Z85_KEY], sec[AHA_Z85_KEY], text[100];
    if (zmq_curve_keypair(pub, sec) != 0)
        return AHA_FAIL(AHA_ERR_STATE, "zmq_curve_keypair: %s (libzmq without CURVE?)",
                        zmq_strerror(errno));
    for (int part = 0; part <= pub_too; part++) {
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, part ? "pub" : "key");
        int n = part ? snprintf(text, sizeof text, "%s\n", pub)
                     : snprintf(text, sizeof text, "%s\n%s\n", pub, sec);
        FILE *f = NULL;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, part ? 0644 : 0600);
        if (fd >= 0) f = fdopen(fd, "w");
        if (!f) {
            if (fd >= 0) close(fd);
            return AHA_FAIL(errno == EEXIST ? AHA_ERR_STATE : AHA_ERR_IO, "%s: %s", path,
                            errno == EEXIST ? "exists; keys are never overwritten"
                                            : strerror(errno));
        }
        int ok = fwrite(text, 1, (size_t)n, f) == (size_t)n;
        ok &= fclose(f) == 0;
        if (!ok) return AHA_FAIL(AHA_ERR_IO, "%s: write failed", path);
    }
    return AHA_OK;
}

static int exists(const char *dir, const char *name, const char *ext) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    struct stat st;
    return stat(path, &st) == 0;
}

int aha_keys_generate(const char *dir) {
    if (!dir) return AHA_FAIL(AHA_ERR_ARG, "aha_keys_generate: NULL dir");
    AHA_TRY(aha_mkdir_p(dir));
    static const char *const names[] = {"server", "client", "operator"};
    int have[3], made = 0;
    for (int i = 0; i < 3; i++) /* look before writing anything */
        have[i] = exists(dir, names[i], "key") || (i == 2 && exists(dir, names[i], "pub"));
    for (int i = 0; i < 3; i++)
        if (!have[i]) {
            AHA_TRY(write_key(dir, names[i], i == 2));
            made++;
        }
    if (!made)
        return AHA_FAIL(AHA_ERR_STATE,
                        "%s: server.key, client.key and operator.key exist; keys are never "
                        "overwritten",
                        dir);
    return AHA_OK;
}

/* Reads up to CAP - 1 bytes of PATH into BUF (NUL-terminated); the byte count, or -1. */
static long read_small(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return (long)n;
}

int aha_keys_load_file(const char *path, aha_keypair_t *out) {
    if (!path || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_keys_load_file: NULL argument");
    char buf[128];
    long n = read_small(path, buf, sizeof buf);
    if (n < 0)
        return AHA_FAIL(AHA_ERR_IO, "%s: %s (create keys with `aha keygen DIR`)", path,
                        strerror(errno));
    aha_keypair_t kp;
    memset(&kp, 0, sizeof kp);
    if (n != 82 || buf[40] != '\n' || buf[81] != '\n')
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: expected two 40-character Z85 keys on two lines",
                        path);
    memcpy(kp.public_key, buf, 40);
    memcpy(kp.secret_key, buf + 41, 40);
    if (!valid_z85(kp.public_key) || !valid_z85(kp.secret_key))
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: not Z85 keys", path);
    *out = kp;
    return AHA_OK;
}

int aha_keys_load(const char *dir, const char *name, aha_keypair_t *out) {
    if (!dir || !name || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_keys_load: NULL argument");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    return aha_keys_load_file(path, out);
}

int aha_keys_load_public(const char *dir, const char *name, char *out) {
    if (!dir || !name || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_keys_load_public: NULL argument");
    char path[1024], buf[128];
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    long n = read_small(path, buf, sizeof buf);
    if (n < 0) return AHA_FAIL(AHA_ERR_IO, "%s: %s", path, strerror(errno));
    if (n != 41 || buf[40] != '\n')
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: expected one 40-character Z85 key", path);
    buf[40] = 0;
    if (!valid_z85(buf)) return AHA_FAIL(AHA_ERR_FORMAT, "%s: not a Z85 key", path);
    memcpy(out, buf, AHA_Z85_KEY);
    return AHA_OK;
}

static int setopt(aha_wire_t *w, int opt, const void *v, size_t len, const char *what) {
    if (zmq_setsockopt(aha_wire_socket(w), opt, v, len) != 0)
        return AHA_FAIL(AHA_ERR_NET, "CURVE %s: %s", what, zmq_strerror(errno));
    return AHA_OK;
}

int aha_wire_curve_server(aha_wire_t *w, const aha_keypair_t *server) {
    if (!w || !server) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_curve_server: NULL argument");
    int one = 1;
    AHA_TRY(setopt(w, ZMQ_CURVE_SERVER, &one, sizeof one, "server"));
    AHA_TRY(setopt(w, ZMQ_CURVE_SECRETKEY, server->secret_key, 40, "secret key"));
    return setopt(w, ZMQ_ZAP_DOMAIN, "aha", 3, "ZAP domain");
}

int aha_wire_curve_client(aha_wire_t *w, const char *server_public, const aha_keypair_t *client) {
    if (!w || !server_public || !client)
        return AHA_FAIL(AHA_ERR_ARG, "aha_wire_curve_client: NULL argument");
    if (!valid_z85(server_public)) return AHA_FAIL(AHA_ERR_ARG, "server public key is not Z85");
    AHA_TRY(setopt(w, ZMQ_CURVE_SERVERKEY, server_public, 40, "server key"));
    AHA_TRY(setopt(w, ZMQ_CURVE_PUBLICKEY, client->public_key, 40, "public key"));
    return setopt(w, ZMQ_CURVE_SECRETKEY, client->secret_key, 40, "secret key");
}

/* ---- ZAP (ZeroMQ RFC 27) ---- */

struct aha_zap {
    void *sock;
    pthread_t thread;
    atomic_int stop;
    atomic_ullong accepted, rejected;
    int n;
    char allowed[MAX_ALLOWED][AHA_Z85_KEY];
    char operator_key[AHA_Z85_KEY]; /* "" if none */
};

static void *zap_main(void *arg) {
    aha_zap_t *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t item = {z->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) <= 0) continue;
        /* request: version, request id, domain, address, identity, mechanism, credentials... */
        zmq_msg_t part[8];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, z->sock, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (n < 8) {
                zmq_msg_init(&part[n]);
                zmq_msg_move(&part[n], &m);
                n++;
            }
            zmq_msg_close(&m);
        }
        char key[AHA_Z85_KEY] = "", addr[64] = "";
        const char *user = NULL;
        if (n >= 7 && zmq_msg_size(&part[5]) == 5 && !memcmp(zmq_msg_data(&part[5]), "CURVE", 5) &&
            zmq_msg_size(&part[6]) == 32) {
            zmq_z85_encode(key, zmq_msg_data(&part[6]), 32);
            for (int i = 0; i < z->n && !user; i++)
                if (!strcmp(key, z->allowed[i])) user = "worker";
            if (!user && z->operator_key[0] && !strcmp(key, z->operator_key)) user = "operator";
        }
        const int ok = user != NULL;
        if (n >= 4)
            snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&part[3]),
                     (const char *)zmq_msg_data(&part[3]));
        if (ok) {
            atomic_fetch_add(&z->accepted, 1);
        } else {
            unsigned long long r = atomic_fetch_add(&z->rejected, 1) + 1;
            if (aha_log_nth(r))
                AHA_WARN("ZAP: refused a connection from %s (client key %s): neither the workers' "
                         "nor the operator's key (%llu refused so far)",
                         addr[0] ? addr : "?", key[0] ? key : "none", r);
        }
        /* reply: version, request id, status code, status text, user id, metadata */
        const char *status = ok ? "200" : "400", *text = ok ? "OK" : "unknown client key";
        zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
        if (n >= 2)
            zmq_send(z->sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
        else
            zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
        zmq_send(z->sock, status, 3, ZMQ_SNDMORE);
        zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(z->sock, user ? user : "", user ? strlen(user) : 0, ZMQ_SNDMORE); /* user id */
        zmq_send(z->sock, "", 0, 0);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&part[i]);
    }
    zmq_close(z->sock);
    return NULL;
}

int aha_zap_start(void *zctx, const char *const *allowed, int n, const char *operator_key,
                  aha_zap_t **out) {
    if (!zctx || !out || n < 1 || n > MAX_ALLOWED || !allowed)
        return AHA_FAIL(AHA_ERR_ARG, "aha_zap_start: bad argument");
    aha_zap_t *z = calloc(1, sizeof *z);
    if (!z) return AHA_FAIL(AHA_ERR_NOMEM, "zap");
    for (int i = 0; i < n; i++) {
        if (!allowed[i] || !valid_z85(allowed[i])) {
            free(z);
            return AHA_FAIL(AHA_ERR_ARG, "ZAP: allowed key %d is not Z85", i);
        }
        snprintf(z->allowed[i], AHA_Z85_KEY, "%s", allowed[i]);
    }
    if (operator_key && !valid_z85(operator_key)) {
        free(z);
        return AHA_FAIL(AHA_ERR_ARG, "ZAP: the operator key is not Z85");
    }
    if (operator_key) snprintf(z->operator_key, AHA_Z85_KEY, "%s", operator_key);
    z->n = n;
    z->sock = zmq_socket(zctx, ZMQ_REP);
    int zero = 0;
    if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0) {
        int e = errno;
        if (z->sock) zmq_close(z->sock);
        free(z);
        return AHA_FAIL(AHA_ERR_NET, "ZAP handler: %s (one per context)", zmq_strerror(e));
    }
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        zmq_close(z->sock);
        free(z);
        return AHA_FAIL(AHA_ERR_STATE, "ZAP handler: cannot start a thread");
    }
    *out = z;
    return AHA_OK;
}

void aha_zap_stop(aha_zap_t **zp) {
    if (!zp || !*zp) return;
    atomic_store(&(*zp)->stop, 1);
    pthread_join((*zp)->thread, NULL);
    free(*zp);
    *zp = NULL;
}

uint64_t aha_zap_accepted(const aha_zap_t *z) {
    return z ? atomic_load(&z->accepted) : 0;
}
uint64_t aha_zap_rejected(const aha_zap_t *z) {
    return z ? atomic_load(&z->rejected) : 0;
}
