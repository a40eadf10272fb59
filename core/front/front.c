/* front.c — the slow functions behind the fast paths: dispatch by size
 * and by pointer. */
#include "front/front.h"

#include <errno.h>

#include "backend/huge.h"
#include "backend/resolve.h"
#include "base/diag.h"
#include "box/secure_box.h"
#include "box/stats_box.h"
#include "front/size_class.h"
#include "heap/heap.h"

/* ---- allocation ---- */

/* Blocks above the small classes, n bytes including any redzone; *fresh
 * says the memory came zeroed from the OS. */
static void *alloc_big(size_t n, size_t align, bool *fresh) {
    int saved = errno;
    void *p;
    bool huge = !(n <= HAK_LARGE_MAX && align <= HAK_SLAB_SIZE);
    if (!huge) {
        hak_heap_t *h = hak_heap_get();
        if (!h || !(p = hak_heap_large_alloc(h, n, fresh))) goto oom;
    } else {
        if (n > (size_t)PTRDIFF_MAX) goto oom;
        if (!(p = hak_huge_alloc(n, align, fresh))) goto oom;
    }
    if (hak_redzone || hak_stats_on()) {
        hak_ptr_t r = hak_resolve(p);
        if (hak_redzone) hak_redzone_set((uint8_t *)p + r.size);
        if (hak_stats_on()) { hak_stats_big(huge, true); hak_stats_bytes((int64_t)(r.size - hak_redzone)); }
    }
    errno = saved;
    return p;
oom:
    errno = ENOMEM;
    return NULL;
}

void *hak_front_alloc_class(unsigned cls) {
    hak_heap_t *h = hak_tls_heap;
    if (HAK_UNLIKELY(!h) && !(h = hak_heap_get())) goto oom;
    hak_heap_settle(h);
    hak_cache_t *c = &h->front.cache[cls];
    bool hit = c->top != c->base;
    if (!hit) {
        int saved = errno;   /* a refill may fail one mapping and still succeed */
        if (!hak_heap_refill(h, cls)) goto oom;
        errno = saved;
    }
    if (hak_stats_on()) {
        h->cstats[cls].allocs++;
        if (hit) h->cstats[cls].hits++; else h->cstats[cls].misses++;
        hak_stats_bytes(hak_class_block(cls));
    }
    return *--c->top;
oom:
    errno = ENOMEM;
    return NULL;
}

void *hak_front_alloc_raw(size_t n, bool *fresh) {
    *fresh = false;
    n = hak_block_need(n);
    if (n <= HAK_SMALL_MAX) return hak_front_alloc_class(hak_class_of(n));
    return alloc_big(n, 0, fresh);
}

void *hak_front_alloc_aligned_raw(size_t align, size_t size) {
    bool fresh;
    if (align <= 16) return hak_front_alloc_raw(size < 16 && align == 16 ? 16 : size, &fresh);
    /* Small blocks: a class whose size is a multiple of align has every
     * block aligned, since spans start page aligned (see size_class.h). */
    size = hak_block_need(size);
    if (align <= HAK_PAGE && size <= HAK_SMALL_MAX) {
        size_t n = (size + align - 1) & ~(align - 1);
        if (n == 0) n = align;
        if (n <= HAK_SMALL_MAX) return hak_front_alloc_class(hak_class_of(n));
    }
    if (size < HAK_SMALL_MAX + 1 && align <= HAK_SLAB_SIZE) size = HAK_SMALL_MAX + 1;  /* a large span */
    return alloc_big(size, align, &fresh);
}

/* ---- free ---- */

/* What happened to a block given to its owner, or a flush: both may reach
 * the OS (a span or superslab released), whose calls keep errno (os.h);
 * errno is saved around them anyway, as free must never change it. */
static HAK_NOINLINE void free_small_full(hak_heap_t *h, hak_cache_t *c, unsigned cls, hak_span_t *s, void *p) {
    int saved = errno;
    if (HAK_LIKELY(c->end != c->base)) hak_heap_flush(h, cls, HAK_FLUSH_BATCH);
    else if (hak_heap_cache_open(h, cls, s, p)) { errno = saved; return; }
    if (hak_heaps_hooks.free_checked) hak_heap_mark_cached(h, p);
    *c->top++ = p;
    errno = saved;
}

/* Small block p of span s, whose cache was full or closed, whose thread's
 * front is bypassed, or whose every free is checked. */
HAK_INLINE void free_small(hak_span_t *s, void *p) {
    unsigned cls = s->cls;
    hak_heap_t *h = hak_tls_heap;
    if (HAK_UNLIKELY(!h) && !(h = hak_heap_get())) {   /* no heap: hand it to the owner */
        int saved = errno;
        hak_heap_free_to_owner(NULL, s, p);
        errno = saved;
        return;
    }
    hak_heap_settle(h);
    hak_cache_t *c = &h->front.cache[cls];
    if (c->top > c->base && c->top[-1] == p) {   /* the fast path's test, made exact */
        hak_report(HAK_ERR_DOUBLE_FREE, p, "freed twice in a row (it is the block freed last into the thread cache); ignored", HAK_NO_NUMBER);
        return;
    }
    if (hak_heaps_hooks.free_checked) {
        if (hak_heap_free_suspect(cls, p) && hak_heap_free_check(cls, p)) return;
        if (HAK_LIKELY(c->top < c->end)) {
            hak_heap_mark_cached(h, p);
            *c->top++ = p;
        } else {
            free_small_full(h, c, cls, s, p);
        }
    } else if (HAK_LIKELY(c->top < c->end)) {
        *c->top++ = p;
    } else {
        free_small_full(h, c, cls, s, p);
    }
    if (hak_stats_on()) { h->cstats[cls].frees++; hak_stats_bytes(-(int64_t)hak_class_block(cls)); }
}

void hak_front_free_raw(void *p) {
    hak_ptr_t r = hak_resolve(p);
    hak_front_free_resolved(p, &r);
}

void hak_front_free_resolved(void *p, const hak_ptr_t *rp) {
    hak_ptr_t r = *rp;
    if (HAK_LIKELY(r.kind == HAK_PTR_SMALL)) {
        free_small(r.span, p);
        return;
    }
    int saved = errno;
    switch (r.kind) {
    case HAK_PTR_SMALL:
        break;
    case HAK_PTR_LARGE:
    case HAK_PTR_HUGE:
        if (hak_redzone) hak_redzone_check(p, (uint8_t *)p + r.size);
        if (hak_stats_on()) { hak_stats_big(r.kind == HAK_PTR_HUGE, false); hak_stats_bytes(-(int64_t)(r.size - hak_redzone)); }
        if (r.kind == HAK_PTR_HUGE) hak_huge_free(r.ss);
        else hak_heap_large_free(hak_tls_heap, r.span, p);
        break;
    case HAK_PTR_FOREIGN:
        hak_report(HAK_ERR_FOREIGN_FREE, p, NULL, HAK_NO_NUMBER);
        break;
    case HAK_PTR_INVALID:
        hak_report(HAK_ERR_INVALID_FREE, p, NULL, HAK_NO_NUMBER);
        break;
    }
    errno = saved;
}
