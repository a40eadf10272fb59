/* slabmap.h — the free fast path's map: for every 64 KiB slab of the 47-bit
 * address space, the byte offset in a thread's front (hak_front_t) of the
 * cache that takes the slab's blocks.  Entries are 0 except for the slabs of
 * small spans; 0 lands on the front's head, a cache that is always full, so
 * a pointer that is not a class block (not ours, in a large span or a huge
 * mapping, in a free slab) reaches free's slow path, which resolves it
 * through the segment map (segmap.h) before it touches any header.  So
 * free() needs one map load where it used to need the segment map's test,
 * the region header's per-slab table and the arithmetic to find both.
 *
 * 2^31 entries of 2 bytes: 4 GiB of address space, reserved once at init
 * read-only, without commit charge and out of core dumps.  The page of entries that covers a
 * superslab is made writable when the superslab is first mapped (one page
 * per 128 MiB of address range that superslabs ever used).  When the
 * reservation or a page is refused (RLIMIT_AS, strict overcommit), the
 * entries stay 0 and those frees take the slow path: slower, never wrong.
 * Entries change under the owning heap's span lock, when a span is carved
 * (its class) or freed (0); a stale pointer into a slab whose span changed
 * meets the flush's checks like any block (heap.c flush_run). */
#ifndef HAKMEM_SLABMAP_H
#define HAKMEM_SLABMAP_H

#include "internal.h"

#define HAK_SLABMAP_ENTRIES ((size_t)1 << (HAK_ADDR_BITS - HAK_SLAB_SHIFT))

/* The map and its index mask, as fronts carry them (0 and a one-entry map
 * until init, or when the reservation failed). */
HAK_HIDDEN void hak_slabmap_front(hak_front_t *f);
extern HAK_HIDDEN uint16_t hak_slabmap_none[1];   /* that one entry (0) */
/* Reserve the map (init, once). */
HAK_HIDDEN void hak_slabmap_init(void);
/* Make the entries of the superslab at base writable (at its setup; a bit
 * test once its page is open); false when the OS refused, and its slabs
 * stay on the slow path. */
HAK_HIDDEN bool hak_slabmap_open(uintptr_t base);
/* Slab idx of region r serves class fc (HAK_FC_SLOW: none). */
HAK_HIDDEN void hak_slabmap_set(const hak_region_t *r, unsigned idx, unsigned fc);

/* The free fast path's lookup: the front offset for address a. */
HAK_INLINE uint16_t hak_slabmap_off(const hak_front_t *f, uintptr_t a) {
    const uint16_t *map = (const uint16_t *)(const void *)f->head.top;
    return __atomic_load_n(&map[(a >> HAK_SLAB_SHIFT) & f->head.flush_stamp], __ATOMIC_RELAXED);
}

#endif
