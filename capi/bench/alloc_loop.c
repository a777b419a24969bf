/* The C side of scripts/capi-instructions.sh: N calls of vma_alloc with the size and
 * alignment read at run time, the arena reset every 1000 calls (as capi/examples/alloc_loop.rs
 * does in Rust). Usage: alloc_loop N SIZE ALIGN. */
#include <stdio.h>
#include <stdlib.h>

#include "vmallocator.h"

int main(int argc, char **argv) {
    size_t n, size, align, i, j, sink = 0;
    vma_mallocator *m;
    void *p;
    if (argc != 4) {
        fprintf(stderr, "usage: alloc_loop N SIZE ALIGN\n");
        return 2;
    }
    n = strtoull(argv[1], NULL, 10);
    size = strtoull(argv[2], NULL, 10);
    align = strtoull(argv[3], NULL, 10);
    if (vma_create_with_size(1 << 20, VMA_PROT_READ_WRITE, &m) != VMA_OK) return 1;
    for (i = 0; i < n; i += 1000) {
        for (j = 0; j < 1000; j++) {
            if (vma_alloc(m, size, align, &p) != VMA_OK) {
                fprintf(stderr, "%s\n", vma_last_error_message());
                return 1;
            }
            sink += (size_t)p;
        }
        vma_reset(m);
    }
    printf("%d\n", (int)(sink & 1));
    return vma_free(m) == VMA_OK ? 0 : 1;
}
