/* core/buf.h — growable byte buffer with JSON string escaping, and atomic file writes.
 * Small helpers shared by the safetensors, config and metrics writers. */
#ifndef AHA_CORE_BUF_H
#define AHA_CORE_BUF_H
#include <stddef.h>

/* Zero-initialise ({0}) before use. Errors are sticky: after a failed append `err` stays
 * AHA_ERR_NOMEM and later appends do nothing, so callers may check once at the end.
 * `p` is always NUL-terminated when len > 0 or after any successful append. */
typedef struct {
    char *p;
    size_t len, cap;
    int err;
} aha_buf_t;

/* Appends N bytes. Returns 0 or AHA_ERR_NOMEM. */
int aha_buf_add(aha_buf_t *b, const void *data, size_t n);
/* Appends a NUL-terminated string. */
int aha_buf_puts(aha_buf_t *b, const char *s);
/* Appends printf-formatted text. */
int aha_buf_printf(aha_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends S as a double-quoted JSON string (also a valid YAML double-quoted scalar): escapes
 * '"', '\\', bytes < 0x20 and 0x7f; other bytes are copied as they are. */
int aha_buf_json_str(aha_buf_t *b, const char *s);
/* Appends V as a JSON number: integral values with |v| < 2^53 without exponent or fraction,
 * others in the shortest %.{15,16,17}g form that reads back exactly; non-finite -> "null". */
int aha_buf_json_num(aha_buf_t *b, double v);
/* Empties the buffer (keeps the allocation and clears err). */
void aha_buf_reset(aha_buf_t *b);
void aha_buf_free(aha_buf_t *b);

/* Writes the concatenation of parts[0..n) to PATH atomically: PATH.tmp, fflush, fsync, rename.
 * On failure PATH is untouched and PATH.tmp removed; AHA_ERR_IO with "PATH: ..." message. */
int aha_write_file_atomic(const char *path, const void *const *parts, const size_t *lens, size_t n);
/* aha_write_file_atomic of one part: the NUL-terminated TEXT (without its NUL). */
int aha_write_text_atomic(const char *path, const char *text);

/* 1 if the files A and B both open and hold the same bytes, else 0. */
int aha_files_equal(const char *a, const char *b);

/* mkdir -p DIR (mode 0775); AHA_ERR_IO naming the component that could not be created or a
 * path that exists but is not a directory. */
int aha_mkdir_p(const char *dir);

#endif
