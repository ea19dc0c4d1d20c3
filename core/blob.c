#include "core/blob.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include <errno.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

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

int aha_blob_sum(uint64_t version, const void *data, size_t len, uint8_t out[AHA_BLOB_SUM_BYTES]) {
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
    aha_blob_t n = {version, data, len, chunk_bytes, {0}, NULL};
    AHA_TRY(aha_blob_sum(version, data, len, n.sum));
    *b = n;
    return AHA_OK;
}

/* ---- framed chunks ---- */

struct aha_blob_frames {
    atomic_int refs; /* the blob's one + one per frame ZeroMQ still holds */
    uint32_t n;      /* chunks */
    size_t slot;     /* bytes per chunk slot: header room, then the chunk's data */
    size_t hdr_room;
    size_t *start; /* [n] offset of frame i's first header byte */
    size_t *end;   /* [n] one past its last data byte */
    uint8_t *mem;
};

static void frames_unref(void *data, void *hint) {
    (void)data;
    aha_blob_frames_t *f = hint;
    if (atomic_fetch_sub(&f->refs, 1) == 1) {
        free(f->start);
        free(f->end);
        free(f->mem);
        free(f);
    }
}

void aha_blob_release(aha_blob_t *b) {
    if (!b) return;
    if (b->frames) frames_unref(NULL, b->frames);
    memset(b, 0, sizeof *b);
}

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

static size_t varint_len(uint64_t v) {
    uint8_t tmp[10];
    return put_varint(tmp, v);
}

/* Writes into H (room enough) the bytes of Envelope {protocol, sender, chunk {version, index,
 * data: N bytes}} that come before the data; returns their count. */
static size_t chunk_header(uint8_t *h, const char *sender, uint64_t version, uint32_t index,
                           size_t n) {
    const size_t sl = strlen(sender);
    const size_t inner = 1 + varint_len(version) + 1 + varint_len(index) + 1 + varint_len(n) + n;
    size_t o = 0;
    h[o++] = 1 << 3; /* protocol, varint */
    o += put_varint(h + o, AHA_WIRE_PROTOCOL);
    h[o++] = 2 << 3 | 2; /* sender, bytes */
    o += put_varint(h + o, sl);
    memcpy(h + o, sender, sl);
    o += sl;
    o += put_varint(h + o, 18 << 3 | 2); /* chunk */
    o += put_varint(h + o, inner);
    h[o++] = 1 << 3; /* version */
    o += put_varint(h + o, version);
    h[o++] = 2 << 3; /* index */
    o += put_varint(h + o, index);
    h[o++] = 3 << 3 | 2; /* data */
    o += put_varint(h + o, n);
    return o;
}

int aha_blob_set_framed(aha_blob_t *b, uint64_t version, size_t len, uint32_t chunk_bytes,
                        const char *sender,
                        void (*fill)(void *ctx, size_t off, uint8_t *dst, size_t n), void *ctx) {
    if (!b || !sender || !fill || chunk_bytes == 0 || b->frames || strlen(sender) > 1024)
        return AHA_FAIL(AHA_ERR_ARG, "aha_blob_set_framed: bad argument");
    aha_blob_t nb = {version, NULL, len, chunk_bytes, {0}, NULL};
    aha_blob_frames_t *f = calloc(1, sizeof *f);
    if (!f) return AHA_FAIL(AHA_ERR_NOMEM, "weights frames");
    atomic_init(&f->refs, 1);
    f->n = (uint32_t)((len + chunk_bytes - 1) / chunk_bytes);
    f->hdr_room = 64 + strlen(sender);
    f->slot = f->hdr_room + chunk_bytes;
    f->start = malloc(sizeof(size_t) * (f->n ? f->n : 1));
    f->end = malloc(sizeof(size_t) * (f->n ? f->n : 1));
    f->mem = malloc(f->n ? f->slot * f->n : 1);
    if (!f->start || !f->end || !f->mem) {
        frames_unref(NULL, f);
        return AHA_FAIL(AHA_ERR_NOMEM, "weights frames: %u chunks of %u bytes", f->n, chunk_bytes);
    }
    sum_state_t ss;
    int rc = sum_init(&ss, version, len);
    if (rc != AHA_OK) {
        frames_unref(NULL, f);
        return rc;
    }
    uint8_t h[1024 + 64];
    for (uint32_t i = 0; i < f->n; i++) {
        const size_t off = (size_t)i * chunk_bytes;
        const size_t n = len - off < chunk_bytes ? len - off : chunk_bytes;
        uint8_t *data = f->mem + (size_t)i * f->slot + f->hdr_room;
        const size_t hl = chunk_header(h, sender, version, i, n);
        memcpy(data - hl, h, hl);
        f->start[i] = (size_t)i * f->slot + f->hdr_room - hl;
        f->end[i] = (size_t)i * f->slot + f->hdr_room + n;
        fill(ctx, off, data, n);
        sum_update(&ss, data, n);
    }
    sum_final(&ss, nb.sum);
    nb.frames = f;
    *b = nb;
    return AHA_OK;
}

/* Sends chunk I's frame to PEER on W's ROUTER socket without copying it. */
static int send_framed(const aha_blob_t *b, aha_wire_t *w, const aha_peer_t *peer, uint32_t i) {
    aha_blob_frames_t *f = b->frames;
    void *sock = aha_wire_socket(w);
    zmq_msg_t msg;
    atomic_fetch_add(&f->refs, 1);
    if (zmq_msg_init_data(&msg, f->mem + f->start[i], f->end[i] - f->start[i], frames_unref, f) !=
        0) {
        frames_unref(NULL, f);
        return AHA_FAIL(AHA_ERR_NOMEM, "weights: chunk message");
    }
    int rc = AHA_OK;
    if (zmq_send(sock, peer->id, peer->id_len, ZMQ_SNDMORE) < 0 ||
        zmq_msg_send(&msg, sock, 0) < 0) {
        const int e = errno;
        rc = e == EAGAIN ? AHA_FAIL(AHA_ERR_TIMEOUT, "weights: chunk %u: send blocked", i)
                         : AHA_FAIL(AHA_ERR_NET, "weights: chunk %u: %s", i, zmq_strerror(e));
        zmq_msg_close(&msg); /* not sent: drops its reference */
    }
    return rc;
}

static int send_announce(const aha_blob_t *b, aha_wire_t *w, const aha_peer_t *peer) {
    Aha__WeightAnnounce a = AHA__WEIGHT_ANNOUNCE__INIT;
    a.version = b->version;
    a.total_bytes = b->len;
    a.chunk_bytes = b->chunk_bytes;
    a.checksum.data = (uint8_t *)b->sum;
    a.checksum.len = AHA_BLOB_SUM_BYTES;
    return aha_wire_send_body(w, peer, &a.base);
}

int aha_blob_serve(const aha_blob_t *b, aha_wire_t *w, const aha_peer_t *peer,
                   const Aha__ChunkRequest *req) {
    if (!b || !w || !req) return AHA_FAIL(AHA_ERR_ARG, "aha_blob_serve: NULL argument");
    if (req->index == AHA_BLOB_ANNOUNCE || req->version != b->version)
        return send_announce(b, w, peer);
    size_t off = (size_t)req->index * b->chunk_bytes;
    if (off >= b->len)
        return AHA_FAIL(AHA_ERR_RANGE, "chunk %u of a %zu-byte blob", req->index, b->len);
    if (b->frames && peer && peer->id_len > 0) return send_framed(b, w, peer, req->index);
    if (!b->data) return AHA_FAIL(AHA_ERR_ARG, "aha_blob_serve: framed blob without a peer");
    size_t n = b->len - off < b->chunk_bytes ? b->len - off : b->chunk_bytes;
    Aha__Chunk c = AHA__CHUNK__INIT;
    c.version = b->version;
    c.index = req->index;
    c.data.data = (uint8_t *)b->data + off;
    c.data.len = n;
    return aha_wire_send_body(w, peer, &c.base);
}

static int request(aha_wire_t *w, uint64_t version, uint32_t index) {
    Aha__ChunkRequest r = AHA__CHUNK_REQUEST__INIT;
    r.version = version;
    r.index = index;
    return aha_wire_send_body(w, NULL, &r.base);
}

/* A message received during a fetch: a Chunk read in place from the frame that holds it (no copy
 * of its data before it lands in the fetch buffer), or any other Envelope. */
typedef struct {
    zmq_msg_t msg; /* the frame, while chunk.data points into it */
    int in_place;
    uint64_t version;
    uint32_t index;
    const uint8_t *data;
    size_t len;
    Aha__Envelope *env; /* !in_place: the decoded message (aha_wire_free) */
} rx_t;

static void rx_free(rx_t *rx) {
    if (rx->in_place) zmq_msg_close(&rx->msg);
    aha_wire_free(&rx->env);
    rx->in_place = 0;
}

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        const uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* Reads F[0..n) as an Envelope {protocol = AHA_WIRE_PROTOCOL, sender, seq, chunk {version, index,
 * data}}, each field at most once, nothing else: 1 with the chunk's fields (data points into F);
 * 0 for anything else, which the caller decodes the ordinary way (aha_wire_decode). */
static int chunk_in_place(const uint8_t *f, size_t n, rx_t *rx) {
    const uint8_t *p = f, *end = f + n;
    uint64_t protocol = 0, tag, v;
    int seen = 0, have_chunk = 0;
    while (p < end) {
        if (!varint(&p, end, &tag)) return 0;
        const int field = (int)(tag >> 3), type = (int)(tag & 7);
        const int bit = field == 18 ? 1 << 4 : 1 << field; /* fields 1, 2, 3 and 18 */
        if (field < 1 || (field > 3 && field != 18) || (seen & bit)) return 0;
        seen |= bit;
        if (type == 0 && (field == 1 || field == 3)) {
            if (!varint(&p, end, &v)) return 0;
            if (field == 1) protocol = v;
        } else if (type == 2 && (field == 2 || field == 18)) {
            if (!varint(&p, end, &v) || v > (uint64_t)(end - p)) return 0;
            if (field == 18) { /* the Chunk */
                const uint8_t *q = p, *cend = p + v;
                uint64_t cv = 0, ci = 0, dn = 0;
                const uint8_t *d = NULL;
                int cseen = 0;
                while (q < cend) {
                    uint64_t ct;
                    if (!varint(&q, cend, &ct)) return 0;
                    const int cf = (int)(ct >> 3), cty = (int)(ct & 7);
                    if (cf < 1 || cf > 3 || (cseen & (1 << cf))) return 0;
                    cseen |= 1 << cf;
                    if (cf == 3) {
                        if (cty != 2 || !varint(&q, cend, &dn) || dn > (uint64_t)(cend - q))
                            return 0;
                        d = q;
                        q += dn;
                    } else if (cty != 0 || !varint(&q, cend, cf == 1 ? &cv : &ci)) {
                        return 0;
                    }
                }
                if (ci > UINT32_MAX) return 0;
                rx->version = cv;
                rx->index = (uint32_t)ci;
                rx->data = d ? d : f; /* no data field: an empty chunk */
                rx->len = (size_t)dn;
                have_chunk = 1;
            }
            p += v;
        } else {
            return 0;
        }
    }
    return have_chunk && protocol == AHA_WIRE_PROTOCOL;
}

/* Receives the next message from W's socket, waiting at most TIMEOUT_MS in slices of at most
 * 100 ms while *STOP stays 0 (STOP may be NULL). A chunk is read in place; anything else is
 * decoded and checked as aha_wire_recv would (a malformed message is logged and dropped). The
 * wire's size cap is ZeroMQ's (ZMQ_MAXMSGSIZE). */
static int recv_msg(aha_wire_t *w, int timeout_ms, volatile sig_atomic_t *stop, rx_t *rx) {
    void *sock = aha_wire_socket(w);
    const double end = aha_now_ms() + timeout_ms;
    for (;;) {
        if (stop && *stop) return AHA_FAIL(AHA_ERR_STATE, "weights: fetch stopped");
        const double left = end - aha_now_ms();
        if (left <= 0) return AHA_FAIL(AHA_ERR_TIMEOUT, "weights: no reply in %d ms", timeout_ms);
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        const int n = zmq_poll(&item, 1, left < 100 ? (long)left + 1 : 100);
        if (n < 0 && errno != EINTR)
            return AHA_FAIL(AHA_ERR_NET, "weights: poll: %s", zmq_strerror(errno));
        if (n <= 0) continue;
        zmq_msg_init(&rx->msg);
        if (zmq_msg_recv(&rx->msg, sock, ZMQ_DONTWAIT) < 0) {
            const int e = errno;
            zmq_msg_close(&rx->msg);
            if (e == EAGAIN || e == EINTR) continue;
            return AHA_FAIL(AHA_ERR_NET, "weights: recv: %s", zmq_strerror(e));
        }
        if (zmq_msg_more(&rx->msg)) { /* the learner sends one frame per message */
            int more = 1;
            while (more) {
                zmq_msg_close(&rx->msg);
                zmq_msg_init(&rx->msg);
                if (zmq_msg_recv(&rx->msg, sock, 0) < 0) break;
                more = zmq_msg_more(&rx->msg);
            }
            zmq_msg_close(&rx->msg);
            AHA_WARN("weights: dropped a multipart message during a fetch");
            continue;
        }
        const uint8_t *f = zmq_msg_data(&rx->msg);
        const size_t len = zmq_msg_size(&rx->msg);
        rx->env = NULL;
        if (chunk_in_place(f, len, rx)) {
            rx->in_place = 1;
            return AHA_OK;
        }
        char why[200] = "";
        const int v = aha_wire_decode(f, len, NULL, NULL, why, sizeof why, &rx->env);
        zmq_msg_close(&rx->msg);
        rx->in_place = 0;
        if (v == AHA_WIRE_ACCEPTED) return AHA_OK;
        AHA_WARN("weights: dropped a message during a fetch: %s", why);
        aha_wire_free(&rx->env);
    }
}

int aha_blob_fetch(aha_wire_t *w, uint64_t min_version, size_t max_len, int credit, int timeout_ms,
                   uint64_t *version, uint8_t **data, size_t *len) {
    return aha_blob_fetch_until(w, min_version, max_len, credit, timeout_ms, NULL, version, data,
                                len);
}

/* Chunks that arrived ahead of the checksum (out of order): a copy each until their turn. */
static void free_pending(uint8_t **pend, uint32_t n) {
    for (uint32_t i = 0; pend && i < n; i++)
        free(pend[i]);
    free(pend);
}

int aha_blob_fetch_sink(aha_wire_t *w, uint64_t min_version, const aha_blob_sink_t *sink,
                        int credit, int timeout_ms, volatile sig_atomic_t *stop,
                        uint64_t *version) {
    if (!w || !sink || !sink->begin || !sink->write || !version || credit < 1 || timeout_ms < 1)
        return AHA_FAIL(AHA_ERR_ARG, "aha_blob_fetch: bad argument");
    uint8_t *have = NULL, **pend = NULL;
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
        rx_t rx;
        rc = recv_msg(w, timeout_ms, stop, &rx);
        if (rc != AHA_OK) goto done;
        Aha__Envelope *e = rx.env;                            /* NULL for a chunk read in place */
        if (e && e->body_case == AHA__ENVELOPE__BODY_CHUNK) { /* decoded the ordinary way */
            rx.version = e->chunk->version;
            rx.index = e->chunk->index;
            rx.data = e->chunk->data.data;
            rx.len = e->chunk->data.len;
        }
        const int is_chunk = rx.in_place || (e && e->body_case == AHA__ENVELOPE__BODY_CHUNK);
        if (e && e->body_case == AHA__ENVELOPE__BODY_WEIGHT_ANNOUNCE) {
            const Aha__WeightAnnounce *a = e->weight_announce;
            if (a->version < min_version) { /* not there yet: ask again shortly */
                rx_free(&rx);
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
            if (announced && a->version == v) { /* duplicate announce */
                rx_free(&rx);
                continue;
            }
            if (a->checksum.len != AHA_BLOB_SUM_BYTES || a->chunk_bytes == 0) {
                rc = AHA_FAIL(AHA_ERR_FORMAT,
                              "weights: announce with a %zu-byte checksum, %u-byte "
                              "chunks",
                              a->checksum.len, a->chunk_bytes);
                rx_free(&rx);
                goto done;
            }
            /* (re)start on this version; replies to older requests are ignored below */
            free(have);
            free_pending(pend, n_chunks);
            have = NULL;
            pend = NULL;
            v = a->version;
            const uint64_t announced_total = a->total_bytes;
            chunk = a->chunk_bytes;
            memcpy(sum, a->checksum.data, AHA_BLOB_SUM_BYTES);
            rx_free(&rx);
            rc = sink->begin(sink->ctx, announced_total); /* size checks: the destination's */
            if (rc != AHA_OK) goto done;
            total = (size_t)announced_total;
            n_chunks = (uint32_t)((total + chunk - 1) / chunk);
            have = calloc(n_chunks ? n_chunks : 1, 1);
            pend = calloc(n_chunks ? n_chunks : 1, sizeof *pend);
            next = received = summed = 0;
            in_flight = 0;
            announced = 1;
            if (!have || !pend) {
                rc = AHA_FAIL(AHA_ERR_NOMEM, "weights: %u chunks", n_chunks);
                goto done;
            }
            AHA_TRY_GOTO(rc, sum_init(&ss, v, total), done);
            continue;
        }
        if (is_chunk && announced && rx.version == v) {
            size_t off = (size_t)rx.index * chunk;
            size_t want = rx.index < n_chunks ? (total - off < chunk ? total - off : chunk) : 0;
            if (rx.index >= n_chunks || rx.len != want) {
                rc = AHA_FAIL(AHA_ERR_FORMAT, "weights: chunk %u of %zu bytes (want %zu of %u)",
                              rx.index, rx.len, want, n_chunks);
                rx_free(&rx);
                goto done;
            }
            in_flight--;
            /* ask for more first: writing and summing this one overlaps the chunks in flight */
            while (in_flight < credit && next < n_chunks) {
                if ((rc = request(w, v, next++)) != AHA_OK) {
                    rx_free(&rx);
                    goto done;
                }
                in_flight++;
            }
            if (!have[rx.index]) {
                sink->write(sink->ctx, off, rx.data, want);
                have[rx.index] = 1;
                received++;
                if (rx.index == summed) { /* in order: summed straight from the frame */
                    sum_update(&ss, rx.data, want);
                    summed++;
                } else if (!(pend[rx.index] = malloc(want ? want : 1))) {
                    rc = AHA_FAIL(AHA_ERR_NOMEM, "weights: chunk of %zu bytes", want);
                    rx_free(&rx);
                    goto done;
                } else {
                    memcpy(pend[rx.index], rx.data, want);
                }
            }
            for (; summed < n_chunks && pend[summed]; summed++) {
                const size_t o = (size_t)summed * chunk;
                sum_update(&ss, pend[summed], total - o < chunk ? total - o : chunk);
                free(pend[summed]);
                pend[summed] = NULL;
            }
        } else if (e && sink->other) {
            sink->other(sink->other_ctx, e);
        } else {
            AHA_DEBUG("weights: ignoring message kind %d during a fetch",
                      e ? (int)e->body_case : (int)AHA__ENVELOPE__BODY_CHUNK);
        }
        rx_free(&rx);
    }
    uint8_t got[AHA_BLOB_SUM_BYTES];
    sum_final(&ss, got); /* every chunk was summed in order (received == n_chunks) */
    if (memcmp(got, sum, AHA_BLOB_SUM_BYTES) != 0) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "weights version %llu: checksum mismatch",
                      (unsigned long long)v);
        goto done;
    }
    *version = v;
done:
    free(have);
    free_pending(pend, n_chunks);
    return rc;
}

/* The sink of aha_blob_fetch_until: a buffer of its own, at most MAX bytes. */
typedef struct {
    uint8_t *buf;
    size_t len, max;
} buf_sink_t;

static int buf_begin(void *ctx, uint64_t total) {
    buf_sink_t *b = ctx;
    if (total > b->max)
        return AHA_FAIL(AHA_ERR_RANGE, "weights: %llu bytes exceed the %zu-byte cap",
                        (unsigned long long)total, b->max);
    free(b->buf);
    b->len = 0;
    if (!(b->buf = malloc(total ? (size_t)total : 1)))
        return AHA_FAIL(AHA_ERR_NOMEM, "weights: %llu bytes", (unsigned long long)total);
    b->len = (size_t)total;
    return AHA_OK;
}

static void buf_write(void *ctx, size_t off, const uint8_t *data, size_t n) {
    buf_sink_t *b = ctx;
    memcpy(b->buf + off, data, n);
}

int aha_blob_fetch_until(aha_wire_t *w, uint64_t min_version, size_t max_len, int credit,
                         int timeout_ms, volatile sig_atomic_t *stop, uint64_t *version,
                         uint8_t **data, size_t *len) {
    if (!w || !version || !data || !len || credit < 1 || timeout_ms < 1)
        return AHA_FAIL(AHA_ERR_ARG, "aha_blob_fetch: bad argument");
    buf_sink_t b = {NULL, 0, max_len};
    const aha_blob_sink_t sink = {buf_begin, buf_write, &b, NULL, NULL};
    uint64_t v = 0;
    const int rc = aha_blob_fetch_sink(w, min_version, &sink, credit, timeout_ms, stop, &v);
    if (rc != AHA_OK) {
        free(b.buf);
        return rc;
    }
    *version = v;
    *data = b.buf;
    *len = b.len;
    return AHA_OK;
}
