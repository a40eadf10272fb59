/* hakmem.c — the exported API: malloc and friends, glibc-compatible.
 *
 * The hak_* functions are the implementation; the standard names are
 * aliases of them (compiled out with HAKMEM_BOX_OVERRIDE=0, which leaves the
 * prefixed API alone).  The slow functions behind the inline fast paths live
 * here too: they dispatch on the tier of the request or of the pointer. */
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include "box/boxes.h"
#include "box/env_box.h"
#include "box/os_box.h"
#include "box/secure_box.h"
#include "box/stats_box.h"
#include "box/superslab_box.h"
#include "diag.h"
#include "front/tiny_front.h"
#include "hakmem.h"
#include "heap.h"
#include "huge.h"
#include "init.h"
#include "segmap.h"
#include "box/debug_box.h"
#include "alloc.h"

/* ---- allocation ---- */

/* Raw end of a large or huge block p (its redzone ends there). */
static uint8_t *big_end(void *p) {
    hak_region_t *r = hak_segmap_region(p);   /* an over-aligned huge block is past its header's segment */
    if (r->kind == HAK_REGION_HUGE) return (uint8_t *)p + hak_huge_usable(r);
    return (uint8_t *)p + hak_span_of(r, p)->block_size;
}

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
    if (hak_redzone) hak_redzone_set(big_end(p));
    if (hak_stats_on()) { hak_stats_big(huge, true); hak_stats_bytes((int64_t)hak_usable_size(p)); }
    errno = saved;
    return p;
oom:
    errno = ENOMEM;
    return NULL;
}

/* A block of class cls from the calling thread's cache, refilling it. */
static void *alloc_class(unsigned cls) {
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
        hak_stats_bytes(hak_classes[cls].block_size);
    }
    return *--c->top;
oom:
    errno = ENOMEM;
    return NULL;
}

void *hak_alloc_raw(size_t n, bool *fresh) {
    *fresh = false;
    n = hak_block_need(n);
    if (n <= HAK_SMALL_MAX) return alloc_class(hak_class_of(n));
    return alloc_big(n, 0, fresh);
}

HAK_NOINLINE void *hak_alloc_slow(size_t n) {
    /* The common ways here first, kept short: a small request above the
     * fast path's table, or an empty cache, on a thread whose front is on
     * (so no box wants to see this call, and init is done). */
    hak_heap_t *h = hak_tls_heap;
    if (HAK_LIKELY(h && hak_tls_front == &h->front && n <= HAK_SMALL_MAX - hak_redzone))
        return alloc_class(hak_class_of(hak_block_need(n)));
    hak_ensure_init();
    if (HAK_UNLIKELY(hak_guard_on())) return hak_guard_alloc(n, 0, false);
    bool fresh;
    return hak_alloc_raw(n, &fresh);
}

void *hak_alloc_aligned_raw(size_t align, size_t size) {
    if (align <= 16) {
        bool fresh;
        return hak_alloc_raw(size < 16 && align == 16 ? 16 : size, &fresh);
    }
    /* Small blocks: a class whose size is a multiple of align has every
     * block aligned, since spans start page aligned (see size_class.h). */
    size = hak_block_need(size);
    if (align <= HAK_PAGE && size <= HAK_SMALL_MAX) {
        size_t n = (size + align - 1) & ~(align - 1);
        if (n == 0) n = align;
        if (n <= HAK_SMALL_MAX) return alloc_class(hak_class_of(n));
    }
    bool fresh;
    if (size < HAK_SMALL_MAX + 1 && align <= HAK_SLAB_SIZE) size = HAK_SMALL_MAX + 1;  /* a large span */
    return alloc_big(size, align, &fresh);
}

/* ---- free ---- */

/* The first free of class fc into a closed cache (end == base): the
 * thread has not used the class since its heap was made or adopted.  The
 * cache opens; another heap's block goes to its owner rather than into it
 * (true), so that the thread's first mallocs of the class come from a span
 * of its own instead of handing back that block, which may share a cache
 * line with blocks its owner still uses (bench_false_sharing scratch;
 * docs/PERFORMANCE.md). */
static HAK_COLD bool free_first(hak_heap_t *h, hak_cache_t *c, unsigned fc, hak_region_t *r, hak_span_t *s, void *p) {
    c->end = h->slot_store + hak_classes[fc].slot_first + hak_classes[fc].cache_cap;   /* from the first slot, wherever base is */
    if (r->owner == h) return false;
    hak_heap_free_to_owner(h, s, p);
    return true;
}

HAK_NOINLINE void hak_free_slow(void *p) {
    if (!p) return;
    if (HAK_UNLIKELY(hak_guard_on())) { hak_guard_free(p); return; }
    hak_free_raw(p);
}

void hak_free_raw(void *p) {
    int saved = errno;
    hak_region_t *r = hak_segmap_region(p);
    if (!r) { hak_report_bad_pointer(HAK_BAD_FREE_FOREIGN, p); goto out; }
    if (r->kind == HAK_REGION_HUGE) {
        if (p != hak_huge_block(r)) { hak_report_bad_pointer(HAK_BAD_FREE_INVALID, p); goto out; }
        if (hak_redzone) hak_redzone_check(p, big_end(p));
        if (hak_stats_on()) { hak_stats_big(true, false); hak_stats_bytes(-(int64_t)hak_huge_usable(r)); }
        hak_huge_free(r);
        goto out;
    }
    if (r->kind != HAK_REGION_SUPERSLAB) { hak_report_bad_pointer(HAK_BAD_FREE_INVALID, p); goto out; }
    unsigned idx = hak_slab_index(p), fc = hak_region_fc(r, idx);
    hak_span_t *s = &r->spans[r->spans[idx].head];
    if (fc < HAK_NCLASSES) {
        /* The cache is full, closed, or this thread's front is bypassed. */
        hak_heap_t *h = hak_heap_get();
        if (!h) { hak_heap_free_to_owner(NULL, s, p); goto out; }   /* no heap: hand it to the owner */
        hak_heap_settle(h);
        hak_cache_t *c = &h->front.cache[fc];
        if (c->top >= c->end) {
            if (HAK_LIKELY(c->end != c->base)) hak_heap_flush(h, fc, HAK_FLUSH_BATCH);
            else if (free_first(h, c, fc, r, s, p)) goto counted;
        }
        *c->top++ = p;
    counted:
        if (hak_stats_on()) { h->cstats[fc].frees++; hak_stats_bytes(-(int64_t)hak_classes[fc].block_size); }
    } else if (r->spans[idx].kind == HAK_SLAB_LARGE && p == s->data) {
        if (hak_redzone) hak_redzone_check(p, big_end(p));
        if (hak_stats_on()) { hak_stats_big(false, false); hak_stats_bytes(-(int64_t)s->block_size); }
        hak_heap_large_free(hak_tls_heap, s, p);
    } else {
        hak_report_bad_pointer(HAK_BAD_FREE_INVALID, p);
    }
out:
    errno = saved;
}

/* ---- sizes ---- */

/* Usable size of a block in a region whose header is in p's own segment
 * (every block but the over-aligned huge ones), found like free() finds it;
 * 0 when p is anything else. */
static inline size_t raw_of_ours(const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (HAK_UNLIKELY(hak_segmap_get(a) != 1)) return 0;
    const hak_region_t *r = hak_region_of(p);
    if (HAK_LIKELY(r->kind == HAK_REGION_SUPERSLAB)) {
        const hak_span_t *s = hak_span_of((hak_region_t *)r, p);
        if (HAK_LIKELY(s->kind == HAK_SLAB_SMALL))
            return (const uint8_t *)p >= s->data ? hak_classes[s->cls].block_size : 0;
        return s->kind == HAK_SLAB_LARGE && p == s->data ? s->block_size : 0;
    }
    if (r->kind == HAK_REGION_HUGE) return p == hak_huge_block(r) ? hak_huge_usable(r) : 0;
    return 0;
}
/* The user's part: the secure box's redzone is not usable. */
static inline size_t usable_of_ours(const void *p) {
    size_t raw = raw_of_ours(p);
    return raw ? raw - hak_redzone : 0;
}

static size_t raw_usable(const void *p, bool *foreign, bool *invalid) {
    size_t u = raw_of_ours(p);
    if (HAK_LIKELY(u)) { *foreign = *invalid = false; return u; }
    *foreign = *invalid = false;
    hak_region_t *r = hak_segmap_region(p);
    if (!r) { *foreign = true; return 0; }
    if (r->kind == HAK_REGION_HUGE) {
        if (p == hak_huge_block(r)) return hak_huge_usable(r);
        *invalid = true;
        return 0;
    }
    if (r->kind != HAK_REGION_SUPERSLAB) { *invalid = true; return 0; }
    unsigned idx = hak_slab_index(p);
    hak_span_t *s = &r->spans[r->spans[idx].head];
    if (s->kind == HAK_SLAB_SMALL && (const uint8_t *)p >= s->data) return s->block_size;
    if (s->kind == HAK_SLAB_LARGE && p == s->data) return s->block_size;
    *invalid = true;
    return 0;
}

size_t hak_usable_raw(const void *p, bool *foreign, bool *invalid) {
    size_t raw = raw_usable(p, foreign, invalid);
    return raw ? raw - hak_redzone : 0;
}

bool hak_is_block_start(const void *p) {
    hak_region_t *r = hak_segmap_region(p);
    if (!r) return false;
    if (r->kind == HAK_REGION_HUGE) return p == hak_huge_block(r);
    if (r->kind != HAK_REGION_SUPERSLAB) return false;
    hak_span_t *s = hak_span_of(r, p);
    if (s->kind == HAK_SLAB_LARGE) return p == s->data;
    return s->kind == HAK_SLAB_SMALL && hak_span_is_block_start(s, p);
}

/* ---- the prefixed API ---- */

void *hak_malloc(size_t n) { return hak_front_alloc(n); }

void hak_free(void *p) { hak_front_free(p); }

void *hak_calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    if (HAK_UNLIKELY(hak_guard_on())) return hak_guard_alloc(total, 0, true);
    if (total <= HAK_SMALL_MAX) {
        void *p = hak_front_alloc(total);
        if (p) memset(p, 0, total);
        return p;
    }
    hak_ensure_init();
    bool fresh = false;
    void *p = alloc_big(hak_block_need(total), 0, &fresh);
    if (p && !fresh) memset(p, 0, total);   /* fresh pages are zero already */
    return p;
}

size_t hak_usable_size(const void *p) {
    if (!p) return 0;
    if (HAK_UNLIKELY(hak_guard_on())) return hak_guard_usable(p);
    bool foreign, invalid;
    size_t n = hak_usable_raw(p, &foreign, &invalid);
    if (n && !hak_is_block_start(p)) { n = 0; invalid = true; }   /* interior pointer */
    if (foreign) hak_report_bad_pointer(HAK_BAD_USABLE_FOREIGN, p);
    if (invalid) hak_report_bad_pointer(HAK_BAD_USABLE_INVALID, p);
    return n;
}

int hak_owns(const void *p) { return p && hak_segmap_region(p) != NULL; }

void *hak_realloc(void *p, size_t n) {
    if (HAK_UNLIKELY(hak_guard_on())) {
        if (p && n) return hak_guard_realloc(p, n);
    } else {
        /* Fast case: the block still fits (and is not too big for n). */
        size_t u = usable_of_ours(p);
        if (u && n <= u && n >= u / 2) return p;
    }
    if (!p) return hak_front_alloc(n);
    if (n == 0) { hak_front_free(p); return NULL; }
    bool foreign, invalid;
    size_t old = hak_usable_raw(p, &foreign, &invalid);
    if (!foreign && !invalid && !hak_is_block_start(p)) invalid = true;   /* interior pointer: never copy from it */
    if (foreign || invalid) {
        hak_report_bad_pointer(foreign ? HAK_BAD_REALLOC_FOREIGN : HAK_BAD_REALLOC_INVALID, p);
        errno = ENOMEM;
        return NULL;
    }
    if (n > (size_t)PTRDIFF_MAX) { errno = ENOMEM; return NULL; }
    hak_region_t *r = hak_segmap_region(p);
    if (r->kind == HAK_REGION_HUGE && hak_block_need(n) > HAK_LARGE_MAX) {
        int64_t before = (int64_t)old;
        if (hak_redzone) hak_redzone_check(p, big_end(p));
        void *q = hak_huge_realloc(r, hak_block_need(n));
        if (!q) return NULL;
        if (hak_redzone) hak_redzone_set(big_end(q));
        if (hak_stats_on()) hak_stats_bytes((int64_t)hak_usable_size(q) - before);
        return q;
    }
    /* Keep the block when the new size fits and wastes at most half of it. */
    if (n <= old && n >= old / 2) return p;
    void *q = hak_front_alloc(n);
    if (!q) return NULL;
    memcpy(q, p, n < old ? n : old);
    hak_front_free(p);
    return q;
}

void *hak_aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1))) { errno = EINVAL; return NULL; }
    void *p = hak_front_alloc_aligned(align, size);
    if (HAK_LIKELY(p != NULL)) return p;
    hak_ensure_init();
    if (HAK_UNLIKELY(hak_guard_on())) return hak_guard_alloc(size, align, false);
    if (align <= 16) return hak_front_alloc(size < 16 && align == 16 ? 16 : size);
    return hak_alloc_aligned_raw(align, size);
}

int hak_trim(void) {
    hak_ensure_init();
    uint64_t mapped = atomic_load(&hak_os.bytes_mapped), advised = atomic_load(&hak_os.madvise);
    hak_heap_t *h = hak_tls_heap;
    if (h) hak_heap_trim(h);
    hak_heaps_trim_others(h);
    hak_superslab_pool_trim();
    hak_huge_cache_trim();
    return atomic_load(&hak_os.bytes_mapped) < mapped || atomic_load(&hak_os.madvise) > advised;
}

void hak_config_print(int fd) {
    hak_ensure_init();
    hak_config_write(fd);
}
