#include "core/buf.h"
#include "core/err.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int reserve(aha_buf_t *b, size_t extra) {
    if (b->err) return b->err;
    if (extra > (size_t)-1 / 2 - b->len) return b->err = AHA_ERR_NOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return b->err = AHA_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int aha_buf_add(aha_buf_t *b, const void *data, size_t n) {
    if (reserve(b, n)) return b->err;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int aha_buf_puts(aha_buf_t *b, const char *s) {
    return aha_buf_add(b, s, strlen(s));
}

int aha_buf_printf(aha_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return b->err = AHA_ERR_NOMEM;
    if (reserve(b, (size_t)n)) return b->err;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* The characters JSON strings escape with a backslash and one letter, and those letters. */
static const char k_short_escaped[] = "\"\\\n\r\t", k_short_escape[] = "\"\\nrt";

int aha_buf_json_str(aha_buf_t *b, const char *s) {
    aha_buf_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = strchr(k_short_escaped, *c);
        if (esc) {
            const char pair[2] = {'\\', k_short_escape[esc - k_short_escaped]};
            aha_buf_add(b, pair, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            aha_buf_printf(b, "\\u%04x", *c);
        } else {
            aha_buf_add(b, c, 1);
        }
    }
    return aha_buf_add(b, "\"", 1);
}

int aha_buf_json_num(aha_buf_t *b, double v) {
    if (!isfinite(v)) return aha_buf_puts(b, "null");
    if (v == floor(v) && fabs(v) < 9007199254740992.0) return aha_buf_printf(b, "%.0f", v);
    char s[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v) break;
    }
    return aha_buf_puts(b, s);
}

void aha_buf_reset(aha_buf_t *b) {
    b->len = 0;
    b->err = 0;
    if (b->p) b->p[0] = 0;
}

void aha_buf_free(aha_buf_t *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

int aha_write_file_atomic(const char *path, const void *const *parts, const size_t *lens,
                          size_t n) {
    aha_buf_t tmp = {0};
    if (aha_buf_printf(&tmp, "%s.tmp", path)) return AHA_FAIL(AHA_ERR_NOMEM, "%s: path", path);
    int rc = AHA_OK;
    FILE *f = fopen(tmp.p, "wb");
    if (!f) {
        rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot open: %s", tmp.p, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < n && rc == AHA_OK; i++)
        if (lens[i] && fwrite(parts[i], 1, lens[i], f) != lens[i])
            rc = AHA_FAIL(AHA_ERR_IO, "%s: write failed: %s", tmp.p, strerror(errno));
    if (rc == AHA_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = AHA_FAIL(AHA_ERR_IO, "%s: flush failed: %s", tmp.p, strerror(errno));
    if (fclose(f) != 0 && rc == AHA_OK)
        rc = AHA_FAIL(AHA_ERR_IO, "%s: close failed: %s", tmp.p, strerror(errno));
    if (rc == AHA_OK && rename(tmp.p, path) != 0)
        rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot rename %s: %s", path, tmp.p, strerror(errno));
    if (rc != AHA_OK) remove(tmp.p);
done:
    aha_buf_free(&tmp);
    return rc;
}

int aha_write_text_atomic(const char *path, const char *text) {
    const void *parts[] = {text};
    const size_t lens[] = {strlen(text)};
    return aha_write_file_atomic(path, parts, lens, 1);
}

int aha_files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

int aha_mkdir_p(const char *dir) {
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) return AHA_FAIL(AHA_ERR_ARG, "bad directory path \"%s\"", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0775) != 0 && errno != EEXIST)
            return AHA_FAIL(AHA_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        buf[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return AHA_FAIL(AHA_ERR_IO, "%s exists and is not a directory", dir);
    return AHA_OK;
}
