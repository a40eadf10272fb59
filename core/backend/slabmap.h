/* slabmap.h — the free fast path's map: one 16-bit value per 64 KiB slab of
 * the 47-bit address space, written by the backend when a span is carved
 * (the span shape's map_value: the heap layer makes it the byte offset of
 * the class's cache in a thread front) or freed (0).  Every other address
 * reads 0, which the fast path turns into a cache that is always full, so
 * a pointer that is not a small block (not ours, in a large span or a huge
 * mapping, in a free slab) reaches free's slow path, which resolves it
 * through the segment map (segmap.h) before it touches any header.
 *
 * 2^31 entries of 2 bytes: 4 GiB of address space, reserved once at init
 * read-only, without commit charge and out of core dumps.  The page of
 * entries that covers a superslab is made writable when the superslab is
 * first set up (one page per 128 MiB of address range that superslabs ever
 * used).  When the reservation or a page is refused (RLIMIT_AS, strict
 * overcommit), the entries stay 0 and those frees take the slow path:
 * slower, never wrong.  Entries change under the owner's span lock; a stale
 * pointer into a slab whose span changed meets the flush's checks like any
 * block (heap/cache.c). */
#ifndef HAKMEM_SLABMAP_H
#define HAKMEM_SLABMAP_H

#include "base/base.h"

#define HAK_SLABMAP_ENTRIES ((size_t)1 << (HAK_ADDR_BITS - HAK_SLAB_SHIFT))

/* The map and the mask of its index, as the fast path reads them: before
 * init, or when the reservation failed, a one-entry map (0) and mask 0. */
HAK_HIDDEN const uint16_t *hak_slabmap_base(void);
HAK_HIDDEN uint64_t hak_slabmap_mask(void);
extern HAK_HIDDEN const uint16_t hak_slabmap_none[1];
/* Reserve the map (init, once). */
HAK_HIDDEN void hak_slabmap_init(void);
/* Make the entries of the superslab at base writable (at its setup; a bit
 * test once its page is open); false when the OS refused, and its slabs
 * stay on the slow path. */
HAK_HIDDEN bool hak_slabmap_open(uintptr_t base);
/* The entry of the slab at address slab (64 KiB aligned). */
HAK_HIDDEN void hak_slabmap_set(uintptr_t slab, uint16_t value);

/* The fast path's lookup. */
HAK_INLINE uint16_t hak_slabmap_get(const uint16_t *map, uint64_t mask, uintptr_t a) {
    return __atomic_load_n(&map[(a >> HAK_SLAB_SHIFT) & mask], __ATOMIC_RELAXED);
}

#endif
