/* Code by address: vma_*_addr, sealing on publish, and the checked function lookup. */
#include "check.h"

typedef int (*answer_fn)(void);

void test_code(void) {
    vma_mallocator *m = NULL, *other = NULL;
    uint8_t *code = NULL, *b = NULL, *elsewhere = NULL;
    const void *f = NULL;
    size_t n = 0, page = vma_page_size();
    uint32_t prot = 0;

    EXPECT(VMA_ERR_NULL_POINTER, vma_protect_addr(NULL, &n, 1, VMA_PROT_READ));
    EXPECT(VMA_ERR_NULL_POINTER, vma_publish_addr(NULL, &n, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_make_writable_addr(NULL, &n, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_protection_of_addr(NULL, &n, 1, &prot));
    EXPECT(VMA_ERR_NULL_POINTER, vma_function(NULL, &n, 1, &f));

    OK(vma_create_with_size(4 * page, VMA_PROT_READ_WRITE, &m));
    OK(vma_alloc_bytes(m, (const uint8_t *)"data", 4, &b));
    OK(vma_alloc_hex(m, "b8 2a 00 00 00 c3", 17, &code, &n)); /* mov eax, 42; ret */
    CHECK(n == 6 && code == b + 4);

    /* Not published yet: no function pointer. */
    EXPECT(VMA_ERR_NOT_EXECUTABLE, vma_function(m, code, n, &f));
    CHECK(f == NULL);
    OK(vma_protection_of_addr(m, code, n, &prot));
    CHECK(prot == VMA_PROT_READ_WRITE);

    /* Blocks are checked: inside [base, ptr) of this arena, not empty for a function. */
    EXPECT(VMA_ERR_NOT_IN_ARENA, vma_publish_addr(m, code, n + 1)); /* past the pointer */
    EXPECT(VMA_ERR_NOT_IN_ARENA, vma_function(m, code, 0, &f));
    EXPECT(VMA_ERR_NULL_POINTER, vma_publish_addr(m, NULL, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_function(m, code, n, NULL));
    OK(vma_create(&other));
    OK(vma_alloc(other, 16, 1, (void **)&elsewhere));
    EXPECT(VMA_ERR_NOT_IN_ARENA, vma_make_writable_addr(m, elsewhere, 16));
    EXPECT(VMA_ERR_NOT_IN_ARENA, vma_protect_addr(m, elsewhere, 16, VMA_PROT_READ));
    OK(vma_free(other));
    OK(vma_protection_of_addr(m, code, n, &prot));
    CHECK(prot == VMA_PROT_READ_WRITE); /* the refusals changed nothing */

    /* While a top block is open, publishing (which may seal, moving the pointer) waits. */
    OK(vma_top_begin(m, 1));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_publish_addr(m, code, n));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_publish(m, 4, n));
    OK(vma_top_abandon(m));

    /* Publish: read+execute, and sealed: the next block starts on a fresh page. */
    OK(vma_publish_addr(m, code, n));
    OK(vma_protection_of_addr(m, code, n, &prot));
    CHECK(prot == VMA_PROT_READ_EXECUTE);
    CHECK(used_of(m) == page);
    OK(vma_protection(m, &prot));
    CHECK(prot == VMA_PROT_MIXED); /* one page read+execute, three read+write */
    OK(vma_alloc_bytes(m, (const uint8_t *)"\x90", 1, &b));
    CHECK(b == code - 4 + page);
    OK(vma_function(m, code, n, &f));
    CHECK(f == code);
#if defined(__x86_64__) || defined(_M_X64)
    {
        answer_fn call;
        memcpy(&call, &f, sizeof call);
        CHECK(call() == 42);
        OK(vma_make_writable_addr(m, code, n));
        EXPECT(VMA_ERR_NOT_EXECUTABLE, vma_function(m, code, n, &f));
        code[1] = 7; /* patched in place: C writes through the pointer */
        OK(vma_publish_addr(m, code, n));
        CHECK(call() == 7);
    }
#else
    printf("skipped: calling published code (not x86_64)\n");
#endif
    OK(vma_protect_addr(m, code, n, VMA_PROT_READ));
    OK(vma_protection_of_addr(m, code, 1, &prot));
    CHECK(prot == VMA_PROT_READ);
    EXPECT(VMA_ERR_NOT_EXECUTABLE, vma_function(m, code, n, &f));
    EXPECT(VMA_ERR_INVALID_ARGUMENT, vma_protect_addr(m, code, n, 2));
    OK(vma_free(m));
}
