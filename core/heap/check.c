/* check.c — the caches' invariant, checked where a build or a profile asks
 * for it (heap_check_on, heap_internal.h): the fuzz build always
 * (-DHAKMEM_HEAP_CHECK=1, tests/reliability.mk), DEBUG through the debug
 * gate.  SPEED's normal build pays one predictable branch on the slow paths.
 *
 * For class cls's cache of heap h, first = the first of the slots it lives
 * in (its window of cache_cap, or its growth region of max_cap: whichever
 * holds base; hak_cache_slots), room = how many:
 *   first <= base <= top <= end <= first + room
 *   end == base only with base == first            (a closed cache)
 *   every block in base..top is a block start of a small span of class cls;
 *   after a flush or a first free, `room` slots above top (the free that
 *   called it pushes next).
 * A cache whose blocks were taken (idle caches, reclaim_count set) holds
 * only its top block until its owner reconciles; its slots below are not
 * looked at. */
#include "heap/heap_internal.h"

#include <stdlib.h>

#include "backend/resolve.h"
#include "base/diag.h"

static HAK_COLD void check_fail(hak_heap_t *h, unsigned cls, const char *where, const char *what, const void *block) {
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t nslots;
    void **first = hak_cache_slots(h, cls, &nslots);
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "hakmem: heap check (");
    hak_line_str(&l, where);
    hak_line_str(&l, "): class ");
    hak_line_u64(&l, cls);
    hak_line_str(&l, " cache of heap ");
    hak_line_hex(&l, (uintptr_t)h);
    hak_line_str(&l, ": ");
    hak_line_str(&l, what);
    hak_line_str(&l, "; base = first + ");
    hak_line_i64(&l, c->base - first);
    hak_line_str(&l, ", top = first + ");
    hak_line_i64(&l, c->top - first);
    hak_line_str(&l, ", end = first + ");
    hak_line_i64(&l, c->end - first);
    hak_line_str(&l, ", cap ");
    hak_line_u64(&l, h->cap[cls]);
    hak_line_str(&l, ", taken ");
    hak_line_u64(&l, h->reclaim_count[cls]);
    hak_line_str(&l, "\n");
    hak_line_write(&l, 2);
    hak_report(HAK_ERR_CORRUPTION, block ? block : (const void *)c, "thread cache broken (heap check)", HAK_NO_NUMBER);
    if (HAKMEM_HEAP_CHECK) abort();   /* a checking build stops at the cause */
}

void heap_check_cache(hak_heap_t *h, unsigned cls, uint32_t room, const char *where) {
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t nslots;
    void **first = hak_cache_slots(h, cls, &nslots), **limit = first + nslots;   /* its window, or its growth region (cache.c) */
    void **base = c->base, **top = c->top, **end = c->end;
    if (!(first <= base && base <= top && top <= end && end <= limit)) {
        check_fail(h, cls, where, "pointers out of order or outside the class's slots", NULL);
        return;
    }
    if (end == base && base != first) {
        check_fail(h, cls, where, "closed with its base above its first slot", NULL);
        return;
    }
    if ((uint32_t)(end - top) < room) {
        check_fail(h, cls, where, "no slot left for the free that called it", NULL);
        return;
    }
    if (h->reclaim_count[cls]) return;   /* taken: the slots below the top block are stale */
    for (void **v = base; v < top; v++) {
        hak_ptr_t r = hak_resolve(*v);
        if (r.kind != HAK_PTR_SMALL || r.span->cls != cls) {
            check_fail(h, cls, where, r.kind == HAK_PTR_SMALL ? "a block of another class" : "not a small block start", *v);
            return;
        }
    }
}

void heap_check_caches(hak_heap_t *h, const char *where) {
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) heap_check_cache(h, cls, 0, where);
}
