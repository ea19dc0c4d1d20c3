/* model/checkpoint.h — model checkpoints in Hugging Face layout: DIR/model.safetensors (every
 * tensor of docs/model.md, float32, plus the expert biases) and DIR/config.json (HF-style keys).
 * Saving is atomic per file (tmp + rename); the directory is created if missing. */
#ifndef AHA_MODEL_CHECKPOINT_H
#define AHA_MODEL_CHECKPOINT_H
#include "model/model.h"

int aha_checkpoint_save(const aha_model_t *m, const char *dir);
/* Loads DIR into a new model (config.json validated, every tensor present with the right shape). */
int aha_checkpoint_load(const char *dir, aha_model_t **out);
/* config.json <-> struct (used by the above and by tools). */
int aha_model_config_write_json(const aha_model_config_t *cfg, const char *path);
int aha_model_config_read_json(const char *path, aha_model_config_t *out);
/* The same from the text[0..len) of a config.json (no NUL needed); PATH names it in errors. */
int aha_model_config_parse_json(const char *text, size_t len, const char *path,
                                aha_model_config_t *out);

#endif
