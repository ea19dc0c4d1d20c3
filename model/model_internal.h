/* model/model_internal.h — helpers shared by the model/ sources (not a public interface). */
#ifndef AHA_MODEL_MODEL_INTERNAL_H
#define AHA_MODEL_MODEL_INTERNAL_H
#include "model/model.h"

/* 1 if both configs describe the same tensor shapes (buffers made for one fit the other). */
int aha_model_same_shape(const aha_model_config_t *a, const aha_model_config_t *b);

#endif
