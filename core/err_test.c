/* err: last-error message, AHA_TRY trace, and wrapping the previous message. */
#include "core/err.h"
#include "core/testutil.h"
#include <string.h>

static int fails(void) {
    return AHA_FAIL(AHA_ERR_IO, "disk %s", "full");
}
static int calls(void) {
    AHA_TRY(fails());
    return 0;
}

static void test_last_error(void) {
    aha_error_clear();
    CHECK(!strcmp(aha_last_error(), ""), "empty after clear");
    CHECK(calls() == AHA_ERR_IO, "AHA_TRY propagates the code");
    const char *m = aha_last_error();
    CHECK(!strncmp(m, "disk full", 9) && strstr(m, "err_test.c") && strstr(m, "fails()"),
          "trace: %s", m);
    /* the message may be rebuilt from itself */
    AHA_FAIL(AHA_ERR_CONFIG, "wrapped: %s", aha_last_error());
    CHECK(!strncmp(aha_last_error(), "wrapped: disk full", 18), "wrap: %s", aha_last_error());
    CHECK(!strcmp(aha_strerror(AHA_ERR_NOMEM), "out of memory") && aha_strerror(-99) != NULL,
          "strerror");
}

static const tu_case_t cases[] = {
    {"last_error", test_last_error},
};

TU_MAIN(cases)
