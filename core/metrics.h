/* core/metrics.h — JSONL metrics writer: one JSON object per line, flushed per row.
 *
 *   aha_metrics_t *m; aha_metrics_open("runs/x/metrics.jsonl", 0, &m);
 *   aha_metrics_num(m, "step", 3); aha_metrics_num(m, "loss", 1.25); aha_metrics_end_row(m);
 *   aha_metrics_close(&m);
 * Keys keep insertion order; non-finite numbers are written as null. Owns its FILE. */
#ifndef AHA_CORE_METRICS_H
#define AHA_CORE_METRICS_H

typedef struct aha_metrics aha_metrics_t;

/* Opens PATH for writing (append != 0: keep existing rows, e.g. on resume). */
int aha_metrics_open(const char *path, int append, aha_metrics_t **out);
/* Adds a numeric / string field to the current row (key and value copied). */
int aha_metrics_num(aha_metrics_t *m, const char *key, double value);
int aha_metrics_str(aha_metrics_t *m, const char *key, const char *value);
/* Writes the current row as one line and flushes; an empty row writes nothing. */
int aha_metrics_end_row(aha_metrics_t *m);
void aha_metrics_close(aha_metrics_t **m);

#endif
