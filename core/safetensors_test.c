/* safetensors: writer/reader round trip, and corrupt inputs (truncations, lying headers, random
 * header mutations) that must fail cleanly with AHA_ERR_FORMAT instead of crashing. */
#include "core/err.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/testutil.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[] = "/tmp/aha_st_test_XXXXXX";
static aha_st_file_t *const SENTINEL = (aha_st_file_t *)(uintptr_t)0x1234;

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Builds "len | header | data_len zero bytes" in a static buffer; hlen_delta lies about the size.
 */
static size_t build(unsigned char *out, const char *header, size_t data_len, int64_t hlen_delta) {
    size_t h = strlen(header);
    uint64_t hl = (uint64_t)((int64_t)h + hlen_delta);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(hl >> (8 * i));
    memcpy(out + 8, header, h);
    memset(out + 8 + h, 0, data_len);
    return 8 + h + data_len;
}

/* Expects the buffer to be rejected with FORMAT and a message containing `want`. */
static void expect_bad(const unsigned char *buf, size_t len, const char *want, const char *what) {
    aha_st_file_t *f = SENTINEL;
    aha_error_clear();
    int rc = aha_st_open_buffer(buf, len, "bad.st", &f);
    CHECK(rc == AHA_ERR_FORMAT, "%s: rc %d", what, rc);
    CHECK(f == SENTINEL, "%s: out written on error", what);
    CHECK(strstr(aha_last_error(), "bad.st") && strstr(aha_last_error(), want),
          "%s: message '%s' lacks '%s'", what, aha_last_error(), want);
    if (rc == 0 && f != SENTINEL) aha_st_close(&f);
}

static void bad_header(const char *header, size_t data_len, const char *want, const char *what) {
    static unsigned char buf[4096];
    expect_bad(buf, build(buf, header, data_len, 0), want, what);
}

static void test_round_trip(const char *path) {
    float f32[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f}, scalar = 42.0f;
    double f64[4] = {1.0 / 3, -1e300, 0.0, 2.5};
    int32_t i32[8] = {1, -2, 3, -4, 5, -6, 7, INT32_MIN};
    int64_t i64[1] = {INT64_MAX};
    uint8_t u8[5] = {0, 1, 127, 128, 255};
    uint16_t f16[3] = {0x3c00, 0xc000, 0x7bff}, bf16[2] = {0x3f80, 0xbf80};
    int64_t s23[] = {2, 3}, s4[] = {4}, s222[] = {2, 2, 2}, s1[] = {1}, s5[] = {5}, s3[] = {3},
            s21[] = {2, 1}, s04[] = {0, 4};
    struct {
        const char *name;
        aha_st_dtype_t dt;
        int ndim;
        const int64_t *shape;
        const void *data;
        size_t nbytes;
    } T[] = {
        {"model.w", AHA_ST_F32, 2, s23, f32, sizeof f32},
        {"f64", AHA_ST_F64, 1, s4, f64, sizeof f64},
        {"i32", AHA_ST_I32, 3, s222, i32, sizeof i32},
        {"i64", AHA_ST_I64, 1, s1, i64, sizeof i64},
        {"u8", AHA_ST_U8, 1, s5, u8, sizeof u8},
        {"f16", AHA_ST_F16, 1, s3, f16, sizeof f16},
        {"bf16", AHA_ST_BF16, 2, s21, bf16, sizeof bf16},
        {"scalar", AHA_ST_F32, 0, NULL, &scalar, 4},
        {"empty", AHA_ST_F32, 2, s04, NULL, 0},
        {"a \"quoted\"\nname", AHA_ST_U8, 1, s1, u8, 1},
    };
    const size_t n = sizeof T / sizeof *T;
    aha_st_writer_t *w = aha_st_writer_new();
    CHECK(w != NULL, "writer_new");
    for (size_t i = 0; i < n; i++)
        CHECK(aha_st_writer_add(w, T[i].name, T[i].dt, T[i].ndim, T[i].shape, T[i].data) == 0,
              "add %s: %s", T[i].name, aha_last_error());
    CHECK(aha_st_writer_meta(w, "format", "pt") == 0, "meta");
    CHECK(aha_st_writer_meta(w, "note", "line1\n\"q\" \\ \x01") == 0, "meta 2");
    /* writer argument errors */
    int64_t neg[] = {-1}, nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(aha_st_writer_add(w, "f64", AHA_ST_F32, 1, s1, f32) == AHA_ERR_ARG, "duplicate name");
    CHECK(aha_st_writer_add(w, "neg", AHA_ST_F32, 1, neg, f32) == AHA_ERR_ARG, "negative dim");
    CHECK(aha_st_writer_add(w, "nine", AHA_ST_F32, 9, nine, f32) == AHA_ERR_ARG, "9 dims");
    CHECK(aha_st_writer_add(w, "__metadata__", AHA_ST_F32, 1, s1, f32) == AHA_ERR_ARG, "reserved");
    CHECK(aha_st_writer_meta(w, "format", "x") == AHA_ERR_ARG, "duplicate metadata key");
    CHECK(aha_st_writer_save(w, path) == 0, "save: %s", aha_last_error());
    aha_st_writer_destroy(&w);
    CHECK(w == NULL, "destroy clears the pointer");

    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "no leftover %s", tmp);
    size_t len = 0;
    unsigned char *raw = read_all(path, &len);
    CHECK(raw && len > 8, "read back");
    uint64_t hlen = 0;
    for (int i = 7; raw && i >= 0; i--)
        hlen = hlen << 8 | raw[i];
    CHECK(hlen % 8 == 0, "header length %llu is a multiple of 8", (unsigned long long)hlen);
    size_t end = raw ? 8 + (size_t)hlen : 0;
    while (end > 8 && raw[end - 1] == ' ')
        end--;
    CHECK(end > 8 && raw[end - 1] == '}', "header is JSON followed by space padding");
    free(raw);

    aha_st_file_t *f = NULL;
    CHECK(aha_st_open(path, &f) == 0, "open: %s", aha_last_error());
    if (!f) return;
    CHECK(aha_st_count(f) == n, "count %zu", aha_st_count(f));
    for (size_t i = 0; i < n && i < aha_st_count(f); i++) {
        const aha_st_tensor_t *t = aha_st_at(f, i);
        CHECK(!strcmp(t->name, T[i].name), "order: %zu is %s", i, t->name);
        CHECK(aha_st_find(f, T[i].name) == t, "find %s", T[i].name);
        CHECK(t->dtype == T[i].dt && t->ndim == T[i].ndim && t->nbytes == T[i].nbytes, "%s meta",
              T[i].name);
        for (int d = 0; d < t->ndim; d++)
            CHECK(t->shape[d] == T[i].shape[d], "%s shape[%d]", T[i].name, d);
        CHECK(!T[i].nbytes || !memcmp(t->data, T[i].data, T[i].nbytes), "%s data", T[i].name);
    }
    CHECK(aha_st_at(f, n) == NULL, "at out of range");
    CHECK(aha_st_find(f, "nope") == NULL, "find missing");
    CHECK(aha_st_metadata(f, "format") && !strcmp(aha_st_metadata(f, "format"), "pt"), "metadata");
    CHECK(aha_st_metadata(f, "note") && !strcmp(aha_st_metadata(f, "note"), "line1\n\"q\" \\ \x01"),
          "metadata escaped");
    CHECK(aha_st_metadata(f, "missing") == NULL, "missing metadata");
    CHECK(aha_st_dtype_size(AHA_ST_BF16) == 2 && aha_st_dtype_size(AHA_ST_F64) == 8, "dtype sizes");

    float got[6] = {0};
    CHECK(aha_st_read_f32(f, "model.w", got, 6) == 0 && !memcmp(got, f32, sizeof f32), "read_f32");
    float s = 0;
    CHECK(aha_st_read_f32(f, "scalar", &s, 1) == 0 && s == 42.0f, "read scalar");
    CHECK(aha_st_read_f32(f, "empty", NULL, 0) == 0, "read empty");
    float sentinel[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    CHECK(aha_st_read_f32(f, "model.w", sentinel, 5) == AHA_ERR_FORMAT, "wrong numel");
    CHECK(strstr(aha_last_error(), "model.w") && strstr(aha_last_error(), path), "numel msg: %s",
          aha_last_error());
    CHECK(aha_st_read_f32(f, "f64", sentinel, 4) == AHA_ERR_FORMAT, "wrong dtype");
    CHECK(strstr(aha_last_error(), "'f64'") && strstr(aha_last_error(), "F64"), "dtype msg: %s",
          aha_last_error());
    CHECK(aha_st_read_f32(f, "nope", sentinel, 1) == AHA_ERR_NOTFOUND, "not found");
    CHECK(strstr(aha_last_error(), "nope") != NULL, "not found msg: %s", aha_last_error());
    CHECK(sentinel[0] == 9 && sentinel[7] == 9, "dst untouched on error");
    aha_st_close(&f);
    CHECK(f == NULL, "close clears the pointer");
    aha_st_close(&f); /* no-op */
}

static void test_truncation(const char *path) {
    size_t len = 0;
    unsigned char *raw = read_all(path, &len);
    REQUIRE(raw, "cannot read %s", path);
    int ok = 0;
    for (size_t cut = 0; cut < len; cut++) {
        aha_st_file_t *f = SENTINEL;
        int rc = aha_st_open_buffer(raw, cut, "cut.st", &f);
        if (rc != AHA_ERR_FORMAT || f != SENTINEL) {
            CHECK(0, "prefix of %zu/%zu bytes: rc %d", cut, len, rc);
            if (rc == 0) aha_st_close(&f);
        } else {
            ok++;
        }
    }
    CHECK(ok == (int)len, "%d/%zu truncations rejected", ok, len);
    aha_st_file_t *f = NULL;
    CHECK(aha_st_open_buffer(raw, len, "whole.st", &f) == 0, "whole buffer opens");
    aha_st_close(&f);
    free(raw);
}

static void test_bad_headers(void) {
    static unsigned char buf[4096];
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    aha_st_file_t *f = NULL;
    size_t n = build(buf, ok, 8, 0);
    CHECK(aha_st_open_buffer(buf, n, "ok.st", &f) == 0, "baseline: %s", aha_last_error());
    aha_st_close(&f);
    /* foreign-writer layout: metadata first, whitespace, padding, unused trailing bytes */
    n = build(
        buf,
        " { \"__metadata__\" : {\"k\": \"v\"},\n \"b\": {\"data_offsets\": [8, 8], \"shape\": [0],"
        " \"dtype\": \"BF16\", \"extra\": 1}, \"a\": {\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[0,8]}}    ",
        12, 0);
    CHECK(aha_st_open_buffer(buf, n, "foreign.st", &f) == 0, "foreign layout: %s",
          aha_last_error());
    CHECK(aha_st_count(f) == 2 && aha_st_metadata(f, "k") && !strcmp(aha_st_metadata(f, "k"), "v"),
          "foreign");
    aha_st_close(&f);

    expect_bad(buf, build(buf, ok, 8, 100), "exceeds the file size", "header length > file");
    expect_bad(buf, build(buf, ok, 8, (int64_t)1 << 62), "exceeds the file size",
               "header length 2^62");
    expect_bad(buf, build(buf, ok, 8, -1), "not valid JSON", "header length short by one");
    expect_bad(buf, 5, "too short", "5-byte file");
    bad_header("{\"a\":{\"dtype\":\"F32\",", 8, "not valid JSON", "invalid JSON");
    bad_header("{\"a\":1} x", 8, "not valid JSON", "trailing garbage");
    bad_header("[1,2]", 8, "not a JSON object", "array header");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "tensor 'a'",
               "offsets out of range");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
               "shape/size mismatch");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "begin > end",
               "begin > end");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, "overlaps", "overlap");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, "overlaps", "same range");
    bad_header("{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "unknown dtype", "unknown dtype");
    bad_header("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype",
               "numeric dtype");
    bad_header("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype", "missing dtype");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "shape", "missing shape");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets", "missing offsets");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8,
               "data_offsets", "3 offsets");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8]}}", 8,
               "data_offsets", "fraction");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
               "negative dimension", "negative dim");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
               "dimension 0", "string dim");
    bad_header(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}",
        8, "overflows", "overflowing shape");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 8,
               "dimension 0", "1e300 dim");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
               8, "dimensions", "9 dims");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, "duplicate", "duplicate name");
    bad_header("{\"a\":[1,2]}", 8, "tensor 'a'", "entry not an object");
    bad_header("{\"__metadata__\":{\"k\":1}}", 0, "not a string", "metadata value not a string");
    bad_header("{\"__metadata__\":[]}", 0, "__metadata__", "metadata not an object");
    bad_header("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate", "two metadata objects");
    bad_header("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "duplicate",
               "duplicate metadata key");
    char longname[400];
    snprintf(longname, sizeof longname,
             "{\"%0300d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0);
    bad_header(longname, 0, "longer than", "name too long");
    n = build(buf, ok, 8, 0);
    buf[10] = 0;
    expect_bad(buf, n, "NUL", "NUL in header");

    f = SENTINEL;
    CHECK(aha_st_open("/nonexistent/dir/x.safetensors", &f) == AHA_ERR_IO && f == SENTINEL,
          "missing file");
    CHECK(strstr(aha_last_error(), "/nonexistent/dir/x.safetensors: cannot open") != NULL,
          "msg: %s", aha_last_error());
    CHECK(aha_st_open(g_dir, &f) == AHA_ERR_IO && f == SENTINEL, "directory is not a file");
}

/* Random byte changes in the length field and header: any outcome but a crash is fine; on success
 * every tensor's bytes must be readable (ASan checks they lie inside the buffer). */
static void test_fuzz(const char *path) {
    size_t len = 0;
    unsigned char *raw = read_all(path, &len);
    REQUIRE(raw, "cannot read %s", path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | raw[i];
    unsigned char *m = malloc(len);
    aha_rng_t rng;
    aha_rng_seed(&rng, 12345);
    int opened = 0, failed = 0;
    for (int it = 0; it < 2000; it++) {
        memcpy(m, raw, len);
        int flips = 1 + (int)aha_rng_below(&rng, 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = (size_t)aha_rng_below(&rng, 8 + hlen);
            switch (aha_rng_below(&rng, 3)) {
            case 0:
                m[pos] ^= (unsigned char)(1u << aha_rng_below(&rng, 8));
                break;
            case 1:
                m[pos] = (unsigned char)aha_rng_below(&rng, 256);
                break;
            default:
                m[pos] = "0123456789[]{}\",:-e. \\"[aha_rng_below(&rng, 22)];
            }
        }
        size_t use = aha_rng_below(&rng, 8) ? len : (size_t)aha_rng_below(&rng, len + 1);
        aha_st_file_t *f = NULL;
        int rc = aha_st_open_buffer(m, use, "fuzz.st", &f);
        if (rc == 0) {
            opened++;
            unsigned sum = 0;
            for (size_t i = 0; i < aha_st_count(f); i++) {
                const aha_st_tensor_t *t = aha_st_at(f, i);
                for (size_t b = 0; b < t->nbytes; b++)
                    sum += ((const unsigned char *)t->data)[b];
                CHECK(aha_st_find(f, t->name) != NULL, "fuzz: find own tensor");
            }
            (void)aha_st_metadata(f, "format");
            (void)sum;
            aha_st_close(&f);
        } else {
            failed++;
            if (rc != AHA_ERR_FORMAT) CHECK(0, "fuzz: unexpected rc %d: %s", rc, aha_last_error());
        }
    }
    fprintf(stderr, "fuzz: %d opened, %d rejected\n", opened, failed);
    CHECK(failed > 0, "fuzz rejected something");
    free(m);
    free(raw);
}

static char g_file[512];

/* truncation and fuzz start from the file round_trip writes (written first when run alone) */
static void case_round_trip(void) {
    test_round_trip(g_file);
}
static void case_truncation(void) {
    if (access(g_file, F_OK) != 0) test_round_trip(g_file);
    test_truncation(g_file);
}
static void case_fuzz(void) {
    if (access(g_file, F_OK) != 0) test_round_trip(g_file);
    test_fuzz(g_file);
}

static const tu_case_t cases[] = {
    {"round_trip", case_round_trip},
    {"truncation", case_truncation},
    {"bad_headers", test_bad_headers},
    {"fuzz", case_fuzz},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_file, sizeof g_file, "%s/t.safetensors", g_dir);
    int rc = tu_main(argc, argv, cases, __FILE__);
    remove(g_file);
    rmdir(g_dir);
    return rc;
}
