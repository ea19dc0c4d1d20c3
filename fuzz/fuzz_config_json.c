/* fuzz/fuzz_config_json.c — the reader of a checkpoint's config.json (model/checkpoint.h,
 * aha_model_config_parse_json: what aha_model_config_read_json does after reading the file). A
 * config it accepts must pass aha_model_config_validate, and write + read back to the same
 * struct is checked by the unit tests, not here (no files). */
#include "core/err.h"
#include "core/log.h"
#include "fuzz/fuzz.h"
#include "model/checkpoint.h"
#include "model/model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    aha_log_set_level(AHA_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aha_model_config_t c, before;
    memset(&c, 0xA5, sizeof c);
    before = c;
    int rc = aha_model_config_parse_json((const char *)data, size, "fuzz/config.json", &c);
    if (rc != AHA_OK) {
        FUZZ_ASSERT(rc < 0);
        FUZZ_ASSERT(memcmp(&c, &before, sizeof c) == 0); /* written only on success */
        FUZZ_ASSERT(aha_last_error()[0]);
    } else {
        FUZZ_ASSERT(aha_model_config_validate(&c) == AHA_OK);
        (void)aha_model_tensor_count(&c);
    }
    aha_error_clear();
    return 0;
}
