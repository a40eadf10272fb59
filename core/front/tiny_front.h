/* tiny_front.h — the inline fast paths: malloc pops from the thread's
 * unified cache, free pushes to it.  One TLS load, one cache of the front
 * (and, for free, one entry of the slab map); no lock, no atomic, no branch
 * per feature.  When they miss, the API's slow functions take over
 * (api/api.c), which end in front/front.h. */
#ifndef HAKMEM_TINY_FRONT_H
#define HAKMEM_TINY_FRONT_H

#include "backend/slabmap.h"
#include "box/secure_box.h"
#include "front/size_class.h"
#include "heap/heap.h"

/* Pop a block from the cache that serves tiny request size n (n <=
 * HAK_TINY_MAX) into *out; false when it is empty (or the front is off). */
HAK_INLINE bool hak_front_pop(size_t n, void **out) {
    hak_front_t *f = hak_tls_front;
    hak_cache_t *c = (hak_cache_t *)((char *)f + f->tiny[n]);
    void **top = c->top;
    if (HAK_UNLIKELY(top == c->base)) return false;
    c->top = --top;
    *out = *top;
    return true;
}

/* Aligned allocation's fast path: align a power of two up to a page, a
 * tiny request.  A class whose size is a multiple of align has every
 * block aligned (spans start page aligned; size_class.h), so the request
 * rounded up to align, plus any redzone, picks one, and its cache serves it.
 * false when the cache is empty or the front is off; errno untouched. */
HAK_INLINE bool hak_front_pop_aligned(size_t align, size_t size, void **out) {
    if (HAK_LIKELY(align <= HAK_PAGE && size <= HAK_TINY_MAX)) {
        size_t n = (hak_block_need(size ? size : 1) + align - 1) & ~(align - 1);
        size_t u = n - hak_redzone;   /* the user size whose class that is */
        if (HAK_LIKELY(u <= HAK_TINY_MAX)) return hak_front_pop(u, out);
    }
    return false;
}

/* Push p onto the cache the slab map names for it: the cache of p's class
 * (hak_front_off), or the front's head, which is always full, for anything
 * else (slabmap.h).  false when that cache is full, or when p is the block
 * freed last into it: freed twice in a row, which the slow path reports. */
HAK_INLINE bool hak_front_push(void *p) {
    hak_front_t *f = hak_tls_front;
    hak_cache_t *c = (hak_cache_t *)((char *)f + hak_slabmap_get(f->slabmap, (uintptr_t)p));
    void **top = c->top;
    if (HAK_UNLIKELY(top[-1] == p)) return false;
    if (HAK_LIKELY(top < c->end)) {
        *top = p;
        c->top = top + 1;
        return true;
    }
    return false;
}

/* malloc_usable_size's fast path: a block start in a small span, found
 * through the slab map (a nonzero entry: a small span of ours, so its
 * header is mapped) and checked against the span's geometry; *out its
 * size.  false for anything else, and on a front that is off (the empty
 * front, which the boxes that change what a block's usable size is use:
 * guard trailers, SECURE's requests), which the slow path answers. */
HAK_INLINE bool hak_front_usable(const void *p, size_t *out) {
    hak_front_t *f = hak_tls_front;
    if (HAK_UNLIKELY(!hak_slabmap_get(f->slabmap, (uintptr_t)p) || f == &hak_empty_front)) return false;
    const hak_span_t *s = hak_span_of(hak_superslab_of(p), p);
    if (HAK_UNLIKELY(!hak_span_is_block_start(s, p))) return false;
    *out = s->block_size;
    return true;
}

#endif
