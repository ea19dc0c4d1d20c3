/* recipe/sft_data.c — JSONL (prompt, response) pairs for SFT (see sft_data.h). */
#include "recipe/sft_data.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/rng.h"
#include "model/tokenizer.h"
#include "recipe/lm_train.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

struct aha_sft_data {
    size_t n, cap;
    int **ids;       /* [n] prompt + response tokens */
    int *len;        /* [n] */
    int *prompt_len; /* [n] */
    uint64_t seed;
    size_t *perm;    /* [n] the current epoch's order */
    uint64_t epoch;  /* of perm; UINT64_MAX: none yet */
};

void aha_sft_data_destroy(aha_sft_data_t **pd) {
    if (!pd || !*pd) return;
    aha_sft_data_t *d = *pd;
    for (size_t i = 0; i < d->n; i++)
        free(d->ids[i]);
    AHA_FREE(d->ids, d->len, d->prompt_len, d->perm, d);
    *pd = NULL;
}

static int grow(aha_sft_data_t *d) {
    if (d->n < d->cap) return AHA_OK;
    size_t cap = d->cap ? d->cap * 2 : 64;
    int **ids = realloc(d->ids, sizeof *ids * cap);
    if (ids) d->ids = ids;
    int *len = realloc(d->len, sizeof *len * cap);
    if (len) d->len = len;
    int *pl = realloc(d->prompt_len, sizeof *pl * cap);
    if (pl) d->prompt_len = pl;
    if (!ids || !len || !pl) return AHA_FAIL(AHA_ERR_NOMEM, "sft data");
    d->cap = cap;
    return AHA_OK;
}

static int blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    return 1;
}

/* One line into D (pair appended). */
static int parse_line(aha_sft_data_t *d, const char *path, long lineno, const char *line,
                      int max_len, int *buf) {
    cJSON *o = cJSON_Parse(line);
    int rc = AHA_OK;
    if (!o || !cJSON_IsObject(o)) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s:%ld: not a JSON object", path, lineno);
        goto done;
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prompt");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "response");
    if (!cJSON_IsString(p) || !cJSON_IsString(r)) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s:%ld: needs string keys \"prompt\" and \"response\"",
                      path, lineno);
        goto done;
    }
    if (!r->valuestring[0]) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s:%ld: empty response", path, lineno);
        goto done;
    }
    int np = 0, nr = 0;
    const int cap = max_len + 1;
    int e = aha_tok_encode(p->valuestring, buf, cap, &np);
    if (e >= 0) e = aha_tok_encode(r->valuestring, buf + np, cap - np, &nr);
    if (e < 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", aha_last_error());
        why[strcspn(why, "\n")] = 0;
        rc = e == AHA_ERR_RANGE ? AHA_FAIL(AHA_ERR_RANGE,
                              "%s:%ld: the pair needs more than %d tokens (model.max_seq_len)",
                              path, lineno, max_len)
                   : AHA_FAIL(AHA_ERR_FORMAT, "%s:%ld: %s", path, lineno, why);
        goto done;
    }
    if (np + nr > max_len) {
        rc = AHA_FAIL(AHA_ERR_RANGE, "%s:%ld: the pair has %d tokens, model.max_seq_len is %d",
                      path, lineno, np + nr, max_len);
        goto done;
    }
    if (np < 1) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s:%ld: empty prompt", path, lineno);
        goto done;
    }
    AHA_TRY_GOTO(rc, grow(d), done);
    int *ids = malloc(sizeof(int) * (size_t)(np + nr));
    if (!ids) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "sft data");
        goto done;
    }
    memcpy(ids, buf, sizeof(int) * (size_t)(np + nr));
    d->ids[d->n] = ids;
    d->len[d->n] = np + nr;
    d->prompt_len[d->n] = np;
    d->n++;
done:
    cJSON_Delete(o);
    return rc;
}

int aha_sft_data_load(const char *path, int max_len, uint64_t seed, aha_sft_data_t **out) {
    if (!path || !out || max_len < 2)
        return AHA_FAIL(AHA_ERR_ARG, "sft data: needs a path and max_len >= 2");
    FILE *f = fopen(path, "r");
    if (!f) return AHA_FAIL(AHA_ERR_IO, "%s: cannot open the SFT data", path);
    aha_sft_data_t *d = calloc(1, sizeof *d);
    int *buf = malloc(sizeof(int) * (size_t)(max_len + 1));
    char *line = NULL;
    size_t lcap = 0;
    long lineno = 0;
    int rc = AHA_OK;
    if (!d || !buf) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "sft data");
        goto done;
    }
    d->seed = seed;
    d->epoch = UINT64_MAX;
    while (getline(&line, &lcap, f) >= 0) {
        lineno++;
        if (blank(line)) continue;
        AHA_TRY_GOTO(rc, parse_line(d, path, lineno, line, max_len, buf), done);
    }
    if (ferror(f)) {
        rc = AHA_FAIL(AHA_ERR_IO, "%s: read error", path);
        goto done;
    }
    if (d->n == 0) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s:%ld: no (prompt, response) pair in the file", path,
                      lineno);
        goto done;
    }
    d->perm = malloc(sizeof(size_t) * d->n);
    if (!d->perm) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "sft data");
        goto done;
    }
done:
    fclose(f);
    free(line);
    free(buf);
    if (rc < 0)
        aha_sft_data_destroy(&d);
    else
        *out = d;
    return rc;
}

size_t aha_sft_data_count(const aha_sft_data_t *d) {
    return d ? d->n : 0;
}

const int *aha_sft_data_pair(const aha_sft_data_t *d, size_t i, int *len, int *prompt_len) {
    if (!d || i >= d->n) return NULL;
    if (len) *len = d->len[i];
    if (prompt_len) *prompt_len = d->prompt_len[i];
    return d->ids[i];
}

int aha_sft_data_row(void *ctx, uint64_t index, int T, int *tokens, int *targets, int *len) {
    aha_sft_data_t *d = ctx;
    if (!d || !d->n) return AHA_FAIL(AHA_ERR_ARG, "sft data: no pairs");
    uint64_t epoch = index / d->n;
    if (epoch != d->epoch) {
        aha_rng_t rng;
        const uint64_t ids[] = {AHA_STREAM_SFT_SHUFFLE, epoch};
        aha_rng_derive(&rng, d->seed, ids, 2);
        for (size_t i = 0; i < d->n; i++)
            d->perm[i] = i;
        for (size_t i = d->n - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j = (size_t)(aha_rng_u64(&rng) % (i + 1));
            size_t t = d->perm[i];
            d->perm[i] = d->perm[j];
            d->perm[j] = t;
        }
        d->epoch = epoch;
    }
    size_t i = d->perm[index % d->n];
    if (d->len[i] > T)
        return AHA_FAIL(AHA_ERR_RANGE, "sft data: pair %zu has %d tokens, rows hold %d", i,
                        d->len[i], T);
    memcpy(tokens, d->ids[i], sizeof(int) * (size_t)d->len[i]);
    aha_lm_mask_prompt(tokens, d->len[i], d->prompt_len[i], T, targets);
    *len = d->len[i];
    return AHA_OK;
}

int aha_sft_write_pair(FILE *f, const char *prompt, const char *response) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "prompt", prompt) ||
        !cJSON_AddStringToObject(o, "response", response)) {
        cJSON_Delete(o);
        return AHA_FAIL(AHA_ERR_NOMEM, "sft pair");
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return AHA_FAIL(AHA_ERR_NOMEM, "sft pair");
    int ok = fprintf(f, "%s\n", s) >= 0;
    free(s);
    return ok ? AHA_OK : AHA_FAIL(AHA_ERR_IO, "cannot write an SFT pair");
}
