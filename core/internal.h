/* internal.h — hakmem's shared types and constants.
 *
 * Memory is organised in 2 MiB-aligned regions.  A region is either a
 * superslab (32 slabs of 64 KiB; slab 0 starts with this header) or a huge
 * mapping (one block).  Both begin with the same header, so free() finds
 * everything by masking the pointer, after the segment map has said the
 * region is ours.  Slabs are grouped into spans: a small span serves one size
 * class; a large span is one block of several slabs.
 */
#ifndef HAKMEM_INTERNAL_H
#define HAKMEM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HAK_HIDDEN __attribute__((visibility("hidden")))
#define HAK_EXPORT __attribute__((visibility("default")))
#define HAK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAK_NOINLINE __attribute__((noinline))
#define HAK_COLD __attribute__((cold, noinline))
#define HAK_INLINE static inline __attribute__((always_inline))

/* Address space geometry. */
#define HAK_SEGMENT_SHIFT 21
#define HAK_SEGMENT_SIZE ((size_t)1 << HAK_SEGMENT_SHIFT)      /* 2 MiB */
#define HAK_SEGMENT_MASK (HAK_SEGMENT_SIZE - 1)
#define HAK_SLAB_SHIFT 16
#define HAK_SLAB_SIZE ((size_t)1 << HAK_SLAB_SHIFT)            /* 64 KiB */
#define HAK_SLABS 32                                           /* per superslab */
#define HAK_ALL_SLABS 0xFFFFFFFFu
#define HAK_ADDR_BITS 47                                       /* x86-64 user space */
#define HAK_HEADER_SIZE 4096   /* region header; slab 0's blocks begin here, page aligned */
#define HAK_PAGE 4096

/* Size tiers (see docs/ARCHITECTURE.md): tiny <= 2 KiB (the malloc fast
 * path's table) and small <= 32 KiB are size classes served by the
 * per-thread caches; large <= 1 MiB is a run of whole slabs; anything
 * bigger is huge, with its own mapping. */
#define HAK_TINY_MAX 2048
#define HAK_SMALL_MAX (32 * 1024)
#define HAK_LARGE_MAX (1024 * 1024)
#define HAK_NCLASSES 41          /* classes 0..40 cover 0..HAK_SMALL_MAX */
#define HAK_FC_SLOW 63           /* hak_region_fc of a slab in no small span (not a class) */

/* region kinds */
#define HAK_REGION_MAGIC 0x68616b6d656d5353ull /* "hakmemSS" */
enum { HAK_REGION_SUPERSLAB = 1, HAK_REGION_HUGE = 2, HAK_REGION_HUGE_CACHED = 3 };
/* slab kinds */
enum { HAK_SLAB_FREE = 0, HAK_SLAB_SMALL = 1, HAK_SLAB_LARGE = 2, HAK_SLAB_CONT = 3 };

struct hak_heap;

/* A span descriptor: one per slab; meaningful at a span's head slab. */
typedef struct hak_span {
    uint8_t kind;          /* HAK_SLAB_* */
    uint8_t head;          /* index of the span's head slab (for every slab of a span) */
    uint8_t nslabs;        /* slabs in the span (head only) */
    uint8_t cls;           /* size class (small spans) */
    uint8_t in_avail;      /* on the owner heap's list of spans with free blocks */
    uint8_t fresh;         /* large: memory came zeroed from the OS */
    uint16_t _pad;
    uint32_t block_size;
    uint32_t capacity;     /* blocks in the span */
    uint32_t carved;       /* blocks handed out by the bump cursor so far */
    uint32_t used;         /* blocks not on the local free list (in caches or in use) */
    uint8_t *data;         /* first block */
    uint64_t div_magic;    /* small: ceil(2^40 / block_size); offset * it >> 40 is the block index */
    uint64_t secret;       /* free-list link encoding (secure box); 0 when off */
    void *free;            /* local free list: owner only */
    _Atomic uintptr_t remote; /* blocks freed by other threads (lock-free stack): see heap.c */
    struct hak_span *next, *prev;        /* heap's avail list for cls */
    struct hak_span *notify_next;        /* heap's list of spans with remote frees */
} hak_span_t;

typedef struct hak_region {
    uint64_t magic;
    uint8_t kind;                   /* HAK_REGION_* */
    uint8_t pooled;                 /* in the global pool of empty superslabs */
    uint16_t _pad;
    uint32_t free_mask;             /* superslab: slabs in no span */
    uint32_t dirty_mask;            /* superslab: slabs written since mapped or decommitted */
    uint32_t purge_mask;            /* superslab: free slabs waiting for their purge delay */
    uint8_t decommitted;            /* pooled superslab: pages already given back */
    uint64_t purge_at;              /* when purge_mask (or a pooled superslab) is due, ns */
    uint32_t slab_due_ms[HAK_SLABS]; /* per slab of purge_mask: when its own delay ends (ms, wraps) */
    struct hak_heap *owner;         /* superslab: the heap whose spans these are */
    struct hak_region *next, *prev; /* owner's region list, or the pool */
    size_t map_size;                /* bytes mapped from the region base */
    size_t data_off;                /* huge: offset of the block from the base */
    hak_span_t spans[HAK_SLABS];
} hak_region_t;

_Static_assert(sizeof(hak_region_t) <= HAK_HEADER_SIZE, "region header must fit its page");

/* Per-class bounded LIFO of free blocks: the unified cache.  Three
 * pointers (not count and cap) so that a pop or a push is one compare and
 * one pointer bump; an empty front has all three NULL, so both fast paths
 * fall through. */
typedef struct hak_cache {
    void **top;     /* next free slot; base..top hold blocks */
    void **base;
    void **end;     /* base + cap */
    uint64_t flush_stamp;   /* the flush's duplicate marks (heap.c dup_seen); 32 bytes in all */
} hak_cache_t;

HAK_INLINE uint32_t hak_cache_count(const hak_cache_t *c) { return (uint32_t)(c->top - c->base); }

HAK_INLINE uint32_t hak_cache_cap(const hak_cache_t *c) { return (uint32_t)(c->end - c->base); }

/* What the fast paths reach through hak_tls_front: a head, then one cache
 * per class.  The head sits at offset 0, where the slab map sends every
 * block that is not in a small span (slabmap.h), and is laid out as a cache
 * that is empty and full at once: top and base both hold the slab map's
 * address, end is NULL.  So free() falls to its slow path without a test of
 * its own (and so does malloc, before init, when its size table is all 0).
 * The head's flush_stamp holds the map's index mask. */
typedef struct hak_front {
    hak_cache_t head;
    hak_cache_t cache[HAK_NCLASSES];
} hak_front_t;

/* Byte offset of class cls's cache in a front: what malloc's size table
 * and the slab map hold, so the fast paths add it without a shift. */
HAK_INLINE uint16_t hak_front_off(unsigned cls) {
    return (uint16_t)(offsetof(hak_front_t, cache) + cls * sizeof(hak_cache_t));
}
HAK_INLINE unsigned hak_front_cls(unsigned off) {
    return (unsigned)((off - offsetof(hak_front_t, cache)) / sizeof(hak_cache_t));
}

enum { HAK_HEAP_FREE = 0, HAK_HEAP_OWNED = 1, HAK_HEAP_VISITING = 2, HAK_HEAP_DEAD = 3 };

/* Per-class counters kept by the heap holder (plain, not atomic). */
typedef struct hak_class_stats {
    uint64_t allocs, frees, hits, misses, refills, flushes;
} hak_class_stats_t;

/* A heap: the per-thread state.  It outlives its thread: when a thread
 * exits its heap is abandoned (state FREE) with its spans, and the next new
 * thread adopts it whole; meanwhile other threads may visit it to collect
 * blocks they free into it.  While its thread lives but is idle, other
 * threads may take its span lock to reclaim empty spans, and, while the
 * thread sits in a system call, all but the top block of each cache (heap.c,
 * "idle caches"). */
typedef struct hak_heap {
    hak_front_t front;                     /* the fast paths touch only this */
    _Atomic(hak_span_t *) notify;          /* spans that received remote frees */
    _Atomic int state;                     /* HAK_HEAP_* */
    _Atomic int lock;                      /* held by whoever changes the spans (heap.c) */
    _Atomic uint64_t purge_due;            /* earliest purge_at of its regions, or 0 */
    struct hak_heap *all_next;             /* global list of every heap */
    hak_span_t *avail[HAK_NCLASSES];       /* spans with free or uncarved blocks */
    /* per class, after the last flush that returned blocks: xor of the
     * blocks it kept | 1; 0 after a refill (heap.c heap_flush) */
    uint64_t flush_state[HAK_NCLASSES];
    hak_region_t *regions;                 /* superslabs owned */
    uint32_t purge_pending;                /* some region has a purge_mask */
    size_t size;                           /* bytes of this heap struct (mapping) */
    uint64_t remote_frees;
    _Atomic uint64_t out_bytes;            /* bytes refilled into caches minus bytes flushed back */
    /* Idle caches (heap.c): another thread may take the cached blocks of a
     * live owner that sits in a system call. */
    _Atomic int reclaimed;                 /* blocks were taken: the owner reconciles first */
    int tid;                               /* the owner's kernel thread id */
    hak_front_t **front_var;               /* the owner's hak_tls_front */
    _Atomic uint64_t slow_ops;             /* the owner's refills and flushes */
    uint64_t slow_ops_seen;                /* slow_ops at the last idle scan */
    uint32_t reclaim_count[HAK_NCLASSES];  /* per class: blocks cached when they were taken (0: none) */
    hak_class_stats_t cstats[HAK_NCLASSES];
    void *slot_store[];                    /* backing for the caches' slots */
} hak_heap_t;

#endif
