/* model/checkpoint.c — Hugging Face style checkpoints: DIR/model.safetensors + DIR/config.json. */
#include "model/checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/safetensors.h"

#define MODEL_TYPE "aha_moe"
#define ST_FILE "model.safetensors"
#define CFG_FILE "config.json"

static int join(char *out, size_t cap, const char *dir, const char *file) {
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) return AHA_FAIL(AHA_ERR_ARG, "path too long: %s/%s", dir, file);
    return 0;
}

/* Adds field F of C to the JSON object O under its Hugging Face key; 0 on failure. */
static int json_put(cJSON *o, const aha_cfg_field_t *f, const aha_model_config_t *c) {
    const char *p = (const char *)c + f->offset;
    int iv;
    float fv;
    char name[AHA_CFG_STR_MAX];
    switch (f->type) {
    case AHA_CFG_INT:
        memcpy(&iv, p, sizeof iv);
        return cJSON_AddNumberToObject(o, f->hf, iv) != NULL;
    case AHA_CFG_BOOL:
        memcpy(&iv, p, sizeof iv);
        return cJSON_AddBoolToObject(o, f->hf, iv != 0) != NULL;
    case AHA_CFG_FLOAT32:
        memcpy(&fv, p, sizeof fv);
        return cJSON_AddNumberToObject(o, f->hf, aha_cfg_float32_text(fv)) != NULL;
    case AHA_CFG_CHOICE:
        memcpy(&iv, p, sizeof iv);
        return aha_cfg_choice_name(f, iv, name, sizeof name) == 0 &&
               cJSON_AddStringToObject(o, f->hf, name) != NULL;
    default:
        return 0;
    }
}

int aha_model_config_write_json(const aha_model_config_t *c, const char *path) {
    if (!c || !path) return AHA_FAIL(AHA_ERR_ARG, "aha_model_config_write_json: NULL argument");
    AHA_TRY(aha_model_config_validate(c));
    cJSON *o = cJSON_CreateObject();
    if (!o) return AHA_FAIL(AHA_ERR_NOMEM, "config.json: out of memory");
    int ok = cJSON_AddStringToObject(o, "model_type", MODEL_TYPE) != NULL;
    for (size_t i = 0; ok && i < aha_model_config_n_fields; i++)
        ok = json_put(o, &aha_model_config_fields[i], c);
    char *text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) return AHA_FAIL(AHA_ERR_NOMEM, "config.json: out of memory");

    const void *parts[] = {text, "\n"};
    const size_t lens[] = {strlen(text), 1};
    int rc = aha_write_file_atomic(path, parts, lens, 2);
    free(text);
    return rc;
}

/* Reads the Hugging Face key of field F from O into C (as written by json_put: numbers, a bool or
 * an integer for BOOL, the choice name for CHOICE); the value is range-checked later. */
static int json_get(const cJSON *o, const char *path, const aha_cfg_field_t *f,
                    aha_model_config_t *c) {
    char *p = (char *)c + f->offset;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, f->hf);
    if (!it) return AHA_FAIL(AHA_ERR_CONFIG, "%s: missing key \"%s\"", path, f->hf);
    double v = it->valuedouble;
    switch (f->type) {
    case AHA_CFG_INT:
    case AHA_CFG_BOOL: {
        if (cJSON_IsBool(it))
            v = cJSON_IsTrue(it) ? 1 : 0;
        else if (!cJSON_IsNumber(it) || v != floor(v) || v < -2147483648.0 || v > 2147483647.0)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: \"%s\" must be an integer", path, f->hf);
        if (f->type == AHA_CFG_INT && f->min <= f->max && (v < f->min || v > f->max))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: \"%s\" must be in [%.17g, %.17g] (got %.17g)",
                            path, f->hf, f->min, f->max, v);
        const int iv = (int)v;
        memcpy(p, &iv, sizeof iv);
        return 0;
    }
    case AHA_CFG_FLOAT32: {
        if (!cJSON_IsNumber(it))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: \"%s\" must be a number", path, f->hf);
        if (f->min <= f->max && (!isfinite(v) || v < f->min || v > f->max))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: \"%s\" must be in [%.17g, %.17g] (got %.17g)",
                            path, f->hf, f->min, f->max, v);
        const float fv = (float)v;
        memcpy(p, &fv, sizeof fv);
        return 0;
    }
    case AHA_CFG_CHOICE:
        if (!cJSON_IsString(it) || aha_cfg_set_text(c, f, it->valuestring, "") < 0)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: \"%s\" must be one of %s (as a string)", path,
                            f->hf, f->choices);
        return 0;
    default:
        return AHA_FAIL(AHA_ERR_ARG, "%s: field %s has no JSON form", path, f->key);
    }
}

static int read_text(const char *path, char **out, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return AHA_FAIL(AHA_ERR_IO, "open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return AHA_FAIL(AHA_ERR_NOMEM, "read %s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return AHA_FAIL(AHA_ERR_IO, "read %s failed", path);
    }
    buf[len] = '\0';
    *out = buf;
    *len_out = len;
    return 0;
}

int aha_model_config_read_json(const char *path, aha_model_config_t *out) {
    if (!path || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_model_config_read_json: NULL argument");
    char *text = NULL;
    size_t len = 0;
    AHA_TRY(read_text(path, &text, &len));
    int rc = aha_model_config_parse_json(text, len, path, out);
    free(text);
    return rc;
}

int aha_model_config_parse_json(const char *text, size_t len, const char *path,
                                aha_model_config_t *out) {
    if (!text || !path || !out)
        return AHA_FAIL(AHA_ERR_ARG, "aha_model_config_parse_json: NULL argument");
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: not a JSON object", path);
    }
    aha_model_config_t c;
    memset(&c, 0, sizeof c);
    int rc = 0;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "model_type");
    if (!mt || !cJSON_IsString(mt) || strcmp(mt->valuestring, MODEL_TYPE) != 0) {
        rc = AHA_FAIL(AHA_ERR_CONFIG, "%s: \"model_type\" must be \"%s\"", path, MODEL_TYPE);
        goto done;
    }
    for (size_t i = 0; i < aha_model_config_n_fields; i++)
        AHA_TRY_GOTO(rc, json_get(o, path, &aha_model_config_fields[i], &c), done);
    AHA_TRY_GOTO(rc, aha_model_config_validate_in(&c, path, 1), done);
    *out = c;
done:
    cJSON_Delete(o);
    return rc;
}

/* AHA_ERR_FORMAT "PATH: tensor NAME has N non-finite values (first at [i]: nan)" if any of
 * X[0..n) is NaN or infinite: such weights are never loaded or saved. */
static int check_finite(const char *path, const char *name, const float *x, size_t n) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) && !bad++) first = i;
    if (!bad) return 0;
    return AHA_FAIL(AHA_ERR_FORMAT,
                    "%s: tensor %s has %zu non-finite value%s (first at [%zu]: %g); refusing "
                    "NaN/Inf weights",
                    path, name, bad, bad == 1 ? "" : "s", first, (double)x[first]);
}

/* Name of layer l's expert bias tensor. */
static void bias_name(char *buf, size_t cap, int l) {
    snprintf(buf, cap, "model.layers.%d.mlp.gate.e_score_correction_bias", l);
}

/* If NAME is a router weight "model.layers.{l}.mlp.gate.weight", returns l, else -1. */
static int router_layer(const char *name) {
    int l = -1, n = 0;
    if (sscanf(name, "model.layers.%d.mlp.gate.weight%n", &l, &n) == 1 && name[n] == '\0') return l;
    return -1;
}

/* Calls FN(CTX, name, ndim, shape, data) for every tensor of M's checkpoint, in file order: each
 * tensor of the table, and after a router weight its layer's expert bias. Stops at an error. */
typedef int (*tensor_fn)(void *ctx, const char *name, int ndim, const int64_t *shape, float *data);
static int for_each_tensor(aha_model_t *m, tensor_fn fn, void *ctx) {
    size_t nt = aha_model_tensor_count(&m->cfg);
    int E = m->cfg.n_routed_experts;
    for (size_t i = 0; i < nt; i++) {
        aha_tensor_info_t ti;
        AHA_TRY(aha_model_tensor_info(&m->cfg, i, &ti));
        AHA_TRY(fn(ctx, ti.name, ti.ndim, ti.shape, m->params + ti.offset));
        int l = router_layer(ti.name);
        if (l >= 0) {
            char name[128];
            int64_t shape[1] = {E};
            bias_name(name, sizeof name, l);
            AHA_TRY(fn(ctx, name, 1, shape, m->expert_bias + (size_t)l * E));
        }
    }
    return AHA_OK;
}

static int save_tensor(void *w, const char *name, int ndim, const int64_t *shape, float *data) {
    return aha_st_writer_add(w, name, AHA_ST_F32, ndim, shape, data);
}

int aha_checkpoint_save(const aha_model_t *m, const char *dir) {
    if (!m || !dir) return AHA_FAIL(AHA_ERR_ARG, "aha_checkpoint_save: NULL argument");
    char path[4096];
    AHA_TRY(join(path, sizeof path, dir, ST_FILE));
    {
        const size_t nt = aha_model_tensor_count(&m->cfg);
        for (size_t i = 0; i < nt; i++) {
            aha_tensor_info_t ti;
            AHA_TRY(aha_model_tensor_info(&m->cfg, i, &ti));
            AHA_TRY(check_finite(path, ti.name, m->params + ti.offset, ti.numel));
        }
        AHA_TRY(check_finite(path, "e_score_correction_bias", m->expert_bias,
                             (size_t)m->cfg.n_layers * (size_t)m->cfg.n_routed_experts));
    }
    AHA_TRY(aha_mkdir_p(dir));
    AHA_TRY(join(path, sizeof path, dir, CFG_FILE));
    AHA_TRY(aha_model_config_write_json(&m->cfg, path));

    aha_st_writer_t *w = aha_st_writer_new();
    if (!w) return AHA_FAIL(AHA_ERR_NOMEM, "aha_checkpoint_save: out of memory");
    int rc = 0;
    AHA_TRY_GOTO(rc, aha_st_writer_meta(w, "format", "pt"), done);
    /* the writer only reads the tensors */
    AHA_TRY_GOTO(rc, for_each_tensor((aha_model_t *)m, save_tensor, w), done);
    AHA_TRY_GOTO(rc, join(path, sizeof path, dir, ST_FILE), done);
    AHA_TRY_GOTO(rc, aha_st_writer_save(w, path), done);
done:
    aha_st_writer_destroy(&w);
    return rc;
}

/* Copies tensor NAME of shape [d0] (ndim 1) or [d0, d1] into dst, checking dtype and shape. */
static int load_tensor(const aha_st_file_t *f, const char *path, const char *name, int ndim,
                       const int64_t *shape, float *dst) {
    const aha_st_tensor_t *t = aha_st_find(f, name);
    if (!t) return AHA_FAIL(AHA_ERR_NOTFOUND, "%s: missing tensor %s", path, name);
    if (t->dtype != AHA_ST_F32)
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: tensor %s is not F32", path, name);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        char got[128] = "", want[128] = "";
        size_t gl = 0, wl = 0;
        for (int d = 0; d < t->ndim && gl < sizeof got - 24; d++)
            gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%lld", d ? ", " : "",
                                   (long long)t->shape[d]);
        for (int d = 0; d < ndim && wl < sizeof want - 24; d++)
            wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s%lld", d ? ", " : "",
                                   (long long)shape[d]);
        return AHA_FAIL(AHA_ERR_FORMAT, "%s: tensor %s has shape [%s], expected [%s]", path, name,
                        got, want);
    }
    size_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= (size_t)shape[d];
    AHA_TRY(aha_st_read_f32(f, name, dst, numel));
    return check_finite(path, name, dst, numel);
}

typedef struct {
    const aha_st_file_t *f;
    const char *path;
    size_t *count; /* tensors read */
} load_ctx_t;

static int load_one(void *ctx, const char *name, int ndim, const int64_t *shape, float *data) {
    load_ctx_t *lc = ctx;
    (*lc->count)++;
    return load_tensor(lc->f, lc->path, name, ndim, shape, data);
}

int aha_checkpoint_load(const char *dir, aha_model_t **out) {
    if (!dir || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_checkpoint_load: NULL argument");
    char path[4096];
    aha_model_config_t cfg;
    AHA_TRY(join(path, sizeof path, dir, CFG_FILE));
    AHA_TRY(aha_model_config_read_json(path, &cfg));
    AHA_TRY(join(path, sizeof path, dir, ST_FILE));
    aha_model_t *m = NULL;
    aha_st_file_t *f = NULL;
    int rc = 0;
    AHA_TRY_GOTO(rc, aha_model_new(&cfg, &m), fail);
    AHA_TRY_GOTO(rc, aha_st_open(path, &f), fail);
    size_t nt = aha_model_tensor_count(&cfg), expected = 0;
    load_ctx_t lc = {f, path, &expected};
    AHA_TRY_GOTO(rc, for_each_tensor(m, load_one, &lc), fail);
    if (aha_st_count(f) != expected) {
        for (size_t i = 0; i < aha_st_count(f); i++) {
            const char *name = aha_st_at(f, i)->name;
            int known = 0;
            for (size_t j = 0; j < nt && !known; j++) {
                aha_tensor_info_t ti;
                if (aha_model_tensor_info(&cfg, j, &ti) == 0 && strcmp(ti.name, name) == 0)
                    known = 1;
            }
            int l = -1, n = 0;
            if (!known &&
                sscanf(name, "model.layers.%d.mlp.gate.e_score_correction_bias%n", &l, &n) == 1 &&
                name[n] == '\0' && l >= 0 && l < cfg.n_layers && aha_model_layer_is_moe(&cfg, l))
                known = 1;
            if (!known) {
                rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: unexpected tensor %s", path, name);
                goto fail;
            }
        }
    }
    aha_st_close(&f);
    *out = m;
    return 0;
fail:
    aha_st_close(&f);
    aha_model_destroy(&m);
    return rc;
}
