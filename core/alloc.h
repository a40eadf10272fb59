/* alloc.h — the allocator's entry points below the API and its checks:
 * what boxes that wrap every operation (debug, secure) build on. */
#ifndef HAKMEM_ALLOC_H
#define HAKMEM_ALLOC_H

#include "internal.h"

/* n bytes, no checks; *fresh says the memory came zeroed from the OS. */
HAK_HIDDEN void *hak_alloc_raw(size_t n, bool *fresh);
/* size bytes aligned to align (a power of two), no checks. */
HAK_HIDDEN void *hak_alloc_aligned_raw(size_t align, size_t size);
/* Free a pointer; reports (once per kind) and ignores one that is not ours. */
HAK_HIDDEN void hak_free_raw(void *p);
/* Usable bytes of p; 0 with *foreign or *invalid set when p is not a block. */
HAK_HIDDEN size_t hak_usable_raw(const void *p, bool *foreign, bool *invalid);
/* Is p exactly the start of a block handed out (or cached)? */
HAK_HIDDEN bool hak_is_block_start(const void *p);

#endif
