/* model/weights.h — the policy weights as one byte string (what the learner publishes and actors
 * fetch, core/blob.h): the parameters, then the routing biases (if the model has routed experts),
 * float32 in host byte order. Nothing here allocates or keeps a pointer. */
#ifndef AHA_MODEL_WEIGHTS_H
#define AHA_MODEL_WEIGHTS_H
#include "core/blob.h"
#include "model/model.h"
#include <stddef.h>
#include <stdint.h>

/* Size of M's weights in bytes. */
size_t aha_weights_bytes(const aha_model_t *m);
/* Writes M's weights into OUT[0..aha_weights_bytes(m)) (the caller's buffer). */
void aha_weights_pack(const aha_model_t *m, uint8_t *out);
/* Overwrites M's parameters and routing biases from DATA[0..len); AHA_ERR_FORMAT (M untouched)
 * unless LEN is exactly aha_weights_bytes(m). */
int aha_weights_unpack(aha_model_t *m, const uint8_t *data, size_t len);

/* Reads bytes [OFF, OFF + N) of M's packed weights (aha_weights_pack's layout) into DST.
 * OFF + N must be at most aha_weights_bytes(m). */
void aha_weights_read(const aha_model_t *m, size_t off, uint8_t *dst, size_t n);

/* Writes bytes [OFF, OFF + N) of the packed weights (aha_weights_pack's layout) into M's
 * parameters and routing biases. OFF + N must be at most aha_weights_bytes(m). */
void aha_weights_write(aha_model_t *m, size_t off, const uint8_t *data, size_t n);

/* A core/blob.h sink that fetches weights straight into M (aha_blob_fetch_sink): a blob of another
 * size than aha_weights_bytes(m) is AHA_ERR_FORMAT before anything is written. M must outlive the
 * fetch; after a failed fetch M holds a mix of versions and must not be sampled with. */
aha_blob_sink_t aha_weights_sink(aha_model_t *m);

#endif
