/* A vma_free the OS refuses leaves the handle valid (Linux: at the process's limit on
 * mappings, munmap of a page inside a larger mapping needs one mapping more and fails with
 * ENOMEM). Skipped under valgrind (it keeps its own mappings) and elsewhere than Linux. */
#define _DEFAULT_SOURCE
#include "check.h"

#if defined(__linux__)
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Whether one line of /proc/self/maps covers [start, end): the arena merged with the pages
 * around it, so unmapping it splits a mapping. */
static int one_mapping(uintptr_t start, uintptr_t end) {
    char line[512];
    unsigned long lo, hi;
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= start && hi >= end;
    fclose(f);
    return found;
}

void test_free_refused(void) {
    enum { MAX_FILL = 1 << 20 };
    size_t page = vma_page_size(), used = 0, n = 0, i;
    vma_mallocator *m = NULL;
    vma_builder *b = NULL;
    uint8_t *outer, *block = NULL;
    void **fill;
    vma_status s;

    if (getenv("VMALLOCATOR_VALGRIND")) {
        printf("skipped: a refused vma_free (valgrind keeps its own mappings)\n");
        return;
    }
    outer = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(outer != MAP_FAILED);
    if (outer == MAP_FAILED) return;
    munmap(outer + page, page);
    b = vma_builder_new();
    OK(vma_builder_size(b, page));
    OK(vma_builder_at(b, (size_t)(uintptr_t)(outer + page)));
    OK(vma_builder_build(b, &m));
    vma_builder_free(b);
    if (!m) return;
    if (!one_mapping((uintptr_t)outer, (uintptr_t)outer + 3 * page)) {
        printf("skipped: a refused vma_free (the kernel did not merge the arena's mapping)\n");
        OK(vma_free(m));
        munmap(outer, page);
        munmap(outer + 2 * page, page);
        return;
    }
    OK(vma_alloc_bytes(m, (const uint8_t *)"still here", 10, &block));

    /* Fill the limit with one-page mappings, alternately readable and not (no merging). */
    fill = malloc(MAX_FILL * sizeof *fill);
    CHECK(fill != NULL);
    if (!fill) return;
    for (n = 0; n < MAX_FILL; n++) {
        fill[n] = mmap(NULL, page, n % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (fill[n] == MAP_FAILED) break;
    }
    s = vma_free(m);
    for (i = 0; i < 8 && n > 0; i++) munmap(fill[--n], page); /* room again */
    if (n == MAX_FILL || s == VMA_OK) {
        printf("skipped: a refused vma_free (no limit reached after %zu mappings)\n", n);
        if (s != VMA_OK) OK(vma_free(m));
    } else {
        CHECK(s == VMA_ERR_OS);
        CHECK(vma_last_error_os_code() == ENOMEM);
        /* The handle is still valid, its arena intact and usable; freeing again works. */
        OK(vma_used(m, &used));
        CHECK(used == 10 && memcmp(block, "still here", 10) == 0);
        OK(vma_alloc_bytes(m, (const uint8_t *)"!", 1, &block));
        OK(vma_free(m));
    }
    while (n > 0) munmap(fill[--n], page);
    free(fill);
    munmap(outer, page);
    munmap(outer + 2 * page, page);
}
#else
void test_free_refused(void) {
    printf("skipped: a refused vma_free (Linux only)\n");
}
#endif
