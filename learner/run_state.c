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

static int save_state_json(const char *dir, int n_shards, int step, uint64_t next_index) {
    char path[1100], json[200];
    int n = n_shards > 1 ? snprintf(json, sizeof json,
                                    "{\n  \"step\": %d,\n  \"next_index\": %llu,\n  "
                                    "\"optimizer_shards\": %d\n}\n",
                                    step, (unsigned long long)next_index, n_shards)
                         : snprintf(json, sizeof json, "{\n  \"step\": %d,\n  \"next_index\": %llu\n}\n",
                                    step, (unsigned long long)next_index);
    snprintf(path, sizeof path, "%s/state.json", dir);
    const void *parts[] = {json};
    const size_t lens[] = {(size_t)n};
    return aha_write_file_atomic(path, parts, lens, 1);
}

int aha_run_state_save(const char *dir, const aha_model_t *m, const aha_adamw_t *opt, int step,
                       uint64_t next_index) {
    if (!dir || !m || !opt || step < 0)
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_save: bad argument");
    char path[1100];
    AHA_TRY(aha_checkpoint_save(m, dir));
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    AHA_TRY(aha_adamw_save(opt, path));
    return save_state_json(dir, 1, step, next_index);
}

int aha_run_state_save_sharded(const char *dir, const aha_model_t *m, int n_shards, int step,
                               uint64_t next_index) {
    if (!dir || !m || step < 0 || n_shards < 2)
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_save_sharded: bad argument");
    AHA_TRY(aha_checkpoint_save(m, dir));
    return save_state_json(dir, n_shards, step, next_index);
}

int aha_run_state_stage_path(const char *dir, char *tmp, size_t cap) {
    if (!dir || !tmp || (size_t)snprintf(tmp, cap, "%s.tmp", dir) >= cap)
        return AHA_FAIL(AHA_ERR_RANGE, "checkpoint path too long");
    return AHA_OK;
}

static int read_state_json(const char *dir, int *step, uint64_t *next_index, int *shards) {
    char path[1100], buf[512];
    snprintf(path, sizeof path, "%s/state.json", dir);
    FILE *f = fopen(path, "r");
    if (!f) return AHA_FAIL(AHA_ERR_IO, "%s: cannot open (no checkpoint to resume from)", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "step"),
                *p = cJSON_GetObjectItemCaseSensitive(o, "next_index"),
                *h = cJSON_GetObjectItemCaseSensitive(o, "optimizer_shards");
    int ok = cJSON_IsNumber(s) && cJSON_IsNumber(p) && s->valuedouble >= 0 &&
             s->valuedouble < 2e9 && p->valuedouble >= 0 && p->valuedouble < 9e18 &&
             (!h || (cJSON_IsNumber(h) && h->valuedouble >= 2 && h->valuedouble <= 1 << 20 &&
                     h->valuedouble == (int)h->valuedouble));
    if (ok)
        *step = (int)s->valuedouble, *next_index = (uint64_t)p->valuedouble,
        *shards = h ? (int)h->valuedouble : 0;
    cJSON_Delete(o);
    return ok ? AHA_OK
              : AHA_FAIL(AHA_ERR_FORMAT,
                         "%s: needs numeric step and next_index (and optimizer_shards >= 2 if "
                         "present)",
                         path);
}

/* ---- optimizer shards (ZeRO-1) ---- */

enum { SHARD_WORDS = 6, SHARD_HEADER = 8 + 8 * SHARD_WORDS + 2 * AHA_BLOB_SUM_BYTES };
static const char shard_magic[8] = {'A', 'H', 'A', 'O', 'P', 'T', '0', '1'};

static void put_u64(uint8_t *p, uint64_t v);
static uint64_t get_u64(const uint8_t *p);

static void shard_path(const char *dir, int rank, int n, char *path, size_t cap) {
    snprintf(path, cap, "%s/optimizer-%d-of-%d.bin", dir, rank, n);
}

int aha_run_state_save_shard(const char *dir, const aha_adamw_t *opt, int rank, int n_ranks) {
    if (!dir || !opt || n_ranks < 1 || rank < 0 || rank >= n_ranks)
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_save_shard: bad argument");
    char path[1100];
    shard_path(dir, rank, n_ranks, path, sizeof path);
    uint8_t head[SHARD_HEADER];
    memcpy(head, shard_magic, 8);
    const uint64_t w[SHARD_WORDS] = {(uint64_t)rank, (uint64_t)n_ranks, opt->offset,
                                     opt->n,         opt->total,        (uint64_t)opt->t};
    for (int i = 0; i < SHARD_WORDS; i++)
        put_u64(head + 8 + 8 * i, w[i]);
    const size_t bytes = opt->n * sizeof(float);
    uint8_t *sums = head + 8 + 8 * SHARD_WORDS;
    AHA_TRY(aha_blob_checksum(opt->m, bytes, sums));
    AHA_TRY(aha_blob_checksum(opt->v, bytes, sums + AHA_BLOB_SUM_BYTES));
    const void *parts[] = {head, opt->m, opt->v};
    const size_t lens[] = {sizeof head, bytes, bytes};
    return aha_write_file_atomic(path, parts, lens, 3);
}

/* Reads shard RANK of N of DIR: its header into w[], and (if M is not NULL) its moments into
 * m[count], v[count] (checked against the checksums). AHA_ERR_IO if missing, AHA_ERR_FORMAT
 * naming the file otherwise. */
static int read_shard(const char *dir, int rank, int n, uint64_t w[SHARD_WORDS], float **m,
                      float **v) {
    char path[1100];
    shard_path(dir, rank, n, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return AHA_FAIL(AHA_ERR_IO, "%s: cannot open (optimizer shard %d of %d): %s", path, rank,
                        n, strerror(errno));
    uint8_t head[SHARD_HEADER];
    int rc = AHA_OK;
    float *bm = NULL, *bv = NULL;
    if (fread(head, 1, sizeof head, f) != sizeof head) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: truncated (no complete header)", path);
        goto done;
    }
    if (memcmp(head, shard_magic, 8) != 0) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: not an optimizer shard", path);
        goto done;
    }
    for (int i = 0; i < SHARD_WORDS; i++)
        w[i] = get_u64(head + 8 + 8 * i);
    if (w[0] != (uint64_t)rank || w[1] != (uint64_t)n || w[2] > w[4] || w[3] > w[4] - w[2] ||
        w[3] > ((size_t)1 << 40)) {
        rc = AHA_FAIL(AHA_ERR_FORMAT,
                      "%s: header says shard %llu of %llu, [%llu, +%llu) of %llu parameters", path,
                      (unsigned long long)w[0], (unsigned long long)w[1], (unsigned long long)w[2],
                      (unsigned long long)w[3], (unsigned long long)w[4]);
        goto done;
    }
    const size_t count = (size_t)w[3], bytes = count * sizeof(float);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size != sizeof head + 2 * (uint64_t)bytes) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: %lld bytes, expected %zu (truncated or trailing data)",
                      path, (long long)st.st_size, sizeof head + 2 * bytes);
        goto done;
    }
    if (!m) goto done;
    bm = malloc(bytes ? bytes : 1);
    bv = malloc(bytes ? bytes : 1);
    if (!bm || !bv) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "%s: %zu floats", path, 2 * count);
        goto done;
    }
    uint8_t sum[AHA_BLOB_SUM_BYTES];
    const uint8_t *sums = head + 8 + 8 * SHARD_WORDS;
    if (fread(bm, 1, bytes, f) != bytes || fread(bv, 1, bytes, f) != bytes)
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: truncated (fewer than %zu moments)", path, 2 * count);
    else if (aha_blob_checksum(bm, bytes, sum) != AHA_OK || memcmp(sum, sums, sizeof sum) != 0 ||
             aha_blob_checksum(bv, bytes, sum) != AHA_OK ||
             memcmp(sum, sums + AHA_BLOB_SUM_BYTES, sizeof sum) != 0)
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: checksum mismatch (corrupt optimizer shard)", path);
done:
    fclose(f);
    if (rc == AHA_OK && m) {
        *m = bm, *v = bv;
    } else {
        free(bm);
        free(bv);
    }
    return rc;
}

/* The moments of OPT's range from the N shards of DIR (any partition): every header is read and
 * must tile [0, total) in rank order with one step count; the shards overlapping OPT's range are
 * read whole and checked. OPT changes only if everything is right. */
static int load_shards(const char *dir, int n, aha_adamw_t *opt) {
    const size_t lo = opt->offset, hi = opt->offset + opt->n;
    float *m = malloc(opt->n ? opt->n * sizeof(float) : 1),
          *v = malloc(opt->n ? opt->n * sizeof(float) : 1);
    if (!m || !v) {
        free(m), free(v);
        return AHA_FAIL(AHA_ERR_NOMEM, "optimizer shards");
    }
    int rc = AHA_OK;
    uint64_t at = 0, t = 0;
    char path[1100];
    for (int r = 0; r < n && rc == AHA_OK; r++) {
        uint64_t w[SHARD_WORDS];
        rc = read_shard(dir, r, n, w, NULL, NULL);
        if (rc != AHA_OK) break;
        shard_path(dir, r, n, path, sizeof path);
        if (w[4] != opt->total || w[2] != at || (r > 0 && w[5] != t)) {
            rc = AHA_FAIL(AHA_ERR_FORMAT,
                          "%s: shard [%llu, +%llu) of %llu parameters at step %llu does not follow "
                          "the previous shards (expected offset %llu of %zu parameters, step "
                          "%llu)",
                          path, (unsigned long long)w[2], (unsigned long long)w[3],
                          (unsigned long long)w[4], (unsigned long long)w[5],
                          (unsigned long long)at, opt->total, (unsigned long long)t);
            break;
        }
        t = w[5];
        const size_t s0 = (size_t)w[2], s1 = (size_t)(w[2] + w[3]);
        at = s1;
        const size_t a = s0 > lo ? s0 : lo, b = s1 < hi ? s1 : hi;
        if (a >= b) continue;
        float *sm = NULL, *sv = NULL;
        rc = read_shard(dir, r, n, w, &sm, &sv);
        if (rc != AHA_OK) break;
        memcpy(m + (a - lo), sm + (a - s0), (b - a) * sizeof(float));
        memcpy(v + (a - lo), sv + (a - s0), (b - a) * sizeof(float));
        free(sm), free(sv);
    }
    if (rc == AHA_OK && at != opt->total) {
        shard_path(dir, n - 1, n, path, sizeof path);
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: the %d shards end at parameter %llu of %zu", path, n,
                      (unsigned long long)at, opt->total);
    }
    if (rc == AHA_OK) {
        memcpy(opt->m, m, opt->n * sizeof(float));
        memcpy(opt->v, v, opt->n * sizeof(float));
        opt->t = (int64_t)t;
    }
    free(m), free(v);
    return rc;
}

/* The moments of OPT's range from DIR/optimizer.safetensors (a whole optimizer). */
static int load_whole(const char *dir, aha_adamw_t *opt) {
    char path[1100];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    if (opt->offset == 0 && opt->n == opt->total) return aha_adamw_load(opt, path);
    aha_adamw_t *all = NULL;
    AHA_TRY(aha_adamw_new(opt->total, &all));
    int rc = aha_adamw_load(all, path);
    if (rc == AHA_OK) {
        memcpy(opt->m, all->m + opt->offset, opt->n * sizeof(float));
        memcpy(opt->v, all->v + opt->offset, opt->n * sizeof(float));
        opt->t = all->t;
    }
    aha_adamw_destroy(&all);
    return rc;
}

int aha_run_state_load_optimizer(const char *dir, aha_adamw_t *opt) {
    if (!dir || !opt) return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_load_optimizer: NULL argument");
    int s = 0, shards = 0;
    uint64_t next = 0;
    AHA_TRY(read_state_json(dir, &s, &next, &shards));
    return shards ? load_shards(dir, shards, opt) : load_whole(dir, opt);
}

int aha_run_state_load(const char *dir, aha_model_t *m, aha_adamw_t *opt, int *step,
                       uint64_t *next_index) {
    if (!dir || !m || !opt || !step || !next_index)
        return AHA_FAIL(AHA_ERR_ARG, "aha_run_state_load: NULL argument");
    int s = 0, shards = 0;
    uint64_t next = 0;
    AHA_TRY(aha_run_state_recover(dir));
    AHA_TRY(read_state_json(dir, &s, &next, &shards));
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
    AHA_TRY(shards ? load_shards(dir, shards, opt) : load_whole(dir, opt));
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
    int rc = aha_write_text_atomic(path, text);
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
