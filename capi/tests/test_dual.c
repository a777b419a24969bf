/* Dual mapping: the builder option, the executable view's addresses, atomic patches. */
#include "check.h"

typedef int (*answer_fn)(void);

void test_dual(void) {
    vma_builder *b = vma_builder_new();
    vma_mallocator *m = NULL, *single = NULL;
    uint8_t *code = NULL;
    const void *exec = NULL, *xbase = NULL, *f = NULL;
    void *base = NULL;
    bool dual = true;
    size_t n = 0, page = vma_page_size();
    /* nop (3 bytes); mov eax, imm32 (its immediate at offset 4); ret */
    static const uint8_t answer[] = {0x0f, 0x1f, 0x00, 0xb8, 42, 0, 0, 0, 0xc3};

    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_dual_mapping(NULL, true));
    EXPECT(VMA_ERR_NULL_POINTER, vma_is_dual_mapped(NULL, &dual));
    EXPECT(VMA_ERR_NULL_POINTER, vma_exec_base(NULL, &exec));
    EXPECT(VMA_ERR_NULL_POINTER, vma_exec_addr(NULL, &n, &exec));
    EXPECT(VMA_ERR_NULL_POINTER, vma_patch_u32(NULL, 0, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_patch_u64(NULL, 0, 1));

    /* Without dual mapping the views are one. */
    OK(vma_create(&single));
    OK(vma_is_dual_mapped(single, &dual));
    CHECK(!dual);
    OK(vma_base(single, &base));
    OK(vma_exec_base(single, &xbase));
    CHECK(base == xbase);
    OK(vma_free(single));

    OK(vma_builder_reserve(b, 1 << 20));
    OK(vma_builder_dual_mapping(b, true));
    OK(vma_builder_protection(b, VMA_PROT_READ_WRITE_EXECUTE));
    EXPECT(VMA_ERR_INVALID_OPTIONS, vma_builder_build(b, &m));
    CHECK(m == NULL);
    OK(vma_builder_protection(b, VMA_PROT_READ_WRITE));
#if defined(__linux__) || defined(_WIN32)
    OK(vma_builder_build(b, &m));
#else
    EXPECT(VMA_ERR_UNSUPPORTED, vma_builder_build(b, &m));
    printf("skipped: dual mapping (Linux, Android and Windows only)\n");
    vma_builder_free(b);
    return;
#endif
    vma_builder_free(b);
    OK(vma_is_dual_mapped(m, &dual));
    CHECK(dual);
    OK(vma_base(m, &base));
    OK(vma_exec_base(m, &xbase));
    CHECK(base != xbase);
    EXPECT(VMA_ERR_NULL_POINTER, vma_exec_base(m, NULL));

    OK(vma_alloc_bytes(m, answer, sizeof answer, &code));
    n = sizeof answer;
    CHECK(code == (uint8_t *)base);
    OK(vma_exec_addr(m, code + 4, &exec));
    CHECK((const uint8_t *)exec == (const uint8_t *)xbase + 4);
    EXPECT(VMA_ERR_NOT_IN_ARENA, vma_exec_addr(m, code + n + 1, &exec)); /* past the pointer */
    EXPECT(VMA_ERR_NULL_POINTER, vma_exec_addr(m, NULL, &exec));

    /* Published without a protection change: the writable view stays writable. */
    OK(vma_publish_addr(m, code, n));
    CHECK(used_of(m) == n); /* no sealing */
    OK(vma_function(m, code, n, &f));
    CHECK(f == xbase);

    /* Patches: aligned, below the pointer; a refusal writes nothing. */
    EXPECT(VMA_ERR_INVALID_ADDRESS, vma_patch_u32(m, 2, 0));
    EXPECT(VMA_ERR_INVALID_ADDRESS, vma_patch_u64(m, 4, 0));
    EXPECT(VMA_ERR_NOT_IN_ARENA, vma_patch_u32(m, 8, 0)); /* 8..12 passes the pointer (9) */
    CHECK(memcmp(code, answer, n) == 0);
    CHECK(memcmp(xbase, answer, n) == 0); /* the same bytes in both views */
#if defined(__x86_64__) || defined(_M_X64)
    {
        answer_fn call;
        memcpy(&call, &f, sizeof call);
        CHECK(call() == 42);
        OK(vma_patch_u32(m, 4, 7)); /* callable throughout */
        CHECK(call() == 7);
    }
#else
    OK(vma_patch_u32(m, 4, 7));
    printf("skipped: calling published code (not x86_64)\n");
#endif
    CHECK(code[4] == 7 && ((const uint8_t *)xbase)[4] == 7);
    OK(vma_alloc(m, 16, 8, &base));
    OK(vma_patch_u64(m, 16, UINT64_MAX));
    CHECK(((const uint8_t *)xbase)[23] == 0xff);
    (void)page;
    OK(vma_free(m));
}
