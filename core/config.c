#include "core/config.h"
#include "core/buf.h"
#include "core/err.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define KEY_MAX 256          /* longest dotted key */
#define MAX_DEPTH 16         /* deepest mapping nesting */
#define MAX_FILE (16u << 20) /* largest config file */
#define WHERE_MAX 1200       /* "source:line: " prefix of messages */

static const char *const k_type_names[] = {"int", "float", "bool", "string", "float", "choice"};
static const char *const k_type_desc[] = {"an integer", "a number", "a boolean",
                                          "a string",   "a number", "one of the choices"};

typedef struct {
    const aha_cfg_field_t *fields;
    size_t n;
    char *out;          /* scratch copy of the caller's struct */
    unsigned char *set; /* per field: given by the YAML or an override */
    const char *source; /* YAML source name for messages */
    const char *text;   /* YAML text (for byte offset -> line) */
    char **seen;        /* dotted keys met in the YAML, for duplicate detection */
    size_t n_seen, cap_seen;
} ctx_t;

static const aha_cfg_field_t *find_field(const ctx_t *c, const char *key) {
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->fields[i].key, key)) return &c->fields[i];
    return NULL;
}

/* Index of NAME in the '|'-separated choices of F, or -1. */
static int choice_index(const aha_cfg_field_t *f, const char *name) {
    const char *c = f->choices;
    const size_t len = strlen(name);
    for (int i = 0; c && *c; i++) {
        const size_t n = strcspn(c, "|");
        if (n == len && !strncmp(c, name, n)) return i;
        c += n + (c[n] == '|');
    }
    return -1;
}

int aha_cfg_choice_name(const aha_cfg_field_t *f, int i, char *buf, size_t cap) {
    const char *c = f && f->type == AHA_CFG_CHOICE ? f->choices : NULL;
    for (int k = 0; c && *c && i >= 0; k++) {
        const size_t n = strcspn(c, "|");
        if (k == i) {
            if (n >= cap) return -1;
            memcpy(buf, c, n);
            buf[n] = 0;
            return 0;
        }
        c += n + (c[n] == '|');
    }
    return -1;
}

double aha_cfg_float32_text(float f) {
    char buf[64];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) return strtod(buf, NULL);
    }
    return (double)f;
}

/* Parses TEXT per the field's type into DST. Errors read "<where><key>: ...". */
static int set_value(const aha_cfg_field_t *f, char *dst, const char *text, const char *where) {
    const char *ell = strlen(text) > 64 ? "..." : "";
    const int ranged = f->min <= f->max;
    switch (f->type) {
    case AHA_CFG_INT: {
        const char *p = text + (*text == '+' || *text == '-');
        int digits = *p != 0;
        for (; *p; p++)
            digits &= isdigit((unsigned char)*p) != 0;
        if (!digits)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: expected an integer, got \"%.64s%s\"", where,
                            f->key, text, ell);
        errno = 0;
        long long v = strtoll(text, NULL, 10);
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX ||
            (ranged && (v < f->min || v > f->max))) {
            if (ranged)
                return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: value %.64s%s out of range [%.17g, %.17g]",
                                where, f->key, text, ell, f->min, f->max);
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: value %.64s%s does not fit in an int", where,
                            f->key, text, ell);
        }
        int iv = (int)v;
        memcpy(dst, &iv, sizeof iv);
        return 0;
    }
    case AHA_CFG_FLOAT:
    case AHA_CFG_FLOAT32: {
        char *end = NULL;
        double v = *text && !isspace((unsigned char)*text) ? strtod(text, &end) : 0;
        if (!end || *end || !isfinite(v) || (f->type == AHA_CFG_FLOAT32 && !isfinite((float)v)))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: expected a finite number, got \"%.64s%s\"",
                            where, f->key, text, ell);
        if (ranged && (v < f->min || v > f->max))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: value %.64s%s out of range [%.17g, %.17g]",
                            where, f->key, text, ell, f->min, f->max);
        if (f->type == AHA_CFG_FLOAT32) {
            float fv = (float)v;
            memcpy(dst, &fv, sizeof fv);
        } else {
            memcpy(dst, &v, sizeof v);
        }
        return 0;
    }
    case AHA_CFG_CHOICE: {
        int v = choice_index(f, text);
        if (v < 0)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: expected one of %s, got \"%.64s%s\"", where,
                            f->key, f->choices ? f->choices : "(none)", text, ell);
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    case AHA_CFG_TABLE:
        break;
    case AHA_CFG_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        int v = -1;
        for (int i = 0; i < 4 && v < 0; i++) {
            if (!strcasecmp(text, yes[i]))
                v = 1;
            else if (!strcasecmp(text, no[i]))
                v = 0;
        }
        if (v < 0)
            return AHA_FAIL(AHA_ERR_CONFIG,
                            "%s%s: expected a boolean (true/false), got \"%.64s%s\"", where, f->key,
                            text, ell);
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    case AHA_CFG_STRING: {
        size_t len = strlen(text);
        if (len >= AHA_CFG_STR_MAX)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: string of %zu bytes is too long (max %d)", where,
                            f->key, len, AHA_CFG_STR_MAX - 1);
        if (ranged && f->min >= 1 && len == 0)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: must not be empty", where, f->key);
        if (ranged && (len < f->min || len > f->max))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: string of %zu bytes, want [%.17g, %.17g]", where,
                            f->key, len, f->min, f->max);
        memcpy(dst, text, len + 1);
        return 0;
    }
    }
    return AHA_FAIL(AHA_ERR_ARG, "%s: bad field type %d", f->key, (int)f->type);
}

/* ---------------------------------------------------------------------------------------------- */
/* YAML walk */

/* Formats "SOURCE:LINE: " for messages. */
static void where_at(const ctx_t *c, char *buf, size_t n, yaml_mark_t m) {
    snprintf(buf, n, "%s:%zu: ", c->source, m.line + 1);
}

static int next_event(ctx_t *c, yaml_parser_t *p, yaml_event_t *ev) {
    if (yaml_parser_parse(p, ev)) return 0;
    size_t line = p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) { /* reader errors carry a byte offset, not a mark */
        line = 1;
        for (size_t i = 0; i < p->problem_offset && c->text[i]; i++)
            line += c->text[i] == '\n';
    }
    return AHA_FAIL(AHA_ERR_CONFIG, "%s:%zu: YAML syntax error: %s%s%s%s", c->source, line,
                    p->problem ? p->problem : "unknown problem", p->context ? " (" : "",
                    p->context ? p->context : "", p->context ? ")" : "");
}

static const char *kind_name(yaml_event_type_t t) {
    return t == YAML_MAPPING_START_EVENT    ? "a mapping"
           : t == YAML_SEQUENCE_START_EVENT ? "a sequence"
                                            : "an alias";
}

/* Records KEY as seen in the YAML; error if it was already there. */
static int mark_seen(ctx_t *c, const char *key, yaml_mark_t m) {
    char where[WHERE_MAX];
    for (size_t i = 0; i < c->n_seen; i++)
        if (!strcmp(c->seen[i], key)) {
            where_at(c, where, sizeof where, m);
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: duplicate key", where, key);
        }
    if (c->n_seen == c->cap_seen) {
        size_t cap = c->cap_seen ? 2 * c->cap_seen : 32;
        char **s = realloc(c->seen, cap * sizeof *s);
        if (!s) return AHA_FAIL(AHA_ERR_NOMEM, "config keys");
        c->seen = s;
        c->cap_seen = cap;
    }
    if (!(c->seen[c->n_seen] = strdup(key))) return AHA_FAIL(AHA_ERR_NOMEM, "config keys");
    c->n_seen++;
    return 0;
}

/* Handles the value event VAL of dotted KEY (written at KMARK). */
static int walk_value(ctx_t *c, yaml_parser_t *p, const char *key, yaml_mark_t kmark,
                      yaml_event_t *val, int depth);

/* Walks the entries of a mapping whose MAPPING-START was consumed; PATH is its dotted prefix. */
static int walk_mapping(ctx_t *c, yaml_parser_t *p, const char *path, int depth) {
    char where[WHERE_MAX], key[KEY_MAX];
    for (;;) {
        yaml_event_t kev, vev;
        AHA_TRY(next_event(c, p, &kev));
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        int rc = 0;
        where_at(c, where, sizeof where, kev.start_mark);
        if (kev.type != YAML_SCALAR_EVENT) {
            rc = AHA_FAIL(AHA_ERR_CONFIG, "%s%s: keys must be scalars, got %s", where,
                          *path ? path : "<top level>", kind_name(kev.type));
        } else if (!kev.data.scalar.length ||
                   strlen((char *)kev.data.scalar.value) != kev.data.scalar.length) {
            rc = AHA_FAIL(AHA_ERR_CONFIG, "%s%s%s: empty or invalid key", where, path,
                          *path ? "." : "");
        } else if ((size_t)snprintf(key, sizeof key, "%s%s%s", path, *path ? "." : "",
                                    (char *)kev.data.scalar.value) >= sizeof key) {
            rc = AHA_FAIL(AHA_ERR_CONFIG, "%s%.64s...: key too long", where, path);
        } else {
            rc = mark_seen(c, key, kev.start_mark);
        }
        yaml_mark_t kmark = kev.start_mark;
        yaml_event_delete(&kev);
        if (rc < 0) return rc;
        AHA_TRY(next_event(c, p, &vev));
        rc = walk_value(c, p, key, kmark, &vev, depth);
        yaml_event_delete(&vev);
        if (rc < 0) return rc;
    }
}

static int walk_value(ctx_t *c, yaml_parser_t *p, const char *key, yaml_mark_t kmark,
                      yaml_event_t *val, int depth) {
    char where[WHERE_MAX], kwhere[WHERE_MAX];
    where_at(c, where, sizeof where, val->start_mark);
    where_at(c, kwhere, sizeof kwhere, kmark);
    const aha_cfg_field_t *f = find_field(c, key);
    if (val->type == YAML_ALIAS_EVENT)
        return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: YAML aliases are not supported", where, key);
    if (val->type == YAML_SCALAR_EVENT) {
        if (!f) return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: unknown key", kwhere, key);
        const char *text = (const char *)val->data.scalar.value;
        if (strlen(text) != val->data.scalar.length)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: value contains a NUL character", where, key);
        AHA_TRY(set_value(f, c->out + f->offset, text, where));
        c->set[f - c->fields] = 1;
        return 0;
    }
    if (f)
        return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: expected %s, got %s", where, key,
                        k_type_desc[f->type], kind_name(val->type));
    if (val->type != YAML_MAPPING_START_EVENT)
        return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: unknown key", kwhere, key);
    if (depth >= MAX_DEPTH) return AHA_FAIL(AHA_ERR_CONFIG, "%s%s: nesting too deep", where, key);
    return walk_mapping(c, p, key, depth + 1);
}

/* Walks a whole YAML stream: empty, or a single document whose root is a mapping. */
static int walk_stream(ctx_t *c, yaml_parser_t *p) {
    yaml_event_t ev;
    int rc = 0, docs = 0;
    char where[WHERE_MAX];
    for (;;) {
        AHA_TRY(next_event(c, p, &ev));
        yaml_event_type_t t = ev.type;
        where_at(c, where, sizeof where, ev.start_mark);
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_DOCUMENT_START_EVENT && docs++)
            rc = AHA_FAIL(AHA_ERR_CONFIG, "%sonly one YAML document is allowed", where);
        else if (t == YAML_MAPPING_START_EVENT)
            rc = walk_mapping(c, p, "", 1);
        else if (t == YAML_SCALAR_EVENT && ev.data.scalar.length)
            rc = AHA_FAIL(AHA_ERR_CONFIG, "%sthe top level must be a mapping of keys, got a scalar",
                          where);
        else if (t == YAML_SEQUENCE_START_EVENT || t == YAML_ALIAS_EVENT)
            rc = AHA_FAIL(AHA_ERR_CONFIG, "%sthe top level must be a mapping of keys, got %s",
                          where, kind_name(t));
        yaml_event_delete(&ev);
        if (rc < 0) return rc;
    }
    yaml_event_delete(&ev);
    return 0;
}

static int load_yaml(ctx_t *c, const char *yaml, size_t len) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return AHA_FAIL(AHA_ERR_NOMEM, "%s: YAML parser", c->source);
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    c->text = yaml;
    int rc = walk_stream(c, &p);
    yaml_parser_delete(&p);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* Loading */

static const size_t k_sizes[] = {sizeof(int),     sizeof(double), sizeof(int),
                                 AHA_CFG_STR_MAX, sizeof(float),  sizeof(int)};

static int check_schema(const aha_cfg_field_t *fields, size_t n, size_t out_size) {
    if (n && !fields) return AHA_FAIL(AHA_ERR_ARG, "config: NULL field table");
    for (size_t i = 0; i < n; i++) {
        const aha_cfg_field_t *f = &fields[i];
        if (!f->key || !*f->key || strlen(f->key) >= KEY_MAX)
            return AHA_FAIL(AHA_ERR_ARG, "config schema: field %zu has a bad key", i);
        if ((unsigned)f->type > AHA_CFG_CHOICE)
            return AHA_FAIL(AHA_ERR_ARG, "config schema: %s: bad type %d", f->key, (int)f->type);
        if (f->offset > out_size || k_sizes[f->type] > out_size - f->offset)
            return AHA_FAIL(AHA_ERR_ARG,
                            "config schema: %s: offset %zu outside the %zu-byte struct", f->key,
                            f->offset, out_size);
        if (f->type == AHA_CFG_CHOICE && choice_index(f, "") == 0)
            return AHA_FAIL(AHA_ERR_ARG, "config schema: %s: empty choice", f->key);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(fields[j].key, f->key))
                return AHA_FAIL(AHA_ERR_ARG, "config schema: %s: duplicate field", f->key);
    }
    return 0;
}

/* A field table with the TABLE fields expanded ("model" + "dim" -> "model.dim", offsets added)
 * and the FIXED fields left out: the keys of YAML, --set, the saved file and the help. */
typedef struct {
    aha_cfg_field_t *f;
    size_t n, cap;
    char (*keys)[KEY_MAX];
} flat_t;

static size_t flat_count(const aha_cfg_field_t *fields, size_t n, int depth) {
    size_t count = 0;
    for (size_t i = 0; fields && i < n && depth < MAX_DEPTH; i++)
        count += fields[i].type == AHA_CFG_TABLE
                     ? flat_count(fields[i].sub, fields[i].n_sub, depth + 1)
                     : 1;
    return count;
}

static int flat_add(flat_t *fl, const aha_cfg_field_t *fields, size_t n, const char *prefix,
                    size_t base, int depth) {
    if (n && !fields) return AHA_FAIL(AHA_ERR_ARG, "config: NULL field table under '%s'", prefix);
    if (depth >= MAX_DEPTH) return AHA_FAIL(AHA_ERR_ARG, "config schema: %s: too deep", prefix);
    for (size_t i = 0; i < n; i++) {
        const aha_cfg_field_t *f = &fields[i];
        if (!f->key || !*f->key)
            return AHA_FAIL(AHA_ERR_ARG, "config schema: field %zu under '%s' has no key", i,
                            prefix);
        if (f->flags & AHA_CFG_FIXED) continue;
        char key[KEY_MAX];
        if ((size_t)snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", f->key) >=
            sizeof key)
            return AHA_FAIL(AHA_ERR_ARG, "config schema: %s.%s: key too long", prefix, f->key);
        if (f->type == AHA_CFG_TABLE) {
            AHA_TRY(flat_add(fl, f->sub, f->n_sub, key, base + f->offset, depth + 1));
            continue;
        }
        if (fl->n == fl->cap) return AHA_FAIL(AHA_ERR_ARG, "config schema: table changed");
        memcpy(fl->keys[fl->n], key, sizeof key);
        fl->f[fl->n] = *f;
        fl->f[fl->n].key = fl->keys[fl->n];
        fl->f[fl->n].offset = base + f->offset;
        fl->n++;
    }
    return 0;
}

static void flat_free(flat_t *fl) {
    free(fl->f);
    free(fl->keys);
    *fl = (flat_t){0};
}

static int flatten(const aha_cfg_field_t *fields, size_t n, flat_t *fl) {
    *fl = (flat_t){0};
    if (n && !fields) return AHA_FAIL(AHA_ERR_ARG, "config: NULL field table");
    fl->cap = flat_count(fields, n, 0);
    fl->f = calloc(fl->cap ? fl->cap : 1, sizeof *fl->f);
    fl->keys = calloc(fl->cap ? fl->cap : 1, sizeof *fl->keys);
    int rc = fl->f && fl->keys ? flat_add(fl, fields, n, "", 0, 0)
                               : AHA_FAIL(AHA_ERR_NOMEM, "config field table");
    if (rc < 0) flat_free(fl);
    return rc;
}

/* Runs FN on every non-TABLE field of FIELDS (FIXED ones too), at its offset in the struct. */
static int each_field(const aha_cfg_field_t *fields, size_t n, size_t base, int depth,
                      int (*fn)(const aha_cfg_field_t *f, size_t offset, void *arg), void *arg) {
    if (n && !fields) return AHA_FAIL(AHA_ERR_ARG, "config: NULL field table");
    if (depth >= MAX_DEPTH) return AHA_FAIL(AHA_ERR_ARG, "config schema: too deep");
    for (size_t i = 0; i < n; i++) {
        const aha_cfg_field_t *f = &fields[i];
        if (f->type == AHA_CFG_TABLE)
            AHA_TRY(each_field(f->sub, f->n_sub, base + f->offset, depth + 1, fn, arg));
        else
            AHA_TRY(fn(f, base + f->offset, arg));
    }
    return 0;
}

typedef struct {
    char *cfg;
    size_t size;
    const char *what;
} each_arg_t;

static int in_struct(const aha_cfg_field_t *f, size_t offset, const each_arg_t *a) {
    if ((unsigned)f->type > AHA_CFG_CHOICE || offset > a->size ||
        k_sizes[f->type] > a->size - offset)
        return AHA_FAIL(AHA_ERR_ARG, "config schema: %s: bad type or offset", f->key);
    return 0;
}

static int default_one(const aha_cfg_field_t *f, size_t offset, void *arg) {
    each_arg_t *a = arg;
    AHA_TRY(in_struct(f, offset, a));
    return f->def ? set_value(f, a->cfg + offset, f->def, "default for ") : 0;
}

int aha_cfg_defaults(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields) {
    if (!out) return AHA_FAIL(AHA_ERR_ARG, "aha_cfg_defaults: NULL argument");
    each_arg_t a = {out, out_size, NULL};
    return each_field(fields, n_fields, 0, 0, default_one, &a);
}

static int check_one(const aha_cfg_field_t *f, size_t offset, void *arg) {
    const each_arg_t *a = arg;
    AHA_TRY(in_struct(f, offset, a));
    const char *p = a->cfg + offset;
    const int ranged = f->min <= f->max;
    int iv;
    double dv;
    float fv;
    switch (f->type) {
    case AHA_CFG_INT:
        memcpy(&iv, p, sizeof iv);
        if (ranged && (iv < f->min || iv > f->max))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: %s must be in [%.17g, %.17g] (got %d)", a->what,
                            f->key, f->min, f->max, iv);
        return 0;
    case AHA_CFG_BOOL:
        memcpy(&iv, p, sizeof iv);
        if (iv != 0 && iv != 1)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: %s must be 0 or 1 (got %d)", a->what, f->key, iv);
        return 0;
    case AHA_CFG_CHOICE: {
        char name[AHA_CFG_STR_MAX];
        memcpy(&iv, p, sizeof iv);
        if (aha_cfg_choice_name(f, iv, name, sizeof name) < 0)
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: %s must be one of %s, as 0, 1, ... (got %d)",
                            a->what, f->key, f->choices ? f->choices : "(none)", iv);
        return 0;
    }
    case AHA_CFG_FLOAT:
    case AHA_CFG_FLOAT32:
        if (f->type == AHA_CFG_FLOAT32) {
            memcpy(&fv, p, sizeof fv);
            dv = fv;
        } else {
            memcpy(&dv, p, sizeof dv);
        }
        if (!isfinite(dv) || (ranged && (dv < f->min || dv > f->max)))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: %s must be finite and in [%.17g, %.17g] (got %g)",
                            a->what, f->key, f->min, f->max, dv);
        return 0;
    case AHA_CFG_STRING:
        if (!memchr(p, 0, AHA_CFG_STR_MAX))
            return AHA_FAIL(AHA_ERR_CONFIG, "%s: %s is not terminated", a->what, f->key);
        if (ranged && (strlen(p) < f->min || strlen(p) > f->max))
            return AHA_FAIL(AHA_ERR_CONFIG,
                            "%s: %s must be a string of [%.17g, %.17g] bytes (got %zu)", a->what,
                            f->key, f->min, f->max, strlen(p));
        return 0;
    case AHA_CFG_TABLE:
        break;
    }
    return AHA_FAIL(AHA_ERR_ARG, "%s: bad field type %d", f->key, (int)f->type);
}

int aha_cfg_check(const void *cfg, const aha_cfg_field_t *fields, size_t n_fields,
                  const char *what) {
    if (!cfg) return AHA_FAIL(AHA_ERR_ARG, "%s: NULL", what ? what : "config");
    each_arg_t a = {(char *)cfg, SIZE_MAX, what ? what : "config"};
    return each_field(fields, n_fields, 0, 0, check_one, &a);
}

int aha_cfg_set_text(void *cfg, const aha_cfg_field_t *f, const char *text, const char *where) {
    if (!cfg || !f || !text || f->type == AHA_CFG_TABLE)
        return AHA_FAIL(AHA_ERR_ARG, "aha_cfg_set_text: bad argument");
    return set_value(f, (char *)cfg + f->offset, text, where ? where : "");
}

static int apply_override(ctx_t *c, const char *ov) {
    if (!ov) return AHA_FAIL(AHA_ERR_ARG, "--set: NULL override");
    const char *eq = strchr(ov, '=');
    if (!eq || eq == ov) return AHA_FAIL(AHA_ERR_CONFIG, "--set %.200s: expected key=value", ov);
    char key[KEY_MAX];
    size_t klen = (size_t)(eq - ov);
    if (klen >= sizeof key) return AHA_FAIL(AHA_ERR_CONFIG, "--set %.64s...: key too long", ov);
    memcpy(key, ov, klen);
    key[klen] = 0;
    const aha_cfg_field_t *f = find_field(c, key);
    if (!f) return AHA_FAIL(AHA_ERR_CONFIG, "--set %s: unknown key", key);
    AHA_TRY(set_value(f, c->out + f->offset, eq + 1, "--set "));
    c->set[f - c->fields] = 1;
    return 0;
}

/* NEED_KEYS: the YAML must set at least one key (a config file that sets nothing is a mistake,
 * not a request for the defaults). */
static int load(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields,
                const char *yaml, size_t yaml_len, const char *source, const char *const *overrides,
                size_t n_overrides, int need_keys) {
    if (!out || (n_overrides && !overrides)) return AHA_FAIL(AHA_ERR_ARG, "config: NULL argument");
    flat_t fl;
    AHA_TRY(flatten(fields, n_fields, &fl));
    int rc = check_schema(fl.f, fl.n, out_size);
    if (rc < 0) {
        flat_free(&fl);
        return rc;
    }
    const aha_cfg_field_t *const table = fields;
    const size_t n_table = n_fields;
    fields = fl.f;
    n_fields = fl.n;
    ctx_t c = {.fields = fields, .n = n_fields, .source = source ? source : "<config>"};
    c.out = malloc(out_size ? out_size : 1);
    c.set = calloc(n_fields ? n_fields : 1, 1);
    if (!c.out || !c.set) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "config");
        goto done;
    }
    memcpy(c.out, out, out_size);
    each_arg_t defaults = {c.out, out_size, NULL};
    AHA_TRY_GOTO(rc, each_field(table, n_table, 0, 0, default_one, &defaults), done);
    if (yaml) AHA_TRY_GOTO(rc, load_yaml(&c, yaml, yaml_len), done);
    if (yaml && need_keys && c.n_seen == 0) {
        rc = AHA_FAIL(AHA_ERR_CONFIG,
                      "%s: the config file sets no keys (empty or only comments); leave out "
                      "--config to run the defaults",
                      c.source);
        goto done;
    }
    for (size_t i = 0; i < n_overrides; i++)
        AHA_TRY_GOTO(rc, apply_override(&c, overrides[i]), done);
    for (size_t i = 0; i < n_fields; i++)
        if (!fields[i].def && !c.set[i]) {
            rc = AHA_FAIL(AHA_ERR_CONFIG, "%s: %s: required key missing", c.source, fields[i].key);
            goto done;
        }
    memcpy(out, c.out, out_size);
done:
    for (size_t i = 0; i < c.n_seen; i++)
        free(c.seen[i]);
    free(c.seen);
    free(c.set);
    free(c.out);
    flat_free(&fl);
    return rc;
}

int aha_cfg_load_string(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields,
                        const char *yaml, const char *source, const char *const *overrides,
                        size_t n_overrides) {
    return load(out, out_size, fields, n_fields, yaml, yaml ? strlen(yaml) : 0, source, overrides,
                n_overrides, 0);
}

int aha_cfg_load_file(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields,
                      const char *path, const char *const *overrides, size_t n_overrides) {
    if (!path)
        return load(out, out_size, fields, n_fields, NULL, 0, NULL, overrides, n_overrides, 0);
    FILE *f = fopen(path, "rb");
    if (!f) return AHA_FAIL(AHA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    aha_buf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= MAX_FILE)
        aha_buf_add(&b, chunk, n);
    int rc = 0;
    if (ferror(f))
        rc = AHA_FAIL(AHA_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    else if (b.err)
        rc = AHA_FAIL(AHA_ERR_NOMEM, "%s: reading", path);
    else if (b.len > MAX_FILE)
        rc = AHA_FAIL(AHA_ERR_CONFIG, "%s: larger than %u bytes", path, MAX_FILE);
    fclose(f);
    if (rc == 0)
        rc = load(out, out_size, fields, n_fields, b.p ? b.p : "", b.len, path, overrides,
                  n_overrides, 1);
    aha_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* Saving and help */

static void put_value(aha_buf_t *b, const aha_cfg_field_t *f, const char *cfg) {
    int iv;
    double dv;
    switch (f->type) {
    case AHA_CFG_INT:
    case AHA_CFG_BOOL:
        memcpy(&iv, cfg + f->offset, sizeof iv);
        if (f->type == AHA_CFG_INT)
            aha_buf_printf(b, "%d", iv);
        else
            aha_buf_puts(b, iv ? "true" : "false");
        break;
    case AHA_CFG_FLOAT: /* shortest of %.15g..%.17g that reads back exactly */
        memcpy(&dv, cfg + f->offset, sizeof dv);
        aha_buf_json_num(b, dv);
        break;
    case AHA_CFG_FLOAT32: {
        float fv;
        memcpy(&fv, cfg + f->offset, sizeof fv);
        aha_buf_json_num(b, aha_cfg_float32_text(fv));
        break;
    }
    case AHA_CFG_CHOICE: {
        char s[AHA_CFG_STR_MAX] = "?";
        memcpy(&iv, cfg + f->offset, sizeof iv);
        aha_cfg_choice_name(f, iv, s, sizeof s);
        aha_buf_json_str(b, s);
        break;
    }
    case AHA_CFG_TABLE:
        break;
    case AHA_CFG_STRING: {
        char s[AHA_CFG_STR_MAX];
        memcpy(s, cfg + f->offset, sizeof s);
        s[sizeof s - 1] = 0;
        aha_buf_json_str(b, s); /* JSON escapes are valid in YAML double-quoted scalars */
        break;
    }
    }
}

/* Length of the segment of KEY starting at offset OFF (up to the next '.' or the end). */
static size_t seg_len(const char *key, size_t off) {
    return strcspn(key + off, ".");
}

/* Emits, at nesting DEPTH, every field whose key starts with PREFIX (length plen, "" or "a.b."),
 * grouping keys that share their next segment under one mapping in first-appearance order. */
static void put_level(aha_buf_t *b, const aha_cfg_field_t *fields, size_t n, const char *cfg,
                      const char *prefix, size_t plen, int depth) {
    for (size_t i = 0; i < n; i++) {
        const char *k = fields[i].key;
        if (strncmp(k, prefix, plen)) continue;
        size_t sl = seg_len(k, plen);
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strncmp(fields[j].key, k, plen + sl) &&
                  (fields[j].key[plen + sl] == '.' || fields[j].key[plen + sl] == 0);
        if (dup) continue;
        aha_buf_printf(b, "%*s%.*s:", 2 * depth, "", (int)sl, k + plen);
        if (k[plen + sl] == 0) {
            aha_buf_puts(b, " ");
            put_value(b, &fields[i], cfg);
            aha_buf_puts(b, "\n");
        } else {
            aha_buf_puts(b, "\n");
            put_level(b, fields, n, cfg, k, plen + sl + 1, depth + 1);
        }
    }
}

int aha_cfg_save(const void *cfg, const aha_cfg_field_t *fields, size_t n_fields,
                 const char *path) {
    if (!cfg || !path || (n_fields && !fields))
        return AHA_FAIL(AHA_ERR_ARG, "aha_cfg_save: NULL argument");
    flat_t fl;
    AHA_TRY(flatten(fields, n_fields, &fl));
    aha_buf_t b = {0};
    aha_buf_puts(&b, "# effective configuration written by aha\n");
    put_level(&b, fl.f, fl.n, cfg, "", 0, 0);
    flat_free(&fl);
    int rc;
    if (b.err) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "%s: config text", path);
    } else {
        const void *parts[] = {b.p};
        rc = aha_write_file_atomic(path, parts, &b.len, 1);
    }
    aha_buf_free(&b);
    return rc;
}

void aha_cfg_print_help(const aha_cfg_field_t *table, size_t n_table) {
    flat_t fl;
    if (flatten(table, n_table, &fl) < 0) return;
    const aha_cfg_field_t *fields = fl.f;
    const size_t n_fields = fl.n;
    int w = 0;
    for (size_t i = 0; i < n_fields; i++)
        w = (int)strlen(fields[i].key) > w ? (int)strlen(fields[i].key) : w;
    for (size_t i = 0; i < n_fields; i++) {
        const aha_cfg_field_t *f = &fields[i];
        const char *q =
            (f->type == AHA_CFG_STRING || f->type == AHA_CFG_CHOICE) && f->def ? "\"" : "";
        printf("  %-*s (%s, %s%s%s): %s\n", w, f->key, k_type_names[f->type], q,
               f->def ? f->def : "required", q, f->help ? f->help : "");
    }
    flat_free(&fl);
}
