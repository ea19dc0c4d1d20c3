/* recipe/pipeline.c — recipe files (see pipeline.h), read with libyaml's document API. */
#include "recipe/pipeline.h"
#include "core/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

void aha_recipe_destroy(aha_recipe_t **pr) {
    if (!pr || !*pr) return;
    free((*pr)->stages);
    free(*pr);
    *pr = NULL;
}

static int line_of(const yaml_node_t *n) {
    return (int)n->start_mark.line + 1;
}

#define BAD(node, ...)                                                                             \
    do {                                                                                           \
        char msg_[600];                                                                            \
        snprintf(msg_, sizeof msg_, __VA_ARGS__);                                                  \
        return AHA_FAIL(AHA_ERR_CONFIG, "%s:%d: %s", r->path, line_of(node), msg_);                \
    } while (0)

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* "@{NAME}" -> RUN_DIR/NAME (NAME a stage among the first N_KNOWN, or "run" -> RUN_DIR); bit i
 * of *DEPS (may be NULL) is set for every stage i named. */
static int expand(const aha_recipe_t *r, int n_known, const yaml_node_t *node, const char *in,
                  char *out, size_t cap, uint64_t *deps) {
    size_t o = 0;
    for (const char *p = in; *p;) {
        if (p[0] == '@' && p[1] == '{') {
            const char *e = strchr(p, '}');
            if (!e) BAD(node, "unclosed @{ in '%s'", in);
            char name[64];
            size_t n = (size_t)(e - p - 2);
            if (n == 0 || n >= sizeof name) BAD(node, "bad stage reference in '%s'", in);
            memcpy(name, p + 2, n);
            name[n] = 0;
            int known = !strcmp(name, "run");
            for (int i = 0; i < n_known && !known; i++)
                if ((known = !strcmp(r->stages[i].name, name)) && deps) *deps |= (uint64_t)1 << i;
            if (!known)
                BAD(node, "@{%s}: no stage of that name before this one (or @{run})", name);
            int w = !strcmp(name, "run") ? snprintf(out + o, cap - o, "%s", r->run_dir)
                                         : snprintf(out + o, cap - o, "%s/%s", r->run_dir, name);
            if (w < 0 || (size_t)w >= cap - o) BAD(node, "'%s' is too long", in);
            o += (size_t)w;
            p = e + 1;
        } else {
            if (o + 1 >= cap) BAD(node, "'%s' is too long", in);
            out[o++] = *p++;
        }
    }
    out[o] = 0;
    return AHA_OK;
}

/* A sequence of scalars (or one scalar) into items[0..*n), expanded. */
static int string_list(const aha_recipe_t *r, yaml_document_t *doc, const yaml_node_t *v,
                       const char *key, int n_known, char items[][AHA_RECIPE_STR], int *n,
                       uint64_t *deps) {
    *n = 0;
    if (v->type == YAML_SCALAR_NODE) {
        AHA_TRY(expand(r, n_known, v, scalar(v), items[0], AHA_RECIPE_STR, deps));
        *n = 1;
        return AHA_OK;
    }
    if (v->type != YAML_SEQUENCE_NODE) BAD(v, "%s: expected a list of strings", key);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        const yaml_node_t *e = yaml_document_get_node(doc, *it);
        if (!scalar(e)) BAD(e ? e : v, "%s: expected a list of strings", key);
        if (*n >= AHA_RECIPE_MAX_ITEMS) BAD(e, "%s: more than %d items", key, AHA_RECIPE_MAX_ITEMS);
        AHA_TRY(expand(r, n_known, e, scalar(e), items[*n], AHA_RECIPE_STR, deps));
        ++*n;
    }
    return AHA_OK;
}

static int copy_str(const aha_recipe_t *r, const yaml_node_t *v, const char *key, char *out,
                    size_t cap) {
    const char *s = scalar(v);
    if (!s || !*s) BAD(v, "%s: expected a non-empty string", key);
    if (strlen(s) >= cap) BAD(v, "%s: longer than %zu bytes", key, cap - 1);
    memcpy(out, s, strlen(s) + 1);
    return AHA_OK;
}

static int parse_stage(aha_recipe_t *r, yaml_document_t *doc, const yaml_node_t *m, int idx) {
    aha_stage_t *st = &r->stages[idx];
    memset(st, 0, sizeof *st);
    st->line = line_of(m);
    if (m->type != YAML_MAPPING_NODE) BAD(m, "stages[%d]: expected a mapping", idx);
    const yaml_node_t *set = NULL, *args = NULL, *outs = NULL;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        const yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        const yaml_node_t *v = yaml_document_get_node(doc, pr->value);
        const char *key = scalar(k);
        if (!key) BAD(k, "stages[%d]: keys must be strings", idx);
        if (!strcmp(key, "name"))
            AHA_TRY(copy_str(r, v, "name", st->name, sizeof st->name));
        else if (!strcmp(key, "command"))
            AHA_TRY(copy_str(r, v, "command", st->command, sizeof st->command));
        else if (!strcmp(key, "set"))
            set = v;
        else if (!strcmp(key, "args"))
            args = v;
        else if (!strcmp(key, "outputs"))
            outs = v;
        else
            BAD(k, "stages[%d]: unknown key '%s' (name, command, set, args, outputs)", idx, key);
    }
    if (!st->name[0]) BAD(m, "stages[%d]: 'name' is required", idx);
    for (const char *p = st->name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            BAD(m, "stages[%d]: name '%s' may only use a-z, 0-9 and _", idx, st->name);
    if (!strcmp(st->name, "run")) BAD(m, "stages[%d]: 'run' is reserved", idx);
    for (int j = 0; j < idx; j++)
        if (!strcmp(r->stages[j].name, st->name))
            BAD(m, "stages[%d]: name '%s' already used on line %d", idx, st->name,
                r->stages[j].line);
    if (!st->command[0]) BAD(m, "stage %s: 'command' is required", st->name);
    static const char *const k_cmds[] = {"pretrain", "sft",    "train", "eval",
                                         "gen-coldstart", "reject", NULL};
    int ok = 0;
    for (int j = 0; k_cmds[j]; j++)
        ok |= !strcmp(k_cmds[j], st->command);
    if (!ok)
        BAD(m, "stage %s: command '%s' is not one of pretrain, sft, train, eval, gen-coldstart, "
               "reject", st->name, st->command);
    if (!outs) BAD(m, "stage %s: 'outputs' is required (what marks the stage done)", st->name);
    if ((size_t)snprintf(st->dir, sizeof st->dir, "%s/%s", r->run_dir, st->name) >= sizeof st->dir)
        BAD(m, "stage %s: run directory too long", st->name);
    snprintf(st->run_dir_set, sizeof st->run_dir_set, "run_dir=%s", st->dir);
    if (set) AHA_TRY(string_list(r, doc, set, "set", idx + 1, st->set, &st->n_set, &st->deps));
    if (args) AHA_TRY(string_list(r, doc, args, "args", idx + 1, st->args, &st->n_args, &st->deps));
    st->deps &= ~((uint64_t)1 << idx); /* a stage naming its own directory does not wait for itself */
    char rel[AHA_RECIPE_MAX_ITEMS][AHA_RECIPE_STR];
    int n_out = 0;
    AHA_TRY(string_list(r, doc, outs, "outputs", idx + 1, rel, &n_out, NULL));
    if (n_out == 0) BAD(outs, "stage %s: 'outputs' is empty", st->name);
    for (int j = 0; j < n_out; j++) {
        if (rel[j][0] == '/' || strstr(rel[j], ".."))
            BAD(outs, "stage %s: output '%.400s' must be a path inside the stage directory",
                st->name, rel[j]);
        if ((size_t)snprintf(st->outputs[j], AHA_RECIPE_STR, "%s/%s", st->dir, rel[j]) >=
            AHA_RECIPE_STR)
            BAD(outs, "stage %s: output path too long", st->name);
    }
    st->n_outputs = n_out;
    for (int j = 0; j < st->n_set; j++)
        if (!strchr(st->set[j], '='))
            BAD(set, "stage %s: set item '%.400s' is not key=value", st->name, st->set[j]);
    return AHA_OK;
}

static int parse_root(aha_recipe_t *r, yaml_document_t *doc, const char *run_dir) {
    const yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return AHA_FAIL(AHA_ERR_CONFIG, "%s: a recipe is a mapping (run_dir, config, set, stages)",
                        r->path);
    const yaml_node_t *stages = NULL, *set = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        const yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        const yaml_node_t *v = yaml_document_get_node(doc, pr->value);
        const char *key = scalar(k);
        if (!key) BAD(k, "keys must be strings");
        if (!strcmp(key, "run_dir")) {
            if (!run_dir) AHA_TRY(copy_str(r, v, "run_dir", r->run_dir, sizeof r->run_dir));
        } else if (!strcmp(key, "config")) {
            AHA_TRY(copy_str(r, v, "config", r->config, sizeof r->config));
        } else if (!strcmp(key, "set")) {
            set = v;
        } else if (!strcmp(key, "stages")) {
            stages = v;
        } else if (!strcmp(key, "jobs")) {
            const char *s = scalar(v);
            char *end = NULL;
            long j = s ? strtol(s, &end, 10) : 0;
            if (!s || end == s || *end || j < 1 || j > 64)
                BAD(v, "jobs: expected an integer in 1..64, got '%s'", s ? s : "(not a scalar)");
            r->jobs = (int)j;
        } else {
            BAD(k, "unknown key '%s' (run_dir, config, set, jobs, stages)", key);
        }
    }
    if (run_dir) {
        if (!*run_dir || strlen(run_dir) >= sizeof r->run_dir)
            return AHA_FAIL(AHA_ERR_ARG, "--run-dir: empty or too long");
        snprintf(r->run_dir, sizeof r->run_dir, "%s", run_dir);
    }
    if (!r->run_dir[0]) BAD(root, "'run_dir' is required");
    if (set) {
        AHA_TRY(string_list(r, doc, set, "set", 0, r->set, &r->n_set, NULL));
        for (int j = 0; j < r->n_set; j++)
            if (!strchr(r->set[j], '=')) BAD(set, "set item '%.400s' is not key=value", r->set[j]);
    }
    if (!stages || stages->type != YAML_SEQUENCE_NODE ||
        stages->data.sequence.items.top == stages->data.sequence.items.start)
        BAD(stages ? stages : root, "'stages' must be a non-empty list");
    const int n = (int)(stages->data.sequence.items.top - stages->data.sequence.items.start);
    if (n > AHA_RECIPE_MAX_STAGES) BAD(stages, "more than %d stages", AHA_RECIPE_MAX_STAGES);
    r->stages = calloc((size_t)n, sizeof *r->stages);
    if (!r->stages) return AHA_FAIL(AHA_ERR_NOMEM, "recipe");
    for (int i = 0; i < n; i++) {
        AHA_TRY(parse_stage(r, doc, yaml_document_get_node(doc, stages->data.sequence.items.start[i]), i));
        r->n_stages = i + 1;
    }
    return AHA_OK;
}

int aha_recipe_load(const char *path, const char *run_dir, aha_recipe_t **out) {
    if (!path || !out) return AHA_FAIL(AHA_ERR_ARG, "recipe: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return AHA_FAIL(AHA_ERR_IO, "%s: cannot open the recipe", path);
    aha_recipe_t *r = calloc(1, sizeof *r);
    if (!r) {
        fclose(f);
        return AHA_FAIL(AHA_ERR_NOMEM, "recipe");
    }
    snprintf(r->path, sizeof r->path, "%s", path);
    r->jobs = 1;
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = AHA_OK, have_doc = 0;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = AHA_FAIL(AHA_ERR_CONFIG, "%s:%zu: YAML error: %s", path,
                      (size_t)parser.problem_mark.line + 1,
                      parser.problem ? parser.problem : "unreadable");
    } else {
        have_doc = 1;
        rc = parse_root(r, &doc, run_dir);
    }
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc < 0)
        aha_recipe_destroy(&r);
    else
        *out = r;
    return rc;
}

int aha_recipe_find(const aha_recipe_t *r, const char *name) {
    for (int i = 0; r && name && i < r->n_stages; i++)
        if (!strcmp(r->stages[i].name, name)) return i;
    return -1;
}

int aha_recipe_stage_done(const aha_recipe_t *r, int i) {
    if (!r || i < 0 || i >= r->n_stages) return 0;
    struct stat sb;
    for (int j = 0; j < r->stages[i].n_outputs; j++)
        if (stat(r->stages[i].outputs[j], &sb) != 0) return 0;
    return 1;
}

int aha_recipe_argv(const aha_recipe_t *r, int i, const char *const *extra_set, int n_extra,
                    char ***argv_out, int *argc_out) {
    if (!r || i < 0 || i >= r->n_stages || !argv_out || !argc_out || (n_extra && !extra_set))
        return AHA_FAIL(AHA_ERR_ARG, "recipe argv: bad arguments");
    const aha_stage_t *st = &r->stages[i];
    /* one static run_dir override per stage lives in the stage (its dir with the prefix) */
    const int max = 6 + 2 * (r->n_set + st->n_set + n_extra) + st->n_args + 1;
    char **argv = calloc((size_t)max, sizeof *argv);
    if (!argv) return AHA_FAIL(AHA_ERR_NOMEM, "recipe argv");
    int n = 0;
    argv[n++] = "aha";
    argv[n++] = (char *)st->command;
    if (r->config[0]) argv[n++] = (char *)r->config;
    for (int j = 0; j < r->n_set; j++)
        argv[n++] = "--set", argv[n++] = (char *)r->set[j];
    for (int j = 0; j < st->n_set; j++)
        argv[n++] = "--set", argv[n++] = (char *)st->set[j];
    for (int j = 0; j < n_extra; j++)
        argv[n++] = "--set", argv[n++] = (char *)extra_set[j];
    argv[n++] = "--set", argv[n++] = (char *)st->run_dir_set;
    for (int j = 0; j < st->n_args; j++)
        argv[n++] = (char *)st->args[j];
    argv[n] = NULL;
    *argv_out = argv;
    *argc_out = n;
    return AHA_OK;
}
