/* tasks/task.c — the table of tasks (task.h) and the prompt templates. */
#include "tasks/task.h"
#include "core/err.h"
#include <string.h>

/* ---- addition ---- */

/* An addition problem (a + b) as a problem of KIND: addition's own, or compare's (max(a, b)). */
static int sum_problem(const aha_task_config_t *cfg, uint64_t seed, int split, uint64_t index,
                       aha_task_kind_t kind, aha_task_problem_t *out) {
    aha_task_problem_t p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    AHA_TRY(aha_add_problem(&cfg->add, seed, split, index, &p.add));
    *out = p;
    return AHA_OK;
}

static int add_problem(const aha_task_config_t *cfg, uint64_t seed, int split, uint64_t index,
                       aha_task_problem_t *out) {
    return sum_problem(cfg, seed, split, index, AHA_TASK_ADDITION, out);
}

static int add_prompt(const aha_task_problem_t *p, char *buf, size_t cap) {
    return aha_add_prompt(&p->add, buf, cap);
}

static int add_document(const aha_task_config_t *cfg, uint64_t seed, uint64_t index, char *buf,
                        size_t cap) {
    return aha_corpus_document(&cfg->corpus, &cfg->add, seed, index, buf, cap);
}

static void add_reward_problem(const aha_task_problem_t *p, aha_reward_problem_t *out) {
    memset(out, 0, sizeof *out);
    out->kind = AHA_TASK_ADDITION;
    out->expected = p->add.a + p->add.b;
}

static int add_accuracy(const aha_reward_problem_t *prob, const char *answer, size_t len) {
    int64_t v;
    return aha_add_parse_int(answer, len, &v) == 0 && v == prob->expected;
}

/* ---- countdown ---- */

static int cd_problem(const aha_task_config_t *cfg, uint64_t seed, int split, uint64_t index,
                      aha_task_problem_t *out) {
    aha_task_problem_t p;
    memset(&p, 0, sizeof p);
    p.kind = AHA_TASK_COUNTDOWN;
    AHA_TRY(aha_cd_problem(&cfg->cd, seed, split, index, &p.cd));
    *out = p;
    return AHA_OK;
}

static int cd_prompt(const aha_task_problem_t *p, char *buf, size_t cap) {
    return aha_cd_prompt(&p->cd, buf, cap);
}

static int cd_document(const aha_task_config_t *cfg, uint64_t seed, uint64_t index, char *buf,
                       size_t cap) {
    const aha_corpus_config_t *c = &cfg->corpus;
    return aha_cd_document(&cfg->cd, seed, index, c->p_direct / (c->p_direct + c->p_trace),
                           c->p_trace_mistake, c->p_malformed, buf, cap);
}

static void cd_reward_problem(const aha_task_problem_t *p, aha_reward_problem_t *out) {
    memset(out, 0, sizeof *out);
    out->kind = AHA_TASK_COUNTDOWN;
    out->n_numbers = p->cd.n;
    memcpy(out->numbers, p->cd.numbers, sizeof(int) * (size_t)p->cd.n);
    out->target = p->cd.target;
}

static int cd_accuracy(const aha_reward_problem_t *prob, const char *answer, size_t len) {
    aha_rational_t v;
    size_t at;
    if (prob->n_numbers < 0 || prob->n_numbers > AHA_TASK_MAX_NUMBERS) return 0;
    if (aha_cd_eval(answer, len, prob->numbers, prob->n_numbers, &v, &at) != AHA_CD_EVAL_OK)
        return 0;
    return v.den == 1 && v.num == prob->target;
}

static int add_reference(const aha_task_problem_t *p, char *buf, size_t cap) {
    return aha_add_response(&p->add, buf, cap);
}

static int cd_reference(const aha_task_problem_t *p, char *buf, size_t cap) {
    return aha_cd_response(&p->cd, buf, cap);
}

/* ---- compare (non-reasoning) ---- */

#define CMP_SEED_SALT 0x636d70ull /* compare's pairs are not addition's problem of the same index */

static int cmp_problem(const aha_task_config_t *cfg, uint64_t seed, int split, uint64_t index,
                       aha_task_problem_t *out) {
    return sum_problem(cfg, seed ^ CMP_SEED_SALT, split, index, AHA_TASK_COMPARE, out);
}

static int cmp_prompt(const aha_task_problem_t *p, char *buf, size_t cap) {
    return aha_cmp_prompt(&p->add, buf, cap);
}

static int cmp_document(const aha_task_config_t *cfg, uint64_t seed, uint64_t index, char *buf,
                        size_t cap) {
    return aha_cmp_document(&cfg->corpus, &cfg->add, seed, index, buf, cap);
}

static void cmp_reward_problem(const aha_task_problem_t *p, aha_reward_problem_t *out) {
    memset(out, 0, sizeof *out);
    out->kind = AHA_TASK_COMPARE;
    out->expected = p->add.a > p->add.b ? p->add.a : p->add.b;
}

static int cmp_reference(const aha_task_problem_t *p, char *buf, size_t cap) {
    return aha_cmp_reference(&p->add, buf, cap);
}

/* ---- mixed: problem / document i is compare's with probability mix_compare, else addition's ---- */

static int mix_is_compare(const aha_task_config_t *cfg, uint64_t seed, uint64_t index) {
    const uint64_t ids[] = {AHA_STREAM_MIX_TASK, index};
    aha_rng_t r;
    aha_rng_derive(&r, seed, ids, 2);
    return aha_rng_uniform_d(&r) < cfg->mix_compare;
}

static int mix_problem(const aha_task_config_t *cfg, uint64_t seed, int split, uint64_t index,
                       aha_task_problem_t *out) {
    if (!(cfg->mix_compare >= 0 && cfg->mix_compare <= 1))
        return AHA_FAIL(AHA_ERR_CONFIG, "task.mix_compare: %g is not in [0, 1]", cfg->mix_compare);
    return mix_is_compare(cfg, seed, index) ? cmp_problem(cfg, seed, split, index, out)
                                            : add_problem(cfg, seed, split, index, out);
}

static int mix_document(const aha_task_config_t *cfg, uint64_t seed, uint64_t index, char *buf,
                        size_t cap) {
    if (!(cfg->mix_compare >= 0 && cfg->mix_compare <= 1))
        return AHA_FAIL(AHA_ERR_CONFIG, "task.mix_compare: %g is not in [0, 1]", cfg->mix_compare);
    return mix_is_compare(cfg, seed, index) ? cmp_document(cfg, seed, index, buf, cap)
                                            : add_document(cfg, seed, index, buf, cap);
}

/* Problems of the mixed task carry their own kind, so these dispatch (never reached through it). */
static int mix_prompt(const aha_task_problem_t *p, char *buf, size_t cap) {
    return p->kind == AHA_TASK_COMPARE ? cmp_prompt(p, buf, cap) : add_prompt(p, buf, cap);
}

static void mix_reward_problem(const aha_task_problem_t *p, aha_reward_problem_t *out) {
    if (p->kind == AHA_TASK_COMPARE)
        cmp_reward_problem(p, out);
    else
        add_reward_problem(p, out);
}

static int mix_reference(const aha_task_problem_t *p, char *buf, size_t cap) {
    return p->kind == AHA_TASK_COMPARE ? cmp_reference(p, buf, cap) : add_reference(p, buf, cap);
}

static int never_accurate(const aha_reward_problem_t *prob, const char *answer, size_t len) {
    (void)prob, (void)answer, (void)len;
    return 0;
}

/* ---- the table: one entry per task, at index == kind ---- */

static const aha_task_t k_tasks[AHA_TASK_COUNT] = {
    {"addition", AHA_TASK_ADDITION, add_problem, add_prompt, add_document, add_reward_problem,
     add_accuracy, add_reference, 1},
    {"countdown", AHA_TASK_COUNTDOWN, cd_problem, cd_prompt, cd_document, cd_reward_problem,
     cd_accuracy, cd_reference, 1},
    {"compare", AHA_TASK_COMPARE, cmp_problem, cmp_prompt, cmp_document, cmp_reward_problem,
     add_accuracy, cmp_reference, 0},
    {"mixed", AHA_TASK_MIXED, mix_problem, mix_prompt, mix_document, mix_reward_problem,
     never_accurate, mix_reference, 1},
};

const aha_task_t *aha_task_by_name(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < AHA_TASK_COUNT; i++)
        if (!strcmp(k_tasks[i].name, name)) return &k_tasks[i];
    return NULL;
}

const aha_task_t *aha_task_by_kind(int kind) {
    return kind >= 0 && kind < AHA_TASK_COUNT ? &k_tasks[kind] : NULL;
}

const char *aha_task_names(const char *sep) {
    static char buf[256];
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < AHA_TASK_COUNT; i++) {
        const char *parts[] = {i ? sep : "", k_tasks[i].name};
        for (int j = 0; j < 2; j++) {
            size_t n = strlen(parts[j]);
            if (at + n + 1 > sizeof buf) return buf;
            memcpy(buf + at, parts[j], n + 1);
            at += n;
        }
    }
    return buf;
}

int aha_task_lookup(const char *name, const aha_task_t **out) {
    const aha_task_t *t = aha_task_by_name(name);
    if (!t)
        return AHA_FAIL(AHA_ERR_CONFIG, "task.kind: expected %s, got \"%s\"",
                        aha_task_names(" or "), name ? name : "(null)");
    *out = t;
    return AHA_OK;
}

/* ---- templates ---- */

int aha_template_parse(const char *name, aha_template_t *out) {
    if (name && !strcmp(name, "compact"))
        *out = AHA_TEMPLATE_COMPACT;
    else if (name && !strcmp(name, "r1zero"))
        *out = AHA_TEMPLATE_R1ZERO;
    else
        return AHA_FAIL(AHA_ERR_CONFIG, "task.template: expected compact or r1zero, got \"%s\"",
                        name ? name : "(null)");
    return AHA_OK;
}

/* The DeepSeek-R1-Zero template's instruction, in the tokenizer's alphabet. */
static const char k_r1zero[] =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves "
    "it. The assistant first thinks about the reasoning process in the mind and then provides the "
    "user with the answer. The reasoning process and answer are enclosed within <think> </think> "
    "and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
    "<answer> answer here </answer>.\n";

/* With the r1zero template, inserts the instruction after the leading <bos> of TEXT (in place). */
static int apply_template(aha_template_t tmpl, char *text, size_t cap) {
    if (tmpl == AHA_TEMPLATE_COMPACT) return AHA_OK;
    if (tmpl != AHA_TEMPLATE_R1ZERO)
        return AHA_FAIL(AHA_ERR_CONFIG, "task.template: unknown template %d", (int)tmpl);
    static const char bos[] = "<bos>";
    size_t n = strlen(text), extra = sizeof k_r1zero - 1,
           at = strncmp(text, bos, 5) ? 0 : sizeof bos - 1;
    if (n + extra + 1 > cap)
        return AHA_FAIL(AHA_ERR_RANGE, "prompt with the r1zero template exceeds %zu bytes", cap);
    memmove(text + at + extra, text + at, n - at + 1);
    memcpy(text + at, k_r1zero, extra);
    return AHA_OK;
}

int aha_task_prompt(const aha_task_config_t *cfg, const aha_task_problem_t *p, char *buf,
                    size_t cap) {
    if (!cfg || !p || !buf) return AHA_FAIL(AHA_ERR_ARG, "aha_task_prompt: NULL argument");
    const aha_task_t *t = aha_task_by_kind(p->kind);
    if (!t) return AHA_FAIL(AHA_ERR_ARG, "aha_task_prompt: unknown task kind %d", (int)p->kind);
    AHA_TRY(t->prompt(p, buf, cap));
    return apply_template(cfg->template_kind, buf, cap);
}

int aha_task_reference(const aha_task_problem_t *p, char *buf, size_t cap) {
    if (!p || !buf) return AHA_FAIL(AHA_ERR_ARG, "aha_task_reference: NULL argument");
    const aha_task_t *t = aha_task_by_kind(p->kind);
    if (!t) return AHA_FAIL(AHA_ERR_ARG, "aha_task_reference: unknown task kind %d", (int)p->kind);
    return t->reference(p, buf, cap);
}

int aha_task_document(const aha_task_t *t, const aha_task_config_t *cfg, uint64_t seed,
                      uint64_t index, char *buf, size_t cap) {
    if (!t || !cfg || !buf) return AHA_FAIL(AHA_ERR_ARG, "aha_task_document: NULL argument");
    AHA_TRY(t->document(cfg, seed, index, buf, cap));
    return apply_template(cfg->template_kind, buf, cap);
}
