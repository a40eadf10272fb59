/* segmap.h — the segment map: one byte per 2 MiB of the 47-bit address
 * space says whether hakmem owns it.  0: not ours.  1: a region header
 * starts here.  v >= 2: continuation of a huge region whose header is
 * v-1 segments below (255: at least 254 below; step back and look again).
 * free() and friends consult it before touching any header, so a pointer
 * hakmem does not own is never dereferenced.  The map is zero-filled .bss:
 * untouched parts cost no memory. */
#ifndef HAKMEM_SEGMAP_H
#define HAKMEM_SEGMAP_H

#include "internal.h"

#define HAK_SEGMAP_ENTRIES ((size_t)1 << (HAK_ADDR_BITS - HAK_SEGMENT_SHIFT))

extern HAK_HIDDEN _Atomic uint8_t hak_segmap[HAK_SEGMAP_ENTRIES];

/* The value for p (0 for addresses outside user space). */
HAK_INLINE unsigned hak_segmap_get(uintptr_t a) {
    if (HAK_UNLIKELY(a >> HAK_ADDR_BITS)) return 0;
    return atomic_load_explicit(&hak_segmap[a >> HAK_SEGMENT_SHIFT], memory_order_relaxed);
}

/* Mark [base, base+size) as one region (base 2 MiB aligned). */
HAK_HIDDEN void hak_segmap_set(uintptr_t base, size_t size);
HAK_HIDDEN void hak_segmap_clear(uintptr_t base, size_t size);
/* Region header of p, or NULL if hakmem does not own p. */
HAK_HIDDEN hak_region_t *hak_segmap_region(const void *p);

#endif
