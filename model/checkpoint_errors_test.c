/* checkpoint_errors: what a checkpoint directory must not get past aha_checkpoint_load — a
 * config.json with sizes out of range (refused before any allocation, naming the file and the
 * key) or keys that disagree with each other, and weights holding NaN or Inf (refused naming the
 * file and the tensor); aha_checkpoint_save refuses non-finite weights too. */
#include "model/checkpoint.h"
#include "model/model.h"
#include "core/err.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TEXT (config.json as written) with the value of "KEY" replaced by VALUE; static buffer. */
static const char *with_value(const char *text, const char *key, const char *value) {
    static char out[8192];
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *k = strstr(text, pat);
    if (!k) return NULL;
    const char *v = k + strlen(pat);
    while (*v == ' ' || *v == '\t')
        v++;
    const char *e = v + strcspn(v, ",\n}");
    snprintf(out, sizeof out, "%.*s%s%s", (int)(v - text), text, value, e);
    return out;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

typedef struct {
    const char *key, *value; /* config.json edit */
    const char *want;        /* in the message (besides the path) */
} json_case_t;

static void test_config_json(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    char path[] = "/tmp/aha_ckpt_cfg_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    REQUIRE_OK(aha_model_config_write_json(&c, path));
    char good[8192];
    snprintf(good, sizeof good, "%s", slurp(path));
    remove(path);
    aha_model_config_t back;
    REQUIRE_OK(aha_model_config_parse_json(good, strlen(good), "ck/config.json", &back));
    static const json_case_t cases[] = {
        /* sizes: bounded by the field table before anything loops or allocates */
        {"num_hidden_layers", "1000000000", "\"num_hidden_layers\" must be in [1, 64]"},
        {"max_position_embeddings", "2147483647", "\"max_position_embeddings\" must be in"},
        {"hidden_size", "-16", "\"hidden_size\" must be in"},
        {"n_routed_experts", "100000", "\"n_routed_experts\" must be in"},
        {"intermediate_size", "1e12", "\"intermediate_size\""},
        {"rope_theta", "1e300", "\"rope_theta\" must be in"},
        {"rms_norm_eps", "-1", "\"rms_norm_eps\" must be in"},
        /* rules between keys name the config.json keys */
        {"num_attention_heads", "3",
         "hidden_size (16) must be divisible by num_attention_heads (3)"},
        {"num_experts_per_tok", "5", "num_experts_per_tok must be in [1, n_routed_experts=4]"},
        {"first_k_dense_replace", "3", "first_k_dense_replace must be in [0, num_hidden_layers=2]"},
        {"moe_intermediate_size", "0", "moe_intermediate_size must be > 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *text = with_value(good, cases[i].key, cases[i].value);
        REQUIRE(text, "no key %s in config.json", cases[i].key);
        aha_model_config_t out;
        memset(&out, 0x5A, sizeof out);
        aha_model_config_t snap = out;
        int rc = aha_model_config_parse_json(text, strlen(text), "ck/config.json", &out);
        const char *msg = aha_last_error();
        CHECK(rc == AHA_ERR_CONFIG, "%s=%s: rc %d (%s)", cases[i].key, cases[i].value, rc, msg);
        CHECK(!strncmp(msg, "ck/config.json: ", 16) && strstr(msg, cases[i].want),
              "%s=%s: message '%s' lacks the file or '%s'", cases[i].key, cases[i].value, msg,
              cases[i].want);
        CHECK(!memcmp(&out, &snap, sizeof out), "%s: out written on error", cases[i].key);
    }
}

/* Saves a tiny model to DIR, then poisons value IDX of the parameters (or of the expert bias with
 * BIAS) with V in the saved file by re-saving through a model whose check is bypassed. */
static void test_nonfinite(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    aha_model_t *m = NULL;
    REQUIRE_OK(aha_model_new(&c, &m));
    aha_rng_t rng;
    aha_rng_seed(&rng, 7);
    tu_init(m, &rng, 0.02f, 0.01f);
    char dir[] = "/tmp/aha_ckpt_nan_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    REQUIRE_OK(aha_checkpoint_save(m, dir));
    aha_model_t *back = NULL;
    REQUIRE_OK(aha_checkpoint_load(dir, &back));
    aha_model_destroy(&back);

    const float poison[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        /* saving refuses the poisoned weights and leaves the good checkpoint in place */
        const size_t at = 37 + (size_t)k * 1000 % m->n_params;
        const float keep = m->params[at];
        m->params[at] = poison[k];
        int rc = aha_checkpoint_save(m, dir);
        CHECK(rc == AHA_ERR_FORMAT && strstr(aha_last_error(), dir) &&
                  strstr(aha_last_error(), "non-finite"),
              "save with %g: rc %d (%s)", (double)poison[k], rc, aha_last_error());
        REQUIRE_OK(aha_checkpoint_load(dir, &back));
        aha_model_destroy(&back);
        m->params[at] = keep;
    }
    /* a file poisoned behind our back: write the safetensors directly */
    char st[512];
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    for (int k = 0; k < 2; k++) {
        aha_st_writer_t *w = aha_st_writer_new();
        REQUIRE(w, "writer");
        const size_t nt = aha_model_tensor_count(&c);
        float *copy = malloc(m->n_params * sizeof *copy);
        REQUIRE(copy, "malloc");
        memcpy(copy, m->params, m->n_params * sizeof *copy);
        float *bias = malloc((size_t)c.n_layers * c.n_routed_experts * sizeof *bias);
        REQUIRE(bias, "malloc");
        memcpy(bias, m->expert_bias, (size_t)c.n_layers * c.n_routed_experts * sizeof *bias);
        if (k == 0)
            for (int j = 0; j < 16; j++)
                copy[100 + j] = NAN; /* 16 NaN weights, as in the report */
        else
            bias[1] = INFINITY;
        for (size_t i = 0; i < nt; i++) {
            aha_tensor_info_t ti;
            REQUIRE_OK(aha_model_tensor_info(&c, i, &ti));
            REQUIRE_OK(
                aha_st_writer_add(w, ti.name, AHA_ST_F32, ti.ndim, ti.shape, copy + ti.offset));
            int l = -1, n = 0;
            if (sscanf(ti.name, "model.layers.%d.mlp.gate.weight%n", &l, &n) == 1 && !ti.name[n]) {
                char name[128];
                int64_t shape[1] = {c.n_routed_experts};
                snprintf(name, sizeof name, "model.layers.%d.mlp.gate.e_score_correction_bias", l);
                REQUIRE_OK(aha_st_writer_add(w, name, AHA_ST_F32, 1, shape,
                                             bias + (size_t)l * c.n_routed_experts));
            }
        }
        REQUIRE_OK(aha_st_writer_save(w, st));
        aha_st_writer_destroy(&w);
        free(copy);
        free(bias);
        back = NULL;
        int rc = aha_checkpoint_load(dir, &back);
        CHECK(rc == AHA_ERR_FORMAT && back == NULL, "poisoned file %d loaded: rc %d", k, rc);
        CHECK(strstr(aha_last_error(), st) && strstr(aha_last_error(), "non-finite") &&
                  strstr(aha_last_error(),
                         k == 0 ? "has 16 non-finite values" : "e_score_correction_bias"),
              "poisoned file %d: message '%s'", k, aha_last_error());
    }
    aha_model_destroy(&m);
    CHECK(tu_rm_rf(dir) == 0, "cleanup");
}

static const tu_case_t cases[] = {
    {"config_json", test_config_json},
    {"nonfinite", test_nonfinite},
};

TU_MAIN(cases)
