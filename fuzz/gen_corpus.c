/* fuzz/gen_corpus.c — writes the seed corpora of the fuzz targets: small valid inputs (and a few
 * near misses) for each, into DIR/<target>/seed-<name>. Usage: fuzz_gen_corpus DIR SRC (SRC: the
 * source tree, for the configs/ YAML files). `make fuzz-corpus` runs it into fuzz/corpus; reproducers of
 * findings (fuzz/corpus/<target>/crash-*) are committed beside the seeds by hand. */
#include "core/config.h"
#include "core/err.h"
#include "core/safetensors.h"
#include "core/wire.h"
#include "main/run_config.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *g_dir;

static void put(const char *target, const char *name, const void *data, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/seed-%s", g_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void put_str(const char *target, const char *name, const char *s) {
    put(target, name, s, strlen(s));
}

/* Copies file PATH into the corpus of TARGET. */
static void put_file(const char *target, const char *name, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    put(target, name, buf, n);
}

static void die_on(int rc) {
    if (rc != AHA_OK) {
        fprintf(stderr, "gen_corpus: %s\n", aha_last_error());
        exit(1);
    }
}

/* ---- wire and msg: envelopes and bodies ---- */

static void put_env(const char *name, Aha__Envelope *env) {
    size_t n = aha__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n + 1);
    aha__envelope__pack(env, buf);
    put("wire", name, buf, n);
    free(buf);
}

/* a body for fuzz_msg: one selector byte (0 Group, 1 ScoredGroup, 2 Lease), then the message */
static void put_body(const char *name, int sel, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    buf[0] = (uint8_t)sel;
    protobuf_c_message_pack(m, buf + 1);
    put("msg", name, buf, n + 1);
    free(buf);
}

/* A group of S samples (prompt 3 + response 2 tokens) fitting fuzz_wire's learner: vocab, 32
 * tokens, routing record of 2 layers x top-2 over 4 experts when ROUTING. */
typedef struct {
    Aha__Group g;
    Aha__Problem p;
    uint32_t idx[4], plen[4], tlen[4], fin[4], tok[20];
    float lp[8];
    int32_t ex[4 * 4 * 2 * 2];
    int32_t nums[4];
} group_t;

static void make_group(group_t *x, int S, int routing, int countdown) {
    memset(x, 0, sizeof *x);
    aha__group__init(&x->g);
    aha__problem__init(&x->p);
    x->g.lease_id = 0x1234567890abcdefULL;
    x->g.prompt_id = 7;
    x->g.policy_version = 3;
    for (int s = 0; s < S; s++) {
        x->idx[s] = (uint32_t)s;
        x->plen[s] = 3;
        x->tlen[s] = 5;
        x->fin[s] = (uint32_t)(s & 1);
        for (int t = 0; t < 5; t++)
            x->tok[s * 5 + t] = (uint32_t)((AHA_TOK_FIRST_CHAR + 7 * s + t) % AHA_TOK_VOCAB);
        x->lp[s * 2] = -0.5f;
        x->lp[s * 2 + 1] = -1.25f;
    }
    x->g.n_sample_index = x->g.n_prompt_len = x->g.n_total_len = x->g.n_finished = (size_t)S;
    x->g.sample_index = x->idx;
    x->g.prompt_len = x->plen;
    x->g.total_len = x->tlen;
    x->g.finished = x->fin;
    x->g.n_tokens = (size_t)S * 5;
    x->g.tokens = x->tok;
    x->g.n_logprobs = (size_t)S * 2;
    x->g.logprobs = x->lp;
    if (routing) {
        x->g.n_layers = 2;
        x->g.top_k = 2;
        x->g.n_expert_ids = (size_t)S * 4 * 2 * 2; /* fed positions x layers x k */
        for (size_t i = 0; i < x->g.n_expert_ids; i++)
            x->ex[i] = (int32_t)(i % 4);
        x->g.expert_ids = x->ex;
    }
    if (countdown) {
        x->p.kind = "countdown";
        x->nums[0] = 3, x->nums[1] = 7, x->nums[2] = 25;
        x->p.n_numbers = 3;
        x->p.numbers = x->nums;
        x->p.target = 46;
    } else {
        x->p.kind = "addition";
        x->p.expected = 46;
    }
    x->g.problem = &x->p;
    x->g.actor = "actor/0";
}

/* Writes ENV with the body FIELD (case BODY) = MSG as the wire seed named FIELD. */
#define PUT_ENV(field, BODY, msg)                                                                  \
    do {                                                                                           \
        env.body_case = AHA__ENVELOPE__BODY_##BODY;                                                \
        env.field = (msg);                                                                         \
        put_env(#field, &env);                                                                     \
    } while (0)

static void gen_wire(void) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    env.protocol = AHA_WIRE_PROTOCOL;
    env.sender = "actor/0";
    env.seq = 42;

    Aha__Hello hello = AHA__HELLO__INIT;
    char *kinds[] = {"addition", "countdown"};
    hello.role = "verifier";
    hello.name = "verifier/0";
    hello.version = "1";
    hello.n_reward_kinds = 2;
    hello.reward_kinds = kinds;
    hello.capacity = 4;
    PUT_ENV(hello, HELLO, &hello);

    Aha__Heartbeat hb = AHA__HEARTBEAT__INIT;
    hb.in_flight = 1;
    hb.done = 9;
    PUT_ENV(heartbeat, HEARTBEAT, &hb);

    Aha__LeaseRequest lr = AHA__LEASE_REQUEST__INIT;
    lr.max_groups = 2;
    lr.policy_version = 3;
    PUT_ENV(lease_request, LEASE_REQUEST, &lr);

    Aha__Lease lease = AHA__LEASE__INIT;
    lease.lease_id = 0x1234567890abcdefULL;
    lease.prompt_id = 7;
    lease.group_size = 4;
    lease.min_policy_version = 3;
    lease.deadline_ms = 10000;
    PUT_ENV(lease, LEASE, &lease);
    put_body("lease", 2, &lease.base);

    static group_t g;
    const struct {
        const char *name;
        int S, routing, countdown;
    } groups[] = {{"group_moe", 4, 1, 0}, {"group_dense", 4, 0, 1}, {"group_small", 2, 1, 1}};
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++) {
        make_group(&g, groups[i].S, groups[i].routing, groups[i].countdown);
        env.body_case = AHA__ENVELOPE__BODY_GROUP;
        env.group = &g.g;
        put_env(groups[i].name, &env);
        put_body(groups[i].name, 0, &g.g.base);
    }

    make_group(&g, 4, 1, 1);
    Aha__ScoredGroup sg = AHA__SCORED_GROUP__INIT;
    double total[4] = {1, 0.1, 0, 1}, format[4] = {1, 1, 0, 1}, acc[4] = {1, 0, 0, 1},
           lang[4] = {0.5, 1, 0, 0.25}, over[4] = {0, -0.5, -1, 0};
    sg.group = &g.g;
    sg.n_total = sg.n_format = sg.n_accuracy = sg.n_language = sg.n_overlong = 4;
    sg.total = total;
    sg.format = format;
    sg.accuracy = acc;
    sg.language = lang;
    sg.overlong = over;
    sg.verifier = "verifier/0@1";
    PUT_ENV(scored_group, SCORED_GROUP, &sg);
    put_body("scored_group", 1, &sg.base);

    Aha__WeightAnnounce wa = AHA__WEIGHT_ANNOUNCE__INIT;
    uint8_t sum[32];
    for (int i = 0; i < 32; i++)
        sum[i] = (uint8_t)(i * 37);
    wa.version = 3;
    wa.total_bytes = 1 << 20;
    wa.chunk_bytes = 1 << 16;
    wa.checksum.len = 32;
    wa.checksum.data = sum;
    PUT_ENV(weight_announce, WEIGHT_ANNOUNCE, &wa);

    Aha__ChunkRequest cr = AHA__CHUNK_REQUEST__INIT;
    cr.version = 3;
    cr.index = 5;
    PUT_ENV(chunk_request, CHUNK_REQUEST, &cr);

    Aha__Chunk ch = AHA__CHUNK__INIT;
    ch.version = 3;
    ch.index = 5;
    ch.data.len = 16;
    ch.data.data = sum;
    PUT_ENV(chunk, CHUNK, &ch);

    Aha__Control ctl = AHA__CONTROL__INIT;
    char *args[] = {"verifier/1"};
    ctl.command = "verifier-use";
    ctl.n_args = 1;
    ctl.args = args;
    ctl.ok = 1;
    ctl.text = "ok";
    PUT_ENV(control, CONTROL, &ctl);

    env.protocol = 2; /* a near miss */
    put_env("control_protocol2", &env);
}

/* ---- safetensors ---- */

static void put_st(const char *name, aha_st_writer_t *w) {
    char path[1024];
    snprintf(path, sizeof path, "%s/safetensors", g_dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/safetensors/seed-%s", g_dir, name);
    die_on(aha_st_writer_save(w, path));
    aha_st_writer_destroy(&w);
}

static void gen_safetensors(void) {
    static float f32[12];
    static double f64[4] = {1, -2, 3.5, 1e300};
    static int32_t i32[6] = {1, -1, 2, -2, 3, 2147483647};
    static int64_t i64[2] = {-9, 9};
    static uint8_t u8[5] = {0, 1, 2, 254, 255};
    static uint16_t half[4] = {0x3c00, 0xc000, 0x7c00, 0x0001};
    for (int i = 0; i < 12; i++)
        f32[i] = (float)i * 0.5f - 2;

    aha_st_writer_t *w = aha_st_writer_new();
    die_on(aha_st_writer_meta(w, "format", "pt"));
    die_on(
        aha_st_writer_add(w, "model.embed_tokens.weight", AHA_ST_F32, 2, (int64_t[]){3, 4}, f32));
    die_on(aha_st_writer_add(w, "model.norm.weight", AHA_ST_F32, 1, (int64_t[]){4}, f32 + 8));
    put_st("f32", w);

    w = aha_st_writer_new();
    die_on(aha_st_writer_add(w, "a.f64", AHA_ST_F64, 1, (int64_t[]){4}, f64));
    die_on(aha_st_writer_add(w, "b.i32", AHA_ST_I32, 2, (int64_t[]){2, 3}, i32));
    die_on(aha_st_writer_add(w, "c.i64", AHA_ST_I64, 1, (int64_t[]){2}, i64));
    die_on(aha_st_writer_add(w, "d.u8", AHA_ST_U8, 1, (int64_t[]){5}, u8));
    die_on(aha_st_writer_add(w, "e.f16", AHA_ST_F16, 2, (int64_t[]){2, 2}, half));
    die_on(aha_st_writer_add(w, "f.bf16", AHA_ST_BF16, 1, (int64_t[]){4}, half));
    die_on(aha_st_writer_add(w, "g.scalar", AHA_ST_F32, 0, NULL, f32));
    die_on(aha_st_writer_add(w, "h.empty", AHA_ST_F32, 2, (int64_t[]){0, 3}, f32));
    put_st("dtypes", w);

    w = aha_st_writer_new();
    die_on(aha_st_writer_meta(w, "step", "12"));
    put_st("empty", w);
}

/* ---- config.json ---- */

static void put_json(const char *name, const aha_model_config_t *c) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config_json", g_dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/config_json/seed-%s", g_dir, name);
    die_on(aha_model_config_write_json(c, path));
}

static void gen_config_json(void) {
    aha_model_config_t c;
    aha_model_config_default(&c);
    put_json("default", &c);
    c.n_routed_experts = 0;
    c.n_dense_layers = c.n_layers;
    put_json("dense", &c);
    aha_model_config_default(&c);
    c.score_func = AHA_SCORE_SOFTMAX;
    c.n_dense_layers = 1;
    c.norm_topk_prob = 0;
    put_json("softmax", &c);
}

/* ---- YAML config + --set ---- */

static void gen_config_yaml(const char *src) {
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/demo.yaml", src);
    put_file("config_yaml", "demo", path);
    snprintf(path, sizeof path, "%s/configs/countdown.yaml", src);
    put_file("config_yaml", "countdown", path);

    static aha_run_config_t rc;
    die_on(aha_cfg_load_string(&rc, sizeof rc, aha_run_config_fields, aha_run_config_n_fields, NULL,
                               NULL, NULL, 0));
    snprintf(path, sizeof path, "%s/config_yaml", g_dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/config_yaml/seed-all_keys", g_dir);
    die_on(aha_cfg_save(&rc, aha_run_config_fields, aha_run_config_n_fields, path));

    /* YAML, then NUL-separated --set overrides */
    static const char sets[] = "seed: 3\nmodel:\n  dim: 32\n  n_heads: 4\n"
                               "\0task.kind=countdown\0rl.loss=dapo\0model.score_func=softmax"
                               "\0rl.r3=false\0corpus.p_direct=0.5";
    put("config_yaml", "sets", sets, sizeof sets - 1);
    static const char only_sets[] = "\0run_dir=runs/x\0eval.temperature=0\0task.max_digits=5";
    put("config_yaml", "only_sets", only_sets, sizeof only_sets - 1);
    put_str("config_yaml", "flow",
            "{seed: 2, rl: {steps: 3, w_format: 0.25}, task: {kind: addition}}\n");
}

/* ---- rewards and countdown expressions ---- */

static void gen_reward(void) {
    put_str("reward", "addition", "<think>12+34=46;</think><answer>46</answer><eos>");
    put_str("reward", "countdown", "<think>3*7=21;21+25=46;</think><answer>3*7+25</answer><eos>");
    put_str("reward", "decimal", "<think>x</think><answer>046.000</answer>");
    put_str("reward", "negative", "<think></think><answer>-12</answer><eos>");
    put_str("reward", "malformed", "<think>1+1=2;<answer>2</answer><eos>");
    put_str("reward", "two_answers", "<answer>5</answer><answer>46</answer>");
    put_str("reward", "blank", "<think>a</think><answer> \t</answer>");
    put_str("reward", "charset", "digits+ops+[.,]+letters");
    put_str("reward", "number", "+.50");
    put_str("reward", "long_digits", "<think>9</think><answer>1234567890123456789</answer>");
}

static void put_cd(const char *name, const int *nums, int n, const char *expr) {
    uint8_t buf[512];
    size_t at = 0;
    buf[at++] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        buf[at++] = (uint8_t)(nums[i] & 0xff);
        buf[at++] = (uint8_t)((nums[i] >> 8) & 0xff);
    }
    size_t len = strlen(expr);
    memcpy(buf + at, expr, len);
    put("countdown", name, buf, at + len);
}

static void gen_countdown(void) {
    const int a[] = {3, 7, 25, 2}, b[] = {100, 75, 50, 25, 6, 3, 8, 8, 9}, c[] = {0, 1, 1000};
    put_cd("simple", a, 4, "3*7+25");
    put_cd("parens", a, 4, "(25 - 3) * (7 - 2)");
    put_cd("division", a, 4, "25/(7-2)*3");
    put_cd("nested", b, 8, "((100+75)/(50-25)+6)*3-8/8");
    put_cd("zero", c, 3, "1000/(1-1)");
    put_cd("reuse", a, 4, "3+3");
    put_cd("empty", a, 0, "");
    put_cd("too_many", b, 9, "100");
    put_cd("spaces", c, 3, " \t1000 \n* 1\r");
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR SOURCE_DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    mkdir(g_dir, 0755);
    gen_wire();
    gen_safetensors();
    gen_config_json();
    gen_config_yaml(argv[2]);
    gen_reward();
    gen_countdown();
    return 0;
}
