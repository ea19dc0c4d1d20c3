#include "core/safetensors.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER (100u << 20)    /* sanity bound on the JSON header */
#define MAX_INT 9007199254740992.0 /* 2^53: JSON numbers above it are not exact */
#define META_KEY "__metadata__"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader assumes a little-endian host"
#endif

static const char *const k_dtype_names[] = {"F32", "F64", "I32", "I64", "U8", "F16", "BF16"};
static const size_t k_dtype_sizes[] = {4, 8, 4, 8, 1, 2, 2};
#define N_DTYPES (sizeof k_dtype_sizes / sizeof *k_dtype_sizes)

size_t aha_st_dtype_size(aha_st_dtype_t dtype) {
    return (unsigned)dtype < N_DTYPES ? k_dtype_sizes[dtype] : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Reader */

struct aha_st_file {
    char *name;         /* path or buffer name, for messages */
    unsigned char *buf; /* whole file */
    aha_st_tensor_t *t; /* header order */
    size_t n;
    const aha_st_tensor_t **sorted; /* by name, for aha_st_find */
    cJSON *meta;                    /* "__metadata__" object (all values strings) or NULL */
};

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const aha_st_tensor_t *const *)a)->name,
                  (*(const aha_st_tensor_t *const *)b)->name);
}

static int cmp_tensor_begin(const void *a, const void *b) {
    const aha_st_tensor_t *x = *(const aha_st_tensor_t *const *)a,
                          *y = *(const aha_st_tensor_t *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Non-negative integral JSON number <= 2^53 (exact in a double). */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= MAX_INT) ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int parse_meta(const char *fname, cJSON *meta) {
    if (!cJSON_IsObject(meta))
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: " META_KEY " is not an object", fname);
    size_t n = (size_t)cJSON_GetArraySize(meta), i = 0;
    char **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return AHA_FAIL(AHA_ERR_NOMEM, "%s: metadata", fname);
    int rc = 0;
    for (cJSON *e = meta->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: " META_KEY " '%.255s': value is not a string", fname,
                          e->string);
            goto done;
        }
        keys[i++] = e->string;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 1; i < n; i++)
        if (!strcmp(keys[i - 1], keys[i])) {
            rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: " META_KEY " '%.255s': duplicate key", fname,
                          keys[i]);
            goto done;
        }
done:
    free(keys);
    return rc;
}

/* Validates one header entry against a data section of DLEN bytes and fills *t. */
static int parse_entry(const char *fname, const cJSON *e, const unsigned char *data, size_t dlen,
                       aha_st_tensor_t *t) {
    const char *name = e->string;
#define BAD(...) AHA_FAIL(AHA_ERR_FORMAT, "%s: tensor '%.255s': " __VA_ARGS__)
    if (strlen(name) >= AHA_ST_MAX_NAME)
        return BAD("name longer than %d bytes", fname, name, AHA_ST_MAX_NAME - 1);
    if (!cJSON_IsObject(e)) return BAD("entry is not an object", fname, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return BAD("missing or non-string \"dtype\"", fname, name);
    if (!cJSON_IsArray(shape)) return BAD("missing or non-array \"shape\"", fname, name);
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return BAD("\"data_offsets\" must be an array [begin, end]", fname, name);

    memset(t, 0, sizeof *t);
    memcpy(t->name, name, strlen(name) + 1);
    size_t k = 0;
    while (k < N_DTYPES && strcmp(dt->valuestring, k_dtype_names[k]))
        k++;
    if (k == N_DTYPES) return BAD("unknown dtype \"%.32s\"", fname, name, dt->valuestring);
    t->dtype = (aha_st_dtype_t)k;

    int ndim = cJSON_GetArraySize(shape);
    if (ndim > AHA_ST_MAX_DIMS)
        return BAD("%d dimensions (max %d)", fname, name, ndim, AHA_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t nbytes = k_dtype_sizes[k], dim;
    int d = 0;
    for (const cJSON *s = shape->child; s; s = s->next, d++) {
        if (cJSON_IsNumber(s) && s->valuedouble < 0)
            return BAD("negative dimension %d", fname, name, d);
        if (json_uint(s, &dim))
            return BAD("dimension %d is not an integer below 2^53", fname, name, d);
        if (__builtin_mul_overflow(nbytes, dim, &nbytes))
            return BAD("shape size overflows", fname, name);
        t->shape[d] = (int64_t)dim;
    }
    uint64_t begin, end;
    if (json_uint(offs->child, &begin) || json_uint(offs->child->next, &end))
        return BAD("data_offsets are not non-negative integers", fname, name);
    if (begin > end)
        return BAD("data_offsets [%llu, %llu]: begin > end", fname, name, (unsigned long long)begin,
                   (unsigned long long)end);
    if (end > dlen)
        return BAD("data_offsets [%llu, %llu] outside the %zu-byte data section (truncated file?)",
                   fname, name, (unsigned long long)begin, (unsigned long long)end, dlen);
    if (nbytes != end - begin)
        return BAD("shape needs %llu bytes of %s but data_offsets span %llu", fname, name,
                   (unsigned long long)nbytes, k_dtype_names[k], (unsigned long long)(end - begin));
#undef BAD
    t->nbytes = (size_t)nbytes;
    t->data = data + begin;
    return 0;
}

/* Validates f->buf (len bytes) and fills the tensor table. */
static int parse_file(aha_st_file_t *f, size_t len) {
    const char *fn = f->name;
    if (len < 8)
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: %zu bytes is too short for a safetensors file", fn,
                        len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | f->buf[i];
    if (hlen > len - 8)
        return AHA_FAIL(AHA_ERR_FORMAT,
                        "%s: header length %llu exceeds the file size %zu (truncated file?)", fn,
                        (unsigned long long)hlen, len);
    if (hlen > MAX_HEADER)
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit", fn,
                        (unsigned long long)hlen, MAX_HEADER);
    const unsigned char *data = f->buf + 8 + hlen;
    size_t dlen = len - 8 - (size_t)hlen;

    char *hdr = malloc((size_t)hlen + 1);
    if (!hdr) return AHA_FAIL(AHA_ERR_NOMEM, "%s: header", fn);
    memcpy(hdr, f->buf + 8, (size_t)hlen);
    hdr[hlen] = 0;
    int rc = 0;
    const aha_st_tensor_t **by_begin = NULL;
    cJSON *root = NULL;
    if (strlen(hdr) != hlen) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: header contains a NUL byte", fn);
        goto done;
    }
    const char *end = NULL;
    root = cJSON_ParseWithOpts(hdr, &end, 1);
    if (!root) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: header is not valid JSON (near byte %td)", fn,
                      end ? end - hdr : 0);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: header is not a JSON object", fn);
        goto done;
    }
    size_t n = 0;
    for (cJSON *e = root->child, *next; e; e = next) {
        next = e->next;
        if (strcmp(e->string, META_KEY)) {
            n++;
        } else if (f->meta) {
            rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: duplicate " META_KEY, fn);
            goto done;
        } else {
            AHA_TRY_GOTO(rc, parse_meta(fn, e), done);
            f->meta = cJSON_DetachItemViaPointer(root, e);
        }
    }
    f->t = calloc(n ? n : 1, sizeof *f->t);
    f->sorted = malloc((n ? n : 1) * sizeof *f->sorted);
    by_begin = malloc((n ? n : 1) * sizeof *by_begin);
    if (!f->t || !f->sorted || !by_begin) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "%s: %zu tensors", fn, n);
        goto done;
    }
    for (cJSON *e = root->child; e; e = e->next, f->n++) {
        AHA_TRY_GOTO(rc, parse_entry(fn, e, data, dlen, &f->t[f->n]), done);
        f->sorted[f->n] = by_begin[f->n] = &f->t[f->n];
    }
    qsort(f->sorted, n, sizeof *f->sorted, cmp_tensor_name);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(f->sorted[i - 1]->name, f->sorted[i]->name)) {
            rc =
                AHA_FAIL(AHA_ERR_FORMAT, "%s: tensor '%s': duplicate name", fn, f->sorted[i]->name);
            goto done;
        }
    /* overlaps: sort by start, each non-empty range must begin at or after the previous end */
    qsort(by_begin, n, sizeof *by_begin, cmp_tensor_begin);
    const aha_st_tensor_t *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const aha_st_tensor_t *t = by_begin[i];
        if (!t->nbytes) continue;
        if (prev &&
            (const unsigned char *)t->data < (const unsigned char *)prev->data + prev->nbytes) {
            rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: tensor '%s': data overlaps tensor '%s'", fn, t->name,
                          prev->name);
            goto done;
        }
        prev = t;
    }
done:
    free(by_begin);
    cJSON_Delete(root);
    free(hdr);
    return rc;
}

/* Takes ownership of buf (malloc'ed, len bytes) whether or not it succeeds. */
static int open_owned(unsigned char *buf, size_t len, const char *name, aha_st_file_t **out) {
    aha_st_file_t *f = calloc(1, sizeof *f);
    char *nm = strdup(name ? name : "(buffer)");
    if (!f || !nm) {
        free(buf);
        free(f);
        free(nm);
        return AHA_FAIL(AHA_ERR_NOMEM, "%s: open", name ? name : "(buffer)");
    }
    f->buf = buf;
    f->name = nm;
    int rc = parse_file(f, len);
    if (rc < 0) {
        aha_st_close(&f);
        return rc;
    }
    *out = f;
    return 0;
}

int aha_st_open_buffer(const void *buf, size_t len, const char *name, aha_st_file_t **out) {
    if ((!buf && len) || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_st_open_buffer: NULL argument");
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return AHA_FAIL(AHA_ERR_NOMEM, "%s: %zu bytes", name ? name : "(buffer)", len);
    if (len) memcpy(copy, buf, len);
    return open_owned(copy, len, name, out);
}

int aha_st_open(const char *path, aha_st_file_t **out) {
    if (!path || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_st_open: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return AHA_FAIL(AHA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return AHA_FAIL(AHA_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return AHA_FAIL(AHA_ERR_NOMEM, "%s: %zu bytes", path, len);
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            free(buf);
            return AHA_FAIL(AHA_ERR_IO, "%s: read failed: %s", path,
                            e ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    return open_owned(buf, len, path, out);
}

void aha_st_close(aha_st_file_t **file) {
    if (!file || !*file) return;
    aha_st_file_t *f = *file;
    cJSON_Delete(f->meta);
    AHA_FREE(f->sorted, f->t, f->buf, f->name, f);
    *file = NULL;
}

size_t aha_st_count(const aha_st_file_t *file) {
    return file ? file->n : 0;
}

const aha_st_tensor_t *aha_st_at(const aha_st_file_t *file, size_t i) {
    return file && i < file->n ? &file->t[i] : NULL;
}

const aha_st_tensor_t *aha_st_find(const aha_st_file_t *file, const char *name) {
    if (!file || !name) return NULL;
    size_t lo = 0, hi = file->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, file->sorted[mid]->name);
        if (!c) return file->sorted[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *aha_st_metadata(const aha_st_file_t *file, const char *key) {
    if (!file || !file->meta || !key) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(file->meta, key);
    return v ? v->valuestring : NULL;
}

int aha_st_read_f32(const aha_st_file_t *file, const char *name, float *dst, size_t numel) {
    if (!file || !name || (!dst && numel))
        return AHA_FAIL(AHA_ERR_ARG, "aha_st_read_f32: NULL argument");
    const aha_st_tensor_t *t = aha_st_find(file, name);
    if (!t) return AHA_FAIL(AHA_ERR_NOTFOUND, "%s: tensor '%s' not found", file->name, name);
    if (t->dtype != AHA_ST_F32)
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: tensor '%s': expected dtype F32, got %s", file->name,
                        name, k_dtype_names[t->dtype]);
    if (t->nbytes / sizeof(float) != numel)
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: tensor '%s': expected %zu elements, got %zu",
                        file->name, name, numel, t->nbytes / sizeof(float));
    if (numel) memcpy(dst, t->data, t->nbytes);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Writer */

typedef struct {
    char *name;
    aha_st_dtype_t dtype;
    int ndim;
    int64_t shape[AHA_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wentry_t;

typedef struct {
    char *key, *value;
} wmeta_t;

struct aha_st_writer {
    wentry_t *e;
    size_t n, cap;
    wmeta_t *meta;
    size_t n_meta, cap_meta;
};

aha_st_writer_t *aha_st_writer_new(void) {
    return calloc(1, sizeof(aha_st_writer_t));
}

void aha_st_writer_destroy(aha_st_writer_t **w) {
    if (!w || !*w) return;
    for (size_t i = 0; i < (*w)->n; i++)
        free((*w)->e[i].name);
    for (size_t i = 0; i < (*w)->n_meta; i++) {
        free((*w)->meta[i].key);
        free((*w)->meta[i].value);
    }
    free((*w)->e);
    free((*w)->meta);
    free(*w);
    *w = NULL;
}

/* Makes room for one more element of size SZ in *arr (count n, capacity *cap). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz) {
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * sz);
    if (!p) return AHA_FAIL(AHA_ERR_NOMEM, "safetensors writer");
    *arr = p;
    *cap = c;
    return 0;
}

int aha_st_writer_add(aha_st_writer_t *w, const char *name, aha_st_dtype_t dtype, int ndim,
                      const int64_t *shape, const void *data) {
    if (!w || !name || (ndim > 0 && !shape))
        return AHA_FAIL(AHA_ERR_ARG, "aha_st_writer_add: NULL argument");
    if (!*name || strlen(name) >= AHA_ST_MAX_NAME || !strcmp(name, META_KEY))
        return AHA_FAIL(AHA_ERR_ARG, "safetensors writer: invalid tensor name '%.255s'", name);
    if ((unsigned)dtype >= N_DTYPES)
        return AHA_FAIL(AHA_ERR_ARG, "safetensors writer: tensor '%s': bad dtype %d", name,
                        (int)dtype);
    if (ndim < 0 || ndim > AHA_ST_MAX_DIMS)
        return AHA_FAIL(AHA_ERR_ARG, "safetensors writer: tensor '%s': ndim %d not in [0, %d]",
                        name, ndim, AHA_ST_MAX_DIMS);
    uint64_t nbytes = k_dtype_sizes[dtype];
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0 || (double)shape[d] > MAX_INT ||
            __builtin_mul_overflow(nbytes, (uint64_t)shape[d], &nbytes) || nbytes > SIZE_MAX / 2)
            return AHA_FAIL(AHA_ERR_ARG, "safetensors writer: tensor '%s': bad shape", name);
    if (nbytes && !data)
        return AHA_FAIL(AHA_ERR_ARG, "safetensors writer: tensor '%s': NULL data", name);
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->e[i].name, name))
            return AHA_FAIL(AHA_ERR_ARG, "safetensors writer: duplicate tensor '%s'", name);
    AHA_TRY(grow((void **)&w->e, w->n, &w->cap, sizeof *w->e));
    wentry_t *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name))) return AHA_FAIL(AHA_ERR_NOMEM, "safetensors writer");
    e->dtype = dtype;
    e->ndim = ndim;
    if (ndim) memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->data = data;
    e->nbytes = (size_t)nbytes;
    w->n++;
    return 0;
}

int aha_st_writer_meta(aha_st_writer_t *w, const char *key, const char *value) {
    if (!w || !key || !value) return AHA_FAIL(AHA_ERR_ARG, "aha_st_writer_meta: NULL argument");
    for (size_t i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta[i].key, key))
            return AHA_FAIL(AHA_ERR_ARG, "safetensors writer: duplicate metadata '%s'", key);
    AHA_TRY(grow((void **)&w->meta, w->n_meta, &w->cap_meta, sizeof *w->meta));
    wmeta_t m = {strdup(key), strdup(value)};
    if (!m.key || !m.value) {
        free(m.key);
        free(m.value);
        return AHA_FAIL(AHA_ERR_NOMEM, "safetensors writer");
    }
    w->meta[w->n_meta++] = m;
    return 0;
}

int aha_st_writer_save(aha_st_writer_t *w, const char *path) {
    if (!w || !path) return AHA_FAIL(AHA_ERR_ARG, "aha_st_writer_save: NULL argument");
    aha_buf_t h = {0};
    aha_buf_puts(&h, "        {"); /* 8 bytes reserved for the length */
    if (w->n_meta) {
        aha_buf_puts(&h, "\"" META_KEY "\":{");
        for (size_t i = 0; i < w->n_meta; i++) {
            if (i) aha_buf_puts(&h, ",");
            aha_buf_json_str(&h, w->meta[i].key);
            aha_buf_puts(&h, ":");
            aha_buf_json_str(&h, w->meta[i].value);
        }
        aha_buf_puts(&h, w->n ? "}," : "}");
    }
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const wentry_t *e = &w->e[i];
        if (i) aha_buf_puts(&h, ",");
        aha_buf_json_str(&h, e->name);
        aha_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", k_dtype_names[e->dtype]);
        for (int d = 0; d < e->ndim; d++)
            aha_buf_printf(&h, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        aha_buf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + e->nbytes);
        off += e->nbytes;
    }
    aha_buf_puts(&h, "}");
    while (h.len % 8)
        aha_buf_puts(&h, " ");
    if (h.err) {
        aha_buf_free(&h);
        return AHA_FAIL(AHA_ERR_NOMEM, "%s: header", path);
    }
    uint64_t hlen = h.len - 8;
    for (int i = 0; i < 8; i++)
        h.p[i] = (char)(hlen >> (8 * i));

    const void **parts = malloc((w->n + 1) * sizeof *parts);
    size_t *lens = malloc((w->n + 1) * sizeof *lens);
    int rc;
    if (!parts || !lens) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "%s: save", path);
    } else {
        parts[0] = h.p;
        lens[0] = h.len;
        for (size_t i = 0; i < w->n; i++) {
            parts[i + 1] = w->e[i].data;
            lens[i + 1] = w->e[i].nbytes;
        }
        rc = aha_write_file_atomic(path, (const void *const *)parts, lens, w->n + 1);
    }
    free(parts);
    free(lens);
    aha_buf_free(&h);
    return rc;
}
