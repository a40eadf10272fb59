/* superslab_box.h — the backend: 2 MiB superslabs cut into 64 KiB slabs,
 * grouped into spans.  A superslab belongs to one heap; its spans are
 * carved and freed only under that heap's span lock (heap.h).  Empty
 * superslabs go to a small global pool (mutex; slow path only) or back to
 * the OS, as the release policy says.  Not switchable: it is the backend. */
#ifndef HAKMEM_SUPERSLAB_BOX_H
#define HAKMEM_SUPERSLAB_BOX_H

#include "internal.h"

/* The region holding p (p must be known to be in a superslab or huge region). */
HAK_INLINE hak_region_t *hak_region_of(const void *p) {
    return (hak_region_t *)((uintptr_t)p & ~(uintptr_t)HAK_SEGMENT_MASK);
}
HAK_INLINE unsigned hak_slab_index(const void *p) {
    return (unsigned)(((uintptr_t)p >> HAK_SLAB_SHIFT) & (HAK_SLABS - 1));
}
/* The head descriptor of the span containing p. */
HAK_INLINE hak_span_t *hak_span_of(hak_region_t *r, const void *p) {
    return &r->spans[r->spans[hak_slab_index(p)].head];
}
/* The class of the blocks in slab idx of superslab r, or HAK_FC_SLOW when
 * the slab is in no small span (the slab map's entry says the same, as a
 * front offset, when the map could be written: slabmap.h). */
HAK_INLINE unsigned hak_region_fc(const hak_region_t *r, unsigned idx) {
    const hak_span_t *s = &r->spans[r->spans[idx].head];
    return s->kind == HAK_SLAB_SMALL ? s->cls : HAK_FC_SLOW;
}

/* A new small span of class cls for heap h (on h's avail list), or NULL. */
HAK_HIDDEN hak_span_t *hak_span_new_small(struct hak_heap *h, unsigned cls);
/* A large span of nslabs slabs (one block, 64 KiB aligned), or NULL. */
HAK_HIDDEN hak_span_t *hak_span_new_large(struct hak_heap *h, unsigned nslabs);
/* Return an empty span's slabs to its superslab; an empty superslab leaves h. */
HAK_HIDDEN void hak_span_free(struct hak_heap *h, hak_span_t *s);
/* Purge what is due: h's free slabs, the pool, the huge cache, idle heaps'
 * free slabs; or, with force, every written free slab of h at once
 * (malloc_trim).  h's lock held. */
HAK_HIDDEN void hak_superslab_purge(struct hak_heap *h, bool force);
/* Only h's free slabs: those due by now (bounded work; while within the
 * span budget they wait another delay), those due by now whatever the
 * budget (h's owner is idle), or every written one (malloc_trim). */
enum { HAK_PURGE_DUE, HAK_PURGE_IDLE, HAK_PURGE_ALL };
HAK_HIDDEN void hak_superslab_purge_spans(struct hak_heap *h, uint64_t now, int mode);
/* Is a purge due: h's free slabs, the pool's committed superslabs, the huge
 * cache, another heap's free slabs (hak_heaps_purge_due, heap.h)? */
extern HAK_HIDDEN _Atomic uint64_t hak_pool_purge_at;
extern HAK_HIDDEN _Atomic uint64_t hak_huge_cache_due;
#define hak_purge_wanted(h)                                                                      \
    ((h)->purge_pending || atomic_load_explicit(&hak_pool_purge_at, memory_order_relaxed) ||     \
     atomic_load_explicit(&hak_huge_cache_due, memory_order_relaxed) ||                          \
     atomic_load_explicit(&hak_heaps_purge_due, memory_order_relaxed))
/* Give every pooled superslab back to the OS; returns bytes released. */
HAK_HIDDEN size_t hak_superslab_pool_trim(void);
/* Superslabs: currently mapped, and returned to the OS so far. */
HAK_HIDDEN void hak_superslab_counts(uint64_t *mapped, uint64_t *released, uint64_t *pooled);
HAK_HIDDEN void hak_superslab_fork_prepare(void);
HAK_HIDDEN void hak_superslab_fork_parent(void);
HAK_HIDDEN void hak_superslab_fork_child(void);

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

/* Does [p] point at the start of a block of small span s, carved already? */
HAK_INLINE bool hak_span_is_block_start(const hak_span_t *s, const void *p) {
    hak_span_geom_t g = hak_span_geom(s);
    return hak_geom_is_block_start(&g, p);
}

#endif
