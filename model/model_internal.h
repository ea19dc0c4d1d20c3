/* model/model_internal.h — helpers shared by the model/ sources (not a public interface). */
#ifndef AHA_MODEL_MODEL_INTERNAL_H
#define AHA_MODEL_MODEL_INTERNAL_H
#include "model/model.h"

/* 1 if both configs describe the same tensor shapes (buffers made for one fit the other). */
int aha_model_same_shape(const aha_model_config_t *a, const aha_model_config_t *b);

/* The argument checks of aha_acts_new and aha_kv_new (FN): M and OUT not NULL, ROWS > 0 (named
 * ROWS_NAME) and max_T in [1, max_seq_len]. AHA_ERR_ARG with a message, or 0. */
int aha_model_check_rows(const aha_model_t *m, const void *out, int rows, int max_T,
                         const char *fn, const char *rows_name);

/* Two-pass buffer layout (activations, KV cache): a layout function takes its buffers from an
 * arena, first with NULL bases (only counting), then, in aha_arena_build, for real. Every
 * buffer starts 64-byte aligned. */
typedef struct {
    float *fbase;
    int *ibase;
    size_t nf, ni;
} aha_arena_t;

float *aha_arena_f(aha_arena_t *ar, size_t n);
int *aha_arena_i(aha_arena_t *ar, size_t n);
/* Both passes of LAYOUT over OBJ: counts, allocates (zeroed) what it measured into *fmem and *imem
 * (owned by the caller, free() them), *bytes their size, and lays the buffers out in them.
 * AHA_ERR_NOMEM naming WHAT (nothing allocated, outputs untouched) or 0. */
int aha_arena_build(void (*layout)(void *obj, aha_arena_t *ar), void *obj, float **fmem, int **imem,
                    size_t *bytes, const char *what);

#endif
