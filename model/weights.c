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
