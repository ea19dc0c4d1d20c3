/* model/model_internal.h — helpers shared by the model/ sources (not a public interface). */
#ifndef AHA_MODEL_MODEL_INTERNAL_H
#define AHA_MODEL_MODEL_INTERNAL_H
#include "model/model.h"

/* 1 if both configs describe the same tensor shapes (buffers made for one fit the other). */
int aha_model_same_shape(const aha_model_config_t *a, const aha_model_config_t *b);

/* The size checks of aha_acts_new and aha_kv_new (FN): ROWS > 0 (named ROWS_NAME) and max_T in
 * [1, max_seq_len]. AHA_ERR_ARG with a message, or 0. */
int aha_model_check_rows(const aha_model_t *m, int rows, int max_T, const char *fn,
                         const char *rows_name);

/* Two-pass buffer layout (activations, KV cache): a layout function takes its buffers from an
 * arena, first with NULL bases (only counting), then, after aha_arena_alloc, for real. Every
 * buffer starts 64-byte aligned. */
typedef struct {
    float *fbase;
    int *ibase;
    size_t nf, ni;
} aha_arena_t;

float *aha_arena_f(aha_arena_t *ar, size_t n);
int *aha_arena_i(aha_arena_t *ar, size_t n);
/* Allocates (zeroed) what the counting pass AR measured into *fmem and *imem (owned by the caller,
 * free() them), *bytes their size, and resets AR onto them for the second pass. AHA_ERR_NOMEM
 * naming WHAT (nothing allocated, outputs untouched) or 0. */
int aha_arena_alloc(aha_arena_t *ar, float **fmem, int **imem, size_t *bytes, const char *what);

#endif
