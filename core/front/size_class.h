/* size_class.h — request size -> size class: the one definition.
 *
 * Classes: 8, then 16-byte steps to 128 (so every block of 16 bytes or more
 * is 16-byte aligned), then eight classes per power of two up to
 * HAK_SMALL_MAX: 144, 160, ... 256, 288, ... 512, 576, ...  A request
 * wastes less than a ninth of its block (11%).  Four per power of two, as
 * mimalloc and jemalloc have, waste up to a fifth, which real programs pay
 * in RSS: jq's 272- and 392-byte objects took 320 and 448, sqlite3's
 * 4,370-byte page-cache entries 5,120 (docs/PERFORMANCE.md).  Every class
 * above 128 bytes is a multiple of a power of two no smaller than its step,
 * which the aligned fast path relies on (tiny_front.h).
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
    return 9u + ((b - 7u) << 3) + (unsigned)((w >> (b - 3u)) & 7u);
}

/* Block size of class c: the inverse of hak_class_of. */
HAK_INLINE size_t hak_class_size(unsigned c) {
    if (c == 0) return 8;
    if (c <= 8) return (size_t)c << 4;
    unsigned k = c - 9u;
    return (size_t)(9u + (k & 7u)) << (4u + (k >> 3));
}

/* The class the fast path serves a tiny request n from (hak_tiny_off,
 * heap.h: indexed by n itself, not by n rounded to 8, two instructions fewer
 * on every malloc; docs/PERFORMANCE.md). */
HAK_INLINE unsigned hak_tiny_class_of(size_t n) { return hak_front_cls((unsigned)hak_tiny_off[n]); }

/* Fill the tables (init, once, after the secure box's redzone is known). */
HAK_HIDDEN void hak_size_classes_init(void);

#endif
