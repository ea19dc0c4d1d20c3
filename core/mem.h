/* core/mem.h — freeing the pointers a struct owns in one call, for the x_destroy functions:
 *
 *     void aha_thing_destroy(aha_thing_t **tp) {
 *         if (!tp || !*tp) return;
 *         aha_thing_t *t = *tp;
 *         AHA_FREE(t->a, t->b, t);
 *         *tp = NULL;
 *     }
 */
#ifndef AHA_CORE_MEM_H
#define AHA_CORE_MEM_H
#include <stddef.h>
#include <stdlib.h>

/* free() of each of ptrs[0..n), in order (NULL entries are fine). */
static inline void aha_free_each(void *const *ptrs, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(ptrs[i]);
}

/* AHA_FREE(a, b, ...): free(a); free(b); ... — the owned pointers of a struct, the struct itself
 * last. Each argument is evaluated once, before any is freed. */
#define AHA_FREE(...)                                                                              \
    aha_free_each((void *const[]){__VA_ARGS__},                                                    \
                  sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))

#endif
