/* core/config.h — YAML configuration loaded into typed C structs through a field table.
 *
 * A schema is an array of aha_cfg_field_t, each naming a dotted key ("model.dim"), its type, the
 * offsetof() of the destination in the caller's struct and a default (as text, parsed like YAML).
 * Loading: defaults first, then the YAML file (nested mappings give dotted keys), then overrides
 * "a.b=c" (from --set) in order. Unknown keys, wrong types, out-of-range values and duplicate keys
 * are errors whose message names the source, line and key:
 *     configs/demo.yaml:12: model.dim: expected an integer, got "abc"
 *     --set train.lr: unknown key
 * The message is available through aha_last_error(); nothing is written to out on error
 * (the struct is filled in a scratch copy and copied out on success). */
#ifndef AHA_CORE_CONFIG_H
#define AHA_CORE_CONFIG_H
#include <stddef.h>

typedef enum {
    AHA_CFG_INT,     /* int */
    AHA_CFG_FLOAT,   /* double */
    AHA_CFG_BOOL,    /* int, 0 or 1 */
    AHA_CFG_STRING,  /* char[AHA_CFG_STR_MAX] */
    AHA_CFG_FLOAT32, /* float: parsed and range-checked as a double, stored rounded to float */
    AHA_CFG_CHOICE,  /* int: the index of the value in the '|'-separated list `choices` */
    AHA_CFG_TABLE,   /* a nested struct described by its own table `sub`; keys "<key>.<sub key>" */
} aha_cfg_type_t;

#define AHA_CFG_STR_MAX 256 /* AHA_CFG_STRING fields are char[AHA_CFG_STR_MAX] */

/* Flags of a field. */
enum {
    AHA_CFG_FIXED = 1, /* not a YAML / --set key: gets its default and is checked, but is set by
                          the program (e.g. the model's vocab_size, fixed by the tokenizer) */
};

typedef struct aha_cfg_field aha_cfg_field_t;
struct aha_cfg_field {
    const char *key;            /* dotted path, e.g. "model.dim" */
    aha_cfg_type_t type;        /* see aha_cfg_type_t */
    size_t offset;              /* offsetof(struct, member) */
    const char *def;            /* default as text; NULL = required key */
    double min, max;            /* inclusive range for INT/FLOAT/FLOAT32, of the length in bytes for
                            STRING ("must not be empty" when min >= 1); min > max: no check */
    const char *help;           /* one line, shown by `aha ... --help` */
    const char *choices;        /* CHOICE: "a|b|c", value i is the i-th name */
    const char *hf;             /* key of the field in a Hugging Face config.json, or NULL */
    int flags;                  /* AHA_CFG_FIXED */
    const aha_cfg_field_t *sub; /* TABLE: the nested struct's fields */
    size_t n_sub;               /* TABLE: how many */
};

/* Fills *out (of size out_size) from defaults, then YAML text (if yaml != NULL; SOURCE names it in
 * errors), then overrides[0..n_overrides). */
int aha_cfg_load_string(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields,
                        const char *yaml, const char *source, const char *const *overrides,
                        size_t n_overrides);
/* Same, reading the YAML from PATH (PATH == NULL: defaults + overrides only). A file that sets
 * no key (empty, only comments) is AHA_ERR_CONFIG naming PATH. */
int aha_cfg_load_file(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields,
                      const char *path, const char *const *overrides, size_t n_overrides);
/* Writes the effective config as YAML (nested mappings) to PATH, for the run directory. */
int aha_cfg_save(const void *cfg, const aha_cfg_field_t *fields, size_t n_fields, const char *path);
/* Prints "key (type, default): help" lines to stdout. */
void aha_cfg_print_help(const aha_cfg_field_t *fields, size_t n_fields);

/* Fills the struct at OUT (of size out_size) with the defaults of FIELDS (FIXED ones included;
 * required fields are left alone). Errors only for a bad table or default. */
int aha_cfg_defaults(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields);
/* Checks every value of the struct CFG against its field: INT/FLOAT/FLOAT32 in range (and
 * finite), BOOL 0 or 1, CHOICE a valid index, STRING terminated. AHA_ERR_CONFIG
 * "<what>: <key> ... (got <value>)" naming the first bad field. */
int aha_cfg_check(const void *cfg, const aha_cfg_field_t *fields, size_t n_fields,
                  const char *what);
/* Parses TEXT into field F of the struct CFG (as YAML or --set would); errors name WHERE and the
 * key. */
int aha_cfg_set_text(void *cfg, const aha_cfg_field_t *f, const char *text, const char *where);
/* Name of choice I of a CHOICE field, written to buf (cap bytes); 0, or -1 for a bad index. */
int aha_cfg_choice_name(const aha_cfg_field_t *f, int i, char *buf, size_t cap);
/* Shortest decimal (as a double) that reads back as the float F: 0.001, not 0.0010000000474974513. */
double aha_cfg_float32_text(float f);

#endif
