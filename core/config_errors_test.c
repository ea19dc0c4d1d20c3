/* config_errors: typed loading through a field table (defaults < YAML < overrides), and every
 * error path: code, "source:line" and key in the message, out struct untouched. Plus save/load
 * round trip and --help output. */
#include "core/config.h"
#include "core/err.h"
#include "core/testutil.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int seed;
    char name[AHA_CFG_STR_MAX];
    char dir[AHA_CFG_STR_MAX];
    struct {
        int dim;
        double lr;
        int flag;
        struct {
            int depth;
            double eps;
            int on;
            char tag[AHA_CFG_STR_MAX];
        } deep;
    } model;
    struct {
        double lr;
        int steps;
    } train;
    int req;
    int untouched; /* not in the schema */
} cfg_t;

#define F(key_, type_, member_, def_, lo_, hi_)                                                    \
    {                                                                                              \
        .key = key_, .type = type_, .offset = offsetof(cfg_t, member_), .def = def_, .min = lo_,   \
        .max = hi_, .help = "help for " key_                                                       \
    }
/* An unranged int field at byte OFF. */
#define FX(key_, off_, def_)                                                                       \
    { .key = key_, .type = AHA_CFG_INT, .offset = off_, .def = def_, .min = 1, .help = "" }
static const aha_cfg_field_t k_fields[] = {
    F("seed", AHA_CFG_INT, seed, "1", 0, 1000),
    F("name", AHA_CFG_STRING, name, "demo", 1, 0),
    F("model.dim", AHA_CFG_INT, model.dim, "64", 8, 4096),
    F("model.lr", AHA_CFG_FLOAT, model.lr, "1e-3", 0, 1),
    F("train.lr", AHA_CFG_FLOAT, train.lr, "0.1", 1, 0), /* interleaved: save must still group */
    F("model.flag", AHA_CFG_BOOL, model.flag, "false", 1, 0),
    F("model.deep.depth", AHA_CFG_INT, model.deep.depth, "2", 1, 0),
    F("model.deep.eps", AHA_CFG_FLOAT, model.deep.eps, "1e-5", 1, 0),
    F("model.deep.on", AHA_CFG_BOOL, model.deep.on, "yes", 1, 0),
    F("model.deep.tag", AHA_CFG_STRING, model.deep.tag, "", 1, 0),
    F("dir", AHA_CFG_STRING, dir, "out", 1, AHA_CFG_STR_MAX - 1), /* must not be empty */
    F("train.steps", AHA_CFG_INT, train.steps, "10", 0, 1000000),
    F("req", AHA_CFG_INT, req, NULL, 1, 0),
};
#define NF (sizeof k_fields / sizeof *k_fields)

static int load(cfg_t *c, const char *yaml, const char *const *ov, size_t nov) {
    return aha_cfg_load_string(c, sizeof *c, k_fields, NF, yaml, "x.yaml", ov, nov);
}

/* Loads YAML + overrides expecting CODE and a message containing each of want[] (NULL-ended). */
static void expect_err_(int line, const char *yaml, const char *const *ov, size_t nov, int code,
                        const char *const *want) {
    cfg_t c, snap;
    memset(&c, 0xAB, sizeof c);
    snap = c;
    aha_error_clear();
    int rc = load(&c, yaml, ov, nov);
    const char *msg = aha_last_error();
    CHECK(rc == code, "line %d: rc %d, want %d (%s)", line, rc, code, msg);
    for (; *want; want++)
        CHECK(strstr(msg, *want) != NULL, "line %d: message '%s' lacks '%s'", line, msg, *want);
    CHECK(!memcmp(&c, &snap, sizeof c), "line %d: out struct modified on error", line);
}
#define EXPECT_ERR(yaml, code, ...)                                                                \
    expect_err_(__LINE__, yaml, NULL, 0, code, (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT_SET_ERR(ov, code, ...)                                                              \
    expect_err_(__LINE__, "req: 1\n", (const char *const[]){ov}, 1, code,                          \
                (const char *const[]){__VA_ARGS__, NULL})

static void test_success(void) {
    const char *yaml = "# comment\n"
                       "seed: 7\n"
                       "name: 'my run'\n"
                       "model:\n"
                       "  dim: +128\n"
                       "  lr: 2.5e-4\n"
                       "  flag: On\n"
                       "  deep:\n"
                       "    depth: -3\n"
                       "    on: no\n"
                       "    tag: \"a: b # c\"\n"
                       "train: {lr: 0.5, steps: 100}\n"
                       "req: 42\n";
    cfg_t c;
    memset(&c, 0, sizeof c);
    c.untouched = 99;
    int rc = load(&c, yaml, NULL, 0);
    CHECK(rc == 0, "load: %s", aha_last_error());
    CHECK(c.seed == 7 && !strcmp(c.name, "my run") && c.model.dim == 128 && c.model.lr == 2.5e-4,
          "values 1");
    CHECK(c.model.flag == 1 && c.model.deep.depth == -3 && c.model.deep.on == 0, "values 2");
    CHECK(!strcmp(c.model.deep.tag, "a: b # c") && c.model.deep.eps == 1e-5, "values 3 (tag '%s')",
          c.model.deep.tag);
    CHECK(c.train.lr == 0.5 && c.train.steps == 100 && c.req == 42, "flow mapping values");
    CHECK(c.untouched == 99, "non-schema member kept");

    /* defaults only (plus the required key) */
    memset(&c, 0, sizeof c);
    CHECK(load(&c, "req: 1\n", NULL, 0) == 0, "defaults: %s", aha_last_error());
    CHECK(c.seed == 1 && !strcmp(c.name, "demo") && c.model.dim == 64 && c.model.lr == 1e-3 &&
              c.model.flag == 0 && c.model.deep.depth == 2 && c.model.deep.eps == 1e-5 &&
              c.model.deep.on == 1 && c.model.deep.tag[0] == 0 && c.train.lr == 0.1 &&
              c.train.steps == 10 && c.req == 1,
          "default values");
    CHECK(load(&c, "", (const char *const[]){"req=3"}, 1) == 0 && c.req == 3, "empty YAML");
    CHECK(load(&c, "# only a comment\n", (const char *const[]){"req=3"}, 1) == 0,
          "comment-only YAML");
    CHECK(load(&c, "---\n", (const char *const[]){"req=3"}, 1) == 0, "empty document");

    /* overrides apply in order, after the YAML */
    const char *ov[] = {"model.dim=256",   "model.dim=512", "name=x=y",
                        "model.deep.tag=", "model.flag=1",  "train.lr=-1e-2"};
    CHECK(load(&c, "model:\n  dim: 16\nreq: 5\n", ov, 6) == 0, "overrides: %s", aha_last_error());
    CHECK(c.model.dim == 512 && !strcmp(c.name, "x=y") && c.model.deep.tag[0] == 0 &&
              c.model.flag == 1 && c.train.lr == -1e-2 && c.req == 5,
          "override values");

    /* no YAML at all */
    memset(&c, 0, sizeof c);
    CHECK(aha_cfg_load_file(&c, sizeof c, k_fields, NF, NULL, (const char *const[]){"req=9"}, 1) ==
                  0 &&
              c.req == 9 && c.model.dim == 64,
          "path NULL: %s", aha_last_error());
    /* dotted keys in the YAML itself are the same keys */
    CHECK(load(&c, "model.dim: 32\nreq: 1\n", NULL, 0) == 0 && c.model.dim == 32,
          "dotted YAML key");
    /* boundary values */
    CHECK(load(&c, "model: {dim: 4096}\nreq: -2147483648\n", NULL, 0) == 0 &&
              c.req == -2147483648 && c.model.dim == 4096,
          "range bounds: %s", aha_last_error());
}

static void test_errors(void) {
    EXPECT_ERR("req: 1\nmodel:\n  dim: abc\n", AHA_ERR_CONFIG,
               "x.yaml:3: model.dim: expected an integer, got \"abc\"");
    EXPECT_ERR("req: 1\nmodel:\n  dim: 12x\n", AHA_ERR_CONFIG, "x.yaml:3:", "model.dim", "integer");
    EXPECT_ERR("req: 1\nmodel:\n  dim: 1.5\n", AHA_ERR_CONFIG, "x.yaml:3:", "model.dim", "integer");
    EXPECT_ERR("req: 1\nmodel:\n  dim: 0x10\n", AHA_ERR_CONFIG, "x.yaml:3:", "model.dim",
               "integer");
    EXPECT_ERR("req: 1\nmodel:\n  dim: \"\"\n", AHA_ERR_CONFIG, "x.yaml:3:", "model.dim",
               "integer");
    EXPECT_ERR("req: 1\nmodel:\n  dim: 5000\n", AHA_ERR_CONFIG,
               "x.yaml:3: model.dim: value 5000 out of range [8, 4096]");
    EXPECT_ERR("req: 99999999999\n", AHA_ERR_CONFIG, "x.yaml:1: req:", "does not fit");
    EXPECT_ERR("model:\n  lr: 1.2.3\nreq: 1\n", AHA_ERR_CONFIG,
               "x.yaml:2: model.lr: expected a finite number");
    EXPECT_ERR("model:\n  lr: nan\nreq: 1\n", AHA_ERR_CONFIG, "x.yaml:2:", "model.lr");
    EXPECT_ERR("model:\n  lr: 1e400\nreq: 1\n", AHA_ERR_CONFIG, "x.yaml:2:", "model.lr");
    EXPECT_ERR("model:\n  lr: 2\nreq: 1\n", AHA_ERR_CONFIG, "x.yaml:2:", "model.lr",
               "out of range");
    EXPECT_ERR("model:\n  deep:\n    on: maybe\nreq: 1\n", AHA_ERR_CONFIG,
               "x.yaml:3: model.deep.on: expected a boolean");
    char long_yaml[400];
    snprintf(long_yaml, sizeof long_yaml, "req: 1\nname: %0300d\n", 0);
    EXPECT_ERR(long_yaml, AHA_ERR_CONFIG, "x.yaml:2: name:", "too long");
    /* unknown keys name the full dotted key */
    EXPECT_ERR("seed: 1\ntrian:\n  lr: 3\n", AHA_ERR_CONFIG, "x.yaml:3: trian.lr: unknown key");
    EXPECT_ERR("req: 1\nmodel:\n  deep:\n    dpeth: 3\n", AHA_ERR_CONFIG,
               "x.yaml:4: model.deep.dpeth: unknown key");
    EXPECT_ERR("req: 1\nmodel: 3\n", AHA_ERR_CONFIG, "x.yaml:2: model: unknown key");
    /* duplicates */
    EXPECT_ERR("req: 1\nmodel:\n  dim: 8\n  dim: 9\n", AHA_ERR_CONFIG,
               "x.yaml:4: model.dim: duplicate key");
    EXPECT_ERR("model:\n  dim: 8\nreq: 1\nmodel:\n  lr: 0.5\n", AHA_ERR_CONFIG,
               "x.yaml:4: model: duplicate key");
    EXPECT_ERR("model.dim: 8\nmodel:\n  dim: 9\nreq: 1\n", AHA_ERR_CONFIG,
               "x.yaml:3: model.dim: duplicate key");
    /* YAML syntax errors */
    EXPECT_ERR("req: 1\nseed: 2\nname: x\n dim: 4\n", AHA_ERR_CONFIG,
               "x.yaml:4: YAML syntax error: ");
    EXPECT_ERR("req: 1\nseed: 2\nmodel: {dim: 8\n", AHA_ERR_CONFIG,
               "x.yaml:4: YAML syntax error:", "flow mapping");
    EXPECT_ERR("req: 1\nname: \"x\n", AHA_ERR_CONFIG, "x.yaml:3: YAML syntax error:");
    EXPECT_ERR("req: 1\nname: \xff\n", AHA_ERR_CONFIG, "x.yaml:2: YAML syntax error:", "UTF-8");
    EXPECT_ERR("req: 1\n---\nseed: 2\n", AHA_ERR_CONFIG, "x.yaml:2:", "one YAML document");
    /* structure where a scalar is expected */
    EXPECT_ERR("req: 1\nmodel:\n  dim: [1, 2]\n", AHA_ERR_CONFIG,
               "x.yaml:3: model.dim: expected an integer, got a sequence");
    EXPECT_ERR("req: 1\nmodel:\n  dim:\n    - 1\n", AHA_ERR_CONFIG,
               "x.yaml:4: model.dim:", "sequence");
    EXPECT_ERR("req: 1\nseed:\n  x: 1\n", AHA_ERR_CONFIG,
               "x.yaml:3: seed: expected an integer, got a mapping");
    EXPECT_ERR("req: 1\nmodel: [1]\n", AHA_ERR_CONFIG, "x.yaml:2: model: unknown key");
    EXPECT_ERR("- 1\n- 2\n", AHA_ERR_CONFIG, "x.yaml:1:", "top level must be a mapping");
    EXPECT_ERR("just text\n", AHA_ERR_CONFIG, "x.yaml:1:", "top level must be a mapping");
    EXPECT_ERR("req: &a 1\nseed: *a\n", AHA_ERR_CONFIG, "x.yaml:2: seed:", "alias");
    EXPECT_ERR("req: 1\n[a]: 1\n", AHA_ERR_CONFIG, "x.yaml:2:", "keys must be scalars");
    /* a non-empty string field: empty in the YAML, a YAML null, or by --set */
    EXPECT_ERR("req: 1\ndir: \"\"\n", AHA_ERR_CONFIG, "x.yaml:2: dir: must not be empty");
    EXPECT_ERR("req: 1\ndir:\n", AHA_ERR_CONFIG, "x.yaml:2: dir: must not be empty");
    EXPECT_SET_ERR("dir=", AHA_ERR_CONFIG, "--set dir: must not be empty");
    /* missing required key */
    EXPECT_ERR("seed: 3\n", AHA_ERR_CONFIG, "x.yaml: req: required key missing");
    /* overrides */
    EXPECT_SET_ERR("model.dim=abc", AHA_ERR_CONFIG,
                   "--set model.dim: expected an integer, got \"abc\"");
    EXPECT_SET_ERR("model.dim=1", AHA_ERR_CONFIG, "--set model.dim: value 1 out of range");
    EXPECT_SET_ERR("train.lr=x", AHA_ERR_CONFIG, "--set train.lr: expected a finite number");
    EXPECT_SET_ERR("trian.lr=3", AHA_ERR_CONFIG, "--set trian.lr: unknown key");
    EXPECT_SET_ERR("model=3", AHA_ERR_CONFIG, "--set model: unknown key");
    EXPECT_SET_ERR("model.dim", AHA_ERR_CONFIG, "--set model.dim: expected key=value");
    EXPECT_SET_ERR("=5", AHA_ERR_CONFIG, "--set =5: expected key=value");
    EXPECT_SET_ERR("model.flag=2", AHA_ERR_CONFIG, "--set model.flag: expected a boolean");
    /* an error after earlier successful assignments still leaves out untouched */
    expect_err_(__LINE__, "req: 1\nseed: 5\n", (const char *const[]){"model.dim=100", "seed=x"}, 2,
                AHA_ERR_CONFIG, (const char *const[]){"--set seed", NULL});

    /* files */
    cfg_t c, snap;
    memset(&c, 0x5A, sizeof c);
    snap = c;
    int rc = aha_cfg_load_file(&c, sizeof c, k_fields, NF, "/nonexistent/x.yaml", NULL, 0);
    CHECK(rc == AHA_ERR_IO, "missing file rc %d", rc);
    CHECK(strstr(aha_last_error(), "/nonexistent/x.yaml: cannot open: No such file or directory") !=
              NULL,
          "missing file message: %s", aha_last_error());
    CHECK(!memcmp(&c, &snap, sizeof c), "out untouched for a missing file");

    /* a config file that sets nothing names the file (a string may be empty: the defaults) */
    static const char *const k_empty_files[] = {"", "# only a comment\n", "---\n", "\n\n"};
    for (size_t i = 0; i < sizeof k_empty_files / sizeof *k_empty_files; i++) {
        char epath[] = "/tmp/aha_cfg_empty_XXXXXX";
        int fd = mkstemp(epath);
        REQUIRE(fd >= 0, "mkstemp");
        REQUIRE(write(fd, k_empty_files[i], strlen(k_empty_files[i])) ==
                    (ssize_t)strlen(k_empty_files[i]),
                "write");
        close(fd);
        memset(&c, 0x5A, sizeof c);
        rc =
            aha_cfg_load_file(&c, sizeof c, k_fields, NF, epath, (const char *const[]){"req=1"}, 1);
        CHECK(rc == AHA_ERR_CONFIG && strstr(aha_last_error(), epath) &&
                  strstr(aha_last_error(), "sets no keys"),
              "empty file %zu: rc %d, %s", i, rc, aha_last_error());
        CHECK(!memcmp(&c, &snap, sizeof c), "out untouched for an empty file");
        remove(epath);
    }

    /* schema problems are the caller's: AHA_ERR_ARG */
    aha_cfg_field_t bad[] = {FX("x", sizeof(cfg_t) - 2, "1")};
    CHECK(aha_cfg_load_string(&c, sizeof c, bad, 1, NULL, NULL, NULL, 0) == AHA_ERR_ARG,
          "offset outside struct");
    aha_cfg_field_t dup[] = {FX("x", 0, "1"), FX("x", 4, "1")};
    CHECK(aha_cfg_load_string(&c, sizeof c, dup, 2, NULL, NULL, NULL, 0) == AHA_ERR_ARG,
          "duplicate field");
    aha_cfg_field_t bad_def[] = {FX("x", 0, "one")};
    CHECK(aha_cfg_load_string(&c, sizeof c, bad_def, 1, NULL, NULL, NULL, 0) == AHA_ERR_CONFIG &&
              strstr(aha_last_error(), "default for x: expected an integer"),
          "bad default: %s", aha_last_error());
    CHECK(!memcmp(&c, &snap, sizeof c), "out untouched on schema errors");
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_round_trip(void) {
    char path[] = "/tmp/aha_cfg_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    close(fd);

    cfg_t a, b;
    memset(&a, 0, sizeof a);
    const char *ov[] = {"model.lr=0.1",
                        "train.lr=-3.3333333333333331e-300",
                        "model.deep.eps=0.30000000000000004",
                        "name=quote \" backslash \\ colon: hash # tab\t end",
                        "model.deep.tag=- [not] {a, list}",
                        "req=-7",
                        "model.flag=true"};
    CHECK(load(&a, NULL, ov, sizeof ov / sizeof *ov) == 0, "load for save: %s", aha_last_error());
    a.model.deep.eps = 1.0 / 3;
    CHECK(aha_cfg_save(&a, k_fields, NF, path) == 0, "save: %s", aha_last_error());
    memset(&b, 0, sizeof b);
    CHECK(aha_cfg_load_file(&b, sizeof b, k_fields, NF, path, NULL, 0) == 0, "reload: %s",
          aha_last_error());
    CHECK(!memcmp(&a, &b, sizeof a), "round trip reproduces the struct");
    CHECK(b.model.deep.eps == 1.0 / 3 && b.train.lr == -3.3333333333333331e-300 &&
              !strcmp(a.name, b.name),
          "exact floats and escaped strings");
    const char *text = read_file(path);
    CHECK(text && strstr(text, "\nmodel:\n  dim: 64\n  lr: 0.1\n") &&
              strstr(text, "  deep:\n    depth: 2\n") && strstr(text, "\ntrain:\n  lr: ") &&
              !strstr(strstr(text, "train:") + 1, "train:") && strstr(text, "\nreq: -7\n"),
          "nested YAML layout:\n%s", text ? text : "(null)");

    /* a file with an error reports the path */
    write_file(path, "req: 1\nmodel:\n  dim: big\n");
    memset(&b, 0, sizeof b);
    CHECK(aha_cfg_load_file(&b, sizeof b, k_fields, NF, path, NULL, 0) == AHA_ERR_CONFIG,
          "bad file");
    char want[64];
    snprintf(want, sizeof want, "%s:3: model.dim", path);
    CHECK(strstr(aha_last_error(), want) != NULL, "file message '%s' lacks '%s'", aha_last_error(),
          want);
    /* a NUL byte inside a file is a YAML error, not a silent truncation */
    FILE *f = fopen(path, "wb");
    fwrite("req: 1\nseed: 2\0\nmodel: x\n", 1, 25, f);
    fclose(f);
    CHECK(aha_cfg_load_file(&b, sizeof b, k_fields, NF, path, NULL, 0) == AHA_ERR_CONFIG,
          "NUL in file");

    /* --help lists every key with type and default */
    fflush(stdout);
    int saved = dup(1);
    FILE *h = freopen(path, "w", stdout);
    aha_cfg_print_help(k_fields, NF);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    (void)h;
    text = read_file(path);
    CHECK(text && strstr(text, "model.dim") && strstr(text, "(int, 64): help for model.dim") &&
              strstr(text, "(string, \"demo\")") && strstr(text, "req") && strstr(text, "required"),
          "help text:\n%s", text ? text : "(null)");
    remove(path);
}

/* A struct described by its own table, nested in another under "net" (as model.* is in the run
 * config): FLOAT32, CHOICE and a FIXED field. */
typedef struct {
    int size;
    float eps;
    int kind;  /* CHOICE: 0 = "alpha", 1 = "beta", 2 = "gamma" */
    int fixed; /* FIXED: no key, default 7 */
} sub_t;
typedef struct {
    int seed;
    sub_t net;
} outer_t;
static const aha_cfg_field_t k_sub[] = {
    {.key = "size",
     .type = AHA_CFG_INT,
     .offset = offsetof(sub_t, size),
     .def = "4",
     .min = 1,
     .max = 8,
     .hf = "hidden_size"},
    {.key = "eps",
     .type = AHA_CFG_FLOAT32,
     .offset = offsetof(sub_t, eps),
     .def = "1e-3",
     .min = 0,
     .max = 1},
    {.key = "kind",
     .type = AHA_CFG_CHOICE,
     .offset = offsetof(sub_t, kind),
     .def = "beta",
     .min = 1,
     .choices = "alpha|beta|gamma"},
    {.key = "fixed",
     .type = AHA_CFG_INT,
     .offset = offsetof(sub_t, fixed),
     .def = "7",
     .min = 7,
     .max = 7,
     .flags = AHA_CFG_FIXED},
};
static const aha_cfg_field_t k_outer[] = {
    {.key = "seed", .type = AHA_CFG_INT, .offset = offsetof(outer_t, seed), .def = "1", .min = 1},
    {.key = "net",
     .type = AHA_CFG_TABLE,
     .offset = offsetof(outer_t, net),
     .sub = k_sub,
     .n_sub = 4},
};

static void test_tables(void) {
    sub_t d;
    memset(&d, 0, sizeof d);
    REQUIRE_OK(aha_cfg_defaults(&d, sizeof d, k_sub, 4));
    CHECK(d.size == 4 && d.eps == 1e-3f && d.kind == 1 && d.fixed == 7, "defaults %d %g %d %d",
          d.size, (double)d.eps, d.kind, d.fixed);
    CHECK(aha_cfg_check(&d, k_sub, 4, "sub") == 0, "defaults pass the check: %s", aha_last_error());
    d.kind = 3;
    CHECK(aha_cfg_check(&d, k_sub, 4, "sub") == AHA_ERR_CONFIG &&
              strstr(aha_last_error(), "sub: kind"),
          "bad choice index: %s", aha_last_error());
    d.kind = 0;
    d.size = 9;
    CHECK(aha_cfg_check(&d, k_sub, 4, "sub") == AHA_ERR_CONFIG &&
              strstr(aha_last_error(), "sub: size must be in [1, 8] (got 9)"),
          "out of range: %s", aha_last_error());
    d.size = 4;
    d.eps = NAN;
    CHECK(aha_cfg_check(&d, k_sub, 4, "sub") == AHA_ERR_CONFIG && strstr(aha_last_error(), "eps"),
          "NaN float: %s", aha_last_error());
    char name[16];
    CHECK(aha_cfg_choice_name(&k_sub[2], 2, name, sizeof name) == 0 && !strcmp(name, "gamma") &&
              aha_cfg_choice_name(&k_sub[2], 3, name, sizeof name) < 0,
          "choice names");
    CHECK(aha_cfg_float32_text(1e-3f) == 0.001 && aha_cfg_float32_text(0.1f) == 0.1,
          "shortest float text");

    /* the nested table's keys are "net.<key>"; the FIXED one is no key but gets its default */
    outer_t o;
    memset(&o, 0, sizeof o);
    const char *ov[] = {"net.eps=0.25", "net.kind=gamma"};
    REQUIRE_OK(aha_cfg_load_string(&o, sizeof o, k_outer, 2, "net:\n  size: 8\n", "t.yaml", ov, 2));
    CHECK(o.seed == 1 && o.net.size == 8 && o.net.eps == 0.25f && o.net.kind == 2 &&
              o.net.fixed == 7,
          "nested load %d %d %g %d %d", o.seed, o.net.size, (double)o.net.eps, o.net.kind,
          o.net.fixed);
    const char *bad_choice[] = {"net.kind=delta"};
    CHECK(aha_cfg_load_string(&o, sizeof o, k_outer, 2, NULL, NULL, bad_choice, 1) ==
                  AHA_ERR_CONFIG &&
              strstr(aha_last_error(), "net.kind: expected one of alpha|beta|gamma"),
          "unknown choice: %s", aha_last_error());
    const char *fixed[] = {"net.fixed=7"};
    CHECK(aha_cfg_load_string(&o, sizeof o, k_outer, 2, NULL, NULL, fixed, 1) == AHA_ERR_CONFIG &&
              strstr(aha_last_error(), "net.fixed: unknown key"),
          "a FIXED field is no key: %s", aha_last_error());
    const char *huge[] = {"net.eps=1e300"};
    CHECK(aha_cfg_load_string(&o, sizeof o, k_outer, 2, NULL, NULL, huge, 1) == AHA_ERR_CONFIG,
          "float32 overflow");

    /* save and reload: the choice by name, the float32 in its shortest form */
    char path[] = "/tmp/aha_cfg_tables_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    o.net.eps = 0.1f;
    REQUIRE_OK(aha_cfg_save(&o, k_outer, 2, path));
    const char *text = read_file(path);
    CHECK(text && strstr(text, "\nnet:\n  size: 8\n  eps: 0.1\n  kind: \"gamma\"\n") &&
              !strstr(text, "fixed"),
          "saved:\n%s", text ? text : "(null)");
    outer_t back;
    memset(&back, 0, sizeof back);
    REQUIRE_OK(aha_cfg_load_file(&back, sizeof back, k_outer, 2, path, NULL, 0));
    CHECK(!memcmp(&o, &back, sizeof o), "round trip through the saved file");
    remove(path);
}

static const tu_case_t cases[] = {
    {"success", test_success},
    {"errors", test_errors},
    {"round_trip", test_round_trip},
    {"tables", test_tables},
};

TU_MAIN(cases)
