/* Exercises every function of the C ABI, success and error paths.
 * Built with the other files of capi/tests and run by scripts/capi-test.sh (gcc on Linux,
 * mingw-w64 + Wine for Windows). */
#include "check.h"

int failures = 0;
int checks = 0;

static void test_globals(void) {
    size_t page = vma_page_size(), gran = vma_granularity();
    CHECK(page >= 4096 && (page & (page - 1)) == 0);
    CHECK(gran >= page && gran % page == 0);
    CHECK(strlen(vma_version()) > 0);
    CHECK(strcmp(vma_status_name(VMA_ERR_HEX), "VMA_ERR_HEX") == 0);
    CHECK(strcmp(vma_status_name(VMA_OK), "VMA_OK") == 0);
    CHECK(strcmp(vma_status_name(12345), "VMA_UNKNOWN_STATUS") == 0);
}

static void test_null_handles(void) {
    void *p = NULL;
    size_t n = 0;
    uint32_t prot = 0;
    vma_checkpoint_t cp;
    vma_mallocator *m = NULL;

    EXPECT(VMA_ERR_NULL_POINTER, vma_create(NULL));
    CHECK(vma_last_error_status() == VMA_ERR_NULL_POINTER);
    CHECK(contains(vma_last_error_message(), "NULL"));
    CHECK(vma_last_error_offset() == SIZE_MAX);
    EXPECT(VMA_ERR_NULL_POINTER, vma_create_with_size(4096, VMA_PROT_READ_WRITE, NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_free(NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc(NULL, 1, 1, &p));
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_bytes(NULL, (const uint8_t *)"a", 1, (uint8_t **)&p));
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_str(NULL, "a", 1, 1, &p, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_hex(NULL, "00", 2, (uint8_t **)&p, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_base(NULL, &p));
    EXPECT(VMA_ERR_NULL_POINTER, vma_ptr(NULL, &p));
    EXPECT(VMA_ERR_NULL_POINTER, vma_size(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_used(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_remaining(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_committed(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_reserved(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_high_water_mark(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_protection(NULL, &prot));
    EXPECT(VMA_ERR_NULL_POINTER, vma_huge_pages(NULL, &prot));
    EXPECT(VMA_ERR_NULL_POINTER, vma_set_protection(NULL, VMA_PROT_READ));
    EXPECT(VMA_ERR_NULL_POINTER, vma_protect(NULL, 0, 1, VMA_PROT_READ));
    EXPECT(VMA_ERR_NULL_POINTER, vma_publish(NULL, 0, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_make_writable(NULL, 0, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_protection_at(NULL, 0, &prot));
    EXPECT(VMA_ERR_NULL_POINTER, vma_protection_of(NULL, 0, 1, &prot));
    EXPECT(VMA_ERR_NULL_POINTER, vma_reset(NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_reset_zeroed(NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_reset_decommit(NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_trim(NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_checkpoint(NULL, &cp));
    EXPECT(VMA_ERR_NULL_POINTER, vma_rewind(NULL, &cp));
    EXPECT(VMA_ERR_NULL_POINTER, vma_checkpoint_used(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_size(NULL, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_reserve(NULL, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_commit_step(NULL, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_protection(NULL, VMA_PROT_READ));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_huge_pages(NULL, VMA_HUGE_PAGES_OFF));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_guard_pages(NULL, 1, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_at(NULL, 0x10000));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_near(NULL, 0x10000, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_builder_build(NULL, &m));
    vma_builder_free(NULL); /* a no-op */

    /* NULL out-parameters on a live handle. */
    OK(vma_create(&m));
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc(m, 1, 1, NULL));
    CHECK(contains(vma_last_error_message(), "out"));
    CHECK(used_of(m) == 0); /* the failed call allocated nothing */
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_bytes(m, NULL, 3, (uint8_t **)&p));
    EXPECT(VMA_ERR_NULL_POINTER, vma_alloc_str(m, NULL, 3, 1, &p, NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_size(m, NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_protection_at(m, 0, NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_checkpoint(m, NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_rewind(m, NULL));
    CHECK(used_of(m) == 0);
    OK(vma_free(m));
}

static void test_figures_and_alloc(void) {
    vma_mallocator *m = NULL;
    size_t page = vma_page_size(), n = 0, size = 0;
    void *base = NULL, *ptr = NULL, *p1 = NULL, *p2 = NULL, *p = NULL;
    uint32_t prot = 99;

    OK(vma_create(&m));
    OK(vma_size(m, &size));
    CHECK(size == vma_granularity());
    OK(vma_base(m, &base));
    OK(vma_ptr(m, &ptr));
    CHECK(base == ptr && base != NULL);
    OK(vma_protection(m, &prot));
    CHECK(prot == VMA_PROT_READ_WRITE);
    OK(vma_huge_pages(m, &prot));
    CHECK(prot == VMA_HUGE_PAGES_OFF);
    OK(vma_free(m));

    OK(vma_create_with_size(4 * page, VMA_PROT_READ_WRITE, &m));
    OK(vma_size(m, &size));
    CHECK(size == 4 * page);
    OK(vma_base(m, &base));
    OK(vma_alloc(m, 1024, 1, &p1));
    OK(vma_alloc(m, 512, 16, &p2));
    CHECK(p1 == base);
    CHECK((uintptr_t)p2 % 16 == 0 && (uintptr_t)p2 >= (uintptr_t)p1 + 1024);
    memset(p2, 0x5a, 512);
    OK(vma_ptr(m, &ptr));
    CHECK((uintptr_t)ptr == (uintptr_t)p2 + 512);
    CHECK(used_of(m) == 1536);
    OK(vma_remaining(m, &n));
    CHECK(n == 4 * page - 1536);
    OK(vma_committed(m, &n));
    CHECK(n == 4 * page);
    OK(vma_reserved(m, &n));
    CHECK(n == 4 * page);
    OK(vma_high_water_mark(m, &n));
    CHECK(n == 1536);

    /* Errors change nothing and leave *out untouched. */
    p = (void *)0x1;
    EXPECT(VMA_ERR_INVALID_ALIGNMENT, vma_alloc(m, 8, 3, &p));
    CHECK(contains(vma_last_error_message(), "3"));
    EXPECT(VMA_ERR_INVALID_ALIGNMENT, vma_alloc(m, 8, 0, &p));
    EXPECT(VMA_ERR_OUT_OF_MEMORY, vma_alloc(m, 4 * page, 1, &p));
    CHECK(vma_last_error_status() == VMA_ERR_OUT_OF_MEMORY);
    CHECK(contains(vma_last_error_message(), "remaining"));
    EXPECT(VMA_ERR_OUT_OF_MEMORY, vma_alloc(m, SIZE_MAX, 1, &p));
    CHECK(p == (void *)0x1);
    CHECK(used_of(m) == 1536);
    /* A successful call leaves the last error as it was. */
    OK(vma_alloc(m, 0, 1, &p));
    CHECK(vma_last_error_status() == VMA_ERR_OUT_OF_MEMORY);
    /* Exactly what is left fits. */
    OK(vma_remaining(m, &n));
    OK(vma_alloc(m, n, 1, &p));
    OK(vma_remaining(m, &n));
    CHECK(n == 0);
    OK(vma_free(m));

    EXPECT(VMA_ERR_ZERO_SIZE, vma_create_with_size(0, VMA_PROT_READ_WRITE, &m));
    EXPECT(VMA_ERR_INVALID_ARGUMENT, vma_create_with_size(page, 2, &m)); /* write without read */
    CHECK(contains(vma_last_error_message(), "0x2"));
    EXPECT(VMA_ERR_SIZE_OVERFLOW, vma_create_with_size(SIZE_MAX, VMA_PROT_READ_WRITE, &m));
}

static void test_writers(void) {
    vma_mallocator *m = NULL;
    void *p = NULL;
    uint8_t *b = NULL;
    size_t n = 0, before;
    static const uint8_t bytes[] = {1, 2, 3};

    OK(vma_create_with_size(4 * vma_page_size(), VMA_PROT_READ_WRITE, &m));
    OK(vma_alloc_bytes(m, bytes, 3, &b));
    CHECK(memcmp(b, bytes, 3) == 0);
    OK(vma_alloc_bytes(m, NULL, 0, &b)); /* empty input may be NULL */

    /* Strings: UTF-8, UTF-16, UTF-32, each NUL-terminated; lengths in bytes. */
    OK(vma_alloc_str(m, "Hello World", 11, 1, &p, &n));
    CHECK(n == 12 && memcmp(p, "Hello World", 12) == 0);
    OK(vma_alloc_str(m, "Hello World", 11, 2, &p, &n));
    CHECK(n == 24 && (uintptr_t)p % 2 == 0);
    CHECK(((uint16_t *)p)[0] == 'H' && ((uint16_t *)p)[10] == 'd' && ((uint16_t *)p)[11] == 0);
    OK(vma_alloc_str(m, "h\xe2\x82\xac\xf0\x9f\xa6\x80", 8, 2, &p, &n)); /* "h€🦀" */
    CHECK(n == 10);
    CHECK(((uint16_t *)p)[1] == 0x20ac && ((uint16_t *)p)[2] == 0xd83e && ((uint16_t *)p)[3] == 0xdd80);
    OK(vma_alloc_str(m, "h\xe2\x82\xac\xf0\x9f\xa6\x80", 8, 4, &p, NULL));
    CHECK((uintptr_t)p % 4 == 0);
    CHECK(((uint32_t *)p)[1] == 0x20ac && ((uint32_t *)p)[2] == 0x1f980 && ((uint32_t *)p)[3] == 0);

    before = used_of(m);
    EXPECT(VMA_ERR_INVALID_ARGUMENT, vma_alloc_str(m, "abc", 3, 3, &p, &n));
    CHECK(contains(vma_last_error_message(), "width 3"));
    EXPECT(VMA_ERR_INVALID_UTF8, vma_alloc_str(m, "ab\xff", 3, 1, &p, &n));
    CHECK(vma_last_error_offset() == 2);
    EXPECT(VMA_ERR_INTERIOR_NUL, vma_alloc_str(m, "a\0b", 3, 2, &p, &n));
    CHECK(vma_last_error_offset() == 1);
    CHECK(used_of(m) == before);

    /* Hex. */
    OK(vma_alloc_hex(m, "00 ab f9 0x42", 13, &b, &n));
    CHECK(n == 4 && b[0] == 0x00 && b[1] == 0xab && b[2] == 0xf9 && b[3] == 0x42);
    OK(vma_alloc_hex(m, "b8 2a 00 00 00 ; mov eax, 42\n\\xc3", 33, &b, &n));
    CHECK(n == 6 && b[5] == 0xc3);
    before = used_of(m);
    EXPECT(VMA_ERR_HEX, vma_alloc_hex(m, "00 ab zz", 8, &b, &n));
    CHECK(vma_last_error_offset() == 6);
    CHECK(contains(vma_last_error_message(), "offset 6"));
    EXPECT(VMA_ERR_HEX, vma_alloc_hex(m, "abc", 3, &b, NULL)); /* odd digit count */
    CHECK(vma_last_error_offset() == 0);
    EXPECT(VMA_ERR_INVALID_UTF8, vma_alloc_hex(m, "00\xc3", 3, &b, NULL));
    CHECK(vma_last_error_offset() == 2);
    CHECK(used_of(m) == before);
    OK(vma_free(m));
}

typedef int (*answer_fn)(void);

static void test_protection(void) {
    vma_mallocator *m = NULL;
    size_t page = vma_page_size(), start, n;
    uint8_t *b = NULL;
    uint32_t prot = 0;

    OK(vma_create_with_size(4 * page, VMA_PROT_READ_WRITE, &m));
    OK(vma_protection_at(m, 0, &prot));
    CHECK(prot == VMA_PROT_READ_WRITE);
    OK(vma_protect(m, page, 1, VMA_PROT_READ));
    OK(vma_protection_at(m, page + 5, &prot));
    CHECK(prot == VMA_PROT_READ);
    OK(vma_protection_of(m, 0, page, &prot));
    CHECK(prot == VMA_PROT_READ_WRITE);
    OK(vma_protection_of(m, page - 1, 2, &prot));
    CHECK(prot == VMA_PROT_MIXED);
    EXPECT(VMA_ERR_OUT_OF_RANGE, vma_protection_at(m, 4 * page, &prot));
    EXPECT(VMA_ERR_OUT_OF_RANGE, vma_protection_of(m, 0, 4 * page + 1, &prot));
    EXPECT(VMA_ERR_OUT_OF_RANGE, vma_protect(m, 0, 5 * page, VMA_PROT_READ));
    EXPECT(VMA_ERR_OUT_OF_RANGE, vma_protect(m, 1, SIZE_MAX, VMA_PROT_READ)); /* overflows */
    EXPECT(VMA_ERR_OUT_OF_RANGE, vma_publish(m, SIZE_MAX, 2));
    EXPECT(VMA_ERR_OUT_OF_RANGE, vma_make_writable(m, 0, 5 * page));
    EXPECT(VMA_ERR_INVALID_ARGUMENT, vma_protect(m, 0, 1, 6));
    EXPECT(VMA_ERR_INVALID_ARGUMENT, vma_set_protection(m, 42));
    OK(vma_protection_of(m, page, page, &prot));
    CHECK(prot == VMA_PROT_READ); /* unchanged by the failures */

    /* The write helpers refuse a page they cannot write. */
    OK(vma_alloc(m, page, 1, (void **)&b));
    EXPECT(VMA_ERR_NOT_WRITABLE, vma_alloc_bytes(m, (const uint8_t *)"x", 1, &b));
    CHECK(used_of(m) == page);
    OK(vma_set_protection(m, VMA_PROT_READ_WRITE));
    OK(vma_protection(m, &prot));
    CHECK(prot == VMA_PROT_READ_WRITE);
    OK(vma_protection_of(m, 0, 4 * page, &prot));
    CHECK(prot == VMA_PROT_READ_WRITE);

    /* Write code, publish, call, patch, publish, call. */
    OK(vma_alloc(m, page - (used_of(m) % page), 1, (void **)&b)); /* to a page boundary */
    start = used_of(m);
    OK(vma_alloc_hex(m, "b8 2a 00 00 00  ; mov eax, 42\nc3  ; ret", 38, &b, &n));
    CHECK(n == 6);
    OK(vma_publish(m, start, n));
    OK(vma_protection_at(m, start, &prot));
    CHECK(prot == VMA_PROT_READ_EXECUTE);
    /* Sealed: the pointer moved past the published page, so the next block is writable. */
    CHECK(used_of(m) == start + page);
    OK(vma_alloc_bytes(m, (const uint8_t *)"\x90", 1, &b));
    CHECK(used_of(m) == start + page + 1);
#if defined(__x86_64__) || defined(_M_X64)
    {
        answer_fn f;
        void *code;
        OK(vma_base(m, &code));
        code = (uint8_t *)code + start;
        memcpy(&f, &code, sizeof f);
        CHECK(f() == 42);
        OK(vma_make_writable(m, start, n));
        ((uint8_t *)code)[1] = 7;
        OK(vma_publish(m, start, n));
        CHECK(f() == 7);
    }
#else
    printf("skipped: calling published code (not x86_64)\n");
#endif
    OK(vma_make_writable(m, start, n));
    OK(vma_protection_at(m, start, &prot));
    CHECK(prot == VMA_PROT_READ_WRITE);
    OK(vma_free(m));
}

static void test_reuse(void) {
    vma_mallocator *m = NULL, *other = NULL;
    vma_checkpoint_t cp, foreign;
    uint8_t *b = NULL, *again = NULL;
    size_t n = 0, page = vma_page_size();

    OK(vma_create_with_size(4 * page, VMA_PROT_READ_WRITE, &m));
    OK(vma_alloc_bytes(m, (const uint8_t *)"keep", 4, &b));
    OK(vma_checkpoint(m, &cp));
    OK(vma_checkpoint_used(&cp, &n));
    CHECK(n == 4);
    EXPECT(VMA_ERR_NULL_POINTER, vma_checkpoint_used(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_checkpoint_used(&cp, NULL));
    OK(vma_alloc_bytes(m, (const uint8_t *)"scratch", 7, &b));
    CHECK(used_of(m) == 11);
    OK(vma_rewind(m, &cp));
    CHECK(used_of(m) == 4);
    OK(vma_alloc_bytes(m, (const uint8_t *)"S", 1, &again));
    CHECK(again == b && memcmp(again, "Scratch", 7) == 0); /* contents kept */

    OK(vma_create(&other));
    OK(vma_checkpoint(other, &foreign));
    EXPECT(VMA_ERR_INVALID_CHECKPOINT, vma_rewind(m, &foreign));
    OK(vma_free(other));
    OK(vma_reset(m));
    CHECK(used_of(m) == 0);
    EXPECT(VMA_ERR_INVALID_CHECKPOINT, vma_rewind(m, &cp)); /* above the pointer now */

    OK(vma_alloc_bytes(m, (const uint8_t *)"secret", 6, &b));
    OK(vma_high_water_mark(m, &n));
    CHECK(n == 11);
    OK(vma_reset_zeroed(m));
    CHECK(used_of(m) == 0 && b[0] == 0 && b[5] == 0);
    OK(vma_alloc_bytes(m, (const uint8_t *)"again", 5, &b));
    OK(vma_reset_decommit(m));
    CHECK(used_of(m) == 0);
    OK(vma_alloc(m, 8, 8, (void **)&b));
    CHECK(b[0] == 0);
    OK(vma_trim(m));
    OK(vma_committed(m, &n));
    CHECK(n < 4 * page);

    /* reset_zeroed on a read-only region cannot zero: refused, nothing changed. */
    OK(vma_alloc_bytes(m, (const uint8_t *)"ro", 2, &b));
    OK(vma_set_protection(m, VMA_PROT_READ));
    n = used_of(m);
    EXPECT(VMA_ERR_NOT_WRITABLE, vma_reset_zeroed(m));
    CHECK(used_of(m) == n);
    OK(vma_free(m));
}

static void test_builder(void) {
    vma_builder *b = vma_builder_new();
    vma_mallocator *m = NULL, *m2 = NULL;
    size_t n = 0, page = vma_page_size();
    void *base = NULL, *p = NULL;
    uint32_t mode = 0;

    CHECK(b != NULL);
    OK(vma_builder_reserve(b, (size_t)1 << 30));
    OK(vma_builder_commit_step(b, 1 << 16));
    OK(vma_builder_protection(b, VMA_PROT_READ_WRITE));
    OK(vma_builder_build(b, &m));
    OK(vma_reserved(m, &n));
    CHECK(n == (size_t)1 << 30);
    OK(vma_committed(m, &n));
    CHECK(n == 0);
    OK(vma_alloc(m, 100, 1, &p));
    OK(vma_committed(m, &n));
    CHECK(n == 1 << 16);
    OK(vma_free(m));

    EXPECT(VMA_ERR_INVALID_ARGUMENT, vma_builder_protection(b, 2));
    EXPECT(VMA_ERR_INVALID_ARGUMENT, vma_builder_huge_pages(b, 9));
    OK(vma_builder_guard_pages(b, 1, 1)); /* guard pages around a reservation */
    OK(vma_builder_build(b, &m));
    OK(vma_reserved(m, &n));
    CHECK(n == (size_t)1 << 30);
    OK(vma_free(m));
    OK(vma_builder_size(b, (size_t)2 << 30)); /* above the reservation: contradictory */
    EXPECT(VMA_ERR_INVALID_OPTIONS, vma_builder_build(b, &m));
    CHECK(contains(vma_last_error_message(), "invalid options"));
    OK(vma_builder_size(b, page));
    OK(vma_builder_guard_pages(b, SIZE_MAX / 2, 1));
    EXPECT(VMA_ERR_GUARD_PAGES_OVERFLOW, vma_builder_build(b, &m));
    CHECK(strcmp(vma_status_name(VMA_ERR_GUARD_PAGES_OVERFLOW), "VMA_ERR_GUARD_PAGES_OVERFLOW") == 0);
    vma_builder_free(b);

    b = vma_builder_new();
    OK(vma_builder_commit_step(b, 0));
    EXPECT(VMA_ERR_INVALID_OPTIONS, vma_builder_build(b, &m));
    vma_builder_free(b);

    b = vma_builder_new();
    OK(vma_builder_size(b, 0));
    EXPECT(VMA_ERR_ZERO_SIZE, vma_builder_build(b, &m));
    OK(vma_builder_size(b, page));
    OK(vma_builder_guard_pages(b, 1, 1));
    OK(vma_builder_build(b, &m));
    OK(vma_size(m, &n));
    CHECK(n == page);
    OK(vma_free(m));
    vma_builder_free(b);

    b = vma_builder_new();
    OK(vma_builder_reserve(b, (size_t)8 << 20));
    OK(vma_builder_huge_pages(b, VMA_HUGE_PAGES_TRANSPARENT));
    OK(vma_builder_build(b, &m));
    OK(vma_huge_pages(m, &mode));
    CHECK(mode == VMA_HUGE_PAGES_TRANSPARENT || mode == VMA_HUGE_PAGES_OFF);
    OK(vma_free(m));
    vma_builder_free(b);

    /* Placement: exactly at a free address; never over a live mapping. */
    OK(vma_create(&m));
    OK(vma_base(m, &base));
    b = vma_builder_new();
    OK(vma_builder_at(b, (size_t)(uintptr_t)base));
    EXPECT(VMA_ERR_ADDRESS_IN_USE, vma_builder_build(b, &m2));
    OK(vma_free(m));
    OK(vma_builder_build(b, &m2));
    OK(vma_base(m2, &p));
    CHECK(p == base);
    OK(vma_free(m2));
    OK(vma_builder_at(b, (size_t)(uintptr_t)base + 1));
    EXPECT(VMA_ERR_INVALID_ADDRESS, vma_builder_build(b, &m2));
    vma_builder_free(b);

    b = vma_builder_new();
    OK(vma_builder_near(b, (size_t)(uintptr_t)base, (size_t)1 << 31));
    OK(vma_builder_build(b, &m));
    OK(vma_base(m, &p));
    {
        uintptr_t a = (uintptr_t)p, t = (uintptr_t)base;
        CHECK((a > t ? a - t : t - a) < ((uintptr_t)1 << 31));
    }
    OK(vma_free(m));
    OK(vma_builder_near(b, 0, 1)); /* nothing is free within 1 byte of address 0 */
    EXPECT(VMA_ERR_NO_FREE_SPACE_NEAR, vma_builder_build(b, &m));
    vma_builder_free(b);
}

static void test_free_and_os_errors(void) {
    vma_mallocator *m = NULL;
    vma_status s;

    OK(vma_create(&m));
    OK(vma_free(m));
    EXPECT(VMA_ERR_INVALID_HANDLE, vma_free(m)); /* a double free is caught */
    CHECK(contains(vma_last_error_message(), "not a live arena"));

    /* Committing 128 TiB at once: the OS refuses, with its code. */
    s = vma_create_with_size((size_t)1 << 47, VMA_PROT_READ_WRITE, &m);
    if (s == VMA_OK) {
        printf("skipped: the OS granted 128 TiB committed at once\n");
        OK(vma_free(m));
    } else {
        CHECK(s == VMA_ERR_OS);
        CHECK(vma_last_error_os_code() != 0);
        CHECK(vma_last_error_offset() == SIZE_MAX);
    }
}

int main(void) {
    test_globals();
    test_null_handles();
    test_figures_and_alloc();
    test_writers();
    test_protection();
    test_reuse();
    test_builder();
    test_free_and_os_errors();
    test_top();
    test_typed();
    test_shared();
    test_free_refused();
    test_code();
    test_dual();
    if (failures) {
        fprintf(stderr, "C ABI test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("C ABI test: all %d checks passed (vmallocator_c %s)\n", checks, vma_version());
    return 0;
}
