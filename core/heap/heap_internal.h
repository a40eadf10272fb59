/* heap_internal.h — what the heap layer's files share and nothing above
 * them sees: the layer's per-process state and the helpers that more than
 * one of its concerns use. */
#ifndef HAKMEM_HEAP_INTERNAL_H
#define HAKMEM_HEAP_INTERNAL_H

#include <pthread.h>

#include "box/release_box.h"
#include "heap/heap.h"

typedef struct hak_heaps_state {
    _Atomic(hak_heap_t *) all;        /* every heap ever made; never freed */
    pthread_key_t key;                /* its destructor runs at thread exit */
    /* Held while a thread reclaims from heaps other than its own, so that
     * fork never happens with another heap's span lock taken by a visitor. */
    pthread_mutex_t visit_lock;
    _Atomic uint64_t idle_scan_at;    /* when the next idle-cache scan is due (reclaim.c) */
    hak_heap_t *idle_scan_next;       /* where it goes on (visit_lock) */
    _Atomic uint64_t large_bytes;     /* bytes in large blocks handed out */
} hak_heaps_state_t;
extern HAK_HIDDEN hak_heaps_state_t hak_heaps;

#define HEAP_FIRST() atomic_load_explicit(&hak_heaps.all, memory_order_acquire)
#define SPAN_OF(link) HAK_LIST_OBJ(link, hak_span_t, avail)

/* ---- the span lock (lifecycle.c) ---- */
HAK_HIDDEN bool heap_trylock(hak_heap_t *h);
/* The owner's span lock: its caches put right first if they were taken from. */
HAK_HIDDEN void heap_lock_owner(hak_heap_t *h);

/* ---- spans (spans.c) ---- */
HAK_HIDDEN void avail_push(hak_heap_t *h, hak_span_t *s);
HAK_HIDDEN void avail_remove(hak_heap_t *h, hak_span_t *s);
/* A span whose blocks all came back (h holds s). */
HAK_HIDDEN void span_empty(hak_heap_t *h, hak_span_t *s);
/* n blocks came back onto span s's local free list (h holds s). */
HAK_HIDDEN void span_take_back_n(hak_heap_t *h, hak_span_t *s, uint32_t n);
/* Release every empty span of h, even a class's last, after collecting
 * remote frees (trim, thread exit, idle heaps). */
HAK_HIDDEN void heap_release_empty(hak_heap_t *h);
/* Run the release work due: the scheduler's sources and h's own free slabs
 * (h's lock held).  heap_purge looks at the clock once in 16 calls (the
 * deadlines are a purge delay, a second by default, away: the refills and
 * flushes of a busy thread would otherwise read the clock every time);
 * heap_purge_now at once (thread exit, visits). */
HAK_HIDDEN void heap_purge_now(hak_heap_t *h);
HAK_INLINE void heap_purge(hak_heap_t *h) {
    if ((++h->purge_ticks & 15) == 0) heap_purge_now(h);
}
HAK_INLINE bool heap_purge_wanted(hak_heap_t *h) { return h->ss.purge_pending || hak_purge_wanted(); }

/* Follow span s's free-list links from b for at most max blocks, storing
 * each in out unless out is NULL.  Returns how many; *last is the last one,
 * *rest the block after it (NULL at the end).  A decoded link must point
 * into the span (secure box): one that does not ends the list, reported.
 * The span's fields are read once, not per block. */
HAK_HIDDEN void chain_corrupt(const void *b);
HAK_INLINE uint32_t chain_walk(const hak_span_t *s, void *b, uint32_t max, void **out, void **last, void **rest) {
    const uintptr_t lo = (uintptr_t)s->data, len = (uintptr_t)s->capacity * s->block_size, sec = s->secret;
    uint32_t n = 0;
    void *prev = NULL;
    while (b && n < max) {
        if (out) out[n] = b;
        n++;
        prev = b;
        uintptr_t next = *(const uintptr_t *)b ^ sec;
        if (HAK_UNLIKELY(next && next - lo >= len)) { chain_corrupt(b); next = 0; }
        b = (void *)next;
    }
    *last = prev;
    *rest = b;
    return n;
}

/* Bytes of h's blocks out of their spans (in caches or in use) change by
 * delta; only h's holder writes it, stats read it. */
HAK_INLINE void out_bytes_add(hak_heap_t *h, int64_t delta) {
    atomic_store_explicit(&h->out_bytes, atomic_load_explicit(&h->out_bytes, memory_order_relaxed) + (uint64_t)delta,
                          memory_order_relaxed);
}

/* ---- remote frees (remote.c) ---- */
/* Push blocks first..last (n of them) onto span s of another heap; returns
 * that heap when it is abandoned, for the caller to visit (heap_visit) once
 * nothing of its own depends on that heap's spans staying as they are. */
HAK_HIDDEN hak_heap_t *remote_push(hak_heap_t *h, hak_span_t *s, void *first, void *last, uint32_t n);
/* Collect h's notify list onto its spans' local lists (h held). */
HAK_HIDDEN void heap_drain(hak_heap_t *h);
/* Take an abandoned heap for a moment and collect what others freed into it. */
HAK_HIDDEN void heap_visit(hak_heap_t *o);

/* ---- caches (cache.c) ---- */
HAK_HIDDEN void heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep);
/* Class cls's cache back to its first bound (its blocks must fit). */
HAK_HIDDEN void cache_shrink(hak_heap_t *h, unsigned cls);
HAK_HIDDEN void heap_flush_all(hak_heap_t *h);
/* Return blocks v[0..m) of h's class cls cache to their spans (h's lock
 * held); v[m..count) stay, compacted to v[m..m + *kept) without the
 * duplicates among them.  Returns how many went back. */
HAK_HIDDEN uint32_t flush_run(hak_heap_t *h, unsigned cls, void **v, uint32_t m, uint32_t count, uint32_t *kept_out);
/* Is b, a block in h's cache, a block start of a small span?  0: yes; 1:
 * no; 2: it is the head of its own span's free list (freed twice). */
HAK_HIDDEN int cached_block_bad(hak_heap_t *h, void *b);

/* ---- checked frees (checked.c) ---- */
/* Blocks v[0..n) of class cls go into h's cache by a refill: marked. */
HAK_HIDDEN void checked_refilled(hak_heap_t *h, unsigned cls, void **v, uint32_t n);
/* Block b (16 bytes or more) leaves a cache for its span's lists. */
HAK_HIDDEN void checked_leaving(void *b);

/* ---- the caches' invariant (check.c) ----
 * Checked when the build says so (-DHAKMEM_HEAP_CHECK=1: the fuzz build;
 * a failure aborts) or the debug gate does (DEBUG: hak_heaps_hooks.checked;
 * a failure is reported): at the entry of a refill and a flush (that
 * cache), after a flush and an open (which also leave `room` free slots
 * for the free that called them), around a reconcile and before a take
 * (every cache).  `where` names the caller in the report. */
#ifndef HAKMEM_HEAP_CHECK
#define HAKMEM_HEAP_CHECK 0
#endif
HAK_INLINE bool heap_check_on(void) { return HAKMEM_HEAP_CHECK || hak_heaps_hooks.checked; }
HAK_HIDDEN void heap_check_cache(hak_heap_t *h, unsigned cls, uint32_t room, const char *where);
HAK_HIDDEN void heap_check_caches(hak_heap_t *h, const char *where);

/* ---- reclaim (reclaim.c) ---- */
/* One refill or flush of h's owner: every 256th looks whether an idle scan is due. */
HAK_HIDDEN void heap_slow_op(hak_heap_t *h);
/* Take the cached blocks of live heap o (its lock held) if its owner sits in
 * a system call; true once it asked the OS. */
HAK_HIDDEN bool heap_take_caches(hak_heap_t *o);
HAK_HIDDEN void heap_reconcile(hak_heap_t *h);
HAK_HIDDEN void heaps_reclaim_init(void);

#endif
