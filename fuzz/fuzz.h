/* fuzz/fuzz.h — helpers shared by the libFuzzer harnesses (fuzz/README in docs/fuzzing.md).
 *
 * A harness feeds its input to library code and checks the documented contract of the result;
 * a broken contract aborts (libFuzzer reports it as a crash and saves the input). Crashes, leaks
 * and undefined behaviour are found by ASan/UBSan, which the fuzz build enables everywhere. */
#ifndef AHA_FUZZ_FUZZ_H
#define AHA_FUZZ_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with the condition's text if COND is false. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of data[0..size) (malloc'd; the caller frees it). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
