#include "core/blob.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int aha_blob_checksum(const void *data, size_t len, uint8_t out[AHA_BLOB_SUM_BYTES]) {
    if ((!data && len) || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_blob_checksum: NULL argument");
    if (sodium_init() < 0) return AHA_FAIL(AHA_ERR_STATE, "libsodium failed to initialise");
    crypto_generichash(out, AHA_BLOB_SUM_BYTES, data, len, NULL, 0);
    return AHA_OK;
}

/* The transfer checksum (blob.h): a Poly1305 tag under a one-time key derived from (version,
 * length), computed incrementally so a fetcher checks each chunk as it arrives. */
typedef struct {
    crypto_onetimeauth_state st;
} sum_state_t;

static int sum_init(sum_state_t *s, uint64_t version, uint64_t len) {
    if (sodium_init() < 0) return AHA_FAIL(AHA_ERR_STATE, "libsodium failed to initialise");
    static const char tag[] = "aha weights transfer v1";
    uint8_t in[sizeof tag + 16], key[crypto_onetimeauth_KEYBYTES];
    memcpy(in, tag, sizeof tag);
    for (int i = 0; i < 8; i++) { /* little-endian, whatever the host */
        in[sizeof tag + i] = (uint8_t)(version >> (8 * i));
        in[sizeof tag + 8 + i] = (uint8_t)(len >> (8 * i));
    }
    crypto_generichash(key, sizeof key, in, sizeof in, NULL, 0);
    crypto_onetimeauth_init(&s->st, key);
    sodium_memzero(key, sizeof key);
    return AHA_OK;
}

static void sum_update(sum_state_t *s, const uint8_t *data, size_t len) {
    crypto_onetimeauth_update(&s->st, data, len);
}

static void sum_final(sum_state_t *s, uint8_t out[AHA_BLOB_SUM_BYTES]) {
    memset(out, 0, AHA_BLOB_SUM_BYTES); /* bytes 16..31: zero (reserved) */
    crypto_onetimeauth_final(&s->st, out);
}

int aha_blob_sum(uint64_t version, const void *data, size_t len,
                 uint8_t out[AHA_BLOB_SUM_BYTES]) {
    if ((!data && len) || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_blob_sum: NULL argument");
    sum_state_t s;
    AHA_TRY(sum_init(&s, version, len));
    sum_update(&s, data, len);
    sum_final(&s, out);
    return AHA_OK;
}

int aha_blob_set(aha_blob_t *b, uint64_t version, const void *data, size_t len,
                 uint32_t chunk_bytes) {
    if (!b || (!data && len) || chunk_bytes == 0)
        return AHA_FAIL(AHA_ERR_ARG, "aha_blob_set: bad argument");
    aha_blob_t n = {version, data, len, chunk_bytes, {0}};
    AHA_TRY(aha_blob_sum(version, data, len, n.sum));
    *b = n;
    return AHA_OK;
}

static int send_announce(const aha_blob_t *b, aha_wire_t *w, const aha_peer_t *peer) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__WeightAnnounce a = AHA__WEIGHT_ANNOUNCE__INIT;
    a.version = b->version;
    a.total_bytes = b->len;
    a.chunk_bytes = b->chunk_bytes;
    a.checksum.data = (uint8_t *)b->sum;
    a.checksum.len = AHA_BLOB_SUM_BYTES;
    env.body_case = AHA__ENVELOPE__BODY_WEIGHT_ANNOUNCE;
    env.weight_announce = &a;
    return aha_wire_send(w, peer, &env);
}

int aha_blob_serve(const aha_blob_t *b, aha_wire_t *w, const aha_peer_t *peer,
                   const Aha__ChunkRequest *req) {
    if (!b || !w || !req) return AHA_FAIL(AHA_ERR_ARG, "aha_blob_serve: NULL argument");
    if (req->index == AHA_BLOB_ANNOUNCE || req->version != b->version)
        return send_announce(b, w, peer);
    size_t off = (size_t)req->index * b->chunk_bytes;
    if (off >= b->len)
        return AHA_FAIL(AHA_ERR_RANGE, "chunk %u of a %zu-byte blob", req->index, b->len);
    size_t n = b->len - off < b->chunk_bytes ? b->len - off : b->chunk_bytes;
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__Chunk c = AHA__CHUNK__INIT;
    c.version = b->version;
    c.index = req->index;
    c.data.data = (uint8_t *)b->data + off;
    c.data.len = n;
    env.body_case = AHA__ENVELOPE__BODY_CHUNK;
    env.chunk = &c;
    return aha_wire_send(w, peer, &env);
}

static int request(aha_wire_t *w, uint64_t version, uint32_t index) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__ChunkRequest r = AHA__CHUNK_REQUEST__INIT;
    r.version = version;
    r.index = index;
    env.body_case = AHA__ENVELOPE__BODY_CHUNK_REQUEST;
    env.chunk_request = &r;
    return aha_wire_send(w, NULL, &env);
}

/* aha_wire_recv in slices of at most 100 ms while *STOP stays 0 (STOP NULL: one wait). */
static int recv_or_stop(aha_wire_t *w, int timeout_ms, volatile sig_atomic_t *stop,
                        Aha__Envelope **e) {
    if (!stop) return aha_wire_recv(w, timeout_ms, NULL, e);
    const double end = aha_now_ms() + timeout_ms;
    for (;;) {
        if (*stop) return AHA_FAIL(AHA_ERR_STATE, "weights: fetch stopped");
        const double left = end - aha_now_ms();
        if (left <= 0) return AHA_FAIL(AHA_ERR_TIMEOUT, "weights: no reply in %d ms", timeout_ms);
        int rc = aha_wire_recv(w, left < 100 ? (int)left + 1 : 100, NULL, e);
        if (rc != AHA_ERR_TIMEOUT) return rc;
    }
}

int aha_blob_fetch(aha_wire_t *w, uint64_t min_version, size_t max_len, int credit, int timeout_ms,
                   uint64_t *version, uint8_t **data, size_t *len) {
    return aha_blob_fetch_until(w, min_version, max_len, credit, timeout_ms, NULL, version, data,
                                len);
}

int aha_blob_fetch_until(aha_wire_t *w, uint64_t min_version, size_t max_len, int credit,
                         int timeout_ms, volatile sig_atomic_t *stop, uint64_t *version,
                         uint8_t **data, size_t *len) {
    if (!w || !version || !data || !len || credit < 1 || timeout_ms < 1)
        return AHA_FAIL(AHA_ERR_ARG, "aha_blob_fetch: bad argument");
    uint8_t *buf = NULL, *have = NULL;
    uint64_t v = 0;
    size_t total = 0;
    uint32_t chunk = 0, n_chunks = 0, next = 0, received = 0, summed = 0;
    uint8_t sum[AHA_BLOB_SUM_BYTES];
    sum_state_t ss;
    int in_flight = 0, rc = AHA_OK, announced = 0;
    const double give_up = aha_now_ms() + timeout_ms;
    AHA_TRY_GOTO(rc, request(w, min_version, AHA_BLOB_ANNOUNCE), done);
    for (;;) {
        if (announced && received == n_chunks) break;
        while (announced && in_flight < credit && next < n_chunks) {
            AHA_TRY_GOTO(rc, request(w, v, next++), done);
            in_flight++;
        }
        Aha__Envelope *e = NULL;
        rc = recv_or_stop(w, timeout_ms, stop, &e);
        if (rc != AHA_OK) goto done;
        if (e->body_case == AHA__ENVELOPE__BODY_WEIGHT_ANNOUNCE) {
            const Aha__WeightAnnounce *a = e->weight_announce;
            if (a->version < min_version) { /* not there yet: ask again shortly */
                aha_wire_free(&e);
                if (stop && *stop) {
                    rc = AHA_FAIL(AHA_ERR_STATE, "weights: fetch stopped");
                    goto done;
                }
                if (aha_now_ms() > give_up) {
                    rc = AHA_FAIL(AHA_ERR_TIMEOUT, "weights: version %llu not published in %d ms",
                                  (unsigned long long)min_version, timeout_ms);
                    goto done;
                }
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
                AHA_TRY_GOTO(rc, request(w, min_version, AHA_BLOB_ANNOUNCE), done);
                continue;
            }
            if (a->total_bytes > max_len) {
                rc = AHA_FAIL(AHA_ERR_RANGE, "weights: %llu bytes exceed the %zu-byte cap",
                              (unsigned long long)a->total_bytes, max_len);
                aha_wire_free(&e);
                goto done;
            }
            if (announced && a->version == v) { /* duplicate announce */
                aha_wire_free(&e);
                continue;
            }
            /* (re)start on this version; replies to older requests are ignored below */
            free(buf);
            free(have);
            v = a->version;
            total = (size_t)a->total_bytes;
            chunk = a->chunk_bytes;
            n_chunks = (uint32_t)((total + chunk - 1) / chunk);
            if (a->checksum.len != AHA_BLOB_SUM_BYTES || chunk == 0) {
                rc = AHA_FAIL(AHA_ERR_FORMAT, "weights: announce with a %zu-byte checksum, %u-byte "
                              "chunks", a->checksum.len, chunk);
                aha_wire_free(&e);
                goto done;
            }
            memcpy(sum, a->checksum.data, AHA_BLOB_SUM_BYTES);
            buf = malloc(total ? total : 1);
            have = calloc(n_chunks ? n_chunks : 1, 1);
            next = received = summed = 0;
            in_flight = 0;
            announced = 1;
            aha_wire_free(&e);
            if (!buf || !have) {
                rc = AHA_FAIL(AHA_ERR_NOMEM, "weights: %zu bytes", total);
                goto done;
            }
            AHA_TRY_GOTO(rc, sum_init(&ss, v, total), done);
            continue;
        }
        if (e->body_case == AHA__ENVELOPE__BODY_CHUNK && announced && e->chunk->version == v) {
            const Aha__Chunk *c = e->chunk;
            size_t off = (size_t)c->index * chunk;
            size_t want = c->index < n_chunks ? (total - off < chunk ? total - off : chunk) : 0;
            if (c->index >= n_chunks || c->data.len != want) {
                rc = AHA_FAIL(AHA_ERR_FORMAT, "weights: chunk %u of %zu bytes (want %zu of %u)",
                              c->index, c->data.len, want, n_chunks);
                aha_wire_free(&e);
                goto done;
            }
            if (!have[c->index]) {
                memcpy(buf + off, c->data.data, want);
                have[c->index] = 1;
                received++;
            }
            in_flight--;
            /* checksum the chunks received in order so far (ask for more first: the checksum
             * overlaps with the chunks in flight) */
            while (in_flight < credit && next < n_chunks) {
                if ((rc = request(w, v, next++)) != AHA_OK) {
                    aha_wire_free(&e);
                    goto done;
                }
                in_flight++;
            }
            for (; summed < n_chunks && have[summed]; summed++) {
                const size_t o = (size_t)summed * chunk;
                sum_update(&ss, buf + o, total - o < chunk ? total - o : chunk);
            }
        } else {
            AHA_DEBUG("weights: ignoring message kind %d during a fetch", (int)e->body_case);
        }
        aha_wire_free(&e);
    }
    uint8_t got[AHA_BLOB_SUM_BYTES];
    sum_final(&ss, got); /* every chunk was summed when it arrived (received == n_chunks) */
    if (memcmp(got, sum, AHA_BLOB_SUM_BYTES) != 0) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "weights version %llu: checksum mismatch",
                      (unsigned long long)v);
        goto done;
    }
    *version = v;
    *data = buf;
    *len = total;
    buf = NULL;
done:
    free(buf);
    free(have);
    return rc;
}
