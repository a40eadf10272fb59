/* huge.h — blocks above HAK_LARGE_MAX, and blocks aligned beyond a slab:
 * each gets its own mapping of whole superslabs, 2 MiB aligned, whose first
 * page is a superslab header, so free() finds it like any other block.
 * realloc grows and shrinks it with mremap, moving pages instead of copying
 * them.  Freed mappings are kept in a cache for reuse within the release
 * policy's budget (hak_release.huge_cap: 4 x RETAIN_MB in SPEED, TARGET_MB
 * in mem-lean; a mapping bigger than the room left keeps its head),
 * decommitted per its advice, and unmapped after the purge delay (the
 * scheduler's HUGE source) or on malloc_trim.  Reuse takes any size: a
 * smaller block is cut from the best-fitting cached mapping (the rest stays
 * cached), a bigger one is built from the cached mappings' pages moved by
 * mremap, so pages already faulted in are not faulted again. */
#ifndef HAKMEM_HUGE_H
#define HAKMEM_HUGE_H

#include "backend/superslab.h"

/* size bytes aligned to align (a power of two, or 0); NULL + ENOMEM on
 * failure.  *fresh says the block is zero (new from the OS). */
HAK_HIDDEN void *hak_huge_alloc(size_t size, size_t align, bool *fresh);
HAK_HIDDEN void hak_huge_free(hak_superslab_t *r);
/* Resize in place or by moving the mapping; NULL (block intact) on failure. */
HAK_HIDDEN void *hak_huge_realloc(hak_superslab_t *r, size_t size);
/* Unmap every cached huge mapping (malloc_trim); bytes released. */
HAK_HIDDEN size_t hak_huge_cache_trim(void);
HAK_HIDDEN void hak_huge_init(void);
HAK_HIDDEN void hak_huge_fork_prepare(void);
HAK_HIDDEN void hak_huge_fork_parent(void);
HAK_HIDDEN void hak_huge_fork_child(void);
HAK_INLINE void *hak_huge_block(const hak_superslab_t *r) { return (uint8_t *)r + r->data_off; }
HAK_INLINE size_t hak_huge_usable(const hak_superslab_t *r) { return r->map_size - r->data_off; }

#endif
