/* heap.h — per-thread heaps: the unified caches and their slow side
 * (refill, flush), remote frees, large spans, the heap lifecycle (attach,
 * abandon, adopt, visit), reclaim from idle heaps and trim.
 *
 * Ownership: a heap's caches belong to its owner thread, or to a visitor
 * that took an abandoned heap for a moment (state VISITING); while the
 * owner sits in a system call another thread may take all but each cache's
 * top block (heap/reclaim.c, "idle caches").  Its spans' local state is
 * changed only under its span lock (hak_heap_lock): by the owner's slow
 * paths, or by another thread reclaiming from an idle heap (trim, overdue
 * purges, idle caches).  Other threads reach a span only through its
 * lock-free remote list (heap/remote.c). */
#ifndef HAKMEM_HEAP_H
#define HAKMEM_HEAP_H

#include "backend/slabmap.h"
#include "backend/superslab.h"

/* Per-class bounded LIFO of free blocks: the unified cache.  Three
 * pointers (not count and cap) so that a pop or a push is one compare and
 * one pointer bump. */
typedef struct hak_cache {
    void **top;     /* next free slot; base..top hold blocks */
    void **base;
    void **end;     /* base + cap; base while closed (both fast paths fall through) */
    uint64_t flush_stamp;   /* the flush's duplicate marks (heap/cache.c); 32 bytes in all */
} hak_cache_t;

HAK_INLINE uint32_t hak_cache_count(const hak_cache_t *c) { return (uint32_t)(c->top - c->base); }
HAK_INLINE uint32_t hak_cache_cap(const hak_cache_t *c) { return (uint32_t)(c->end - c->base); }

/* What the fast paths reach through hak_tls_front: a head, one cache per
 * class, the front's copy of the slab map's first level, and its copy of
 * the malloc fast path's size table (8-byte entries next to the caches, so
 * that malloc adds the entry to the front in one instruction; 16 KiB a
 * thread, measured against the instruction in docs/PERFORMANCE.md).  The head sits
 * at offset 0, where the slab map sends every block that is not in a small
 * span, and is a cache that is empty and full at once: top and base point
 * just past a slot that holds NULL, end is NULL.  So free() falls to its
 * slow path without a test of its own (and so does malloc, before init,
 * when its size table is all 0). */
typedef struct hak_front {
    hak_cache_t head;
    hak_cache_t cache[HAK_NCLASSES];
    const uint64_t *slabmap[HAK_SLABMAP_WINDOWS];   /* backend/slabmap.h */
    uint64_t tiny[HAK_TINY_MAX + 1];                /* a copy of hak_tiny_off */
} hak_front_t;
/* The slot before the head's top (free reads top[-1]). */
extern HAK_HIDDEN void *const hak_head_slot[1];
#define HAK_FRONT_HEAD {.top = (void **)&hak_head_slot[1], .base = (void **)&hak_head_slot[1], .end = NULL, .flush_stamp = 0}

/* Byte offset of class cls's cache in a front: what malloc's size table
 * and the slab map hold, so the fast paths add it without a shift. */
HAK_INLINE uint16_t hak_front_off(unsigned cls) {
    return (uint16_t)(offsetof(hak_front_t, cache) + cls * sizeof(hak_cache_t));
}
HAK_INLINE unsigned hak_front_cls(unsigned off) {
    return (unsigned)((off - offsetof(hak_front_t, cache)) / sizeof(hak_cache_t));
}

/* The class table: every size class's geometry, filled at init from the
 * one definition of the classes (front/size_class.h). */
typedef struct hak_class_info {
    hak_span_shape_t shape;   /* block size, span length, div_magic, slab-map value */
    uint16_t cache_cap;       /* bound of a thread's cache, to start with */
    uint16_t batch;           /* blocks moved per refill / flush, to start with: half the bound */
    uint16_t max_cap;         /* the most a cache may grow to (heap/cache.c, "growing caches") */
    uint16_t slot_first;      /* index in a heap's slot_store of the class's cache_cap slots */
    uint32_t grow_first;      /* index of its max_cap slots, where the cache lives while its bound
                               * is above cache_cap (if max_cap > cache_cap; size_class.c) */
} hak_class_info_t;
extern HAK_HIDDEN hak_class_info_t hak_classes[HAK_NCLASSES];
/* Slots in a heap's slot store: the classes' windows and growth regions (size_class.c). */
extern HAK_HIDDEN uint32_t hak_cache_slot_count;
/* For every tiny request size n, the byte offset of its class's cache in a
 * front (0, the head, until init): filled at init from the one definition
 * of the classes (front/size_class.c); every front carries a copy. */
extern HAK_HIDDEN uint64_t hak_tiny_off[HAK_TINY_MAX + 1];
HAK_INLINE uint32_t hak_class_block(unsigned cls) { return hak_classes[cls].shape.block_size; }

enum { HAK_HEAP_FREE = 0, HAK_HEAP_OWNED = 1, HAK_HEAP_VISITING = 2, HAK_HEAP_DEAD = 3 };

/* Per-class counters (plain, not atomic; counted while the fronts are
 * bypassed, and refills and flushes always). */
typedef struct hak_class_stats {
    uint64_t allocs, frees, hits, misses, refills, flushes;
} hak_class_stats_t;

/* A heap: the per-thread state.  It outlives its thread: when a thread
 * exits its heap is abandoned (state FREE) with its spans, and the next new
 * thread adopts it whole; meanwhile other threads may visit it to collect
 * blocks they free into it. */
typedef struct hak_heap {
    hak_front_t front;                     /* the fast paths touch only this */
    _Atomic(hak_span_t *) notify;          /* spans that received remote frees */
    _Atomic int state;                     /* HAK_HEAP_* */
    _Atomic int lock;                      /* the span lock */
    struct hak_heap *all_next;             /* the list of every heap */
    hak_ss_owner_t ss;                     /* the superslabs it owns (backend) */
    hak_list_t avail[HAK_NCLASSES];        /* spans with free or uncarved blocks */
    /* per class, after the last flush that returned blocks: 1 if it kept
     * none, else the signature of those it kept (odd, never 1); 0 after a
     * refill (heap/cache.c heap_flush) */
    uint64_t flush_state[HAK_NCLASSES];
    size_t size;                           /* bytes of this heap struct (mapping) */
    uint64_t remote_frees;
    uint32_t purge_ticks;                  /* slow paths since the clock was read (heap_purge) */
    uint16_t cap[HAK_NCLASSES];            /* each cache's bound now: cache_cap .. max_cap */
    size_t grown;                          /* bytes the caches' bounds have grown past cache_cap */
    _Atomic uint64_t out_bytes;            /* bytes refilled into caches minus bytes flushed back */
    /* Idle caches (heap/reclaim.c): another thread may take the cached
     * blocks of a live owner that sits in a system call. */
    _Atomic int reclaimed;                 /* blocks were taken: the owner reconciles first */
    int tid;                               /* the owner's kernel thread id */
    hak_front_t **front_var;               /* the owner's hak_tls_front */
    _Atomic uint64_t slow_ops;             /* the owner's refills and flushes */
    uint64_t slow_ops_seen;                /* slow_ops at the last idle scan */
    /* Idle classes (heap/cache.c): at the last look, slow_ops and each
     * cache's top block and count. */
    uint64_t class_look_at;
    uintptr_t class_mark[HAK_NCLASSES];
    uint32_t reclaim_count[HAK_NCLASSES];  /* per class: blocks cached when they were taken (0: none) */
    hak_class_stats_t cstats[HAK_NCLASSES];
    void *slot_store[];                    /* backing for the caches' slots */
} hak_heap_t;

/* The slots class cls's cache lives in, found from where its base is: its
 * first-bound window (cache_cap slots; every thread touches these, so they
 * lie together), or its growth region (max_cap slots, touched only by a
 * cache that grew).  Returns the first; *room is how many. */
HAK_INLINE void **hak_cache_slots(hak_heap_t *h, unsigned cls, uint32_t *room) {
    const hak_class_info_t *ci = &hak_classes[cls];
    void **g = h->slot_store + ci->grow_first, **base = h->front.cache[cls].base;
    if (ci->max_cap > ci->cache_cap && base >= g && base < g + ci->max_cap) {
        *room = ci->max_cap;
        return g;
    }
    *room = ci->cache_cap;
    return h->slot_store + ci->slot_first;
}

HAK_INLINE hak_heap_t *hak_heap_of_owner(hak_ss_owner_t *o) { return HAK_CONTAINER(o, hak_heap_t, ss); }

/* The fast paths read only hak_tls_front: the thread's front, or the empty
 * front (every cache empty and full at once) when the thread has no heap
 * yet or a box wants every operation to take the slow path. */
extern __thread hak_front_t *hak_tls_front HAK_TLS;
extern __thread hak_heap_t *hak_tls_heap HAK_TLS;
extern HAK_HIDDEN hak_front_t hak_empty_front;

/* What the layers above tell the heap layer at init. */
typedef struct hak_heaps_hooks {
    bool bypass;                           /* fronts bypassed: a box sees every operation */
    /* Blocks carry the debug box's trailer in their last 8 bytes: a carved
     * block's is cleared (its memory's earlier life left a freed mark
     * there), and the flush must not mark blocks (DEBUG's junk check reads
     * their second word). */
    bool checked;
    /* Every free takes the slow path and is checked (heap/checked.c):
     * SECURE, or HAKMEM_ON_ERROR=abort, unless checked blocks are on.
     * Fixed at init. */
    bool free_checked;
    void (*created)(hak_heap_t *h);        /* a new heap was made for its thread (prewarm box) */
} hak_heaps_hooks_t;
extern HAK_HIDDEN hak_heaps_hooks_t hak_heaps_hooks;

/* The calling thread's heap, attaching one (adopting an abandoned heap or
 * mapping a new one) if needed; NULL only when the OS refuses memory. */
HAK_HIDDEN hak_heap_t *hak_heap_get(void);
/* Point the calling thread's front at its caches, or at the empty front
 * while the fronts are bypassed. */
HAK_HIDDEN void hak_heap_front_reset(void);
/* Move a batch of class cls blocks into h's cache; false if none could be had. */
HAK_HIDDEN bool hak_heap_refill(hak_heap_t *h, unsigned cls);
/* Return cache blocks of class cls to their spans, keeping `keep`, or with
 * HAK_FLUSH_BATCH a batch's room (what a full cache's free does). */
#define HAK_FLUSH_BATCH UINT32_MAX
HAK_HIDDEN void hak_heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep);
/* The first free of class cls into h's closed cache: it opens; another
 * heap's block goes to its owner instead (true) rather than into it. */
HAK_HIDDEN bool hak_heap_cache_open(hak_heap_t *h, unsigned cls, hak_span_t *s, void *p);
/* Checked frees (heap/checked.c).  A block in a cache carries in its first
 * word its address ^ hak_heaps_free_key ^ the cache's heap (heaps are page
 * aligned); one back in its span, in its second word the complement of its
 * address ^ the key.  hak_heap_free_suspect: does p, a block of class cls,
 * carry either mark?  hak_heap_free_check: is it free indeed (reported if
 * so)?  hak_heap_mark_cached: p goes into h's cache. */
extern HAK_HIDDEN uintptr_t hak_heaps_free_key;
HAK_INLINE bool hak_heap_free_suspect(unsigned cls, const void *p) {
    uintptr_t heap = *(const uintptr_t *)p ^ (uintptr_t)p ^ hak_heaps_free_key;
    return (heap & (HAK_PAGE - 1)) == 0 ||
           (cls != 0 && ((const uintptr_t *)p)[1] == ~((uintptr_t)p ^ hak_heaps_free_key));
}
HAK_HIDDEN bool hak_heap_free_check(unsigned cls, void *p);
HAK_INLINE void hak_heap_mark_cached(hak_heap_t *h, void *p) {
    *(uintptr_t *)p = (uintptr_t)p ^ hak_heaps_free_key ^ (uintptr_t)h;
}
/* Free small block p of span s to the span's owner (checked), not to a
 * cache; h is the calling thread's heap or NULL. */
HAK_HIDDEN void hak_heap_free_to_owner(hak_heap_t *h, hak_span_t *s, void *p);
/* A large block of at least size bytes; *fresh says it came zeroed. */
HAK_HIDDEN void *hak_heap_large_alloc(hak_heap_t *h, size_t size, bool *fresh);
/* Resize the large block of span s to at least size bytes where it is
 * (realloc): only h's own spans, under its lock; false when h does not own
 * s or the slabs after it are not free. */
HAK_HIDDEN bool hak_heap_large_resize(hak_heap_t *h, hak_span_t *s, size_t size);
/* Free block p of large span s (any thread; h the caller's heap or NULL). */
HAK_HIDDEN void hak_heap_large_free(hak_heap_t *h, hak_span_t *s, void *p);
/* Flush every cache of h, release its empty spans, decommit its free slabs
 * and the free tails of its partly used spans (malloc_trim). */
HAK_HIDDEN void hak_heap_trim(hak_heap_t *h);
/* The same for every other heap: abandoned ones whole, live ones without
 * their caches (malloc_trim). */
HAK_HIDDEN void hak_heaps_trim_others(hak_heap_t *self);
/* The flush-time checks over every cache of h, without flushing (owner only). */
HAK_HIDDEN void hak_heap_verify(hak_heap_t *h);
/* The span lock (see above). */
HAK_HIDDEN void hak_heap_lock(hak_heap_t *h);
HAK_HIDDEN void hak_heap_unlock(hak_heap_t *h);

/* Another thread took blocks from h's caches while its owner sat in a
 * system call (heap/reclaim.c): the owner calls hak_heap_settle before it
 * touches a cache outside its span lock. */
HAK_HIDDEN void hak_heap_reconcile(hak_heap_t *h);
HAK_INLINE void hak_heap_settle(hak_heap_t *h) {
    if (HAK_UNLIKELY(atomic_load_explicit(&h->reclaimed, memory_order_relaxed))) hak_heap_reconcile(h);
}

/* Totals over every heap, for the stats and mallinfo. */
typedef struct hak_heaps_totals {
    hak_class_stats_t cls[HAK_NCLASSES];
    uint64_t remote_frees;
    uint64_t cached_bytes;     /* in the caches */
    uint64_t out_bytes;        /* out of their spans: in caches or in use */
    uint64_t large_bytes;      /* in large blocks handed out */
} hak_heaps_totals_t;
HAK_HIDDEN void hak_heaps_totals(hak_heaps_totals_t *t);

/* Thread exit (the key's destructor): flush, release, abandon. */
HAK_HIDDEN void hak_heap_thread_exit(hak_heap_t *h);
/* Call f for every heap ever made (tests, stats). */
HAK_HIDDEN void hak_heaps_foreach(void (*f)(hak_heap_t *, void *), void *arg);
HAK_HIDDEN void hak_heaps_init(void);
HAK_HIDDEN void hak_heaps_fork_prepare(void);
HAK_HIDDEN void hak_heaps_fork_parent(void);
HAK_HIDDEN void hak_heaps_fork_child(void);
/* The child of a single-threaded process: no lock was taken, only the
 * thread id changed (the idle-cache probe reads it). */
HAK_HIDDEN void hak_heaps_fork_child_alone(void);

#endif
