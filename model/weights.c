#include "model/weights.h"
#include "core/err.h"
#include <string.h>

static size_t bias_count(const aha_model_t *m) {
    return m->expert_bias ? (size_t)m->cfg.n_layers * m->cfg.n_routed_experts : 0;
}

size_t aha_weights_bytes(const aha_model_t *m) {
    return sizeof(float) * (m->n_params + bias_count(m));
}

void aha_weights_pack(const aha_model_t *m, uint8_t *out) {
    memcpy(out, m->params, sizeof(float) * m->n_params);
    if (m->expert_bias)
        memcpy(out + sizeof(float) * m->n_params, m->expert_bias, sizeof(float) * bias_count(m));
}

int aha_weights_unpack(aha_model_t *m, const uint8_t *data, size_t len) {
    if (!m || !data || len != aha_weights_bytes(m))
        return AHA_FAIL(AHA_ERR_FORMAT, "weights of %zu bytes for a model of %zu", len,
                        m ? aha_weights_bytes(m) : 0);
    memcpy(m->params, data, sizeof(float) * m->n_params);
    if (m->expert_bias)
        memcpy(m->expert_bias, data + sizeof(float) * m->n_params, sizeof(float) * bias_count(m));
    return AHA_OK;
}

void aha_weights_read(const aha_model_t *m, size_t off, uint8_t *dst, size_t n) {
    const size_t pbytes = sizeof(float) * m->n_params;
    if (off < pbytes) { /* the parameters' part */
        const size_t k = n < pbytes - off ? n : pbytes - off;
        memcpy(dst, (const uint8_t *)m->params + off, k);
        off += k;
        dst += k;
        n -= k;
    }
    if (n > 0 && m->expert_bias) memcpy(dst, (const uint8_t *)m->expert_bias + (off - pbytes), n);
}

void aha_weights_write(aha_model_t *m, size_t off, const uint8_t *data, size_t n) {
    const size_t pbytes = sizeof(float) * m->n_params;
    if (off < pbytes) { /* the parameters' part */
        const size_t k = n < pbytes - off ? n : pbytes - off;
        memcpy((uint8_t *)m->params + off, data, k);
        off += k;
        data += k;
        n -= k;
    }
    if (n > 0 && m->expert_bias) memcpy((uint8_t *)m->expert_bias + (off - pbytes), data, n);
}

static int sink_begin(void *ctx, uint64_t total) {
    aha_model_t *m = ctx;
    if (total != aha_weights_bytes(m))
        return AHA_FAIL(AHA_ERR_FORMAT, "weights of %llu bytes for a model of %zu",
                        (unsigned long long)total, aha_weights_bytes(m));
    return AHA_OK;
}

static void sink_write(void *ctx, size_t off, const uint8_t *data, size_t n) {
    aha_weights_write(ctx, off, data, n);
}

aha_blob_sink_t aha_weights_sink(aha_model_t *m) {
    aha_blob_sink_t s = {sink_begin, sink_write, m, NULL, NULL};
    return s;
}
