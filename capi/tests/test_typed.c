/* The string calls of the typed API: vma_alloc_cstr, vma_alloc_utf16_units. */
#include "check.h"

void test_typed(void) {
    vma_mallocator *m = NULL;
    char *c = NULL;
    uint16_t *w = NULL, *w2 = NULL;
    const uint16_t units[] = {0x68, 0xd834, 0xdd1e, 0xdc00 /* unpaired */, 0x77};
    const uint16_t with_nul[] = {1, 2, 0, 3};
    size_t n = 0, used = 0;

    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_cstr(NULL, "a", 1, &c));
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_utf16_units(NULL, units, 1, &w, &n));

    OK(vma_create(&m));
    OK(vma_alloc_cstr(m, "hello\xff", 6, &c)); /* any bytes, not only UTF-8 */
    CHECK(memcmp(c, "hello\xff", 7) == 0 && c[6] == '\0');
    OK(vma_alloc_cstr(m, NULL, 0, &c));
    CHECK(c[0] == '\0');
    used = used_of(m);
    EXPECT(VMA_ERR_INTERIOR_NUL, vma_alloc_cstr(m, "ab\0cd", 5, &c));
    CHECK(vma_last_error_offset() == 2);
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_cstr(m, NULL, 3, &c));
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_cstr(m, "a", 1, NULL));
    CHECK(used_of(m) == used);

    OK(vma_alloc_utf16_units(m, units, 5, &w, &n));
    CHECK(n == 6 && (uintptr_t)w % 2 == 0);
    CHECK(memcmp(w, units, sizeof units) == 0 && w[5] == 0);
    OK(vma_alloc_utf16_units(m, units, 1, &w2, NULL)); /* the length is optional */
    CHECK(w2[0] == 0x68 && w2[1] == 0);
    OK(vma_alloc_utf16_units(m, NULL, 0, &w, &n));
    CHECK(n == 1 && w[0] == 0);
    used = used_of(m);
    EXPECT(VMA_ERR_INTERIOR_NUL, vma_alloc_utf16_units(m, with_nul, 4, &w, &n));
    CHECK(vma_last_error_offset() == 2); /* in units */
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_utf16_units(m, NULL, 2, &w, &n));
    CHECK(used_of(m) == used);

    /* Refused while a top block is open, like every allocation. */
    OK(vma_top_begin(m, 1));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_alloc_cstr(m, "x", 1, &c));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_alloc_utf16_units(m, units, 1, &w, &n));
    OK(vma_top_abandon(m));

    /* A read-only page: refused before anything is written. */
    OK(vma_set_protection(m, VMA_PROT_READ));
    EXPECT(VMA_ERR_NOT_WRITABLE, vma_alloc_cstr(m, "x", 1, &c));
    EXPECT(VMA_ERR_NOT_WRITABLE, vma_alloc_utf16_units(m, units, 1, &w, &n));
    CHECK(used_of(m) == used);
    OK(vma_free(m));
}
