/* core/blob.h — a versioned byte blob (the policy weights) served in chunks over core/wire.h
 * (docs/rl.md, Actor processes): version announce, chunked fetch with a bounded number of requests
 * in flight, checksum.
 *
 * Protocol, on a ROUTER (server) / DEALER (fetcher) pair:
 *   fetcher -> ChunkRequest {version: v, index: AHA_BLOB_ANNOUNCE}
 *   server  -> WeightAnnounce {version, total_bytes, chunk_bytes, checksum (aha_blob_sum)}
 *   fetcher -> ChunkRequest {version, index: i}   (at most `credit` outstanding)
 *   server  -> Chunk {version, index, data}        or a WeightAnnounce if version is not current
 * The fetcher checks sizes against its own cap before allocating, and the checksum chunk by chunk
 * as they arrive in order (so checking overlaps with the chunks still in flight), comparing at the
 * end; a version change in the middle restarts the fetch. Nothing is retained by the server per
 * fetcher, so any number of actors (or a late joiner) can fetch at once. */
#ifndef AHA_CORE_BLOB_H
#define AHA_CORE_BLOB_H
#include <signal.h>
#include "core/wire.h"
#include <stddef.h>
#include <stdint.h>

#define AHA_BLOB_ANNOUNCE 0xFFFFFFFFu
#define AHA_BLOB_SUM_BYTES 32

typedef struct aha_blob_frames aha_blob_frames_t; /* chunks framed once, reference-counted */

typedef struct {
    uint64_t version;
    const uint8_t *data; /* not owned: must stay valid while the blob is served (NULL when framed) */
    size_t len;
    uint32_t chunk_bytes;
    uint8_t sum[AHA_BLOB_SUM_BYTES];
    aha_blob_frames_t *frames; /* aha_blob_set_framed: owned (aha_blob_release) */
} aha_blob_t;

/* The transfer checksum of DATA[0..len) as VERSION, 32 bytes: the Poly1305 tag of the bytes under
 * the one-time key BLAKE2b-256("aha weights transfer v1\0" || version || len, both 64-bit
 * little-endian), then 16 zero bytes (reserved). It catches corrupt, misplaced or mixed-up chunks
 * like a BLAKE2b-256 of the whole would, at about 4x its speed (which is what keeps the fetch near
 * ZeroMQ's bandwidth); it does not authenticate the sender (the announce travels on the same
 * channel as the chunks: CURVE does that). */
int aha_blob_sum(uint64_t version, const void *data, size_t len,
                 uint8_t out[AHA_BLOB_SUM_BYTES]);

/* Describes DATA[0..len) as VERSION, served in CHUNK_BYTES pieces (> 0), and computes its
 * transfer checksum (aha_blob_sum). *b written only on success. */
int aha_blob_set(aha_blob_t *b, uint64_t version, const void *data, size_t len,
                 uint32_t chunk_bytes);

/* Describes a blob of LEN bytes as VERSION in CHUNK_BYTES pieces (> 0), its bytes written by
 * FILL(ctx, off, dst, n) (bytes [off, off + n) into dst, called once per chunk in order), each
 * chunk framed once as the whole Chunk message SENDER would send: aha_blob_serve then hands the
 * frame to ZeroMQ without copying it (serving costs the same whatever the number of fetchers).
 * The frames live until aha_blob_release and ZeroMQ has sent every one handed to it. *b written
 * only on success; B must not hold frames (release it first). */
int aha_blob_set_framed(aha_blob_t *b, uint64_t version, size_t len, uint32_t chunk_bytes,
                        const char *sender,
                        void (*fill)(void *ctx, size_t off, uint8_t *dst, size_t n), void *ctx);
/* Drops B's reference to its frames (freed once ZeroMQ is done with them) and clears B. */
void aha_blob_release(aha_blob_t *b);

/* BLAKE2b-256 of DATA[0..len) into out (files: learner/run_state.c). */
int aha_blob_checksum(const void *data, size_t len, uint8_t out[AHA_BLOB_SUM_BYTES]);

/* Server side: answers REQ from PEER on W (announce, a chunk, or the announce of the current
 * version when REQ asks for another one). AHA_ERR_RANGE for a chunk index past the end (nothing
 * sent; the caller logs it). */
int aha_blob_serve(const aha_blob_t *b, aha_wire_t *w, const aha_peer_t *peer,
                   const Aha__ChunkRequest *req);

/* Fetcher side: gets the server's current blob over W (a DEALER connected to the server) with
 * at most CREDIT chunk requests in flight, waiting at most TIMEOUT_MS for each reply. The blob
 * must be at most MAX_LEN bytes and at least version MIN_VERSION (an older one is re-asked for
 * every 50 ms until TIMEOUT_MS passes). On success *data (malloc'd, caller frees), *len and
 * *version are written. AHA_ERR_FORMAT for a bad checksum or inconsistent sizes,
 * AHA_ERR_RANGE if the blob exceeds MAX_LEN, AHA_ERR_TIMEOUT if the server goes quiet. */
int aha_blob_fetch(aha_wire_t *w, uint64_t min_version, size_t max_len, int credit, int timeout_ms,
                   uint64_t *version, uint8_t **data, size_t *len);
/* The same, giving up within ~100 ms once *STOP is non-zero (a signal handler's flag; NULL: never):
 * AHA_ERR_STATE then, nothing written. */
int aha_blob_fetch_until(aha_wire_t *w, uint64_t min_version, size_t max_len, int credit,
                         int timeout_ms, volatile sig_atomic_t *stop, uint64_t *version,
                         uint8_t **data, size_t *len);

/* Where aha_blob_fetch_sink puts the blob. BEGIN(ctx, total) is called when a version's announce
 * arrives, before any chunk of it (again if the version changes mid-fetch): it checks TOTAL
 * against what the destination takes and returns AHA_OK, or an error code (with AHA_FAIL's
 * message) that ends the fetch. WRITE(ctx, off, data, n) then puts bytes [off, off + n) of the
 * blob, once per chunk, in whatever order the chunks arrive. OTHER (optional, NULL: such messages
 * are dropped) is given every other decoded Envelope that arrives during the fetch, with
 * OTHER_CTX (e.g. an actor keeps the leases granted while it fetches); it must not keep E. */
typedef struct {
    int (*begin)(void *ctx, uint64_t total);
    void (*write)(void *ctx, size_t off, const uint8_t *data, size_t n);
    void *ctx;
    void (*other)(void *other_ctx, const Aha__Envelope *e);
    void *other_ctx;
} aha_blob_sink_t;

/* aha_blob_fetch_until, writing each chunk through SINK as it arrives (straight from the received
 * frame: no copy of the whole blob at the end). The checksum is compared once every chunk is in:
 * on any error the destination may hold part of a blob, or a mix of versions, and must not be
 * used as the blob (e.g. an actor stops rather than sample with it). *version written only on
 * success. */
int aha_blob_fetch_sink(aha_wire_t *w, uint64_t min_version, const aha_blob_sink_t *sink,
                        int credit, int timeout_ms, volatile sig_atomic_t *stop,
                        uint64_t *version);

#endif
