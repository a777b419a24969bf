/* What the C tests share: the check macros, a few helpers, and the test functions of the
 * files beside test.c (scripts/capi-test.sh compiles every .c file of capi/tests into one
 * program). */
#ifndef VMA_TEST_CHECK_H
#define VMA_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmallocator.h"

extern int failures;
extern int checks;

#define CHECK(cond)                                                              \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

/* Expects `call` to return `want`; on a mismatch prints the last error. */
#define EXPECT(want, call)                                                       \
    do {                                                                         \
        vma_status got_ = (call);                                                \
        checks++;                                                                \
        if (got_ != (want)) {                                                    \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", \
                    __FILE__, __LINE__, #call, vma_status_name(got_),            \
                    vma_status_name(want), vma_last_error_message());            \
        }                                                                        \
    } while (0)

#define OK(call) EXPECT(VMA_OK, call)

static inline int contains(const char *haystack, const char *needle) {
    return strstr(haystack, needle) != NULL;
}

static inline size_t used_of(const vma_mallocator *m) {
    size_t used = (size_t)-1;
    OK(vma_used(m, &used));
    return used;
}

/* The tests in the other files. */
void test_top(void);
void test_typed(void);
void test_shared(void);
void test_free_refused(void);
void test_code(void);
void test_dual(void);

#endif
