/* api.c — the prefixed API (hak_malloc, ...) and the slow functions behind
 * every exported entry point: lazy init, the boxes that see every
 * operation (debug), then the front's dispatch.  The standard names are in
 * override.c, the C++ operators in cxx_new.c, the reports in info.c. */
#include "api/api.h"

#include <errno.h>
#include <string.h>

#include "api/init.h"
#include "backend/huge.h"
#include "backend/os.h"
#include "backend/resolve.h"
#include "base/diag.h"
#include "box/debug_box.h"
#include "box/secure_box.h"
#include "box/stats_box.h"
#include "config/config.h"
#include "front/front.h"
#include "hakmem.h"

/* ---- SECURE's checked blocks (box/secure_box.h) ----
 * While redzones are on, the fronts are bypassed (api/init.c), so every
 * block is handed out and taken back here: marked with its request on the
 * way out, checked on the way in. */

/* Mark block p (NULL: none), just allocated for a request of n bytes. */
static void *secure_out(void *p, size_t n) {
    if (p) hak_secure_block_out(p, hak_resolve(p).size, n);
    return p;
}

/* malloc(n) in SECURE: the block, marked. */
static HAK_NOINLINE void *secure_alloc(size_t n) {
    if (n <= HAK_SMALL_MAX - HAK_REDZONE) {
        unsigned cls = hak_class_of(hak_block_need(n));
        void *p = hak_front_alloc_class(cls);
        if (p) hak_secure_block_out(p, hak_class_block(cls), n);
        return p;
    }
    bool fresh;
    return secure_out(hak_front_alloc_raw(n, &fresh), n);
}

/* free(p) with checks: a block that is free already is reported and not
 * freed again; anything else goes on to the front (which reports what is
 * not a block). */
static HAK_NOINLINE void secure_free(void *p) {
    hak_ptr_t r = hak_resolve(p);
    if (hak_ptr_is_block(&r) && !hak_secure_block_in(p, r.size)) return;
    hak_front_free_resolved(p, &r);
}

HAK_NOINLINE void *hak_alloc_slow(size_t n) {
    /* The common ways here first, kept short: a small request above the
     * fast path's table, or an empty cache, on a thread whose front is on
     * (so no box wants to see this call, and init is done). */
    hak_heap_t *h = hak_tls_heap;
    if (HAK_LIKELY(h && hak_tls_front == &h->front && n <= HAK_SMALL_MAX - hak_redzone)) {
        /* Small blocks above the fast path's table (2..32 KiB): its pop,
         * after the class is worked out.  (A front that is on has not been
         * taken from: the taker points it at the empty front.) */
        unsigned cls = hak_class_of(hak_block_need(n));
        hak_cache_t *c = &h->front.cache[cls];
        void **top = c->top;
        if (HAK_LIKELY(top != c->base)) {
            c->top = --top;
            return *top;
        }
        return hak_front_alloc_class(cls);
    }
    hak_ensure_init();
    if (HAK_UNLIKELY(hak_guard_on())) return hak_guard_alloc(n, 0, false);
    if (hak_redzone) return secure_alloc(n);
    bool fresh;
    return hak_front_alloc_raw(n, &fresh);
}

HAK_NOINLINE void hak_free_slow(void *p) {
    if (!p) return;
    if (HAK_UNLIKELY(hak_guard_on())) { hak_guard_free(p); return; }
    if (hak_redzone) { secure_free(p); return; }
    hak_front_free_raw(p);
}

void *hak_malloc(size_t n) { return hak_api_malloc(n); }

void hak_free(void *p) { hak_api_free(p); }

void *hak_calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    if (HAK_UNLIKELY(hak_guard_on())) return hak_guard_alloc(total, 0, true);
    if (total <= HAK_SMALL_MAX) {
        void *p = hak_api_malloc(total);
        if (p) memset(p, 0, total);
        return p;
    }
    hak_ensure_init();
    bool fresh = false;
    void *p = hak_front_alloc_raw(total, &fresh);
    if (p && !fresh) memset(p, 0, total);   /* fresh pages are zero already */
    return hak_redzone ? secure_out(p, total) : p;
}

size_t hak_usable_size(const void *p) { return hak_api_usable_size(p); }

HAK_NOINLINE size_t hak_usable_size_slow(const void *p) {
    if (!p) return 0;
    if (HAK_UNLIKELY(hak_guard_on())) return hak_guard_usable(p);
    hak_ptr_t r = hak_resolve(p);
    if (HAK_LIKELY(hak_ptr_is_block(&r)) && hak_redzone) {
        /* The request: what lies past it is the canary.  A free block: 0. */
        size_t n = hak_secure_request((void *)p, r.size);
        return n == SIZE_MAX ? 0 : n;
    }
    if (HAK_LIKELY(hak_ptr_is_block(&r))) return r.size - hak_redzone;
    hak_report(r.kind == HAK_PTR_FOREIGN ? HAK_ERR_FOREIGN_USABLE : HAK_ERR_INVALID_USABLE, p, NULL, HAK_NO_NUMBER);
    return 0;
}

int hak_owns(const void *p) { return p && hak_segmap_lookup(p) != NULL; }

void *hak_realloc(void *p, size_t n) {
    if (!p) return hak_api_malloc(n);
    if (HAK_UNLIKELY(hak_guard_on()) && n) return hak_guard_realloc(p, n);
    hak_ptr_t r = hak_resolve(p);
    size_t old = r.size - hak_redzone, copy = old;
    if (hak_redzone && hak_ptr_is_block(&r)) {
        /* SECURE: the block is checked as a free would check it. */
        copy = hak_secure_request(p, r.size);
        if (copy == SIZE_MAX) {
            hak_report(HAK_ERR_DOUBLE_FREE, p, "realloc(): block already freed; returned NULL", HAK_NO_NUMBER);
            errno = ENOMEM;
            return NULL;
        }
        if (n && n <= old && n >= old / 2) { hak_secure_block_out(p, r.size, n); return p; }
    }
    /* The block still fits and wastes at most half of it: keep it. */
    if (HAK_LIKELY(hak_ptr_is_block(&r)) && n <= old && n >= old / 2) return p;
    if (n == 0) { hak_api_free(p); return NULL; }
    if (!hak_ptr_is_block(&r)) {   /* never copy from what is not a block */
        hak_report(r.kind == HAK_PTR_FOREIGN ? HAK_ERR_FOREIGN_REALLOC : HAK_ERR_INVALID_REALLOC, p, NULL, HAK_NO_NUMBER);
        errno = ENOMEM;
        return NULL;
    }
    if (n > (size_t)PTRDIFF_MAX) { errno = ENOMEM; return NULL; }
    if (r.kind == HAK_PTR_HUGE && hak_block_need(n) > HAK_LARGE_MAX) {
        /* Huge to huge: the mapping moves or grows, its pages are not copied. */
        void *q = hak_huge_realloc(r.ss, hak_block_need(n));
        if (!q) return NULL;
        hak_ptr_t rq = hak_resolve(q);
        if (hak_redzone) { hak_redzone_set((uint8_t *)q + rq.size); hak_secure_block_out(q, rq.size, n); }
        if (hak_stats_on()) hak_stats_bytes((int64_t)rq.size - (int64_t)r.size);
        return q;
    }
    if (r.kind == HAK_PTR_LARGE && !hak_redzone && n > HAK_SMALL_MAX && n <= HAK_LARGE_MAX &&
        hak_heap_large_resize(hak_tls_heap, r.span, n)) {
        /* Large to large on the thread that owns it: the span takes the free
         * slabs after it, or gives its tail back; nothing is copied. */
        if (hak_stats_on()) hak_stats_bytes((int64_t)r.span->block_size - (int64_t)r.size);
        return p;
    }
    void *q = hak_api_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, n < copy ? n : copy);
    hak_api_free(p);
    return q;
}

void *hak_aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1))) { errno = EINVAL; return NULL; }
    void *p;
    if (HAK_LIKELY(hak_front_pop_aligned(align, size, &p))) return p;
    hak_ensure_init();
    if (HAK_UNLIKELY(hak_guard_on())) return hak_guard_alloc(size, align, false);
    if (align <= 16) return hak_api_malloc(size < 16 && align == 16 ? 16 : size);
    void *q = hak_front_alloc_aligned_raw(align, size);
    if (hak_redzone && q) hak_secure_block_out(q, hak_resolve(q).size, size);
    return q;
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

int hak_heap_check(void) { return hak_guard_on() ? hak_guard_check_heap() : 0; }
