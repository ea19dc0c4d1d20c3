/* buf_test: the file helpers of core/buf.h — aha_files_equal and aha_mkdir_p. */
#include "core/buf.h"
#include "core/err.h"
#include "core/testutil.h"
#include <stdio.h>

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void test_files_equal(void) {
    char a[300], b[300], c[300], d[300], e[300];
    snprintf(a, sizeof a, "%s/a", tu_tmp_dir());
    snprintf(b, sizeof b, "%s/b", tu_tmp_dir());
    snprintf(c, sizeof c, "%s/c", tu_tmp_dir());
    snprintf(d, sizeof d, "%s/d", tu_tmp_dir());
    snprintf(e, sizeof e, "%s/e", tu_tmp_dir());
    write_text(a, "weights 123");
    write_text(b, "weights 123");
    write_text(c, "weights 124");
    write_text(d, "weights 12");
    write_text(e, "");
    CHECK(aha_files_equal(a, b) == 1, "same bytes are equal");
    CHECK(aha_files_equal(a, a) == 1, "a file equals itself");
    CHECK(aha_files_equal(a, c) == 0, "a different last byte is not equal");
    CHECK(aha_files_equal(a, d) == 0 && aha_files_equal(d, a) == 0, "a prefix is not equal");
    CHECK(aha_files_equal(e, e) == 1 && aha_files_equal(e, a) == 0, "empty files");
    char missing[320];
    snprintf(missing, sizeof missing, "%s/missing", tu_tmp_dir());
    CHECK(aha_files_equal(missing, missing) == 0 && aha_files_equal(a, missing) == 0,
          "a file that does not open equals nothing");
}

static void test_mkdir_p(void) {
    char dir[300], file[320];
    snprintf(dir, sizeof dir, "%s/x/y/z", tu_tmp_dir());
    REQUIRE_OK(aha_mkdir_p(dir));
    REQUIRE_OK(aha_mkdir_p(dir)); /* exists: fine */
    snprintf(file, sizeof file, "%s/f", dir);
    write_text(file, "x");
    CHECK(aha_mkdir_p(file) == AHA_ERR_IO, "a file in the way is an error");
    CHECK(aha_mkdir_p("") == AHA_ERR_ARG, "an empty path is an error");
}

/* aha_buf_json_str: the exact bytes of every escape (backslash-letter, \\u, copied). */
static void test_json_str(void) {
    aha_buf_t b = {0};
    aha_buf_json_str(&b, "a\"b\\c\nd\re\tf\x01g\x1fh\x7fi\x80j/");
    CHECK(b.err == 0 && !strcmp(b.p, "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh\\u007fi\x80j/\""),
          "escaped: %s", b.p ? b.p : "(null)");
    aha_buf_reset(&b);
    aha_buf_json_str(&b, "");
    CHECK(b.err == 0 && !strcmp(b.p, "\"\""), "empty string: %s", b.p ? b.p : "(null)");
    aha_buf_free(&b);
}

static const tu_case_t cases[] = {
    {"files_equal", test_files_equal},
    {"json_str", test_json_str},
    {"mkdir_p", test_mkdir_p},
};

TU_MAIN(cases)
