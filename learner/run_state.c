#include "learner/run_state.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/blob.h"
#include "core/log.h"
#include "model/checkpoint.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- whole-directory swap (see run_state.h) ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? AHA_OK : AHA_FAIL(AHA_ERR_IO, "%s: %s", path, strerror(errno));
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return AHA_FAIL(AHA_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return AHA_OK;
}

static int has_state(const char *dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/state.json", dir);
    return access(path, R_OK) == 0;
}

static void fsync_parent(const char *dir) {
    char copy[1100];
    snprintf(copy, sizeof copy, "%s", dir);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int aha_run_state_stage(const char *dir, char *tmp, size_t cap) {
    if (!dir || !tmp) return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_stage: NULL argument");
    char path[1100];
    if ((size_t)snprintf(path, sizeof path, "%s.tmp", dir) >= sizeof path || strlen(path) + 1 > cap)
        return AHA_FAIL(AHA_ERR_RANGE, "checkpoint path %s too long", dir);
    AHA_TRY(rm_rf(path));
    AHA_TRY(aha_mkdir_p(path));
    memcpy(tmp, path, strlen(path) + 1);
    return AHA_OK;
}

int aha_run_state_publish(const char *dir) {
    if (!dir) return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_publish: NULL argument");
    char tmp[1100], old[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    snprintf(old, sizeof old, "%s.old", dir);
    if (!has_state(tmp))
        return AHA_FAIL(AHA_ERR_STATE, "%s: incomplete checkpoint (no state.json)", tmp);
    int fd = open(tmp, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    AHA_TRY(rm_rf(old));
    if (rename(dir, old) != 0 && errno != ENOENT)
        return AHA_FAIL(AHA_ERR_IO, "rename %s -> %s: %s", dir, old, strerror(errno));
    fsync_parent(dir);
    if (rename(tmp, dir) != 0)
        return AHA_FAIL(AHA_ERR_IO, "rename %s -> %s: %s", tmp, dir, strerror(errno));
    fsync_parent(dir);
    return rm_rf(old);
}

int aha_run_state_recover(const char *dir) {
    if (!dir) return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_recover: NULL argument");
    char tmp[1100], old[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    snprintf(old, sizeof old, "%s.old", dir);
    if (!has_state(dir) && has_state(old)) {
        AHA_WARN("%s: a checkpoint write was interrupted; resuming from the previous one", dir);
        AHA_TRY(rm_rf(dir));
        if (rename(old, dir) != 0)
            return AHA_FAIL(AHA_ERR_IO, "rename %s -> %s: %s", old, dir, strerror(errno));
        fsync_parent(dir);
    }
    AHA_TRY(rm_rf(tmp));
    return has_state(dir) ? rm_rf(old) : AHA_OK;
}

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
    AHA_TRY(aha_run_state_recover(dir));
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

enum { VERSION_HEADER = 8 + 8 + 8 + AHA_BLOB_SUM_BYTES };
static const char version_magic[8] = {'A', 'H', 'A', 'V', 'E', 'R', '0', '1'};

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int aha_run_state_save_version(const char *dir, uint64_t version, const void *w, size_t len) {
    if (!dir || !w || !len)
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_save_version: bad argument");
    char path[1100];
    snprintf(path, sizeof path, "%s/versions", dir);
    AHA_TRY(aha_mkdir_p(path));
    snprintf(path, sizeof path, "%s/versions/v%llu.bin", dir, (unsigned long long)version);
    uint8_t head[VERSION_HEADER];
    memcpy(head, version_magic, 8);
    put_u64(head + 8, version);
    put_u64(head + 16, (uint64_t)len);
    AHA_TRY(aha_blob_checksum(w, len, head + 24));
    const void *parts[] = {head, w};
    const size_t lens[] = {sizeof head, len};
    return aha_write_file_atomic(path, parts, lens, 2);
}

int aha_run_state_load_version(const char *dir, uint64_t version, void *w, size_t len) {
    if (!dir || !w || !len)
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_load_version: bad argument");
    char path[1100];
    snprintf(path, sizeof path, "%s/versions/v%llu.bin", dir, (unsigned long long)version);
    FILE *f = fopen(path, "rb");
    if (!f)
        return AHA_FAIL(AHA_ERR_IO,
                        "%s: cannot open (weights version %llu, needed to resume with "
                        "rl.max_staleness > 0): %s",
                        path, (unsigned long long)version, strerror(errno));
    uint8_t head[VERSION_HEADER], sum[AHA_BLOB_SUM_BYTES];
    int rc = AHA_OK;
    if (fread(head, 1, sizeof head, f) != sizeof head)
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: truncated (no complete header)", path);
    else if (memcmp(head, version_magic, 8) != 0)
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: not a weights version file", path);
    else if (get_u64(head + 8) != version || get_u64(head + 16) != (uint64_t)len)
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: holds version %llu of %llu bytes, expected %llu of %zu",
                      path, (unsigned long long)get_u64(head + 8),
                      (unsigned long long)get_u64(head + 16), (unsigned long long)version, len);
    else if (fread(w, 1, len, f) != len)
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: truncated (fewer than %zu bytes of weights)", path, len);
    else if (fgetc(f) != EOF)
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: trailing bytes after the weights", path);
    else if (aha_blob_checksum(w, len, sum) != AHA_OK || memcmp(sum, head + 24, sizeof sum) != 0)
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: checksum mismatch (corrupt weights)", path);
    fclose(f);
    return rc;
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

static cJSON *counter_object(const char *const *names, const double *values, int n) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < n; i++)
        if (!cJSON_AddNumberToObject(o, names[i], values[i])) {
            cJSON_Delete(o);
            return NULL;
        }
    return o;
}

int aha_run_state_save_counters(const char *dir, int step, const char *const *names,
                                const double *values, int n) {
    if (!dir || n < 0 || (n > 0 && (!names || !values)))
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_save_counters: bad argument");
    char path[1100];
    snprintf(path, sizeof path, "%s", dir);
    AHA_TRY(aha_mkdir_p(path));
    cJSON *o = cJSON_CreateObject(), *now = counter_object(names, values, n);
    char *text = NULL;
    if (o && now) {
        cJSON_AddNumberToObject(o, "step", step);
        cJSON_AddItemToObject(o, "counters", now);
        now = NULL;
        text = cJSON_Print(o);
    }
    cJSON_Delete(o);
    cJSON_Delete(now);
    if (!text) return AHA_FAIL(AHA_ERR_NOMEM, "counters");
    snprintf(path, sizeof path, "%s/counters.json", dir);
    const void *parts[] = {text};
    const size_t lens[] = {strlen(text)};
    int rc = aha_write_file_atomic(path, parts, lens, 1);
    free(text);
    return rc;
}

int aha_run_state_load_counters(const char *dir, int step, const char *const *names, double *values,
                                int n) {
    if (!dir || n < 0 || (n > 0 && (!names || !values)))
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_load_counters: bad argument");
    char path[1100], buf[16384];
    snprintf(path, sizeof path, "%s/counters.json", dir);
    FILE *f = fopen(path, "r");
    if (!f) return AHA_OK; /* a checkpoint from before counters were kept */
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    cJSON *o = cJSON_Parse(buf);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "step"),
                *set = cJSON_GetObjectItemCaseSensitive(o, "counters");
    int rc = AHA_OK;
    if (!cJSON_IsNumber(st) || st->valuedouble != step || !cJSON_IsObject(set))
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: no counters for step %d (the checkpoint's)", path, step);
    for (int i = 0; i < n && rc == AHA_OK; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(set, names[i]);
        if (!v) continue;
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 9e18))
            rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: %s must be a count", path, names[i]);
        else
            values[i] = v->valuedouble;
    }
    cJSON_Delete(o);
    return rc;
}
