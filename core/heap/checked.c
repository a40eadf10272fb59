/* checked.c — checked frees: in SECURE, and whenever HAKMEM_ON_ERROR=abort
 * asks for errors to stop the program where they happen, every free takes
 * the slow path (the fronts read the slab map's zeros, so free's fast path
 * always falls through; malloc keeps its fast path), and a double free is
 * caught at the second free wherever the first copy is:
 *
 *   - in a thread cache: a block pushed into a cache (by a free or a
 *     refill) carries in its first word its address xor a process key xor
 *     the cache's heap.  A free that finds that mark scans that heap's cache
 *     of the class; the block is a double free if it is there.  (A live
 *     block whose owner never wrote its first word carries a stale mark: the
 *     scan finds nothing, and the free goes on.)
 *   - back in its span (a local or remote free list): a block that leaves a
 *     cache carries in its second word the complement of its address xor the
 *     key, which a refill clears.  Blocks of 8 bytes have no second word:
 *     only their first copy in a cache is caught (SECURE and DEBUG never use
 *     8-byte blocks: their redzone or trailer makes every block 32 bytes or
 *     more).
 *
 * So a block is never handed out twice.  The free fast path's own test
 * (the block freed last into the cache) is all SPEED, BALANCED and LEAN do
 * by default; their flush checks find the rest later.  DEBUG's checked
 * blocks do all of this their own way and turn this off. */
#include "heap/heap_internal.h"

#include "base/diag.h"

HAK_HIDDEN uintptr_t hak_heaps_free_key;

HAK_INLINE uintptr_t cache_mark(const hak_heap_t *h, const void *p) {
    return (uintptr_t)p ^ hak_heaps_free_key ^ (uintptr_t)h;
}
HAK_INLINE uintptr_t span_mark(const void *p) { return ~((uintptr_t)p ^ hak_heaps_free_key); }

/* The heap whose cache mark p's first word would be, if any: heaps are
 * page aligned, so most words are ruled out before the list is walked. */
static hak_heap_t *marked_by(const void *p) {
    uintptr_t cand = *(const uintptr_t *)p ^ (uintptr_t)p ^ hak_heaps_free_key;
    if ((cand & (HAK_PAGE - 1)) || (cand >> HAK_ADDR_BITS) || !cand) return NULL;
    for (hak_heap_t *o = HEAP_FIRST(); o; o = o->all_next)
        if ((uintptr_t)o == cand) return o;
    return NULL;
}

static bool cache_holds(const hak_heap_t *h, unsigned cls, const void *p) {
    /* Another heap's cache is read while its owner may change it: a block
     * pushed or popped during the scan may be missed, never misreported. */
    const hak_cache_t *c = &h->front.cache[cls];
    void **top = __atomic_load_n((void ***)&c->top, __ATOMIC_RELAXED);
    void **base = __atomic_load_n((void ***)&c->base, __ATOMIC_RELAXED);
    if (h != hak_tls_heap && h->reclaim_count[cls]) base = (void **)h->slot_store + hak_classes[cls].slot_first;
    for (void **b = base; b < top; b++)
        if (__atomic_load_n(b, __ATOMIC_RELAXED) == p) return true;
    return false;
}

bool hak_heap_free_check(unsigned cls, void *p) {
    hak_heap_t *o = marked_by(p);
    if (o && cache_holds(o, cls, p)) {
        hak_report(HAK_ERR_DOUBLE_FREE, p, "block freed twice (still in a thread cache); ignored", HAK_NO_NUMBER);
        return true;
    }
    if (hak_class_block(cls) >= 16 && ((const uintptr_t *)p)[1] == span_mark(p)) {
        hak_report(HAK_ERR_DOUBLE_FREE, p, "block freed twice (already back in its span); ignored", HAK_NO_NUMBER);
        return true;
    }
    return false;
}

void checked_refilled(hak_heap_t *h, unsigned cls, void **v, uint32_t n) {
    bool second = hak_class_block(cls) >= 16;
    for (uint32_t i = 0; i < n; i++) {
        uintptr_t *w = v[i];
        w[0] = cache_mark(h, w);
        if (second) w[1] = 0;
    }
}

void checked_leaving(void *b) { ((uintptr_t *)b)[1] = span_mark(b); }
