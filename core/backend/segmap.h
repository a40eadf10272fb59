/* segmap.h — the segment map (the design card's name): one byte per 2 MiB
 * of the 47-bit address space, that is per possible superslab, says
 * whether hakmem owns it.  0: not ours.  1: a superslab header starts
 * here.  v >= 2: the (v-1)-th superslab of a huge mapping after its header
 * (255: at least 254 after; step back and look again).  free() and friends
 * consult it before touching any header, so a pointer hakmem does not own
 * is never dereferenced.
 *
 * Two levels, like the slab map: per 128 GiB window a table of 2^16 bytes,
 * made when the window's first superslab is marked (64 KiB of address
 * space, only touched pages resident); a window without one reads 0. */
#ifndef HAKMEM_SEGMAP_H
#define HAKMEM_SEGMAP_H

#include "backend/superslab.h"

#define HAK_SEGMAP_WINDOW_SHIFT 37
#define HAK_SEGMAP_WINDOWS ((size_t)1 << (HAK_ADDR_BITS - HAK_SEGMAP_WINDOW_SHIFT))
#define HAK_SEGMAP_WINDOW_ENTRIES ((size_t)1 << (HAK_SEGMAP_WINDOW_SHIFT - HAK_SUPERSLAB_SHIFT))

extern HAK_HIDDEN _Atomic(_Atomic uint8_t *) hak_segmap[HAK_SEGMAP_WINDOWS];

/* The value for address a (0 outside user space). */
HAK_INLINE unsigned hak_segmap_get(uintptr_t a) {
    if (HAK_UNLIKELY(a >> HAK_ADDR_BITS)) return 0;
    _Atomic uint8_t *t = atomic_load_explicit(&hak_segmap[a >> HAK_SEGMAP_WINDOW_SHIFT], memory_order_acquire);
    if (HAK_UNLIKELY(!t)) return 0;
    return atomic_load_explicit(&t[(a >> HAK_SUPERSLAB_SHIFT) & (HAK_SEGMAP_WINDOW_ENTRIES - 1)], memory_order_relaxed);
}

/* Mark [base, base+size) as ours: one superslab header at base, followed
 * by size / 2 MiB - 1 superslabs of its mapping (base 2 MiB aligned).
 * false when a window's table could not be made: nothing is marked, and
 * the caller must not hand out that memory. */
HAK_HIDDEN bool hak_segmap_set(uintptr_t base, size_t size);
HAK_HIDDEN void hak_segmap_clear(uintptr_t base, size_t size);
/* The header of the superslab or huge mapping holding p, or NULL if hakmem
 * does not own p. */
HAK_HIDDEN hak_superslab_t *hak_segmap_lookup(const void *p);

#endif
