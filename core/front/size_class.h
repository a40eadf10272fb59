/* size_class.h — request size -> size class: the one definition.
 *
 * Classes: 8, then 16-byte steps to 128 (so every block of 16 bytes or more
 * is 16-byte aligned), then four classes per power of two up to
 * HAK_SMALL_MAX (internal waste under 20%).  hak_class_of() is the single
 * definition; the fast path's table for tiny sizes and the class table
 * (heap/heap.h: block sizes, span shapes, cache bounds) are filled from it
 * at init.
 */
#ifndef HAKMEM_SIZE_CLASS_H
#define HAKMEM_SIZE_CLASS_H

#include "heap/heap.h"


/* The definition: smallest class whose blocks hold n bytes (n <= HAK_SMALL_MAX). */
HAK_INLINE unsigned hak_class_of(size_t n) {
    if (n <= 8) return 0;
    if (n <= 128) return (unsigned)((n + 15) >> 4);
    size_t w = n - 1;
    unsigned b = 63u - (unsigned)__builtin_clzl(w);      /* n in (2^b, 2^(b+1)] */
    return 9u + ((b - 7u) << 2) + (unsigned)((w >> (b - 2u)) & 3u);
}

/* Block size of class c: the inverse of hak_class_of. */
HAK_INLINE size_t hak_class_size(unsigned c) {
    if (c == 0) return 8;
    if (c <= 8) return (size_t)c << 4;
    unsigned k = c - 9u;
    return (size_t)(5u + (k & 3u)) << (7u + (k >> 2) - 2u);
}

/* The class the fast path serves a tiny request n from (hak_tiny_off,
 * heap.h: indexed by n itself, not by n rounded to 8, two instructions fewer
 * on every malloc; docs/PERFORMANCE.md). */
HAK_INLINE unsigned hak_tiny_class_of(size_t n) { return hak_front_cls((unsigned)hak_tiny_off[n]); }

/* Fill the tables (init, once, after the secure box's redzone is known). */
HAK_HIDDEN void hak_size_classes_init(void);

#endif
