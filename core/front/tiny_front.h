/* tiny_front.h — the inline fast paths: malloc pops from the thread's
 * unified cache, free pushes to it.  One TLS load, one cache of the front
 * (and, for free, one entry of the slab map); no lock, no atomic, no branch
 * per feature.  Everything else falls to the noinline slow functions in
 * hakmem.c. */
#ifndef HAKMEM_TINY_FRONT_H
#define HAKMEM_TINY_FRONT_H

#include "box/secure_box.h"
#include "front/size_class.h"
#include "heap.h"
#include "slabmap.h"

HAK_HIDDEN void *hak_alloc_slow(size_t n);
HAK_HIDDEN void hak_free_slow(void *p);

/* Pop a block from the cache that serves tiny request size n (n <=
 * HAK_TINY_MAX) into *out; false when it is empty (or the front is off). */
HAK_INLINE bool hak_front_pop(size_t n, void **out) {
    hak_cache_t *c = (hak_cache_t *)((char *)hak_tls_front + hak_tiny_front_off[n]);
    void **top = c->top;
    if (HAK_UNLIKELY(top == c->base)) return false;
    c->top = --top;
    *out = *top;
    return true;
}

HAK_INLINE void *hak_front_alloc(size_t n) {
    void *p;
    if (HAK_LIKELY(n <= HAK_TINY_MAX) && HAK_LIKELY(hak_front_pop(n, &p))) return p;
    return hak_alloc_slow(n);
}

/* Aligned allocation's fast path: align a power of two up to a page, a
 * tiny request.  A class whose size is a multiple of align has every block
 * aligned (spans start page aligned; size_class.h), so the request rounded
 * up to align, plus any redzone, picks one, and its cache serves it.  NULL
 * when the cache is empty or the front is off; errno untouched. */
HAK_INLINE void *hak_front_alloc_aligned(size_t align, size_t size) {
    void *p;
    if (HAK_LIKELY(align <= HAK_PAGE && size <= HAK_TINY_MAX)) {
        size_t n = (hak_block_need(size ? size : 1) + align - 1) & ~(align - 1);
        size_t u = n - hak_redzone;   /* the user size whose class that is */
        if (HAK_LIKELY(u <= HAK_TINY_MAX) && HAK_LIKELY(hak_front_pop(u, &p))) return p;
    }
    return NULL;
}

HAK_INLINE void hak_front_free(void *p) {
    /* The slab map names the cache of p's class (hak_front_off), or the
     * front's head, which is always full, for anything else (slabmap.h). */
    hak_front_t *f = hak_tls_front;
    hak_cache_t *c = (hak_cache_t *)((char *)f + hak_slabmap_off(f, (uintptr_t)p));
    void **top = c->top;
    if (HAK_LIKELY(top < c->end)) {
        *top = p;
        c->top = top + 1;
        return;
    }
    hak_free_slow(p);
}

#endif
