/* The thread-safe arena (vma_shared): threads allocating at once, then reset and free. */
#include "check.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

enum { THREADS = 4, BLOCKS = 20000 };

struct worker {
    vma_shared *s;
    int id;
    uint8_t *blocks[BLOCKS];
    int failed;
};

/* Each thread writes its own pattern into every block it gets. */
static void work(struct worker *w) {
    int i;
    uint8_t pattern[24];
    for (i = 0; i < BLOCKS; i++) {
        size_t len = 1 + (size_t)(i % 24);
        memset(pattern, w->id * 31 + i, len);
        if (i % 2) {
            if (vma_shared_alloc_bytes(w->s, pattern, len, &w->blocks[i]) != VMA_OK) w->failed++;
        } else {
            void *p = NULL;
            if (vma_shared_alloc(w->s, len, 8, &p) != VMA_OK || (uintptr_t)p % 8 != 0) w->failed++;
            w->blocks[i] = p;
            if (p) memcpy(p, pattern, len);
        }
    }
}

#ifdef _WIN32
static DWORD WINAPI thread_main(LPVOID arg) {
    work(arg);
    return 0;
}
#else
static void *thread_main(void *arg) {
    work(arg);
    return NULL;
}
#endif

static struct worker workers[THREADS];

static void test_shared_threads(void) {
    vma_shared *s = NULL;
    size_t used = 0, claimed = 0, total = 0;
    int t, i, intact = 1;
#ifdef _WIN32
    HANDLE th[THREADS];
#else
    pthread_t th[THREADS];
#endif

    OK(vma_shared_create_reserve((size_t)256 << 20, 16 << 10, &s));
    for (t = 0; t < THREADS; t++) {
        workers[t].s = s;
        workers[t].id = t;
        workers[t].failed = 0;
#ifdef _WIN32
        th[t] = CreateThread(NULL, 0, thread_main, &workers[t], 0, NULL);
        CHECK(th[t] != NULL);
#else
        CHECK(pthread_create(&th[t], NULL, thread_main, &workers[t]) == 0);
#endif
    }
    for (t = 0; t < THREADS; t++) {
#ifdef _WIN32
        WaitForSingleObject(th[t], INFINITE);
        CloseHandle(th[t]);
#else
        pthread_join(th[t], NULL);
#endif
        CHECK(workers[t].failed == 0);
    }
    /* Every block still holds its thread's pattern: no two blocks overlap. */
    for (t = 0; t < THREADS; t++) {
        for (i = 0; i < BLOCKS; i++) {
            size_t len = 1 + (size_t)(i % 24), k;
            uint8_t want = (uint8_t)(t * 31 + i);
            total += len;
            for (k = 0; k < len; k++) intact &= workers[t].blocks[i][k] == want;
        }
    }
    CHECK(intact);
    OK(vma_shared_used(s, &used));
    OK(vma_shared_claimed(s, &claimed));
    CHECK(used >= total && claimed >= used);
    OK(vma_shared_reset(s));
    OK(vma_shared_used(s, &used));
    CHECK(used == 0);
    OK(vma_shared_free(s));
    EXPECT(VMA_ERR_INVALID_HANDLE, vma_shared_free(s)); /* a double free is caught */
}

static void test_shared_calls(void) {
    vma_shared *s = NULL;
    vma_mallocator *m = NULL;
    uint8_t *b = NULL;
    void *p = NULL;
    size_t n = 0, page = vma_page_size();

    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_create(NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_free(NULL));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_alloc(NULL, 1, 1, &p));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_alloc_bytes(NULL, (const uint8_t *)"a", 1, &b));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_alloc_hex(NULL, "00", 2, &b, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_used(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_claimed(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_size(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_committed(NULL, &n));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_reset(NULL));
    EXPECT(VMA_ERR_ZERO_SIZE, vma_shared_create_with_size(0, VMA_PROT_READ_WRITE, &s));
    EXPECT(VMA_ERR_INVALID_ARGUMENT, vma_shared_create_with_size(page, 2, &s));
    EXPECT(VMA_ERR_INVALID_OPTIONS, vma_shared_create_reserve(1 << 20, SIZE_MAX, &s));

    OK(vma_shared_create(&s));
    OK(vma_shared_size(s, &n));
    CHECK(n >= (size_t)64 << 20);
    OK(vma_shared_alloc_hex(s, "b8 2a 00 00 00 c3", 17, &b, &n));
    CHECK(n == 6 && b[0] == 0xb8 && b[5] == 0xc3);
    EXPECT(VMA_ERR_HEX, vma_shared_alloc_hex(s, "00 zz", 5, &b, &n));
    CHECK(vma_last_error_offset() == 3);
    EXPECT(VMA_ERR_INVALID_ALIGNMENT, vma_shared_alloc(s, 8, 3, &p));
    EXPECT(VMA_ERR_OUT_OF_MEMORY, vma_shared_alloc(s, SIZE_MAX / 2, 1, &p));
    EXPECT(VMA_ERR_NULL_POINTER, vma_shared_alloc(s, 1, 1, NULL));
    OK(vma_shared_committed(s, &n));
    CHECK(n > 0);
    OK(vma_shared_free(s));

    /* A read-only shared arena: the writer refuses, the raw call hands out. (Larger than a
     * chunk: a thread's first allocation claims a whole one.) */
    OK(vma_shared_create_with_size((size_t)1 << 20, VMA_PROT_READ, &s));
    EXPECT(VMA_ERR_NOT_WRITABLE, vma_shared_alloc_bytes(s, (const uint8_t *)"x", 1, &b));
    OK(vma_shared_alloc(s, 8, 8, &p));
    OK(vma_shared_free(s));

    /* The two kinds of handle are kept apart. */
    OK(vma_create(&m));
    EXPECT(VMA_ERR_INVALID_HANDLE, vma_shared_free((vma_shared *)(void *)m));
    OK(vma_free(m));
}

void test_shared(void) {
    test_shared_calls();
    test_shared_threads();
}
