/* heap.h — per-thread heaps: the unified caches' slow side (refill, flush),
 * remote frees, and the heap lifecycle (attach, abandon, adopt, visit).
 *
 * Ownership: a heap's caches belong to its owner thread, or to a visitor
 * that took an abandoned heap for a moment (state VISITING); while the
 * owner sits in a system call another thread may take all but each cache's
 * top block (heap.c, "idle caches").  Its spans' local state is changed only
 * under its span lock (hak_heap_lock): by the owner's slow paths, or by
 * another thread reclaiming from an idle heap (trim, overdue purges, idle
 * caches).  Other threads reach a span only through its lock-free remote
 * list. */
#ifndef HAKMEM_HEAP_H
#define HAKMEM_HEAP_H

#include "internal.h"

#define HAK_TLS __attribute__((tls_model("initial-exec")))

/* The fast paths read only hak_tls_front: the thread's front (internal.h,
 * hak_front_t), or the empty front (every cache empty and full at once)
 * when the thread has no heap yet or a box wants every operation to take
 * the slow path. */
extern __thread hak_front_t *hak_tls_front HAK_TLS;
extern __thread hak_heap_t *hak_tls_heap HAK_TLS;
extern HAK_HIDDEN hak_front_t hak_empty_front;
/* Bytes in large blocks handed out (always counted: slow path only). */
extern HAK_HIDDEN _Atomic uint64_t hak_large_bytes;
/* 1 when the fast paths must be bypassed (a per-operation box is on). */
extern HAK_HIDDEN int hak_front_bypass;

/* The calling thread's heap, attaching one (adopting an abandoned heap or
 * mapping a new one) if needed; NULL only when the OS refuses memory. */
HAK_HIDDEN hak_heap_t *hak_heap_get(void);
/* Move a batch of class cls blocks into h's cache; false if none could be had. */
HAK_HIDDEN bool hak_heap_refill(hak_heap_t *h, unsigned cls);
/* Return cache blocks of class cls to their spans, keeping `keep`, or with
 * HAK_FLUSH_BATCH a batch's room (what a full cache's free does). */
#define HAK_FLUSH_BATCH UINT32_MAX
HAK_HIDDEN void hak_heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep);
/* Free small block p of span s to the span's owner (checked), not to a
 * cache; h is the calling thread's heap or NULL. */
HAK_HIDDEN void hak_heap_free_to_owner(hak_heap_t *h, hak_span_t *s, void *p);
/* A large block of at least size bytes; *fresh says it came zeroed. */
HAK_HIDDEN void *hak_heap_large_alloc(hak_heap_t *h, size_t size, bool *fresh);
/* Free block p of large span s (any thread). */
HAK_HIDDEN void hak_heap_large_free(hak_heap_t *h, hak_span_t *s, void *p);
/* Flush every cache of h, release its empty spans, decommit its free slabs
 * and the free tails of its partly used spans (malloc_trim). */
HAK_HIDDEN void hak_heap_trim(hak_heap_t *h);
/* The flush-time checks over every cache of h, without flushing (owner only). */
HAK_HIDDEN void hak_heap_verify(hak_heap_t *h);
/* The same for every other heap: abandoned ones whole, live ones without
 * their caches (malloc_trim). */
HAK_HIDDEN void hak_heaps_trim_others(hak_heap_t *self);
/* The span lock (see above). */
HAK_HIDDEN void hak_heap_lock(hak_heap_t *h);
HAK_HIDDEN void hak_heap_unlock(hak_heap_t *h);
/* h has a purge due at `at` (ns); h's lock held. */
HAK_HIDDEN void hak_heap_note_due(hak_heap_t *h, uint64_t at);
/* When some heap's purge is overdue, so that any thread's slow path does it. */
extern HAK_HIDDEN _Atomic uint64_t hak_heaps_purge_due;
/* Purge the overdue free slabs of heaps other than self (their owners are
 * idle), if no other thread is doing so. */
HAK_HIDDEN void hak_heaps_purge_idle(hak_heap_t *self, uint64_t now);
HAK_HIDDEN void hak_heap_avail_push(hak_heap_t *h, hak_span_t *s);

/* Another thread took blocks from h's caches while its owner sat in a
 * system call (heap.c, "idle caches"): the owner calls hak_heap_settle
 * before it touches a cache outside its span lock. */
HAK_HIDDEN void hak_heap_reconcile(hak_heap_t *h);
HAK_INLINE void hak_heap_settle(hak_heap_t *h) {
    if (HAK_UNLIKELY(atomic_load_explicit(&h->reclaimed, memory_order_relaxed))) hak_heap_reconcile(h);
}

/* Thread exit (pthread key destructor). */
HAK_HIDDEN void hak_heap_thread_exit(void *heap);
HAK_HIDDEN void hak_heaps_init(void);
HAK_HIDDEN void hak_heaps_fork_prepare(void);
HAK_HIDDEN void hak_heaps_fork_parent(void);
HAK_HIDDEN void hak_heaps_fork_child(void);

/* Iterate every heap (for stats); f is called with each heap. */
HAK_HIDDEN void hak_heaps_foreach(void (*f)(hak_heap_t *, void *), void *arg);

#endif
