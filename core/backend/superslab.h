/* superslab.h — the backend's unit: 2 MiB superslabs cut into 64 KiB
 * slabs, grouped into spans.
 *
 * Every superslab starts with a header (hak_superslab_t), so a block's
 * header is found by masking its address, once the segment map
 * (segmap.h) has said the superslab is ours.  A sliced superslab belongs
 * to one owner (a thread heap's hak_ss_owner_t) and holds spans: a small
 * span serves one size class; a large span is one block of several slabs.
 * A huge block's mapping (huge.h) is a run of superslabs whose first one
 * carries the header.  Spans are carved and freed only by whoever holds the
 * owner's span lock (the heap layer's); other threads reach a span only
 * through its lock-free remote list.  Empty superslabs go to a small global
 * pool or back to the OS, as the release policy says (box/release_box.h).
 */
#ifndef HAKMEM_SUPERSLAB_H
#define HAKMEM_SUPERSLAB_H

#include "base/base.h"
#include "base/list.h"

#define HAK_SS_MAGIC 0x68616b6d656d5353ull /* "hakmemSS" */
enum { HAK_SS_SLABS = 1, HAK_SS_HUGE = 2, HAK_SS_HUGE_CACHED = 3 };   /* superslab kinds */
enum { HAK_SLAB_FREE = 0, HAK_SLAB_SMALL = 1, HAK_SLAB_LARGE = 2, HAK_SLAB_CONT = 3 };   /* slab kinds */

/* A span descriptor: one per slab; meaningful at a span's head slab. */
typedef struct hak_span {
    uint8_t kind;          /* HAK_SLAB_* */
    uint8_t cls;           /* size class (small spans); next to kind: a flush tests both in one compare */
    uint8_t nslabs;        /* slabs in the span (head only) */
    uint8_t in_avail;      /* on the owner heap's list of spans with free blocks */
    uint8_t fresh;         /* large: memory came zeroed from the OS */
    uint8_t _pad[3];
    uint32_t block_size;
    uint32_t capacity;     /* blocks in the span */
    uint32_t carved;       /* blocks handed out by the bump cursor so far */
    uint32_t used;         /* blocks not on the local free list (in caches or in use) */
    uint8_t *data;         /* first block */
    uint64_t div_magic;    /* small: ceil(2^40 / block_size); offset * it >> 40 is the block index */
    uint64_t secret;       /* free-list link encoding (secure box); 0 when off */
    void *free;            /* local free list: owner only */
    _Atomic uintptr_t remote; /* blocks freed by other threads: heap/remote.c */
    hak_link_t avail;      /* the owner heap's avail list of its class */
    struct hak_span *notify_next;        /* the owner heap's list of spans with remote frees */
} hak_span_t;

/* The owner of sliced superslabs: embedded in a thread heap; the backend
 * knows nothing else of it. */
typedef struct hak_ss_owner {
    hak_list_t superslabs;         /* the superslabs it owns */
    uint32_t purge_pending;        /* some superslab has free slabs waiting for their delay */
    _Atomic uint64_t purge_due;    /* the earliest of their deadlines (ns), or 0 */
} hak_ss_owner_t;

typedef struct hak_superslab {
    uint64_t magic;
    uint8_t kind;                   /* HAK_SS_* */
    uint8_t pooled;                 /* in the global pool of empty superslabs */
    uint8_t decommitted;            /* pooled: pages already given back */
    uint8_t _pad;
    uint32_t free_mask;             /* slabs in no span */
    uint32_t dirty_mask;            /* slabs written since mapped or decommitted */
    uint32_t purge_mask;            /* free slabs waiting for their purge delay */
    uint64_t purge_at;              /* when purge_mask (or a pooled or cached superslab) is due, ns */
    uint32_t slab_due_ms[HAK_SLABS]; /* per slab of purge_mask: when its own delay ends (ms, wraps) */
    hak_ss_owner_t *owner;          /* sliced: whose spans these are */
    hak_link_t link;                /* the owner's list, the pool, or the huge cache */
    size_t map_size;                /* bytes mapped from the superslab's base */
    size_t data_off;                /* huge: offset of the block from the base */
    /* Per slab: where the descriptor of its span's head slab is, as a byte
     * offset from the superslab (hak_span_head_at), so that finding a
     * block's span is a load and an add (every flushed block pays it). */
    uint16_t head_at[HAK_SLABS];
    hak_span_t spans[HAK_SLABS];
} hak_superslab_t;

_Static_assert(sizeof(hak_superslab_t) <= HAK_HEADER_SIZE, "superslab header must fit its page");

/* The superslab holding p (p must be known to be in one of ours). */
HAK_INLINE hak_superslab_t *hak_superslab_of(const void *p) {
    return (hak_superslab_t *)((uintptr_t)p & ~(uintptr_t)HAK_SUPERSLAB_MASK);
}
HAK_INLINE unsigned hak_slab_index(const void *p) {
    return (unsigned)(((uintptr_t)p >> HAK_SLAB_SHIFT) & (HAK_SLABS - 1));
}
/* head_at's value for a span whose head slab is i. */
HAK_INLINE uint16_t hak_span_head_at(unsigned i) {
    return (uint16_t)(offsetof(hak_superslab_t, spans) + i * sizeof(hak_span_t));
}
/* The head descriptor of the span containing p. */
HAK_INLINE hak_span_t *hak_span_of(hak_superslab_t *ss, const void *p) {
    return (hak_span_t *)((uint8_t *)ss + ss->head_at[hak_slab_index(p)]);
}
HAK_INLINE hak_superslab_t *hak_span_superslab(const hak_span_t *s) { return hak_superslab_of(s); }

/* What a small span of a class looks like: given by the heap layer's
 * class table, so the backend needs no size classes of its own. */
typedef struct hak_span_shape {
    uint32_t block_size;
    uint8_t nslabs;        /* slabs per span */
    uint16_t map_value;    /* the slab map's entry for its slabs (slabmap.h) */
    uint64_t div_magic;    /* ceil(2^40 / block_size) */
} hak_span_shape_t;

/* A new small span of class cls and shape sh for owner o, or NULL. */
HAK_HIDDEN hak_span_t *hak_span_new_small(hak_ss_owner_t *o, unsigned cls, const hak_span_shape_t *sh);
/* A large span of nslabs slabs (one block, 64 KiB aligned), or NULL. */
HAK_HIDDEN hak_span_t *hak_span_new_large(hak_ss_owner_t *o, unsigned nslabs);
/* Return an empty span's slabs to its superslab; an empty superslab leaves o. */
HAK_HIDDEN void hak_span_free(hak_ss_owner_t *o, hak_span_t *s);
/* Resize large span s of o's to nslabs slabs where it is: a smaller one
 * gives its tail slabs back, a larger one takes the slabs right after it
 * when they are free (false when they are not, and nothing changed). */
HAK_HIDDEN bool hak_span_resize_large(hak_ss_owner_t *o, hak_span_t *s, unsigned nslabs);
/* Decommit o's free slabs: those due by now (bounded work; while within the
 * span budget they wait another delay), those due by now whatever the
 * budget (o's heap is idle), or every written one (malloc_trim). */
enum { HAK_PURGE_DUE, HAK_PURGE_IDLE, HAK_PURGE_ALL };
HAK_HIDDEN void hak_ss_purge(hak_ss_owner_t *o, uint64_t now, int mode);
/* o's own free slabs are due by now. */
HAK_INLINE bool hak_ss_purge_due(hak_ss_owner_t *o, uint64_t now) {
    uint64_t d = atomic_load_explicit(&o->purge_due, memory_order_relaxed);
    return o->purge_pending && (!d || d <= now);
}
/* Give every pooled superslab back to the OS; returns bytes released. */
HAK_HIDDEN size_t hak_superslab_pool_trim(void);
/* Superslabs: currently mapped, returned to the OS so far, in the pool. */
HAK_HIDDEN void hak_superslab_counts(uint64_t *mapped, uint64_t *released, uint64_t *pooled);
HAK_HIDDEN void hak_superslab_init(void);
HAK_HIDDEN void hak_superslab_fork_prepare(void);
HAK_HIDDEN void hak_superslab_fork_parent(void);
HAK_HIDDEN void hak_superslab_fork_child(void);

/* ---- blocks of a small span ---- */

/* What the block-start test needs of a small span, read once (the flush
 * tests runs of blocks of one span). */
typedef struct hak_span_geom {
    uintptr_t data;
    uint64_t div_magic;
    uint32_t block_size, carved;
} hak_span_geom_t;

HAK_INLINE hak_span_geom_t hak_span_geom(const hak_span_t *s) {
    return (hak_span_geom_t){(uintptr_t)s->data, s->div_magic, s->block_size, __atomic_load_n(&s->carved, __ATOMIC_RELAXED)};
}

/* Is p the start of a block carved already, p being inside the span?
 * Exact without a division: an offset < 2^19 (a span) and block_size <=
 * 2^15 keep the rounding error of div_magic below one index. */
_Static_assert(HAK_SMALL_MAX <= (1 << 15) && 8 * HAK_SLAB_SIZE <= (1 << 19), "div_magic's exactness bound");
HAK_INLINE bool hak_geom_is_block_start(const hak_span_geom_t *g, const void *p) {
    uintptr_t q = (uintptr_t)p;
    if (q < g->data) return false;
    size_t off = q - g->data, i = (size_t)((off * g->div_magic) >> 40);
    return i * g->block_size == off && i < g->carved;
}

HAK_INLINE bool hak_span_is_block_start(const hak_span_t *s, const void *p) {
    hak_span_geom_t g = hak_span_geom(s);
    return hak_geom_is_block_start(&g, p);
}

/* Free-list links, encoded with the span's secret (0 unless the secure box
 * is on, so the same code serves every mode at the cost of one xor). */
HAK_INLINE void *hak_link_get(const hak_span_t *s, const void *b) {
    return (void *)(*(const uintptr_t *)b ^ s->secret);
}
HAK_INLINE void hak_link_set(const hak_span_t *s, void *b, const void *next) {
    *(uintptr_t *)b = (uintptr_t)next ^ s->secret;
}

#endif
