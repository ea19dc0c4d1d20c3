/* metrics: JSONL rows read back with cJSON — key order, number formatting, NaN/Inf -> null,
 * string escaping, empty rows, append mode. */
#include "core/err.h"
#include "core/metrics.h"
#include "core/testutil.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_path[] = "/tmp/aha_metrics_test_XXXXXX";

/* Reads the file and returns its lines (at most max) as malloc'ed strings; count in *n. */
static int read_lines(char **lines, int max) {
    FILE *f = fopen(g_path, "r");
    if (!f) return -1;
    char buf[4096];
    int n = 0;
    while (n < max && fgets(buf, sizeof buf, f))
        lines[n++] = strdup(buf);
    fclose(f);
    return n;
}

static void free_lines(char **lines, int n) {
    for (int i = 0; i < n; i++)
        free(lines[i]);
}

static void test_rows(void) {
    aha_metrics_t *m = NULL;
    CHECK(aha_metrics_open(g_path, 0, &m) == 0, "open: %s", aha_last_error());
    if (!m) return;
    CHECK(aha_metrics_num(m, "step", 3) == 0, "num");
    aha_metrics_num(m, "loss", 1.25);
    aha_metrics_num(m, "big", 1e15);
    aha_metrics_num(m, "neg", -4096);
    aha_metrics_num(m, "tiny", 1e-300);
    aha_metrics_num(m, "third", 1.0 / 3);
    aha_metrics_num(m, "huge", 1e300);
    aha_metrics_num(m, "nan", NAN);
    aha_metrics_num(m, "inf", -INFINITY);
    aha_metrics_str(m, "s", "say \"hi\"\nback\\slash\ttab\x01\x1f end");
    aha_metrics_str(m, "k\"ey", "v");
    CHECK(aha_metrics_num(m, "step", 4) == AHA_ERR_ARG, "duplicate key rejected");
    CHECK(aha_metrics_end_row(m) == 0, "end_row: %s", aha_last_error());
    CHECK(aha_metrics_end_row(m) == 0, "empty row");
    aha_metrics_num(m, "step", 4);
    aha_metrics_num(m, "loss", 1e10);
    aha_metrics_end_row(m);

    /* rows are flushed: visible before close */
    char *lines[8];
    int n = read_lines(lines, 8);
    CHECK(n == 2, "%d lines before close", n);
    free_lines(lines, n);
    aha_metrics_close(&m);
    CHECK(m == NULL, "close clears the pointer");
    aha_metrics_close(&m);

    n = read_lines(lines, 8);
    CHECK(n == 2, "%d lines", n);
    if (n != 2) return;
    CHECK(
        !strncmp(lines[0], "{\"step\":3,\"loss\":1.25,\"big\":1000000000000000,\"neg\":-4096,", 56),
        "compact integers: %s", lines[0]);
    CHECK(strstr(lines[0], "\"nan\":null,\"inf\":null") != NULL, "non-finite -> null: %s",
          lines[0]);
    CHECK(!strcmp(lines[1], "{\"step\":4,\"loss\":10000000000}\n"), "row 2: %s", lines[1]);
    cJSON *o = cJSON_Parse(lines[0]);
    CHECK(o != NULL, "row 1 parses: %s", lines[0]);
    if (o) {
        const char *order[] = {"step", "loss", "big", "neg", "tiny", "third",
                               "huge", "nan",  "inf", "s",   "k\"ey"};
        int i = 0;
        for (cJSON *e = o->child; e; e = e->next, i++)
            CHECK(i < 11 && !strcmp(e->string, order[i]), "key %d is %s", i, e->string);
        CHECK(i == 11, "%d keys", i);
        CHECK(cJSON_GetObjectItem(o, "tiny")->valuedouble == 1e-300, "1e-300 exact");
        CHECK(cJSON_GetObjectItem(o, "third")->valuedouble == 1.0 / 3, "1/3 exact");
        CHECK(cJSON_GetObjectItem(o, "huge")->valuedouble == 1e300, "1e300 exact");
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "nan")) &&
                  cJSON_IsNull(cJSON_GetObjectItem(o, "inf")),
              "nulls");
        const cJSON *s = cJSON_GetObjectItem(o, "s");
        CHECK(cJSON_IsString(s) &&
                  !strcmp(s->valuestring, "say \"hi\"\nback\\slash\ttab\x01\x1f end"),
              "string escaping");
        CHECK(cJSON_IsString(cJSON_GetObjectItem(o, "k\"ey")), "escaped key");
        cJSON_Delete(o);
    }
    free_lines(lines, n);

    /* append keeps old rows; write mode truncates */
    CHECK(aha_metrics_open(g_path, 1, &m) == 0, "reopen append");
    aha_metrics_num(m, "step", 5);
    aha_metrics_end_row(m);
    aha_metrics_close(&m);
    n = read_lines(lines, 8);
    CHECK(n == 3 && !strcmp(lines[2], "{\"step\":5}\n") && !strncmp(lines[0], "{\"step\":3", 9),
          "append: %d lines", n);
    free_lines(lines, n);
    CHECK(aha_metrics_open(g_path, 0, &m) == 0, "reopen truncate");
    aha_metrics_str(m, "note", NULL);
    aha_metrics_end_row(m);
    aha_metrics_num(m, "unfinished", 1); /* dropped at close */
    aha_metrics_close(&m);
    n = read_lines(lines, 8);
    CHECK(n == 1 && !strcmp(lines[0], "{\"note\":null}\n"), "truncate: %d lines", n);
    free_lines(lines, n);

    aha_metrics_t *bad = (aha_metrics_t *)&n;
    CHECK(aha_metrics_open("/nonexistent/dir/m.jsonl", 0, &bad) == AHA_ERR_IO &&
              bad == (aha_metrics_t *)&n,
          "open failure");
    CHECK(strstr(aha_last_error(), "/nonexistent/dir/m.jsonl: cannot open") != NULL, "msg: %s",
          aha_last_error());
}

static const tu_case_t cases[] = {
    {"rows", test_rows},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    int fd = mkstemp(g_path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    close(fd);
    int rc = tu_main(argc, argv, cases, __FILE__);
    remove(g_path);
    return rc;
}
