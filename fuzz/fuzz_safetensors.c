/* fuzz/fuzz_safetensors.c — the safetensors reader (core/safetensors.h) on a file image from
 * memory (aha_st_open_buffer, the same validation as aha_st_open after reading the file). A file
 * it accepts must keep every promise of the header: each tensor's bytes lie inside the buffer and
 * match dtype x shape, names are unique and findable, reads of F32 tensors work. */
#include "core/err.h"
#include "core/log.h"
#include "core/safetensors.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    aha_log_set_level(AHA_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aha_st_file_t *f = NULL;
    int rc = aha_st_open_buffer(data, size, "fuzz.safetensors", &f);
    if (rc != AHA_OK) {
        FUZZ_ASSERT(f == NULL);
        FUZZ_ASSERT(rc < 0);
        aha_error_clear();
        return 0;
    }
    FUZZ_ASSERT(f != NULL);
    size_t n = aha_st_count(f);
    FUZZ_ASSERT(aha_st_at(f, n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const aha_st_tensor_t *t = aha_st_at(f, i);
        FUZZ_ASSERT(t != NULL);
        FUZZ_ASSERT(memchr(t->name, '\0', sizeof t->name) != NULL);
        FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= AHA_ST_MAX_DIMS);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_ASSERT(t->shape[d] >= 0);
            numel *= (size_t)t->shape[d];
        }
        FUZZ_ASSERT(numel * aha_st_dtype_size(t->dtype) == t->nbytes);
        FUZZ_ASSERT(t->nbytes <= size);
        FUZZ_ASSERT(aha_st_find(f, t->name) == t);
        /* touch every byte: ASan reports any that lie outside the file object's buffer */
        const volatile uint8_t *p = t->data;
        uint8_t x = 0;
        for (size_t b = 0; b < t->nbytes; b++)
            x ^= p[b];
        (void)x;
        if (t->dtype == AHA_ST_F32 && numel <= 4096) {
            float buf[4096];
            FUZZ_ASSERT(aha_st_read_f32(f, t->name, buf, numel) == AHA_OK);
        }
    }
    (void)aha_st_metadata(f, "format");
    (void)aha_st_find(f, "");
    aha_st_close(&f);
    FUZZ_ASSERT(f == NULL);
    aha_error_clear();
    return 0;
}
