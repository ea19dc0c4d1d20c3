#include "core/metrics.h"
#include "core/buf.h"
#include "core/err.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aha_metrics {
    FILE *f;
    char *path;
    aha_buf_t row;  /* "{k:v,k:v" of the current row */
    aha_buf_t keys; /* NUL-separated keys of the current row, for duplicate detection */
    int n_fields;
};

int aha_metrics_open(const char *path, int append, aha_metrics_t **out) {
    if (!path || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_metrics_open: NULL argument");
    aha_metrics_t *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return AHA_FAIL(AHA_ERR_NOMEM, "%s: metrics", path);
    }
    if (!(m->f = fopen(path, append ? "a" : "w"))) {
        int rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        free(m->path);
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Starts field KEY of the current row: separator, quoted key, colon. */
static int begin_field(aha_metrics_t *m, const char *key) {
    if (!m || !key) return AHA_FAIL(AHA_ERR_ARG, "aha_metrics: NULL argument");
    for (size_t off = 0; off < m->keys.len; off += strlen(m->keys.p + off) + 1)
        if (!strcmp(m->keys.p + off, key))
            return AHA_FAIL(AHA_ERR_ARG, "%s: key '%s' given twice in one row", m->path, key);
    aha_buf_add(&m->keys, key, strlen(key) + 1);
    aha_buf_puts(&m->row, m->n_fields ? "," : "{");
    aha_buf_json_str(&m->row, key);
    aha_buf_puts(&m->row, ":");
    return m->keys.err || m->row.err ? AHA_FAIL(AHA_ERR_NOMEM, "%s: metrics row", m->path) : 0;
}

int aha_metrics_num(aha_metrics_t *m, const char *key, double value) {
    AHA_TRY(begin_field(m, key));
    m->n_fields++;
    if (aha_buf_json_num(&m->row, value))
        return AHA_FAIL(AHA_ERR_NOMEM, "%s: metrics row", m->path);
    return 0;
}

int aha_metrics_str(aha_metrics_t *m, const char *key, const char *value) {
    AHA_TRY(begin_field(m, key));
    m->n_fields++;
    if (value ? aha_buf_json_str(&m->row, value) : aha_buf_puts(&m->row, "null"))
        return AHA_FAIL(AHA_ERR_NOMEM, "%s: metrics row", m->path);
    return 0;
}

int aha_metrics_end_row(aha_metrics_t *m) {
    if (!m) return AHA_FAIL(AHA_ERR_ARG, "aha_metrics_end_row: NULL argument");
    int rc = 0;
    if (m->row.err) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "%s: metrics row dropped", m->path);
    } else if (m->n_fields) {
        aha_buf_puts(&m->row, "}\n");
        if (m->row.err)
            rc = AHA_FAIL(AHA_ERR_NOMEM, "%s: metrics row dropped", m->path);
        else if (fwrite(m->row.p, 1, m->row.len, m->f) != m->row.len || fflush(m->f) != 0)
            rc = AHA_FAIL(AHA_ERR_IO, "%s: write failed: %s", m->path, strerror(errno));
    }
    aha_buf_reset(&m->row);
    aha_buf_reset(&m->keys);
    m->n_fields = 0;
    return rc;
}

void aha_metrics_close(aha_metrics_t **m) {
    if (!m || !*m) return;
    fclose((*m)->f);
    aha_buf_free(&(*m)->row);
    aha_buf_free(&(*m)->keys);
    free((*m)->path);
    free(*m);
    *m = NULL;
}
