/* heap.h — per-thread heaps: the unified caches' slow side (refill, flush),
 * remote frees, and the heap lifecycle (attach, abandon, adopt, visit).
 *
 * Ownership: a heap is held by exactly one thread at a time — its owner
 * thread, or a visitor that took an abandoned heap for a moment (state
 * VISITING).  Only the holder touches the heap's spans' local state; other
 * threads reach a span only through its lock-free remote list. */
#ifndef HAKMEM_HEAP_H
#define HAKMEM_HEAP_H

#include "internal.h"

#define HAK_TLS __attribute__((tls_model("initial-exec")))

/* The fast paths read only hak_tls_front: the thread's caches, or the empty
 * front (every count and cap 0) when the thread has no heap yet or a box
 * wants every operation to take the slow path. */
extern __thread hak_cache_t *hak_tls_front HAK_TLS;
extern __thread hak_heap_t *hak_tls_heap HAK_TLS;
extern HAK_HIDDEN hak_cache_t hak_empty_front[HAK_FRONT_SLOTS];
/* Bytes in large blocks handed out (always counted: slow path only). */
extern HAK_HIDDEN _Atomic uint64_t hak_large_bytes;
/* 1 when the fast paths must be bypassed (a per-operation box is on). */
extern HAK_HIDDEN int hak_front_bypass;

/* The calling thread's heap, attaching one (adopting an abandoned heap or
 * mapping a new one) if needed; NULL only when the OS refuses memory. */
HAK_HIDDEN hak_heap_t *hak_heap_get(void);
/* Move a batch of class cls blocks into h's cache; false if none could be had. */
HAK_HIDDEN bool hak_heap_refill(hak_heap_t *h, unsigned cls);
/* Return cache blocks of class cls to their spans, keeping `keep`. */
HAK_HIDDEN void hak_heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep);
/* Collect blocks other threads freed into h's spans. */
HAK_HIDDEN void hak_heap_drain(hak_heap_t *h);
/* A large block of at least size bytes; *fresh says it came zeroed. */
HAK_HIDDEN void *hak_heap_large_alloc(hak_heap_t *h, size_t size, bool *fresh);
/* Free block p of large span s (any thread). */
HAK_HIDDEN void hak_heap_large_free(hak_heap_t *h, hak_span_t *s, void *p);
/* Flush every cache, collect remote frees, release empty spans of h
 * (malloc_trim and thread exit). */
HAK_HIDDEN void hak_heap_collect(hak_heap_t *h);
/* Collect, then give back every written free slab (malloc_trim). */
HAK_HIDDEN void hak_heap_trim(hak_heap_t *h);
/* The flush-time checks over every cache of h, without flushing (owner only). */
HAK_HIDDEN void hak_heap_verify(hak_heap_t *h);
/* Visit every abandoned heap and trim it (malloc_trim). */
HAK_HIDDEN void hak_heaps_collect_abandoned(void);
HAK_HIDDEN void hak_heap_avail_push(hak_heap_t *h, hak_span_t *s);

/* Thread exit (pthread key destructor). */
HAK_HIDDEN void hak_heap_thread_exit(void *heap);
HAK_HIDDEN void hak_heaps_init(void);
HAK_HIDDEN void hak_heaps_fork_child(void);

/* Iterate every heap (for stats); f is called with each heap. */
HAK_HIDDEN void hak_heaps_foreach(void (*f)(hak_heap_t *, void *), void *arg);

#endif
