/* checkpoint_roundtrip: save -> load is bit-identical (parameters and expert biases), save -> load
 * -> save gives byte-identical files, and the PyTorch reference loads the C checkpoint and computes
 * the same logits (tests/reference/check_checkpoint.py, run with AHA_PYTHON). */
#include "core/buf.h"
#include "core/err.h"
#include "core/safetensors.h"
#include "core/testutil.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_save_load_torch(void) {
    char tmpl[] = "/tmp/aha_ckpt_XXXXXX";
    char *root = mkdtemp(tmpl);
    if (!root) {
        CHECK(0, "mkdtemp");
        return;
    }
    char d1[256], d2[256], p1[300], p2[300];
    snprintf(d1, sizeof d1, "%s/a", root);
    snprintf(d2, sizeof d2, "%s/b", root);
    aha_model_config_t cfg;
    aha_model_config_default(&cfg);
    aha_model_t *m = NULL, *m2 = NULL;
    CHECK(aha_model_new(&cfg, &m) == 0, "model_new");
    aha_rng_t rng;
    aha_rng_seed(&rng, 42);
    aha_model_init_random(m, &rng);
    const size_t nb = (size_t)cfg.n_layers * cfg.n_routed_experts;
    for (size_t i = 0; i < nb; i++)
        m->expert_bias[i] = 0.05f * aha_rng_normal(&rng);
    CHECK(aha_checkpoint_save(m, d1) == 0, "save: %s", aha_last_error());
    CHECK(aha_checkpoint_load(d1, &m2) == 0, "load: %s", aha_last_error());
    if (m2) {
        CHECK(m2->n_params == m->n_params &&
                  !memcmp(m2->params, m->params, sizeof(float) * m->n_params),
              "parameters bit-identical");
        CHECK(!memcmp(m2->expert_bias, m->expert_bias, sizeof(float) * nb),
              "expert biases bit-identical");
        CHECK(!memcmp(&m2->cfg, &m->cfg, sizeof cfg), "config identical");
        CHECK(aha_checkpoint_save(m2, d2) == 0, "second save");
        snprintf(p1, sizeof p1, "%s/model.safetensors", d1);
        snprintf(p2, sizeof p2, "%s/model.safetensors", d2);
        CHECK(aha_files_equal(p1, p2), "model.safetensors byte-identical after save-load-save");
        snprintf(p1, sizeof p1, "%s/config.json", d1);
        snprintf(p2, sizeof p2, "%s/config.json", d2);
        CHECK(aha_files_equal(p1, p2), "config.json byte-identical after save-load-save");
    }
    /* logits on a fixed batch for the PyTorch side */
    enum { B = 2, T = 20 };
    int tokens[B * T], lengths[B] = {20, 13};
    for (int i = 0; i < B * T; i++)
        tokens[i] = (int)(aha_rng_u64(&rng) % (uint64_t)cfg.vocab_size);
    aha_acts_t *a = NULL;
    CHECK(aha_acts_new(m, B, T, &a) == 0, "acts");
    aha_batch_t batch = {B, T, tokens, lengths, NULL};
    CHECK(aha_forward(m, a, &batch) == 0, "forward");
    aha_st_writer_t *w = aha_st_writer_new();
    int64_t s_tok[2] = {B, T}, s_len[1] = {B}, s_log[3] = {B, T, cfg.vocab_size};
    CHECK(w && aha_st_writer_add(w, "tokens", AHA_ST_I32, 2, s_tok, tokens) == 0 &&
              aha_st_writer_add(w, "lengths", AHA_ST_I32, 1, s_len, lengths) == 0 &&
              aha_st_writer_add(w, "logits", AHA_ST_F32, 3, s_log, aha_acts_logits(a)) == 0,
          "writer");
    snprintf(p1, sizeof p1, "%s/c_logits.safetensors", d1);
    CHECK(aha_st_writer_save(w, p1) == 0, "save logits");
    aha_st_writer_destroy(&w);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s tests/reference/check_checkpoint.py %s", AHA_PYTHON, d1);
    int st = system(cmd);
    CHECK(st == 0,
          "PyTorch reference disagrees with the C checkpoint or could not run (%s): status %d", cmd,
          st);
    aha_acts_destroy(&a);
    aha_model_destroy(&m);
    aha_model_destroy(&m2);
    if (tu_rm_rf(root) != 0) fprintf(stderr, "warning: could not remove %s\n", root);
}

static const tu_case_t cases[] = {
    {"save_load_torch", test_save_load_torch},
};

TU_MAIN(cases)
