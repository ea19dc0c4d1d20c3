/* fuzz/fuzz_config_yaml.c — the YAML run config and --set parser (core/config.h) with the run
 * config's field table (main/run_config.c): the input up to the first NUL byte is the YAML file,
 * each further NUL-separated piece one --set override ("key=value"), at most 16. A config that
 * loads goes through aha_run_config_check (model shape, rewards, task, template, a problem, a
 * prompt and a document) with the worker settings cleared, so no key directory is read. */
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "fuzz/fuzz.h"
#include "main/run_config.h"

#define MAX_SETS 16

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    aha_log_set_level(AHA_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_strndup(data, size);
    const char *sets[MAX_SETS];
    size_t n_sets = 0;
    size_t at = strlen(text);
    while (at < size && n_sets < MAX_SETS) {
        sets[n_sets++] = text + at + 1;
        at += 1 + strlen(text + at + 1);
    }
    static aha_run_config_t c, before; /* static: 5 KB of strings */
    memset(&c, 0x5A, sizeof c);
    before = c;
    int rc = aha_cfg_load_string(&c, sizeof c, aha_run_config_fields, aha_run_config_n_fields, text,
                                 "fuzz.yaml", sets, n_sets);
    if (rc != AHA_OK) {
        FUZZ_ASSERT(rc < 0);
        FUZZ_ASSERT(memcmp(&c, &before, sizeof c) == 0); /* nothing written on error */
        FUZZ_ASSERT(aha_last_error()[0]);
    } else {
        FUZZ_ASSERT(aha_cfg_check(&c, aha_run_config_fields, aha_run_config_n_fields, "fuzz") ==
                    AHA_OK);
        c.rl.actors = c.rl.verifiers = c.net.serve = 0;
        (void)aha_run_config_check(&c);
    }
    free(text);
    aha_error_clear();
    return 0;
}
