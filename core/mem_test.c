/* mem_test: AHA_FREE (core/mem.h) frees every pointer it is given, once. Under ASan (make
 * sanitize) a pointer left out is a reported leak and one freed twice an error; in the plain build
 * the heap in use (mallinfo2) must drop by what was allocated. */
#include "core/mem.h"
#include "core/testutil.h"
#include <malloc.h>

enum { BLOCK = 64 * 1024 }; /* above tcache sizes, below the mmap threshold: counted in uordblks */

static void test_free_all(void) {
    const size_t before = mallinfo2().uordblks;
    char *a = malloc(BLOCK), *b = malloc(BLOCK), *none = NULL;
    float *c = malloc(BLOCK);
    REQUIRE(a && b && c, "malloc");
    const size_t held = mallinfo2().uordblks;
    AHA_FREE(a, none, b, c);
    const size_t after = mallinfo2().uordblks;
    /* the sanitizers' allocator does not report through mallinfo2 (held == before) */
    if (held > before)
        CHECK(held - after >= 3 * BLOCK, "heap in use %zu -> %zu -> %zu: all three freed", before,
              held, after);
}

static void test_single(void) {
    const size_t before = mallinfo2().uordblks;
    int *x = malloc(BLOCK);
    REQUIRE(x, "malloc");
    const size_t held = mallinfo2().uordblks;
    AHA_FREE(x);
    if (held > before) CHECK(held - mallinfo2().uordblks >= BLOCK, "one pointer freed");
}

static const tu_case_t cases[] = {
    {"free_all", test_free_all},
    {"single", test_single},
};

TU_MAIN(cases)
