/* core/safetensors.h — reader and writer for the safetensors format
 * (8-byte little-endian header length, JSON header, raw little-endian tensor bytes).
 *
 * Reader: aha_st_open() reads the whole file into memory and validates everything up front (header
 * length within the file, JSON well-formed, dtype known, shape*itemsize == end-begin, offsets
 * inside the data section, no overlaps); a truncated or lying file is AHA_ERR_FORMAT with a
 * message naming the file and tensor — never a crash. Tensor data pointers are owned by the file
 * object and valid until aha_st_close().
 *
 * Writer: tensors are added by reference (the caller keeps data alive until aha_st_writer_save),
 * then saved atomically (write to PATH.tmp, fsync, rename). */
#ifndef AHA_CORE_SAFETENSORS_H
#define AHA_CORE_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AHA_ST_F32 = 0,
    AHA_ST_F64,
    AHA_ST_I32,
    AHA_ST_I64,
    AHA_ST_U8,
    AHA_ST_F16,
    AHA_ST_BF16
} aha_st_dtype_t;

#define AHA_ST_MAX_DIMS 8
#define AHA_ST_MAX_NAME 256

typedef struct {
    char name[AHA_ST_MAX_NAME];
    aha_st_dtype_t dtype;
    int ndim;
    int64_t shape[AHA_ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* points into the file object's buffer */
} aha_st_tensor_t;

typedef struct aha_st_file aha_st_file_t;

/* Opens and validates PATH. On success *out owns the whole file. */
int aha_st_open(const char *path, aha_st_file_t **out);
/* Same from a memory buffer (copied); NAME is used in error messages. */
int aha_st_open_buffer(const void *buf, size_t len, const char *name, aha_st_file_t **out);
void aha_st_close(aha_st_file_t **file);

size_t aha_st_count(const aha_st_file_t *file);
/* i-th tensor in header order; NULL if out of range. */
const aha_st_tensor_t *aha_st_at(const aha_st_file_t *file, size_t i);
/* Tensor by name, or NULL. */
const aha_st_tensor_t *aha_st_find(const aha_st_file_t *file, const char *name);
/* Value of a "__metadata__" string entry, or NULL. */
const char *aha_st_metadata(const aha_st_file_t *file, const char *key);

/* Copies an F32 tensor NAME with exactly NUMEL elements into dst; AHA_ERR_NOTFOUND /
 * AHA_ERR_FORMAT (wrong dtype or size) otherwise, message names the tensor. */
int aha_st_read_f32(const aha_st_file_t *file, const char *name, float *dst, size_t numel);

size_t aha_st_dtype_size(aha_st_dtype_t dtype);

typedef struct aha_st_writer aha_st_writer_t;

aha_st_writer_t *aha_st_writer_new(void);
/* Adds a tensor by reference; NAME and SHAPE are copied. Error on duplicate name. */
int aha_st_writer_add(aha_st_writer_t *w, const char *name, aha_st_dtype_t dtype, int ndim,
                      const int64_t *shape, const void *data);
/* Adds a "__metadata__" string entry (copied). */
int aha_st_writer_meta(aha_st_writer_t *w, const char *key, const char *value);
/* Writes the file atomically. Tensors are written in the order added. */
int aha_st_writer_save(aha_st_writer_t *w, const char *path);
void aha_st_writer_destroy(aha_st_writer_t **w);

#endif
