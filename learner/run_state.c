#include "learner/run_state.h"
#include "core/buf.h"
#include "core/err.h"
#include "model/checkpoint.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int aha_run_state_save(const char *dir, const aha_model_t *m, const aha_adamw_t *opt, int step,
                       uint64_t next_index) {
    if (!dir || !m || !opt || step < 0)
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_save: bad argument");
    char path[1100], json[160];
    AHA_TRY(aha_checkpoint_save(m, dir));
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    AHA_TRY(aha_adamw_save(opt, path));
    int n = snprintf(json, sizeof json, "{\n  \"step\": %d,\n  \"next_index\": %llu\n}\n", step,
                     (unsigned long long)next_index);
    snprintf(path, sizeof path, "%s/state.json", dir);
    const void *parts[] = {json};
    const size_t lens[] = {(size_t)n};
    return aha_write_file_atomic(path, parts, lens, 1);
}

static int read_state_json(const char *dir, int *step, uint64_t *next_index) {
    char path[1100], buf[512];
    snprintf(path, sizeof path, "%s/state.json", dir);
    FILE *f = fopen(path, "r");
    if (!f) return AHA_FAIL(AHA_ERR_IO, "%s: cannot open (no checkpoint to resume from)", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "step"),
                *p = cJSON_GetObjectItemCaseSensitive(o, "next_index");
    int ok = cJSON_IsNumber(s) && cJSON_IsNumber(p) && s->valuedouble >= 0 &&
             s->valuedouble < 2e9 && p->valuedouble >= 0 && p->valuedouble < 9e18;
    if (ok) *step = (int)s->valuedouble, *next_index = (uint64_t)p->valuedouble;
    cJSON_Delete(o);
    return ok ? AHA_OK : AHA_FAIL(AHA_ERR_FORMAT, "%s: needs numeric step and next_index", path);
}

int aha_run_state_load(const char *dir, aha_model_t *m, aha_adamw_t *opt, int *step,
                       uint64_t *next_index) {
    if (!dir || !m || !opt || !step || !next_index)
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_load: NULL argument");
    int s = 0;
    uint64_t next = 0;
    AHA_TRY(read_state_json(dir, &s, &next));
    aha_model_t *saved = NULL;
    AHA_TRY(aha_checkpoint_load(dir, &saved));
    const aha_model_config_t *a = &saved->cfg, *b = &m->cfg;
    if (saved->n_params != m->n_params || a->dim != b->dim || a->n_layers != b->n_layers ||
        a->n_heads != b->n_heads || a->n_routed_experts != b->n_routed_experts ||
        a->top_k != b->top_k || a->n_dense_layers != b->n_dense_layers) {
        aha_model_destroy(&saved);
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: the checkpoint's model config differs from this run's",
                        dir);
    }
    memcpy(m->params, saved->params, sizeof(float) * m->n_params);
    if (m->expert_bias)
        memcpy(m->expert_bias, saved->expert_bias,
               sizeof(float) * (size_t)m->cfg.n_layers * m->cfg.n_routed_experts);
    aha_model_destroy(&saved);
    char path[1100];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    AHA_TRY(aha_adamw_load(opt, path));
    *step = s;
    *next_index = next;
    return AHA_OK;
}

int aha_run_state_truncate_metrics(const char *path, int step) {
    FILE *in = fopen(path, "r");
    if (!in) return AHA_OK;
    aha_buf_t keep = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "step");
        if (cJSON_IsNumber(s) && s->valuedouble <= step) aha_buf_puts(&keep, line);
        cJSON_Delete(o);
    }
    free(line);
    fclose(in);
    const void *parts[] = {keep.p ? keep.p : ""};
    const size_t lens[] = {keep.len};
    int rc = keep.err ? AHA_FAIL(AHA_ERR_NOMEM, "%s: out of memory", path)
                      : aha_write_file_atomic(path, parts, lens, 1);
    aha_buf_free(&keep);
    return rc;
}
