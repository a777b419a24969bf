/* The block that grows at the top (vma_top_*), and nested scopes as checkpoints. */
#include "check.h"

static size_t top_len(vma_mallocator *m) {
    void *p = NULL;
    size_t n = (size_t)-1;
    OK(vma_top_block(m, &p, &n));
    return n;
}

static void test_top_null_and_closed(void) {
    vma_mallocator *m = NULL;
    void *p = NULL;
    size_t n = 7;

    EXPECT(VMA_ERR_NULL_POINTER, vma_top_begin(NULL, 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_top_append(NULL, (const uint8_t *)"a", 1));
    EXPECT(VMA_ERR_NULL_POINTER, vma_top_grow(NULL, 1, &p));
    EXPECT(VMA_ERR_NULL_POINTER, vma_top_block(NULL, &p, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_top_finish(NULL, &p, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_top_abandon(NULL));

    OK(vma_create(&m));
    /* No block open: each call says so, by name, and changes nothing. */
    EXPECT(VMA_ERR_NO_TOP_BLOCK, vma_top_append(m, (const uint8_t *)"a", 1));
    CHECK(contains(vma_last_error_message(), "vma_top_append"));
    EXPECT(VMA_ERR_NO_TOP_BLOCK, vma_top_grow(m, 1, &p));
    EXPECT(VMA_ERR_NO_TOP_BLOCK, vma_top_block(m, &p, &n));
    EXPECT(VMA_ERR_NO_TOP_BLOCK, vma_top_finish(m, &p, &n));
    EXPECT(VMA_ERR_NO_TOP_BLOCK, vma_top_abandon(m));
    CHECK(strcmp(vma_status_name(VMA_ERR_NO_TOP_BLOCK), "VMA_ERR_NO_TOP_BLOCK") == 0);
    CHECK(n == 7 && used_of(m) == 0);
    EXPECT(VMA_ERR_INVALID_ALIGNMENT, vma_top_begin(m, 3));
    EXPECT(VMA_ERR_INVALID_ALIGNMENT, vma_top_begin(m, 0));
    EXPECT(VMA_ERR_NO_TOP_BLOCK, vma_top_abandon(m)); /* the failed begins opened nothing */
    OK(vma_free(m));
}

static void test_top_grow_finish(void) {
    vma_mallocator *m = NULL;
    vma_checkpoint_t cp;
    uint8_t *b = NULL, *after = NULL, *block = NULL;
    void *p = NULL, *g = NULL;
    size_t n = 0, page = vma_page_size();

    OK(vma_create_with_size(4 * page, VMA_PROT_READ_WRITE, &m));
    OK(vma_alloc_bytes(m, (const uint8_t *)"abc", 3, &b));
    OK(vma_checkpoint(m, &cp));
    OK(vma_top_begin(m, 8));
    OK(vma_top_block(m, &p, &n));
    CHECK(p == b + 8 && n == 0); /* aligned to 8 past the 3 bytes */
    CHECK(used_of(m) == 8);
    OK(vma_top_block(m, &p, NULL)); /* the length is optional */
    EXPECT(VMA_ERR_NULL_POINTER, vma_top_block(m, NULL, &n));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_top_begin(m, 1)); /* one at a time */

    OK(vma_top_append(m, (const uint8_t *)"hello", 5));
    OK(vma_top_append(m, NULL, 0));
    OK(vma_top_grow(m, 16, &g));
    CHECK((uint8_t *)g == b + 8 + 5);
    memcpy(g, ", world, again!", 16);
    OK(vma_top_append(m, (const uint8_t *)"?", 1));
    CHECK(top_len(m) == 22);

    /* While it is open, every call that moves the pointer is refused and changes nothing. */
    n = used_of(m);
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_alloc(m, 1, 1, &p));
    CHECK(contains(vma_last_error_message(), "vma_alloc") &&
          contains(vma_last_error_message(), "vma_top_finish"));
    CHECK(strcmp(vma_status_name(VMA_ERR_TOP_BLOCK_OPEN), "VMA_ERR_TOP_BLOCK_OPEN") == 0);
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_alloc_bytes(m, (const uint8_t *)"x", 1, &b));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_alloc_str(m, "x", 1, 2, &p, NULL));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_alloc_hex(m, "00", 2, &b, NULL));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_reset(m));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_reset_zeroed(m));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_reset_decommit(m));
    EXPECT(VMA_ERR_TOP_BLOCK_OPEN, vma_rewind(m, &cp));
    CHECK(contains(vma_last_error_message(), "vma_rewind"));
    CHECK(used_of(m) == n && top_len(m) == 22);
    OK(vma_trim(m)); /* the pages above the pointer only */
    OK(vma_top_append(m, (const uint8_t *)"!", 1));

    EXPECT(VMA_ERR_NULL_POINTER, vma_top_finish(m, NULL, &n)); /* stays open */
    OK(vma_top_finish(m, (void **)&block, &n));
    CHECK(n == 23 && memcmp(block, "hello, world, again!\0?!", 23) == 0);
    EXPECT(VMA_ERR_NO_TOP_BLOCK, vma_top_finish(m, &p, &n));
    OK(vma_alloc_bytes(m, (const uint8_t *)"z", 1, &after));
    CHECK(after == block + 23); /* kept as one block, the next one right after */

    /* An empty block: an aligned address, no bytes. */
    OK(vma_top_begin(m, 16));
    OK(vma_top_finish(m, &p, &n));
    CHECK(n == 0 && (uintptr_t)p % 16 == 0);

    /* A block still open when the arena is freed goes with it. */
    OK(vma_top_begin(m, 1));
    OK(vma_top_append(m, (const uint8_t *)"lost", 4));
    OK(vma_free(m));
}

static void test_top_abandon_and_failures(void) {
    vma_mallocator *m = NULL;
    vma_builder *bld = vma_builder_new();
    uint8_t chunk[4000], *block = NULL;
    void *p = NULL;
    size_t n = 0, used = 0, committed = 0, hwm = 0, page = vma_page_size(), i;

    OK(vma_create_with_size(2 * page, VMA_PROT_READ_WRITE, &m));
    OK(vma_alloc(m, 5, 1, &p));
    OK(vma_top_begin(m, 64));
    OK(vma_top_append(m, (const uint8_t *)"scratch", 7));
    OK(vma_top_abandon(m));
    CHECK(used_of(m) == 5); /* the padding is given back too */
    OK(vma_high_water_mark(m, &hwm));
    CHECK(hwm == 64 + 7);
    OK(vma_alloc(m, 1, 1, &p)); /* allocation works again */

    /* Running out: the append fails whole, the block keeps what it had and stays open. */
    OK(vma_top_begin(m, 1));
    OK(vma_top_append(m, chunk, 1000));
    used = used_of(m);
    EXPECT(VMA_ERR_OUT_OF_MEMORY, vma_top_append(m, chunk, 2 * page));
    EXPECT(VMA_ERR_OUT_OF_MEMORY, vma_top_grow(m, 2 * page, &p));
    CHECK(used_of(m) == used && top_len(m) == 1000);
    OK(vma_top_finish(m, &p, &n));
    CHECK(n == 1000);

    /* A page it would touch is read-only: refused before anything is written. */
    OK(vma_reset(m));
    OK(vma_protect(m, page, page, VMA_PROT_READ));
    OK(vma_top_begin(m, 1));
    OK(vma_top_append(m, chunk, page - 2));
    EXPECT(VMA_ERR_NOT_WRITABLE, vma_top_append(m, (const uint8_t *)"four", 4));
    CHECK(top_len(m) == page - 2);
    OK(vma_top_append(m, (const uint8_t *)"tw", 2)); /* what still fits in the page */
    OK(vma_top_abandon(m));
    CHECK(used_of(m) == 0);
    OK(vma_free(m));

    /* In a reservation the block grows in place, committing pages as it goes. */
    OK(vma_builder_reserve(bld, (size_t)1 << 30));
    OK(vma_builder_commit_step(bld, 1 << 16));
    OK(vma_builder_build(bld, &m));
    vma_builder_free(bld);
    OK(vma_top_begin(m, 8));
    for (i = 0; i < 300; i++) {
        memset(chunk, (int)(i & 0xff), sizeof chunk);
        OK(vma_top_append(m, chunk, sizeof chunk));
    }
    OK(vma_committed(m, &committed));
    CHECK(committed >= 300 * sizeof chunk && committed % (1 << 16) == 0);
    OK(vma_top_finish(m, (void **)&block, &n));
    CHECK(n == 300 * sizeof chunk);
    CHECK(block[0] == 0 && block[4000] == 1 && block[299 * 4000 + 3999] == (299 & 0xff));
    OK(vma_free(m));
}

/* Nested scopes in C: a checkpoint where each level begins, a rewind where it ends. */
static void test_scopes(void) {
    vma_mallocator *m = NULL;
    vma_checkpoint_t outer, inner;
    uint8_t *kept = NULL, *a = NULL, *b = NULL;

    OK(vma_create(&m));
    OK(vma_alloc_bytes(m, (const uint8_t *)"kept", 4, &kept));
    OK(vma_checkpoint(m, &outer));
    OK(vma_alloc_bytes(m, (const uint8_t *)"level1", 6, &a));
    OK(vma_checkpoint(m, &inner));
    OK(vma_alloc_bytes(m, (const uint8_t *)"level2", 6, &b));
    kept[0] = 'K'; /* outer blocks stay usable inside */
    OK(vma_rewind(m, &inner));
    CHECK(used_of(m) == 10 && memcmp(a, "level1", 6) == 0);
    OK(vma_alloc_bytes(m, (const uint8_t *)"again", 5, &b));
    OK(vma_rewind(m, &outer)); /* takes the inner level with it */
    CHECK(used_of(m) == 4 && memcmp(kept, "Kept", 4) == 0);
    EXPECT(VMA_ERR_INVALID_CHECKPOINT, vma_rewind(m, &inner)); /* a level already rewound */
    OK(vma_free(m));
}

void test_top(void) {
    test_top_null_and_closed();
    test_top_grow_finish();
    test_top_abandon_and_failures();
    test_scopes();
}
