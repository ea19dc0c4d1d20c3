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

typedef enum { AHA_CFG_INT, AHA_CFG_FLOAT, AHA_CFG_BOOL, AHA_CFG_STRING } aha_cfg_type_t;

#define AHA_CFG_STR_MAX 256 /* AHA_CFG_STRING fields are char[AHA_CFG_STR_MAX] */

typedef struct {
    const char *key;     /* dotted path, e.g. "model.dim" */
    aha_cfg_type_t type; /* INT -> int, FLOAT -> double, BOOL -> int (0/1), STRING -> char[256] */
    size_t offset;       /* offsetof(struct, member) */
    const char *def;     /* default as text; NULL = required key */
    double min, max;     /* inclusive range for INT/FLOAT; min > max disables the check */
    const char *help;    /* one line, shown by `aha ... --help` */
} aha_cfg_field_t;

/* Fills *out (of size out_size) from defaults, then YAML text (if yaml != NULL; SOURCE names it in
 * errors), then overrides[0..n_overrides). */
int aha_cfg_load_string(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields,
                        const char *yaml, const char *source, const char *const *overrides,
                        size_t n_overrides);
/* Same, reading the YAML from PATH (PATH == NULL: defaults + overrides only). */
int aha_cfg_load_file(void *out, size_t out_size, const aha_cfg_field_t *fields, size_t n_fields,
                      const char *path, const char *const *overrides, size_t n_overrides);
/* Writes the effective config as YAML (nested mappings) to PATH, for the run directory. */
int aha_cfg_save(const void *cfg, const aha_cfg_field_t *fields, size_t n_fields, const char *path);
/* Prints "key (type, default): help" lines to stdout. */
void aha_cfg_print_help(const aha_cfg_field_t *fields, size_t n_fields);

#endif
